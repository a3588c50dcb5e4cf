#include "asr/protection/protection_service.h"

#include <algorithm>
#include <atomic>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/disk/virtual_disk.h"
#include "asr/jobs/rule_error.h"
#include "asr/mapping/fabric_index.h"
#include "asr/model/json.h"
#include "asr/net/tls.h"
#include "asr/protection/health.h"
#include "asr/protection/item_resync.h"
#include "asr/protection/item_state.h"
#include "asr/protection/operations.pb.h"
#include "asr/protection/throttle.h"
#include "asr/replication/change_tracker.h"
#include "asr/replication/manifest.h"
#include "asr/replication/offline_package.h"
#include "asr/replication/replica_store.h"
#include "asr/replication/sender.h"

namespace asr::protection {
namespace {

constexpr char kEnable[] = "EnableProtection";
constexpr char kOnboard[] = "OnboardProtection";
constexpr char kDisable[] = "DisableProtection";
constexpr int kRecentCycles = 100;

using jobs::RuleError;

std::string VmLabel(const model::ProtectedItem& item) {
  return item.vm_name().empty() ? item.vm_id() : item.vm_name();
}

// The disk path's directory ("" for a bare name).
std::string DirName(const std::string& path) {
  const size_t slash = path.find_last_of("/\\");
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

// A VM point's id is "<item id>-pNNNNNNNN": the item's points are one range
// of the store.
std::string PointIdPrefix(absl::string_view item_id) { return absl::StrCat(item_id, "-p"); }

std::string BaseName(const std::string& path) {
  const size_t slash = path.find_last_of("/\\");
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::string ProtectedItemId(absl::string_view vm_id) { return absl::StrCat("pi-", vm_id); }

std::string RecoveryPointIdOf(absl::string_view item_id, uint64_t sequence) {
  return absl::StrFormat("%s%08d", PointIdPrefix(item_id), sequence);
}

// A protected disk's change tracker, opened by this process for the host to
// report guest writes into.
class TrackerSink : public fabric::WriteSink {
 public:
  TrackerSink(std::unique_ptr<replication::ChangeTracker> t, const Clock* clock)
      : tracker_(std::move(t)), clock_(clock) {}
  absl::Status RecordWrite(uint64_t offset, uint64_t length) override {
    last_write_us_.store(absl::ToUnixMicros(clock_->Now()), std::memory_order_relaxed);
    return tracker_->RecordWrite(offset, length);
  }
  replication::ChangeTracker* tracker() { return tracker_.get(); }
  // When the last guest write was recorded (0: none since opened).
  int64_t last_write_us() const { return last_write_us_.load(std::memory_order_relaxed); }

 private:
  std::unique_ptr<replication::ChangeTracker> tracker_;
  const Clock* clock_;
  std::atomic<int64_t> last_write_us_{0};
};

struct ProtectionService::Impl {
  repository::ObjectRepository* repo;
  jobs::JobManager* jobs;
  mapping::MappingService* mappings;
  const Clock* clock;

  mutable absl::Mutex mu;
  fabric::HostCallbacks* host ABSL_GUARDED_BY(mu) = nullptr;
  std::shared_ptr<Transport> transport ABSL_GUARDED_BY(mu);
  // One mutex per item: operations and cycles of one item never overlap.
  std::map<std::string, std::shared_ptr<absl::Mutex>> item_locks ABSL_GUARDED_BY(mu);
  // Open trackers by item id, then disk id.
  std::map<std::string, std::map<std::string, std::unique_ptr<TrackerSink>>> trackers
      ABSL_GUARDED_BY(mu);
  bool trackers_open ABSL_GUARDED_BY(mu) = false;
  // Serializes item writes (read-modify-write of the stored item).
  absl::Mutex write_mu;

  fabric::HostCallbacks* Host() const {
    absl::MutexLock l(&mu);
    return host;
  }
  absl::StatusOr<fabric::HostCallbacks*> RequireHost(absl::string_view what) const {
    fabric::HostCallbacks* h = Host();
    if (h == nullptr || !h->available()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "no host is attached, so asr cannot ", what,
          "; attach the VMM host (host callbacks; `asrctl --fabric DIR` for the simulated one)"));
    }
    return h;
  }
  absl::StatusOr<std::shared_ptr<Transport>> RequireTransport() const {
    absl::MutexLock l(&mu);
    if (transport == nullptr) {
      return absl::FailedPreconditionError(
          "replication has no transport configured: give the vault's PKI directory and the "
          "recovery endpoint (--pki DIR of `asrctl protect ...` and `asrctl site run`, "
          "asr_engine_set_transport, or ProtectionService::SetTransport)");
    }
    return transport;
  }
  std::shared_ptr<absl::Mutex> ItemLock(const std::string& item_id) {
    absl::MutexLock l(&mu);
    auto& m = item_locks[item_id];
    if (!m) m = std::make_shared<absl::Mutex>();
    return m;
  }

  absl::StatusOr<std::unique_ptr<mapping::FabricIndex>> Index() const {
    ASR_ASSIGN_OR_RETURN(mapping::FabricSnapshot s, mapping::LoadSnapshot(*repo));
    return mapping::FabricIndex::Build(std::move(s));
  }

  // The item named by id, VM id or VM name.
  absl::StatusOr<model::ProtectedItem> FindItem(absl::string_view ref) const {
    absl::StatusOr<model::ProtectedItem> direct = repo->Get<model::ProtectedItem>(ref);
    if (direct.ok()) return direct;
    ASR_ASSIGN_OR_RETURN(std::vector<model::ProtectedItem> items,
                         repo->List<model::ProtectedItem>());
    for (const auto& i : items) {
      if (i.vm_id() == ref || i.vm_name() == ref) return i;
    }
    return absl::NotFoundError(absl::StrCat(
        "no protected item '", ref,
        "' (neither an item id nor a protected VM's id or name); `asrctl item list` lists them"));
  }

  absl::StatusOr<model::ReplicationPolicy> PolicyOf(const model::ProtectedItem& item) const {
    absl::StatusOr<model::ReplicationPolicy> p =
        repo->Get<model::ReplicationPolicy>(item.policy_id());
    if (!p.ok() && absl::IsNotFound(p.status())) {
      return absl::FailedPreconditionError(
          absl::StrCat("the policy '", item.policy_id(), "' of VM '", VmLabel(item),
                       "' no longer exists; associate a policy with its pairing"));
    }
    return p;
  }

  // Stores `item` after `change` under the write mutex, re-reading it first
  // so concurrent updates of other fields are kept.
  absl::StatusOr<model::ProtectedItem> Update(
      const std::string& item_id, const std::function<void(model::ProtectedItem&)>& change) {
    absl::MutexLock l(&write_mu);
    ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, repo->Get<model::ProtectedItem>(item_id));
    change(item);
    item.clear_allowed_operations();
    ASR_RETURN_IF_ERROR(repo->Put(item));
    return item;
  }

  ReplicaRetention RetentionOf(const model::ReplicationPolicy& policy) const {
    ReplicaRetention r;
    // At least the previous point besides the latest, so that a crash
    // between two disks' commits leaves a whole point (replica_store.h).
    r.additional_points = std::max(1, policy.number_of_recovery_points_to_retain());
    if (policy.recovery_point_retention_in_hours() > 0) {
      r.retention = absl::Hours(policy.recovery_point_retention_in_hours());
    } else {
      r.retention = absl::Hours(std::max(1, r.additional_points + 1));
    }
    return r;
  }

  // Fills the computed fields of a stored item.
  model::ProtectedItem Decorate(model::ProtectedItem item) const {
    item.set_protection_state_description(StateDescription(item));
    absl::StatusOr<model::ReplicationPolicy> policy = PolicyOf(item);
    HealthReport h;
    if (policy.ok()) h = ComputeHealth(item, *policy, clock->Now());
    item.set_replication_health(h.health);
    item.set_rpo_seconds(h.rpo_seconds);
    item.clear_health_errors();
    for (auto& e : h.errors) *item.add_health_errors() = std::move(e);
    DecorateThrottle(*repo, policy.ok() ? &*policy : nullptr, clock->Now(), &item);
    item.clear_allowed_operations();
    for (const std::string& op : AllowedOperations(item)) item.add_allowed_operations(op);
    return item;
  }

