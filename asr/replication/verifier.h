// asr/replication/verifier.h: periodic verification of a replica against the
// source — defence in depth against silent data loss. The sender's manifest
// (DISK.asrrepl) records what it believes the replica's latest point holds;
// verification checks that belief on both sides:
//
//   replica side  the receiver digests every block of its latest point
//                 (VERIFY_REQUEST, protocol version 4) with the manifest's
//                 BlockHasher; a block whose digest differs from the
//                 manifest's is a replica mismatch (bit rot, a manual edit of
//                 the replica, the wrong replica);
//   source side   the source disk is read (read-only) and digested; a block
//                 that differs from the manifest although the change tracker
//                 (DISK.asrcbt) has not marked it as changed since the point
//                 is a source mismatch (a write nobody told the tracker of).
//
// On any mismatch "resynchronization required" is raised durably: the
// manifest digest of every mismatching block is set to kResyncDigest (saved
// atomically), so the next scan cycle resends those blocks, and the marker
// file DISK.asrresync records the reason for the sender (a tracked cycle
// cannot see the manifest's sentinels: a sender that finds the marker should
// scan). A later clean verification removes the marker.
//
//   VerifyOptions o;
//   ASR_ASSIGN_OR_RETURN(auto s, net::TlsConnect("127.0.0.1", 8084, tls, absl::Seconds(10)));
//   ASR_ASSIGN_OR_RETURN(VerifyResult r, VerifyReplica("/vms/a.vhdx", *s, o));
//   if (r.resync_required) LOG(WARNING) << r.reason;  // the next scan repairs it
//
//   // Every 10 cycles or once a day, after a cycle on the same connection:
//   VerifySchedule every{10, absl::Hours(24)};
//   if (VerificationDue(disk, every, stats.cycle, absl::Now())) {
//     o.session = VerifyOptions::Session{stats.protocol_version, stats.point_id};
//     ASR_ASSIGN_OR_RETURN(VerifyResult r, VerifyReplica(disk, *s, o));
//   }
//
// Files next to the source disk (DISK is its path), both text, written
// atomically (temp file, fsync, rename, fsync directory):
//   DISK.asrresync   "asr-resync 1\ntime <RFC 3339 UTC>\npoint <id>\n"
//                    "reason <one line>\n"
//   DISK.asrverify   "asr-verify 1\ncycle <point verified>\n"
//                    "time <unix microseconds>\n"
//
// Thread safety: VerifyReplica must not run at the same time as
// ReplicateDisk or another VerifyReplica for the same disk (it rewrites the
// manifest); different disks are independent.
#ifndef ASR_REPLICATION_VERIFIER_H_
#define ASR_REPLICATION_VERIFIER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asr/common/clock.h"
#include "asr/model/replication.pb.h"
#include "asr/net/stream.h"

namespace asr::replication {

struct VerifyOptions {
  // Also digest the source disk and compare it with the manifest.
  bool check_source = true;
  // Exclude from the source comparison the blocks DISK.asrcbt marks as
  // changed since the point (when false, or when the tracker cannot be
  // trusted, every block is compared).
  bool use_tracker_file = true;
  std::string source_name;  // informational, sent in HELLO
  // A session already past HELLO on the stream (ReplicateDisk just ran a
  // cycle on it): no HELLO is sent and these stand for HELLO_REPLY.
  struct Session {
    uint32_t protocol_version = 0;  // CycleStats::protocol_version
    uint64_t point_id = 0;          // the replica's current point
  };
  std::optional<Session> session;
  // The time recorded in DISK.asrverify and DISK.asrresync (default: real).
  const Clock* clock = nullptr;
  // How many mismatching block indices each list keeps.
  size_t max_listed_blocks = 8;
};

struct VerifyResult {
  std::string replication_id;
  uint64_t point_id = 0;        // the point (= cycle) verified
  uint64_t blocks_checked = 0;  // replica blocks compared
  uint64_t replica_mismatches = 0;
  std::vector<uint64_t> replica_mismatch_blocks;  // the first few, ascending
  uint64_t source_mismatches = 0;
  std::vector<uint64_t> source_mismatch_blocks;  // the first few, ascending
  bool source_checked = false;
  uint64_t tracked_blocks_skipped = 0;  // source blocks the tracker marked
  // Blocks an earlier verification flagged (kResyncDigest) that no cycle has
  // resent yet: not compared again, but still require resynchronization.
  uint64_t flagged_blocks = 0;
  std::string tracker_note;  // why the source comparison could not use the tracker
  uint64_t bytes_read = 0;   // of the source disk
  absl::Duration elapsed;
  bool resync_required = false;
  // Human-readable: what differs and what follows, e.g. "3 blocks of the
  // replica differ from what was sent (first: block 17 at offset 1114112):
  // resynchronization required"; "replica matches the source" when clean.
  std::string reason;
};

// The result as the model's message (asr/model/replication.proto).
model::VerifyResult VerifyResultToProto(const VerifyResult& result, const std::string& disk_path);

// The result as JSON through asr/model/json.h: {"disk", "replicationId",
// "pointId", "blocksChecked", "replicaMismatches", "replicaMismatchBlocks":
// [...], "sourceChecked", "sourceMismatches", "sourceMismatchBlocks": [...],
// "trackedBlocksSkipped", "flaggedBlocks", "trackerNote", "resyncRequired",
// "reason", "bytesRead", "seconds"}; 64-bit counts are strings.
std::string VerifyResultToJson(const VerifyResult& result, const std::string& disk_path);

// Verifies the replica that `stream` leads to against the committed manifest
// of `disk_path` (see the file comment). FailedPrecondition when the disk
// has no committed manifest ("run an initial replication first"), when the
// replica is at another point than the manifest describes, or when the
// receiver speaks a protocol older than 4. A mismatch is not an error: the
// result says resync_required, and the manifest and the marker are updated.
absl::StatusOr<VerifyResult> VerifyReplica(const std::string& disk_path, net::ByteStream& stream,
                                           const VerifyOptions& options);

// DISK.asrresync: "resynchronization required" and why.
std::string ResyncMarkerPath(const std::string& disk_path);
// The marker's reason, or nullopt when there is none. DataLoss when the
// file is unreadable as a marker.
absl::StatusOr<std::optional<std::string>> LoadResyncMarker(const std::string& disk_path);
// Removes the marker (OK when there is none). A sender calls it once a
// full-coverage cycle (scan or initial) has resent everything.
absl::Status ClearResyncMarker(const std::string& disk_path);

// When to verify: every `every_cycles` cycles and/or after `interval` since
// the last verification (zero: that criterion is off; both zero: never).
struct VerifySchedule {
  uint32_t every_cycles = 0;
  absl::Duration interval = absl::ZeroDuration();
};

// DISK.asrverify: the last verified point and when (written by VerifyReplica).
std::string VerifyStatePath(const std::string& disk_path);

// Whether a verification is due after cycle `cycle` at `now`: true when the
// schedule is on and the disk was never verified (or its state file is
// unreadable), when `cycle` is at least every_cycles past the last verified
// point, or when `now` is at least `interval` past the last verification.
bool VerificationDue(const std::string& disk_path, const VerifySchedule& schedule, uint64_t cycle,
                     absl::Time now);

}  // namespace asr::replication

#endif  // ASR_REPLICATION_VERIFIER_H_
