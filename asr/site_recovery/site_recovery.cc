#include "asr/site_recovery/site_recovery.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "asr/common/identifier.h"
#include "asr/common/status_macros.h"
#include "asr/jobs/rule_error.h"
#include "asr/model/json.h"
#include "google/protobuf/message.h"

namespace asr {
namespace {

struct KindRule {
  const char* kind;
  const char* use;  // the operations that write objects of this kind
};

// Kinds written only by their operations, and what to call instead.
constexpr KindRule kFenced[] = {
    {"vault", "asr_vault_create / asrctl vault create"},
    {"site", "asr_engine_initialize / asrctl init"},
    {"server", "asr_server_register, asr_server_unregister / asrctl server register|unregister"},
    {"pairing", "asr_cloud_pair, asr_cloud_unpair / asrctl cloud pair|unpair"},
    {"policy", "asr_policy_create|update|delete|associate|dissociate / asrctl policy ..."},
    {"network-mapping",
     "asr_network_mapping_add, asr_network_mapping_remove / asrctl network-mapping add|remove"},
    {"storage-mapping",
     "asr_storage_mapping_add, asr_storage_mapping_remove / asrctl storage-mapping add|remove"},
    {"job", "asr_job_cancel|restart|resume / asrctl job cancel|restart|resume"},
    {"recovery-point", "replication cycles (asr_replication_cycle / asrctl replica ...)"},
    {"recovery-plan", "asr_plan_create|edit|delete / asrctl plan create|edit|delete"},
    {"throttle", "asr_throttle_set, asr_throttle_clear / asrctl throttle set|clear"},
    {"replication-group", "asr_group_create|add|remove|delete / asrctl group ..."},
    {"group-recovery-point", "group cycles (asr_group_replicate_now / asrctl group replicate)"},
};

}  // namespace

bool RawWritableKind(absl::string_view kind) {
  for (const KindRule& r : kFenced) {
    if (kind == r.kind) return false;
  }
  return true;  // unknown kinds are refused by the repository itself
}

absl::Status RawWriteRefused(absl::string_view kind, absl::string_view verb) {
  absl::string_view use = "its own operations";
  for (const KindRule& r : kFenced) {
    if (kind == r.kind) use = r.use;
  }
  return jobs::RuleError(
      absl::StatusCode::kFailedPrecondition, "RawObjectAccessFenced",
      absl::StrCat("a ", kind, " cannot be ", verb,
                   " through the generic object calls: its operations enforce rules"),
      absl::StrCat("use ", use));
}

absl::StatusOr<fabric::KeyEncryptionKey> SiteRecovery::ForwardingKeyProvider::GetKey(
    absl::string_view purpose) {
  std::shared_ptr<fabric::KeyProvider> t = target();
  if (t == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("no key provider is configured; ", fabric::HowToConfigureKeyProvider()));
  }
  return t->GetKey(purpose);
}

std::string SiteRecovery::ForwardingKeyProvider::Describe() const {
  std::shared_ptr<fabric::KeyProvider> t = target();
  return t == nullptr ? "no key provider" : t->Describe();
}

std::shared_ptr<fabric::KeyProvider> SiteRecovery::ForwardingKeyProvider::target() const {
  absl::MutexLock l(&mu_);
  return target_;
}

void SiteRecovery::ForwardingKeyProvider::set_target(std::shared_ptr<fabric::KeyProvider> t) {
  absl::MutexLock l(&mu_);
  target_ = std::move(t);
}

SiteRecovery::SiteRecovery(std::unique_ptr<repository::ObjectRepository> repository,
                           const Clock* clock, fabric::HostCallbacks* host)
    : repository_(std::move(repository)),
      clock_(clock),
      keys_(std::make_unique<ForwardingKeyProvider>()),
      jobs_(repository_.get(), clock_),
      fabric_(repository_.get(), &jobs_, clock_, host, keys_.get()),
      policies_(repository_.get(), &jobs_, &fabric_, clock_),
      mappings_(repository_.get(), &jobs_),
      protection_(repository_.get(), &jobs_, &mappings_, host, clock_),
      groups_(repository_.get(), &protection_, clock_),
      failover_(repository_.get(), &jobs_, &protection_, clock_),
      recovery_plans_(repository_.get(), &jobs_, &protection_, &groups_, clock_, &failover_) {}

