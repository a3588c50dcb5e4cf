#include "asr/failover/recovery_plan_service.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "asr/common/identifier.h"
#include "asr/common/status_macros.h"
#include "asr/fabric/host_callbacks.h"
#include "asr/jobs/rule_error.h"
#include "asr/model/json.h"

namespace asr::failover {
namespace {

constexpr char kPlanPrefix[] = "rp-";
constexpr char kPrimaryToRecovery[] = "PrimaryToRecovery";
constexpr char kRecoveryToPrimary[] = "RecoveryToPrimary";
constexpr char kUseMultiVm[] = "UseMultiVmSyncRecoveryPoint";
constexpr char kUsePerVm[] = "UsePerVmRecoveryPoint";
constexpr size_t kOutputInMessage = 2000;

bool Contains(const google::protobuf::RepeatedPtrField<std::string>& list, absl::string_view v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

bool IsOperation(absl::string_view op) {
  const auto& ops = RecoveryPlanOperations();
  return std::find(ops.begin(), ops.end(), op) != ops.end();
}

std::string Label(const model::ProtectedItem& item) {
  return item.vm_name().empty() ? item.vm_id() : item.vm_name();
}

std::string Label(const model::RecoveryPlanProtectedItem& item) {
  return item.vm_name().empty() ? item.id() : item.vm_name();
}

std::string GroupNames(const model::RecoveryPlan& plan) {
  std::vector<std::string> names;
  for (const auto& g : plan.groups()) names.push_back(g.name());
  return absl::StrJoin(names, ", ");
}

// Names Boot groups by position: "Group 1", "Group 2", ...
void Renumber(model::RecoveryPlan* plan) {
  int boot = 0;
  for (auto& g : *plan->mutable_groups()) {
    switch (g.group_type()) {
      case model::Shutdown:
        g.set_name("Shutdown");
        break;
      case model::Failover:
        g.set_name("Failover");
        break;
      default:
        g.set_name(absl::StrCat("Group ", ++boot));
        break;
    }
  }
}

int BootGroups(const model::RecoveryPlan& plan) {
  int n = 0;
  for (const auto& g : plan.groups()) n += g.group_type() == model::Boot;
  return n;
}

int PlanItems(const model::RecoveryPlan& plan) {
  int n = 0;
  for (const auto& g : plan.groups()) n += g.replication_protected_items_size();
  return n;
}

// The group `ref` names: "Shutdown", "Failover", "Group N" or "N".
absl::StatusOr<int> FindGroup(const model::RecoveryPlan& plan, absl::string_view ref) {
  absl::string_view r = absl::StripAsciiWhitespace(ref);
  if (r.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("name a group of plan '", plan.name(), "' (one of: ", GroupNames(plan), ")"));
  }
  for (int i = 0; i < plan.groups_size(); ++i) {
    if (absl::EqualsIgnoreCase(plan.groups(i).name(), r)) return i;
  }
  int n = 0;
  if (absl::SimpleAtoi(r, &n) && n >= 1) {
    int boot = 0;
    for (int i = 0; i < plan.groups_size(); ++i) {
      if (plan.groups(i).group_type() == model::Boot && ++boot == n) return i;
    }
  }
  return jobs::RuleError(absl::StatusCode::kNotFound, "RecoveryPlanGroupNotFound",
                         absl::StrCat("recovery plan '", plan.name(), "' has no group '", r, "'"),
                         absl::StrCat("name one of its groups: ", GroupNames(plan),
                                      " (a Boot group also by its number)"));
}

absl::Status RequireBoot(const model::RecoveryPlan& plan, int gi, absl::string_view what) {
  if (plan.groups(gi).group_type() == model::Boot) return absl::OkStatus();
  return jobs::RuleError(
      absl::StatusCode::kInvalidArgument, "RecoveryPlanGroupHoldsNoVms",
      absl::StrCat("group '", plan.groups(gi).name(), "' of recovery plan '", plan.name(),
                   "' is the plan's ", plan.groups(gi).name(), " group, which ", what),
      "use a Boot group (\"Group 1\", \"Group 2\", ...); append one with AppendGroup");
}

// Where item `id` is in the plan: {group, position} or nullopt.
std::optional<std::pair<int, int>> Locate(const model::RecoveryPlan& plan, absl::string_view id) {
  for (int g = 0; g < plan.groups_size(); ++g) {
    const auto& items = plan.groups(g).replication_protected_items();
    for (int i = 0; i < items.size(); ++i) {
      if (items[i].id() == id) return std::make_pair(g, i);
    }
  }
  return std::nullopt;
}

absl::Status ValidateAction(const model::RecoveryPlan& plan, const model::RecoveryPlanGroup& group,
                            const model::RecoveryPlanAction& a) {
  ASR_RETURN_IF_ERROR(ValidateIdentifier("action name", a.action_name()));
  for (const auto* list : {&group.start_group_actions(), &group.end_group_actions()}) {
    for (const auto& other : *list) {
      if (other.action_name() == a.action_name()) {
        return jobs::RuleError(
            absl::StatusCode::kAlreadyExists, "RecoveryPlanActionExists",
            absl::StrCat("group '", group.name(), "' of recovery plan '", plan.name(),
                         "' already has an action named '", a.action_name(), "'"),
            "give the action another name, or remove the old one first");
      }
    }
  }
  const std::string ops = absl::StrJoin(RecoveryPlanOperations(), ", ");
  if (a.failover_types().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("action '", a.action_name(),
                     "' names no failover types; give the operations it runs for (", ops, ")"));
  }
  for (const std::string& t : a.failover_types()) {
    if (!IsOperation(t)) {
      return absl::InvalidArgumentError(absl::StrCat("action '", a.action_name(),
                                                     "': unknown failover type '", t,
                                                     "'; use one or more of ", ops));
    }
  }
  if (a.failover_directions().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "action '", a.action_name(),
        "' names no failover directions; give PrimaryToRecovery, RecoveryToPrimary or both"));
  }
  for (const std::string& d : a.failover_directions()) {
    if (d != kPrimaryToRecovery && d != kRecoveryToPrimary) {
      return absl::InvalidArgumentError(
          absl::StrCat("action '", a.action_name(), "': unknown failover direction '", d,
                       "'; use PrimaryToRecovery or RecoveryToPrimary"));
    }
  }
  switch (a.custom_details_case()) {
    case model::RecoveryPlanAction::kScript: {
      const auto& s = a.script();
      if (s.path().empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("script action '", a.action_name(),
                         "' has no path; give the script's path on the host"));
      }
      ASR_RETURN_IF_ERROR(ValidatePath("script path", s.path()));
      if (s.timeout_seconds() < 0 || s.timeout_seconds() > 86400) {
        return absl::InvalidArgumentError(
            absl::StrCat("script action '", a.action_name(), "': timeout ", s.timeout_seconds(),
                         " s is out of range; use 1 .. 86400 s (0: 300 s)"));
      }
      if (s.fabric_location() != model::Primary && s.fabric_location() != model::Recovery) {
        return absl::InvalidArgumentError(
            absl::StrCat("script action '", a.action_name(),
                         "' needs a fabric location: Primary or Recovery (where it runs)"));
      }
      return absl::OkStatus();
    }
    case model::RecoveryPlanAction::kManual:
      if (a.manual().description().empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("manual action '", a.action_name(),
                         "' has no description; say what the operator is to do"));
      }
      return absl::OkStatus();
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("action '", a.action_name(),
                       "' is neither a script nor a manual action; give one of them"));
  }
}

