// Property tests over randomized (seeded) inventories:
//  - resolution is deterministic: shuffling every input list gives the same
//    NIC resolutions, tables and placements;
//  - every replica NIC resolves to a subnet of its mapped network, or to no
//    network when its source network is unmapped.
#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/mapping/fabric_index.h"
#include "asr/mapping/network_resolver.h"
#include "asr/mapping/placement.h"
#include "asr/mapping/storage_resolver.h"
#include "asr/model/json.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace asr::mapping {
namespace {

using google::protobuf::util::MessageDifferencer;

constexpr uint64_t kGiB = uint64_t{1} << 30;

class Gen {
 public:
  explicit Gen(uint32_t seed) : rng_(seed) {}
  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[Int(0, static_cast<int>(v.size()) - 1)];
  }
  std::mt19937& rng() { return rng_; }

 private:
  std::mt19937 rng_;
};

// Two servers; on each: logical networks, VM networks with 0..4 subnets
// drawn from a small pool of names (so names collide), clouds with host
// groups and hosts, classifications with shares. Source networks and
// classifications are mapped at random (sometimes to missing targets), VMs
// have NICs on random networks (some disconnected or unknown) and disks on
// random storage (some unclassified).
FabricSnapshot RandomFabric(uint32_t seed) {
  Gen g(seed);
  FabricSnapshot s;
  const std::vector<std::string> subnet_names = {"Front",   "Back", "Subnet1",
                                                 "Subnet2", "DMZ",  "subnet1"};
  const std::string servers[2] = {"src", "tgt"};
  std::vector<std::string> nets[2], lns[2], clouds[2], targets[2], classes[2];
  for (int sv = 0; sv < 2; ++sv) {
    int n_ln = g.Int(1, 4);
    for (int i = 0; i < n_ln; ++i) {
      model::LogicalNetwork ln;
      ln.set_id(absl::StrCat(servers[sv], "-ln", i));
      ln.set_name(absl::StrCat("LN", i));
      ln.set_server_id(servers[sv]);
      lns[sv].push_back(ln.id());
      s.logical_networks.push_back(ln);
    }
    int n_net = g.Int(1, 8);
    for (int i = 0; i < n_net; ++i) {
      model::VmNetwork n;
      n.set_id(absl::StrCat(servers[sv], "-net", i));
      n.set_name(absl::StrCat("Net", g.Int(0, 5)));  // names may repeat
      n.set_server_id(servers[sv]);
      n.set_logical_network_id(g.Pick(lns[sv]));
      int n_sub = g.Int(0, 4);
      for (int k = 0; k < n_sub; ++k) n.add_subnets()->set_name(g.Pick(subnet_names));
      nets[sv].push_back(n.id());
      s.vm_networks.push_back(n);
    }
    int n_class = g.Int(1, 3);
    for (int i = 0; i < n_class; ++i) {
      model::StorageClassification c;
      c.set_id(absl::StrCat(servers[sv], "-class", i));
      c.set_name(absl::StrCat("CLASS", i));
      c.set_server_id(servers[sv]);
      int n_t = g.Int(1, 3);
      for (int k = 0; k < n_t; ++k) {
        model::StorageTarget* t = c.add_targets();
        t->set_id(absl::StrCat(c.id(), "-t", k));
        t->set_name(absl::StrCat("Share", g.Int(0, 3)));  // names may tie
        t->set_path(absl::StrCat("\\\\fs\\", t->id()));
        t->set_free_bytes(static_cast<uint64_t>(g.Int(0, 5)) * 100 * kGiB);  // ties too
        targets[sv].push_back(t->id());
      }
      classes[sv].push_back(c.id());
      s.storage_classifications.push_back(c);
    }
    targets[sv].push_back(absl::StrCat(servers[sv], "-unclassified"));
    int n_cloud = g.Int(1, 3);
    for (int i = 0; i < n_cloud; ++i) {
      model::Cloud c;
      c.set_id(absl::StrCat(servers[sv], "-cloud", i));
      c.set_name(absl::StrCat("Cloud", i));
      c.set_server_id(servers[sv]);
      c.add_host_group_ids(absl::StrCat(c.id(), "-hg"));
      for (const auto& ln : lns[sv]) {
        if (g.Chance(0.6)) c.add_logical_network_ids(ln);
      }
      model::HostGroup hg;
      hg.set_id(c.host_group_ids(0));
      hg.set_server_id(servers[sv]);
      int n_host = g.Int(0, 4);
      for (int k = 0; k < n_host; ++k) {
        model::HyperVHost h;
        h.set_id(absl::StrCat(c.id(), "-h", k));
        h.set_name(absl::StrCat("host", g.Int(0, 2)));  // names may tie
        h.set_server_id(servers[sv]);
        if (g.Chance(0.5)) {
          h.set_host_group_id(hg.id());
        } else {
          hg.add_host_ids(h.id());
        }
        h.set_default_storage_path(absl::StrCat("D:\\", h.id()));
        h.set_default_storage_free_bytes(static_cast<uint64_t>(g.Int(0, 4)) * 100 * kGiB);
        for (const auto& ln : lns[sv]) {
          if (g.Chance(0.7)) h.add_logical_network_ids(ln);
        }
        for (const auto& t : targets[sv]) {
          if (g.Chance(0.6)) h.add_storage_target_ids(t);
        }
        s.hosts.push_back(h);
      }
      clouds[sv].push_back(c.id());
      s.host_groups.push_back(hg);
      s.clouds.push_back(c);
    }
  }
  // Mappings from source networks/classifications.
  for (const auto& n : nets[0]) {
    if (!g.Chance(0.6)) continue;
    model::NetworkMapping m;
    m.set_id(absl::StrCat("nm-", n));
    m.set_source_vm_network_id(n);
    m.set_target_vm_network_id(g.Chance(0.1) ? "tgt-missing" : g.Pick(nets[1]));
    s.network_mappings.push_back(m);
  }
  for (const auto& c : classes[0]) {
    if (!g.Chance(0.7)) continue;
    model::StorageMapping m;
    m.set_id(absl::StrCat("sm-", c));
    m.set_source_classification_id(c);
    m.set_target_classification_id(g.Pick(classes[1]));
    s.storage_mappings.push_back(m);
  }
  // Pair every source cloud with a target cloud.
  for (size_t i = 0; i < clouds[0].size(); ++i) {
    model::CloudPairing p;
    p.set_id(absl::StrCat("pair", i));
    p.set_primary_cloud_id(clouds[0][i]);
    p.set_recovery_cloud_id(clouds[1][i % clouds[1].size()]);
    s.pairings.push_back(p);
  }
  int n_vm = g.Int(1, 30);
  for (int i = 0; i < n_vm; ++i) {
    model::VirtualMachine vm;
    vm.set_id(absl::StrCat("vm", i));
    vm.set_name(absl::StrCat("VM", i));
    vm.set_server_id("src");
    vm.set_cloud_id(g.Pick(clouds[0]));
    int n_nic = g.Int(0, 3);
    for (int k = 0; k < n_nic; ++k) {
      model::NetworkAdapter* nic = vm.add_network_adapters();
      nic->set_id(absl::StrCat(vm.id(), "-nic", k));
      int what = g.Int(0, 9);
      if (what == 0) {
        // disconnected
      } else if (what == 1) {
        nic->set_vm_network_id("src-unknown");
      } else {
        nic->set_vm_network_id(g.Pick(nets[0]));
      }
      if (g.Chance(0.8)) nic->set_subnet_name(g.Pick(subnet_names));
    }
    int n_disk = g.Int(0, 3);
    for (int k = 0; k < n_disk; ++k) {
      model::VirtualDisk* d = vm.add_disks();
      d->set_id(absl::StrCat(vm.id(), "-disk", k));
      d->set_path(absl::StrCat("C:\\vms\\", vm.id(), "\\disk", k, ".vhdx"));
      d->set_size_bytes(static_cast<uint64_t>(g.Int(1, 3)) * 50 * kGiB);
      d->set_storage_target_id(g.Pick(targets[0]));
    }
    if (g.Chance(0.7)) {
      model::ProtectedItem item;
      item.set_id(absl::StrCat("pi-", vm.id()));
      item.set_vm_id(vm.id());
      s.protected_items.push_back(item);
    }
    s.vms.push_back(vm);
  }
  return s;
}

