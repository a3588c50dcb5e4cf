#include "asr/mapping/mapping_service.h"

#include <functional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "asr/common/status_macros.h"
#include "asr/mapping/mapping_changes.h"
#include "asr/mapping/network_resolver.h"
#include "asr/mapping/storage_resolver.h"
#include "asr/model/fabric.pb.h"
#include "asr/model/json.h"

namespace asr::mapping {
namespace {

constexpr char kMapNetwork[] = "MapNetwork";
constexpr char kUnmapNetwork[] = "UnmapNetwork";
constexpr char kMapStorage[] = "MapStorage";
constexpr char kUnmapStorage[] = "UnmapStorage";
constexpr int kMaxNotes = 20;

template <typename T>
absl::Status LoadKind(const repository::ObjectRepository& repo, std::vector<T>* out) {
  ASR_ASSIGN_OR_RETURN(*out, repo.List<T>());
  return absl::OkStatus();
}

// Runs one step: as a job task when there is a job, else directly.
absl::Status Step(jobs::JobContext* ctx, absl::string_view name, absl::string_view friendly,
                  const std::function<absl::Status()>& fn) {
  if (ctx == nullptr) return fn();
  return ctx->RunTask(name, friendly, fn);
}

template <typename T>
absl::StatusOr<std::string> FindIn(const std::vector<T>& items, absl::string_view kind,
                                   absl::string_view ref) {
  if (ref.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("no ", kind, " given; name one by id or name"));
  }
  std::vector<std::string> by_name;
  for (const T& item : items) {
    if (item.id() == ref) return item.id();
    if (item.name() == ref) by_name.push_back(item.id());
  }
  if (by_name.size() == 1) return by_name[0];
  if (by_name.empty()) {
    return absl::NotFoundError(absl::StrCat("no ", kind, " with id or name '", ref,
                                            "'; check the name or sync the server's inventory"));
  }
  return absl::InvalidArgumentError(absl::StrCat(by_name.size(), " ", kind, "s are named '", ref,
                                                 "' (ids ", absl::StrJoin(by_name, ", "),
                                                 "); name one by id"));
}

// `ref` resolved to an id when it names an object; otherwise left as given
// so that the planner reports it as missing.
template <typename T>
absl::StatusOr<std::string> IdOrAsGiven(const std::vector<T>& items, absl::string_view kind,
                                        absl::string_view ref) {
  auto id = FindIn(items, kind, ref);
  if (id.ok() || id.status().code() == absl::StatusCode::kNotFound) {
    return id.ok() ? *id : std::string(ref);
  }
  return id.status();
}

// The result a finished mapping job left (its result_json).
template <typename T>
absl::StatusOr<T> ResultOfJob(const model::Job& job) {
  T message;
  ASR_RETURN_IF_ERROR(model::FromJson(job.result_json(), &message));
  return message;
}

std::string NicSummary(const model::NicResolution& r) {
  if (r.target_vm_network_id().empty()) return "no network";
  std::string net =
      r.target_vm_network_name().empty() ? r.target_vm_network_id() : r.target_vm_network_name();
  return r.target_subnet_name().empty() ? net : absl::StrCat(net, "/", r.target_subnet_name());
}

}  // namespace

absl::StatusOr<FabricSnapshot> LoadSnapshot(const repository::ObjectRepository& repo) {
  FabricSnapshot s;
  ASR_RETURN_IF_ERROR(LoadKind(repo, &s.clouds));
  ASR_RETURN_IF_ERROR(LoadKind(repo, &s.host_groups));
  ASR_RETURN_IF_ERROR(LoadKind(repo, &s.hosts));
  ASR_RETURN_IF_ERROR(LoadKind(repo, &s.vms));
  ASR_RETURN_IF_ERROR(LoadKind(repo, &s.vm_networks));
  ASR_RETURN_IF_ERROR(LoadKind(repo, &s.logical_networks));
  ASR_RETURN_IF_ERROR(LoadKind(repo, &s.storage_classifications));
  ASR_RETURN_IF_ERROR(LoadKind(repo, &s.pairings));
  ASR_RETURN_IF_ERROR(LoadKind(repo, &s.network_mappings));
  ASR_RETURN_IF_ERROR(LoadKind(repo, &s.storage_mappings));
  ASR_RETURN_IF_ERROR(LoadKind(repo, &s.protected_items));
  return s;
}

