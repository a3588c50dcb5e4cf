// asr/replication/sender.h: the primary host's side of one replication
// cycle: find the changes, read them, compress them and stream them to the
// recovery host, then wait until the receiver has durably committed the
// new recovery point.
//
//   SendOptions opts;
//   opts.compression_level = 1;
//   ASR_ASSIGN_OR_RETURN(std::unique_ptr<net::ByteStream> s,
//                        net::TlsConnect("127.0.0.1", 8084, tls, absl::Seconds(10)));
//   ASR_ASSIGN_OR_RETURN(CycleStats st,
//                        ReplicateDisk("/vms/a.vhdx", CycleMode::kTracked, *s, opts));
//
// One cycle (class CycleSender follows these steps in order):
//
//   [Open]       open the disk read-only; load DISK.asrrepl / .pending
//      |         (differencing: the child's, else its parent's)
//      v
//   [Handshake]  HELLO -> HELLO_REPLY: the replica's identity and point
//      |
//      v
//   [ChooseBase] base = the manifest whose cycle is the replica's point
//      |         (a pending one when the last ACK was lost: it is promoted
//      |         to DISK.asrrepl at once); none: initial
//      v
//   [Plan]       the mode's ChangeDetector (tracked: the tracker's pending
//      |         blocks; a tracker that NEEDS SCAN falls back to scan, and
//      |         says so in CycleStats::fallback_reason)
//      v
//   [Start]      CYCLE_START -> CYCLE_READY
//      |
//      v
//   [Stream]     planner thread --(bounded queue of up-to-1-MiB items)-->
//      |         N worker threads (read through their own disk handles,
//      |         digest, compare with base, zstd) --(in-order, bounded)-->
//      |         this thread writes BLOCK_GROUP (BLOCK for protocol 1) /
//      |         ZERO_RANGE frames
//      |         (protocol 5: a CYCLE_CHECKPOINT after each item's frames;
//      |         items the receiver holds from an interrupted attempt are
//      |         read and digested, not sent: protocol.h, "Resume")
//      v
//   [Seal]       save DISK.asrrepl.pending; CYCLE_END
//      |
//      v
//   [Ack]        CYCLE_ACK ok -> rename pending to DISK.asrrepl; tracker commits
//                anything else -> error (pending kept; the tracker keeps its
//                pending blocks, so the next cycle resends them)
//
// Thread safety: ReplicateDisk may run concurrently for different disks;
// not twice at once for the same disk.
#ifndef ASR_REPLICATION_SENDER_H_
#define ASR_REPLICATION_SENDER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asr/model/replication.pb.h"
#include "asr/net/stream.h"
#include "asr/replication/change_tracker.h"
#include "asr/replication/long_range_codec.h"
#include "asr/replication/protocol.h"