template <typename T>
void Shuffle(std::vector<T>* v, std::mt19937& rng) {
  std::shuffle(v->begin(), v->end(), rng);
}

template <typename R>
void ShuffleRepeated(R* field, std::mt19937& rng) {
  for (int i = field->size() - 1; i > 0; --i) {
    int j = std::uniform_int_distribution<int>(0, i)(rng);
    field->SwapElements(i, j);
  }
}

// Every list and every order-free repeated field shuffled; subnets keep
// their (meaningful) order.
FabricSnapshot Shuffled(FabricSnapshot s, uint32_t seed) {
  std::mt19937 rng(seed);
  Shuffle(&s.clouds, rng);
  Shuffle(&s.host_groups, rng);
  Shuffle(&s.hosts, rng);
  Shuffle(&s.vms, rng);
  Shuffle(&s.vm_networks, rng);
  Shuffle(&s.logical_networks, rng);
  Shuffle(&s.storage_classifications, rng);
  Shuffle(&s.pairings, rng);
  Shuffle(&s.network_mappings, rng);
  Shuffle(&s.storage_mappings, rng);
  Shuffle(&s.protected_items, rng);
  for (auto& c : s.clouds) {
    ShuffleRepeated(c.mutable_logical_network_ids(), rng);
    ShuffleRepeated(c.mutable_host_group_ids(), rng);
  }
  for (auto& h : s.hosts) {
    ShuffleRepeated(h.mutable_logical_network_ids(), rng);
    ShuffleRepeated(h.mutable_storage_target_ids(), rng);
  }
  for (auto& g : s.host_groups) ShuffleRepeated(g.mutable_host_ids(), rng);
  for (auto& c : s.storage_classifications) ShuffleRepeated(c.mutable_targets(), rng);
  return s;
}

