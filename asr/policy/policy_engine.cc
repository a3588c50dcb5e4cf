#include "asr/policy/policy_engine.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "asr/common/status_macros.h"
#include "asr/fabric/protection_queries.h"
#include "asr/model/json.h"
#include "asr/policy/operations.pb.h"

namespace asr::policy {

using jobs::RuleError;

bool HostMatchesProvider(model::HostOsVersion os, model::ReplicationProvider provider) {
  switch (provider) {
    case model::HyperVReplica2012:
      return os == model::WINDOWS_SERVER_2012;
    case model::HyperVReplica2012R2:
      return os == model::WINDOWS_SERVER_2012_R2 || os == model::WINDOWS_SERVER_2016_OR_LATER;
    default:
      return false;
  }
}

std::string OsVersionName(model::HostOsVersion os) {
  switch (os) {
    case model::WINDOWS_SERVER_2012:
      return "Windows Server 2012";
    case model::WINDOWS_SERVER_2012_R2:
      return "Windows Server 2012 R2";
    case model::WINDOWS_SERVER_2016_OR_LATER:
      return "Windows Server 2016 or later";
    default:
      return "an unknown OS version";
  }
}

namespace {

std::string ProviderHosts(model::ReplicationProvider p) {
  return p == model::HyperVReplica2012 ? "Windows Server 2012"
                                       : "Windows Server 2012 R2 (or later)";
}

template <typename P>
absl::StatusOr<P> Params(const jobs::JobContext& ctx) {
  P p;
  ASR_RETURN_IF_ERROR(model::FromJson(ctx.parameters(), &p));
  return p;
}

// The computer a UNC path (\\server\share\...) is on; "" for other paths.
std::string UncServer(absl::string_view path) {
  if (!absl::StartsWith(path, "\\\\") && !absl::StartsWith(path, "//")) return "";
  path.remove_prefix(2);
  std::vector<std::string> parts = absl::StrSplit(path, absl::ByAnyChar("\\/"));
  return parts.empty() ? "" : absl::AsciiStrToLower(parts[0]);
}

bool IsAbsoluteWindowsPath(absl::string_view p) {
  if (!UncServer(p).empty()) return true;
  return p.size() >= 3 && absl::ascii_isalpha(static_cast<unsigned char>(p[0])) && p[1] == ':' &&
         (p[2] == '\\' || p[2] == '/');
}

// The protected VMs of `pairing`: while there are any, its policy stays.
absl::StatusOr<std::vector<std::string>> ProtectedVmsOfPairing(
    const repository::ObjectRepository& repo, const model::CloudPairing& pairing) {
  return fabric::ProtectedVmNames(
      repo, [&](const model::ProtectedItem& item, const model::VirtualMachine*) {
        return item.pairing_id() == pairing.id();
      });
}

}  // namespace

absl::Status PolicyEngine::RegisterScenarios() {
  ASR_RETURN_IF_ERROR(
      jobs_->RegisterScenario("SavePolicy", [this](jobs::JobContext& c) { return RunSave(c); }));
  ASR_RETURN_IF_ERROR(jobs_->RegisterScenario(
      "DeletePolicy", [this](jobs::JobContext& c) { return RunDelete(c); }));
  ASR_RETURN_IF_ERROR(jobs_->RegisterScenario(
      "AssociatePolicy", [this](jobs::JobContext& c) { return RunAssociate(c); }));
  ASR_RETURN_IF_ERROR(jobs_->RegisterScenario(
      "DissociatePolicy", [this](jobs::JobContext& c) { return RunDissociate(c); }));
  return absl::OkStatus();
}

absl::StatusOr<model::ReplicationPolicy> PolicyEngine::Normalize(model::ReplicationPolicy p) const {
  if (p.name().empty()) return absl::InvalidArgumentError("a replication policy needs a name");
  if (p.id().empty()) p.set_id(fabric::ServerIdFor(p.name()));
  const bool r2 = p.replication_provider() == model::HyperVReplica2012R2;
  if (p.replication_provider() != model::HyperVReplica2012 && !r2) {
    return absl::InvalidArgumentError(
        "the replication provider is required: HyperVReplica2012 (Windows Server 2012 hosts) or "
        "HyperVReplica2012R2 (Windows Server 2012 R2 and later)");
  }
  int freq = p.replication_frequency_in_seconds();
  if (!r2) {
    if (freq != 0 && freq != 300) {
      return RuleError(absl::StatusCode::kInvalidArgument, "CopyFrequencyFixedOn2012",
                       absl::StrCat("HyperVReplica2012 copies every 300 seconds; the copy "
                                    "frequency setting (",
                                    freq,
                                    " s) is refused: only Windows "
                                    "Server 2012 R2 and later honour it"),
                       "omit the copy frequency, or use HyperVReplica2012R2");
    }
    p.set_replication_frequency_in_seconds(300);
  } else {
    if (freq == 0) freq = 300;
    if (freq != 30 && freq != 300 && freq != 900) {
      return RuleError(absl::StatusCode::kInvalidArgument, "CopyFrequencyValues",
                       absl::StrCat("copy frequency ", freq, " s is not allowed"),
                       "use 30, 300 or 900 seconds");
    }
    p.set_replication_frequency_in_seconds(freq);
  }
  int max_points = r2 ? 24 : 15;
  int points = p.number_of_recovery_points_to_retain();
  if (points < 0 || points > max_points) {
    return RuleError(absl::StatusCode::kInvalidArgument, "RecoveryPointsRange",
                     absl::StrCat(points, " additional recovery points are out of range for ",
                                  model::ReplicationProvider_Name(p.replication_provider()),
                                  " (0 to ", max_points, ")"),
                     absl::StrCat("choose 0 (only the latest) to ", max_points));
  }
  int app = p.application_consistent_snapshot_frequency_in_hours();
  if (app < 0 || app > 12) {
    return RuleError(
        absl::StatusCode::kInvalidArgument, "AppConsistentFrequencyRange",
        absl::StrCat("application-consistent snapshot frequency ", app, " h is out of range"),
        "use 0 (off) or 1 to 12 hours");
  }
  if (app > 0 && app >= points) {
    return RuleError(absl::StatusCode::kInvalidArgument, "AppConsistentLessThanRecoveryPoints",
                     absl::StrCat("application-consistent snapshot frequency ", app,
                                  " h must be less than the number of additional recovery "
                                  "points (",
                                  points, ")"),
                     absl::StrCat("keep more than ", app,
                                  " recovery points, take snapshots more often, or turn them off "
                                  "(0)"));
  }
  if (p.authentication() == model::AUTHENTICATION_TYPE_UNSPECIFIED) {
    p.set_authentication(model::Certificate);
  }
  if (p.replication_port() == 0) {
    p.set_replication_port(p.authentication() == model::Kerberos ? 8083 : 8084);
  }
  if (p.replication_port() < 1 || p.replication_port() > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("replication port ", p.replication_port(),
                                                   " is out of range; use 1 to 65535"));
  }
  if (p.replication_method() == model::INITIAL_REPLICATION_METHOD_UNSPECIFIED) {
    p.set_replication_method(model::OverNetwork);
  }
  if (p.replication_method() == model::OverNetwork) {
    if (!p.offline_export_path().empty() || !p.offline_import_path().empty()) {
      return absl::InvalidArgumentError(
          "export and import paths apply only to Offline initial replication");
    }
    int64_t start = p.replication_start_time_unix();
    int64_t now = absl::ToUnixSeconds(clock_->Now());
    if (start != 0 && start < now) {
      return RuleError(
          absl::StatusCode::kInvalidArgument, "ReplicationStartWithin24Hours",
          absl::StrCat("replication start time ", fabric::FormatUnixTime(start), " is in the past"),
          "start now (no start time) or at a time within the next 24 hours");
    }
    if (start > now + 24 * 3600) {
      return RuleError(absl::StatusCode::kInvalidArgument, "ReplicationStartWithin24Hours",
                       absl::StrCat("replication start time ", fabric::FormatUnixTime(start),
                                    " is more than 24 hours ahead (latest ",
                                    fabric::FormatUnixTime(now + 24 * 3600), ")"),
                       "choose a start time within the next 24 hours");
    }
  } else {
    if (p.replication_start_time_unix() != 0) {
      return absl::InvalidArgumentError(
          "a replication start time applies only to OverNetwork (Online) initial replication");
    }
    if (p.offline_export_path().empty() || p.offline_import_path().empty()) {
      return RuleError(absl::StatusCode::kInvalidArgument, "OfflineNeedsExportAndImportPaths",
                       "Offline initial replication needs an export path and an import path",
                       "give both (--offline-export-path, --offline-import-path)");
    }
    for (const std::string& path : {p.offline_export_path(), p.offline_import_path()}) {
      if (!IsAbsoluteWindowsPath(path) && (path.empty() || path[0] != '/')) {
        return absl::InvalidArgumentError(absl::StrCat(
            "offline path '", path,
            "' is not a full path (\\\\server\\share\\dir, D:\\dir, or /dir on a POSIX host)"));
      }
    }
  }
  if (p.replica_deletion() == model::REPLICA_DELETION_UNSPECIFIED) {
    p.set_replica_deletion(model::NotRequired);
  }
  if (p.recovery_point_retention_in_hours() < 0) {
    return absl::InvalidArgumentError("recovery point retention cannot be negative");
  }
  return p;
}

