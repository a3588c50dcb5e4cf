using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using Xunit;

namespace Asr.Tests
{
    /// <summary>The control plane through the binding, with a host implemented in C#.</summary>
    public sealed class ControlPlaneTests : IDisposable
    {
        private const string InventoryA =
            "{\"clouds\":[{\"id\":\"gold1\",\"name\":\"GoldCloud1\",\"capabilityProfiles\":[\"Hyper-V\"],\"hostGroupIds\":[\"hg-a\"]}]," +
            "\"hostGroups\":[{\"id\":\"hg-a\",\"name\":\"HG A\",\"hostIds\":[\"hv-a\"]}]," +
            "\"hosts\":[{\"id\":\"hv-a\",\"name\":\"hv-a.contoso.com\",\"hostGroupId\":\"hg-a\",\"osVersion\":\"WINDOWS_SERVER_2012_R2\"}]}";

        private const string InventoryB =
            "{\"clouds\":[{\"id\":\"gold2\",\"name\":\"GoldCloud2\",\"capabilityProfiles\":[\"Hyper-V\"],\"hostGroupIds\":[\"hg-b\"]}]," +
            "\"hostGroups\":[{\"id\":\"hg-b\",\"name\":\"HG B\",\"hostIds\":[\"hv-b\"]}]," +
            "\"hosts\":[{\"id\":\"hv-b\",\"name\":\"hv-b.contoso.com\",\"hostGroupId\":\"hg-b\",\"osVersion\":\"WINDOWS_SERVER_2012\"}]}";

        private readonly TempStateDir _dir = new TempStateDir();

        public void Dispose() => _dir.Dispose();

        private sealed class Host : IAsrHost
        {
            public List<string> Configured { get; } = new List<string>();

            public string? FailHost { get; set; }

            public string GetInventory(string serverJson)
            {
                using JsonDocument doc = JsonDocument.Parse(serverJson);
                return doc.RootElement.GetProperty("id").GetString() == "vmm-a" ? InventoryA : InventoryB;
            }

            public void ConfigureHost(string hostJson, string policyJson, string role)
            {
                using JsonDocument doc = JsonDocument.Parse(hostJson);
                string id = doc.RootElement.GetProperty("id").GetString()!;
                if (id == FailHost)
                {
                    throw new AsrUnavailableException("WinRM timed out");
                }

                Configured.Add(id + ":" + role);
            }

            public void TestProxy(string serverJson, string password)
            {
            }
        }

