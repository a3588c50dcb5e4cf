#include "asr/fabric/vault.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "asr/common/status_macros.h"
#include "asr/fabric/crypto.h"
#include "asr/jobs/rule_error.h"
#include "asr/model/json.h"

namespace asr::fabric {

std::string VaultSecretsKey(absl::string_view vault_id) {
  return absl::StrCat("secret/vault/", vault_id);
}

namespace {

// The associated data of a wrapped record: a record moved to another vault
// or relabelled with another key id does not open.
std::string WrapContext(absl::string_view key_id, absl::string_view vault_id) {
  return absl::StrCat("asr-vault-secrets/v1;", key_id.size(), ":", key_id, ";", vault_id.size(),
                      ":", vault_id);
}

}  // namespace

absl::StatusOr<model::VaultSecrets> WrapVaultSecrets(const model::VaultSecrets& secrets,
                                                     absl::string_view vault_id,
                                                     const KeyEncryptionKey& kek) {
  model::VaultSecrets inner;
  inner.set_signing_private_key(secrets.signing_private_key());
  inner.set_sealing_key(secrets.sealing_key());
  std::string plain = inner.SerializeAsString();
  absl::StatusOr<std::string> wrapped =
      fabric::Seal(kek.key, plain, WrapContext(kek.key_id, vault_id));
  std::fill(plain.begin(), plain.end(), '\0');
  if (!wrapped.ok()) return wrapped.status();
  model::VaultSecrets record;
  record.set_vault_id(std::string(vault_id));
  record.set_key_id(kek.key_id);
  record.set_wrapped_secrets(*std::move(wrapped));
  return record;
}

absl::StatusOr<model::VaultSecrets> UnwrapVaultSecrets(const model::VaultSecrets& record,
                                                       const KeyEncryptionKey& kek,
                                                       absl::string_view kek_source) {
  if (kek.key_id != record.key_id()) {
    return jobs::RuleError(
        absl::StatusCode::kPermissionDenied, "VaultKeysWrappedByKeyProvider",
        absl::StrCat("the key-encryption key does not open this vault's secrets: vault ",
                     record.vault_id(), " has its keys wrapped with key ", record.key_id(),
                     ", but ", kek_source, " gives key ", kek.key_id),
        absl::StrCat("configure the key provider that holds key ", record.key_id(),
                     " (the key file or variable the vault was created with)"));
  }
  absl::StatusOr<std::string> plain =
      fabric::Unseal(kek.key, record.wrapped_secrets(), WrapContext(kek.key_id, record.vault_id()));
  if (!plain.ok()) {
    return jobs::RuleError(
        absl::StatusCode::kPermissionDenied, "VaultKeysWrappedByKeyProvider",
        absl::StrCat("the key-encryption key does not open this vault's secrets: ", kek_source,
                     " gives key ", kek.key_id, " as recorded, but the wrapped keys of vault ",
                     record.vault_id(),
                     " do not open with it (another key under the same id, or the state was "
                     "altered)"),
        "configure the key the vault was created with; if the state directory was altered, "
        "restore it from a backup");
  }
  model::VaultSecrets secrets;
  bool parsed = secrets.ParseFromString(*plain);
  std::fill(plain->begin(), plain->end(), '\0');
  if (!parsed) {
    return absl::DataLossError(
        absl::StrCat("the unwrapped secrets of vault ", record.vault_id(), " do not parse"));
  }
  secrets.set_vault_id(record.vault_id());
  return secrets;
}

std::string FormatUnixTime(int64_t unix_seconds) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(unix_seconds),
                          absl::UTCTimeZone());
}

absl::StatusOr<model::Vault> VaultService::Create(absl::string_view name,
                                                  absl::string_view region) {
  if (name.empty()) return absl::InvalidArgumentError("a vault needs a name");
  if (region.empty()) return absl::InvalidArgumentError("a vault needs a region");
  auto existing = Get();
  if (existing.ok()) {
    return jobs::RuleError(absl::StatusCode::kAlreadyExists, "OneVaultPerStateDirectory",
                           absl::StrCat("this state directory already holds vault '",
                                        existing->name(), "' (", existing->region(), ")"),
                           "use that vault, or a new state directory for another vault");
  }
  // The KEK first: without it nothing is written.
  ASR_ASSIGN_OR_RETURN(KeyEncryptionKey kek, Kek());
  ASR_RETURN_IF_ERROR(repo_->Initialize());
  SigningKeyPair pair = NewSigningKeyPair();
  model::Vault vault;
  vault.set_id(absl::StrCat("vault-", RandomHex(8)));
  vault.set_name(std::string(name));
  vault.set_region(std::string(region));
  vault.set_created_time_unix(absl::ToUnixSeconds(clock_->Now()));
  vault.set_signing_public_key(pair.public_key);
  vault.set_signing_algorithm("Ed25519");
  model::VaultSecrets secrets;
  secrets.set_vault_id(vault.id());
  secrets.set_signing_private_key(pair.private_key);
  secrets.set_sealing_key(RandomBytes(kSealingKeySize));
  ASR_ASSIGN_OR_RETURN(model::VaultSecrets record, WrapVaultSecrets(secrets, vault.id(), kek));
  store::WriteBatch batch;
  batch.Put(repository::ObjectRepository::Key("vault", vault.id()), vault.SerializeAsString());
  batch.Put(VaultSecretsKey(vault.id()), record.SerializeAsString());
  ASR_RETURN_IF_ERROR(repo_->store().Commit(batch));
  return vault;
}