  // ---- Enable ----
  absl::Status RunEnable(jobs::JobContext& ctx);
  absl::Status Validate(jobs::JobContext& ctx, const EnableProtectionParams& p,
                        model::ProtectedItem* item);
  absl::Status Place(const EnableProtectionParams& p, model::ProtectedItem* item);
  absl::Status CreateReplicaVm(const model::ProtectedItem& item);
  absl::Status InitialReplication(jobs::JobContext& ctx, const std::string& item_id);
  absl::Status Offline(jobs::JobContext& ctx, const std::string& item_id,
                       const model::ReplicationPolicy& policy);
  absl::Status CheckOnboard(const EnableProtectionParams& p, model::ProtectedItem* item);
  // ---- Disable ----
  absl::Status RunDisable(jobs::JobContext& ctx);
  // ---- Replication ----
  absl::StatusOr<model::CycleOutcome> Replicate(const std::string& item_id,
                                                const ReplicateOptions& options);
  absl::StatusOr<model::CycleOutcome> ReplicateLocked(const std::string& item_id,
                                                      const ReplicateOptions& options);
  absl::Status RecordPoint(model::ProtectedItem& item, const model::HostPoint& point,
                           const std::vector<uint64_t>& disk_points);
  absl::Status PrunePoints(const model::ProtectedItem& item);
  replication::ChangeTracker* TrackerOf(const std::string& item_id, const std::string& disk_id) {
    absl::MutexLock l(&mu);
    auto i = trackers.find(item_id);
    if (i == trackers.end()) return nullptr;
    auto d = i->second.find(disk_id);
    return d == i->second.end() ? nullptr : d->second->tracker();
  }
  absl::Status OpenItemTrackers(const model::ProtectedItem& item);
  absl::Status CloseItemTrackers(const std::string& item_id);
  // ---- Verification and resynchronization (item_resync.h) ----
  // Runs `fn` with the item's lock held (Unavailable while it is busy);
  // `repair`: the operation is RepairReplication (checked against the state).
  absl::StatusOr<model::ItemVerification> WithResyncContext(
      absl::string_view ref, bool repair,
      const std::function<absl::StatusOr<model::ItemVerification>(ResyncContext&)>& fn);
};

// ---------------------------------------------------------------- Enable ---

absl::Status ProtectionService::Impl::Validate(jobs::JobContext& ctx,
                                               const EnableProtectionParams& p,
                                               model::ProtectedItem* item) {
  ASR_ASSIGN_OR_RETURN(auto index, Index());
  const model::VirtualMachine* vm = index->FindVm(p.vm_id());
  if (vm == nullptr) {
    return absl::NotFoundError(absl::StrCat("VM '", p.vm_id(),
                                            "' is not in the inventory; sync the VMM server's "
                                            "inventory (asrctl inventory sync) and try again"));
  }
  const model::CloudPairing* pairing = p.pairing_id().empty()
                                           ? index->PairingForPrimaryCloud(vm->cloud_id())
                                           : index->FindPairing(p.pairing_id());
  if (pairing == nullptr) {
    return RuleError(absl::StatusCode::kFailedPrecondition, "VmCloudNotPaired",
                     absl::StrCat("VM '", vm->name(), "' is in cloud '", vm->cloud_id(),
                                  "', which is not the primary cloud of any pairing"),
                     "pair its cloud with a recovery cloud (asrctl cloud pair) first");
  }
  if (pairing->primary_cloud_id() != vm->cloud_id()) {
    return RuleError(
        absl::StatusCode::kFailedPrecondition, "VmNotInPrimaryCloud",
        absl::StrCat("VM '", vm->name(), "' is in cloud '", vm->cloud_id(), "', not in pairing ",
                     pairing->id(), "'s primary cloud '", pairing->primary_cloud_id(), "'"),
        "protect it with the pairing of its own cloud");
  }
  if (pairing->policy_id().empty()) {
    return RuleError(absl::StatusCode::kFailedPrecondition, "PairingNeedsPolicy",
                     absl::StrCat("pairing ", pairing->id(), " has no replication policy"),
                     "associate a policy with it (asrctl policy associate)");
  }
  ASR_ASSIGN_OR_RETURN(model::ReplicationPolicy policy,
                       repo->Get<model::ReplicationPolicy>(pairing->policy_id()));
  const model::HyperVHost* host = index->FindHost(vm->host_id());
  if (host == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("VM '", vm->name(), "' runs on host '", vm->host_id(),
                     "', which is not in the inventory; sync the inventory"));
  }
  const bool is2012 = host->os_version() == model::WINDOWS_SERVER_2012;
  if ((policy.replication_provider() == model::HyperVReplica2012) != is2012) {
    return RuleError(absl::StatusCode::kFailedPrecondition, "PolicyHostVersion",
                     absl::StrCat("VM '", vm->name(), "' runs on ", host->name(), " (",
                                  model::HostOsVersion_Name(host->os_version()), "), but policy '",
                                  policy.name(), "' is for ",
                                  model::ReplicationProvider_Name(policy.replication_provider())),
                     "use a policy for the host's Windows Server version");
  }
  if (vm->additional_recovery_points() > 0 &&
      vm->additional_recovery_points() < policy.number_of_recovery_points_to_retain()) {
    return RuleError(
        absl::StatusCode::kFailedPrecondition, "VmRecoveryPointsBelowPolicy",
        absl::StrCat("VM '", vm->name(), "' keeps ", vm->additional_recovery_points(),
                     " additional recovery points in VMM, fewer than policy '", policy.name(),
                     "''s ", policy.number_of_recovery_points_to_retain()),
        "raise the VM's recovery points in VMM to at least the policy's");
  }
  if (policy.authentication() == model::Kerberos) {
    ASR_RETURN_IF_ERROR(net::CheckAuthentication("kerberos"));
  }
  ASR_ASSIGN_OR_RETURN(std::shared_ptr<Transport> transport, RequireTransport());
  ASR_ASSIGN_OR_RETURN(fabric::HostCallbacks * h, RequireHost("read the VM's disks"));
  model::VirtualMachine live;
  ASR_RETURN_IF_ERROR(fabric::CallWithRetries([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(live, h->GetVm(vm->id()));
    return absl::OkStatus();
  }));
  if (live.disks().empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("VM '", vm->name(), "' has no virtual disks; there is nothing to protect"));
  }

  item->set_id(ProtectedItemId(vm->id()));
  item->set_vm_id(vm->id());
  item->set_vm_name(vm->name());
  item->set_pairing_id(pairing->id());
  item->set_policy_id(policy.id());
  item->set_primary_host_id(host->id());
  item->set_primary_host_name(host->name());
  item->set_active_site_id("primary");
  item->set_writer_identity(transport->writer_identity());
  item->set_protection_state(model::EnablingProtection);
  item->mutable_current_scenario()->set_scenario_name(ctx.job().scenario_name());
  item->mutable_current_scenario()->set_job_id(ctx.job().id());
  item->mutable_current_scenario()->set_start_time_unix(absl::ToUnixSeconds(ctx.Now()));
  item->set_next_point_sequence(1);
  item->set_onboarded(p.onboard());
  switch (policy.replication_method()) {
    case model::Offline:
      item->set_initial_replication_method("Offline");
      break;
    default:
      if (policy.replication_start_time_unix() > absl::ToUnixSeconds(ctx.Now())) {
        item->set_initial_replication_method("OnlineScheduled");
        item->set_initial_replication_start_unix(policy.replication_start_time_unix());
      } else {
        item->set_initial_replication_method("Online");
      }
  }
  item->clear_disks();
  std::set<std::string> guids;
  for (const model::VirtualDisk& d : live.disks()) {
    model::ProtectedDisk* pd = item->add_disks();
    pd->set_disk_id(d.id());
    pd->set_name(d.name().empty() ? BaseName(d.path()) : d.name());
    pd->set_source_path(d.path());
    ASR_ASSIGN_OR_RETURN(auto disk, disk::OpenDisk(d.path(), disk::OpenMode::kReadOnly));
    pd->set_size_bytes(disk->virtual_size());
    pd->set_source_disk_guid(disk->info().disk_id);
    if (!guids.insert(pd->source_disk_guid()).second) {
      return absl::FailedPreconditionError(absl::StrCat(
          "two disks of VM '", vm->name(), "' carry the same disk id ", pd->source_disk_guid(),
          " (a copied disk?); give one a new id (e.g. Set-VHD -ResetDiskIdentifier) first"));
    }
  }
  // A disk id another protected VM already replicates would reach its replica.
  ASR_ASSIGN_OR_RETURN(std::vector<model::ProtectedItem> others,
                       repo->List<model::ProtectedItem>());
  for (const auto& o : others) {
    if (o.id() == item->id()) continue;
    for (const auto& od : o.disks()) {
      if (guids.count(od.source_disk_guid())) {
        return absl::FailedPreconditionError(
            absl::StrCat("disk ", od.source_disk_guid(), " of VM '", vm->name(),
                         "' has the same disk id as a disk of protected VM '", VmLabel(o),
                         "'; give the copy a new disk id first"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ProtectionService::Impl::Place(const EnableProtectionParams& p,
                                            model::ProtectedItem* item) {
  mapping::PlacementOptions o;
  o.pairing_id = item->pairing_id();
  ASR_ASSIGN_OR_RETURN(model::ReplicaPlacement placement,
                       mappings->ShowPlacement(item->vm_id(), o));
  std::string host_id = placement.host_id();
  if (!p.recovery_host_id().empty()) host_id = p.recovery_host_id();
  if (!placement.placed() && p.recovery_host_id().empty()) {
    return RuleError(
        absl::StatusCode::kFailedPrecondition, "NoRecoveryHost",
        absl::StrCat("no host of recovery cloud '", placement.recovery_cloud_name(),
                     "' can hold VM '", item->vm_name(), "''s replica: ", placement.explanation()),
        "map its networks and storage (asrctl network-map / storage-map) or add "
        "capacity, then restart the job");
  }
  ASR_ASSIGN_OR_RETURN(auto index, Index());
  const model::HyperVHost* rh = index->FindHost(host_id);
  if (rh == nullptr) return absl::NotFoundError(absl::StrCat("recovery host '", host_id, "'"));
  item->set_replica_host_id(rh->id());
  item->set_replica_host_name(rh->name());
  item->set_replica_vm_id(absl::StrCat(item->vm_id(), "-replica"));
  item->set_replica_vm_name(item->vm_name());
  std::map<std::string, const model::DiskPlacement*> by_disk;
  for (const auto& d : placement.disks()) by_disk[d.disk_id()] = &d;
  for (model::ProtectedDisk& d : *item->mutable_disks()) {
    if (!d.replica_dir().empty()) continue;  // onboard: given
    std::string path;
    auto it = by_disk.find(d.disk_id());
    if (it != by_disk.end() && !it->second->replica_disk_path().empty() &&
        host_id == placement.host_id()) {
      path = it->second->replica_disk_path();
      d.set_target_storage_target_id(it->second->target_storage_target_id());
    } else {
      path = absl::StrCat(rh->default_storage_path(), "/", item->vm_name(), "/", d.name());
    }
    // A host path under a POSIX root (the simulated fabric) joins with '/'.
    if (!path.empty() && path[0] == '/') std::replace(path.begin(), path.end(), '\\', '/');
    d.set_replica_dir(absl::StrCat(DirName(path), "/", BaseName(path), ".replica"));
    d.set_replica_path(absl::StrCat(d.replica_dir(), "/replica.vhdx"));
  }
  item->clear_replica_nics();
  for (const auto& n : placement.nics()) {
    model::ReplicaNic* rn = item->add_replica_nics();
    rn->set_nic_id(n.nic_id());
    rn->set_vm_network_id(n.target_vm_network_id());
    rn->set_subnet_name(n.target_subnet_name());
  }
  return absl::OkStatus();
}

absl::Status ProtectionService::Impl::CreateReplicaVm(const model::ProtectedItem& item) {
  ASR_ASSIGN_OR_RETURN(fabric::HostCallbacks * h, RequireHost("create the replica VM"));
  model::ReplicaVmSpec spec;
  spec.set_replica_vm_id(item.replica_vm_id());
  spec.set_name(item.replica_vm_name());
  spec.set_host_id(item.replica_host_id());
  spec.set_source_vm_id(item.vm_id());
  for (const auto& d : item.disks()) {
    ASR_RETURN_IF_ERROR(MakeDirectories(d.replica_dir()));
    model::VirtualDisk* vd = spec.add_disks();
    vd->set_id(d.disk_id());
    vd->set_name(d.name());
    vd->set_path(d.replica_path());
    vd->set_size_bytes(d.size_bytes());
    vd->set_storage_target_id(d.target_storage_target_id());
  }
  for (const auto& n : item.replica_nics()) {
    model::NetworkAdapter* a = spec.add_network_adapters();
    a->set_id(n.nic_id());
    a->set_vm_network_id(n.vm_network_id());
    a->set_subnet_name(n.subnet_name());
  }
  return fabric::CallWithRetries([&]() { return h->CreateReplicaVm(spec).status(); });
}

absl::Status ProtectionService::Impl::Offline(jobs::JobContext& ctx, const std::string& item_id,
                                              const model::ReplicationPolicy& policy) {
  ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, repo->Get<model::ProtectedItem>(item_id));
  auto package_dir = [&](const std::string& root, const model::ProtectedDisk& d) {
    return absl::StrCat(root, "/", item.vm_name(), "/", d.disk_id());
  };
  ASR_RETURN_IF_ERROR(
      ctx.RunTask("export", "Export the initial copy of each disk", [&]() -> absl::Status {
        ASR_ASSIGN_OR_RETURN(fabric::HostCallbacks * h, RequireHost("take a point for the export"));
        model::HostPoint point;
        ASR_RETURN_IF_ERROR(fabric::CallWithRetries([&]() -> absl::Status {
          ASR_ASSIGN_OR_RETURN(point, h->CreatePoint(item.vm_id(), model::CrashConsistent));
          return absl::OkStatus();
        }));
        absl::Status s;
        for (const auto& d : item.disks()) {
          std::string read_path = d.source_path();
          for (const auto& pd : point.disks()) {
            if (pd.disk_id() == d.disk_id()) read_path = pd.read_path();
          }
          replication::ExportOptions o;
          o.compression_level = policy.compression_enabled() ? 1 : 0;
          o.source_time = absl::FromUnixMicros(point.time_us());
          o.source_name = item.primary_host_name();
          o.tracker = TrackerOf(item.id(), d.disk_id());  // when this process holds it
          absl::StatusOr<replication::ExportResult> r = replication::ExportInitialPackage(
              read_path, package_dir(policy.offline_export_path(), d), o);
          if (!r.ok()) {
            s = r.status();
            break;
          }
          ctx.AddInformation(absl::StrCat("exported ", d.name(), " to ",
                                          package_dir(policy.offline_export_path(), d)));
        }
        absl::Status rel = h->ReleasePoint(point);
        ASR_RETURN_IF_ERROR(s);
        ASR_RETURN_IF_ERROR(rel);
        return Update(item_id,
                      [&](model::ProtectedItem& i) {
                        i.set_protection_state(model::InitialReplicationCompletedOnPrimary);
                        i.set_last_recovery_point_time_unix(point.time_us() / 1000000);
                      })
            .status();
      }));
  // The packages travel from the export path to the import path (media,
  // a copy); the job waits for them.
  ASR_RETURN_IF_ERROR(ctx.RunTask(
      "await-import", "Wait for the packages at the import path", [&]() -> absl::Status {
        for (const auto& d : item.disks()) {
          if (!PathExists(
                  absl::StrCat(package_dir(policy.offline_import_path(), d), "/manifest.json"))) {
            return ctx.Suspend(absl::StrCat("copy the exported packages from ",
                                            policy.offline_export_path(), "/", item.vm_name(),
                                            " to ", policy.offline_import_path(), "/",
                                            item.vm_name(), ", then resume job ", ctx.job().id()));
          }
        }
        return absl::OkStatus();
      }));
  return ctx.RunTask("import", "Import the packages into the replicas", [&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(model::ProtectedItem cur, repo->Get<model::ProtectedItem>(item_id));
    std::vector<uint64_t> points;
    for (const auto& d : cur.disks()) {
      replication::ReplicaOptions ro;
      ro.writer = cur.writer_identity();
      ro.additional_points = RetentionOf(policy).additional_points;
      absl::StatusOr<uint64_t> p = replication::ImportInitialPackage(
          package_dir(policy.offline_import_path(), d), d.replica_dir(), ro);
      if (!p.ok()) {
        (void)Update(item_id, [&](model::ProtectedItem& i) {
          i.set_protection_state(model::InitialReplicationFailed);
        });
        return p.status();
      }
      points.push_back(*p);
    }
    return Update(item_id,
                  [&](model::ProtectedItem& i) {
                    for (int k = 0; k < i.disks_size(); ++k)
                      i.mutable_disks(k)->set_last_cycle(points[k]);
                    i.set_protection_state(model::InitialReplicationInProgress);
                  })
        .status();
  });
}

absl::Status ProtectionService::Impl::InitialReplication(jobs::JobContext& ctx,
                                                         const std::string& item_id) {
  ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, repo->Get<model::ProtectedItem>(item_id));
  ASR_ASSIGN_OR_RETURN(model::ReplicationPolicy policy, PolicyOf(item));
  if (item.initial_replication_method() == "Offline") return Offline(ctx, item_id, policy);
  if (item.initial_replication_method() == "OnlineScheduled") {
    ASR_RETURN_IF_ERROR(
        ctx.RunTask("wait-start-time", "Wait for the scheduled start time", [&]() -> absl::Status {
          if (absl::ToUnixSeconds(ctx.Now()) < item.initial_replication_start_unix()) {
            return ctx.Suspend(absl::StrCat(
                "initial replication starts at ",
                absl::FormatTime("%Y-%m-%d %H:%M:%S UTC",
                                 absl::FromUnixSeconds(item.initial_replication_start_unix()),
                                 absl::UTCTimeZone()),
                "; the site service resumes job ", ctx.job().id(), " then"));
          }
          return absl::OkStatus();
        }));
  }
  return ctx.RunTask(
      "initial-replication", "Initial replication of every disk", [&]() -> absl::Status {
        ASR_ASSIGN_OR_RETURN(model::CycleOutcome c, ReplicateLocked(item_id, {}));
        ctx.AddInformation(absl::StrFormat("initial replication sent %d bytes in %.1f s",
                                           c.bytes_sent(), c.seconds()));
        return absl::OkStatus();
      });
}

absl::Status ProtectionService::Impl::CheckOnboard(const EnableProtectionParams& p,
                                                   model::ProtectedItem* item) {
  if (p.replica_dirs_size() != item->disks_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "VM '", item->vm_name(), "' has ", item->disks_size(), " disks but ", p.replica_dirs_size(),
        " replica directories were given; give one per disk, in order"));
  }
  std::vector<std::string> differences;
  for (int k = 0; k < item->disks_size(); ++k) {
    model::ProtectedDisk* d = item->mutable_disks(k);
    const std::string& dir = p.replica_dirs(k);
    ASR_ASSIGN_OR_RETURN(replication::ReplicaInfo info, replication::ReadReplicaInfo(dir));
    if (!info.has_replica) {
      return absl::FailedPreconditionError(
          absl::StrCat(dir, " holds no replica; enable protection instead of onboarding"));
    }
    ASR_ASSIGN_OR_RETURN(auto manifest,
                         replication::LoadManifest(replication::ManifestPath(d->source_path())));
    const std::string name = d->name();
    if (info.source_disk_id != d->source_disk_guid()) {
      differences.push_back(absl::StrCat(name, ": the replica is of disk ", info.source_disk_id,
                                         ", not ", d->source_disk_guid()));
    }
    if (info.virtual_size != d->size_bytes()) {
      differences.push_back(absl::StrCat(name, ": replica size ", info.virtual_size,
                                         " bytes, disk ", d->size_bytes()));
    }
    if (!manifest.has_value() || manifest->replication_id != info.replication_id) {
      differences.push_back(absl::StrCat(
          name, ": the disk's replication state does not name this replica (replication ",
          info.replication_id, "); it cannot be reused"));
    }
    if (!info.writer.empty() && info.writer != item->writer_identity()) {
      differences.push_back(absl::StrCat(name, ": the replica accepts writer ", info.writer,
                                         ", this site sends as ", item->writer_identity()));
    }
    d->set_replica_dir(dir);
    d->set_replica_path(info.replica_path);
    d->set_replication_id(info.replication_id);
    d->set_last_cycle(info.current_cycle);
  }
  ASR_ASSIGN_OR_RETURN(model::ReplicationPolicy policy, PolicyOf(*item));
  ASR_ASSIGN_OR_RETURN(std::vector<replication::RecoveryPoint> points,
                       replication::ListRecoveryPoints(p.replica_dirs(0)));
  const int kept = static_cast<int>(points.size()) - 1;
  if (kept > policy.number_of_recovery_points_to_retain()) {
    differences.push_back(absl::StrCat(
        "the replica keeps ", kept, " additional recovery points, policy '", policy.name(), "' ",
        policy.number_of_recovery_points_to_retain(), " (the extra ones would be pruned)"));
  }
  if (!differences.empty()) {
    return RuleError(absl::StatusCode::kFailedPrecondition, "OnboardSettingsDiffer",
                     absl::StrCat("VM '", item->vm_name(), "''s existing replication differs: ",
                                  absl::StrJoin(differences, "; ")),
                     "make the existing replication match the policy, or enable protection "
                     "with a new initial replication instead");
  }
  return absl::OkStatus();
}

absl::Status ProtectionService::Impl::RunEnable(jobs::JobContext& ctx) {
  EnableProtectionParams p;
  ASR_RETURN_IF_ERROR(model::FromJson(ctx.parameters(), &p));
  const std::string item_id = ProtectedItemId(p.vm_id());
  std::shared_ptr<absl::Mutex> lock = ItemLock(item_id);
  absl::MutexLock l(lock.get());
  // On a restart the item may be in a failed state: it is enabling again.
  if (repo->Get<model::ProtectedItem>(item_id).ok()) {
    ASR_RETURN_IF_ERROR(Update(item_id, [&](model::ProtectedItem& i) {
                          if (i.protection_state() == model::EnablingFailed) {
                            i.set_protection_state(model::EnablingProtection);
                          } else if (i.protection_state() == model::InitialReplicationFailed) {
                            i.set_protection_state(model::InitialReplicationInProgress);
                          }
                          i.mutable_current_scenario()->set_job_id(ctx.job().id());
                          i.mutable_current_scenario()->set_scenario_name(
                              ctx.job().scenario_name());
                        }).status());
  }
  absl::Status s = [&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(
        ctx.RunTask("validate", "Validate the VM, its pairing and policy", [&]() -> absl::Status {
          model::ProtectedItem item;
          ASR_RETURN_IF_ERROR(Validate(ctx, p, &item));
          if (p.onboard()) {
            for (int k = 0; k < p.replica_dirs_size() && k < item.disks_size(); ++k) {
              item.mutable_disks(k)->set_replica_dir(p.replica_dirs(k));
            }
          }
          absl::MutexLock w(&write_mu);
          return repo->Put(item);
        }));
    ASR_RETURN_IF_ERROR(
        ctx.RunTask("place", "Place the replica and resolve mappings", [&]() -> absl::Status {
          ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, repo->Get<model::ProtectedItem>(item_id));
          if (p.onboard()) ASR_RETURN_IF_ERROR(CheckOnboard(p, &item));
          ASR_RETURN_IF_ERROR(Place(p, &item));
          absl::MutexLock w(&write_mu);
          return repo->Put(item);
        }));
    ASR_RETURN_IF_ERROR(
        ctx.RunTask("create-replica-vm", "Create the replica VM", [&]() -> absl::Status {
          ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, repo->Get<model::ProtectedItem>(item_id));
          ASR_RETURN_IF_ERROR(CreateReplicaVm(item));
          return Update(item_id,
                        [](model::ProtectedItem& i) {
                          i.set_protection_state(model::InitialReplicationInProgress);
                        })
              .status();
        }));
    if (p.onboard()) {
      ASR_RETURN_IF_ERROR(ctx.RunTask("first-delta",
                                      "Replicate the changes since the "
                                      "existing replica's point (no initial copy)",
                                      [&]() { return ReplicateLocked(item_id, {}).status(); }));
    } else {
      ASR_RETURN_IF_ERROR(InitialReplication(ctx, item_id));
    }
    return ctx.RunTask("finalize", "Finalize protection", [&]() -> absl::Status {
      ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, repo->Get<model::ProtectedItem>(item_id));
      if (item.initial_replication_method() == "Offline" && item.next_point_sequence() <= 1) {
        // The imported packages are the first point; the first delta
        // cycle makes it a whole VM point.
        ASR_RETURN_IF_ERROR(ReplicateLocked(item_id, {}).status());
      }
      ASR_RETURN_IF_ERROR(Update(item_id, [&](model::ProtectedItem& i) {
                            i.set_protection_state(model::Protected);
                            i.set_protection_enabled_time_unix(absl::ToUnixSeconds(ctx.Now()));
                            i.clear_current_scenario();
                          }).status());
      ASR_ASSIGN_OR_RETURN(model::ProtectedItem done, repo->Get<model::ProtectedItem>(item_id));
      bool open;
      {
        absl::MutexLock m(&mu);
        open = trackers_open;
      }
      if (open) ASR_RETURN_IF_ERROR(OpenItemTrackers(done));
      ctx.SetResult(model::ToJson(Decorate(done)));
      return absl::OkStatus();
    });
  }();
  if (!s.ok() && !jobs::IsSuspension(s)) {
    (void)Update(item_id, [&](model::ProtectedItem& i) {
      if (i.protection_state() == model::EnablingProtection) {
        i.set_protection_state(model::EnablingFailed);
      } else if (i.protection_state() == model::InitialReplicationInProgress ||
                 i.protection_state() == model::InitialReplicationCompletedOnPrimary) {
        i.set_protection_state(model::InitialReplicationFailed);
      }
    });
  }
  return s;
}

