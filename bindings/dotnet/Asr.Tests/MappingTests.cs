using System;
using System.Text.Json;
using Xunit;

namespace Asr.Tests
{
    /// <summary>Network and storage mappings and placement through the binding (New York/Chicago example).</summary>
    public sealed class MappingTests : IDisposable
    {
        private readonly TempStateDir _dir = new TempStateDir();

        public void Dispose() => _dir.Dispose();

        private AsrEngine OpenExample()
        {
            AsrEngine e = AsrEngine.Open(_dir.Dir, _dir.Options);
            e.Initialize();
            e.PutObject("logical-network", "{\"id\":\"ln1-chi\",\"name\":\"LogicalNetwork1-Chicago\",\"serverId\":\"vmm-chi\"}");
            e.PutObject("vm-network", "{\"id\":\"net1-ny\",\"name\":\"VMNetwork1-NewYork\",\"serverId\":\"vmm-ny\",\"subnets\":[{\"name\":\"Subnet1\"}]}");
            e.PutObject("vm-network", "{\"id\":\"net2-ny\",\"name\":\"VMNetwork2-NewYork\",\"serverId\":\"vmm-ny\"}");
            e.PutObject("vm-network", "{\"id\":\"net1-chi\",\"name\":\"VMNetwork1-Chicago\",\"serverId\":\"vmm-chi\",\"logicalNetworkId\":\"ln1-chi\",\"subnets\":[{\"name\":\"Backend\"},{\"name\":\"Subnet1\"}]}");
            e.PutObject("cloud", "{\"id\":\"gold1\",\"name\":\"GoldCloud1\",\"serverId\":\"vmm-ny\",\"metadataSynced\":true,\"capabilityProfiles\":[\"Hyper-V\"],\"hostGroupIds\":[\"hg-ny\"]}");
            e.PutObject("cloud", "{\"id\":\"gold2\",\"name\":\"GoldCloud2\",\"serverId\":\"vmm-chi\",\"metadataSynced\":true,\"capabilityProfiles\":[\"Hyper-V\"],\"hostGroupIds\":[\"hg\"],\"logicalNetworkIds\":[\"ln1-chi\"]}");
            e.PutObject("host", "{\"id\":\"chicago-h1\",\"name\":\"chicago-h1\",\"hostGroupId\":\"hg\",\"defaultStoragePath\":\"D:\\\\Replica\",\"defaultStorageFreeBytes\":\"1099511627776\",\"logicalNetworkIds\":[\"ln1-chi\"]}");
            e.PutObject("storage-classification", "{\"id\":\"GOLD\",\"name\":\"GOLD\",\"serverId\":\"vmm-ny\"}");
            e.PutObject("storage-classification", "{\"id\":\"GOLD_TARGET\",\"name\":\"GOLD_TARGET\",\"serverId\":\"vmm-chi\"}");
            e.PutObject("vm", "{\"id\":\"vm1\",\"name\":\"VM1\",\"cloudId\":\"gold1\",\"networkAdapters\":[{\"id\":\"nic0\",\"vmNetworkId\":\"net1-ny\",\"subnetName\":\"Subnet1\"}],\"disks\":[{\"id\":\"d0\",\"name\":\"VM1.vhdx\",\"sizeBytes\":\"1073741824\",\"storageTargetId\":\"SourceVolume3\"}]}");
            // Pairings are written only by PairClouds (PutObject refuses them).
            AsrVault.Create(e, "contoso-dr", "on-premises");
            string key = AsrVault.GenerateRegistrationKey(e);
            foreach (var (name, site) in new[] { ("vmm-ny", "primary"), ("vmm-chi", "recovery") })
            {
                AsrFabric.RegisterServer(e, JsonSerializer.Serialize(new { credentials = key, friendlyName = name, siteId = site }));
            }

            AsrFabric.PairClouds(e, "GoldCloud1", "GoldCloud2");
            e.PutObject("protected-item", "{\"id\":\"pi-vm1\",\"vmId\":\"vm1\",\"pairingId\":\"pair-gold1-gold2\"}");
            return e;
        }

        [Fact]
        public void NetworkMappingReportsReplicaNicChanges()
        {
            using AsrEngine e = OpenExample();
            using JsonDocument report = JsonDocument.Parse(AsrNetworkMapping.Add(e, "VMNetwork1-NewYork", "VMNetwork1-Chicago"));
            Assert.Equal("create", report.RootElement.GetProperty("operation").GetString());
            Assert.StartsWith("job-", report.RootElement.GetProperty("jobId").GetString());
            JsonElement change = report.RootElement.GetProperty("changes")[0];
            Assert.Equal("Subnet1", change.GetProperty("after").GetProperty("targetSubnetName").GetString());

            var dup = Assert.Throws<AsrAlreadyExistsException>(() => AsrNetworkMapping.Add(e, "net1-ny", "net2-ny", false));
            Assert.Contains("already mapped", dup.Message);

            using JsonDocument table = JsonDocument.Parse(AsrNetworkMapping.List(e));
            Assert.Equal(3, table.RootElement.GetProperty("rows").GetArrayLength());
            Assert.Contains("VMNetwork1-Chicago", AsrNetworkMapping.Targets(e, "VMNetwork1-NewYork"));
            Assert.Contains("\"targetVmNetworkId\":\"net1-chi\"", AsrNetworkMapping.Resolve(e, "VM1"));
            Assert.Contains("FAILBACK_NETWORK_UNCHANGED",
                AsrNetworkMapping.Failback(e, "{\"vmId\":\"vm1\",\"replicaVmNetworkId\":\"net1-chi\"}"));

            using JsonDocument removed = JsonDocument.Parse(AsrNetworkMapping.Remove(e, "VMNetwork1-NewYork"));
            Assert.Equal("remove", removed.RootElement.GetProperty("operation").GetString());
            Assert.Throws<AsrNotFoundException>(() => AsrNetworkMapping.Remove(e, "VMNetwork1-NewYork"));
        }

        [Fact]
        public void StorageMappingAndPlacement()
        {
            using AsrEngine e = OpenExample();
            Assert.Contains("\"operation\":\"create\"", AsrStorageMapping.Add(e, "GOLD", "GOLD_TARGET"));
            Assert.Contains("\"mappedClassificationName\":\"GOLD_TARGET\"", AsrStorageMapping.List(e));
            // SourceVolume3 is unclassified: the host's default location.
            Assert.Contains("DISK_HOST_DEFAULT_UNCLASSIFIED", AsrStorageMapping.Resolve(e, "VM1"));

            using JsonDocument placement = JsonDocument.Parse(AsrPlacement.Show(e, "VM1"));
            Assert.True(placement.RootElement.GetProperty("placed").GetBoolean());
            Assert.Equal("chicago-h1", placement.RootElement.GetProperty("hostId").GetString());
            Assert.Equal("D:\\Replica\\VM1\\VM1.vhdx",
                placement.RootElement.GetProperty("disks")[0].GetProperty("replicaDiskPath").GetString());
            Assert.Throws<AsrNotFoundException>(() => AsrPlacement.Show(e, "NoSuchVm"));
            Assert.Contains("\"operation\":\"remove\"", AsrStorageMapping.Remove(e, "GOLD"));
        }
    }
}
