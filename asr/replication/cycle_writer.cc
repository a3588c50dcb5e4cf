#include "asr/replication/cycle_writer.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "asr/common/crc32c.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/platform/env.h"
#include "asr/platform/error.h"
#include "asr/replication/direct_writer.h"
#include "asr/replication/replica_internal.h"
#include "asr/replication/replica_state.h"
#include "asr/replication/replica_store.h"

namespace asr::replication {
namespace {
// Decoded blocks of a later cycle and the entries' metadata kept in memory
// for the apply (beyond: the apply decodes the journal again).
constexpr size_t kKeepLimit = 256 << 20;
// A journal record's header (block_log.h), for the journal's bound.
constexpr uint64_t kJournalRecordHeader = 34;
}  // namespace

CycleWriter::CycleWriter(ReplicaStore* store, const CycleStart& start)
    : store_(store), start_(start) {}

CycleWriter::~CycleWriter() {
  if (durable_ && !done_) {
    (void)FinishApply();  // past the commit point: complete it (recovery would)
  }
  if (!done_) {
    // Interrupted (or failed): a resumable cycle keeps what it received up to
    // its last checkpoint; anything else is discarded, its record first.
    bool kept = false;
    if (resumable_) {
      kept = mark_.next_item > 0 && Suspend().ok();
      absl::MutexLock l(&store_->mu_);
      const uint64_t dropped = raw_bytes_ - (kept ? mark_.raw_bytes : 0);
      ++store_->resume_.interruptions;
      if (kept) ++store_->resume_.kept_cycles;
      store_->resume_.dropped_bytes += dropped;
      store_->resume_.max_dropped_bytes = std::max(store_->resume_.max_dropped_bytes, dropped);
      store_->resume_.dropped_stream_bytes += interrupted_bytes_;
      store_->resume_.max_dropped_stream_bytes =
          std::max(store_->resume_.max_dropped_stream_bytes, interrupted_bytes_);
      if (kept) store_->partial_ = mark_;
    }
    if (!kept) {
      (void)platform::Env::Default()->Unlink(PartialCyclePath(store_->dir(), start_.cycle));
      journal_.Abandon();
      DiscardDirect();
    }
  }
  writer_.reset();  // finished by now; it must not outlive writeback_
  writeback_.reset();
  apply_lock_.reset();
  if (holds_slot_) store_->EndCycle();
}

absl::Status CycleWriter::CheckBounds(uint64_t entries, uint64_t raw, uint64_t stored) const {
  const uint64_t disk_blocks = (virtual_size_ + block_size_ - 1) / block_size_;
  if (blocks_ + zero_ranges_ + entries > disk_blocks) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "cycle ", start_.cycle, " refused: more than ", disk_blocks,
        " blocks and zero ranges, the number of blocks of the disk (a sender sends each block at "
        "most once per cycle); nothing was applied"));
  }
  if (raw_bytes_ + raw > virtual_size_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cycle ", start_.cycle, " refused: more than ", virtual_size_,
                     " bytes of blocks, the size of the disk (a sender sends each block at most "
                     "once per cycle); nothing was applied"));
  }
  const uint64_t journal_limit =
      virtual_size_ + disk_blocks * kJournalOverheadPerBlock + kJournalOverhead;
  if (!direct_ && journal_.bytes() + stored > journal_limit) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cycle ", start_.cycle, " refused: its journal exceeds ", journal_limit,
                     " bytes (the disk's size plus ", kJournalOverheadPerBlock,
                     " bytes per block and ", kJournalOverhead, "); nothing was applied"));
  }
  return absl::OkStatus();
}

void CycleWriter::NoteMemory() {
  store_->NoteCycleMemory(kept_data_.capacity() + kept_.capacity() * sizeof(Kept));
}

void CycleWriter::DiscardDirect() {
  if (!direct_) return;
  writer_.reset();  // waits for its writes in flight
  if (direct_disk_) {
    (void)direct_disk_->Close();
    direct_disk_.reset();
  }
  if (!direct_tmp_.empty()) (void)platform::Env::Default()->Unlink(direct_tmp_);
}

absl::Status CycleWriter::CheckRange(uint64_t offset, uint64_t length) const {
  const uint32_t bs = block_size_;
  const uint64_t vs = virtual_size_;
  uint64_t end = offset + length;
  if (length == 0 || offset % bs != 0 || end < offset || end > vs || (end % bs != 0 && end != vs)) {
    return absl::InvalidArgumentError(absl::StrCat("protocol violation: range [", offset, ", +",
                                                   length, ") is not whole ", bs,
                                                   "-byte blocks inside the ", vs, "-byte disk"));
  }
  return absl::OkStatus();
}

