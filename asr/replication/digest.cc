#include "asr/replication/digest.h"

#include <openssl/sha.h>

#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"

namespace asr::replication {

static_assert(sizeof(SHA256_CTX) <= 128, "SHA256_CTX does not fit");

bool IsAllZero(const uint8_t* p, size_t n) {
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    uint64_t a, b, c, d;
    std::memcpy(&a, p + i, 8);
    std::memcpy(&b, p + i + 8, 8);
    std::memcpy(&c, p + i + 16, 8);
    std::memcpy(&d, p + i + 24, 8);
    if ((a | b | c | d) != 0) return false;
  }
  for (; i < n; ++i) {
    if (p[i] != 0) return false;
  }
  return true;
}

Digest Sha256(const void* data, size_t size) {
  Digest d;
  SHA256(static_cast<const uint8_t*>(data), size, d.data());
  return d;
}

Digest BlockDigest(const uint8_t* data, size_t size) {
  if (IsAllZero(data, size)) return kZeroDigest;
  return Sha256(data, size);
}

std::string DigestHex(const Digest& d) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

Sha256Stream::Sha256Stream() { SHA256_Init(reinterpret_cast<SHA256_CTX*>(ctx_)); }

void Sha256Stream::Update(const void* data, size_t size) {
  SHA256_Update(reinterpret_cast<SHA256_CTX*>(ctx_), data, size);
}

void Sha256Stream::UpdateU64(uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(v >> (8 * i));
  Update(b, 8);
}

Digest Sha256Stream::Finish() {
  Digest d;
  SHA256_Final(d.data(), reinterpret_cast<SHA256_CTX*>(ctx_));
  return d;
}

}  // namespace asr::replication
