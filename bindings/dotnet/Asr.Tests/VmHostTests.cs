using System;
using System.Collections.Generic;
using System.IO;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading;
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

        /// <summary>
        /// A host over real files: one VM whose disk is a VHDX, replicas made as asked,
        /// points read from the live disk (nothing writes it meanwhile), and the write
        /// sinks asr hands it.
        /// </summary>
        private sealed class FileHost : IAsrVmHost
        {
            private readonly string _vmJson;
            private readonly Dictionary<string, string> _replicas = new Dictionary<string, string>();
            private int _points;

            public FileHost(string vmJson) => _vmJson = vmJson;

            public Dictionary<string, AsrWriteSink> Sinks { get; } = new Dictionary<string, AsrWriteSink>();

            public int PointsHeld { get; private set; }

            public string GetInventory(string serverJson) => throw new NotSupportedException("GetInventory");

            public void ConfigureHost(string hostJson, string policyJson, string role)
            {
            }

            public void TestProxy(string serverJson, string password) => throw new NotSupportedException("TestProxy");

            public string GetVm(string vmId)
            {
                JsonNode vm = JsonNode.Parse(_vmJson)!;
                if (vm["id"]!.GetValue<string>() == vmId)
                {
                    return _vmJson;
                }

                lock (_replicas)
                {
                    return _replicas.TryGetValue(vmId, out string? replica)
                        ? replica
                        : throw new AsrNotFoundException($"no VM {vmId} on this host");
                }
            }

            // The replica VM is the spec as a VirtualMachine, stopped.
            public string CreateReplicaVm(string specJson)
            {
                JsonNode spec = JsonNode.Parse(specJson)!;
                string id = spec["replicaVmId"]!.GetValue<string>();
                var vm = new JsonObject
                {
                    ["id"] = id,
                    ["name"] = spec["name"]?.GetValue<string>() ?? id,
                    ["hostId"] = spec["hostId"]?.GetValue<string>() ?? string.Empty,
                    ["disks"] = spec["disks"]?.DeepClone() ?? new JsonArray(),
                    ["networkAdapters"] = spec["networkAdapters"]?.DeepClone() ?? new JsonArray(),
                    ["powerState"] = "STOPPED",
                };
                string json = vm.ToJsonString();
                lock (_replicas)
                {
                    _replicas[id] = json;
                }

                return json;
            }

            public void ConnectNic(string vmId, string nicJson)
            {
            }

            public void StartVm(string vmId) => throw new NotSupportedException("StartVm");

            public void ShutdownVm(string vmId) => throw new NotSupportedException("ShutdownVm");

            public void TurnOffVm(string vmId) => throw new NotSupportedException("TurnOffVm");

            public void DeleteVm(string vmId, bool deleteDisks)
            {
                lock (_replicas)
                {
                    if (!_replicas.Remove(vmId))
                    {
                        throw new AsrNotFoundException($"no VM {vmId} on this host");
                    }
                }
            }

            public string GetPowerState(string vmId) => vmId == JsonNode.Parse(_vmJson)!["id"]!.GetValue<string>() ? "RUNNING" : "STOPPED";

            public string CreatePoint(string vmId, string type)
            {
                JsonNode vm = JsonNode.Parse(GetVm(vmId))!;
                var disks = new JsonArray();
                foreach (JsonNode? d in vm["disks"]!.AsArray())
                {
                    disks.Add(new JsonObject { ["diskId"] = d!["id"]!.GetValue<string>(), ["readPath"] = d["path"]!.GetValue<string>() });
                }

                PointsHeld++;
                return new JsonObject
                {
                    ["id"] = $"point-{Interlocked.Increment(ref _points)}",
                    ["vmId"] = vmId,
                    ["type"] = type,
                    ["timeUs"] = (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000).ToString(),
                    ["disks"] = disks,
                }.ToJsonString();
            }

            public void ReleasePoint(string pointJson) => PointsHeld--;

            public string RunScript(string requestJson) => throw new NotSupportedException("RunScript");

            public void AttachChangeTracking(string vmId, string diskId, AsrWriteSink sink)
            {
                lock (Sinks)
                {
                    Sinks[diskId] = sink;
                }
            }

            public void DetachChangeTracking(string vmId, string diskId)
            {
                lock (Sinks)
                {
                    Sinks.Remove(diskId);
                }
            }
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
        private string PrepareForProtection() => AsrctlTool.PrepareProtection(_dir, out _);

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
        /// A C# host over a real VHDX gets VM1 protected: enable succeeds through the
        /// host's calls, the site service attaches the disk's tracker (a write recorded
        /// through the sink), cycles make a recovery point, and disabling detaches the
        /// tracker, closing the sink.
        /// </summary>
        [Fact]
        public void CSharpHostGetsAVmProtected()
        {
            string pki = PrepareForProtection();
            string root = Path.GetDirectoryName(_dir.Dir)!;
            string vhdx = Path.Combine(root, "vm1-d0.vhdx");
            AsrctlTool.Run(AsrctlTool.Path(), $"disk create --format vhdx --type dynamic --size 16M \"{vhdx}\"");

            string transport = "{\"pkiDir\":" + JsonSerializer.Serialize(pki) + ",\"pointIntervalSeconds\":1}";
            using AsrEngine engine = AsrEngine.Open(_dir.Dir, _dir.Options);
            AsrProtection.SetTransport(engine, transport);

            // VM1 as the inventory has it, its disk the VHDX made above.
            JsonNode vm = JsonNode.Parse(engine.GetObject("vm", "vm1"))!;
            JsonArray vmDisks = vm["disks"]!.AsArray();
            Assert.Single(vmDisks);
            vmDisks[0]!["path"] = vhdx;
            vmDisks[0]!["sizeBytes"] = (16L << 20).ToString();
            vm["powerState"] = "RUNNING";
            string diskId = vmDisks[0]!["id"]!.GetValue<string>();
            var host = new FileHost(vm.ToJsonString());

            using AsrHostRegistration registration = AsrHostRegistration.Install(engine, host);
            using AsrSiteService site = AsrSiteService.Start(engine, "{\"threads\":false,\"transport\":" + transport + "}");
            using (JsonDocument job = JsonDocument.Parse(AsrProtection.EnableProtection(engine, "VM1")))
            {
                Assert.Equal("Succeeded", job.RootElement.GetProperty("state").GetString());
            }

            AsrWriteSink? sink = null;
            DateTime end = DateTime.UtcNow.AddSeconds(4);
            while (DateTime.UtcNow < end)
            {
                site.Step();
                lock (host.Sinks)
                {
                    host.Sinks.TryGetValue(diskId, out sink);
                }

                sink?.Record(0, 4096);
                Thread.Sleep(500);
            }

            site.Step();
            Assert.NotNull(sink);
            Assert.True(sink!.IsOpen);
            Assert.Equal("vm1", sink.VmId);
            // A write past the end of the disk is the sink's error, mapped.
            Assert.Throws<AsrInvalidArgumentException>(() => sink.Record(16UL << 20, 4096));
            Assert.Equal(0, host.PointsHeld);

            using (JsonDocument item = JsonDocument.Parse(AsrProtection.GetItem(engine, "VM1")))
            {
                JsonElement r = item.RootElement;
                Assert.Equal("Protected", r.GetProperty("protectionState").GetString());
                Assert.NotEqual("0", r.GetProperty("lastRecoveryPointTimeUnix").GetString());
            }

            using (JsonDocument points = JsonDocument.Parse(AsrProtection.ListItemPoints(engine, "VM1")))
            {
                Assert.True(points.RootElement.GetArrayLength() >= 1);
            }

            site.Stop();
            AsrProtection.DisableProtection(engine, "VM1");
            Assert.Equal("[]", AsrProtection.ListItems(engine));
            Assert.False(sink.IsOpen);
            Assert.Throws<ObjectDisposedException>(() => sink.Record(0, 4096));
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