std::string DefaultDirection(absl::string_view operation) {
  return operation == kFailback || operation == kReverseReplicate ? kRecoveryToPrimary
                                                                  : kPrimaryToRecovery;
}

std::string Tail(const std::string& s) {
  if (s.size() <= kOutputInMessage) return s;
  return absl::StrCat("...", s.substr(s.size() - kOutputInMessage));
}

std::string TaskStateName(model::JobState s) {
  return s == model::JOB_STATE_UNSPECIFIED ? "NotStarted" : jobs::JobStateName(s);
}

}  // namespace

const std::vector<std::string>& RecoveryPlanOperations() {
  static const auto* ops = new std::vector<std::string>{
      std::string(kTestFailover),     std::string(kTestFailoverCleanup),
      std::string(kPlannedFailover),  std::string(kUnplannedFailover),
      std::string(kCommit),           std::string(kCancelFailover),
      std::string(kReverseReplicate), std::string(kFailback)};
  return *ops;
}

std::string RecoveryPlanScenario(absl::string_view operation) {
  return absl::StrCat("RecoveryPlan", operation);
}

std::string RecoveryPlanId(absl::string_view name) { return absl::StrCat(kPlanPrefix, name); }

// ---- One run of a plan operation (the job's scenario) ------------------------

class RecoveryPlanService::PlanRun {
 public:
  PlanRun(RecoveryPlanService* service, jobs::JobContext& ctx, model::RecoveryPlanJob params,
          ItemFailover* failover)
      : service_(service), ctx_(ctx), params_(std::move(params)), failover_(failover) {}

  absl::Status Run() {
    const model::RecoveryPlan& plan = params_.plan();
    // Outcomes of an earlier run of this job (restart, resume): the shared
    // points it chose.
    if (!ctx_.job().result_json().empty()) {
      model::RecoveryPlanRunResult previous;
      if (model::FromJson(ctx_.job().result_json(), &previous).ok()) {
        for (const auto& o : previous.items()) {
          if (!o.recovery_point_id().empty())
            points_[o.protected_item_id()] = o.recovery_point_id();
        }
      }
    }
    for (const auto& g : plan.groups()) {
      for (const auto& i : g.replication_protected_items()) {
        absl::StatusOr<model::ProtectedItem> item = service_->protection_->GetItem(i.id());
        if (item.ok()) items_[i.id()] = *std::move(item);
      }
    }
    absl::Status s = Groups();
    ctx_.SetResult(model::ToJson(Result()));
    return s;
  }

 private:
  const std::string& op() const { return params_.request().operation(); }
  const std::string& direction() const { return params_.request().direction(); }

  absl::Status Groups() {
    const model::RecoveryPlan& plan = params_.plan();
    if (params_.request().multi_vm_sync_point() == kUseMultiVm &&
        (op() == kTestFailover || op() == kUnplannedFailover)) {
      ASR_RETURN_IF_ERROR(ctx_.RunTask("choose-points",
                                       "Choose the replication groups' shared recovery points",
                                       [&] { return ChoosePoints(); }));
    }
    for (int gi = 0; gi < plan.groups_size(); ++gi) {
      const model::RecoveryPlanGroup& g = plan.groups(gi);
      for (const auto& a : g.start_group_actions()) {
        if (Applies(a)) ASR_RETURN_IF_ERROR(RunAction(gi, "start", a));
      }
      if (!g.replication_protected_items().empty()) ASR_RETURN_IF_ERROR(RunItems(gi));
      for (const auto& a : g.end_group_actions()) {
        if (Applies(a)) ASR_RETURN_IF_ERROR(RunAction(gi, "end", a));
      }
    }
    return absl::OkStatus();
  }

  absl::Status ChoosePoints() {
    if (service_->groups_ == nullptr) {
      return absl::FailedPreconditionError(
          "replication groups are not available here; run with UsePerVmRecoveryPoint");
    }
    for (const auto& g : params_.plan().groups()) {
      for (const auto& i : g.replication_protected_items()) {
        ASR_ASSIGN_OR_RETURN(std::optional<model::ReplicationGroup> rg,
                             service_->groups_->GroupOf(i.id()));
        if (!rg.has_value()) continue;  // its own point, as the item chooses
        ASR_ASSIGN_OR_RETURN(
            model::RecoveryPoint p,
            service_->groups_->ResolveRecoveryPoint(
                i.id(), protection::MultiVmSyncPointOption::kUseMultiVmSyncRecoveryPoint,
                params_.request().recovery_tag() == "LatestAvailableApplicationConsistent"));
        points_[i.id()] = p.id();
      }
    }
    // Kept in the job (saved with this task), so that a restart fails over
    // to the same points.
    ctx_.SetResult(model::ToJson(Result()));
    return absl::OkStatus();
  }

  bool Applies(const model::RecoveryPlanAction& a) const {
    return Contains(a.failover_types(), op()) && Contains(a.failover_directions(), direction());
  }

  static std::string VmTask(int gi, absl::string_view item_id) {
    return absl::StrCat("g", gi + 1, "-vm-", item_id);
  }

  absl::Status RunAction(int gi, absl::string_view placement, const model::RecoveryPlanAction& a) {
    const model::RecoveryPlanGroup& g = params_.plan().groups(gi);
    const bool script = a.has_script();
    std::string task = absl::StrCat("g", gi + 1, "-", placement, "-", a.action_name());
    std::string friendly = absl::StrCat(
        g.name(), " ", placement, " action '", a.action_name(), "' (",
        script ? absl::StrCat("script on ",
                              model::RecoveryPlanActionLocation_Name(a.script().fabric_location()))
               : std::string("manual"),
        ")");
    return ctx_.RunTask(task, friendly, [&]() -> absl::Status {
      if (!script) {
        return ctx_.Suspend(absl::StrCat("manual action '", a.action_name(), "' of ", g.name(),
                                         ": ", a.manual().description(),
                                         "; resume the job when it is done, or cancel it"));
      }
      return RunScript(gi, placement, a);
    });
  }

