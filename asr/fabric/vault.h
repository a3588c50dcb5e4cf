// asr/fabric/vault.h: the vault of a state directory (one per directory),
// its registration keys and the sealing of secrets with a vault-held key.
//
// A registration key file is the JSON of model::RegistrationKey: vault id,
// name and region, key id, issue time, expiry (issue + 5 days), and an
// Ed25519 signature by the vault's signing key over all of those. The
// private signing key and the AES-256-GCM sealing key are kept under their
// own store key, never as a stored object kind, so they are never listed or
// returned by object get; and they are stored only wrapped (AES-256-GCM)
// under a key-encryption key from the host's KeyProvider (key_provider.h),
// with the key id and the vault id as associated data. Every operation that
// needs them (Create, GenerateRegistrationKey, Seal, Unseal) asks the
// provider for the key; without one it fails with FailedPrecondition saying
// how to configure one, and with the wrong key with PermissionDenied naming
// the key id expected and the one given.
//
//   VaultService vault(&repo, &clock, &key_provider);
//   ASR_ASSIGN_OR_RETURN(model::Vault v, vault.Create("contoso-dr", "westeurope"));
//   ASR_ASSIGN_OR_RETURN(std::string key_file, vault.GenerateRegistrationKey());
//   ASR_ASSIGN_OR_RETURN(model::RegistrationKey key, vault.VerifyRegistrationKey(key_file));
//   ASR_ASSIGN_OR_RETURN(std::string sealed, vault.Seal("p@ss", "proxy-password:vmm-ny"));
//
// Thread safety: thread-safe (state lives in the store; Create is not meant
// to race with itself — the control plane serializes operations).
#ifndef ASR_FABRIC_VAULT_H_
#define ASR_FABRIC_VAULT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "asr/common/clock.h"
#include "asr/fabric/key_provider.h"
#include "asr/model/fabric.pb.h"
#include "asr/repository/object_repository.h"

namespace asr::fabric {

// How long a registration key is valid after it is generated.
inline constexpr absl::Duration kRegistrationKeyValidity = absl::Hours(24 * 5);

class VaultService {
 public:
  // `keys` may be null (then every operation that needs the vault's private
  // keys fails with FailedPrecondition); it must outlive the service.
  VaultService(repository::ObjectRepository* repo, const Clock* clock, KeyProvider* keys)
      : repo_(repo), clock_(clock), keys_(keys) {}

  // Creates the vault with fresh signing and sealing keys, wrapped under the
  // key provider's KEK. InvalidArgument for an empty name or region;
  // AlreadyExists when the state directory already holds a vault (one vault
  // per state directory); FailedPrecondition without a key provider (the
  // message says how to configure one); the provider's own error when its
  // key cannot be had (e.g. a key file other users can read). Nothing is
  // written on failure.
  absl::StatusOr<model::Vault> Create(absl::string_view name, absl::string_view region);

  // The vault; NotFound (saying how to create one) when there is none.
  absl::StatusOr<model::Vault> Get() const;

  // A new registration key file (JSON), valid for 5 days from now.
  absl::StatusOr<std::string> GenerateRegistrationKey() const;

  // Verifies a key file against this vault, in this order:
  //  InvalidArgument  - not a registration key file;
  //  PermissionDenied - the key belongs to another vault (names both);
  //  Unauthenticated  - the signature does not verify (tampered key);
  //  Unauthenticated  - the key has expired (says when).
  absl::StatusOr<model::RegistrationKey> VerifyRegistrationKey(absl::string_view key_file) const;

  // Seals/unseals a secret with the vault's AES-256-GCM key; `context`
  // (e.g. "proxy-password:<server id>") must match on both sides.
  absl::StatusOr<std::string> Seal(absl::string_view plaintext, absl::string_view context) const;
  absl::StatusOr<std::string> Unseal(absl::string_view sealed, absl::string_view context) const;

  // The bytes a registration key's signature covers.
  static std::string SignedBytes(const model::RegistrationKey& key);

  // Wraps secrets stored in the clear by an older version: seals them under
  // the provider's KEK, replaces the record and compacts the store, so that
  // neither the journal nor the snapshot keeps the clear copy. Returns
  // whether it wrapped anything (false: no vault, or already wrapped; the
  // provider is not asked then). FailedPrecondition on a read-only store or
  // without a provider when there is something to wrap.
  absl::StatusOr<bool> WrapClearSecrets();

  // OK when the key provider gives a usable KEK; its error (or the
  // FailedPrecondition of a missing provider) otherwise. Changes nothing.
  absl::Status CheckKeyProvider() const { return Kek().status(); }

  // The id of the KEK the vault's secrets are wrapped with ("" when there is
  // no vault or its secrets are still in the clear).
  absl::StatusOr<std::string> WrappingKeyId() const;

 private:
  absl::StatusOr<model::VaultSecrets> Secrets() const;
  absl::StatusOr<KeyEncryptionKey> Kek() const;
  absl::StatusOr<model::VaultSecrets> StoredRecord(const model::Vault& vault) const;

  repository::ObjectRepository* repo_;
  const Clock* clock_;
  KeyProvider* keys_;
};

// Wraps `secrets` (signing and sealing key) of `vault_id` under `kek`: the
// record to store (vault_id, key_id, wrapped_secrets).
absl::StatusOr<model::VaultSecrets> WrapVaultSecrets(const model::VaultSecrets& secrets,
                                                     absl::string_view vault_id,
                                                     const KeyEncryptionKey& kek);

// Opens a record WrapVaultSecrets made: the signing and sealing key.
// PermissionDenied (rule VaultKeysWrappedByKeyProvider) when `kek` is not the
// key that wrapped it, naming the key id expected and the one given.
absl::StatusOr<model::VaultSecrets> UnwrapVaultSecrets(const model::VaultSecrets& record,
                                                       const KeyEncryptionKey& kek,
                                                       absl::string_view kek_source);

// The store key of a vault's secrets (outside every object kind's prefix).
std::string VaultSecretsKey(absl::string_view vault_id);

// RFC 3339 UTC text of a Unix time, for messages ("2023-11-19T22:13:20Z").
std::string FormatUnixTime(int64_t unix_seconds);

}  // namespace asr::fabric

#endif  // ASR_FABRIC_VAULT_H_