absl::Status PolicyEngine::CheckOfflinePaths(const model::ReplicationPolicy& p) const {
  if (p.replication_method() != model::Offline) return absl::OkStatus();
  ASR_ASSIGN_OR_RETURN(std::vector<model::HyperVHost> hosts, repo_->List<model::HyperVHost>());
  for (const auto& [what, path] : {std::make_pair("export", p.offline_export_path()),
                                   std::make_pair("import", p.offline_import_path())}) {
    std::string server = UncServer(path);
    if (server.empty()) continue;
    std::string server_short = server.substr(0, server.find('.'));
    for (const auto& h : hosts) {
      std::string name = absl::AsciiStrToLower(h.name());
      std::string name_short = name.substr(0, name.find('.'));
      if (server == name || server == name_short || server_short == name_short) {
        return RuleError(
            absl::StatusCode::kFailedPrecondition, "OfflinePathsNotOnHyperVHost",
            absl::StrCat("the offline ", what, " path '", path, "' is on Hyper-V host '", h.name(),
                         "'; Hyper-V does not support that loopback configuration"),
            "put the export and import shares on computers that are not Hyper-V "
            "hosts");
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<model::HyperVHost>> PolicyEngine::HostsOfCloud(
    absl::string_view cloud_id) const {
  ASR_ASSIGN_OR_RETURN(model::Cloud cloud, repo_->Get<model::Cloud>(cloud_id));
  std::set<std::string> groups(cloud.host_group_ids().begin(), cloud.host_group_ids().end());
  std::set<std::string> listed;
  for (const std::string& g : groups) {
    auto group = repo_->Get<model::HostGroup>(g);
    if (group.ok()) listed.insert(group->host_ids().begin(), group->host_ids().end());
  }
  ASR_ASSIGN_OR_RETURN(std::vector<model::HyperVHost> all, repo_->List<model::HyperVHost>());
  std::vector<model::HyperVHost> out;
  for (auto& h : all) {
    if (groups.count(h.host_group_id()) || listed.count(h.id())) out.push_back(std::move(h));
  }
  return out;
}

absl::Status PolicyEngine::CheckHostVersions(const model::ReplicationPolicy& policy,
                                             const model::CloudPairing& pairing) const {
  ASR_ASSIGN_OR_RETURN(std::vector<model::HyperVHost> hosts,
                       HostsOfCloud(pairing.primary_cloud_id()));
  std::vector<std::string> wrong;
  for (const auto& h : hosts) {
    if (!HostMatchesProvider(h.os_version(), policy.replication_provider())) {
      wrong.push_back(absl::StrCat(h.name(), " (", OsVersionName(h.os_version()), ")"));
    }
  }
  if (!wrong.empty()) {
    auto cloud = repo_->Get<model::Cloud>(pairing.primary_cloud_id());
    return RuleError(
        absl::StatusCode::kFailedPrecondition, "HostsRunPolicyOsVersion",
        absl::StrCat("policy '", policy.name(), "' is for ",
                     ProviderHosts(policy.replication_provider()),
                     " hosts, but these hosts of "
                     "cloud '",
                     cloud.ok() ? cloud->name() : pairing.primary_cloud_id(),
                     "' are not: ", absl::StrJoin(wrong, ", "),
                     "; all hosts under one policy run the same OS version"),
        "a cloud with mixed host versions needs several policies: group the hosts by OS version "
        "into clouds and give each its policy (HyperVReplica2012 for Windows Server 2012, "
        "HyperVReplica2012R2 for 2012 R2 and later)");
  }
  return absl::OkStatus();
}

absl::Status PolicyEngine::ConfigureHosts(jobs::JobContext& ctx,
                                          const model::ReplicationPolicy& policy,
                                          const model::CloudPairing& pairing) {
  fabric::HostCallbacks* host = fabric_->host();
  for (const auto& [cloud_id, role] :
       {std::make_pair(pairing.primary_cloud_id(), fabric::HostRole::kPrimary),
        std::make_pair(pairing.recovery_cloud_id(), fabric::HostRole::kRecovery)}) {
    ASR_ASSIGN_OR_RETURN(std::vector<model::HyperVHost> hosts, HostsOfCloud(cloud_id));
    for (const auto& h : hosts) {
      bool primary = role == fabric::HostRole::kPrimary;
      const fabric::HostRole host_role = role;  // a lambda cannot capture a binding in clang 14
      ASR_RETURN_IF_ERROR(ctx.RunTask(
          absl::StrCat("configure:", pairing.id(), ":", h.id()),
          absl::StrCat("Configure ", primary ? "host " : "replica host ", h.name(), " for policy ",
                       policy.name()),
          [&]() -> absl::Status {
            if (host == nullptr) {
              ctx.AddInformation(absl::StrCat("host ", h.name(),
                                              " was not configured: no host callback is "
                                              "installed"));
              return absl::OkStatus();
            }
            absl::Status s = host->ConfigureHost(h, policy, host_role);
            if (!s.ok()) {
              return RuleError(s.code(), "HostConfiguredForPolicy",
                               absl::StrCat("host ", h.name(),
                                            " could not be configured for "
                                            "policy '",
                                            policy.name(), "': ", s.message()),
                               absl::StrCat("make sure port ", policy.replication_port(),
                                            " is free and open in the host's firewall and the "
                                            "host is reachable, then restart the job"));
            }
            return absl::OkStatus();
          }));
    }
  }
  return absl::OkStatus();
}

// ---- Save ---------------------------------------------------------------------

absl::StatusOr<model::Job> PolicyEngine::CreatePolicy(const model::ReplicationPolicy& policy) {
  ASR_ASSIGN_OR_RETURN(model::ReplicationPolicy p, Normalize(policy));
  absl::MutexLock l(&fabric_->operation_mutex());
  SavePolicyParams params;
  *params.mutable_policy() = p;
  jobs::JobSpec spec =
      jobs::JobSpec::For("SavePolicy", absl::StrCat("Create replication policy ", p.name()),
                         "policy", p.id(), p.name(), model::ToJson(params));
  return jobs_->Run(spec);
}

absl::StatusOr<model::Job> PolicyEngine::UpdatePolicy(const model::ReplicationPolicy& policy) {
  model::ReplicationPolicy in = policy;
  auto existing = FindPolicy(in.id().empty() ? in.name() : in.id());
  if (!existing.ok()) return existing.status();
  in.set_id(existing->id());
  if (in.name().empty()) in.set_name(existing->name());
  ASR_ASSIGN_OR_RETURN(model::ReplicationPolicy p, Normalize(in));
  absl::MutexLock l(&fabric_->operation_mutex());
  SavePolicyParams params;
  *params.mutable_policy() = p;
  params.set_is_update(true);
  jobs::JobSpec spec =
      jobs::JobSpec::For("SavePolicy", absl::StrCat("Update replication policy ", p.name()),
                         "policy", p.id(), p.name(), model::ToJson(params));
  return jobs_->Run(spec);
}

absl::Status PolicyEngine::RunSave(jobs::JobContext& ctx) {
  ASR_ASSIGN_OR_RETURN(SavePolicyParams params, Params<SavePolicyParams>(ctx));
  const model::ReplicationPolicy& p = params.policy();
  std::vector<model::CloudPairing> associated;
  ASR_RETURN_IF_ERROR(ctx.RunTask("validate", "Check the policy rules", [&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(std::vector<model::ReplicationPolicy> all,
                         repo_->List<model::ReplicationPolicy>());
    bool exists = false;
    for (const auto& other : all) {
      if (other.id() == p.id()) {
        exists = true;
        if (params.is_update() && other.replication_provider() != p.replication_provider()) {
          ASR_ASSIGN_OR_RETURN(std::vector<model::CloudPairing> pairings,
                               repo_->List<model::CloudPairing>());
          for (const auto& pr : pairings) {
            if (pr.policy_id() == p.id()) {
              return RuleError(
                  absl::StatusCode::kFailedPrecondition, "AssociatedPolicyKeepsProvider",
                  absl::StrCat("policy '", p.name(), "' is associated with pairing '", pr.id(),
                               "', so its replication provider cannot "
                               "change"),
                  "create a new policy for the other host version, or dissociate "
                  "this one first");
            }
          }
        }
        continue;
      }
      if (absl::AsciiStrToLower(other.name()) == absl::AsciiStrToLower(p.name())) {
        return RuleError(
            absl::StatusCode::kAlreadyExists, "PolicyNameUnique",
            absl::StrCat("a replication policy named '", other.name(), "' already exists"),
            "choose another name, or update that policy");
      }
    }
    if (exists && !params.is_update()) {
      return RuleError(absl::StatusCode::kAlreadyExists, "PolicyNameUnique",
                       absl::StrCat("replication policy '", p.id(), "' already exists"),
                       "choose another name, or update that policy ('asrctl policy update')");
    }
    ASR_RETURN_IF_ERROR(CheckOfflinePaths(p));
    ASR_ASSIGN_OR_RETURN(std::vector<model::CloudPairing> pairings,
                         repo_->List<model::CloudPairing>());
    for (const auto& pr : pairings) {
      if (pr.policy_id() == p.id()) {
        ASR_RETURN_IF_ERROR(CheckHostVersions(p, pr));
        associated.push_back(pr);
      }
    }
    return absl::OkStatus();
  }));
  if (associated.empty()) {
    // On restart the validate task is skipped: recompute the associations.
    ASR_ASSIGN_OR_RETURN(std::vector<model::CloudPairing> pairings,
                         repo_->List<model::CloudPairing>());
    for (const auto& pr : pairings) {
      if (pr.policy_id() == p.id()) associated.push_back(pr);
    }
  }
  ASR_RETURN_IF_ERROR(
      ctx.RunTask("save", "Save the replication policy", [&] { return repo_->Put(p); }));
  for (const auto& pr : associated) ASR_RETURN_IF_ERROR(ConfigureHosts(ctx, p, pr));
  ctx.SetResult(model::ToJson(p));
  return absl::OkStatus();
}

// ---- Delete -------------------------------------------------------------------

absl::StatusOr<model::Job> PolicyEngine::DeletePolicy(absl::string_view policy_ref) {
  absl::MutexLock l(&fabric_->operation_mutex());
  ASR_ASSIGN_OR_RETURN(model::ReplicationPolicy p, FindPolicy(policy_ref));
  PolicyPairingParams params;
  params.set_policy_id(p.id());
  jobs::JobSpec spec =
      jobs::JobSpec::For("DeletePolicy", absl::StrCat("Delete replication policy ", p.name()),
                         "policy", p.id(), p.name(), model::ToJson(params));
  return jobs_->Run(spec);
}

absl::Status PolicyEngine::RunDelete(jobs::JobContext& ctx) {
  ASR_ASSIGN_OR_RETURN(PolicyPairingParams params, Params<PolicyPairingParams>(ctx));
  ASR_ASSIGN_OR_RETURN(model::ReplicationPolicy p,
                       repo_->Get<model::ReplicationPolicy>(params.policy_id()));
  ASR_RETURN_IF_ERROR(ctx.RunTask("validate", "Check that the policy is unused", [&] {
    ASR_ASSIGN_OR_RETURN(std::vector<std::string> vms,
                         fabric::ProtectedVmNames(*repo_, [&](const model::ProtectedItem& item,
                                                              const model::VirtualMachine*) {
                           return item.policy_id() == p.id();
                         }));
    if (!vms.empty()) {
      return RuleError(absl::StatusCode::kFailedPrecondition, "PolicyInUseNotDeleted",
                       absl::StrCat("replication policy '", p.name(),
                                    "' is in use by protected VMs: ", absl::StrJoin(vms, ", ")),
                       "disable protection of these VMs first");
    }
    ASR_ASSIGN_OR_RETURN(std::vector<model::CloudPairing> pairings,
                         repo_->List<model::CloudPairing>());
    for (const auto& pr : pairings) {
      if (pr.policy_id() == p.id()) {
        return RuleError(absl::StatusCode::kFailedPrecondition, "PolicyInUseNotDeleted",
                         absl::StrCat("replication policy '", p.name(),
                                      "' is associated with pairing '", pr.id(), "'"),
                         absl::StrCat("dissociate it first ('asrctl policy dissociate --pairing ",
                                      pr.id(), "')"));
      }
    }
    return absl::OkStatus();
  }));
  ASR_RETURN_IF_ERROR(ctx.RunTask("delete", "Delete the replication policy",
                                  [&] { return repo_->DeleteObject("policy", p.id()); }));
  ctx.SetResult(model::ToJson(p));
  return absl::OkStatus();
}

// ---- Association --------------------------------------------------------------

absl::StatusOr<model::Job> PolicyEngine::AssociatePolicy(absl::string_view policy_ref,
                                                         absl::string_view pairing_ref) {
  absl::MutexLock l(&fabric_->operation_mutex());
  ASR_ASSIGN_OR_RETURN(model::ReplicationPolicy p, FindPolicy(policy_ref));
  ASR_ASSIGN_OR_RETURN(model::CloudPairing pairing, fabric_->FindPairing(pairing_ref));
  PolicyPairingParams params;
  params.set_policy_id(p.id());
  params.set_pairing_id(pairing.id());
  jobs::JobSpec spec = jobs::JobSpec::For(
      "AssociatePolicy", absl::StrCat("Associate policy ", p.name(), " with ", pairing.id()),
      "pairing", pairing.id(), pairing.id(), model::ToJson(params));
  return jobs_->Run(spec);
}

absl::Status PolicyEngine::RunAssociate(jobs::JobContext& ctx) {
  ASR_ASSIGN_OR_RETURN(PolicyPairingParams params, Params<PolicyPairingParams>(ctx));
  ASR_ASSIGN_OR_RETURN(model::ReplicationPolicy p,
                       repo_->Get<model::ReplicationPolicy>(params.policy_id()));
  ASR_ASSIGN_OR_RETURN(model::CloudPairing pairing,
                       repo_->Get<model::CloudPairing>(params.pairing_id()));
  ASR_RETURN_IF_ERROR(ctx.RunTask("validate", "Check the association rules", [&] {
    if (!pairing.policy_id().empty() && pairing.policy_id() != p.id()) {
      ASR_ASSIGN_OR_RETURN(std::vector<std::string> vms, ProtectedVmsOfPairing(*repo_, pairing));
      if (!vms.empty()) {
        return RuleError(absl::StatusCode::kFailedPrecondition, "PolicyOfProtectedPairingKept",
                         absl::StrCat("pairing '", pairing.id(), "' protects VMs under policy '",
                                      pairing.policy_id(), "': ", absl::StrJoin(vms, ", ")),
                         "disable their protection first, or update that policy instead");
      }
    }
    return CheckHostVersions(p, pairing);
  }));
  ASR_RETURN_IF_ERROR(ConfigureHosts(ctx, p, pairing));
  pairing.set_policy_id(p.id());
  ASR_RETURN_IF_ERROR(ctx.RunTask("associate", "Associate the policy with the pairing",
                                  [&] { return repo_->Put(pairing); }));
  ctx.SetResult(model::ToJson(pairing));
  return absl::OkStatus();
}

absl::StatusOr<model::Job> PolicyEngine::DissociatePolicy(absl::string_view pairing_ref) {
  absl::MutexLock l(&fabric_->operation_mutex());
  ASR_ASSIGN_OR_RETURN(model::CloudPairing pairing, fabric_->FindPairing(pairing_ref));
  if (pairing.policy_id().empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("pairing '", pairing.id(), "' has no policy to dissociate"));
  }
  PolicyPairingParams params;
  params.set_policy_id(pairing.policy_id());
  params.set_pairing_id(pairing.id());
  jobs::JobSpec spec = jobs::JobSpec::For(
      "DissociatePolicy",
      absl::StrCat("Dissociate policy ", pairing.policy_id(), " from ", pairing.id()), "pairing",
      pairing.id(), pairing.id(), model::ToJson(params));
  return jobs_->Run(spec);
}

absl::Status PolicyEngine::RunDissociate(jobs::JobContext& ctx) {
  ASR_ASSIGN_OR_RETURN(PolicyPairingParams params, Params<PolicyPairingParams>(ctx));
  ASR_ASSIGN_OR_RETURN(model::CloudPairing pairing,
                       repo_->Get<model::CloudPairing>(params.pairing_id()));
  ASR_RETURN_IF_ERROR(ctx.RunTask("validate", "Check that the pairing protects nothing", [&] {
    ASR_ASSIGN_OR_RETURN(std::vector<std::string> vms, ProtectedVmsOfPairing(*repo_, pairing));
    if (!vms.empty()) {
      return RuleError(absl::StatusCode::kFailedPrecondition, "PolicyOfProtectedPairingKept",
                       absl::StrCat("pairing '", pairing.id(), "' protects VMs under policy '",
                                    pairing.policy_id(), "': ", absl::StrJoin(vms, ", ")),
                       "disable their protection first");
    }
    return absl::OkStatus();
  }));
  pairing.clear_policy_id();
  ASR_RETURN_IF_ERROR(
      ctx.RunTask("dissociate", "Dissociate the policy", [&] { return repo_->Put(pairing); }));
  ctx.SetResult(model::ToJson(pairing));
  return absl::OkStatus();
}

absl::StatusOr<model::ReplicationPolicy> PolicyEngine::FindPolicy(absl::string_view ref) const {
  if (ref.empty()) return absl::InvalidArgumentError("name the replication policy");
  auto by_id = repo_->Get<model::ReplicationPolicy>(ref);
  if (by_id.ok()) return by_id;
  ASR_ASSIGN_OR_RETURN(std::vector<model::ReplicationPolicy> all,
                       repo_->List<model::ReplicationPolicy>());
  for (const auto& p : all) {
    if (p.name() == ref) return p;
  }
  return absl::NotFoundError(absl::StrCat("no replication policy '", ref, "'"));
}

}  // namespace asr::policy