  // What the script of action `a` (of group `gi`, at `placement`) learns
  // about the plan and where its VMs run now (recovery_plan.proto).
  model::RecoveryPlanScriptContext ScriptContext(int gi, absl::string_view placement,
                                                 const model::RecoveryPlanAction& a) const {
    model::RecoveryPlanScriptContext c;
    const model::RecoveryPlan& plan = params_.plan();
    c.set_recovery_plan_name(plan.name());
    c.set_failover_type(op());
    c.set_failover_direction(direction());
    c.set_group(plan.groups(gi).name());
    c.set_action_name(a.action_name());
    c.set_placement(placement == "start" ? "Start" : "End");
    fabric::HostCallbacks* host = service_->protection_->host();
    const bool test = op() == kTestFailover || op() == kTestFailoverCleanup;
    for (int g = 0; g < plan.groups_size(); ++g) {
      for (const auto& ref : plan.groups(g).replication_protected_items()) {
        model::RecoveryPlanScriptVm* v = c.add_vms();
        v->set_protected_item_id(ref.id());
        v->set_vm_name(ref.vm_name());
        v->set_group(plan.groups(g).name());
        v->set_operation_done(g < gi || (g == gi && placement == "end"));
        absl::StatusOr<model::ProtectedItem> item = service_->protection_->GetItem(ref.id());
        if (!item.ok() || host == nullptr) continue;
        // The VM this operation runs: the first of these that runs, else
        // the first that exists.
        std::vector<std::string> candidates;
        if (test && !item->test_vm_id().empty()) candidates.push_back(item->test_vm_id());
        for (const std::string& id : {item->replica_vm_id(), item->vm_id()}) {
          if (!id.empty()) candidates.push_back(id);
        }
        std::optional<model::VirtualMachine> chosen;
        for (const std::string& id : candidates) {
          absl::StatusOr<model::VirtualMachine> vm = host->GetVm(id);
          if (!vm.ok()) continue;
          if (vm->power_state() == model::RUNNING) {
            chosen = *std::move(vm);
            break;
          }
          if (!chosen) chosen = *std::move(vm);
        }
        if (!chosen) continue;
        v->set_vm_id(chosen->id());
        v->set_host_id(chosen->host_id());
        v->set_power_state(chosen->power_state());
        *v->mutable_network_adapters() = chosen->network_adapters();
      }
    }
    return c;
  }

  // The script's environment: the context as JSON and its common parts as
  // plain variables (recovery_plan.proto names them).
  static std::map<std::string, std::string> ScriptEnvironment(
      const model::RecoveryPlanScriptContext& c) {
    std::map<std::string, std::string> env;
    env["ASR_RECOVERY_PLAN_CONTEXT"] = model::ToJson(c);
    env["ASR_RECOVERY_PLAN"] = c.recovery_plan_name();
    env["ASR_FAILOVER_TYPE"] = c.failover_type();
    env["ASR_FAILOVER_DIRECTION"] = c.failover_direction();
    env["ASR_GROUP"] = c.group();
    env["ASR_ACTION"] = c.action_name();
    env["ASR_VM_COUNT"] = absl::StrCat(c.vms_size());
    for (int k = 0; k < c.vms_size(); ++k) {
      const model::RecoveryPlanScriptVm& v = c.vms(k);
      const std::string n = absl::StrCat("ASR_VM_", k + 1, "_");
      std::string address;
      for (const model::NetworkAdapter& a : v.network_adapters()) {
        if (address.empty()) address = a.ip_address();
      }
      env[n + "NAME"] = v.vm_name();
      env[n + "GROUP"] = v.group();
      env[n + "HOST"] = v.host_id();
      env[n + "ADDRESS"] = address;
    }
    return env;
  }

  absl::StatusOr<std::string> ScriptHost(int gi, model::RecoveryPlanActionLocation where) const {
    std::vector<const model::RecoveryPlanProtectedItem*> order;
    for (const auto& i : params_.plan().groups(gi).replication_protected_items())
      order.push_back(&i);
    for (const auto& g : params_.plan().groups()) {
      for (const auto& i : g.replication_protected_items()) order.push_back(&i);
    }
    for (const auto* i : order) {
      auto it = items_.find(i->id());
      if (it == items_.end()) continue;
      const std::string& host =
          where == model::Primary ? it->second.primary_host_id() : it->second.replica_host_id();
      if (!host.empty()) return host;
    }
    return absl::FailedPreconditionError(
        absl::StrCat("no ", model::RecoveryPlanActionLocation_Name(where),
                     " host is known for recovery plan '", params_.plan().name(),
                     "': none of its VMs names one; check the plan's VMs with asrctl item "
                     "show"));
  }

  absl::Status RunScript(int gi, absl::string_view placement, const model::RecoveryPlanAction& a) {
    const auto& details = a.script();
    fabric::HostCallbacks* host = service_->protection_->host();
    if (host == nullptr || !host->available()) {
      return absl::FailedPreconditionError(
          absl::StrCat("script action '", a.action_name(),
                       "' needs the host table to run scripts, and none is attached; attach the "
                       "VMM host side and restart the job"));
    }
    ASR_ASSIGN_OR_RETURN(std::string host_id, ScriptHost(gi, details.fabric_location()));
    model::ScriptRequest request;
    request.set_host_id(host_id);
    request.set_path(details.path());
    request.set_timeout_seconds(details.timeout_seconds() > 0 ? details.timeout_seconds() : 300);
    for (const std::string& arg :
         {std::string("--plan"), params_.plan().name(), std::string("--operation"), op(),
          std::string("--direction"), direction(), std::string("--group"),
          params_.plan().groups(gi).name(), std::string("--action"), a.action_name()}) {
      request.add_arguments(arg);
    }
    for (const auto& [name, value] : ScriptEnvironment(ScriptContext(gi, placement, a))) {
      (*request.mutable_environment())[name] = value;
    }
    absl::StatusOr<model::ScriptResult> result;
    absl::Status call = fabric::CallWithRetries([&] {
      result = host->RunScript(request);
      return result.status();
    });
    if (!call.ok()) {
      return absl::Status(call.code(),
                          absl::StrCat("script action '", a.action_name(), "' (", details.path(),
                                       ") could not run on host ", host_id, ": ", call.message()));
    }
    if (result->timed_out()) {
      return jobs::RuleError(
          absl::StatusCode::kDeadlineExceeded, "ScriptActionTimedOut",
          absl::StrCat("script action '", a.action_name(), "' (", details.path(), " on ", host_id,
                       ") did not finish within ", request.timeout_seconds(),
                       " s and was stopped; its output: ", Tail(result->output())),
          "make the script finish within its timeout, then restart the job (what completed is "
          "not run again)");
    }
    if (result->exit_code() != 0) {
      return jobs::RuleError(
          absl::StatusCode::kFailedPrecondition, "ScriptActionFailed",
          absl::StrCat("script action '", a.action_name(), "' (", details.path(), " on ", host_id,
                       ") exited with code ", result->exit_code(),
                       "; its output: ", Tail(result->output())),
          "correct what the script reports, then restart the job (what completed is not run "
          "again)");
    }
    return absl::OkStatus();
  }