namespace asr::replication {

struct CycleProgress {
  uint64_t planned_read_bytes = 0;
  uint64_t bytes_read = 0;
  uint64_t bytes_sent = 0;  // on the wire so far
  uint64_t blocks_sent = 0;
  // Protocol 5 (resume): the raw bytes of blocks the receiver already held
  // when this attempt began (not sent again), and the raw bytes of the
  // cycle's blocks covered so far (held, or written to the stream).
  uint64_t resumed_bytes = 0;
  uint64_t raw_position = 0;
};

struct SendOptions {
  uint32_t block_size = 64 << 10;  // initial replication only; deltas use the manifest's
  int compression_level = 1;       // 0: off (raw blocks); 1..19 zstd
  // How block groups are compressed (long_range_codec.h): kAuto is the long
  // codec for every cycle after the initial copy, kClassic one zstd frame
  // per group, as before protocol 6. A receiver older than version 6
  // always gets kClassic; so does compression level 0.
  ReplicationCodec codec = ReplicationCodec::kAuto;
  int worker_threads = 2;  // hashing + compression
  uint32_t read_chunk_bytes = 1 << 20;
  int queue_depth = 8;          // chunks in flight between the stages
  bool app_consistent = false;  // the source snapshot was app-consistent
  // The source snapshot's instant, the recovery point's source time.
  // InfinitePast: now. Every disk of one VM point is sent with the host
  // point's instant, so that their replicas keep the same instants and the
  // VM's points can be found across them (vm_points.h).
  absl::Time source_time = absl::InfinitePast();
  std::string source_name;  // informational, e.g. the host name
  // Tracked mode: the host's tracker. When null, the sender opens the
  // disk's tracker itself (and, for initial and scan cycles, creates or
  // re-arms it so that later tracked cycles can trust it).
  ChangeTracker* tracker = nullptr;
  bool use_tracker_file = true;
  // Tracked mode: refuse the cycle (FailedPrecondition naming the reason)
  // instead of falling back to a scan when the tracker cannot be trusted.
  bool tracked_only = false;
  // Called on the thread that called ReplicateDisk, after each chunk sent.
  std::function<void(const CycleProgress&)> progress;
  // The disk whose replication state (manifest, replication id, resync
  // marker, change map) the cycle continues, when the path read is a copy
  // of it at the point's instant (a host's point image, e.g. the QEMU
  // host's); empty: the path read.
  std::string state_path;
  // That disk's id (its VHDX virtual disk ID / VHD unique ID), announced to
  // the receiver in place of the copy's own; empty: the id of the disk read.
  std::string source_disk_id;
  // Tracked mode: the blocks changed since the replica's point, as the host
  // knows them (e.g. a hypervisor's dirty bitmap cut at two points'
  // instants), used instead of the change map. Trusted only when the
  // replica is at `base_cycle` (its manifest and the receiver agree) and no
  // resynchronization is pending; otherwise the cycle scans and says why.
  struct HostChanges {
    uint64_t base_cycle = 0;
    std::vector<std::pair<uint64_t, uint64_t>> extents;  // offset, length in bytes
  };
  std::optional<HostChanges> host_changes;
};

struct CycleStats {
  CycleMode mode_requested = CycleMode::kInitial;
  CycleMode mode_used = CycleMode::kInitial;
  // Why tracked mode scanned instead: the change map is missing, corrupt or
  // was not closed cleanly, or the disk was written, replaced, resized or
  // restored without the tracker (see change_tracker.h). Empty otherwise.
  std::string fallback_reason;
  std::string replication_id;
  uint64_t cycle = 0;
  uint64_t base_cycle = 0;
  uint64_t point_id = 0;
  // The version the session negotiated (VerifyReplica on the same stream
  // needs it: verification takes version 4).
  uint32_t protocol_version = 0;
  uint64_t bytes_read = 0;
  uint64_t blocks_sent = 0;
  uint64_t zero_ranges = 0;
  uint64_t changed_bytes = 0;  // raw size of the blocks sent
  uint64_t wire_bytes = 0;     // all frames written, headers included
  // Resume (protocol 5, resume.h): the raw bytes of this cycle's blocks the
  // receiver already held from an interrupted attempt (not sent again;
  // counted in changed_bytes and blocks_sent, which cover the whole cycle),
  // the raw bytes an interrupted attempt had written that were written
  // again, and the connections the cycle took (1: no interruption).
  uint64_t resumed_bytes = 0;
  uint64_t resent_bytes = 0;
  uint32_t attempts = 1;
  // The codec the cycle used (kClassic or kLong) and, for kLong, its window.
  ReplicationCodec codec_used = ReplicationCodec::kClassic;
  uint64_t long_window_bytes = 0;
  absl::Duration elapsed;
  double compression_ratio() const {
    return wire_bytes == 0 ? 1.0 : static_cast<double>(changed_bytes) / wire_bytes;
  }
};

// The stats as the model's message (asr/model/replication.proto), without a
// verification; the ratio and the seconds are rounded to 3 decimals.
model::CycleStats CycleStatsToProto(const CycleStats& stats, const std::string& disk_path);

// The stats as JSON through asr/model/json.h: {"disk", "replicationId",
// "mode", "modeUsed", "fallbackReason", "cycle", "baseCycle", "pointId",
// "bytesRead", "bytesChanged", "blocksSent", "zeroRanges", "bytesSent",
// "compressionRatio", "seconds", "bytesResumed", "bytesResent", "attempts"};
// 64-bit counts are strings ("pointId":"1").
// "compressionRatio", "seconds", "codec", "longWindowBytes"}; 64-bit counts
// are strings ("pointId":"1").
std::string CycleStatsToJson(const CycleStats& stats, const std::string& disk_path);

// Runs one cycle of `disk_path` in `mode` over `stream` (see the diagram).
absl::StatusOr<CycleStats> ReplicateDisk(const std::string& disk_path, CycleMode mode,
                                         net::ByteStream& stream, const SendOptions& options);

}  // namespace asr::replication

#endif  // ASR_REPLICATION_SENDER_H_
