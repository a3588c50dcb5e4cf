#include "asr/fabric/crypto.h"

#include <openssl/aead.h>
#include <openssl/curve25519.h>
#include <openssl/rand.h>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace asr::fabric {
namespace {

const uint8_t* U8(absl::string_view s) { return reinterpret_cast<const uint8_t*>(s.data()); }

}  // namespace

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  RAND_bytes(reinterpret_cast<uint8_t*>(&out[0]), n);
  return out;
}

std::string RandomHex(size_t n) { return absl::BytesToHexString(RandomBytes(n)); }

SigningKeyPair NewSigningKeyPair() {
  uint8_t pub[ED25519_PUBLIC_KEY_LEN];
  uint8_t priv[ED25519_PRIVATE_KEY_LEN];
  ED25519_keypair(pub, priv);
  SigningKeyPair pair;
  pair.public_key.assign(reinterpret_cast<char*>(pub), sizeof pub);
  pair.private_key.assign(reinterpret_cast<char*>(priv), sizeof priv);
  return pair;
}

std::string Sign(absl::string_view private_key, absl::string_view message) {
  uint8_t sig[ED25519_SIGNATURE_LEN];
  if (private_key.size() != ED25519_PRIVATE_KEY_LEN ||
      ED25519_sign(sig, U8(message), message.size(), U8(private_key)) != 1) {
    return "";
  }
  return std::string(reinterpret_cast<char*>(sig), sizeof sig);
}

bool Verify(absl::string_view public_key, absl::string_view message,
            absl::string_view signature) {
  if (public_key.size() != ED25519_PUBLIC_KEY_LEN || signature.size() != ED25519_SIGNATURE_LEN) {
    return false;
  }
  return ED25519_verify(U8(message), message.size(), U8(signature), U8(public_key)) == 1;
}

absl::StatusOr<std::string> Seal(absl::string_view key, absl::string_view plaintext,
                                 absl::string_view context) {
  if (key.size() != kSealingKeySize) {
    return absl::InternalError("sealing key must be 32 bytes");
  }
  const EVP_AEAD* aead = EVP_aead_aes_256_gcm();
  EVP_AEAD_CTX ctx;
  if (EVP_AEAD_CTX_init(&ctx, aead, U8(key), key.size(), EVP_AEAD_DEFAULT_TAG_LENGTH, nullptr) !=
      1) {
    return absl::InternalError("AES-256-GCM initialisation failed");
  }
  size_t nonce_len = EVP_AEAD_nonce_length(aead);
  std::string nonce = RandomBytes(nonce_len);
  std::string out(nonce_len + plaintext.size() + EVP_AEAD_max_overhead(aead), '\0');
  memcpy(&out[0], nonce.data(), nonce_len);
  size_t out_len = 0;
  int ok = EVP_AEAD_CTX_seal(&ctx, reinterpret_cast<uint8_t*>(&out[nonce_len]), &out_len,
                             out.size() - nonce_len, U8(nonce), nonce_len, U8(plaintext),
                             plaintext.size(), U8(context), context.size());
  EVP_AEAD_CTX_cleanup(&ctx);
  if (ok != 1) return absl::InternalError("AES-256-GCM sealing failed");
  out.resize(nonce_len + out_len);
  return out;
}

absl::StatusOr<std::string> Unseal(absl::string_view key, absl::string_view sealed,
                                   absl::string_view context) {
  const EVP_AEAD* aead = EVP_aead_aes_256_gcm();
  size_t nonce_len = EVP_AEAD_nonce_length(aead);
  if (key.size() != kSealingKeySize || sealed.size() < nonce_len + EVP_AEAD_max_overhead(aead)) {
    return absl::DataLossError("sealed secret is truncated");
  }
  EVP_AEAD_CTX ctx;
  if (EVP_AEAD_CTX_init(&ctx, aead, U8(key), key.size(), EVP_AEAD_DEFAULT_TAG_LENGTH, nullptr) !=
      1) {
    return absl::InternalError("AES-256-GCM initialisation failed");
  }
  std::string out(sealed.size(), '\0');
  size_t out_len = 0;
  int ok = EVP_AEAD_CTX_open(&ctx, reinterpret_cast<uint8_t*>(&out[0]), &out_len, out.size(),
                             U8(sealed), nonce_len, U8(sealed.substr(nonce_len)),
                             sealed.size() - nonce_len, U8(context), context.size());
  EVP_AEAD_CTX_cleanup(&ctx);
  if (ok != 1) {
    return absl::DataLossError(absl::StrCat(
        "sealed secret for '", context, "' does not open: it was altered or sealed by another "
        "vault"));
  }
  out.resize(out_len);
  return out;
}

}  // namespace asr::fabric