  // Whether `ref` is where op() leaves a VM: a retried VM whose operation
  // completed before the job could record it (a crash in between) is then
  // done, though the operation is no longer allowed.
  bool AlreadyDone(const model::RecoveryPlanProtectedItem& ref) const {
    absl::StatusOr<model::ProtectedItem> item = service_->protection_->GetItem(ref.id());
    return item.ok() && IsWhereOperationEnds(*item, op());
  }

  absl::Status RunItem(int gi, const model::RecoveryPlanProtectedItem& item, bool retry) {
    const model::RecoveryPlanRunRequest& r = params_.request();
    FailoverInput in;
    in.item_ref = item.id();
    in.direction = direction();
    if (!r.recovery_tag().empty()) in.recovery_tag = r.recovery_tag();
    if (!r.network_type().empty()) in.network_type = r.network_type();
    in.network_id = r.network_id();
    if (!r.optimize().empty()) in.optimize = r.optimize();
    in.perform_source_side_action = r.perform_source_side_action();
    auto point = points_.find(item.id());
    if (point != points_.end()) {
      in.recovery_tag.clear();
      in.recovery_point_id = point->second;
    }
    const std::string task = VmTask(gi, item.id());
    const std::string vm = Label(item);
    StepRunner steps = [this, task, vm](absl::string_view id, absl::string_view friendly_name,
                                        const std::function<absl::Status()>& fn) {
      return ctx_.RunTask(absl::StrCat(task, "/", id), absl::StrCat(vm, ": ", friendly_name), fn);
    };
    absl::Status s = failover_->RunItemOperation(op(), in, steps);
    if (!s.ok() && retry && jobs::RuleOf(s) == "OperationNotAllowedInState" && AlreadyDone(item)) {
      return absl::OkStatus();
    }
    return s;
  }

  absl::Status RunItems(int gi) {
    const model::RecoveryPlanGroup& g = params_.plan().groups(gi);
    const int n = g.replication_protected_items_size();
    int parallel = params_.request().max_parallel() > 0 ? params_.request().max_parallel()
                                                        : service_->options_.max_parallel;
    parallel = std::max(1, std::min(parallel, n));
    std::vector<absl::Status> results(n);
    std::atomic<int> next{0};
    auto worker = [&] {
      for (int i = next++; i < n; i = next++) {
        const auto& item = g.replication_protected_items(i);
        jobs::TaskOptions o;
        o.run_again_after_suspend = true;
        // Run before in this job (restart, resume): its operation may have
        // completed unrecorded.
        const bool retry = ctx_.Task(VmTask(gi, item.id())).has_value();
        results[i] = ctx_.RunTask(
            VmTask(gi, item.id()), absl::StrCat(g.name(), ": ", op(), " of ", Label(item)),
            [&, gi, retry] { return RunItem(gi, item, retry); }, o);
      }
    };
    std::vector<std::thread> threads;
    for (int t = 1; t < parallel; ++t) threads.emplace_back(worker);
    worker();
    for (std::thread& t : threads) t.join();

    std::vector<std::string> failed, suspended;
    absl::StatusCode code = absl::StatusCode::kOk;
    bool cancelled = false;
    for (int i = 0; i < n; ++i) {
      const absl::Status& s = results[i];
      if (s.ok()) continue;
      const std::string vm = Label(g.replication_protected_items(i));
      if (jobs::IsSuspension(s)) {
        suspended.push_back(absl::StrCat(vm, ": ", s.message()));
      } else if (s.code() == absl::StatusCode::kCancelled) {
        cancelled = true;
      } else {
        failed.push_back(absl::StrCat(vm, ": ", s.message()));
        if (code == absl::StatusCode::kOk) code = s.code();
      }
    }
    // Keep the outcomes in the job as soon as the group is done.
    ctx_.SetResult(model::ToJson(Result()));
    if (!failed.empty()) {
      // The others' progress is kept: restarting runs only these again, so
      // the job stays restartable whatever the VMs' own errors were.
      switch (code) {
        case absl::StatusCode::kInvalidArgument:
        case absl::StatusCode::kUnauthenticated:
        case absl::StatusCode::kPermissionDenied:
        case absl::StatusCode::kAlreadyExists:
          code = absl::StatusCode::kFailedPrecondition;
          break;
        default:
          break;
      }
      return jobs::RuleError(
          code, "RecoveryPlanVmsFailed",
          absl::StrCat(failed.size(), " of ", n, " VMs of ", g.name(), " of recovery plan '",
                       params_.plan().name(), "' failed ", op(), ": ", absl::StrJoin(failed, "; ")),
          "correct the cause named for each VM, then restart the job: the VMs and actions that "
          "completed are not run again");
    }
    if (cancelled) {
      return absl::CancelledError(absl::StrCat("job ", ctx_.job().id(), " was cancelled in ",
                                               g.name(), " of recovery plan '",
                                               params_.plan().name(), "'"));
    }
    if (!suspended.empty()) return ctx_.Suspend(absl::StrJoin(suspended, "; "));
    return absl::OkStatus();
  }

  model::RecoveryPlanRunResult Result() const {
    model::RecoveryPlanRunResult r;
    r.set_plan_id(params_.plan().id());
    r.set_operation(op());
    r.set_direction(direction());
    const auto& plan = params_.plan();
    for (int gi = 0; gi < plan.groups_size(); ++gi) {
      for (const auto& i : plan.groups(gi).replication_protected_items()) {
        model::RecoveryPlanItemOutcome* o = r.add_items();
        o->set_protected_item_id(i.id());
        o->set_vm_name(Label(i));
        o->set_group(plan.groups(gi).name());
        std::optional<model::JobTask> t = ctx_.Task(VmTask(gi, i.id()));
        o->set_state(t.has_value() ? TaskStateName(t->state()) : "NotStarted");
        if (t.has_value() && !t->errors().empty()) {
          o->set_error(t->errors(t->errors_size() - 1).message());
        }
        auto p = points_.find(i.id());
        if (p != points_.end()) o->set_recovery_point_id(p->second);
        if (t.has_value() && t->state() == model::Succeeded) r.set_succeeded(r.succeeded() + 1);
        if (t.has_value() && t->state() == model::Failed) r.set_failed(r.failed() + 1);
      }
    }
    return r;
  }