// --------------------------------------------------------------- Disable ---

absl::Status ProtectionService::Impl::RunDisable(jobs::JobContext& ctx) {
  DisableProtectionParams p;
  ASR_RETURN_IF_ERROR(model::FromJson(ctx.parameters(), &p));
  std::shared_ptr<absl::Mutex> lock = ItemLock(p.item_id());
  absl::MutexLock l(lock.get());
  ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, repo->Get<model::ProtectedItem>(p.item_id()));
  absl::Status s = [&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(
        ctx.RunTask("validate", "Check that protection can be disabled", [&]() -> absl::Status {
          if (item.protection_state() != model::DisablingProtection) {
            ASR_RETURN_IF_ERROR(CheckAllowed(Decorate(item), kDisableProtection));
          }
          ASR_ASSIGN_OR_RETURN(
              item, Update(item.id(), [&](model::ProtectedItem& i) {
                i.set_protection_state(model::DisablingProtection);
                i.mutable_current_scenario()->set_scenario_name(kDisable);
                i.mutable_current_scenario()->set_job_id(ctx.job().id());
                i.mutable_current_scenario()->set_start_time_unix(absl::ToUnixSeconds(ctx.Now()));
              }));
          return absl::OkStatus();
        }));
    ASR_RETURN_IF_ERROR(ctx.RunTask("stop-replication", "Stop replication", [&]() -> absl::Status {
      ASR_RETURN_IF_ERROR(CloseItemTrackers(item.id()));
      absl::StatusOr<std::shared_ptr<Transport>> t = RequireTransport();
      if (t.ok()) {
        for (const auto& d : item.disks()) ASR_RETURN_IF_ERROR((*t)->UnbindReplica(d));
      }
      return absl::OkStatus();
    }));
    bool delete_replica = false;
    absl::StatusOr<model::ReplicationPolicy> policy = PolicyOf(item);
    if (policy.ok()) delete_replica = policy->replica_deletion() == model::Required;
    // After a committed failover the replica VM is the one that runs (until
    // reverse replication makes it the source): it and its disks are kept.
    const bool replica_runs_the_vm = (item.active_location() == "Recovery") != item.reversed();
    if (replica_runs_the_vm) delete_replica = false;
    ASR_RETURN_IF_ERROR(ctx.RunTask(
        "remove-replica",
        delete_replica ? "Delete the replica VM and its disks"
                       : "Remove the replica VM's replication settings",
        [&]() -> absl::Status {
          if (!delete_replica && replica_runs_the_vm) {
            ctx.AddInformation(absl::StrCat("the failed-over VM '", item.replica_vm_name(), "' on ",
                                            item.replica_host_name(),
                                            " runs the workload now; it and its disks are kept"));
            return absl::OkStatus();
          }
          if (!delete_replica) {
            ctx.AddInformation(absl::StrCat(
                "the replica VM '", item.replica_vm_name(), "' on ", item.replica_host_name(),
                " and its disks are kept (the policy's replica deletion is NotRequired)"));
            return absl::OkStatus();
          }
          absl::Status del = absl::OkStatus();
          absl::StatusOr<fabric::HostCallbacks*> h = RequireHost("delete the replica VM");
          if (!h.ok()) {
            del = h.status();
          } else if (!item.replica_vm_id().empty()) {
            del = fabric::CallWithRetries(
                [&]() { return (*h)->DeleteVm(item.replica_vm_id(), /*delete_disks=*/true); });
            if (absl::IsNotFound(del)) del = absl::OkStatus();
          }
          if (!del.ok() && !p.force()) return del;
          if (!del.ok()) {
            ctx.AddInformation(absl::StrCat("the replica VM could not be deleted (", del.message(),
                                            "); remove it on ", item.replica_host_name()));
          }
          for (const auto& d : item.disks()) {
            absl::Status r = RemoveTree(d.replica_dir());
            if (!r.ok())
              ctx.AddInformation(absl::StrCat("left ", d.replica_dir(), ": ", r.message()));
          }
          return absl::OkStatus();
        }));
    return ctx.RunTask("remove-item", "Remove the protected item", [&]() -> absl::Status {
      ASR_ASSIGN_OR_RETURN(std::vector<model::RecoveryPoint> points,
                           repo->List<model::RecoveryPoint>(PointIdPrefix(item.id())));
      for (const auto& rp : points) {
        if (rp.protected_item_id() == item.id()) {
          ASR_RETURN_IF_ERROR(repo->DeleteObject("recovery-point", rp.id()));
        }
      }
      absl::MutexLock w(&write_mu);
      return repo->DeleteObject("protected-item", item.id());
    });
  }();
  if (!s.ok() && !jobs::IsSuspension(s)) {
    (void)Update(item.id(), [&](model::ProtectedItem& i) {
      if (i.protection_state() == model::DisablingProtection) {
        i.set_protection_state(model::DisablingFailed);
      }
    });
  }
  return s;
}

