using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Asr.Model;
using Xunit;

namespace Asr.Tests
{
    /// <summary>The generated model classes and their proto3 JSON mapping.</summary>
    public sealed class ModelTests
    {
        /// <summary>
        /// Every generated class, with every field set away from its default, writes JSON
        /// that reads back to the same object, with the proto3 names and forms.
        /// </summary>
        [Fact]
        public void EveryModelClassRoundTripsEveryField()
        {
            List<Type> types = ModelReaders.Types.ToList();
            Assert.True(types.Count >= 100, $"only {types.Count} model classes");
            Assert.DoesNotContain(types, t => t.Name == "VaultSecrets");
            foreach (Type type in types)
            {
                var value = (AsrModelObject)Activator.CreateInstance(type)!;
                Fill(value, depth: 0);
                string json = value.ToJson();
                AsrModelObject back = ModelReaders.Read(type, ModelJson.ParseObject(json, type.Name));
                Assert.Equal(json, back.ToJson());
                Assert.Equal(json, back.ToString());
                MethodInfo fromJson = type.GetMethod("FromJson", BindingFlags.Public | BindingFlags.Static)!;
                Assert.Equal(json, ((AsrModelObject)fromJson.Invoke(null, new object[] { json })!).ToJson());
                foreach (PropertyInfo p in Fields(type))
                {
                    string name = char.ToLowerInvariant(p.Name[0]) + p.Name.Substring(1);
                    if (p.Name.EndsWith("Value", StringComparison.Ordinal) && p.Name == type.Name + "Value")
                    {
                        continue;
                    }

                    Assert.Contains("\"" + name + "\":", json);
                }
            }
        }

        [Fact]
        public void ReadsTheProto3Forms()
        {
            Job job = Job.FromJson(
                "{\"id\":\"job-000001\",\"state\":\"Failed\",\"start_time_unix\":\"1700000000\",\"endTimeUnix\":1700000005," +
                "\"tasks\":[{\"name\":\"t1\",\"state\":\"Succeeded\",\"errors\":[]},{\"name\":\"t2\",\"state\":\"Failed\"," +
                "\"errors\":[{\"errorCode\":\"E1\",\"message\":\"disk \\\"d0\\\" \\u00e9\",\"recommendedAction\":\"retry\"}]},{\"name\":\"t3\"}]," +
                "\"allowedRestart\":true,\"someFutureField\":{\"x\":[1,2,{}]},\"stateDescription\":null}");
            Assert.Equal("job-000001", job.Id);
            Assert.Equal(JobState.Failed, job.State);
            Assert.Equal(1700000000L, job.StartTimeUnix);
            Assert.Equal(1700000005L, job.EndTimeUnix);
            Assert.True(job.AllowedRestart);
            Assert.Equal(string.Empty, job.StateDescription);
            Assert.Equal(3, job.Tasks.Count);
            Assert.Equal("disk \"d0\" é", job.Tasks[1].Errors[0].Message);
            Assert.Equal(66, job.PercentComplete);
            Assert.Contains("\"startTimeUnix\":\"1700000000\"", job.ToJson());

            // An enum value this binding does not know reads as UNSPECIFIED; numbers are accepted.
            Assert.Equal(JobState.JOB_STATE_UNSPECIFIED, Job.FromJson("{\"state\":\"SomethingNew\"}").State);
            Assert.Equal(JobState.Cancelled, Job.FromJson("{\"state\":5}").State);
            Assert.Equal(ulong.MaxValue, ProtectedItem.FromJson("{\"nextPointSequence\":\"18446744073709551615\"}").NextPointSequence);
            Assert.Equal(new byte[] { 0xfb, 0xff }, Vault.FromJson("{\"signingPublicKey\":\"-_8\"}").SigningPublicKey);
            Assert.True(double.IsNaN(SiteServiceStatistics.FromJson("{\"nextDueSeconds\":\"NaN\"}").NextDueSeconds));
            Assert.Null(Job.FromJson("{}").Result<InventoryChangeReport>());
            var report = Job.FromJson("{\"resultJson\":\"{\\\"serverId\\\":\\\"vmm-a\\\",\\\"unchanged\\\":3}\"}").Result<InventoryChangeReport>();
            Assert.Equal("vmm-a", report!.ServerId);
            Assert.Equal(3, report.Unchanged);
        }