absl::StatusOr<model::Vault> VaultService::Get() const {
  ASR_ASSIGN_OR_RETURN(std::vector<model::Vault> vaults, repo_->List<model::Vault>());
  if (vaults.empty()) {
    return absl::NotFoundError(
        "this state directory has no vault yet; create one with 'asrctl vault create --name N "
        "--region R' (or 'asrctl init')");
  }
  return vaults.front();
}

absl::StatusOr<KeyEncryptionKey> VaultService::Kek() const {
  if (keys_ == nullptr || !keys_->configured()) {
    return jobs::RuleError(absl::StatusCode::kFailedPrecondition, "VaultKeysWrappedByKeyProvider",
                           "no key provider is configured: the vault's private keys are stored "
                           "only wrapped with a key-encryption key from the host's key provider",
                           HowToConfigureKeyProvider());
  }
  ASR_ASSIGN_OR_RETURN(KeyEncryptionKey kek, keys_->GetKey(kVaultSecretsPurpose));
  ASR_RETURN_IF_ERROR(CheckKeyEncryptionKey(kek, *keys_));
  return kek;
}

absl::StatusOr<model::VaultSecrets> VaultService::StoredRecord(const model::Vault& vault) const {
  auto bytes = repo_->store().Get(VaultSecretsKey(vault.id()));
  if (!bytes.ok()) {
    return absl::DataLossError(absl::StrCat("the secrets of vault '", vault.name(),
                                            "' are missing from the state directory"));
  }
  model::VaultSecrets record;
  if (!record.ParseFromString(*bytes)) {
    return absl::DataLossError(
        absl::StrCat("the secrets of vault '", vault.name(), "' do not parse"));
  }
  return record;
}

absl::StatusOr<model::VaultSecrets> VaultService::Secrets() const {
  ASR_ASSIGN_OR_RETURN(model::Vault vault, Get());
  ASR_ASSIGN_OR_RETURN(model::VaultSecrets record, StoredRecord(vault));
  if (record.wrapped_secrets().empty()) {
    // Written before keys were wrapped: usable once a provider is configured
    // (the first writable open with one wraps them).
    if (keys_ == nullptr || !keys_->configured()) {
      return jobs::RuleError(
          absl::StatusCode::kFailedPrecondition, "VaultKeysWrappedByKeyProvider",
          absl::StrCat("the keys of vault '", vault.name(),
                       "' are still stored in the clear by an older version and no key "
                       "provider is configured to wrap them"),
          absl::StrCat(HowToConfigureKeyProvider(),
                       "; the next writable open with it wraps the keys"));
    }
    return record;
  }
  ASR_ASSIGN_OR_RETURN(KeyEncryptionKey kek, Kek());
  ASR_ASSIGN_OR_RETURN(model::VaultSecrets secrets,
                       UnwrapVaultSecrets(record, kek, keys_->Describe()));
  secrets.set_vault_id(vault.id());
  return secrets;
}

absl::StatusOr<std::string> VaultService::WrappingKeyId() const {
  auto vault = Get();
  if (!vault.ok()) return std::string();
  ASR_ASSIGN_OR_RETURN(model::VaultSecrets record, StoredRecord(*vault));
  return record.key_id();
}