// ----------------------------------------------------------- Replication ---

absl::Status ProtectionService::Impl::OpenItemTrackers(const model::ProtectedItem& item) {
  fabric::HostCallbacks* h = Host();
  for (const auto& d : item.disks()) {
    if (TrackerOf(item.id(), d.disk_id()) != nullptr) continue;
    ASR_ASSIGN_OR_RETURN(auto manifest,
                         replication::LoadManifest(replication::ManifestPath(d.source_path())));
    const uint32_t bs = manifest.has_value() ? manifest->block_size : 64u << 10;
    ASR_ASSIGN_OR_RETURN(auto tracker,
                         replication::ChangeTracker::Open(d.source_path(), d.size_bytes(), bs));
    auto sink = std::make_unique<TrackerSink>(std::move(tracker), clock);
    if (h != nullptr) {
      absl::Status a = h->AttachChangeTracking(item.vm_id(), d.disk_id(), sink.get());
      if (!a.ok()) {
        (void)sink->tracker()->Close();
        return a;
      }
    }
    absl::MutexLock l(&mu);
    trackers[item.id()][d.disk_id()] = std::move(sink);
  }
  return absl::OkStatus();
}

absl::Status ProtectionService::Impl::CloseItemTrackers(const std::string& item_id) {
  std::map<std::string, std::unique_ptr<TrackerSink>> mine;
  {
    absl::MutexLock l(&mu);
    auto it = trackers.find(item_id);
    if (it == trackers.end()) return absl::OkStatus();
    mine = std::move(it->second);
    trackers.erase(it);
  }
  absl::StatusOr<model::ProtectedItem> item = repo->Get<model::ProtectedItem>(item_id);
  fabric::HostCallbacks* h = Host();
  absl::Status first;
  for (auto& [disk_id, sink] : mine) {
    if (h != nullptr && item.ok()) first.Update(h->DetachChangeTracking(item->vm_id(), disk_id));
    first.Update(sink->tracker()->Close());
  }
  return first;
}

