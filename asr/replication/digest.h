// asr/replication/digest.h: block digests for change detection and cycle
// integrity. SHA-256 (BoringSSL) proves a block unchanged; a 32-bit CRC is
// only used to catch transport and storage corruption of one frame.
//
//   Digest d = BlockDigest(data, size);   // kZeroDigest when all zeros
//   if (d != manifest.digest(block)) { ...send it... }
//   Sha256Stream cycle;
//   cycle.Update(&offset, 8);
//   Digest total = cycle.Finish();
#ifndef ASR_REPLICATION_DIGEST_H_
#define ASR_REPLICATION_DIGEST_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace asr::replication {

using Digest = std::array<uint8_t, 32>;

// The digest recorded for a block that reads as zeros (allocated or not).
// No SHA-256 output is all zeros in practice, so it doubles as a sentinel.
inline constexpr Digest kZeroDigest = {};

// True when all `size` bytes at `data` are zero.
bool IsAllZero(const uint8_t* data, size_t size);

// SHA-256 of the bytes.
Digest Sha256(const void* data, size_t size);

// kZeroDigest for an all-zero block, else its SHA-256.
Digest BlockDigest(const uint8_t* data, size_t size);

std::string DigestHex(const Digest& d);

// Incremental SHA-256. Thread safety: none (one owner).
class Sha256Stream {
 public:
  Sha256Stream();
  void Update(const void* data, size_t size);
  void UpdateU64(uint64_t v);
  Digest Finish();

 private:
  alignas(8) uint8_t ctx_[128];  // SHA256_CTX, kept opaque here
};

}  // namespace asr::replication

#endif  // ASR_REPLICATION_DIGEST_H_
