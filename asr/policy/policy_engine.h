// asr/policy/policy_engine.h: replication policies (cloud protection
// settings) with the Site Recovery value sets, and their association with
// cloud pairings. Saving, associating, updating and deleting each run as a
// job (asr/jobs/job_manager.h); associating and saving an associated policy
// configure every host of the pairing through the host callback, one task
// per host.
//
//   PolicyEngine policies(&repo, &jobs, &fabric, &clock);
//   ASR_RETURN_IF_ERROR(policies.RegisterScenarios());
//   model::ReplicationPolicy p;
//   p.set_name("gold-policy");
//   p.set_replication_provider(model::HyperVReplica2012R2);
//   p.set_replication_frequency_in_seconds(30);
//   p.set_number_of_recovery_points_to_retain(4);
//   p.set_application_consistent_snapshot_frequency_in_hours(2);
//   ASR_ASSIGN_OR_RETURN(model::Job job, policies.CreatePolicy(p));
//   ASR_ASSIGN_OR_RETURN(job, policies.AssociatePolicy("gold-policy", "GoldCloud1"));
//
// Value rules (Normalize; InvalidArgument without a job when broken):
//   provider HyperVReplica2012 | HyperVReplica2012R2 (required)
//   copy frequency 30 | 300 | 900 s; HyperVReplica2012: fixed at 300, any
//     other value is refused
//   additional recovery points 0..24 (0..15 on HyperVReplica2012)
//   app-consistent snapshots 0 (off) or 1..12 h, and when on less than the
//     number of recovery points
//   authentication Certificate (default port 8084) | Kerberos (8083)
//   replication port 1..65535 (0: the authentication's default)
//   initial replication OverNetwork (now, or a start time at most 24 h
//     ahead) | Offline (export and import paths, both required)
//   replica deletion Required | NotRequired (default NotRequired)
// Rules checked in the job against the fabric:
//   policy names are unique; offline export/import paths are not on a
//   Hyper-V host of the fabric; a policy associated with a pairing needs
//   every host of the primary cloud on the policy's OS version (the error
//   lists the hosts that are not); a policy in use by protected VMs or
//   associated with a pairing is not deleted; the provider of an associated
//   policy does not change.
//
// Association, step by step (job "AssociatePolicy"):
//
//   Validate --pairing protects VMs under another policy / hosts on another
//      |      OS version--> refused
//   ConfigureHost(h) for each host of the primary cloud (role primary) and
//      |   of the recovery cloud (role recovery): one task each; a failure
//      |   fails the job, Restart configures the remaining hosts
//   Associate: pairing.policy_id = policy
//
// Thread safety: operations are serialized with the fabric's operation
// mutex; lookups and Normalize may run concurrently.
#ifndef ASR_POLICY_POLICY_ENGINE_H_
#define ASR_POLICY_POLICY_ENGINE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asr/common/clock.h"
#include "asr/fabric/fabric_service.h"
#include "asr/jobs/job_manager.h"
#include "asr/model/protection.pb.h"
#include "asr/repository/object_repository.h"

namespace asr::policy {

class PolicyEngine {
 public:
  PolicyEngine(repository::ObjectRepository* repo, jobs::JobManager* jobs,
               fabric::FabricService* fabric, const Clock* clock)
      : repo_(repo), jobs_(jobs), fabric_(fabric), clock_(clock) {}

  // Registers SavePolicy, DeletePolicy, AssociatePolicy, DissociatePolicy.
  absl::Status RegisterScenarios();

  // Checks the value rules and fills defaults (id from the name, port from
  // the authentication, frequency 300 on 2012, OverNetwork, NotRequired).
  absl::StatusOr<model::ReplicationPolicy> Normalize(model::ReplicationPolicy policy) const;

  // Job "SavePolicy"; result: the stored model::ReplicationPolicy.
  absl::StatusOr<model::Job> CreatePolicy(const model::ReplicationPolicy& policy);
  // Job "SavePolicy" on an existing policy (named by id, else by name),
  // reconfiguring the hosts of every pairing it is associated with.
  absl::StatusOr<model::Job> UpdatePolicy(const model::ReplicationPolicy& policy);
  // Job "DeletePolicy"; refused while protected VMs use it or a pairing has it.
  absl::StatusOr<model::Job> DeletePolicy(absl::string_view policy_ref);
  // Job "AssociatePolicy"; result: the model::CloudPairing. The pairing is
  // named by id or by its primary cloud.
  absl::StatusOr<model::Job> AssociatePolicy(absl::string_view policy_ref,
                                             absl::string_view pairing_ref);
  // Job "DissociatePolicy"; refused while the pairing protects VMs.
  absl::StatusOr<model::Job> DissociatePolicy(absl::string_view pairing_ref);

  absl::StatusOr<model::ReplicationPolicy> FindPolicy(absl::string_view ref) const;

 private:
  absl::Status RunSave(jobs::JobContext& ctx);
  absl::Status RunDelete(jobs::JobContext& ctx);
  absl::Status RunAssociate(jobs::JobContext& ctx);
  absl::Status RunDissociate(jobs::JobContext& ctx);
  absl::Status CheckOfflinePaths(const model::ReplicationPolicy& policy) const;
  absl::Status CheckHostVersions(const model::ReplicationPolicy& policy,
                                 const model::CloudPairing& pairing) const;
  absl::Status ConfigureHosts(jobs::JobContext& ctx, const model::ReplicationPolicy& policy,
                              const model::CloudPairing& pairing);
  absl::StatusOr<std::vector<model::HyperVHost>> HostsOfCloud(absl::string_view cloud_id) const;

  repository::ObjectRepository* repo_;
  jobs::JobManager* jobs_;
  fabric::FabricService* fabric_;
  const Clock* clock_;
};

// The OS version a provider's hosts must run: HyperVReplica2012 ->
// Windows Server 2012; HyperVReplica2012R2 -> 2012 R2 or later.
bool HostMatchesProvider(model::HostOsVersion os, model::ReplicationProvider provider);
std::string OsVersionName(model::HostOsVersion os);

}  // namespace asr::policy

#endif  // ASR_POLICY_POLICY_ENGINE_H_
