// asr/replication/offline_package.h: offline initial replication. The
// primary host exports a disk's initial copy as a package of files, which
// travels to the recovery site by other means (a shipped disk, a file copy);
// the recovery host imports it into an empty replica directory, and
// replication continues over the network with deltas only.
//
//   ExportOptions eo;
//   eo.compression_level = 3;
//   ASR_ASSIGN_OR_RETURN(ExportResult ex, ExportInitialPackage("/vms/a.vhdx", "/export/a", eo));
//   // ... /export/a is carried to the recovery site as /import/a ...
//   ReplicaOptions ro;
//   ro.writer = "primary-host";  // as for a receiver of this replica
//   ASR_ASSIGN_OR_RETURN(uint64_t point, ImportInitialPackage("/import/a", "/replicas/a", ro));
//   // then a receiver serves /replicas/a, and the primary host's next cycle
//   // (ReplicateDisk in tracked or scan mode) sends only what changed.
//
// The package (PACKAGE_DIR):
//   part-0001.asrpkg ...  the initial cycle's frames exactly as the sender
//                         writes them to a receiver (protocol.h): HELLO,
//                         CYCLE_START, BLOCK_GROUP and ZERO_RANGE frames,
//                         CYCLE_END, each with its CRC-32Cs; a frame never
//                         spans two parts, and a part grows past part_bytes
//                         only by a single frame larger than that
//   manifest.json         the OfflinePackageManifest message
//                         (asr/model/replication.proto): format version,
//                         the disk's id and geometry, replication id, cycle,
//                         source time, each part's name, size, SHA-256 and
//                         block range, the totals, and its own SHA-256.
//                         Written last: a package without it is incomplete.
//
// Export (the sender's own initial cycle; the receiver's side of the
// handshake is played locally by the stream that records the frames):
//
//   [Prepare]  refuse a directory that holds a manifest; delete parts an
//      |       interrupted export left
//      v
//   [Record]   ReplicateDisk(kInitial): HELLO is answered "no replica yet",
//      |       CYCLE_START "ready"; each frame is appended to the current
//      |       part (a new one when it would pass part_bytes; each part is
//      |       fsynced when closed)
//      v
//   [Seal]     at CYCLE_END: the last part fsynced, the directory fsynced,
//      |       manifest.json written atomically; only then CYCLE_ACK, upon
//      |       which the sender commits DISK.asrrepl and the change tracker
//      |       exactly as after a receiver's ACK
//      v
//   done       (a failure before the seal deletes the parts written)
//
// Import (a receiver's first cycle, fed from the files):
//
//   [Check]    manifest.json parsed; its checksum, format and fields checked;
//      |       the replica directory opened (its receiver lock taken); a
//      |       replica that already holds a point is refused
//      |       (FailedPrecondition)
//      v
//   [Verify]   every part present ("package is incomplete:
//      |       part-0003.asrpkg is missing"), of its size and SHA-256
//      |       (DataLoss naming the file) -- before anything is applied
//      v
//   [Apply]    HELLO and CYCLE_START checked against the manifest;
//      |       ReplicaStore::BeginCycle; each frame read, checked and given
//      |       to the CycleWriter. A frame that fails its CRC or its decoding
//      |       is refused (DataLoss) naming the file, the frame's byte offset
//      |       in it, and the block: its index and byte offset in the disk
//      v
//   [Commit]   CYCLE_END: the first-cycle commit of replica_store.h
//              (replica.vhdx renamed into place, then the state saved).
//              A refusal or a crash before it leaves no replica.
//
// Should the sender's ACK handling fail after the seal (say, DISK.asrrepl
// cannot be renamed), the package is still whole: the first network cycle
// after its import adopts the sender's pending state, as after a lost ACK.
//
// Thread safety: the functions may run at once for different disks,
// packages and replica directories; an export holds the disk's replication
// state as ReplicateDisk does, an import the replica's receiver lock.
#ifndef ASR_REPLICATION_OFFLINE_PACKAGE_H_
#define ASR_REPLICATION_OFFLINE_PACKAGE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asr/model/replication.pb.h"
#include "asr/replication/change_tracker.h"
#include "asr/replication/replica_store.h"
#include "asr/replication/sender.h"

namespace asr::replication {

inline constexpr char kPackageManifestFile[] = "manifest.json";
inline constexpr uint32_t kPackageFormatVersion = 1;
// The smallest part size an export accepts.
inline constexpr uint64_t kMinPartBytes = 64 << 10;

struct ExportOptions {
  int compression_level = 3;       // 0: off; 1..19 zstd
  uint32_t block_size = 64 << 10;  // the replication block size (as SendOptions)
  // When the disk's contents were captured (the point's source time);
  // InfinitePast: when the export reads them.
  absl::Time source_time = absl::InfinitePast();
  uint64_t part_bytes = 256ull << 20;  // at least kMinPartBytes
  std::string source_name;             // informational, e.g. the host name
  // The host's change tracker of the disk, as SendOptions::tracker (null:
  // the export opens the disk's tracker itself).
  ChangeTracker* tracker = nullptr;
  int worker_threads = 2;  // hashing + compression
};

struct ExportResult {
  std::vector<std::string> files;  // names in the package directory, manifest.json last
  uint64_t bytes = 0;              // of all the files
  uint64_t blocks = 0;             // blocks with data
  std::string replication_id;
  uint64_t point_id = 0;  // the point an import makes (the cycle)
  CycleStats stats;       // of the recorded cycle (wire_bytes: of the frames)
};

// Exports the initial copy of `disk_path` into `package_dir` (created when
// missing; AlreadyExists when it holds a manifest.json). See the diagram.
absl::StatusOr<ExportResult> ExportInitialPackage(const std::string& disk_path,
                                                  const std::string& package_dir,
                                                  const ExportOptions& options);

// Imports the package in `package_dir` into the empty replica directory
// `replica_dir` (created when missing); options.writer must name the
// primary host, as for a receiver. Returns the point id. See the diagram
// for the refusals.
absl::StatusOr<uint64_t> ImportInitialPackage(const std::string& package_dir,
                                              const std::string& replica_dir,
                                              const ReplicaOptions& options);

// Reads and checks package_dir/manifest.json (checksum, format version,
// identifiers, geometry, part names, totals): DataLoss naming the file and
// what is wrong; NotFound "package is incomplete: ..." when it is missing.
absl::StatusOr<model::OfflinePackageManifest> ReadPackageManifest(const std::string& package_dir);

// Writes `manifest` as package_dir/manifest.json with its checksum set,
// atomically (temp, fsync, rename, fsync dir).
absl::Status WritePackageManifest(const std::string& package_dir,
                                  model::OfflinePackageManifest manifest);

}  // namespace asr::replication

#endif  // ASR_REPLICATION_OFFLINE_PACKAGE_H_