        [Fact]
        public void BadJsonIsAFormatExceptionNamingTheField()
        {
            Assert.Contains("Job.state", Assert.Throws<FormatException>(() => Job.FromJson("{\"state\":true}")).Message);
            Assert.Contains("Job.startTimeUnix", Assert.Throws<FormatException>(() => Job.FromJson("{\"startTimeUnix\":\"soon\"}")).Message);
            Assert.Contains("Job.tasks", Assert.Throws<FormatException>(() => Job.FromJson("{\"tasks\":{}}")).Message);
            Assert.Contains("ReplicationPolicy.replicationFrequencyInSeconds",
                Assert.Throws<FormatException>(() => ReplicationPolicy.FromJson("{\"replicationFrequencyInSeconds\":3000000000}")).Message);
            Assert.Contains("unexpected end at offset 9", Assert.Throws<FormatException>(() => Job.FromJson("{\"id\":\"x}")).Message);
            Assert.Contains("expected ',' or '}' at offset 10", Assert.Throws<FormatException>(() => Job.FromJson("{\"id\":\"x\" \"y\"}")).Message);
            Assert.Contains("expected a JSON object", Assert.Throws<FormatException>(() => Job.FromJson("[]")).Message);
            Assert.Throws<FormatException>(() => Job.FromJson("{\"id\":\"x\"} trailing"));
            Assert.Throws<FormatException>(() => Job.FromJson(new string('[', 500)));
            Assert.Throws<ArgumentNullException>(() => Job.FromJson(null!));
        }

        [Fact]
        public void ObjectsNotReadFromAnEngineSayWhereToGetThem()
        {
            var item = new ProtectedItem { Id = "pi-vm1", VmName = "VM1" };
            Assert.Contains("engine.ProtectedItems[\"VM1\"]", Assert.Throws<InvalidOperationException>(() => item.Commit()).Message);
            Assert.Contains("engine.Jobs", Assert.Throws<InvalidOperationException>(() => new Job { Id = "job-1" }.Restart()).Message);
        }

        private static IEnumerable<PropertyInfo> Fields(Type type) =>
            type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.DeclaringType == type && p.Name != "PercentComplete");

        private static void Fill(AsrModelObject value, int depth)
        {
            foreach (PropertyInfo p in Fields(value.GetType()))
            {
                Type t = p.PropertyType;
                if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(IList<>))
                {
                    object? element = Sample(t.GetGenericArguments()[0], p.Name, depth);
                    if (element != null)
                    {
                        ((IList)p.GetValue(value)!).Add(element);
                    }
                }
                else if (p.CanWrite)
                {
                    object? sample = Sample(Nullable.GetUnderlyingType(t) ?? t, p.Name, depth);
                    if (sample != null)
                    {
                        p.SetValue(value, sample);
                    }
                }
            }
        }

        private static object? Sample(Type t, string name, int depth)
        {
            if (t == typeof(string)) return "v-" + name + " \"q\"\n";
            if (t == typeof(bool)) return true;
            if (t == typeof(int)) return -7;
            if (t == typeof(uint)) return 7u;
            if (t == typeof(long)) return -(1L << 40);
            if (t == typeof(ulong)) return ulong.MaxValue;
            if (t == typeof(double)) return 1.5;
            if (t == typeof(float)) return 2.25f;
            if (t == typeof(byte[])) return new byte[] { 1, 2, 250 };
            if (t.IsEnum) return Enum.GetValues(t).Cast<object>().Last();
            if (typeof(AsrModelObject).IsAssignableFrom(t))
            {
                var m = (AsrModelObject)Activator.CreateInstance(t)!;
                if (depth < 3)
                {
                    Fill(m, depth + 1);
                }

                return m;
            }

            throw new InvalidOperationException("no sample for " + t);
        }
    }
}
