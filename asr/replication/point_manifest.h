// asr/replication/point_manifest.h: the recovery host's own record of what
// the latest recovery point of a replica holds, one digest per replication
// block, so that `asrctl replica verify --dir` can re-read the replica
// locally (no primary host, no network) and find blocks that rotted on the
// recovery host's storage.
//
// File: REPLICA_DIR/replica.digests, replaced atomically (temp, fsync,
// rename, fsync dir):
//   "ASRDIG1\n", u64 point, u64 virtual_size, u32 block_size, u64 seed,
//   u64 block count, then 16 bytes per block (seeded XXH3-128, the
//   BlockHasher of VERIFY_REQUEST; an all-zero block: 16 zero bytes), then
//   the CRC-32C of everything before it (u32). Little-endian.
//
// The file names the point it describes. It is written during a commit
// after the replica holds the new point and before the state switch that
// makes the point current: a crash between the two leaves a file naming a
// point the state does not (yet) hold; the roll-forward of the apply (or,
// for a first cycle, the resent cycle) writes it again, and until then a
// verification says that no manifest is recorded for the current point,
// never a false mismatch. A commit updates only the digests of the blocks
// the cycle wrote, from the data it already holds in memory; when there is
// no manifest of the previous point (a replica from before manifests, or a
// lost file) the commit builds it by reading the whole replica once.
//
//   ASR_ASSIGN_OR_RETURN(LocalVerifyResult r, VerifyReplicaDir("/replicas/vm1-disk0", {}));
//   if (r.mismatched_blocks > 0) { ...r.first_mismatches... }
#ifndef ASR_REPLICATION_POINT_MANIFEST_H_
#define ASR_REPLICATION_POINT_MANIFEST_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asr/disk/virtual_disk.h"
#include "asr/replication/digest.h"

namespace asr::replication {

inline constexpr char kPointManifestFile[] = "replica.digests";

// A value type.
struct PointManifest {
  uint64_t point = 0;
  uint64_t virtual_size = 0;
  uint32_t block_size = 0;
  uint64_t seed = 0;  // of the XXH3-128 BlockHasher
  std::vector<std::array<uint8_t, 16>> digests;

  BlockHasher hasher() const;
  // Records `data` (a whole block at `offset`, the disk's last one possibly
  // shorter) as the block's contents.
  void SetBlock(uint64_t offset, const uint8_t* data, size_t length);
  // Records blocks [offset, offset + length) (whole blocks) as zeros.
  void SetZero(uint64_t offset, uint64_t length);
};

// Reads dir/replica.digests: nullopt when there is none; DataLoss naming the
// file when it is damaged (a verification then reports that, and the next
// commit rebuilds it).
absl::StatusOr<std::optional<PointManifest>> LoadPointManifest(const std::string& dir);
absl::Status SavePointManifest(const std::string& dir, const PointManifest& m);

// Digests every block of `disk` (the pipelined reader of disk_digest.h).
absl::StatusOr<PointManifest> BuildPointManifest(disk::VirtualDisk& disk, uint64_t point,
                                                 uint32_t block_size);

// For the store's commit (replica_store.cc). The manifest a commit of
// point `applying` over point `current` updates: the file's when it
// describes either (a rerun of an interrupted apply finds the newer one; the
// blocks the cycle did not write are the same in both) with this geometry;
// all zeros with a new seed for a fresh replica; else nullopt (rebuilt from
// the replica after the apply).
std::optional<PointManifest> ManifestToUpdate(const std::string& dir, uint64_t current,
                                              uint64_t applying, uint64_t virtual_size,
                                              uint32_t block_size, bool fresh);
// Saves `m` (nullopt: digests dir/replica_file whole) as point `point`'s,
// after the replica holds that point and before the state names it current.
// A failure leaves no manifest of the point (verification says so) and does
// not fail the commit: replication goes on, the next commit builds it again.
void SaveLatestManifest(const std::string& dir, std::optional<PointManifest> m, uint64_t point,
                        const std::string& replica_file, uint32_t block_size);

struct LocalVerifyResult {
  uint64_t point = 0;
  bool manifest_recorded = false;  // false: nothing compared (see message)
  uint64_t blocks = 0;             // compared
  uint64_t mismatched_blocks = 0;
  std::vector<uint64_t> first_mismatches;  // byte offsets, at most 8
  uint64_t bytes_read = 0;
  std::string message;  // one line for a person
};

// Re-reads the latest point of the replica in `dir` sequentially and
// compares each block with the manifest, under the shared apply lock (a
// receiver may hold the directory). `point` (default: the latest): an older
// kept point is read as RestorePoint reads it, the blocks of its reverse
// deltas checked by their recorded CRC-32C (a damaged block is reported as
// a mismatch; a delta file whose structure is damaged: DataLoss naming it),
// the others against the manifest; NotFound for an unknown point. NotFound
// when `dir` is no replica directory, FailedPrecondition when it holds no
// point yet.
absl::StatusOr<LocalVerifyResult> VerifyReplicaDir(const std::string& dir,
                                                   std::optional<uint64_t> point);

// {"point":"7","manifestRecorded":true,"blocks":"64","mismatchedBlocks":"1",
//  "firstMismatches":["2097152"],"bytesRead":"..","ok":false,"message":".."}
std::string LocalVerifyResultToJson(const LocalVerifyResult& r);

}  // namespace asr::replication

#endif  // ASR_REPLICATION_POINT_MANIFEST_H_
