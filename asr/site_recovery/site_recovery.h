// asr/site_recovery/site_recovery.h: the one object the C API, the CLI and
// embedders hold. A SiteRecovery owns one state directory's object
// repository, the one job manager (and with it the job-id sequence) and every
// service that works on them: the fabric (vault, registration, inventory,
// cloud pairing), replication policies, network/storage mapping and
// protection of VMs and their failover. Every job scenario, mapping
// propagation, protection and failover included, is registered here once.
// The site service (asr/protection/site_service.h), which schedules
// replication and serves replicas, runs over a SiteRecovery.
//
//   asr::SiteRecoveryOptions options;
//   options.host = &host;   // the VMM host side; may be null
//   ASR_ASSIGN_OR_RETURN(std::unique_ptr<asr::SiteRecovery> sr,
//                        asr::SiteRecovery::Open("/var/lib/asr", options));
//   ASR_RETURN_IF_ERROR(sr->Initialize());   // sites "primary", "recovery"
//   ASR_ASSIGN_OR_RETURN(model::Job job, sr->fabric().PairClouds("GoldCloud1", "GoldCloud2"));
//   ASR_ASSIGN_OR_RETURN(job, sr->policies().AssociatePolicy("gold", "GoldCloud1"));
//   ASR_ASSIGN_OR_RETURN(std::vector<model::Job> failed,
//                        sr->jobs().List(jobs::JobFilter::ByState(model::Failed)));
//
// The layers, each calling only the ones below it:
//
//     capi/ (asr.h, libasr.so)          asr/cli/ (asrctl)
//                  \                      /
//                   v                    v
//        asr/site_recovery/  SiteRecovery: the composition root
//                              |
//                              v
//        asr/failover/ (the failover state machine, over protection)
//                              |
//                              v
//        asr/fabric/  asr/policy/  asr/mapping/  asr/protection/
//                 \        |        /        /   (services; their work runs
//                  v       v       v        v    as jobs through asr/jobs/)
//        asr/repository/  ObjectRepository: typed objects by kind and id
//                              |
//                              v
//        asr/store/  StateStore: snapshot + journal
//                              |
//                              v
//        asr/common/  asr/model/
//
// Nothing but a SiteRecovery constructs the services; two SiteRecovery
// objects must not be open on one state directory in one process (the store's
// writer lock refuses a second writer).
//
// Thread safety: thread-safe; state-changing operations are serialized by
// the services. `options.clock` and `options.host` must outlive the object.
#ifndef ASR_SITE_RECOVERY_SITE_RECOVERY_H_
#define ASR_SITE_RECOVERY_SITE_RECOVERY_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "asr/common/clock.h"
#include "asr/fabric/fabric_service.h"
#include "asr/fabric/host_callbacks.h"
#include "asr/fabric/key_provider.h"
#include "asr/failover/failover_service.h"
#include "asr/failover/recovery_plan_service.h"
#include "asr/jobs/job_manager.h"
#include "asr/mapping/mapping_service.h"
#include "asr/model/fabric.pb.h"
#include "asr/policy/policy_engine.h"
#include "asr/protection/group_service.h"
#include "asr/protection/protection_service.h"
#include "asr/repository/object_repository.h"

namespace asr {

struct SiteRecoveryOptions {
  // Open the state directory without taking the writer lock; writes fail.
  bool read_only = false;
  // Create the state directory when it does not exist.
  bool create_if_missing = true;
  // The clock jobs and services read; null means Clock::Real().
  const Clock* clock = nullptr;
  // The VMM host side (inventory, host configuration, proxy test); may be
  // null, and then the operations that need it fail with FailedPrecondition.
  fabric::HostCallbacks* host = nullptr;
  // Where the key-encryption key that wraps the vault's private keys comes
  // from (fabric/key_provider.h: a key file, an environment variable, the
  // host's callback). May be null: then creating a vault, generating a
  // registration key and sealing a proxy password fail with
  // FailedPrecondition saying how to configure one. A writable open with a
  // provider wraps keys an older version stored in the clear.
  std::shared_ptr<fabric::KeyProvider> key_provider;
};

class SiteRecovery {
 public:
  // Opens (and recovers) the state in `state_dir`, registers every job
  // scenario and, when writable, marks jobs left InProgress by a stopped
  // process as Failed (restartable).
  static absl::StatusOr<std::unique_ptr<SiteRecovery>> Open(const std::string& state_dir,
                                                            const SiteRecoveryOptions& options);

  // The same over an already-open repository (other backends and tests);
  // `options.read_only` and `create_if_missing` are not used.
  static absl::StatusOr<std::unique_ptr<SiteRecovery>> Create(
      std::unique_ptr<repository::ObjectRepository> repository, const SiteRecoveryOptions& options);