absl::StatusOr<bool> VaultService::WrapClearSecrets() {
  auto vault = Get();
  if (!vault.ok()) return false;
  ASR_ASSIGN_OR_RETURN(model::VaultSecrets record, StoredRecord(*vault));
  if (!record.wrapped_secrets().empty()) return false;
  if (repo_->store().read_only()) {
    return absl::FailedPreconditionError(
        "the vault's keys are stored in the clear by an older version; open the state "
        "directory writable (with a key provider) to wrap them");
  }
  ASR_ASSIGN_OR_RETURN(KeyEncryptionKey kek, Kek());
  ASR_ASSIGN_OR_RETURN(model::VaultSecrets wrapped, WrapVaultSecrets(record, vault->id(), kek));
  store::WriteBatch batch;
  batch.Put(VaultSecretsKey(vault->id()), wrapped.SerializeAsString());
  ASR_RETURN_IF_ERROR(repo_->store().Commit(batch));
  // The journal still holds the clear record: fold it into a fresh snapshot,
  // which replaces the old snapshot and removes the old journal.
  ASR_RETURN_IF_ERROR(repo_->store().Compact());
  return true;
}

std::string VaultService::SignedBytes(const model::RegistrationKey& key) {
  // Length-prefixed fields, so that no two keys share signed bytes.
  std::string out = "asr-registration-key/v1;";
  for (const std::string& f : {key.vault_id(), key.vault_name(), key.region(), key.key_id(),
                               std::to_string(key.issued_time_unix()),
                               std::to_string(key.expiry_time_unix()), key.signing_algorithm()}) {
    absl::StrAppend(&out, f.size(), ":", f, ";");
  }
  return out;
}

absl::StatusOr<std::string> VaultService::GenerateRegistrationKey() const {
  ASR_ASSIGN_OR_RETURN(model::Vault vault, Get());
  ASR_ASSIGN_OR_RETURN(model::VaultSecrets secrets, Secrets());
  model::RegistrationKey key;
  key.set_vault_id(vault.id());
  key.set_vault_name(vault.name());
  key.set_region(vault.region());
  key.set_key_id(RandomHex(8));
  absl::Time now = clock_->Now();
  key.set_issued_time_unix(absl::ToUnixSeconds(now));
  key.set_expiry_time_unix(absl::ToUnixSeconds(now + kRegistrationKeyValidity));
  key.set_signing_algorithm("Ed25519");
  key.set_signature(Sign(secrets.signing_private_key(), SignedBytes(key)));
  return model::ToJson(key, /*pretty=*/true);
}

absl::StatusOr<model::RegistrationKey> VaultService::VerifyRegistrationKey(
    absl::string_view key_file) const {
  model::RegistrationKey key;
  absl::Status parsed = model::FromJson(key_file, &key);
  if (!parsed.ok() || key.vault_id().empty() || key.signature().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the credentials are not a registration key file",
                     parsed.ok() ? "" : absl::StrCat(" (", parsed.message(), ")"),
                     "; download the key file from the vault ('asrctl key generate')"));
  }
  ASR_ASSIGN_OR_RETURN(model::Vault vault, Get());
  if (key.vault_id() != vault.id()) {
    return jobs::RuleError(
        absl::StatusCode::kPermissionDenied, "RegistrationKeyOfThisVault",
        absl::StrCat("the registration key belongs to vault '", key.vault_name(), "' (",
                     key.vault_id(), "), not to this vault '", vault.name(), "' (", vault.id(),
                     ")"),
        absl::StrCat("generate a key in vault '", vault.name(), "' and register with it"));
  }
  if (!Verify(vault.signing_public_key(), SignedBytes(key), key.signature())) {
    return jobs::RuleError(absl::StatusCode::kUnauthenticated, "RegistrationKeySignature",
                           "the registration key's signature does not verify: the key file was "
                           "altered or damaged",
                           "generate a new key in the vault and use the file unchanged");
  }
  int64_t now = absl::ToUnixSeconds(clock_->Now());
  if (now >= key.expiry_time_unix()) {
    return jobs::RuleError(
        absl::StatusCode::kUnauthenticated, "RegistrationKeyValidFor5Days",
        absl::StrCat("the registration key expired at ", FormatUnixTime(key.expiry_time_unix()),
                     " (issued ", FormatUnixTime(key.issued_time_unix()),
                     "; keys are valid for 5 days)"),
        "generate a new key in the vault ('asrctl key generate') and register again");
  }
  return key;
}

absl::StatusOr<std::string> VaultService::Seal(absl::string_view plaintext,
                                               absl::string_view context) const {
  ASR_ASSIGN_OR_RETURN(model::VaultSecrets secrets, Secrets());
  return fabric::Seal(secrets.sealing_key(), plaintext, context);
}

absl::StatusOr<std::string> VaultService::Unseal(absl::string_view sealed,
                                                 absl::string_view context) const {
  ASR_ASSIGN_OR_RETURN(model::VaultSecrets secrets, Secrets());
  return fabric::Unseal(secrets.sealing_key(), sealed, context);
}

}  // namespace asr::fabric
