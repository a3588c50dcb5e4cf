// Replica placement at scale: 100,000 protected VMs (2 NICs, 2 disks each)
// over 10,000 VM networks (5,000 per site, 80% of the source ones mapped)
// and 1,000 recovery hosts, resolved NIC by NIC, disk by disk and host by
// host through the hash-indexed FabricIndex.
//
//   bazel run --config=opt //benchmarks:placement_benchmark
//
// BM_BuildIndex: copying and indexing the inputs. BM_ForEachPlacement:
// placing every VM in one batch with capacity accounting, each placement
// streamed to a sink (clouds:100 = 10 hosts per recovery cloud; clouds:1 =
// all 1,000 hosts in one cloud). BM_IndexAndPlace: index + place, the whole
// cost from a snapshot. BM_PlaceAll: the same placements kept in a vector
// (explained:1 with every explanation and every host's evaluation).
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "asr/mapping/fabric_index.h"
#include "asr/mapping/placement.h"
#include "asr/mapping/storage_resolver.h"
#include "benchmark/benchmark.h"

namespace asr::mapping {
namespace {

constexpr int kVms = 100000;
constexpr int kNetworksPerSite = 5000;
constexpr int kHosts = 1000;
constexpr int kLogicalNetworks = 100;
constexpr int kClassesPerSite = 20;
constexpr int kTargetsPerClass = 5;
constexpr uint64_t kGiB = uint64_t{1} << 30;

// `clouds` recovery clouds share the 1,000 hosts; source cloud k is paired
// with recovery cloud k. Recovery cloud c offers logical networks
// c..c+9 (mod 100); its hosts are connected to all of them but one.
FabricSnapshot Fabric(int clouds) {
  std::mt19937 rng(42);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  FabricSnapshot s;
  for (int side = 0; side < 2; ++side) {
    const std::string server = side == 0 ? "src" : "tgt";
    for (int l = 0; l < kLogicalNetworks; ++l) {
      model::LogicalNetwork ln;
      ln.set_id(absl::StrCat(server, "-ln", l));
      ln.set_name(absl::StrCat("LN", l));
      ln.set_server_id(server);
      s.logical_networks.push_back(ln);
    }
    for (int i = 0; i < kNetworksPerSite; ++i) {
      model::VmNetwork n;
      n.set_id(absl::StrCat(server, "-net", i));
      n.set_name(absl::StrCat("VMNetwork", i, "-", server));
      n.set_server_id(server);
      n.set_logical_network_id(absl::StrCat(server, "-ln", i % kLogicalNetworks));
      for (int k = 0; k < 3; ++k) n.add_subnets()->set_name(absl::StrCat("Subnet", (i + k) % 5));
      s.vm_networks.push_back(n);
    }
    for (int c = 0; c < kClassesPerSite; ++c) {
      model::StorageClassification sc;
      sc.set_id(absl::StrCat(server, "-class", c));
      sc.set_name(absl::StrCat("CLASS", c));
      sc.set_server_id(server);
      for (int t = 0; t < kTargetsPerClass; ++t) {
        model::StorageTarget* target = sc.add_targets();
        target->set_id(absl::StrCat(sc.id(), "-t", t));
        target->set_name(absl::StrCat("Share", t));
        target->set_path(absl::StrCat("\\\\fs", c, "\\", target->id()));
        target->set_type(t % 2 == 0 ? model::SMB_SHARE : model::CLUSTER_SHARED_VOLUME);
        target->set_free_bytes(static_cast<uint64_t>(uniform(200, 400)) * 1024 * kGiB);
      }
      s.storage_classifications.push_back(sc);
    }
  }
  for (int i = 0; i < kNetworksPerSite; ++i) {
    if (i % 5 == 4) continue;  // 20% of the source networks stay unmapped
    model::NetworkMapping m;
    m.set_id(absl::StrCat("nm", i));
    m.set_source_vm_network_id(absl::StrCat("src-net", i));
    m.set_target_vm_network_id(absl::StrCat("tgt-net", i));
    s.network_mappings.push_back(m);
  }
  for (int c = 0; c < kClassesPerSite; ++c) {
    model::StorageMapping m;
    m.set_id(absl::StrCat("sm", c));
    m.set_source_classification_id(absl::StrCat("src-class", c));
    m.set_target_classification_id(absl::StrCat("tgt-class", c));
    s.storage_mappings.push_back(m);
  }
  for (int k = 0; k < clouds; ++k) {
    for (int side = 0; side < 2; ++side) {
      const std::string server = side == 0 ? "src" : "tgt";
      model::Cloud cloud;
      cloud.set_id(absl::StrCat(server, "-cloud", k));
      cloud.set_name(absl::StrCat("Cloud", k));
      cloud.set_server_id(server);
      cloud.add_host_group_ids(absl::StrCat(cloud.id(), "-hg"));
      for (int l = 0; l < 10; ++l) {
        cloud.add_logical_network_ids(absl::StrCat(server, "-ln", (k + l) % kLogicalNetworks));
      }
      s.clouds.push_back(cloud);
    }
    model::CloudPairing p;
    p.set_id(absl::StrCat("pair", k));
    p.set_primary_cloud_id(absl::StrCat("src-cloud", k));
    p.set_recovery_cloud_id(absl::StrCat("tgt-cloud", k));
    s.pairings.push_back(p);
  }
  for (int h = 0; h < kHosts; ++h) {
    const int c = h % clouds;
    model::HyperVHost host;
    host.set_id(absl::StrCat("tgt-host", h));
    host.set_name(absl::StrCat("hv", h));
    host.set_server_id("tgt");
    host.set_host_group_id(absl::StrCat("tgt-cloud", c, "-hg"));
    host.set_default_storage_path(absl::StrCat("D:\\Replica\\hv", h));
    host.set_default_storage_free_bytes(4096 * kGiB);
    for (int l = 0; l < 10; ++l) {
      if (l == (h / clouds) % 10) continue;  // each host misses another of its cloud's networks
      host.add_logical_network_ids(absl::StrCat("tgt-ln", (c + l) % kLogicalNetworks));
    }
    for (int sc = 0; sc < kClassesPerSite; ++sc) {
      for (int t = 0; t < kTargetsPerClass; ++t) {
        if ((h + sc + t) % 3 != 0) host.add_storage_target_ids(absl::StrCat("tgt-class", sc, "-t", t));
      }
    }
    s.hosts.push_back(host);
  }
  for (int i = 0; i < kVms; ++i) {
    const int k = uniform(0, clouds - 1);
    model::VirtualMachine vm;
    vm.set_id(absl::StrCat("vm", i));
    vm.set_name(absl::StrCat("VM", i));
    vm.set_server_id("src");
    vm.set_cloud_id(absl::StrCat("src-cloud", k));
    for (int n = 0; n < 2; ++n) {
      // A network whose target sits on a logical network of the recovery cloud.
      int index = kLogicalNetworks * uniform(0, kNetworksPerSite / kLogicalNetworks - 1) +
                  (k + uniform(0, 9)) % kLogicalNetworks;
      model::NetworkAdapter* nic = vm.add_network_adapters();
      nic->set_id(absl::StrCat(vm.id(), "-nic", n));
      nic->set_vm_network_id(absl::StrCat("src-net", index));
      nic->set_subnet_name(absl::StrCat("Subnet", uniform(0, 6)));
    }
    for (int d = 0; d < 2; ++d) {
      model::VirtualDisk* disk = vm.add_disks();
      disk->set_id(absl::StrCat(vm.id(), "-disk", d));
      disk->set_path(absl::StrCat("C:\\VMs\\", vm.name(), "\\disk", d, ".vhdx"));
      disk->set_size_bytes(static_cast<uint64_t>(uniform(20, 100)) * kGiB);
      disk->set_storage_target_id(
          absl::StrCat("src-class", uniform(0, kClassesPerSite - 1), "-t", uniform(0, 4)));
    }
    model::ProtectedItem item;
    item.set_id(absl::StrCat("pi", i));
    item.set_vm_id(vm.id());
    item.set_pairing_id(absl::StrCat("pair", k));
    s.protected_items.push_back(item);
    s.vms.push_back(std::move(vm));
  }
  return s;
}

const FabricSnapshot& Inputs(int64_t clouds) {
  static auto* many = new FabricSnapshot(Fabric(100));
  static auto* one = new FabricSnapshot(Fabric(1));
  return clouds == 1 ? *one : *many;
}

std::vector<std::string> VmIds(const FabricSnapshot& s) {
  std::vector<std::string> ids;
  ids.reserve(s.vms.size());
  for (const auto& vm : s.vms) ids.push_back(vm.id());
  return ids;
}

void BM_BuildIndex(benchmark::State& state) {
  const FabricSnapshot& s = Inputs(100);
  for (auto _ : state) {
    auto index = FabricIndex::Build(s);
    benchmark::DoNotOptimize(index);
  }
}
BENCHMARK(BM_BuildIndex)->Unit(benchmark::kMillisecond);

void PlaceAll(benchmark::State& state, int clouds, bool explain) {
  const FabricSnapshot& s = Inputs(clouds);
  auto index = FabricIndex::Build(s);
  if (!index.ok()) {
    state.SkipWithError(std::string(index.status().message()).c_str());
    return;
  }
  const std::vector<std::string> ids = VmIds(s);
  PlacementOptions options;
  options.explain = explain;
  int64_t placed = 0;
  for (auto _ : state) {
    CapacityLedger ledger;
    auto placements = PlaceReplicas(**index, ids, &ledger, options);
    if (!placements.ok()) {
      state.SkipWithError(std::string(placements.status().message()).c_str());
      return;
    }
    placed = 0;
    for (const auto& p : *placements) placed += p.placed() ? 1 : 0;
    benchmark::DoNotOptimize(placements);
  }
  state.counters["vms"] = static_cast<double>(ids.size());
  state.counters["placed"] = static_cast<double>(placed);
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(ids.size()));
}

// Streaming: each placement handed to a sink (as a job writing results
// would), one message reused.
void BM_ForEachPlacement(benchmark::State& state) {
  const FabricSnapshot& s = Inputs(state.range(0));
  auto index = FabricIndex::Build(s);
  if (!index.ok()) {
    state.SkipWithError(std::string(index.status().message()).c_str());
    return;
  }
  const std::vector<std::string> ids = VmIds(s);
  PlacementOptions options;
  options.explain = false;
  int64_t placed = 0, disks = 0, nics = 0;
  for (auto _ : state) {
    CapacityLedger ledger;
    placed = disks = nics = 0;
    absl::Status st = ForEachPlacement(**index, ids, &ledger, options,
                                       [&](const model::ReplicaPlacement& p) {
                                         placed += p.placed() ? 1 : 0;
                                         disks += p.disks_size();
                                         nics += p.nics_size();
                                         return absl::OkStatus();
                                       });
    if (!st.ok()) {
      state.SkipWithError(std::string(st.message()).c_str());
      return;
    }
  }
  state.counters["placed"] = static_cast<double>(placed);
  state.counters["disks"] = static_cast<double>(disks);
  state.counters["nics"] = static_cast<double>(nics);
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(ids.size()));
}
BENCHMARK(BM_ForEachPlacement)->Arg(100)->Arg(1)->ArgName("clouds")->Unit(benchmark::kMillisecond);

// Index the inputs and place every VM: the whole cost from a snapshot.
void BM_IndexAndPlace(benchmark::State& state) {
  const FabricSnapshot& s = Inputs(100);
  const std::vector<std::string> ids = VmIds(s);
  PlacementOptions options;
  options.explain = false;
  for (auto _ : state) {
    auto index = FabricIndex::Build(s);
    CapacityLedger ledger;
    int64_t placed = 0;
    absl::Status st = ForEachPlacement(**index, ids, &ledger, options,
                                       [&](const model::ReplicaPlacement& p) {
                                         placed += p.placed() ? 1 : 0;
                                         return absl::OkStatus();
                                       });
    benchmark::DoNotOptimize(placed);
    if (!st.ok()) state.SkipWithError(std::string(st.message()).c_str());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(ids.size()));
}
BENCHMARK(BM_IndexAndPlace)->Unit(benchmark::kMillisecond);

void BM_PlaceAll(benchmark::State& state) { PlaceAll(state, 100, state.range(0) != 0); }
BENCHMARK(BM_PlaceAll)->Arg(0)->Arg(1)->ArgName("explained")->Unit(benchmark::kMillisecond);


}  // namespace
}  // namespace asr::mapping
