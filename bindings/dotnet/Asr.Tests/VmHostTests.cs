using System;
using System.Collections.Generic;
using System.IO;
using System.Text.Json;
using Xunit;

namespace Asr.Tests
{
    /// <summary>A VMM host in C# supplying the VM calls (IAsrVmHost, the version 3 callback table).</summary>
    public sealed class VmHostTests : IDisposable
    {
        private readonly TempStateDir _dir = new TempStateDir();

        public void Dispose() => _dir.Dispose();

        /// <summary>A host whose VM calls are delegates the test sets; unset ones throw.</summary>
        private sealed class VmHost : IAsrVmHost
        {
            public Func<string, string> OnGetVm { get; set; } = _ => throw new NotSupportedException("GetVm");

            public List<string> Calls { get; } = new List<string>();

            public string GetInventory(string serverJson) => throw new NotSupportedException("GetInventory");

            public void ConfigureHost(string hostJson, string policyJson, string role) => Calls.Add("ConfigureHost");

            public void TestProxy(string serverJson, string password) => throw new NotSupportedException("TestProxy");

            public string GetVm(string vmId)
            {
                Calls.Add("GetVm " + vmId);
                return OnGetVm(vmId);
            }

            public string CreateReplicaVm(string specJson) => throw new NotSupportedException("CreateReplicaVm");

            public void ConnectNic(string vmId, string nicJson) => throw new NotSupportedException("ConnectNic");

            public void StartVm(string vmId) => throw new NotSupportedException("StartVm");

            public void ShutdownVm(string vmId) => throw new NotSupportedException("ShutdownVm");

            public void TurnOffVm(string vmId) => throw new NotSupportedException("TurnOffVm");

            public void DeleteVm(string vmId, bool deleteDisks) => throw new NotSupportedException("DeleteVm");

            public string GetPowerState(string vmId) => throw new NotSupportedException("GetPowerState");

            public string CreatePoint(string vmId, string type) => throw new NotSupportedException("CreatePoint");

            public void ReleasePoint(string pointJson) => throw new NotSupportedException("ReleasePoint");

            public string RunScript(string requestJson) => throw new NotSupportedException("RunScript");

            public void AttachChangeTracking(string vmId, string diskId, AsrWriteSink sink) =>
                throw new NotSupportedException("AttachChangeTracking");

            public void DetachChangeTracking(string vmId, string diskId) => throw new NotSupportedException("DetachChangeTracking");
        }

        /// <summary>A host without the VM calls.</summary>
        private sealed class PlainHost : IAsrHost
        {
            public string GetInventory(string serverJson) => throw new NotSupportedException("GetInventory");

            public void ConfigureHost(string hostJson, string policyJson, string role)
            {
            }

            public void TestProxy(string serverJson, string password) => throw new NotSupportedException("TestProxy");
        }

        /// <summary>
        /// A state directory ready for enabling protection of VM1 (servers, inventory,
        /// pairing, policy and mappings made with asrctl on a simulated fabric) and a
        /// PKI directory; returns the PKI directory.
        /// </summary>
        private string PrepareForProtection()
        {
            string root = Path.GetDirectoryName(_dir.Dir)!;
            string fabric = Path.Combine(root, "fabric");
            string pki = Path.Combine(root, "pki");
            string key = Path.Combine(root, "vault.key");
            string asrctl = AsrctlTool.Path();
            var env = new Dictionary<string, string> { ["ASR_KEY_FILE"] = _dir.KeyFile, ["ASR_FABRIC"] = fabric };
            string a = $"--state-dir \"{_dir.Dir}\" ";
            AsrctlTool.Run(asrctl, $"fabric init --dir \"{fabric}\" --example --disk-size 16M", env);
            AsrctlTool.Run(asrctl, a + "init", env);
            AsrctlTool.Run(asrctl, a + $"key generate --output \"{key}\"", env);
            AsrctlTool.Run(asrctl, a + $"server register --credentials \"{key}\" --friendly-name vmm-ny", env);
            AsrctlTool.Run(asrctl, a + $"server register --credentials \"{key}\" --friendly-name vmm-chi --site recovery", env);
            AsrctlTool.Run(asrctl, a + "inventory sync --server vmm-ny", env);
            AsrctlTool.Run(asrctl, a + "inventory sync --server vmm-chi", env);
            AsrctlTool.Run(asrctl, a + "inventory sync --server vmm-ny --cloud GoldCloud1", env);
            AsrctlTool.Run(asrctl, a + "inventory sync --server vmm-chi --cloud GoldCloud2", env);
            AsrctlTool.Run(asrctl, a + "cloud pair --primary GoldCloud1 --recovery GoldCloud2", env);
            AsrctlTool.Run(
                asrctl,
                a + "policy create --name gold --replication-provider HyperVReplica2012R2 --replication-frequency-in-seconds 30",
                env);
            AsrctlTool.Run(asrctl, a + "policy associate --policy gold --pairing GoldCloud1", env);
            AsrctlTool.Run(asrctl, a + "network-map add --source vmn1-ny --target vmn1-chi", env);
            AsrctlTool.Run(asrctl, a + "storage-map add --source sc-gold --target sc-gold-t", env);
            AsrctlTool.Run(asrctl, $"pki init --dir \"{pki}\" --recovery-san 127.0.0.1", env);
            return pki;
        }

