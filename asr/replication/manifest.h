// asr/replication/manifest.h: the source side's record of what the replica
// holds — one 128-bit digest per replication block of the last replicated
// state (see BlockHasher) — so a scan finds changed blocks without asking
// the receiver anything.
//
// Files next to the source disk (DISK is the disk's path):
//   DISK.asrrepl          the state the replica has acknowledged (committed)
//   DISK.asrrepl.pending  the state of a cycle sent but not yet acknowledged;
//                         adopted when the receiver reports that cycle as its
//                         current one (the acknowledgement was lost), else
//                         discarded.
//   DISK.asrrepl.newid    the replication id of a first initial replication
//                         until it is acknowledged, so that an interrupted
//                         one resumes under the same id (resume.h).
// Both are written atomically (temp file, fsync, rename, fsync directory)
// and end with a CRC-32C; a corrupt file is DataLoss, never trusted.
//
//   ASR_ASSIGN_OR_RETURN(std::optional<Manifest> m, LoadManifest(ManifestPath(disk)));
//   if (m && m->digests[block] != m->hasher(data, n)) { ...changed... }
//   ASR_RETURN_IF_ERROR(SaveManifest(ManifestPath(disk), updated));
#ifndef ASR_REPLICATION_MANIFEST_H_
#define ASR_REPLICATION_MANIFEST_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asr/disk/disk_fingerprint.h"
#include "asr/replication/digest.h"

namespace asr::replication {

// A value type. Thread safety: none beyond const access.
struct Manifest {
  std::string replication_id;  // chosen at initial replication, names the replica
  std::string source_disk_id;  // informational
  uint64_t virtual_size = 0;
  uint32_t block_size = 0;
  uint64_t cycle = 0;  // the replica's point this manifest describes
  // How `digests` were made: chosen at initial replication and kept by every
  // later cycle (format 1 files, from before format 2, are SHA-256).
  BlockHasher hasher;
  std::vector<Digest> digests;  // one per block; kZeroDigest for zero blocks
  // The source as the cycle found it before reading: [0] the disk itself,
  // then its differencing parents, nearest first (format 3; empty in older
  // files). A differencing cycle trusts the parents' blocks only while each
  // parent still matches its fingerprint here.
  std::vector<disk::DiskFingerprint> chain;

  uint64_t block_count() const { return digests.size(); }
  static uint64_t BlocksFor(uint64_t virtual_size, uint32_t block_size) {
    return (virtual_size + block_size - 1) / block_size;
  }
};

std::string ManifestPath(const std::string& disk_path);
std::string PendingManifestPath(const std::string& disk_path);

// nullopt when the file does not exist; DataLoss when it is corrupt.
absl::StatusOr<std::optional<Manifest>> LoadManifest(const std::string& path);
absl::Status SaveManifest(const std::string& path, const Manifest& m);

// A new random identifier for a replication relationship ("r-" + 32 hex).
std::string NewReplicationId();

}  // namespace asr::replication

#endif  // ASR_REPLICATION_MANIFEST_H_