absl::Status CycleWriter::SubmitDirect() {
  AlignedBytes* buf = frame_buf_;
  frame_buf_ = nullptr;
  if (buf == nullptr) return absl::OkStatus();
  return writer_->Submit(buf, std::move(frame_runs_));
}

absl::StatusOr<uint8_t*> CycleWriter::RawBuffer(size_t n) {
  if (direct_) {
    if (frame_buf_ == nullptr) {  // else: a frame that failed, its buffer reused
      ASR_ASSIGN_OR_RETURN(frame_buf_, writer_->Acquire());
    }
    frame_runs_.clear();
    return frame_buf_->Reserve(n);
  }
  if (keep_ && kept_data_.size() + n + (kept_.size() + 1) * sizeof(Kept) <= kKeepLimit) {
    return kept_data_.Reserve(n);
  }
  if (keep_) {
    keep_ = false;  // over the budget: the apply reads the journal
    std::vector<Kept>().swap(kept_);
    kept_data_.Clear();
  }
  return scratch_.Reserve(n);
}

absl::Status CycleWriter::AcceptBlock(uint64_t offset, const uint8_t* raw, uint32_t length,
                                      bool write) {
  if (by_crc_) {
    DigestBlockPlace(digest_, offset, length);  // the content: the frame's CRC
  } else {
    DigestBlock(digest_, offset, length, BlockDigest(raw, length));
  }
  ++blocks_;
  raw_bytes_ += length;
  if (direct_) {
    if (write) {
      frame_runs_.push_back({offset, static_cast<size_t>(raw - frame_buf_->data()), length});
    }
    return absl::OkStatus();
  }
  if (keep_) {
    kept_.push_back({false, offset, length, raw});
  }
  return absl::OkStatus();
}

absl::Status CycleWriter::AddBlock(const std::string& payload) {
  ASR_ASSIGN_OR_RETURN(BlockHeader h, DecodeBlockHeader(payload));
  ASR_RETURN_IF_ERROR(CheckRange(h.offset, h.length));
  if (h.codec == static_cast<uint8_t>(BlockCodec::kZstdLong)) {
    return absl::InvalidArgumentError(
        "protocol violation: codec 2 (long) is for BLOCK_GROUP frames only");
  }
  if (h.length != BlockLen(h.offset, block_size_, virtual_size_)) {
    return absl::InvalidArgumentError(
        absl::StrCat("protocol violation: block at ", h.offset, " has ", h.length, " bytes"));
  }
  ASR_RETURN_IF_ERROR(CheckBounds(1, h.length, payload.size() + kJournalRecordHeader));
  absl::string_view data = absl::string_view(payload).substr(kBlockHeaderSize);
  // Decode once, into where the block is kept (or a scratch buffer).
  ASR_ASSIGN_OR_RETURN(uint8_t * raw, RawBuffer(h.length));
  ASR_RETURN_IF_ERROR(decoder_.Decode(h.codec, data, raw, h.length));
  if (Crc32c(raw, h.length) != h.raw_crc) {
    return absl::DataLossError(
        absl::StrCat("block at offset ", h.offset, " fails its checksum after decoding"));
  }
  ASR_RETURN_IF_ERROR(AcceptBlock(h.offset, raw, h.length, /*write=*/true));
  if (by_crc_) DigestFrameCrc(digest_, h.raw_crc);
  if (direct_) return SubmitDirect();
  NoteMemory();
  return journal_.AppendBlock(h.offset, h.length, h.codec, h.raw_crc, data);
}

absl::Status CycleWriter::CheckGroup(const BlockGroupHeader& h) const {
  for (const BlockGroupEntry& b : h.blocks) {
    ASR_RETURN_IF_ERROR(CheckRange(b.offset, b.length));
    if (b.length != BlockLen(b.offset, block_size_, virtual_size_)) {
      return absl::InvalidArgumentError(
          absl::StrCat("protocol violation: block at ", b.offset, " has ", b.length, " bytes"));
    }
  }
  return absl::OkStatus();
}

absl::Status CycleWriter::AcceptGroup(const BlockGroupHeader& h, const uint8_t* raw) {
  // A first cycle writes each run of adjacent blocks at once, straight from
  // the decoded buffer (a whole group is usually one 1 MiB run: no copy).
  const uint8_t* run = raw;
  uint64_t run_off = 0, run_len = 0;
  auto add_run = [&] {
    frame_runs_.push_back({run_off, static_cast<size_t>(run - frame_buf_->data()), run_len});
  };
  for (const BlockGroupEntry& b : h.blocks) {
    if (direct_ && run_len > 0 && run_off + run_len != b.offset) {
      add_run();
      run_len = 0;
    }
    if (run_len == 0) {
      run = raw;
      run_off = b.offset;
    }
    run_len += b.length;
    ASR_RETURN_IF_ERROR(AcceptBlock(b.offset, raw, b.length, /*write=*/false));
    raw += b.length;
  }
  if (direct_ && run_len > 0) add_run();
  if (by_crc_) DigestFrameCrc(digest_, h.raw_crc);
  return absl::OkStatus();
}