        private AsrEngine OpenWithTransport(string pki)
        {
            AsrEngine engine = AsrEngine.Open(_dir.Dir, _dir.Options);
            AsrProtection.SetTransport(engine, "{\"pkiDir\":" + JsonSerializer.Serialize(pki) + "}");
            return engine;
        }

        /// <summary>
        /// The host's GetVm throws: enabling protection fails with the host's message,
        /// the job is Failed, and no item is left.
        /// </summary>
        [Fact]
        public void GetVmThrowingFailsEnableWithTheHostsMessage()
        {
            string pki = PrepareForProtection();
            using AsrEngine engine = OpenWithTransport(pki);
            var host = new VmHost
            {
                OnGetVm = vm => throw new InvalidOperationException($"the hypervisor lost the configuration file of {vm}"),
            };
            using (AsrHostRegistration.Install(engine, host))
            {
                AsrException e = Assert.ThrowsAny<AsrException>(() => AsrProtection.EnableProtection(engine, "VM1"));
                Assert.Contains("the hypervisor lost the configuration file of", e.Message);
                Assert.Contains("(job job-", e.Message);
                Assert.Contains(host.Calls, c => c.StartsWith("GetVm ", StringComparison.Ordinal));
                Assert.NotEqual(string.Empty, e.JobId);

                using JsonDocument job = JsonDocument.Parse(AsrJobs.Get(engine, e.JobId));
                Assert.Equal("Failed", job.RootElement.GetProperty("state").GetString());
                Assert.Equal("EnableProtection", job.RootElement.GetProperty("scenarioName").GetString());
            }

            Assert.Equal("[]", AsrProtection.ListItems(engine));
        }

        /// <summary>
        /// An AsrException from the host keeps its status code: NOT_FOUND from GetVm
        /// reaches the caller as AsrNotFoundException with the host's message.
        /// </summary>
        [Fact]
        public void HostStatusCodeReachesTheCaller()
        {
            string pki = PrepareForProtection();
            using AsrEngine engine = OpenWithTransport(pki);
            var host = new VmHost { OnGetVm = vm => throw new AsrNotFoundException($"no VM {vm} on this host any more") };
            using (AsrHostRegistration.Install(engine, host))
            {
                var e = Assert.Throws<AsrNotFoundException>(() => AsrProtection.EnableProtection(engine, "VM1"));
                Assert.Contains("any more", e.Message);
            }
        }

        /// <summary>
        /// A host without IAsrVmHost installs the version 1 table: enabling protection
        /// fails as "the host cannot", not with a call into missing delegates.
        /// </summary>
        [Fact]
        public void PlainHostHasNoVmCalls()
        {
            string pki = PrepareForProtection();
            using AsrEngine engine = OpenWithTransport(pki);
            using (AsrHostRegistration.Install(engine, new PlainHost()))
            {
                var e = Assert.Throws<AsrFailedPreconditionException>(() => AsrProtection.EnableProtection(engine, "VM1"));
                Assert.Contains("the host cannot describe a VM", e.Message);
            }
        }
    }
}
