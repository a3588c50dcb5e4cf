// asr/fabric/key_provider.h: where the key-encryption key (KEK) that wraps
// the vault's private keys comes from. The state directory holds the vault's
// signing key and sealing key only wrapped (AES-256-GCM) under a KEK that
// the host supplies through a KeyProvider, so that a copy of the state
// directory alone opens nothing:
//
//  - a key file (KeyFileProvider): 64 hexadecimal characters (32 bytes),
//    optionally followed by one newline; the file must be a regular file
//    (not a symbolic link), readable by its owner only (no group or other
//    permission bits) and live outside the state directory. Create one with
//    CreateKeyFile (`asrctl key-provider init --key-file PATH`);
//  - an environment variable (EnvironmentKeyProvider), the same 64 hex
//    characters, by default ASR_KEY_ENCRYPTION_KEY;
//  - the host's callback (the C API's get_key_encryption_key: DPAPI in a
//    Windows provider DLL), which returns the key and its id.
//
// A KEK comes with a stable key id that is stored next to what it wraps, so
// that a wrong key is named ("wrapped with kek-1a2b..., the provider gives
// kek-9f8e...") rather than reported as damage. For hex keys the id is
// derived from the key (KeyIdFor: "kek-" and 16 hex digits of a SHA-256
// over it), so the same key gives the same id from a file or a variable.
//
//   ASR_RETURN_IF_ERROR(CreateKeyFile("/etc/asr/kek"));            // once, 0600
//   auto keys = std::make_shared<KeyFileProvider>("/etc/asr/kek");
//   ASR_ASSIGN_OR_RETURN(KeyEncryptionKey kek, keys->GetKey(kVaultSecretsPurpose));
//
// Thread safety: implementations are thread-safe; GetKey reads its source
// on every call (a key file replaced by the operator is picked up).
#ifndef ASR_FABRIC_KEY_PROVIDER_H_
#define ASR_FABRIC_KEY_PROVIDER_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace asr::fabric {

inline constexpr size_t kKeyEncryptionKeySize = 32;  // AES-256
// The purpose the vault's secrets ask their KEK for.
inline constexpr char kVaultSecretsPurpose[] = "vault-secrets";
// The environment variables asrctl reads (the C API: asr_engine_set_key_file).
inline constexpr char kKeyEncryptionKeyVariable[] = "ASR_KEY_ENCRYPTION_KEY";
inline constexpr char kKeyFileVariable[] = "ASR_KEY_FILE";

struct KeyEncryptionKey {
  std::string key;     // kKeyEncryptionKeySize bytes
  std::string key_id;  // stable, printable, at most 256 bytes
};

class KeyProvider {
 public:
  virtual ~KeyProvider() = default;
  // The KEK for `purpose` (e.g. kVaultSecretsPurpose). Errors say what is
  // wrong with the source and how to fix it.
  virtual absl::StatusOr<KeyEncryptionKey> GetKey(absl::string_view purpose) = 0;
  // Where the key comes from, for messages: "key file /etc/asr/kek".
  virtual std::string Describe() const = 0;
  // False for a stand-in with nothing behind it yet (GetKey would fail).
  virtual bool configured() const { return true; }
};

// The key id of a 32-byte key: "kek-" and 16 lower-case hex digits.
std::string KeyIdFor(absl::string_view key);

// Parses 64 hex characters (one trailing newline allowed) into 32 bytes;
// InvalidArgument naming `source` otherwise (never echoing the key).
absl::StatusOr<std::string> ParseHexKey(absl::string_view text, absl::string_view source);

// A key file (see above). GetKey refuses, with FailedPrecondition naming the
// file and the fix: a symbolic link, anything but a regular file, group or
// other permission bits (e.g. mode 0644: "chmod 600 FILE"); InvalidArgument
// for the wrong length or non-hex content; NotFound when it is missing.
class KeyFileProvider : public KeyProvider {
 public:
  explicit KeyFileProvider(std::string path) : path_(std::move(path)) {}
  absl::StatusOr<KeyEncryptionKey> GetKey(absl::string_view purpose) override;
  std::string Describe() const override;
  const std::string& path() const { return path_; }

 private:
  const std::string path_;
};

// A key in an environment variable, read at each GetKey; FailedPrecondition
// when it is unset or empty, InvalidArgument when it is not 64 hex digits.
class EnvironmentKeyProvider : public KeyProvider {
 public:
  explicit EnvironmentKeyProvider(std::string variable = kKeyEncryptionKeyVariable)
      : variable_(std::move(variable)) {}
  absl::StatusOr<KeyEncryptionKey> GetKey(absl::string_view purpose) override;
  std::string Describe() const override;

 private:
  const std::string variable_;
};

// Checks what a provider returned (length, key id); InvalidArgument naming
// the provider otherwise. Every KeyProvider user calls it.
absl::Status CheckKeyEncryptionKey(const KeyEncryptionKey& kek, const KeyProvider& provider);

// Creates a new key file at `path` with a fresh random key: mode 0600,
// created with O_EXCL|O_NOFOLLOW (never through a link, never over an
// existing file: AlreadyExists, since replacing a KEK loses every vault it
// wraps), written and fsync'd with its directory. Returns the key id.
absl::StatusOr<std::string> CreateKeyFile(const std::string& path);

// How to configure a provider, for the FailedPrecondition of a vault
// operation without one.
std::string HowToConfigureKeyProvider();

}  // namespace asr::fabric

#endif  // ASR_FABRIC_KEY_PROVIDER_H_
