using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using Xunit;

namespace Asr.Tests
{
    /// <summary>Replication groups through the binding, over VMs protected on a simulated fabric.</summary>
    public sealed class GroupTests : IDisposable
    {
        private readonly TempStateDir _dir = new TempStateDir();

        public void Dispose() => _dir.Dispose();

        /// <summary>A host that can take group points; every other call is not needed here.</summary>
        private sealed class GroupPointHost : IAsrGroupPointHost
        {
            public List<string> Requests { get; } = new List<string>();

            public string CreateGroupPoint(string requestJson)
            {
                Requests.Add(requestJson);
                throw new AsrFailedPreconditionException("the hypervisor cannot freeze these VMs together right now");
            }

            public string GetInventory(string serverJson) => throw new NotSupportedException("GetInventory");
            public void ConfigureHost(string hostJson, string policyJson, string role) => throw new NotSupportedException("ConfigureHost");
            public void TestProxy(string serverJson, string password) => throw new NotSupportedException("TestProxy");
            public string GetVm(string vmId) => throw new NotSupportedException("GetVm");
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
            public void AttachChangeTracking(string vmId, string diskId, AsrWriteSink sink) { }
            public void DetachChangeTracking(string vmId, string diskId) { }
        }

        [Fact]
        public void AGroupOfTwoProtectedVmsGetsASharedPoint()
        {
            string pki = AsrctlTool.PrepareProtection(_dir, out Func<string, string> run);
            run($"protect enable --vm VM1 --pki \"{pki}\"");
            run($"protect enable --vm VM2 --pki \"{pki}\"");

            using (AsrEngine engine = AsrEngine.Open(_dir.Dir, _dir.Options))
            {
                using (JsonDocument g = JsonDocument.Parse(AsrGroups.Create(engine, "app", new[] { "VM1" }, 60)))
                {
                    Assert.Equal("rg-app", g.RootElement.GetProperty("id").GetString());
                    Assert.Equal(60, g.RootElement.GetProperty("syncIntervalSeconds").GetInt32());
                }

                var twice = Assert.Throws<AsrFailedPreconditionException>(() => AsrGroups.Create(engine, "db", new[] { "VM1" }));
                Assert.Equal("VmInAnotherGroup", twice.Rule);
                Assert.Contains("group 'app'", twice.Message);
                Assert.Throws<AsrNotFoundException>(() => AsrGroups.Add(engine, "app", new[] { "VM9" }));
                Assert.Throws<AsrInvalidArgumentException>(() => AsrGroups.SetSyncInterval(engine, "app", 5));
                string added = AsrGroups.Add(engine, "app", new[] { "VM2" });
                Assert.Contains("\"protectedItemIds\":[\"pi-vm1\",\"pi-vm2\"]", added);
                Assert.Equal("[]", AsrGroups.Points(engine, "app"));
                Assert.Throws<AsrNotFoundException>(() => AsrGroups.LatestPoint(engine, "app"));
                // No shared point yet: failover with the group's point cannot resolve; per VM it can.
                Assert.Throws<AsrNotFoundException>(
                    () => AsrGroups.ResolvePoint(engine, "VM1", AsrMultiVmSyncPointOption.UseMultiVmSyncRecoveryPoint));
                Assert.Contains("\"protectedItemId\":\"pi-vm1\"",
                    AsrGroups.ResolvePoint(engine, "VM1", AsrMultiVmSyncPointOption.UsePerVmRecoveryPoint));

                // The host's create_group_point is what a group cycle calls (version 4 table).
                var host = new GroupPointHost();
                using (AsrHostRegistration.Install(engine, host))
                {
                    AsrException e = Assert.ThrowsAny<AsrException>(() => AsrGroups.ReplicateNow(engine, "app"));
                    Assert.Contains("cannot freeze these VMs together", e.Message);
                }

                string request = Assert.Single(host.Requests);
                using (JsonDocument r = JsonDocument.Parse(request))
                {
                    string[] vms = r.RootElement.GetProperty("vmIds").EnumerateArray().Select(v => v.GetString()!).ToArray();
                    Assert.Equal(new[] { "vm1", "vm2" }, vms.OrderBy(v => v, StringComparer.Ordinal).ToArray());
                }

                using (JsonDocument g = JsonDocument.Parse(AsrGroups.Get(engine, "app")))
                {
                    JsonElement cycle = g.RootElement.GetProperty("recentCycles")[0];
                    Assert.False(cycle.TryGetProperty("ok", out JsonElement ok) && ok.GetBoolean());
                }
            }

            // The simulated fabric's host takes the group point: one shared point of both VMs.
            run($"group replicate app --pki \"{pki}\"");

            using (AsrEngine engine = AsrEngine.Open(_dir.Dir, _dir.Options))
            {
                using JsonDocument p = JsonDocument.Parse(AsrGroups.LatestPoint(engine, "app"));
                long instant = long.Parse(p.RootElement.GetProperty("sourceTimeUs").GetString()!);
                JsonElement[] members = p.RootElement.GetProperty("members").EnumerateArray().ToArray();
                Assert.Equal(2, members.Length);
                foreach (JsonElement m in members)
                {
                    string id = m.GetProperty("recoveryPointId").GetString()!;
                    using JsonDocument rp = JsonDocument.Parse(engine.GetObject("recovery-point", id));
                    Assert.Equal(instant, long.Parse(rp.RootElement.GetProperty("sourceTimeUs").GetString()!));
                }

                string vm2 = AsrGroups.ResolvePoint(engine, "VM2", AsrMultiVmSyncPointOption.UseMultiVmSyncRecoveryPoint);
                Assert.Contains(members.Single(m => m.GetProperty("vmId").GetString() == "vm2")
                    .GetProperty("recoveryPointId").GetString()!, vm2);
                Assert.Contains("rg-app-p00000001", AsrGroups.Points(engine, "app"));
                Assert.Contains("\"latestSharedPointId\":\"rg-app-p00000001\"", AsrGroups.List(engine));

                AsrGroups.Remove(engine, "app", new[] { "VM2" });
                AsrGroups.Delete(engine, "app");
                Assert.Throws<AsrNotFoundException>(() => AsrGroups.Get(engine, "app"));
            }
        }
    }
}
