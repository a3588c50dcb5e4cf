// asr/fabric/crypto.h: the vault's cryptography, through BoringSSL: Ed25519
// signatures for registration keys and AES-256-GCM sealing of secrets at rest
// (proxy passwords).
//
//   SigningKeyPair pair = NewSigningKeyPair();
//   std::string sig = Sign(pair.private_key, message);
//   bool good = Verify(pair.public_key, message, sig);
//
//   std::string key = RandomBytes(kSealingKeySize);
//   ASR_ASSIGN_OR_RETURN(std::string sealed, Seal(key, "p@ss", "proxy:vmm-ny"));
//   ASR_ASSIGN_OR_RETURN(std::string plain, Unseal(key, sealed, "proxy:vmm-ny"));
//
// Thread safety: free functions, safe from any thread.
#ifndef ASR_FABRIC_CRYPTO_H_
#define ASR_FABRIC_CRYPTO_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace asr::fabric {

inline constexpr size_t kSealingKeySize = 32;  // AES-256

struct SigningKeyPair {
  std::string public_key;   // 32 bytes
  std::string private_key;  // 64 bytes (seed || public key)
};

// `n` bytes from BoringSSL's CSPRNG.
std::string RandomBytes(size_t n);

// `n` random bytes as lower-case hex (2n characters).
std::string RandomHex(size_t n);

SigningKeyPair NewSigningKeyPair();

// Ed25519 signature (64 bytes) of `message`; `private_key` must be 64 bytes.
std::string Sign(absl::string_view private_key, absl::string_view message);

// Whether `signature` is `public_key`'s valid signature of `message`.
bool Verify(absl::string_view public_key, absl::string_view message,
            absl::string_view signature);

// AES-256-GCM: nonce (12 bytes) || ciphertext || tag. `context` is bound as
// associated data: opening with another context fails.
absl::StatusOr<std::string> Seal(absl::string_view key, absl::string_view plaintext,
                                 absl::string_view context);

// Opens what Seal made. DataLoss when the bytes or the context do not match.
absl::StatusOr<std::string> Unseal(absl::string_view key, absl::string_view sealed,
                                   absl::string_view context);

}  // namespace asr::fabric

#endif  // ASR_FABRIC_CRYPTO_H_
