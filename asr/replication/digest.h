// asr/replication/digest.h: block digests for change detection and cycle
// integrity. A 128-bit digest proves a block unchanged (the manifest's
// BlockHasher: seeded XXH3-128 for new replications, SHA-256 for manifests
// written before); a 32-bit CRC is only used to catch transport and storage
// corruption of one frame. The cycle digest is SHA-256.
//
//   BlockHasher h = BlockHasher::NewXxh3();   // or the manifest's
//   Digest d = h(data, size);                 // kZeroDigest when all zeros
//   if (d != manifest.digests[block]) { ...send it... }
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

// The manifest digest of a block that must be resent ("resynchronization
// required", set by verification when the replica or the source no longer
// matches what the manifest records). No BlockHasher output equals it:
// XXH3-128 digests keep bytes 16..31 zero (at most byte 16 is 1, see
// BlockHasher), and a SHA-256 equal to it has probability 2^-256. So a scan
// finds every such block changed and resends it (data or ZERO_RANGE), and the
// resent block's real digest replaces the sentinel.
inline constexpr Digest kResyncDigest = {0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
                                         0,   0,   0,   0,   0,   'A', 'S', 'R', '-', 'R', 'E',
                                         'S', 'Y', 'N', 'C', '-', 'B', 'L', 'O', 'C', 'K'};

// True when all `size` bytes at `data` are zero.
bool IsAllZero(const uint8_t* data, size_t size);

// SHA-256 of the bytes.
Digest Sha256(const void* data, size_t size);

// kZeroDigest for an all-zero block, else its SHA-256 (the cycle digest of
// protocol versions 1 and 2 chains these).
Digest BlockDigest(const uint8_t* data, size_t size);

// How a manifest digests its blocks.
enum class BlockHashKind : uint8_t {
  kSha256 = 1,  // manifests of format 1: SHA-256 (1.8 GB/s per core)
  // XXH3-128 with a per-replication random seed, in the first 16 bytes of
  // the Digest (the rest zero): ~20 GB/s. Change detection compares a block
  // the source host reads with the digest the same host recorded; a random
  // change goes unseen with probability 2^-128. It is not a cryptographic
  // hash: a guest that knew the seed (it lives on the host, next to the
  // disk) could in principle write a colliding block and so keep one block
  // of its own replica stale until the next full copy; it cannot affect any
  // other disk or the transport (TLS authenticates every byte sent).
  kXxh3_128 = 2,
};
const char* BlockHashKindName(BlockHashKind kind);  // "sha256", "xxh3-128"

// A manifest's block digest function. A value type.
struct BlockHasher {
  BlockHashKind kind = BlockHashKind::kXxh3_128;
  uint64_t seed = 0;  // kXxh3_128 only

  // kXxh3_128 with a fresh random seed: for a new replication.
  static BlockHasher NewXxh3();
  // kZeroDigest for an all-zero block, else the block's digest.
  Digest operator()(const uint8_t* data, size_t size) const;
};

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