absl::Status CycleWriter::AddBlockGroup(const std::string& payload) {
  ASR_ASSIGN_OR_RETURN(BlockGroupHeader h, DecodeBlockGroupHeader(payload));
  ASR_RETURN_IF_ERROR(CheckGroup(h));
  if (h.codec == static_cast<uint8_t>(BlockCodec::kZstdLong) && !long_codec_) {
    return absl::InvalidArgumentError(
        absl::StrCat("protocol violation: block group codec 2 (long) needs protocol version ",
                     kLongCodecVersion, " or later, and this session negotiated an older one"));
  }
  ASR_RETURN_IF_ERROR(
      CheckBounds(h.blocks.size(), h.raw_bytes, payload.size() + kJournalRecordHeader));
  ASR_ASSIGN_OR_RETURN(uint8_t * raw, RawBuffer(h.raw_bytes));
  ASR_RETURN_IF_ERROR(DecodeGroupData(payload, h, decoder_, raw));
  ASR_RETURN_IF_ERROR(AcceptGroup(h, raw));
  if (direct_) return SubmitDirect();
  NoteMemory();
  return journal_.AppendGroup(h.blocks[0].offset, h.raw_bytes, payload);
}

absl::Status CycleWriter::AddZeroRange(const ZeroRange& z) {
  ASR_RETURN_IF_ERROR(CheckRange(z.offset, z.length));
  ASR_RETURN_IF_ERROR(CheckBounds(1, 0, kJournalRecordHeader));
  DigestZeroRange(digest_, z.offset, z.length);
  ++zero_ranges_;
  if (direct_) return absl::OkStatus();  // a new disk reads as zeros already
  if (keep_ && kept_data_.size() + (kept_.size() + 1) * sizeof(Kept) > kKeepLimit) {
    keep_ = false;  // over the budget: the apply reads the journal
    std::vector<Kept>().swap(kept_);
    kept_data_.Clear();
  }
  if (keep_) kept_.push_back({true, z.offset, z.length, nullptr});
  NoteMemory();
  return journal_.AppendZero(z.offset, z.length);
}

void CycleWriter::ResumeFrom(const PartialCycle& partial) {
  mark_ = partial;
  blocks_ = partial.blocks;
  zero_ranges_ = partial.zero_ranges;
  raw_bytes_ = partial.raw_bytes;
  digest_ = partial.digest;
  synced_raw_ = raw_bytes_;
  resumed_item_ = partial.next_item;
  resumed_bytes_ = partial.raw_bytes;
  // The blocks received before are not in memory: the apply reads the journal.
  keep_ = false;
}

absl::Status CycleWriter::AddCheckpoint(const CycleCheckpoint& cp) {
  if (!start_.resumable) {
    return absl::InvalidArgumentError(
        "protocol violation: CYCLE_CHECKPOINT in a cycle started without a plan identity");
  }
  if (cp.blocks != blocks_ || cp.zero_ranges != zero_ranges_ || cp.raw_bytes != raw_bytes_) {
    return absl::DataLossError(absl::StrCat(
        "cycle ", start_.cycle, ": at checkpoint ", cp.next_item, " the sender counts ", cp.blocks,
        " blocks / ", cp.zero_ranges, " zero ranges / ", cp.raw_bytes, " bytes, the receiver ",
        blocks_, " / ", zero_ranges_, " / ", raw_bytes_, "; nothing was applied"));
  }
  if (cp.next_item <= mark_.next_item) {
    return absl::InvalidArgumentError(absl::StrCat("protocol violation: checkpoint at item ",
                                                   cp.next_item, " after item ", mark_.next_item));
  }
  mark_.next_item = cp.next_item;
  mark_.blocks = blocks_;
  mark_.zero_ranges = zero_ranges_;
  mark_.raw_bytes = raw_bytes_;
  mark_.journal_bytes = journal_.bytes();
  mark_.journal_records = journal_.records();
  mark_.digest = digest_;
  const uint64_t every = store_->options_.resume_sync_bytes;
  if (resumable_ && raw_bytes_ > synced_raw_ && raw_bytes_ - synced_raw_ >= every) {
    ASR_RETURN_IF_ERROR(MakeDurable());
    synced_raw_ = raw_bytes_;
    absl::MutexLock l(&store_->mu_);
    ++store_->resume_.syncs;
  }
  return absl::OkStatus();
}