        private static string Register(AsrEngine engine, string key, string name, string site) =>
            AsrFabric.RegisterServer(engine, JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["credentials"] = key,
                ["friendlyName"] = name,
                ["siteId"] = site,
                ["syncAllCloudMetadata"] = true,
            }));

        private static string State(string jobJson)
        {
            using JsonDocument doc = JsonDocument.Parse(jobJson);
            return doc.RootElement.GetProperty("state").GetString()!;
        }

        [Fact]
        public void VaultKeysAndErrors()
        {
            using AsrEngine engine = AsrEngine.Open(_dir.Dir, _dir.Options);
            engine.Initialize();
            Assert.Throws<AsrNotFoundException>(() => AsrVault.Get(engine));
            Assert.Equal("Succeeded", State(AsrVault.Create(engine, "contoso-dr", "westeurope")));
            var again = Assert.Throws<AsrAlreadyExistsException>(() => AsrVault.Create(engine, "x", "y"));
            Assert.Contains("already holds vault 'contoso-dr'", again.Message);
            string key = AsrVault.GenerateRegistrationKey(engine);
            Assert.Contains("\"signingAlgorithm\": \"Ed25519\"", key);
            Assert.Contains("contoso-dr", AsrVault.VerifyRegistrationKey(engine, key));
            string tampered = key.Replace("\"keyId\": \"", "\"keyId\": \"0");
            var e = Assert.Throws<AsrUnauthenticatedException>(() => AsrVault.VerifyRegistrationKey(engine, tampered));
            Assert.Contains("does not verify", e.Message);
        }

        [Fact]
        public void VaultNeedsAPrivateKeyFile()
        {
            using (AsrEngine bare = AsrEngine.Open(_dir.Dir))
            {
                bare.Initialize();
                var none = Assert.Throws<AsrFailedPreconditionException>(
                    () => AsrVault.Create(bare, "contoso-dr", "westeurope"));
                Assert.Contains("no key provider is configured", none.Message);
                Assert.Contains("AsrEngineOptions.KeyFile", none.Message);
                string loose = _dir.KeyFile;
                bare.SetKeyFile(loose);
                if (!OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(loose, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
                    var open = Assert.Throws<AsrFailedPreconditionException>(
                        () => AsrVault.Create(bare, "contoso-dr", "westeurope"));
                    Assert.Contains("has mode 0644: other users may read it", open.Message);
                    File.SetUnixFileMode(loose, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                }

                Assert.Equal("Succeeded", State(AsrVault.Create(bare, "contoso-dr", "westeurope")));
            }

            // Reopened without the key file: no registration key.
            using AsrEngine engine = AsrEngine.Open(_dir.Dir);
            var e = Assert.Throws<AsrFailedPreconditionException>(() => AsrVault.GenerateRegistrationKey(engine));
            Assert.Contains("no key provider is configured", e.Message);
            engine.SetKeyFile(_dir.KeyFile);
            Assert.Contains("Ed25519", AsrVault.GenerateRegistrationKey(engine));
        }

        [Fact]
        public void NonUtf8AndOverLongIdsAreRefusedNamingTheField()
        {
            using AsrEngine engine = AsrEngine.Open(_dir.Dir, _dir.Options);
            engine.Initialize();
            var longId = Assert.Throws<AsrInvalidArgumentException>(() => engine.GetObject("cloud", new string('a', 300)));
            Assert.Contains("id is 300 bytes long; at most 256 are allowed", longId.Message);
            var longPair = Assert.Throws<AsrInvalidArgumentException>(
                () => AsrFabric.PairClouds(engine, new string('g', 257), "GoldCloud2"));
            Assert.Contains("primary_cloud is 257 bytes long", longPair.Message);
            // Bytes that are not UTF-8 cannot come from a .NET string: send them raw.
            byte[] kind = System.Text.Encoding.UTF8.GetBytes("cloud\0");
            byte[] badId = { (byte)'g', 0xff, (byte)'1', 0 };
            int code = NativeMethods.asr_object_get(out BufferHandle buffer, engine.Handle, kind, badId, 0);
            buffer.Dispose();
            Assert.Equal((int)AsrStatusCode.InvalidArgument, code);
            string message = Native.PtrToStringUtf8(NativeMethods.asr_last_error_message()) ?? string.Empty;
            Assert.Contains("id is not valid UTF-8 (byte 0xff at offset 1)", message);
        }

        [Fact]
        public void RegisterPairAssociateWithAHostInCSharp()
        {
            using AsrEngine engine = AsrEngine.Open(_dir.Dir, _dir.Options);
            engine.Initialize();
            AsrVault.Create(engine, "contoso-dr", "westeurope");
            var host = new Host();
            using AsrHostRegistration reg = AsrHostRegistration.Install(engine, host);
            string key = AsrVault.GenerateRegistrationKey(engine);
            Assert.Equal("Succeeded", State(Register(engine, key, "vmm-a", "primary")));
            Assert.Equal("Succeeded", State(Register(engine, key, "vmm-b", "recovery")));

            var self = Assert.Throws<AsrInvalidArgumentException>(() => AsrFabric.PairClouds(engine, "GoldCloud1", "GoldCloud1"));
            Assert.Contains("cannot pair with itself", self.Message);
            Assert.Equal("CloudNotPairedWithItself", self.Rule);
            Assert.StartsWith("pair it with another cloud", self.RecommendedAction);
            Assert.StartsWith("job-", self.JobId);
            Assert.Equal("Succeeded", State(AsrFabric.PairClouds(engine, "GoldCloud1", "GoldCloud2")));

            // A cloud already paired cannot join a second pairing.
            var paired = Assert.Throws<AsrFailedPreconditionException>(() => AsrFabric.PairClouds(engine, "GoldCloud2", "GoldCloud1"));
            Assert.Equal("CloudInAtMostOnePairing", paired.Rule);
            Assert.Equal("choose a cloud that is not paired", paired.RecommendedAction);
            Assert.StartsWith("job-", paired.JobId);
            Assert.Contains(paired.JobId, AsrJobs.List(engine, "{\"state\":\"Failed\"}"));

            // Nor can the pairing be deleted behind UnpairClouds' back.
            var raw = Assert.Throws<AsrFailedPreconditionException>(() => engine.DeleteObject("pairing", "pair-gold1-gold2"));
            Assert.Equal("RawObjectAccessFenced", raw.Rule);
            Assert.Contains("asr_cloud_unpair", raw.RecommendedAction);
            Assert.Equal(string.Empty, raw.JobId);

            AsrPolicy.Create(engine, "{\"name\":\"gold\",\"replicationProvider\":\"HyperVReplica2012R2\",\"numberOfRecoveryPointsToRetain\":4}");
            var bad = Assert.Throws<AsrInvalidArgumentException>(() => AsrPolicy.Create(
                engine, "{\"name\":\"p\",\"replicationProvider\":\"HyperVReplica2012\",\"replicationFrequencyInSeconds\":30}"));
            Assert.Contains("CopyFrequencyFixedOn2012", bad.Message);

            host.FailHost = "hv-b";
            var failed = Assert.Throws<AsrUnavailableException>(() => AsrPolicy.Associate(engine, "gold", "GoldCloud1"));
            Assert.Contains("WinRM timed out", failed.Message);
            string jobId = failed.JobId;
            Assert.StartsWith("job-", jobId);
            Assert.EndsWith("(job " + jobId + ")", failed.Message);
            Assert.Equal("RawObjectAccessFenced",
                Assert.Throws<AsrFailedPreconditionException>(() => engine.DeleteObject("job", jobId)).Rule);
            Assert.Contains(jobId, AsrJobs.List(engine, "{\"state\":\"Failed\"}"));
            host.FailHost = null;
            Assert.Equal("Succeeded", State(AsrJobs.Restart(engine, jobId)));
            Assert.Equal(new[] { "hv-a:Primary", "hv-b:Recovery" }, host.Configured);

            var inUse = Assert.Throws<AsrFailedPreconditionException>(() => AsrPolicy.Delete(engine, "gold"));
            Assert.Contains("dissociate it first", inUse.Message);
            AsrPolicy.Dissociate(engine, "GoldCloud1");
            AsrPolicy.Delete(engine, "gold");
            AsrFabric.UnpairClouds(engine, "GoldCloud1");
            using (JsonDocument jobs = JsonDocument.Parse(AsrJobs.List(engine)))
            {
                Assert.True(jobs.RootElement.GetArrayLength() >= 9);
            }
        }
    }
}