absl::Status ProtectionService::Impl::RecordPoint(model::ProtectedItem& item,
                                                  const model::HostPoint& point,
                                                  const std::vector<uint64_t>& disk_points) {
  model::RecoveryPoint rp;
  const uint64_t seq = std::max<uint64_t>(1, item.next_point_sequence());
  rp.set_id(RecoveryPointIdOf(item.id(), seq));
  rp.set_protected_item_id(item.id());
  rp.set_recovery_point_time_unix(point.time_us() / 1000000);
  rp.set_recovery_point_type(point.type() == model::AppConsistent ? model::AppConsistent
                                                                  : model::CrashConsistent);
  rp.set_sequence(seq);
  rp.set_source_time_us(point.time_us());
  rp.set_host_point_id(point.id());
  for (int k = 0; k < item.disks_size(); ++k) {
    model::DiskPoint* dp = rp.add_disks();
    dp->set_disk_id(item.disks(k).disk_id());
    dp->set_replica_point_id(disk_points[k]);
  }
  ASR_RETURN_IF_ERROR(repo->Put(rp));
  item.set_current_recovery_point_id(rp.id());
  item.set_next_point_sequence(seq + 1);
  item.set_last_recovery_point_time_unix(rp.recovery_point_time_unix());
  if (rp.recovery_point_type() == model::AppConsistent) {
    item.set_last_app_consistent_time_unix(rp.recovery_point_time_unix());
  }
  return absl::OkStatus();
}