absl::StatusOr<std::string> FindIdByRef(const FabricIndex& index, absl::string_view kind,
                                        absl::string_view ref) {
  const FabricSnapshot& s = index.snapshot();
  if (kind == "vm") return FindIn(s.vms, kind, ref);
  if (kind == "vm-network") return FindIn(s.vm_networks, kind, ref);
  if (kind == "host") return FindIn(s.hosts, kind, ref);
  if (kind == "cloud") return FindIn(s.clouds, kind, ref);
  if (kind == "storage-classification") return FindIn(s.storage_classifications, kind, ref);
  if (kind == "logical-network") return FindIn(s.logical_networks, kind, ref);
  return absl::InvalidArgumentError(absl::StrCat("FindIdByRef: unsupported kind '", kind, "'"));
}

MappingService::MappingService(repository::ObjectRepository* repo, jobs::JobManager* jobs)
    : repo_(repo), jobs_(jobs) {}

absl::Status MappingService::RegisterScenarios() {
  if (jobs_ == nullptr) return absl::OkStatus();
  auto reg = [&](const char* name, jobs::JobRunner runner) -> absl::Status {
    if (jobs_->HasScenario(name)) return absl::OkStatus();
    absl::Status s = jobs_->RegisterScenario(name, std::move(runner));
    return s.code() == absl::StatusCode::kAlreadyExists ? absl::OkStatus() : s;
  };
  ASR_RETURN_IF_ERROR(reg(kMapNetwork, [this](jobs::JobContext& ctx) -> absl::Status {
    model::NetworkMappingRequest r;
    ASR_RETURN_IF_ERROR(model::FromJson(ctx.parameters(), &r));
    return RunMapNetwork(&ctx, r).status();
  }));
  ASR_RETURN_IF_ERROR(reg(kUnmapNetwork, [this](jobs::JobContext& ctx) -> absl::Status {
    return RunUnmapNetwork(&ctx, ctx.job().target_object_id()).status();
  }));
  ASR_RETURN_IF_ERROR(reg(kMapStorage, [this](jobs::JobContext& ctx) -> absl::Status {
    model::StorageMappingRequest r;
    ASR_RETURN_IF_ERROR(model::FromJson(ctx.parameters(), &r));
    return RunMapStorage(&ctx, r).status();
  }));
  return reg(kUnmapStorage, [this](jobs::JobContext& ctx) -> absl::Status {
    return RunUnmapStorage(&ctx, ctx.job().target_object_id()).status();
  });
}

absl::StatusOr<std::unique_ptr<FabricIndex>> MappingService::LoadIndex() const {
  ASR_ASSIGN_OR_RETURN(FabricSnapshot s, LoadSnapshot(*repo_));
  return FabricIndex::Build(std::move(s));
}

// ---- Network mappings -------------------------------------------------------

absl::StatusOr<model::MappingChangeReport> MappingService::RunMapNetwork(
    jobs::JobContext* ctx, const model::NetworkMappingRequest& r) {
  absl::StatusOr<PlannedNetworkChange> plan = absl::UnknownError("not planned");
  auto make_plan = [&](bool replace) -> absl::Status {
    ASR_ASSIGN_OR_RETURN(std::unique_ptr<FabricIndex> index, LoadIndex());
    model::NetworkMapping m = r.mapping();
    const auto& nets = index->snapshot().vm_networks;
    ASR_ASSIGN_OR_RETURN(*m.mutable_source_vm_network_id(),
                         IdOrAsGiven(nets, "vm-network", m.source_vm_network_id()));
    ASR_ASSIGN_OR_RETURN(*m.mutable_target_vm_network_id(),
                         IdOrAsGiven(nets, "vm-network", m.target_vm_network_id()));
    plan = PlanNetworkMapping(*index, m, replace);
    return plan.status();
  };
  ASR_RETURN_IF_ERROR(Step(ctx, "validate", "Validate the network mapping",
                           [&] { return make_plan(r.replace()); }));
  if (!plan.ok()) {
    // Validation succeeded in an earlier run of this job (restart): plan
    // again, against the state that run may already have saved.
    ASR_RETURN_IF_ERROR(make_plan(true));
  }
  model::MappingChangeReport& report = plan->report;
  if (ctx != nullptr) report.set_job_id(ctx->job().id());
  if (report.operation() == "unchanged") {
    if (ctx != nullptr) {
      ctx->MarkSkipped("the source network is already mapped to that target");
      ctx->SetResult(model::ToJson(report));
    }
    return report;
  }
  ASR_RETURN_IF_ERROR(Step(ctx, "save", "Save the network mapping", [&]() -> absl::Status {
    store::WriteBatch batch;
    if (!plan->delete_mapping_id.empty() && plan->delete_mapping_id != plan->mapping.id()) {
      batch.Delete(repository::ObjectRepository::Key("network-mapping", plan->delete_mapping_id));
    }
    batch.Put(repository::ObjectRepository::Key("network-mapping", plan->mapping.id()),
              plan->mapping.SerializeAsString());
    return repo_->store().Commit(batch);
  }));
  ASR_RETURN_IF_ERROR(Step(
      ctx, "propagate", "Re-resolve the replicas on the source network", [&]() -> absl::Status {
        if (ctx == nullptr) return absl::OkStatus();
        int n = 0;
        for (const auto& c : report.changes()) {
          if (++n > kMaxNotes) {
            ctx->AddInformation(absl::StrCat("and ", report.changes_size() - kMaxNotes,
                                             " more replica NICs (see the job result)"));
            break;
          }
          ctx->AddInformation(absl::StrCat("replica NIC '", c.after().nic_id(), "' of VM '",
                                           c.vm_name(), "': ", NicSummary(c.before()), " -> ",
                                           NicSummary(c.after())));
        }
        for (const auto& w : report.warnings()) ctx->AddInformation(w);
        return ApplyNicChanges(report);
      }));
  if (ctx != nullptr) ctx->SetResult(model::ToJson(report));
  return report;
}

