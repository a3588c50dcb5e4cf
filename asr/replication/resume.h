// asr/replication/resume.h: resuming an interrupted replication cycle from
// the sender's side (protocol 5; the frames and the receiver's part are in
// protocol.h, "Resume", and replica_store.h).
//
// A cycle whose connection breaks (the network, a stalled peer that the
// stream's I/O timeout gives up on, a receiver restart) is not lost: the
// receiver keeps what it received up to the last CYCLE_CHECKPOINT, durably,
// and a new connection that starts the same cycle with the same plan sends
// only the rest. ReplicateDiskResuming does the reconnecting:
//
//   ResumeOptions r;
//   r.max_attempts = 4;
//   auto connect = [&] { return net::TlsConnect(host, 8084, tls, absl::Seconds(10)); };
//   ASR_ASSIGN_OR_RETURN(CycleStats st,
//                        ReplicateDiskResuming(disk, CycleMode::kTracked, connect, opts, r));
//   // st.resumed_bytes: held by the receiver; st.resent_bytes: sent twice.
//
// What one interruption costs on the wire: the frames of the work item in
// flight (at most SendOptions::read_chunk_bytes of raw blocks, one block
// group) plus whatever the transport had buffered but not delivered, plus
// the HELLO / CYCLE_START of the new connection. The sender re-reads and
// re-digests the items the receiver holds (locally, at disk speed) to
// rebuild its manifest and the cycle digest, which thus still covers the
// whole cycle: data the receiver kept that no longer matches the source
// fails the cycle (DataLoss, nothing committed, the kept data discarded)
// and the next cycle starts over. The same holds for a plan that cannot be
// reproduced (the source was written, its tracker changed, another chunk
// size): the plan identity differs and the receiver starts the cycle
// afresh. Either way the replica stays on its last whole point until a
// cycle commits.
#ifndef ASR_REPLICATION_RESUME_H_
#define ASR_REPLICATION_RESUME_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asr/disk/disk_fingerprint.h"
#include "asr/net/stream.h"
#include "asr/replication/change_detector.h"
#include "asr/replication/digest.h"
#include "asr/replication/protocol.h"
#include "asr/replication/sender.h"

namespace asr::replication {

// The identity of a cycle's plan (CYCLE_START's plan_id): SHA-256 of the
// replication id, the cycle's number, base, mode and flags, the block size,
// the blocks per work item, the disk's size, every planned run and the
// source chain's fingerprints. Equal identities cut equal work items.
Digest PlanIdentity(const std::string& replication_id, const CycleStart& start, uint32_t block_size,
                    uint64_t chunk_blocks, uint64_t virtual_size, const CyclePlan& plan,
                    const std::vector<disk::DiskFingerprint>& chain);

// Whether a failed attempt is worth a new connection: the connection broke
// or could not be made (Unavailable: also the receiver still finishing the
// broken session's cycle), or it stalled (DeadlineExceeded).
bool IsResumableFailure(const absl::Status& status);

// The replication id of a disk's first initial replication, kept in
// DISK.asrrepl.newid until its first point is acknowledged, so that an
// interrupted first replication resumes under the same id: the one
// recorded there, else a new one (recorded). ClearNewReplicationId removes
// it (ignoring errors).
absl::StatusOr<std::string> FirstReplicationId(const std::string& disk_path);
void ClearNewReplicationId(const std::string& disk_path);

struct ResumeOptions {
  int max_attempts = 4;                                  // connections in all (1: no retry)
  absl::Duration first_delay = absl::Milliseconds(200);  // before the 2nd; doubled each time
  absl::Duration max_delay = absl::Seconds(5);
};

// Makes a new connection to the receiver.
using StreamConnector = std::function<absl::StatusOr<std::unique_ptr<net::ByteStream>>()>;

// Runs ReplicateDisk over connections from `connect`, reconnecting after a
// resumable failure (IsResumableFailure) up to options.max_attempts times in
// all, waiting first_delay, then twice that, ... (at most max_delay) in
// between. The stats are the last attempt's, with resent_bytes and
// attempts over all of them. The last error when no attempt succeeded;
// other errors at once. Each attempt's stream is closed, except the
// successful one's when `last_stream` is given: it is handed back there,
// open (e.g. for a verification on the same session).
absl::StatusOr<CycleStats> ReplicateDiskResuming(
    const std::string& disk_path, CycleMode mode, const StreamConnector& connect,
    const SendOptions& options, const ResumeOptions& resume,
    std::unique_ptr<net::ByteStream>* last_stream = nullptr);

}  // namespace asr::replication

#endif  // ASR_REPLICATION_RESUME_H_