absl::Status ProtectionService::Impl::PrunePoints(const model::ProtectedItem& item) {
  // A VM point stays while every disk's replica still holds its disk point.
  std::vector<std::set<uint64_t>> kept;
  for (const auto& d : item.disks()) {
    absl::StatusOr<std::vector<replication::RecoveryPoint>> pts =
        replication::ListRecoveryPoints(d.replica_dir());
    if (!pts.ok()) return absl::OkStatus();  // the replicas are elsewhere: keep the records
    std::set<uint64_t> ids;
    for (const auto& p : *pts) ids.insert(p.id);
    kept.push_back(std::move(ids));
  }
  ASR_ASSIGN_OR_RETURN(std::vector<model::RecoveryPoint> points,
                       repo->List<model::RecoveryPoint>(PointIdPrefix(item.id())));
  for (const auto& rp : points) {
    if (rp.protected_item_id() != item.id()) continue;
    bool whole = rp.disks_size() == static_cast<int>(kept.size());
    for (int k = 0; whole && k < rp.disks_size(); ++k) {
      whole = kept[k].count(rp.disks(k).replica_point_id()) > 0;
    }
    if (!whole) ASR_RETURN_IF_ERROR(repo->DeleteObject("recovery-point", rp.id()));
  }
  return absl::OkStatus();
}

absl::StatusOr<model::CycleOutcome> ProtectionService::Impl::Replicate(
    const std::string& item_id, const ReplicateOptions& options) {
  std::shared_ptr<absl::Mutex> lock = ItemLock(item_id);
  if (!lock->TryLock()) {
    return absl::UnavailableError(
        absl::StrCat("protected item ", item_id, " is busy (a cycle or an operation is running)"));
  }
  absl::StatusOr<model::CycleOutcome> r = ReplicateLocked(item_id, options);
  lock->Unlock();
  return r;
}

absl::StatusOr<model::CycleOutcome> ProtectionService::Impl::ReplicateLocked(
    const std::string& item_id, const ReplicateOptions& options) {
  ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, repo->Get<model::ProtectedItem>(item_id));
  ASR_RETURN_IF_ERROR(CheckAllowed(item, kReplicate));
  ASR_ASSIGN_OR_RETURN(model::ReplicationPolicy policy, PolicyOf(item));
  ASR_ASSIGN_OR_RETURN(std::shared_ptr<Transport> transport, RequireTransport());
  ASR_ASSIGN_OR_RETURN(fabric::HostCallbacks * h, RequireHost("take a point of the VM"));
  const absl::Time started = clock->Now();
  model::CycleOutcome outcome;
  outcome.set_time_unix(absl::ToUnixSeconds(started));
  outcome.set_time_us(absl::ToUnixMicros(started));
  const ReplicaRetention retention = RetentionOf(policy);
  const model::RecoveryPointType type =
      options.app_consistent ? model::AppConsistent : model::CrashConsistent;

  std::vector<uint64_t> disk_points(item.disks_size(), 0);
  std::vector<uint64_t> disk_cycles(item.disks_size(), 0);
  std::vector<std::string> replication_ids(item.disks_size());
  model::HostPoint point;
  absl::Status s;
  if (options.host_point != nullptr) {
    point = *options.host_point;  // a group's point: the caller releases it
  } else {
    s = fabric::CallWithRetries([&]() -> absl::Status {
      ASR_ASSIGN_OR_RETURN(point, h->CreatePoint(item.vm_id(), type));
      return absl::OkStatus();
    });
    // A host that cannot quiesce the guest (QEMU: no guest agent answers)
    // still protects it: this cycle's point is crash-consistent, and the
    // outcome says why.
    if (absl::IsFailedPrecondition(s) && type == model::AppConsistent) {
      const std::string why(s.message());
      s = fabric::CallWithRetries([&]() -> absl::Status {
        ASR_ASSIGN_OR_RETURN(point, h->CreatePoint(item.vm_id(), model::CrashConsistent));
        return absl::OkStatus();
      });
      if (s.ok()) outcome.set_app_consistent_fallback(why);
    }
  }
  if (s.ok()) {
    for (int k = 0; k < item.disks_size() && s.ok(); ++k) {
      const model::ProtectedDisk& d = item.disks(k);
      std::string read_path = d.source_path();
      // A host that cannot say what changed since its previous point (one
      // that reports no writes to the tracker) asks for a scan.
      bool host_needs_scan = false;
      const model::HostPointDisk* host_disk = nullptr;
      for (const auto& pd : point.disks()) {
        if (pd.disk_id() == d.disk_id() && !pd.read_path().empty()) read_path = pd.read_path();
        if (pd.disk_id() == d.disk_id()) {
          host_needs_scan = pd.needs_scan();
          host_disk = &pd;
        }
      }
      // A host that knows the changes since one of its points (QEMU's dirty
      // bitmaps) spares the scan, but only when the replica holds exactly
      // that point's data: its last successful cycle read that point.
      std::optional<replication::SendOptions::HostChanges> host_changes;
      if (host_disk != nullptr && !host_disk->changes_since_point_id().empty()) {
        if (host_disk->changes_since_point_id() == d.host_point_id() && d.host_point_cycle() != 0) {
          host_changes.emplace();
          host_changes->base_cycle = d.host_point_cycle();
          for (const model::DiskExtent& e : host_disk->changed_extents()) {
            host_changes->extents.emplace_back(e.offset(), e.length());
          }
          host_needs_scan = false;
        } else {
          host_needs_scan = true;  // the replica is not at that point: compare every block
        }
      }
      s = [&]() -> absl::Status {
        ASR_RETURN_IF_ERROR(transport->BindReplica(item, d, retention));
        std::unique_ptr<net::ByteStream> stream;
        replication::SendOptions so;
        so.compression_level = policy.compression_enabled() ? 1 : 0;
        so.app_consistent = point.type() == model::AppConsistent;
        so.source_time = absl::FromUnixMicros(point.time_us());
        so.source_name = item.primary_host_name();
        so.tracker = TrackerOf(item.id(), d.disk_id());
        if (read_path != d.source_path()) {  // the host's copy of the disk at the point
          so.state_path = d.source_path();
          so.source_disk_id = d.source_disk_guid();
        }
        // A disk that has no point recorded but a replication state (a
        // cycle whose outcome was lost to a crash) continues from the
        // replica's point; only a disk the replica has never seen starts
        // with a full copy.
        const bool has_state = PathExists(replication::ManifestPath(d.source_path())) ||
                               PathExists(replication::PendingManifestPath(d.source_path()));
        replication::CycleMode mode = d.last_cycle() == 0 && !has_state
                                          ? replication::CycleMode::kInitial
                                          : replication::CycleMode::kTracked;
        if ((options.scan || host_needs_scan) && mode == replication::CycleMode::kTracked) {
          mode = replication::CycleMode::kScan;
        }
        if (mode == replication::CycleMode::kTracked) so.host_changes = host_changes;
        absl::StatusOr<replication::CycleStats> st;
        // The receiver may still be applying the previous point (it ACKs at
        // its commit point): Unavailable for a moment is retried at once.
        // A connection lost or stalled mid-cycle is retried the same way,
        // on the same host point: the new session resumes where the
        // replica's kept data ends (protocol 5, asr/replication/resume.h).
        absl::Status attempt = fabric::CallWithRetries(
            [&]() -> absl::Status {
              if (stream == nullptr) {
                ASR_ASSIGN_OR_RETURN(stream, transport->Connect(item, policy.replication_port()));
              }
              st = replication::ReplicateDisk(read_path, mode, *stream, so);
              // End the session cleanly (TLS close_notify): without it the
              // endpoint logs every finished cycle as a broken session.
              if (st.ok()) (void)stream->Close();
              stream.reset();
              if (!st.ok() && mode == replication::CycleMode::kTracked && d.last_cycle() == 0 &&
                  absl::IsFailedPrecondition(st.status())) {
                mode = replication::CycleMode::kInitial;  // the replica has nothing yet
                return absl::UnavailableError(std::string(st.status().message()));
              }
              return st.status();
            },
            fabric::RetryPolicy{4, absl::Milliseconds(100), 2.0, nullptr});
        if (!attempt.ok() && st.ok()) st = attempt;
        if (!st.ok()) {
          return absl::Status(st.status().code(),
                              absl::StrCat("disk ", d.name(), " to ",
                                           transport->Describe(item, policy.replication_port()),
                                           ": ", st.status().message()));
        }
        disk_points[k] = st->point_id;
        disk_cycles[k] = st->cycle;
        replication_ids[k] = st->replication_id;
        outcome.set_bytes_sent(outcome.bytes_sent() + st->wire_bytes);
        outcome.set_bytes_changed(outcome.bytes_changed() + st->changed_bytes);
        outcome.set_bytes_read(outcome.bytes_read() + st->bytes_read);
        if (st->mode_used == replication::CycleMode::kScan) {
          outcome.add_scans(absl::StrCat(
              d.name(), ": ",
              !st->fallback_reason.empty()                      ? st->fallback_reason
              : host_disk != nullptr && host_disk->needs_scan() ? host_disk->needs_scan_reason()
              : options.scan ? std::string("a scan was asked for")
                             : std::string("the replica is not at the host's base point")));
        }
        return absl::OkStatus();
      }();
    }
    if (options.host_point == nullptr) {
      absl::Status rel = h->ReleasePoint(point);
      if (s.ok()) s = rel;
    }
  }
  outcome.set_seconds(absl::ToDoubleSeconds(clock->Now() - started));
  outcome.set_ok(s.ok());
  if (!s.ok()) outcome.set_error(std::string(s.message()));
  ASR_ASSIGN_OR_RETURN(model::ProtectedItem updated, Update(item_id, [&](model::ProtectedItem& i) {
                         for (int k = 0;
                              k < i.disks_size() && k < static_cast<int>(disk_points.size()); ++k) {
                           if (disk_points[k] != 0) {
                             i.mutable_disks(k)->set_last_cycle(disk_points[k]);
                             i.mutable_disks(k)->set_replication_id(replication_ids[k]);
                             i.mutable_disks(k)->set_host_point_id(point.id());
                             i.mutable_disks(k)->set_host_point_cycle(disk_cycles[k]);
                           }
                         }
                         i.set_last_replicated_time_unix(absl::ToUnixSeconds(clock->Now()));
                         if (s.ok()) {
                           absl::Status r = RecordPoint(i, point, disk_points);
                           if (!r.ok()) {
                             s = r;
                             outcome.set_ok(false);
                             outcome.set_error(std::string(r.message()));
                           } else {
                             outcome.set_point_sequence(i.next_point_sequence() - 1);
                             outcome.set_point_time_us(point.time_us());
                           }
                         }
                         *i.add_recent_cycles() = outcome;
                         while (i.recent_cycles_size() > kRecentCycles)
                           i.mutable_recent_cycles()->DeleteSubrange(0, 1);
                       }));
  if (s.ok()) ASR_RETURN_IF_ERROR(PrunePoints(updated));
  if (!s.ok()) return s;
  return outcome;
}