absl::Status CycleWriter::MakeDurable() {
  if (direct_) {
    // Everything submitted written, then the new replica flushed (data and
    // metadata); a fresh writer continues.
    ASR_RETURN_IF_ERROR(writer_->Finish());
    ASR_RETURN_IF_ERROR(direct_disk_->Flush());
    writer_ = std::make_unique<DirectWriter>(
        direct_disk_.get(), [store = store_](const char* step) { store->Hook(step); },
        writeback_.get());
  } else {
    ASR_RETURN_IF_ERROR(journal_.Sync());
  }
  ASR_RETURN_IF_ERROR(SavePartialCycle(store_->dir(), mark_));
  store_->Hook("resume-synced");
  return absl::OkStatus();
}

absl::Status CycleWriter::Suspend() {
  if (direct_) {
    ASR_RETURN_IF_ERROR(writer_->Finish());
    absl::Status closed = direct_disk_->Close();  // flushed and marked clean
    direct_disk_.reset();
    ASR_RETURN_IF_ERROR(closed);
  } else {
    ASR_RETURN_IF_ERROR(journal_.Sync());
  }
  ASR_RETURN_IF_ERROR(SavePartialCycle(store_->dir(), mark_));
  store_->Hook("resume-kept");
  journal_.Detach();
  writer_.reset();
  direct_tmp_.clear();  // kept for the resume
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> CycleWriter::Commit(const CycleEnd& end) {
  ASR_ASSIGN_OR_RETURN(uint64_t point, CommitDurable(end));
  ASR_RETURN_IF_ERROR(FinishApply());
  return point;
}

absl::StatusOr<uint64_t> CycleWriter::CommitDurable(const CycleEnd& end) {
  if (done_ || durable_) return absl::FailedPreconditionError("cycle already committed");
  // Whatever happens now, the cycle is not resumed: it commits, or it failed.
  resumable_ = false;
  if (end.blocks != blocks_ || end.zero_ranges != zero_ranges_ || end.raw_bytes != raw_bytes_) {
    return absl::DataLossError(
        absl::StrCat("cycle ", start_.cycle, " is incomplete: the sender announced ", end.blocks,
                     " blocks / ", end.zero_ranges, " zero ranges / ", end.raw_bytes,
                     " bytes, received ", blocks_, " / ", zero_ranges_, " / ", raw_bytes_));
  }
  Digest d = digest_.Finish();
  if (d != end.digest) {
    return absl::DataLossError(
        absl::StrCat("cycle ", start_.cycle, ": cycle digest mismatch (sender ",
                     DigestHex(end.digest), ", received ", DigestHex(d), "); nothing was applied"));
  }
  // A kept partial record is no longer needed once the cycle is sealed (its
  // journal complete) or committed; recovery ignores a stale one.
  const std::string record = PartialCyclePath(store_->dir(), start_.cycle);
  if (direct_) {
    absl::StatusOr<uint64_t> point = CommitDirect();
    if (point.ok()) (void)platform::Env::Default()->Unlink(record);
    return point;
  }
  ASR_RETURN_IF_ERROR(journal_.Seal(d));
  (void)platform::Env::Default()->Unlink(record);
  store_->Hook("sealed");
  ASR_RETURN_IF_ERROR(store_->MarkApplying(journal_path_, start_, &apply_lock_));
  durable_ = true;
  return start_.cycle;
}

absl::Status CycleWriter::FinishApply() {
  if (done_) return absl::OkStatus();
  if (!durable_) return absl::FailedPreconditionError("cycle not committed");
  absl::Status s;
  {
    absl::MutexLock l(&store_->mu_);
    s = store_->FinishApply(keep_ ? this : nullptr);
  }
  done_ = true;
  kept_.clear();
  kept_data_.Clear();
  apply_lock_.reset();
  return s;
}

absl::StatusOr<uint64_t> CycleWriter::CommitDirect() {
  absl::Status written = writer_->Finish();
  if (!written.ok()) {
    DiscardDirect();
    return written;
  }
  // Close flushes the data and the format's metadata and marks the file clean.
  absl::Status s = direct_disk_->Close();
  direct_disk_.reset();
  if (!s.ok()) {
    DiscardDirect();
    return s;
  }
  store_->Hook("direct-flushed");
  absl::Status renamed =
      platform::Env::Default()->Rename(direct_tmp_, JoinPath(store_->dir(), direct_file_));
  if (!renamed.ok()) {
    DiscardDirect();
    return platform::AddContext(renamed, absl::StrCat("rename ", direct_tmp_));
  }
  direct_tmp_.clear();
  ASR_RETURN_IF_ERROR(FsyncDirectory(store_->dir()));
  store_->Hook("direct-renamed");
  ASR_RETURN_IF_ERROR(store_->CommitFirstPoint(start_, direct_file_));
  done_ = true;
  return start_.cycle;
}

}  // namespace asr::replication