absl::StatusOr<std::unique_ptr<SiteRecovery>> SiteRecovery::Open(
    const std::string& state_dir, const SiteRecoveryOptions& options) {
  repository::RepositoryOptions repo_options;
  repo_options.read_only = options.read_only;
  repo_options.create_if_missing = options.create_if_missing;
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<repository::ObjectRepository> repo,
                       repository::ObjectRepository::Open(state_dir, repo_options));
  return Create(std::move(repo), options);
}

absl::StatusOr<std::unique_ptr<SiteRecovery>> SiteRecovery::Create(
    std::unique_ptr<repository::ObjectRepository> repository, const SiteRecoveryOptions& options) {
  if (repository == nullptr) return absl::InvalidArgumentError("repository must not be null");
  const Clock* clock = options.clock != nullptr ? options.clock : &Clock::Real();
  std::unique_ptr<SiteRecovery> sr(new SiteRecovery(std::move(repository), clock, options.host));
  sr->keys_->set_target(options.key_provider);
  ASR_RETURN_IF_ERROR(sr->Start());
  return sr;
}

absl::Status SiteRecovery::Start() {
  ASR_RETURN_IF_ERROR(fabric_.RegisterScenarios());
  ASR_RETURN_IF_ERROR(policies_.RegisterScenarios());
  ASR_RETURN_IF_ERROR(mappings_.RegisterScenarios());
  ASR_RETURN_IF_ERROR(protection_.RegisterScenarios());
  ASR_RETURN_IF_ERROR(failover_.RegisterScenarios());
  ASR_RETURN_IF_ERROR(recovery_plans_.RegisterScenarios());
  mappings_.SetReplicaNicApplier(
      [this](const model::NicChange& change) { return protection_.ApplyNicChange(change); });
  if (!repository_->store().read_only()) {
    ASR_RETURN_IF_ERROR(jobs_.RecoverInterruptedJobs().status());
  }
  return WrapClearVaultKeys();
}

absl::Status SiteRecovery::WrapClearVaultKeys() {
  if (repository_->store().read_only() || !keys_->configured()) return absl::OkStatus();
  return fabric_.vault().WrapClearSecrets().status();
}

absl::Status SiteRecovery::SetKeyProvider(std::shared_ptr<fabric::KeyProvider> provider) {
  keys_->set_target(std::move(provider));
  return WrapClearVaultKeys();
}

absl::StatusOr<model::Vault> SiteRecovery::EnsureDefaultVault() {
  auto existing = fabric_.vault().Get();
  if (existing.ok()) return existing;
  ASR_RETURN_IF_ERROR(fabric_.CreateVault("default", "on-premises").status());
  return fabric_.vault().Get();
}

absl::Status SiteRecovery::PutObjectJson(absl::string_view kind, absl::string_view json) {
  ASR_RETURN_IF_ERROR(ValidateIdentifier("kind", kind));
  ASR_ASSIGN_OR_RETURN(const google::protobuf::Message* prototype, model::PrototypeForKind(kind));
  if (!RawWritableKind(kind)) return RawWriteRefused(kind, "written");
  std::unique_ptr<google::protobuf::Message> object(prototype->New());
  absl::Status parsed = model::FromJson(json, object.get());
  // A parse error is the repository's to report, in its words.
  if (parsed.ok()) {
    ASR_RETURN_IF_ERROR(ValidateMessageIdentifiers(kind, *object));
  }
  return repository_->PutObjectJson(kind, json);
}

absl::Status SiteRecovery::DeleteObject(absl::string_view kind, absl::string_view id) {
  ASR_RETURN_IF_ERROR(ValidateIdentifier("kind", kind));
  ASR_RETURN_IF_ERROR(ValidateIdentifier("id", id));
  ASR_RETURN_IF_ERROR(model::PrototypeForKind(kind).status());
  if (!RawWritableKind(kind)) return RawWriteRefused(kind, "deleted");
  return repository_->DeleteObject(kind, id);
}

}  // namespace asr