absl::StatusOr<model::ItemVerification> ProtectionService::Impl::WithResyncContext(
    absl::string_view ref, bool repair,
    const std::function<absl::StatusOr<model::ItemVerification>(ResyncContext&)>& fn) {
  ASR_ASSIGN_OR_RETURN(model::ProtectedItem found, FindItem(ref));
  const std::string item_id = found.id();
  std::shared_ptr<absl::Mutex> lock = ItemLock(item_id);
  if (!lock->TryLock()) {
    return absl::UnavailableError(
        absl::StrCat("protected item ", item_id, " is busy (a cycle or an operation is running)"));
  }
  absl::StatusOr<model::ItemVerification> r = [&]() -> absl::StatusOr<model::ItemVerification> {
    ResyncContext c;
    ASR_ASSIGN_OR_RETURN(c.item, repo->Get<model::ProtectedItem>(item_id));
    ASR_RETURN_IF_ERROR(CheckAllowed(Decorate(c.item), repair ? kRepairReplication : kReplicate));
    ASR_ASSIGN_OR_RETURN(c.policy, PolicyOf(c.item));
    ASR_ASSIGN_OR_RETURN(std::shared_ptr<Transport> transport, RequireTransport());
    c.transport = transport.get();
    c.clock = clock;
    const ReplicaRetention retention = RetentionOf(c.policy);
    c.bind = [&](const model::ProtectedDisk& d) {
      return transport->BindReplica(c.item, d, retention);
    };
    c.update = [&](const std::function<void(model::ProtectedItem&)>& change) {
      return Update(item_id, change);
    };
    c.scan_cycle = [&]() {
      ReplicateOptions o;
      o.scan = true;
      return ReplicateLocked(item_id, o);
    };
    return fn(c);
  }();
  lock->Unlock();
  return r;
}

// ---------------------------------------------------------------- Public ---

ProtectionService::ProtectionService(repository::ObjectRepository* repo, jobs::JobManager* jobs,
                                     mapping::MappingService* mappings, fabric::HostCallbacks* host,
                                     const Clock* clock)
    : impl_(std::make_unique<Impl>()) {
  impl_->repo = repo;
  impl_->jobs = jobs;
  impl_->mappings = mappings;
  impl_->clock = clock;
  impl_->host = host;
}

ProtectionService::~ProtectionService() { (void)CloseTrackers(); }

absl::Status ProtectionService::RegisterScenarios() {
  ASR_RETURN_IF_ERROR(impl_->jobs->RegisterScenario(
      kEnable, [this](jobs::JobContext& c) { return impl_->RunEnable(c); }));
  ASR_RETURN_IF_ERROR(impl_->jobs->RegisterScenario(
      kOnboard, [this](jobs::JobContext& c) { return impl_->RunEnable(c); }));
  return impl_->jobs->RegisterScenario(
      kDisable, [this](jobs::JobContext& c) { return impl_->RunDisable(c); });
}

void ProtectionService::SetHost(fabric::HostCallbacks* host) {
  absl::MutexLock l(&impl_->mu);
  impl_->host = host;
}

void ProtectionService::SetTransport(std::shared_ptr<Transport> transport) {
  absl::MutexLock l(&impl_->mu);
  impl_->transport = std::move(transport);
}

fabric::HostCallbacks* ProtectionService::host() const { return impl_->Host(); }

std::shared_ptr<Transport> ProtectionService::transport() const {
  absl::MutexLock l(&impl_->mu);
  return impl_->transport;
}

namespace {

absl::StatusOr<std::string> ResolveVm(const mapping::FabricIndex& index, absl::string_view ref) {
  if (ref.empty()) return absl::InvalidArgumentError("a VM (id or name) is required");
  return mapping::FindIdByRef(index, "vm", ref);
}

}  // namespace

absl::StatusOr<model::Job> ProtectionService::EnableProtection(const EnableRequest& request) {
  ASR_ASSIGN_OR_RETURN(auto index, impl_->Index());
  ASR_ASSIGN_OR_RETURN(std::string vm_id, ResolveVm(*index, request.vm_ref));
  EnableProtectionParams p;
  p.set_vm_id(vm_id);
  if (!request.pairing_ref.empty()) {
    const model::CloudPairing* pairing = index->FindPairing(request.pairing_ref);
    if (pairing == nullptr) {
      absl::StatusOr<std::string> cloud =
          mapping::FindIdByRef(*index, "cloud", request.pairing_ref);
      if (cloud.ok()) pairing = index->PairingForPrimaryCloud(*cloud);
    }
    if (pairing == nullptr) {
      return absl::NotFoundError(absl::StrCat("no pairing '", request.pairing_ref,
                                              "' (a pairing id or its primary cloud)"));
    }
    p.set_pairing_id(pairing->id());
  }
  if (!request.recovery_host_ref.empty()) {
    ASR_ASSIGN_OR_RETURN(std::string h,
                         mapping::FindIdByRef(*index, "host", request.recovery_host_ref));
    p.set_recovery_host_id(h);
  }
  if (const model::ProtectedItem* existing = index->ProtectedItemForVm(vm_id)) {
    return RuleError(
        absl::StatusCode::kAlreadyExists, "VmAlreadyProtected",
        absl::StrCat("VM '", request.vm_ref, "' is already protected (item ", existing->id(),
                     ", state ", model::ProtectionState_Name(existing->protection_state()), ")"),
        existing->protection_state() == model::EnablingFailed ||
                existing->protection_state() == model::InitialReplicationFailed
            ? absl::StrCat("restart its enable job ", existing->current_scenario().job_id(),
                           ", or disable protection first")
            : "see `asrctl item show`");
  }
  const model::VirtualMachine* vm = index->FindVm(vm_id);
  return impl_->jobs->Run(jobs::JobSpec::For(kEnable,
                                             absl::StrCat("Enable protection of ", vm->name()),
                                             "vm", vm_id, vm->name(), model::ToJson(p)));
}

