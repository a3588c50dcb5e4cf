using System;
using System.Text.Json;
using Xunit;

namespace Asr.Tests
{
    /// <summary>Bandwidth throttles through the binding: set, get, list, clear, errors, an item's throttle in force.</summary>
    public sealed class ThrottleTests : IDisposable
    {
        private readonly TempStateDir _dir = new TempStateDir();

        public void Dispose() => _dir.Dispose();

        private AsrEngine OpenInitialized()
        {
            AsrEngine engine = AsrEngine.Open(_dir.Dir, _dir.Options);
            engine.Initialize();
            engine.PutObject("vm", "{\"id\":\"vm1\",\"name\":\"VM1\"}");
            return engine;
        }

        [Fact]
        public void BadInputSaysWhatIsWrong()
        {
            using AsrEngine engine = OpenInitialized();
            Assert.Equal("[]", AsrThrottle.List(engine));
            var none = Assert.Throws<AsrNotFoundException>(() => AsrThrottle.Get(engine));
            Assert.Contains("unlimited", none.Message);
            var unit = Assert.Throws<AsrInvalidArgumentException>(
                () => AsrThrottle.SetSite(engine, new[] { "Mon-Fri 08:00-18:00 50Mbits" }));
            Assert.Contains("unknown unit 'Mbits'", unit.Message);
            var order = Assert.Throws<AsrInvalidArgumentException>(
                () => AsrThrottle.SetSite(engine, new[] { "Sat 20:00-06:00 5Mbit/s" }));
            Assert.Contains("not after the start", order.Message);
            var overlap = Assert.Throws<AsrInvalidArgumentException>(
                () => AsrThrottle.SetSite(engine, new[] { "daily 08:00-18:00 50Mbit/s", "Sun 12:00-13:00 1Mbit/s" }));
            Assert.Contains("overlap on Sun", overlap.Message);
            var offset = Assert.Throws<AsrInvalidArgumentException>(
                () => AsrThrottle.SetSite(engine, null, "10Mbit/s", "CET"));
            Assert.Contains("UTC offset", offset.Message);
            var vm = Assert.Throws<AsrNotFoundException>(() => AsrThrottle.SetVm(engine, "VM2", null, "10Mbit/s"));
            Assert.Contains("VM2", vm.Message);
            Assert.Throws<AsrNotFoundException>(() => AsrThrottle.Clear(engine, "VM1"));
            Assert.Throws<ArgumentNullException>(() => AsrThrottle.SetVm(engine, null!, null, "10Mbit/s"));
            Assert.Throws<AsrInvalidArgumentException>(() => AsrThrottle.SetJson(engine, "{\"limits\":"));
        }

        [Fact]
        public void ThrottlesAreKeptWithTheSiteAndShownOnTheItem()
        {
            using (AsrEngine engine = OpenInitialized())
            {
                string site = AsrThrottle.SetSite(engine, new[] { "Mon-Fri 08:00-18:00 50Mbit/s" }, "200Mbit/s", "+01:00");
                using (JsonDocument d = JsonDocument.Parse(site))
                {
                    Assert.Equal("site", d.RootElement.GetProperty("id").GetString());
                    Assert.Equal(60, d.RootElement.GetProperty("utcOffsetMinutes").GetInt32());
                    JsonElement w = d.RootElement.GetProperty("schedule").GetProperty("windows")[0];
                    Assert.Equal("50000000", w.GetProperty("bitsPerSecond").GetString());
                    Assert.Equal(5, w.GetProperty("days").GetArrayLength());
                }

                string vm = AsrThrottle.SetJson(
                    engine,
                    "{\"vm\":\"VM1\",\"schedule\":{\"defaultBitsPerSecond\":\"10000000\"}}");
                Assert.Contains("\"id\":\"vm-vm1\"", vm);
                string policy = AsrPolicy.Create(
                    engine, "{\"name\":\"gold\",\"replicationProvider\":\"HyperVReplica2012R2\",\"replicationFrequencyInSeconds\":30}");
                Assert.Contains("Succeeded", policy);
                string policyId;
                using (JsonDocument p = JsonDocument.Parse(engine.ListObjects("policy")))
                {
                    policyId = p.RootElement[0].GetProperty("id").GetString()!;
                }

                // The last cycle sent 50 MB: 40 s at 10 Mbit/s, 70 s expected RPO > 2 x 30 s.
                engine.PutObject(
                    "protected-item",
                    "{\"id\":\"pi-vm1\",\"vmId\":\"vm1\",\"vmName\":\"VM1\",\"policyId\":\"" + policyId +
                    "\",\"protectionState\":\"Protected\",\"recentCycles\":[{\"ok\":true,\"bytesSent\":\"50000000\",\"seconds\":2}]}");
            }

            using (AsrEngine engine = AsrEngine.Open(_dir.Dir, _dir.Options))
            {
                using (JsonDocument all = JsonDocument.Parse(AsrThrottle.List(engine)))
                {
                    Assert.Equal(2, all.RootElement.GetArrayLength());
                    Assert.Equal("site", all.RootElement[0].GetProperty("id").GetString());
                    Assert.Equal("VM1", all.RootElement[1].GetProperty("vmName").GetString());
                }

                using (JsonDocument item = JsonDocument.Parse(AsrProtection.GetItem(engine, "VM1")))
                {
                    JsonElement t = item.RootElement.GetProperty("throttleInForce");
                    Assert.Equal("10000000", t.GetProperty("bitsPerSecond").GetString());
                    Assert.Equal("vm", t.GetProperty("source").GetString());
                    Assert.Equal("default 10Mbit/s", t.GetProperty("rule").GetString());
                    Assert.Equal("70", item.RootElement.GetProperty("expectedRpoSeconds").GetString());
                    Assert.Equal("Warning", item.RootElement.GetProperty("replicationHealth").GetString());
                    Assert.Equal("ThrottleLimitsRpo", item.RootElement.GetProperty("healthErrors")[0].GetProperty("code").GetString());
                }

                AsrThrottle.Clear(engine, "VM1");
                Assert.Throws<AsrNotFoundException>(() => AsrThrottle.Get(engine, "VM1"));
                Assert.Contains("200000000", AsrThrottle.Get(engine));
                AsrThrottle.Clear(engine);
                Assert.Equal("[]", AsrThrottle.List(engine));
            }
        }
    }
}
