// asr/replication/cycle_writer.h: one replication cycle being received by
// a replica directory: frames verified and journaled (a first cycle:
// written straight into the new replica through DirectWriter) up to the
// commit, whose steps the diagram in replica_store.h draws.
//
//   ASR_ASSIGN_OR_RETURN(std::unique_ptr<CycleWriter> cycle, store->BeginCycle(hello, start));
//   ASR_RETURN_IF_ERROR(cycle->AddBlock(frame_payload));
//   ASR_ASSIGN_OR_RETURN(uint64_t point, cycle->Commit(end));
#ifndef ASR_REPLICATION_CYCLE_WRITER_H_
#define ASR_REPLICATION_CYCLE_WRITER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asr/common/file_lock.h"
#include "asr/disk/virtual_disk.h"
#include "asr/platform/file.h"
#include "asr/replication/block_codec.h"
#include "asr/replication/block_log.h"
#include "asr/replication/digest.h"
#include "asr/replication/direct_writer.h"
#include "asr/replication/kept_bytes.h"
#include "asr/replication/partial_cycle.h"
#include "asr/replication/protocol.h"

namespace asr::replication {

class ReplicaStore;

// One cycle being received; ReplicaStore::BeginCycle makes it.
// Thread safety: one thread.
class CycleWriter {
 public:
  ~CycleWriter();  // an uncommitted cycle is discarded; a durable one is applied
  // Verifies and records one BLOCK frame's payload (header + data).
  absl::Status AddBlock(const std::string& frame_payload);
  // Verifies and records one BLOCK_GROUP frame's payload.
  absl::Status AddBlockGroup(const std::string& frame_payload);
  absl::Status AddZeroRange(const ZeroRange& z);

  // Verifies totals and digest, then seals, applies and commits the point
  // (see the diagram). Returns the new point's id.
  absl::StatusOr<uint64_t> Commit(const CycleEnd& end);

  // Commit in two halves, so that the ACK need not wait for the apply:
  // CommitDurable returns once the point survives a crash (a first cycle:
  // fully committed; a later one: past the commit point, rolled forward by
  // recovery); FinishApply then writes the replica and commits the state.
  absl::StatusOr<uint64_t> CommitDurable(const CycleEnd& end);
  absl::Status FinishApply();

  // Resume (protocol 5; protocol.h "Resume", partial_cycle.h). A
  // CYCLE_CHECKPOINT: the counts must be the receiver's (else DataLoss);
  // the data up to it is kept when the cycle is interrupted, and made
  // durable every ReplicaOptions::resume_sync_bytes of blocks.
  absl::Status AddCheckpoint(const CycleCheckpoint& checkpoint);
  // Where this cycle continues an interrupted one: the sender's first work
  // item still needed, the raw bytes of blocks already held (0, 0: afresh).
  uint64_t resume_item() const { return resumed_item_; }
  uint64_t resume_bytes() const { return resumed_bytes_; }
  // The cycle failed its checks: when it ends uncommitted, nothing is kept.
  void DoNotResume() { resumable_ = false; }
  // The session broke: `bytes` of the stream had been read since the last
  // checkpoint (they are received again; resume accounting).
  void NoteInterrupted(uint64_t bytes) { interrupted_bytes_ = bytes; }

 private:
  friend class ReplicaStore;
  // A block or zero range kept in memory for the apply.
  struct Kept {
    bool zero = false;
    uint64_t offset = 0;
    uint64_t length = 0;
    const uint8_t* data = nullptr;  // in kept_data_
  };

  CycleWriter(ReplicaStore* store, const CycleStart& start);
  absl::Status CheckRange(uint64_t offset, uint64_t length) const;
  // The per-cycle bounds of replica_store.h, before `entries` more entries
  // of `raw` decoded bytes (`stored` bytes in the journal) are taken:
  // ResourceExhausted naming the limit.
  absl::Status CheckBounds(uint64_t entries, uint64_t raw, uint64_t stored) const;
  // The memory kept for the apply, reported to the store's accounting.
  void NoteMemory();
  // Where to decode `n` bytes: kept_data_ while within the budget, else
  // scratch; a first cycle's buffer from its writer (waits for a free one).
  absl::StatusOr<uint8_t*> RawBuffer(size_t n);
  // Digests, counts and keeps one decoded block; a first cycle also writes
  // it when `write`.
  absl::Status AcceptBlock(uint64_t offset, const uint8_t* raw, uint32_t length, bool write);
  absl::Status CheckGroup(const BlockGroupHeader& h) const;
  // AcceptBlock for each of a decoded group's blocks, then its CRC.
  absl::Status AcceptGroup(const BlockGroupHeader& h, const uint8_t* raw);
  // A first cycle: queues the writes of the frame just accepted.
  absl::Status SubmitDirect();
  absl::StatusOr<uint64_t> CommitDirect();
  void DiscardDirect();
  // Resume: continues from a kept partial cycle (counts, digest, mark).
  void ResumeFrom(const PartialCycle& partial);
  // The data up to the last checkpoint made durable, then its record saved.
  absl::Status MakeDurable();
  // An interrupted cycle: keeps the data up to the last checkpoint.
  absl::Status Suspend();

  ReplicaStore* store_;
  CycleStart start_;
  uint32_t block_size_ = 0;
  uint64_t virtual_size_ = 0;
  BlockLogWriter journal_;
  std::string journal_path_;
  Sha256Stream digest_;
  bool by_crc_ = false;      // the cycle digest of version 3+ (protocol.h)
  bool long_codec_ = false;  // BLOCK_GROUP codec 2 (version 6+)
  uint64_t blocks_ = 0, zero_ranges_ = 0, raw_bytes_ = 0;
  AlignedBytes scratch_;
  BlockDecompressor decoder_;
  // Later cycles: the decoded blocks, while they fit the budget.
  bool keep_ = true;
  std::vector<Kept> kept_;
  KeptBytes kept_data_;
  // First cycle: the new replica, written directly.
  bool direct_ = false;
  std::unique_ptr<disk::VirtualDisk> direct_disk_;
  std::string direct_tmp_, direct_file_;
  std::unique_ptr<DirectWriter> writer_;       // writes into direct_disk_
  AlignedBytes* frame_buf_ = nullptr;          // the writer's buffer of the current frame
  std::vector<DirectRun> frame_runs_;          // its writes
  std::unique_ptr<platform::File> writeback_;  // the new replica, to start writeback early
  std::unique_ptr<FileLock> apply_lock_;       // held from the commit point to the end of the apply
  bool durable_ = false;                       // past the commit point
  bool done_ = false;
  bool holds_slot_ = false;  // the store's one open cycle (released by the destructor)
  // Resume (protocol 5).
  bool resumable_ = false;   // the sender's CYCLE_START carried a plan identity
  PartialCycle mark_;        // the last checkpoint (next_item 0: none yet)
  uint64_t synced_raw_ = 0;  // raw_bytes_ at the last sync
  uint64_t resumed_item_ = 0, resumed_bytes_ = 0;
  uint64_t interrupted_bytes_ = 0;
};

}  // namespace asr::replication

#endif  // ASR_REPLICATION_CYCLE_WRITER_H_