absl::Status MappingService::ApplyNicChanges(const model::MappingChangeReport& report) {
  if (!nic_applier_) return absl::OkStatus();
  for (const auto& c : report.changes()) ASR_RETURN_IF_ERROR(nic_applier_(c));
  return absl::OkStatus();
}

absl::StatusOr<model::MappingChangeReport> MappingService::RunUnmapNetwork(jobs::JobContext* ctx,
                                                                           const std::string& ref) {
  absl::StatusOr<PlannedNetworkChange> plan = absl::UnknownError("not planned");
  ASR_RETURN_IF_ERROR(Step(ctx, "validate", "Find the network mapping", [&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(std::unique_ptr<FabricIndex> index, LoadIndex());
    std::string id = ref;
    if (index->MappingForSourceNetwork(id) == nullptr) {
      bool is_mapping = false;
      for (const auto& m : index->snapshot().network_mappings) is_mapping |= m.id() == ref;
      if (!is_mapping) {
        auto net = FindIn(index->snapshot().vm_networks, "vm-network", ref);
        if (net.ok()) id = *net;
      }
    }
    plan = PlanNetworkUnmapping(*index, id);
    return plan.status();
  }));
  if (!plan.ok()) return plan.status();
  model::MappingChangeReport& report = plan->report;
  if (ctx != nullptr) report.set_job_id(ctx->job().id());
  ASR_RETURN_IF_ERROR(Step(ctx, "save", "Remove the network mapping", [&]() -> absl::Status {
    store::WriteBatch batch;
    batch.Delete(repository::ObjectRepository::Key("network-mapping", plan->delete_mapping_id));
    return repo_->store().Commit(batch);
  }));
  ASR_RETURN_IF_ERROR(Step(
      ctx, "propagate", "Re-resolve the replicas on the source network", [&]() -> absl::Status {
        if (ctx == nullptr) return absl::OkStatus();
        int n = 0;
        for (const auto& c : report.changes()) {
          if (++n > kMaxNotes) break;
          ctx->AddInformation(absl::StrCat("replica NIC '", c.after().nic_id(), "' of VM '",
                                           c.vm_name(), "': ", NicSummary(c.before()), " -> ",
                                           NicSummary(c.after())));
        }
        return ApplyNicChanges(report);
      }));
  if (ctx != nullptr) ctx->SetResult(model::ToJson(report));
  return report;
}

absl::StatusOr<model::MappingChangeReport> MappingService::MapNetwork(
    const model::NetworkMapping& request, bool replace) {
  absl::MutexLock lock(&mu_);
  model::NetworkMappingRequest r;
  *r.mutable_mapping() = request;
  r.set_replace(replace);
  if (jobs_ == nullptr) return RunMapNetwork(nullptr, r);
  jobs::JobSpec spec = jobs::JobSpec::For(
      kMapNetwork,
      absl::StrCat(replace ? "Change" : "Create", " network mapping ",
                   request.source_vm_network_id(), " -> ", request.target_vm_network_id()),
      "vm-network", request.source_vm_network_id(), request.source_vm_network_id(),
      model::ToJson(r));
  ASR_ASSIGN_OR_RETURN(model::Job job, jobs_->Run(spec));
  return ResultOfJob<model::MappingChangeReport>(job);
}

