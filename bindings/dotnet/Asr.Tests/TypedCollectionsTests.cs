using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Asr.Model;
using Xunit;

namespace Asr.Tests
{
    /// <summary>Mappings, placement, recovery plans, groups, throttles and the Task wrappers through the typed API.</summary>
    public sealed class TypedCollectionsTests : IDisposable
    {
        private readonly TempStateDir _dir = new TempStateDir();

        public void Dispose() => _dir.Dispose();

        /// <summary>The mappings asrctl made on a simulated fabric, read, changed and resolved.</summary>
        [Fact]
        public void MappingsAndPlacement()
        {
            AsrctlTool.PrepareProtection(_dir, out _);
            using AsrEngine engine = AsrEngine.Open(_dir.Dir, _dir.Options);
            NetworkMapping net = Assert.Single(engine.NetworkMappings);
            Assert.Equal("vmn1-ny", net.SourceVmNetworkId);
            Assert.Equal("vmn1-chi", net.TargetVmNetworkId);
            Assert.Equal(net.Id, engine.NetworkMappings["vmn1-ny"].Id);
            Assert.Equal(net.Id, engine.NetworkMappings[net.Id].Id);
            NetworkMappingTable table = engine.NetworkMappings.Table();
            Assert.Contains(table.Rows, r => r.VmNetworkId == "vmn1-ny" && r.Mapped);
            TargetNetworkTable targets = engine.NetworkMappings.Targets("vmn1-ny");
            Assert.Equal("vmn1-ny", targets.SourceVmNetworkId);
            Assert.Contains(targets.Rows, r => r.TargetVmNetworkId == "vmn1-chi" && r.Available);
            VmNicResolutions nics = engine.NetworkMappings.Resolve("VM1");
            Assert.Equal("VM1", nics.VmName);
            Assert.Contains(nics.Nics, n => n.TargetVmNetworkId == "vmn1-chi");
            Assert.Equal("unchanged", engine.NetworkMappings.Add("vmn1-ny", "vmn1-chi").Operation);
            Assert.Throws<AsrInvalidArgumentException>(() => engine.NetworkMappings.Failback(new FailbackRequest()));
            Assert.Throws<ArgumentNullException>(() => engine.NetworkMappings.Failback(null!));
            MappingChangeReport removed = engine.NetworkMappings.Remove("vmn1-ny");
            Assert.Equal("remove", removed.Operation);
            Assert.Empty(engine.NetworkMappings);
            Assert.Equal("create", engine.NetworkMappings.Add("vmn1-ny", "vmn1-chi").Operation);

            StorageMapping storage = Assert.Single(engine.StorageMappings);
            Assert.Equal("sc-gold", storage.SourceClassificationId);
            Assert.Equal(storage.Id, engine.StorageMappings["sc-gold"].Id);
            Assert.Contains(engine.StorageMappings.Table().Rows, r => r.ClassificationId == "sc-gold" && r.Mapped);
            StorageMappingChange change = engine.StorageMappings.Remove("sc-gold");
            Assert.Equal("remove", change.Operation);
            Assert.Equal("sc-gold", change.Previous!.SourceClassificationId);
            Assert.Equal("create", engine.StorageMappings.Add("sc-gold", "sc-gold-t").Operation);
            Assert.Equal("unchanged", engine.StorageMappings.Add("sc-gold", "sc-gold-t", replace: true).Operation);

            ReplicaPlacement placement = engine.ShowPlacement("VM1");
            Assert.True(placement.Placed, placement.Explanation);
            Assert.Equal("VM1", placement.VmName);
            VmDiskResolutions disks = engine.StorageMappings.Resolve("VM1", placement.HostId);
            Assert.Equal(placement.HostId, disks.HostId);
            Assert.NotEmpty(disks.Disks);
        }