  RecoveryPlanService* service_;
  jobs::JobContext& ctx_;
  const model::RecoveryPlanJob params_;
  ItemFailover* failover_;
  std::map<std::string, model::ProtectedItem> items_;
  std::map<std::string, std::string> points_;  // item id -> recovery point id
};

// ---- RecoveryPlanService -------------------------------------------------

RecoveryPlanService::RecoveryPlanService(repository::ObjectRepository* repo, jobs::JobManager* jobs,
                                         protection::ProtectionService* protection,
                                         protection::GroupService* groups, const Clock* clock,
                                         ItemFailover* failover, RecoveryPlanServiceOptions options)
    : repo_(repo),
      jobs_(jobs),
      protection_(protection),
      groups_(groups),
      clock_(clock),
      options_(options),
      failover_(failover) {}

absl::Status RecoveryPlanService::RegisterScenarios() {
  for (const std::string& op : RecoveryPlanOperations()) {
    ASR_RETURN_IF_ERROR(jobs_->RegisterScenario(
        RecoveryPlanScenario(op), [this](jobs::JobContext& ctx) { return Execute(ctx); }));
  }
  return absl::OkStatus();
}

void RecoveryPlanService::SetItemFailover(ItemFailover* failover) {
  absl::MutexLock l(&mu_);
  failover_ = failover;
}

absl::StatusOr<model::RecoveryPlan> RecoveryPlanService::Find(absl::string_view plan_ref) const {
  ASR_RETURN_IF_ERROR(ValidateIdentifier("plan", plan_ref));
  absl::StatusOr<model::RecoveryPlan> direct = repo_->Get<model::RecoveryPlan>(plan_ref);
  if (direct.ok() || !absl::IsNotFound(direct.status())) return direct;
  absl::StatusOr<model::RecoveryPlan> named =
      repo_->Get<model::RecoveryPlan>(RecoveryPlanId(plan_ref));
  if (named.ok() || !absl::IsNotFound(named.status())) return named;
  return jobs::RuleError(
      absl::StatusCode::kNotFound, "RecoveryPlanNotFound",
      absl::StrCat("no recovery plan '", plan_ref, "' (neither a plan id nor a plan name)"),
      "`asrctl plan list` lists the plans");
}

absl::StatusOr<model::ProtectedItem> RecoveryPlanService::ResolveItem(absl::string_view ref) const {
  ASR_RETURN_IF_ERROR(ValidateIdentifier("VM", ref));
  absl::StatusOr<model::ProtectedItem> item = protection_->GetItem(ref);
  if (absl::IsNotFound(item.status())) {
    return jobs::RuleError(
        absl::StatusCode::kNotFound, "RecoveryPlanVmNotProtected",
        absl::StrCat("'", ref, "' is not a protected VM: ", item.status().message()),
        "a recovery plan holds protected VMs only; enable protection of the VM first "
        "(asrctl protect enable)");
  }
  return item;
}

absl::Status RecoveryPlanService::FillPairing(const model::ProtectedItem& item,
                                              model::RecoveryPlan* plan) const {
  absl::StatusOr<model::CloudPairing> pairing = repo_->Get<model::CloudPairing>(item.pairing_id());
  if (!pairing.ok()) {
    return jobs::RuleError(
        absl::StatusCode::kFailedPrecondition, "RecoveryPlanPairingMissing",
        absl::StrCat("VM '", Label(item), "' replicates under pairing '", item.pairing_id(),
                     "', which cannot be read: ", pairing.status().message()),
        "check the VM's protection (asrctl item show) and its cloud pairing");
  }
  plan->set_pairing_id(pairing->id());
  plan->set_primary_cloud_id(pairing->primary_cloud_id());
  plan->set_recovery_cloud_id(pairing->recovery_cloud_id());
  absl::StatusOr<model::Cloud> primary = repo_->Get<model::Cloud>(pairing->primary_cloud_id());
  if (primary.ok()) plan->set_primary_server_id(primary->server_id());
  absl::StatusOr<model::Cloud> recovery = repo_->Get<model::Cloud>(pairing->recovery_cloud_id());
  if (recovery.ok()) plan->set_recovery_server_id(recovery->server_id());
  return absl::OkStatus();
}

absl::Status RecoveryPlanService::AddItems(model::RecoveryPlan* plan, int gi,
                                           const std::vector<std::string>& refs) const {
  if (refs.empty()) {
    return absl::InvalidArgumentError(
        "name at least one VM (its name or id, or its protected item's id)");
  }
  ASR_RETURN_IF_ERROR(RequireBoot(*plan, gi, "holds no VMs"));
  std::set<std::string> seen;
  for (const std::string& ref : refs) {
    ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, ResolveItem(ref));
    if (!seen.insert(item.id()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("VM '", Label(item), "' is named twice; name each VM once"));
    }
    if (std::optional<std::pair<int, int>> at = Locate(*plan, item.id())) {
      return jobs::RuleError(
          absl::StatusCode::kAlreadyExists, "RecoveryPlanVmAlreadyInPlan",
          absl::StrCat("VM '", Label(item), "' is already in ", plan->groups(at->first).name(),
                       " of recovery plan '", plan->name(), "'; a VM is in one group of a plan"),
          "move it with MoveProtectedItems (asrctl plan edit --move-vm) instead");
    }
    if (plan->pairing_id().empty()) {
      ASR_RETURN_IF_ERROR(FillPairing(item, plan));
    } else if (item.pairing_id() != plan->pairing_id()) {
      return jobs::RuleError(
          absl::StatusCode::kFailedPrecondition, "RecoveryPlanSpansPairings",
          absl::StrCat("VM '", Label(item), "' replicates under pairing '", item.pairing_id(),
                       "' (", item.pairing_id(), "), but recovery plan '", plan->name(),
                       "' is for pairing '", plan->pairing_id(), "' (cloud ",
                       plan->primary_cloud_id(), " to ", plan->recovery_cloud_id(),
                       "); a plan fails over from one source to one target"),
          "put VMs of one cloud pairing in a plan; make another plan for the others");
    }
    if (PlanItems(*plan) >= kMaxPlanItems) {
      return jobs::RuleError(absl::StatusCode::kFailedPrecondition, "RecoveryPlanFull",
                             absl::StrCat("recovery plan '", plan->name(), "' already has ",
                                          kMaxPlanItems, " VMs, the most a plan holds"),
                             "make another plan for the other VMs");
    }
    model::RecoveryPlanProtectedItem* p =
        plan->mutable_groups(gi)->add_replication_protected_items();
    p->set_id(item.id());
    p->set_virtual_machine_id(item.vm_id());
    p->set_vm_name(item.vm_name());
  }
  return absl::OkStatus();
}