std::unique_ptr<FabricIndex> Build(FabricSnapshot s) {
  auto index = FabricIndex::Build(std::move(s));
  EXPECT_OK(index);
  return std::move(index).value();
}

void ExpectSame(const google::protobuf::Message& a, const google::protobuf::Message& b) {
  EXPECT_TRUE(MessageDifferencer::Equals(a, b)) << "first:\n"
                                                << model::ToJson(a, true) << "\nsecond:\n"
                                                << model::ToJson(b, true);
}

class ResolverProperty : public ::testing::TestWithParam<uint32_t> {};

TEST_P(ResolverProperty, ResolutionIsDeterministicUnderShuffling) {
  const uint32_t seed = GetParam();
  FabricSnapshot original = RandomFabric(seed);
  auto a = Build(original);
  for (uint32_t round = 0; round < 3; ++round) {
    auto b = Build(Shuffled(original, seed * 31 + round));
    ExpectSame(BuildNetworkMappingTable(*a), BuildNetworkMappingTable(*b));
    ExpectSame(BuildStorageMappingTable(*a), BuildStorageMappingTable(*b));
    for (const auto& n : original.vm_networks) {
      if (n.server_id() != "src") continue;
      auto ta = BuildTargetNetworkTable(*a, n.id());
      auto tb = BuildTargetNetworkTable(*b, n.id());
      ASSERT_TRUE(ta.ok() && tb.ok());
      ExpectSame(*ta, *tb);
    }
    std::vector<std::string> ids;
    for (const auto& vm : original.vms) {
      ids.push_back(vm.id());
      auto ra = ResolveVmNics(*a, vm.id());
      auto rb = ResolveVmNics(*b, vm.id());
      ASSERT_TRUE(ra.ok() && rb.ok());
      ExpectSame(*ra, *rb);
      auto pa = PlaceReplica(*a, vm.id());
      auto pb = PlaceReplica(*b, vm.id());
      ASSERT_EQ(pa.ok(), pb.ok());
      if (pa.ok()) ExpectSame(*pa, *pb);
      // The early-stopping search picks the host the full evaluation picks.
      PlacementOptions quick;
      quick.explain = false;
      auto pq = PlaceReplica(*b, vm.id(), quick);
      ASSERT_EQ(pa.ok(), pq.ok());
      if (pa.ok()) {
        EXPECT_EQ(pq->host_id(), pa->host_id());
        EXPECT_EQ(pq->placed(), pa->placed());
        ASSERT_EQ(pq->disks_size(), pa->disks_size());
        for (int d = 0; d < pq->disks_size(); ++d) {
          model::DiskPlacement full = pa->disks(d);
          full.clear_explanation();
          ExpectSame(pq->disks(d), full);
        }
        for (int k = 0; k < pq->nics_size(); ++k) {
          model::NicResolution full = pa->nics(k);
          full.clear_explanation();
          ExpectSame(pq->nics(k), full);
        }
      }
    }
    // Batch placement with capacity accounting, VM ids given in any order.
    std::vector<std::string> shuffled_ids = ids;
    std::mt19937 rng(seed + round);
    std::shuffle(shuffled_ids.begin(), shuffled_ids.end(), rng);
    CapacityLedger la, lb;
    auto ba = PlaceReplicas(*a, ids, &la);
    auto bb = PlaceReplicas(*b, shuffled_ids, &lb);
    ASSERT_TRUE(ba.ok() && bb.ok());
    ASSERT_EQ(ba->size(), bb->size());
    for (size_t i = 0; i < ba->size(); ++i) ExpectSame((*ba)[i], (*bb)[i]);
  }
}

