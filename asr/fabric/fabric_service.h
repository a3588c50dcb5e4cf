// asr/fabric/fabric_service.h: the fabric side of the control plane: the
// vault, server registration, inventory sync and cloud pairing. Every
// state-changing operation runs as a job (asr/jobs/job_manager.h) and
// returns the finished job, whose result_json holds the object it produced
// (read it with jobs::ResultOf<T>). Refused operations return the rule's
// error; their Failed job stays listable (jobs::JobIdOf(status)).
//
//   jobs::JobManager jobs(&repo, &clock);
//   FabricService fabric(&repo, &jobs, &clock, &host);   // host may be null
//   ASR_RETURN_IF_ERROR(fabric.RegisterScenarios());
//   ASR_RETURN_IF_ERROR(fabric.CreateVault("contoso-dr", "westeurope").status());
//   ASR_ASSIGN_OR_RETURN(std::string key_file, fabric.GenerateRegistrationKey());
//   model::ServerRegistrationRequest req;
//   req.set_credentials(key_file);
//   req.set_friendly_name("vmm-ny");
//   ASR_ASSIGN_OR_RETURN(model::Job job, fabric.RegisterServer(req));
//   ASR_ASSIGN_OR_RETURN(job, fabric.SyncInventory("vmm-ny", &inventory, ""));
//   ASR_ASSIGN_OR_RETURN(job, fabric.PairClouds("GoldCloud1", "GoldCloud2"));
//
// Objects are named by id or, where unique, by name ("GoldCloud1").
//
// Thread safety: operations are serialized by an internal mutex (a job runs
// on the caller's thread while holding it); Find* and vault reads may run
// concurrently. Host callbacks are called on the operation's thread.
#ifndef ASR_FABRIC_FABRIC_SERVICE_H_
#define ASR_FABRIC_FABRIC_SERVICE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "asr/common/clock.h"
#include "asr/fabric/host_callbacks.h"
#include "asr/fabric/key_provider.h"
#include "asr/fabric/vault.h"
#include "asr/jobs/job_manager.h"
#include "asr/model/fabric.pb.h"
#include "asr/model/protection.pb.h"
#include "asr/repository/object_repository.h"

namespace asr::fabric {

// The provider version a registration reports when the request names none:
// this library's.
inline constexpr char kDefaultProviderVersion[] = "0.1.0";

class FabricService {
 public:
  // `host` may be null: then inventories come only as documents, and proxy
  // tests are skipped (the job says so). `keys` (the key provider whose KEK
  // wraps the vault's keys, see key_provider.h) may be null: then creating a
  // vault, generating registration keys and registering a server with a
  // proxy password fail with FailedPrecondition saying how to configure one.
  FabricService(repository::ObjectRepository* repo, jobs::JobManager* jobs, const Clock* clock,
                HostCallbacks* host, KeyProvider* keys = nullptr);

  // Registers the fabric's job scenarios (CreateVault, RegisterServer,
  // UnregisterServer, SyncInventory, PairClouds, UnpairClouds).
  absl::Status RegisterScenarios();

  VaultService& vault() { return vault_; }
  repository::ObjectRepository& repository() { return *repo_; }
  HostCallbacks* host() { return host_ != nullptr && host_->available() ? host_ : nullptr; }

  // Job "CreateVault"; result: model::Vault. Without a usable key provider:
  // its error, before any job is created.
  absl::StatusOr<model::Job> CreateVault(absl::string_view name, absl::string_view region);
  // A registration key file (JSON) valid for 5 days. Changes no state.
  absl::StatusOr<std::string> GenerateRegistrationKey();

  // Job "RegisterServer" (see registration.h); result: model::VmmServer.
  // InvalidArgument without a job when Credentials or FriendlyName is
  // missing or the proxy settings are malformed.
  absl::StatusOr<model::Job> RegisterServer(const model::ServerRegistrationRequest& request);
  // Job "UnregisterServer": removes the server and its clouds, host groups,
  // hosts, VMs, networks, storage, pairings and mappings, after checking that
  // none of its VMs is protected. Result: the removed model::VmmServer.
  absl::StatusOr<model::Job> UnregisterServer(absl::string_view server_ref);

  // Job "SyncInventory" (see inventory_sync.h); result:
  // model::InventoryChangeReport. `inventory` null: ask the host callback.
  // `cloud_ref` non-empty: sync that cloud only.
  absl::StatusOr<model::Job> SyncInventory(absl::string_view server_ref,
                                           const model::Inventory* inventory,
                                           absl::string_view cloud_ref);

  // Job "PairClouds"; result: model::CloudPairing. Rules: both clouds on
  // registered servers, synced, with the Hyper-V capability profile; not the
  // same cloud; a single server needs two clouds; the primary cloud has a
  // host group; each cloud in at most one pairing.
  absl::StatusOr<model::Job> PairClouds(absl::string_view primary_cloud_ref,
                                        absl::string_view recovery_cloud_ref);
  // Job "UnpairClouds"; refused while VMs of the pairing are protected.
  absl::StatusOr<model::Job> UnpairClouds(absl::string_view pairing_ref);

  // Lookups by id, or by unique name (NotFound / InvalidArgument if ambiguous).
  absl::StatusOr<model::VmmServer> FindServer(absl::string_view ref) const;
  absl::StatusOr<model::Cloud> FindCloud(absl::string_view ref) const;
  // A pairing by id, or by the name or id of its primary cloud.
  absl::StatusOr<model::CloudPairing> FindPairing(absl::string_view ref) const;

  // The serialization lock of control-plane operations (shared with the
  // policy engine so that fabric and policy changes never interleave).
  absl::Mutex& operation_mutex() { return op_mu_; }

 private:
  friend class ServerRegistration;
  friend class InventorySync;
  absl::Status RunCreateVault(jobs::JobContext& ctx);
  absl::Status RunUnregister(jobs::JobContext& ctx);
  absl::Status RunPair(jobs::JobContext& ctx);
  absl::Status RunUnpair(jobs::JobContext& ctx);
  absl::Status CheckPairingRules(const model::Cloud& primary, const model::Cloud& recovery) const;

  repository::ObjectRepository* repo_;
  jobs::JobManager* jobs_;
  const Clock* clock_;
  HostCallbacks* host_;
  VaultService vault_;
  absl::Mutex op_mu_;
};

// A server id derived from a friendly name: lower case, characters other
// than [a-z0-9._-] replaced by '-'.
std::string ServerIdFor(absl::string_view friendly_name);

}  // namespace asr::fabric

#endif  // ASR_FABRIC_FABRIC_SERVICE_H_