absl::StatusOr<model::RecoveryPlan> RecoveryPlanService::Create(
    const model::RecoveryPlanCreateRequest& request) {
  ASR_RETURN_IF_ERROR(ValidateIdentifier("plan name", request.name()));
  if (absl::StartsWith(request.name(), kPlanPrefix)) {
    return absl::InvalidArgumentError(absl::StrCat("plan name '", request.name(),
                                                   "' must not start with '", kPlanPrefix,
                                                   "' (plan ids do); choose another name"));
  }
  if (request.boot_groups() < 0 || request.boot_groups() > kMaxBootGroups) {
    return absl::InvalidArgumentError(absl::StrCat("a plan has 1 .. ", kMaxBootGroups,
                                                   " Boot groups, not ", request.boot_groups()));
  }
  absl::MutexLock l(&mu_);
  const std::string id = RecoveryPlanId(request.name());
  if (repo_->Get<model::RecoveryPlan>(id).ok()) {
    return jobs::RuleError(
        absl::StatusCode::kAlreadyExists, "RecoveryPlanExists",
        absl::StrCat("a recovery plan named '", request.name(), "' already exists"),
        "choose another name, or edit the existing plan");
  }
  model::RecoveryPlan plan;
  plan.set_id(id);
  plan.set_name(request.name());
  plan.add_groups()->set_group_type(model::Shutdown);
  plan.add_groups()->set_group_type(model::Failover);
  for (int i = 0; i < std::max(1, request.boot_groups()); ++i) {
    plan.add_groups()->set_group_type(model::Boot);
  }
  Renumber(&plan);
  std::vector<std::string> refs(request.items().begin(), request.items().end());
  ASR_RETURN_IF_ERROR(AddItems(&plan, 2, refs));  // "Group 1"
  plan.set_created_time_unix(absl::ToUnixSeconds(clock_->Now()));
  plan.set_modified_time_unix(plan.created_time_unix());
  ASR_RETURN_IF_ERROR(repo_->Put(plan));
  Decorate(&plan);
  return plan;
}

void RecoveryPlanService::Decorate(model::RecoveryPlan* plan) const {
  plan->clear_allowed_operations();
  std::vector<model::ProtectedItem> items;
  for (const auto& g : plan->groups()) {
    for (const auto& i : g.replication_protected_items()) {
      absl::StatusOr<model::ProtectedItem> item = protection_->GetItem(i.id());
      if (!item.ok()) return;  // a VM that is gone: nothing is allowed
      items.push_back(*std::move(item));
    }
  }
  if (items.empty()) return;
  for (const std::string& op : RecoveryPlanOperations()) {
    bool all = true;
    for (const auto& item : items) all = all && Contains(item.allowed_operations(), op);
    if (all) plan->add_allowed_operations(op);
  }
}

absl::StatusOr<model::RecoveryPlan> RecoveryPlanService::Get(absl::string_view plan_ref) const {
  ASR_ASSIGN_OR_RETURN(model::RecoveryPlan plan, Find(plan_ref));
  Decorate(&plan);
  return plan;
}

absl::StatusOr<std::vector<model::RecoveryPlan>> RecoveryPlanService::List() const {
  ASR_ASSIGN_OR_RETURN(std::vector<model::RecoveryPlan> plans, repo_->List<model::RecoveryPlan>());
  for (auto& p : plans) Decorate(&p);
  return plans;
}

absl::StatusOr<std::string> RecoveryPlanService::ActiveJobOf(const std::string& plan_id) const {
  jobs::JobFilter f;
  f.target_object_id = plan_id;
  ASR_ASSIGN_OR_RETURN(std::vector<model::Job> js, jobs_->List(f));
  for (const model::Job& j : js) {
    if (j.state() == model::InProgress || j.state() == model::Suspended ||
        j.state() == model::NotStarted) {
      return j.id();
    }
  }
  return std::string();
}