absl::StatusOr<model::MappingChangeReport> MappingService::UnmapNetwork(absl::string_view ref) {
  absl::MutexLock lock(&mu_);
  if (jobs_ == nullptr) return RunUnmapNetwork(nullptr, std::string(ref));
  jobs::JobSpec spec =
      jobs::JobSpec::For(kUnmapNetwork, absl::StrCat("Remove network mapping ", ref),
                         "network-mapping", std::string(ref), std::string(ref), "{}");
  ASR_ASSIGN_OR_RETURN(model::Job job, jobs_->Run(spec));
  return ResultOfJob<model::MappingChangeReport>(job);
}

absl::StatusOr<model::NetworkMappingTable> MappingService::ListNetworkMappings() const {
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<FabricIndex> index, LoadIndex());
  return BuildNetworkMappingTable(*index);
}

absl::StatusOr<model::TargetNetworkTable> MappingService::TargetNetworks(
    absl::string_view source_ref, absl::string_view target_ref) const {
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<FabricIndex> index, LoadIndex());
  ASR_ASSIGN_OR_RETURN(std::string source, FindIdByRef(*index, "vm-network", source_ref));
  std::string target;
  if (!target_ref.empty()) {
    ASR_ASSIGN_OR_RETURN(target, FindIdByRef(*index, "vm-network", target_ref));
  }
  return BuildTargetNetworkTable(*index, source, target);
}

absl::StatusOr<model::VmNicResolutions> MappingService::ResolveNetworks(
    absl::string_view vm_ref) const {
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<FabricIndex> index, LoadIndex());
  ASR_ASSIGN_OR_RETURN(std::string vm, FindIdByRef(*index, "vm", vm_ref));
  return ResolveVmNics(*index, vm);
}

absl::StatusOr<model::FailbackResolution> MappingService::ResolveFailback(
    model::FailbackRequest request) const {
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<FabricIndex> index, LoadIndex());
  const auto& nets = index->snapshot().vm_networks;
  if (!request.vm_id().empty()) {
    ASR_ASSIGN_OR_RETURN(*request.mutable_vm_id(), FindIdByRef(*index, "vm", request.vm_id()));
  }
  for (std::string* field :
       {request.mutable_original_vm_network_id(), request.mutable_replica_vm_network_id(),
        request.mutable_replica_failover_vm_network_id()}) {
    if (!field->empty()) {
      ASR_ASSIGN_OR_RETURN(*field, IdOrAsGiven(nets, "vm-network", *field));
    }
  }
  return mapping::ResolveFailback(*index, request);
}

// ---- Storage mappings -------------------------------------------------------

absl::StatusOr<model::StorageMappingChange> MappingService::RunMapStorage(
    jobs::JobContext* ctx, const model::StorageMappingRequest& r) {
  absl::StatusOr<PlannedStorageChange> plan = absl::UnknownError("not planned");
  auto make_plan = [&](bool replace) -> absl::Status {
    ASR_ASSIGN_OR_RETURN(std::unique_ptr<FabricIndex> index, LoadIndex());
    model::StorageMapping m = r.mapping();
    const auto& classes = index->snapshot().storage_classifications;
    ASR_ASSIGN_OR_RETURN(
        *m.mutable_source_classification_id(),
        IdOrAsGiven(classes, "storage-classification", m.source_classification_id()));
    ASR_ASSIGN_OR_RETURN(
        *m.mutable_target_classification_id(),
        IdOrAsGiven(classes, "storage-classification", m.target_classification_id()));
    plan = PlanStorageMapping(*index, m, replace);
    return plan.status();
  };
  ASR_RETURN_IF_ERROR(Step(ctx, "validate", "Validate the storage mapping",
                           [&] { return make_plan(r.replace()); }));
  if (!plan.ok()) ASR_RETURN_IF_ERROR(make_plan(true));  // restart, see RunMapNetwork
  model::StorageMappingChange& change = plan->change;
  if (ctx != nullptr) change.set_job_id(ctx->job().id());
  if (change.operation() != "unchanged") {
    ASR_RETURN_IF_ERROR(Step(ctx, "save", "Save the storage mapping", [&]() -> absl::Status {
      store::WriteBatch batch;
      if (!plan->delete_mapping_id.empty() && plan->delete_mapping_id != plan->mapping.id()) {
        batch.Delete(repository::ObjectRepository::Key("storage-mapping", plan->delete_mapping_id));
      }
      batch.Put(repository::ObjectRepository::Key("storage-mapping", plan->mapping.id()),
                plan->mapping.SerializeAsString());
      return repo_->store().Commit(batch);
    }));
  } else if (ctx != nullptr) {
    ctx->MarkSkipped("the classification is already mapped to that target");
  }
  if (ctx != nullptr) {
    for (const auto& w : change.warnings()) ctx->AddInformation(w);
    ctx->SetResult(model::ToJson(change));
  }
  return change;
}