TEST_P(ResolverProperty, EveryNicResolvesToASubnetOfItsMappedNetworkOrToNone) {
  FabricSnapshot s = RandomFabric(GetParam());
  auto index = Build(s);
  int checked = 0;
  for (const auto& vm : s.vms) {
    for (const auto& nic : vm.network_adapters()) {
      model::NicResolution r = ResolveNic(*index, nic);
      ++checked;
      const model::NetworkMapping* m = index->MappingForSourceNetwork(nic.vm_network_id());
      const model::VmNetwork* target =
          m == nullptr ? nullptr : index->FindVmNetwork(m->target_vm_network_id());
      if (nic.vm_network_id().empty() || index->FindVmNetwork(nic.vm_network_id()) == nullptr ||
          target == nullptr) {
        EXPECT_EQ(r.target_vm_network_id(), "");
        EXPECT_EQ(r.target_subnet_name(), "");
        continue;
      }
      EXPECT_EQ(r.target_vm_network_id(), target->id());
      EXPECT_EQ(r.network_mapping_id(), m->id());
      if (target->subnets().empty()) {
        EXPECT_EQ(r.target_subnet_name(), "");
        continue;
      }
      bool member = false, same_name_exists = false;
      for (const auto& sub : target->subnets()) {
        member = member || sub.name() == r.target_subnet_name();
        same_name_exists = same_name_exists || sub.name() == nic.subnet_name();
      }
      EXPECT_TRUE(member) << r.target_subnet_name() << " not in " << target->id();
      if (same_name_exists) {
        EXPECT_EQ(r.target_subnet_name(), nic.subnet_name());
      } else if (r.kind() == model::NIC_FIRST_SUBNET) {
        EXPECT_EQ(r.target_subnet_name(), target->subnets(0).name());
      }
    }
  }
  // Placement: each placed disk is on storage the host reaches, or its default.
  for (const auto& vm : s.vms) {
    auto p = PlaceReplica(*index, vm.id());
    ASSERT_OK(p);
    if (!p->placed()) {
      EXPECT_FALSE(p->explanation().empty());
      continue;
    }
    const model::HyperVHost* h = index->FindHost(p->host_id());
    ASSERT_NE(h, nullptr);
    for (const auto& d : p->disks()) {
      if (d.target_storage_target_id().empty()) {
        EXPECT_EQ(d.target_path(), h->default_storage_path());
      } else {
        EXPECT_TRUE(index->HostReachesStorage(h->id(), d.target_storage_target_id()));
        EXPECT_EQ(index->FindStorageTarget(d.target_storage_target_id()).classification->id(),
                  d.target_classification_id());
      }
    }
    for (const auto& n : p->nics()) {
      if (n.target_vm_network_id().empty()) continue;
      const auto* net = index->FindVmNetwork(n.target_vm_network_id());
      EXPECT_TRUE(index->HostHasLogicalNetwork(h->id(), net->logical_network_id()));
    }
  }
  (void)checked;
}

INSTANTIATE_TEST_SUITE_P(Seeds, ResolverProperty, ::testing::Range(1u, 201u));

}  // namespace
}  // namespace asr::mapping