absl::StatusOr<model::RecoveryPlan> RecoveryPlanService::Edit(absl::string_view plan_ref,
                                                              const model::RecoveryPlanEdit& edit) {
  absl::MutexLock l(&mu_);
  ASR_ASSIGN_OR_RETURN(model::RecoveryPlan plan, Find(plan_ref));
  const std::string& op = edit.operation();
  std::vector<std::string> refs(edit.items().begin(), edit.items().end());
  if (op == "AppendGroup") {
    if (BootGroups(plan) >= kMaxBootGroups) {
      return jobs::RuleError(absl::StatusCode::kFailedPrecondition, "RecoveryPlanTooManyGroups",
                             absl::StrCat("recovery plan '", plan.name(), "' already has ",
                                          kMaxBootGroups, " Boot groups, the most a plan has"),
                             "put the VMs in the existing groups");
    }
    plan.add_groups()->set_group_type(model::Boot);
  } else if (op == "RemoveGroup") {
    ASR_ASSIGN_OR_RETURN(int gi, FindGroup(plan, edit.group()));
    ASR_RETURN_IF_ERROR(RequireBoot(plan, gi, "every plan has"));
    const auto& g = plan.groups(gi);
    if (!g.replication_protected_items().empty()) {
      std::vector<std::string> vms;
      for (const auto& i : g.replication_protected_items()) vms.push_back(Label(i));
      return jobs::RuleError(
          absl::StatusCode::kFailedPrecondition, "RecoveryPlanGroupNotEmpty",
          absl::StrCat(g.name(), " of recovery plan '", plan.name(), "' holds VMs (",
                       absl::StrJoin(vms, ", "), ")"),
          "move them to another group (MoveProtectedItems) or remove them from the plan first");
    }
    plan.mutable_groups()->erase(plan.mutable_groups()->begin() + gi);
  } else if (op == "AddProtectedItems") {
    ASR_ASSIGN_OR_RETURN(int gi, FindGroup(plan, edit.group()));
    ASR_RETURN_IF_ERROR(AddItems(&plan, gi, refs));
  } else if (op == "RemoveProtectedItems" || op == "MoveProtectedItems") {
    const bool move = op == "MoveProtectedItems";
    if (refs.empty()) return absl::InvalidArgumentError("name at least one VM of the plan");
    int to = -1;
    if (move) {
      ASR_ASSIGN_OR_RETURN(to, FindGroup(plan, edit.to_group()));
      ASR_RETURN_IF_ERROR(RequireBoot(plan, to, "holds no VMs"));
    }
    int from = -1;
    if (!edit.group().empty()) {
      ASR_ASSIGN_OR_RETURN(from, FindGroup(plan, edit.group()));
    }
    for (const std::string& ref : refs) {
      ASR_RETURN_IF_ERROR(ValidateIdentifier("VM", ref));
      // The VM may be gone from protection: match the plan's own records too.
      std::string id;
      absl::StatusOr<model::ProtectedItem> item = protection_->GetItem(ref);
      if (item.ok()) id = item->id();
      std::optional<std::pair<int, int>> at;
      for (int g = 0; g < plan.groups_size() && !at.has_value(); ++g) {
        const auto& items = plan.groups(g).replication_protected_items();
        for (int i = 0; i < items.size(); ++i) {
          const auto& p = items[i];
          if (p.id() == id || p.id() == ref || p.vm_name() == ref ||
              p.virtual_machine_id() == ref) {
            at = std::make_pair(g, i);
            break;
          }
        }
      }
      if (!at.has_value()) {
        return jobs::RuleError(
            absl::StatusCode::kNotFound, "RecoveryPlanVmNotInPlan",
            absl::StrCat("VM '", ref, "' is not in recovery plan '", plan.name(), "'"),
            "`asrctl plan show` lists the plan's VMs by group");
      }
      if (from >= 0 && at->first != from) {
        return jobs::RuleError(
            absl::StatusCode::kFailedPrecondition, "RecoveryPlanVmInOtherGroup",
            absl::StrCat("VM '", ref, "' is in ", plan.groups(at->first).name(), ", not in ",
                         plan.groups(from).name(), " of recovery plan '", plan.name(), "'"),
            absl::StrCat("name its group, ", plan.groups(at->first).name(),
                         ", or leave the group out"));
      }
      auto* items = plan.mutable_groups(at->first)->mutable_replication_protected_items();
      model::RecoveryPlanProtectedItem moved = (*items)[at->second];
      items->erase(items->begin() + at->second);
      if (move) *plan.mutable_groups(to)->add_replication_protected_items() = std::move(moved);
    }
    if (PlanItems(plan) == 0) {
      return jobs::RuleError(
          absl::StatusCode::kFailedPrecondition, "RecoveryPlanWouldBeEmpty",
          absl::StrCat("removing these VMs would leave recovery plan '", plan.name(),
                       "' without VMs"),
          absl::StrCat("delete the plan instead (asrctl plan delete ", plan.name(), ")"));
    }
  } else if (op == "MoveGroup") {
    ASR_ASSIGN_OR_RETURN(int gi, FindGroup(plan, edit.group()));
    ASR_RETURN_IF_ERROR(RequireBoot(plan, gi, "always runs before the Boot groups"));
    const int n = BootGroups(plan);
    if (edit.position() < 1 || edit.position() > n) {
      return absl::InvalidArgumentError(absl::StrCat("position ", edit.position(),
                                                     " is out of range; recovery plan '",
                                                     plan.name(), "' has Boot groups 1 .. ", n));
    }
    model::RecoveryPlanGroup g = plan.groups(gi);
    plan.mutable_groups()->erase(plan.mutable_groups()->begin() + gi);
    int boot = 0, at = plan.groups_size();
    for (int i = 0; i < plan.groups_size(); ++i) {
      if (plan.groups(i).group_type() == model::Boot && ++boot == edit.position()) {
        at = i;
        break;
      }
    }
    plan.mutable_groups()->Add(std::move(g));
    for (int i = plan.groups_size() - 1; i > at; --i) plan.mutable_groups()->SwapElements(i, i - 1);
  } else if (op == "AddAction") {
    ASR_ASSIGN_OR_RETURN(int gi, FindGroup(plan, edit.group()));
    ASR_RETURN_IF_ERROR(ValidateAction(plan, plan.groups(gi), edit.action()));
    const std::string placement = absl::AsciiStrToLower(edit.placement());
    if (placement != "start" && placement != "end") {
      return absl::InvalidArgumentError(
          absl::StrCat("placement '", edit.placement(),
                       "' is not Start or End (before or after the group's VMs)"));
    }
    auto* g = plan.mutable_groups(gi);
    *(placement == "start" ? g->add_start_group_actions() : g->add_end_group_actions()) =
        edit.action();
  } else if (op == "RemoveAction") {
    ASR_ASSIGN_OR_RETURN(int gi, FindGroup(plan, edit.group()));
    auto* g = plan.mutable_groups(gi);
    bool removed = false;
    for (auto* list : {g->mutable_start_group_actions(), g->mutable_end_group_actions()}) {
      for (int i = 0; i < list->size() && !removed; ++i) {
        if ((*list)[i].action_name() == edit.action_name()) {
          list->erase(list->begin() + i);
          removed = true;
        }
      }
    }
    if (!removed) {
      std::vector<std::string> names;
      for (const auto& a : g->start_group_actions()) names.push_back(a.action_name());
      for (const auto& a : g->end_group_actions()) names.push_back(a.action_name());
      return jobs::RuleError(absl::StatusCode::kNotFound, "RecoveryPlanActionNotFound",
                             absl::StrCat(g->name(), " of recovery plan '", plan.name(),
                                          "' has no action '", edit.action_name(), "'"),
                             names.empty()
                                 ? std::string("the group has no actions")
                                 : absl::StrCat("its actions: ", absl::StrJoin(names, ", ")));
    }
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown plan edit '", op,
        "'; use AppendGroup, RemoveGroup, AddProtectedItems, RemoveProtectedItems, MoveGroup, "
        "MoveProtectedItems, AddAction or RemoveAction"));
  }
  Renumber(&plan);
  plan.set_modified_time_unix(absl::ToUnixSeconds(clock_->Now()));
  ASR_RETURN_IF_ERROR(repo_->Put(plan));
  Decorate(&plan);
  return plan;
}

absl::Status RecoveryPlanService::Delete(absl::string_view plan_ref) {
  absl::MutexLock l(&mu_);
  ASR_ASSIGN_OR_RETURN(model::RecoveryPlan plan, Find(plan_ref));
  ASR_ASSIGN_OR_RETURN(std::string active, ActiveJobOf(plan.id()));
  if (!active.empty()) {
    return jobs::RuleError(absl::StatusCode::kFailedPrecondition, "RecoveryPlanJobActive",
                           absl::StrCat("recovery plan '", plan.name(), "' has job ", active,
                                        " in progress or suspended"),
                           absl::StrCat("let it finish, or cancel it (asrctl job cancel ", active,
                                        "), then delete the plan"));
  }
  return repo_->DeleteObject("recovery-plan", plan.id());
}