absl::StatusOr<model::StorageMappingChange> MappingService::RunUnmapStorage(
    jobs::JobContext* ctx, const std::string& ref) {
  absl::StatusOr<PlannedStorageChange> plan = absl::UnknownError("not planned");
  ASR_RETURN_IF_ERROR(Step(ctx, "validate", "Find the storage mapping", [&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(std::unique_ptr<FabricIndex> index, LoadIndex());
    std::string id = ref;
    if (index->MappingForSourceClassification(id) == nullptr) {
      bool is_mapping = false;
      for (const auto& m : index->snapshot().storage_mappings) is_mapping |= m.id() == ref;
      if (!is_mapping) {
        auto c = FindIn(index->snapshot().storage_classifications, "storage-classification", ref);
        if (c.ok()) id = *c;
      }
    }
    plan = PlanStorageUnmapping(*index, id);
    return plan.status();
  }));
  if (!plan.ok()) return plan.status();
  if (ctx != nullptr) plan->change.set_job_id(ctx->job().id());
  ASR_RETURN_IF_ERROR(Step(ctx, "save", "Remove the storage mapping", [&]() -> absl::Status {
    store::WriteBatch batch;
    batch.Delete(repository::ObjectRepository::Key("storage-mapping", plan->delete_mapping_id));
    return repo_->store().Commit(batch);
  }));
  if (ctx != nullptr) ctx->SetResult(model::ToJson(plan->change));
  return plan->change;
}

absl::StatusOr<model::StorageMappingChange> MappingService::MapStorage(
    const model::StorageMapping& request, bool replace) {
  absl::MutexLock lock(&mu_);
  model::StorageMappingRequest r;
  *r.mutable_mapping() = request;
  r.set_replace(replace);
  if (jobs_ == nullptr) return RunMapStorage(nullptr, r);
  jobs::JobSpec spec = jobs::JobSpec::For(
      kMapStorage,
      absl::StrCat(replace ? "Change" : "Create", " storage mapping ",
                   request.source_classification_id(), " -> ", request.target_classification_id()),
      "storage-classification", request.source_classification_id(),
      request.source_classification_id(), model::ToJson(r));
  ASR_ASSIGN_OR_RETURN(model::Job job, jobs_->Run(spec));
  return ResultOfJob<model::StorageMappingChange>(job);
}

absl::StatusOr<model::StorageMappingChange> MappingService::UnmapStorage(absl::string_view ref) {
  absl::MutexLock lock(&mu_);
  if (jobs_ == nullptr) return RunUnmapStorage(nullptr, std::string(ref));
  jobs::JobSpec spec =
      jobs::JobSpec::For(kUnmapStorage, absl::StrCat("Remove storage mapping ", ref),
                         "storage-mapping", std::string(ref), std::string(ref), "{}");
  ASR_ASSIGN_OR_RETURN(model::Job job, jobs_->Run(spec));
  return ResultOfJob<model::StorageMappingChange>(job);
}

absl::StatusOr<model::StorageMappingTable> MappingService::ListStorageMappings() const {
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<FabricIndex> index, LoadIndex());
  return BuildStorageMappingTable(*index);
}

absl::StatusOr<model::VmDiskResolutions> MappingService::ResolveStorage(
    absl::string_view vm_ref, absl::string_view host_ref) const {
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<FabricIndex> index, LoadIndex());
  ASR_ASSIGN_OR_RETURN(std::string vm_id, FindIdByRef(*index, "vm", vm_ref));
  std::string host_id;
  if (host_ref.empty()) {
    ASR_ASSIGN_OR_RETURN(model::ReplicaPlacement p, PlaceReplica(*index, vm_id));
    if (!p.placed()) return absl::FailedPreconditionError(p.explanation());
    host_id = p.host_id();
  } else {
    ASR_ASSIGN_OR_RETURN(host_id, FindIdByRef(*index, "host", host_ref));
  }
  CapacityLedger ledger;
  return ResolveDisksOnHost(*index, *index->FindVm(vm_id), *index->FindHost(host_id), ledger);
}

absl::StatusOr<model::ReplicaPlacement> MappingService::ShowPlacement(
    absl::string_view vm_ref, const PlacementOptions& options) const {
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<FabricIndex> index, LoadIndex());
  ASR_ASSIGN_OR_RETURN(std::string vm_id, FindIdByRef(*index, "vm", vm_ref));
  return PlaceReplica(*index, vm_id, options);
}

}  // namespace asr::mapping