absl::StatusOr<model::Job> ProtectionService::OnboardProtection(const OnboardRequest& request) {
  ASR_ASSIGN_OR_RETURN(auto index, impl_->Index());
  ASR_ASSIGN_OR_RETURN(std::string vm_id, ResolveVm(*index, request.vm_ref));
  if (request.replica_dirs.empty()) {
    return absl::InvalidArgumentError(
        "onboarding needs the existing replica directory of each disk (--replica-dir, in the "
        "VM's disk order)");
  }
  if (index->ProtectedItemForVm(vm_id) != nullptr) {
    return absl::AlreadyExistsError(absl::StrCat("VM '", request.vm_ref, "' is already protected"));
  }
  EnableProtectionParams p;
  p.set_vm_id(vm_id);
  p.set_onboard(true);
  for (const auto& d : request.replica_dirs) p.add_replica_dirs(d);
  if (!request.pairing_ref.empty()) p.set_pairing_id(request.pairing_ref);
  if (!request.recovery_host_ref.empty()) {
    ASR_ASSIGN_OR_RETURN(std::string h,
                         mapping::FindIdByRef(*index, "host", request.recovery_host_ref));
    p.set_recovery_host_id(h);
  }
  const model::VirtualMachine* vm = index->FindVm(vm_id);
  return impl_->jobs->Run(jobs::JobSpec::For(kOnboard, absl::StrCat("Onboard ", vm->name()), "vm",
                                             vm_id, vm->name(), model::ToJson(p)));
}

absl::StatusOr<model::Job> ProtectionService::DisableProtection(const DisableRequest& request) {
  ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, impl_->FindItem(request.item_ref));
  if (item.protection_state() != model::DisablingProtection) {
    ASR_RETURN_IF_ERROR(CheckAllowed(impl_->Decorate(item), kDisableProtection));
  }
  DisableProtectionParams p;
  p.set_item_id(item.id());
  p.set_force(request.force);
  return impl_->jobs->Run(
      jobs::JobSpec::For(kDisable, absl::StrCat("Disable protection of ", VmLabel(item)),
                         "protected-item", item.id(), VmLabel(item), model::ToJson(p)));
}

absl::StatusOr<model::ProtectedItem> ProtectionService::GetItem(absl::string_view ref) const {
  ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, impl_->FindItem(ref));
  return impl_->Decorate(std::move(item));
}

absl::StatusOr<std::vector<model::ProtectedItem>> ProtectionService::ListItems() const {
  ASR_ASSIGN_OR_RETURN(std::vector<model::ProtectedItem> items,
                       impl_->repo->List<model::ProtectedItem>());
  for (auto& i : items) i = impl_->Decorate(std::move(i));
  return items;
}

absl::StatusOr<std::vector<model::RecoveryPoint>> ProtectionService::ListRecoveryPoints(
    absl::string_view ref) const {
  ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, impl_->FindItem(ref));
  ASR_ASSIGN_OR_RETURN(std::vector<model::RecoveryPoint> all,
                       impl_->repo->List<model::RecoveryPoint>(PointIdPrefix(item.id())));
  std::vector<model::RecoveryPoint> mine;
  for (auto& p : all) {
    if (p.protected_item_id() == item.id()) mine.push_back(std::move(p));
  }
  std::sort(mine.begin(), mine.end(),
            [](const auto& a, const auto& b) { return a.sequence() < b.sequence(); });
  return mine;
}

absl::StatusOr<model::CycleOutcome> ProtectionService::ReplicateNow(
    absl::string_view ref, const ReplicateOptions& options) {
  ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, impl_->FindItem(ref));
  return impl_->Replicate(item.id(), options);
}

absl::StatusOr<model::ItemVerification> ProtectionService::VerifyItem(absl::string_view ref) {
  return impl_->WithResyncContext(ref, /*repair=*/false,
                                  [](ResyncContext& c) { return VerifyItemReplicas(c); });
}

absl::StatusOr<model::ItemVerification> ProtectionService::ResyncItem(absl::string_view ref) {
  return impl_->WithResyncContext(ref, /*repair=*/true,
                                  [](ResyncContext& c) { return ResyncItemReplicas(c); });
}

absl::Status ProtectionService::ApplyPolicy(absl::string_view ref) {
  ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, impl_->FindItem(ref));
  ASR_ASSIGN_OR_RETURN(model::ReplicationPolicy policy, impl_->PolicyOf(item));
  ASR_ASSIGN_OR_RETURN(std::shared_ptr<Transport> t, impl_->RequireTransport());
  for (const auto& d : item.disks()) {
    ASR_RETURN_IF_ERROR(t->BindReplica(item, d, impl_->RetentionOf(policy)));
  }
  return absl::OkStatus();
}

absl::Status ProtectionService::ApplyNicChange(const model::NicChange& change) {
  absl::StatusOr<model::ProtectedItem> item =
      impl_->repo->Get<model::ProtectedItem>(change.protected_item_id());
  if (absl::IsNotFound(item.status())) return absl::OkStatus();
  ASR_RETURN_IF_ERROR(item.status());
  const model::NicResolution& after = change.after();
  const bool has_replica_vm = item->protection_state() != model::EnablingProtection &&
                              item->protection_state() != model::EnablingFailed &&
                              !item->replica_vm_id().empty();
  if (has_replica_vm) {
    ASR_ASSIGN_OR_RETURN(fabric::HostCallbacks * h,
                         impl_->RequireHost("reconnect the replica VM's NIC"));
    model::NetworkAdapter nic;
    nic.set_id(after.nic_id());
    nic.set_vm_network_id(after.target_vm_network_id());
    nic.set_subnet_name(after.target_subnet_name());
    ASR_RETURN_IF_ERROR(
        fabric::CallWithRetries([&]() { return h->ConnectNic(item->replica_vm_id(), nic); }));
  }
  return impl_
      ->Update(item->id(),
               [&](model::ProtectedItem& i) {
                 for (auto& n : *i.mutable_replica_nics()) {
                   if (n.nic_id() == after.nic_id()) {
                     n.set_vm_network_id(after.target_vm_network_id());
                     n.set_subnet_name(after.target_subnet_name());
                   }
                 }
               })
      .status();
}

absl::Time ProtectionService::LastTrackedWrite(absl::string_view item_id) const {
  absl::MutexLock l(&impl_->mu);
  auto it = impl_->trackers.find(std::string(item_id));
  int64_t last = 0;
  if (it != impl_->trackers.end()) {
    for (const auto& [disk_id, sink] : it->second) last = std::max(last, sink->last_write_us());
  }
  return last == 0 ? absl::InfinitePast() : absl::FromUnixMicros(last);
}

absl::Status ProtectionService::ReopenTrackers(absl::string_view item_id) {
  ASR_RETURN_IF_ERROR(impl_->CloseItemTrackers(std::string(item_id)));
  {
    absl::MutexLock l(&impl_->mu);
    if (!impl_->trackers_open) return absl::OkStatus();
  }
  ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, impl_->repo->Get<model::ProtectedItem>(item_id));
  if (!Replicates(item.protection_state())) return absl::OkStatus();
  return impl_->OpenItemTrackers(item);
}

absl::StatusOr<model::ProtectedItem> ProtectionService::UpdateItem(
    absl::string_view item_id, const std::function<void(model::ProtectedItem&)>& change) {
  return impl_->Update(std::string(item_id), change);
}

absl::Status ProtectionService::OpenTrackers() {
  {
    absl::MutexLock l(&impl_->mu);
    impl_->trackers_open = true;
  }
  ASR_ASSIGN_OR_RETURN(std::vector<model::ProtectedItem> items,
                       impl_->repo->List<model::ProtectedItem>());
  absl::Status first;
  for (const auto& i : items) {
    if (Replicates(i.protection_state())) first.Update(impl_->OpenItemTrackers(i));
  }
  return first;
}

absl::Status ProtectionService::CloseTrackers() {
  std::vector<std::string> ids;
  {
    absl::MutexLock l(&impl_->mu);
    impl_->trackers_open = false;
    for (const auto& [id, _] : impl_->trackers) ids.push_back(id);
  }
  absl::Status first;
  for (const auto& id : ids) first.Update(impl_->CloseItemTrackers(id));
  return first;
}

}  // namespace asr::protection