  SiteRecovery(const SiteRecovery&) = delete;
  SiteRecovery& operator=(const SiteRecovery&) = delete;

  // Makes the state directory ready for use: the two sites "primary" and
  // "recovery". Idempotent.
  absl::Status Initialize() { return repository_->Initialize(); }
  bool IsInitialized() const { return repository_->IsInitialized(); }

  // The vault, created as "default" in "on-premises" (as a job) when the
  // state has none yet.
  absl::StatusOr<model::Vault> EnsureDefaultVault();

  // The key provider (see SiteRecoveryOptions::key_provider); null for none.
  std::shared_ptr<fabric::KeyProvider> key_provider() const { return keys_->target(); }
  // Replaces the key provider (e.g. once the C API's host sets it) and, on
  // a writable state, wraps vault keys an older version stored in the clear.
  // Not while another operation runs.
  absl::Status SetKeyProvider(std::shared_ptr<fabric::KeyProvider> provider);

  // Raw object access, fenced: Put and Delete accept only the kinds that no
  // domain rule guards (RawWritableKind); any other kind is refused with
  // FailedPrecondition naming the call that keeps its rules. Get and List
  // read every kind. Put checks the ids and names in the object
  // (ValidateMessageIdentifiers: InvalidArgument naming the field).
  absl::Status PutObjectJson(absl::string_view kind, absl::string_view json);
  absl::Status DeleteObject(absl::string_view kind, absl::string_view id);
  absl::StatusOr<std::string> GetObjectJson(absl::string_view kind, absl::string_view id) const {
    return repository_->GetObjectJson(kind, id);
  }
  absl::StatusOr<std::string> ListObjectsJson(absl::string_view kind) const {
    return repository_->ListObjectsJson(kind);
  }

  repository::ObjectRepository& repository() { return *repository_; }
  const repository::ObjectRepository& repository() const { return *repository_; }
  jobs::JobManager& jobs() { return jobs_; }
  fabric::FabricService& fabric() { return fabric_; }
  policy::PolicyEngine& policies() { return policies_; }
  mapping::MappingService& mappings() { return mappings_; }
  protection::ProtectionService& protection() { return protection_; }
  // Replication groups (multi-VM consistency): protection/group_service.h.
  protection::GroupService& groups() { return groups_; }
  // The failover state machine of protected VMs: failover/failover_service.h.
  failover::FailoverService& failover() { return failover_; }
  // Recovery plans: failover/recovery_plan_service.h.
  failover::RecoveryPlanService& recovery_plans() { return recovery_plans_; }
  const Clock& clock() const { return *clock_; }
  const std::string& state_dir() const { return repository_->state_dir(); }

 private:
  // The provider the services see: forwards to the current one, so that it
  // can be set after the services are built.
  class ForwardingKeyProvider : public fabric::KeyProvider {
   public:
    absl::StatusOr<fabric::KeyEncryptionKey> GetKey(absl::string_view purpose) override;
    std::string Describe() const override;
    bool configured() const override { return target() != nullptr; }
    std::shared_ptr<fabric::KeyProvider> target() const;
    void set_target(std::shared_ptr<fabric::KeyProvider> t);

   private:
    mutable absl::Mutex mu_;
    std::shared_ptr<fabric::KeyProvider> target_ ABSL_GUARDED_BY(mu_);
  };

  SiteRecovery(std::unique_ptr<repository::ObjectRepository> repository, const Clock* clock,
               fabric::HostCallbacks* host);
  absl::Status Start();
  absl::Status WrapClearVaultKeys();

  std::unique_ptr<repository::ObjectRepository> repository_;
  const Clock* clock_;
  std::unique_ptr<ForwardingKeyProvider> keys_;
  jobs::JobManager jobs_;
  fabric::FabricService fabric_;
  policy::PolicyEngine policies_;
  mapping::MappingService mappings_;
  protection::ProtectionService protection_;
  protection::GroupService groups_;
  failover::FailoverService failover_;
  failover::RecoveryPlanService recovery_plans_;
};

// Whether generic put/delete may write objects of `kind`: the inventory a VMM
// server reports (clouds, host groups, hosts, VMs, VM and logical networks,
// storage classifications) and protected items (until protection has its own
// operations). Pairings, policies, mappings, jobs, servers, sites, the vault,
// recovery points and plans are written only by their operations.
bool RawWritableKind(absl::string_view kind);

// The FailedPrecondition (rule "RawObjectAccessFenced") for a raw write of
// `kind`, naming the operation to use instead.
absl::Status RawWriteRefused(absl::string_view kind, absl::string_view verb);

}  // namespace asr

#endif  // ASR_SITE_RECOVERY_SITE_RECOVERY_H_
