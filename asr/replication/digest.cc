#include "asr/replication/digest.h"

#include <openssl/rand.h>
#include <openssl/sha.h>
#include <xxhash.h>

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

const char* BlockHashKindName(BlockHashKind kind) {
  switch (kind) {
    case BlockHashKind::kSha256: return "sha256";
    case BlockHashKind::kXxh3_128: return "xxh3-128";
  }
  return "unknown";
}

BlockHasher BlockHasher::NewXxh3() {
  BlockHasher h;
  h.kind = BlockHashKind::kXxh3_128;
  RAND_bytes(reinterpret_cast<uint8_t*>(&h.seed), sizeof(h.seed));
  return h;
}

Digest BlockHasher::operator()(const uint8_t* data, size_t size) const {
  if (IsAllZero(data, size)) return kZeroDigest;
  if (kind == BlockHashKind::kSha256) return Sha256(data, size);
  XXH128_hash_t x = XXH3_128bits_withSeed(data, size, seed);
  Digest d = {};
  for (int i = 0; i < 8; ++i) {
    d[i] = static_cast<uint8_t>(x.low64 >> (8 * i));
    d[8 + i] = static_cast<uint8_t>(x.high64 >> (8 * i));
  }
  // An all-zero result would read as "zero block"; it has probability 2^-128
  // but is mapped away all the same.
  if (d == kZeroDigest) d[16] = 1;
  return d;
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
