using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Asr.Model;
using Xunit;

namespace Asr.Tests
{
    /// <summary>The typed API: the engine's collections and their objects.</summary>
    public sealed class TypedEngineTests : IDisposable
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

            public string GetInventory(string serverJson) =>
                VmmServer.FromJson(serverJson).FriendlyName == "vmm-a" ? InventoryA : InventoryB;

            public void ConfigureHost(string hostJson, string policyJson, string role)
            {
                string id = HyperVHost.FromJson(hostJson).Id;
                if (id == FailHost)
                {
                    throw new AsrUnavailableException("WinRM timed out");
                }

                Configured.Add(id + ":" + role + ":" + ReplicationPolicy.FromJson(policyJson).Name);
            }

            public void TestProxy(string serverJson, string password)
            {
            }
        }

        /// <summary>
        /// Vault, keys, servers, inventory, policies, pairings and jobs through the collections,
        /// with the structured error of a refused or failed job.
        /// </summary>
        [Fact]
        public void ControlPlaneThroughTheCollections()
        {
            using AsrEngine engine = AsrEngine.Open(_dir.Dir, _dir.Options);
            engine.Initialize();
            Assert.False(engine.Vault.Exists);
            Assert.Equal(JobState.Succeeded, engine.Vault.Create("contoso-dr", "westeurope").State);
            Assert.True(engine.Vault.Exists);
            Vault vault = engine.Vault.Get();
            Assert.Equal("contoso-dr", vault.Name);
            Assert.Equal("westeurope", vault.Region);
            Assert.Equal(32, vault.SigningPublicKey.Length);

            AsrRegistrationKeyFile key = engine.Vault.GenerateRegistrationKey();
            Assert.Equal("contoso-dr", key.Key.VaultName);
            Assert.True(key.Key.ExpiryTimeUnix - key.Key.IssuedTimeUnix == 5 * 24 * 3600);
            Assert.Equal(key.Key.KeyId, engine.Vault.VerifyRegistrationKey(key.Text).KeyId);
            Assert.Throws<AsrUnauthenticatedException>(
                () => engine.Vault.VerifyRegistrationKey(key.Text.Replace("\"keyId\": \"", "\"keyId\": \"0")));

            var host = new Host();
            using AsrHostRegistration registration = engine.InstallHost(host);
            Job a = engine.Servers.Register(new ServerRegistrationRequest { Credentials = key.Text, FriendlyName = "vmm-a", SyncAllCloudMetadata = true });
            Assert.Equal(JobState.Succeeded, a.State);
            engine.Servers.Register(new ServerRegistrationRequest { Credentials = key.Text, FriendlyName = "vmm-b", SiteId = "recovery", SyncAllCloudMetadata = true });
            Assert.Equal(new[] { "vmm-a", "vmm-b" }, engine.Servers.Select(s => s.FriendlyName).OrderBy(n => n));
            VmmServer vmmB = engine.Servers["vmm-b"];
            Assert.Equal("recovery", vmmB.SiteId);
            Assert.Same(engine, engine.Servers.Engine);
            Assert.Equal(vmmB.Id, engine.Servers[vmmB.Id].Id);
            Assert.False(engine.Servers.Contains("vmm-c"));
            Assert.Throws<AsrNotFoundException>(() => engine.Servers["vmm-c"]);
            Assert.Throws<ArgumentNullException>(() => engine.Servers[null!]);

            InventoryChangeReport sync = engine.Servers.SyncInventory("vmm-a", "GoldCloud1");
            Assert.Equal(engine.Servers["vmm-a"].Id, sync.ServerId);
            var inventory = Inventory.FromJson(InventoryA);
            inventory.Hosts[0].DefaultStoragePath = "D:\\replicas";
            InventoryChangeReport changed = engine.Servers.SyncInventory("vmm-a", inventory: inventory);
            Assert.Contains(changed.Updated, c => c.Kind == "host" && c.Id == "hv-a");
            Assert.Equal("D:\\replicas", engine.Inventory.Hosts["hv-a"].DefaultStoragePath);
            Assert.Equal(HostOsVersion.WINDOWS_SERVER_2012, engine.Inventory.Hosts["hv-b.contoso.com"].OsVersion);
            Assert.Equal(new[] { "GoldCloud1", "GoldCloud2" }, engine.Inventory.Clouds.Select(c => c.Name).OrderBy(n => n));
            Assert.Equal(new[] { "hg-a" }, engine.Inventory.Clouds["GoldCloud1"].HostGroupIds);
            Assert.Equal(2, engine.Inventory.HostGroups.Count());
            Assert.Contains(engine.Inventory.Sites, s => s.Id == "recovery");
            Assert.Empty(engine.Inventory.VirtualMachines);
            Assert.Empty(engine.Inventory.VmNetworks);
            Assert.Empty(engine.Inventory.LogicalNetworks);
            Assert.Empty(engine.Inventory.StorageClassifications);

            ReplicationPolicy gold = engine.Policies.Create(new ReplicationPolicy
            {
                Name = "gold",
                ReplicationProvider = ReplicationProvider.HyperVReplica2012R2,
                NumberOfRecoveryPointsToRetain = 4,
            });
            Assert.NotEmpty(gold.Id);
            Assert.Equal(4, engine.Policies["gold"].NumberOfRecoveryPointsToRetain);
            var bad = Assert.Throws<AsrInvalidArgumentException>(() => engine.Policies.Create(new ReplicationPolicy
            {
                Name = "p", ReplicationProvider = ReplicationProvider.HyperVReplica2012, ReplicationFrequencyInSeconds = 30,
            }));
            Assert.Contains("CopyFrequencyFixedOn2012", bad.Message);
            gold.NumberOfRecoveryPointsToRetain = 6;
            Assert.Equal(6, engine.Policies.Update(gold).NumberOfRecoveryPointsToRetain);

            CloudPairing pairing = engine.ProtectionContainerMappings.Create("GoldCloud1", "GoldCloud2");
            Assert.Equal("gold1", pairing.PrimaryCloudId);
            Assert.Equal("gold2", pairing.RecoveryCloudId);
            Assert.Equal(pairing.Id, engine.ProtectionContainerMappings["GoldCloud1"].Id);
            Assert.Equal(pairing.Id, engine.ProtectionContainerMappings["gold1"].Id);
            Assert.Single(engine.ProtectionContainerMappings);
            Assert.Throws<AsrNotFoundException>(() => engine.ProtectionContainerMappings["GoldCloud2"]);
            var paired = Assert.Throws<AsrFailedPreconditionException>(() => engine.ProtectionContainerMappings.Create("GoldCloud2", "GoldCloud1"));
            Assert.Equal("CloudInAtMostOnePairing", paired.Rule);
            Assert.Equal("choose a cloud that is not paired", paired.RecommendedAction);
            Job refused = engine.Jobs[paired.JobId];
            Assert.Equal(JobState.Failed, refused.State);
            Assert.Contains(engine.Jobs.Find(new JobQuery { State = JobState.Failed }), j => j.Id == paired.JobId);

            // A failed association names its job; the job object restarts it once the host is fixed.
            host.FailHost = "hv-b";
            var failed = Assert.Throws<AsrUnavailableException>(() => engine.Policies.Associate("gold", "GoldCloud1"));
            Assert.Contains("WinRM timed out", failed.Message);
            Job job = engine.Jobs[failed.JobId];
            Assert.True(job.AllowedRestart);
            Assert.Contains(job.Errors, e => e.Message.Contains("WinRM timed out"));
            host.FailHost = null;
            Job restarted = job.Restart();
            Assert.Equal(JobState.Succeeded, restarted.State);
            Assert.Equal(JobState.Succeeded, restarted.Refresh().State);
            Assert.Equal(100, restarted.PercentComplete);
            Assert.Equal(new[] { "hv-a:Primary:gold", "hv-b:Recovery:gold" }, host.Configured);
            Assert.Equal(gold.Id, engine.ProtectionContainerMappings["GoldCloud1"].PolicyId);
            Assert.Equal("JobCancelOnlyWhileActive", Assert.Throws<AsrFailedPreconditionException>(() => restarted.Cancel()).Rule);
            Assert.Throws<AsrFailedPreconditionException>(() => restarted.Resume());

            Assert.Equal(JobState.Succeeded, engine.Policies.Dissociate("GoldCloud1").State);
            Assert.Equal(JobState.Succeeded, engine.Policies.Remove("gold").State);
            Assert.False(engine.Policies.Contains("gold"));
            Assert.Equal(JobState.Succeeded, engine.ProtectionContainerMappings.Remove("GoldCloud1").State);
            Assert.Empty(engine.ProtectionContainerMappings);

            // Re-paired with the policy in one call.
            engine.Policies.Create(new ReplicationPolicy { Name = "silver", ReplicationProvider = ReplicationProvider.HyperVReplica2012R2 });
            Assert.Equal(engine.Policies["silver"].Id, engine.ProtectionContainerMappings.Create("GoldCloud1", "GoldCloud2", policy: "silver").PolicyId);
            Assert.Equal(JobState.Succeeded, engine.Servers.Unregister("vmm-b").State);
            Assert.True(engine.Jobs.Count() >= 12);
            Assert.All(engine.Jobs, j => Assert.NotEqual(string.Empty, j.ScenarioName));
        }

        /// <summary>
        /// VM1 protected with asrctl on a simulated fabric, read through the typed API: state,
        /// allowed operations, recovery points; a failover refused in its state; disabled.
        /// </summary>
        [Fact]
        public void ProtectedItemsReadAndOperate()
        {
            string pki = AsrctlTool.PrepareProtection(_dir, out Func<string, string> run);
            run($"protect enable --vm VM1 --pki \"{pki}\" --point-interval 1s");
            run($"site run --pki \"{pki}\" --duration 3s --point-interval 1s");

            using AsrEngine engine = AsrEngine.Open(_dir.Dir, _dir.Options);
            Assert.Equal("pi-vm1", Assert.Single(engine.ProtectedItems).Id);
            ProtectedItem vm1 = engine.ProtectedItems["VM1"];
            Assert.Equal(vm1.Id, engine.ProtectedItems["pi-vm1"].Id);
            Assert.Equal(ProtectionState.Protected, vm1.ProtectionState);
            Assert.Equal("VM1", vm1.VmName);
            Assert.Contains("TestFailover", vm1.AllowedOperations);
            Assert.NotEqual(0, vm1.LastRecoveryPointTimeUnix);
            Assert.NotEmpty(vm1.Disks);
            IReadOnlyList<RecoveryPoint> points = vm1.RecoveryPoints();
            Assert.NotEmpty(points);
            Assert.All(points, p => Assert.NotEmpty(p.Id));
            Assert.False(engine.ProtectedItems.Contains("VM2"));
            Assert.Throws<AsrNotFoundException>(() => engine.ProtectedItems["VM2"]);

            // Not failed over: commit is refused naming what is allowed.
            var commit = Assert.Throws<AsrFailedPreconditionException>(() => vm1.Commit());
            Assert.Contains("Commit is not allowed", commit.Message);
            Assert.Throws<AsrFailedPreconditionException>(() => vm1.ChangeRecoveryPoint(points[0].Id));
            Assert.Throws<AsrFailedPreconditionException>(() => vm1.CancelFailover());
            Assert.Throws<AsrFailedPreconditionException>(() => vm1.ReverseReplicate());
            Assert.Throws<AsrFailedPreconditionException>(() => vm1.Failback());
            Assert.Throws<AsrFailedPreconditionException>(() => vm1.TestFailoverCleanup());
            Assert.Throws<ArgumentException>(() => vm1.Failover(new FailoverParams()));
            Assert.Throws<AsrInvalidArgumentException>(() => vm1.Failover(new FailoverParams { Operation = "Teleport" }));
            Assert.Throws<ArgumentNullException>(() => vm1.Failover(null!));
            Assert.Throws<AsrNotFoundException>(() => engine.ProtectedItems.Enable("VM9"));
            Assert.Throws<AsrInvalidArgumentException>(() => engine.ProtectedItems.Onboard("VM2", "hv-b", Array.Empty<string>()));

            // Without the transport, verification is refused with a reason.
            Assert.Throws<AsrFailedPreconditionException>(() => vm1.Verify());
            Assert.Throws<AsrFailedPreconditionException>(() => vm1.Resync());

            // No host here to remove the replica VM: only a forced disable removes the item.
            Job disable = vm1.DisableProtection(force: true);
            Assert.Equal("DisableProtection", disable.ScenarioName);
            Assert.Empty(engine.ProtectedItems);
            Assert.Throws<AsrNotFoundException>(() => vm1.Refresh());
            Assert.Throws<AsrNotFoundException>(() => engine.ProtectedItems.Disable("VM1"));
        }
    }
}