        /// <summary>A plan created, edited, run to a manual action and resumed through the typed objects; groups and throttles.</summary>
        [Fact]
        public void PlansGroupsAndThrottles()
        {
            string pki = AsrctlTool.PrepareProtection(_dir, out Func<string, string> run);
            run($"protect enable --vm VM1 --pki \"{pki}\"");
            run($"protect enable --vm VM2 --pki \"{pki}\"");
            using AsrEngine engine = AsrEngine.Open(_dir.Dir, _dir.Options);

            RecoveryPlan web = engine.RecoveryPlans.Create("web", new[] { "VM1", "VM2" });
            Assert.Equal("rp-web", web.Id);
            Assert.Equal(RecoveryPlanGroupType.Shutdown, web.Groups[0].GroupType);
            Assert.Equal(new[] { "VM1", "VM2" }, web.Groups[2].ReplicationProtectedItems.Select(i => i.VmName));
            web = web.AppendGroup().MoveProtectedItems(new[] { "VM2" }, "Group 2");
            Assert.Equal("Group 2", web.Groups[3].Name);
            Assert.Equal("VM2", Assert.Single(web.Groups[3].ReplicationProtectedItems).VmName);
            web = web.AppendGroup().MoveGroup("Group 3", 1);
            Assert.Empty(web.Groups[2].ReplicationProtectedItems);
            web = web.RemoveGroup("Group 1");
            Assert.Equal(4, web.Groups.Count);
            web = web.RemoveProtectedItems(new[] { "VM2" }).AddProtectedItems(new[] { "VM2" }, "Group 2");
            Assert.Equal("RecoveryPlanGroupNotEmpty", Assert.Throws<AsrFailedPreconditionException>(() => web.RemoveGroup("Group 1")).Rule);
            web = web.AddAction("Shutdown", "Start", new RecoveryPlanAction
            {
                ActionName = "check",
                FailoverTypes = { "PlannedFailover" },
                FailoverDirections = { "PrimaryToRecovery" },
                Manual = new RecoveryPlanManualActionDetails { Description = "check the database in Chicago" },
            });
            Assert.Equal("check", Assert.Single(web.Groups[0].StartGroupActions).ActionName);
            Assert.Equal(web.Id, engine.RecoveryPlans["web"].Id);
            Assert.Single(engine.RecoveryPlans);
            Assert.Throws<AsrAlreadyExistsException>(() => engine.RecoveryPlans.Create("web", new[] { "VM1" }));

            ReplicationGroup app = engine.ReplicationGroups.Create("app", new[] { "VM1" });
            Assert.Equal("rg-app", app.Id);
            Assert.Equal(2, engine.ReplicationGroups.AddMembers("app", new[] { "VM2" }).ProtectedItemIds.Count);
            Assert.Single(engine.ReplicationGroups.RemoveMembers("app", new[] { "VM2" }).ProtectedItemIds);
            Assert.Equal(60, engine.ReplicationGroups.SetSyncInterval("app", 60).SyncIntervalSeconds);
            Assert.Equal("rg-app", engine.ReplicationGroups["app"].Id);
            Assert.Empty(engine.ReplicationGroups.Points("app"));
            Assert.Throws<AsrNotFoundException>(() => engine.ReplicationGroups.LatestPoint("app"));
            Assert.Throws<AsrFailedPreconditionException>(() => engine.ReplicationGroups.ReplicateNow("app"));
            Assert.Throws<AsrNotFoundException>(() => engine.ReplicationGroups.ResolvePoint("VM1", AsrMultiVmSyncPointOption.UseMultiVmSyncRecoveryPoint));
            engine.ReplicationGroups.Remove("app");
            Assert.Empty(engine.ReplicationGroups);

            Assert.Throws<AsrNotFoundException>(() => engine.Throttles.Site);
            Throttle site = engine.Throttles.SetSite(new[] { "Mon-Fri 08:00-18:00 50Mbit/s" }, "unlimited", "+01:00");
            Assert.Equal(60, site.UtcOffsetMinutes);
            Assert.Equal(50_000_000L, (long)Assert.Single(site.Schedule!.Windows).BitsPerSecond);
            Throttle vm = engine.Throttles.SetVm("VM1", Array.Empty<string>(), "10Mbit/s");
            Assert.Equal("vm1", vm.VmId);
            Assert.Equal("vm1", engine.Throttles["VM1"].VmId);
            Assert.Equal(2, engine.Throttles.Count());
            Assert.Equal(60, engine.Throttles.Site.UtcOffsetMinutes);
            Throttle set = engine.Throttles.Set(new ThrottleSetRequest { Vm = "VM2", DefaultLimit = "1Mbit/s" });
            Assert.Equal("vm2", set.VmId);
            engine.Throttles.Clear("VM1");
            engine.Throttles.Clear("VM2");
            engine.Throttles.Clear();
            Assert.Empty(engine.Throttles);

            Job suspended = web.Run(new RecoveryPlanRunRequest { Operation = "PlannedFailover" });
            Assert.Equal(JobState.Suspended, suspended.State);
            Assert.Contains("check the database in Chicago", suspended.SuspendReason);
            Assert.Equal("RecoveryPlanJobActive", Assert.Throws<AsrFailedPreconditionException>(() => engine.RecoveryPlans.Remove("web")).Rule);
            // Resumed, the VMs' planned failover needs a host this engine lacks: the job fails naming it.
            AsrException failed = Assert.ThrowsAny<AsrException>(() => suspended.Resume());
            Assert.Equal(suspended.Id, failed.JobId);
            Assert.Equal("RecoveryPlanVmsFailed", failed.Rule);
            Assert.Equal(JobState.Failed, engine.Jobs[suspended.Id].State);
            Assert.Equal("Failed", web.Refresh().CurrentScenarioStatus);
            web = web.RemoveAction("Shutdown", "check");
            Assert.Empty(web.Groups[0].StartGroupActions);
            engine.RecoveryPlans.Remove("web");
            Assert.Empty(engine.RecoveryPlans);
        }
    }
}