absl::StatusOr<model::Job> RecoveryPlanService::Run(absl::string_view plan_ref,
                                                    const model::RecoveryPlanRunRequest& request) {
  model::RecoveryPlanRunRequest r = request;
  if (!IsOperation(r.operation())) {
    return absl::InvalidArgumentError(absl::StrCat("unknown recovery plan operation '",
                                                   r.operation(), "'; use one of ",
                                                   absl::StrJoin(RecoveryPlanOperations(), ", ")));
  }
  if (r.direction().empty()) r.set_direction(DefaultDirection(r.operation()));
  if (r.direction() != kPrimaryToRecovery && r.direction() != kRecoveryToPrimary) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown failover direction '", r.direction(),
                     "'; use PrimaryToRecovery or RecoveryToPrimary"));
  }
  if (!r.multi_vm_sync_point().empty() && r.multi_vm_sync_point() != kUseMultiVm &&
      r.multi_vm_sync_point() != kUsePerVm) {
    return absl::InvalidArgumentError(absl::StrCat("unknown multi-VM sync point option '",
                                                   r.multi_vm_sync_point(), "'; use ", kUseMultiVm,
                                                   " or ", kUsePerVm));
  }
  if (r.multi_vm_sync_point() == kUseMultiVm && groups_ == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("replication groups are not available here; use ", kUsePerVm));
  }
  if (r.max_parallel() < 0 || r.max_parallel() > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat("max parallel ", r.max_parallel(), " is out of range; use 0 .. 1000"));
  }
  model::RecoveryPlanJob params;
  {
    absl::MutexLock l(&mu_);
    ASR_ASSIGN_OR_RETURN(*params.mutable_plan(), Find(plan_ref));
    ASR_ASSIGN_OR_RETURN(std::string active, ActiveJobOf(params.plan().id()));
    if (!active.empty()) {
      return jobs::RuleError(
          absl::StatusCode::kFailedPrecondition, "RecoveryPlanJobActive",
          absl::StrCat("recovery plan '", params.plan().name(), "' already has job ", active,
                       " in progress or suspended"),
          absl::StrCat("resume it (asrctl job resume ", active, ") or cancel it first"));
    }
    // Every VM must allow the operation now: a plan does not start what it
    // cannot finish.
    std::vector<std::string> refused;
    for (const auto& g : params.plan().groups()) {
      for (const auto& i : g.replication_protected_items()) {
        absl::StatusOr<model::ProtectedItem> item = protection_->GetItem(i.id());
        if (!item.ok()) {
          refused.push_back(absl::StrCat(Label(i), " (", item.status().message(), ")"));
        } else if (!Contains(item->allowed_operations(), r.operation())) {
          refused.push_back(absl::StrCat(
              Label(i), " (", model::ProtectionState_Name(item->protection_state()), ": allows ",
              item->allowed_operations().empty() ? std::string("nothing")
                                                 : absl::StrJoin(item->allowed_operations(), ", "),
              ")"));
        }
      }
    }
    if (!refused.empty()) {
      jobs::JobFilter f;
      f.target_object_id = params.plan().id();
      f.state = model::Failed;
      std::string restart;
      absl::StatusOr<std::vector<model::Job>> failed = jobs_->List(f);
      if (failed.ok() && !failed->empty() && failed->back().allowed_restart()) {
        restart =
            absl::StrCat("; if job ", failed->back().id(), " (", failed->back().scenario_name(),
                         ") stopped part way, restart it instead (asrctl job restart ",
                         failed->back().id(), ")");
      }
      return jobs::RuleError(
          absl::StatusCode::kFailedPrecondition, "OperationNotAllowedInState",
          absl::StrCat(r.operation(), " of recovery plan '", params.plan().name(),
                       "' is not allowed now for ", refused.size(),
                       " VM(s): ", absl::StrJoin(refused, "; ")),
          absl::StrCat("bring those VMs to a state that allows ", r.operation(),
                       " (asrctl item show), or remove them from the plan", restart));
    }
  }
  *params.mutable_request() = r;
  jobs::JobSpec spec = jobs::JobSpec::For(
      RecoveryPlanScenario(r.operation()),
      absl::StrCat(r.operation(), " of recovery plan ", params.plan().name(), " (", r.direction(),
                   ")"),
      "recovery-plan", params.plan().id(), params.plan().name(), model::ToJson(params));
  return jobs_->Run(spec);
}

absl::Status RecoveryPlanService::Execute(jobs::JobContext& ctx) {
  model::RecoveryPlanJob params;
  ASR_RETURN_IF_ERROR(model::FromJson(ctx.parameters(), &params));
  ItemFailover* failover;
  {
    absl::MutexLock l(&mu_);
    failover = failover_;
  }
  if (failover == nullptr) {
    return absl::FailedPreconditionError("failover is not available: no per-VM failover is set");
  }
  const std::string plan_id = params.plan().id();
  const std::string operation = params.request().operation();
  RecordOutcome(plan_id, ctx.job(), operation, nullptr);
  PlanRun run(this, ctx, std::move(params), failover);
  absl::Status s = run.Run();
  RecordOutcome(plan_id, ctx.job(), operation, &s);
  return s;
}

void RecoveryPlanService::RecordOutcome(const std::string& plan_id, const model::Job& job,
                                        absl::string_view operation, const absl::Status* result) {
  absl::MutexLock l(&mu_);
  absl::StatusOr<model::RecoveryPlan> plan = repo_->Get<model::RecoveryPlan>(plan_id);
  if (!plan.ok()) return;  // deleted meanwhile: nothing to record
  model::CurrentScenario* c = plan->mutable_current_scenario();
  c->set_scenario_name(job.scenario_name());
  c->set_job_id(job.id());
  c->set_start_time_unix(job.start_time_unix());
  std::string status;
  if (result == nullptr) {
    status = "InProgress";
  } else if (result->ok()) {
    status = "Succeeded";
    const int64_t now = absl::ToUnixSeconds(clock_->Now());
    if (operation == kPlannedFailover || operation == kFailback) {
      plan->set_last_planned_failover_time_unix(now);
    } else if (operation == kUnplannedFailover) {
      plan->set_last_unplanned_failover_time_unix(now);
    } else if (operation == kTestFailover) {
      plan->set_last_test_failover_time_unix(now);
    }
  } else if (jobs::IsSuspension(*result)) {
    status = "Suspended";
  } else if (result->code() == absl::StatusCode::kCancelled) {
    status = "Cancelled";
  } else {
    status = "Failed";
  }
  plan->set_current_scenario_status(status);
  // The outcome is bookkeeping: a failure to record it does not change the job's.
  repo_->Put(*plan).IgnoreError();
}

}  // namespace asr::failover
