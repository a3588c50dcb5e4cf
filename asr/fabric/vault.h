// asr/fabric/vault.h: the vault of a state directory (one per directory),
// its registration keys and the sealing of secrets with a vault-held key.
//
// A registration key file is the JSON of model::RegistrationKey: vault id,
// name and region, key id, issue time, expiry (issue + 5 days), and an
// Ed25519 signature by the vault's signing key over all of those. The
// private signing key and the AES-256-GCM sealing key are kept under their
// own store key, never as a stored object kind, so they are never listed or
// returned by object get.
//
//   VaultService vault(&repo, &clock);
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
#include "asr/model/fabric.pb.h"
#include "asr/repository/object_repository.h"

namespace asr::fabric {

// How long a registration key is valid after it is generated.
inline constexpr absl::Duration kRegistrationKeyValidity = absl::Hours(24 * 5);

class VaultService {
 public:
  VaultService(repository::ObjectRepository* repo, const Clock* clock)
      : repo_(repo), clock_(clock) {}

  // Creates the vault with fresh signing and sealing keys. InvalidArgument
  // for an empty name or region; AlreadyExists when the state directory
  // already holds a vault (one vault per state directory).
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

 private:
  absl::StatusOr<model::VaultSecrets> Secrets() const;

  repository::ObjectRepository* repo_;
  const Clock* clock_;
};

// The store key of a vault's secrets (outside every object kind's prefix).
std::string VaultSecretsKey(absl::string_view vault_id);

// RFC 3339 UTC text of a Unix time, for messages ("2023-11-19T22:13:20Z").
std::string FormatUnixTime(int64_t unix_seconds);

}  // namespace asr::fabric

#endif  // ASR_FABRIC_VAULT_H_
