#include "asr/replication/sender.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "asr/common/crc32c.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/disk/disk_fingerprint.h"
#include "asr/disk/virtual_disk.h"
#include "asr/model/json.h"
#include "asr/platform/env.h"
#include "asr/platform/error.h"
#include "asr/replication/block_codec.h"
#include "asr/replication/change_detector.h"
#include "asr/replication/digest.h"
#include "asr/replication/long_range_codec.h"
#include "asr/replication/manifest.h"
#include "asr/replication/resume.h"
#include "asr/replication/verifier.h"

namespace asr::replication {
namespace {

// A run of blocks inside a work item: read (its bytes at data_pos of the
// item's buffer) or known to read as zeros.
struct Segment {
  uint64_t first_block = 0;
  uint64_t block_count = 0;
  BlockAction action = BlockAction::kRead;
  size_t data_pos = 0;
};

// A unit of work: up to read_chunk_bytes of blocks, from one or several
// planned runs (so scattered tracked blocks still compress together).
struct WorkItem {
  uint64_t seq = 0;
  std::vector<Segment> segs;
  size_t bytes = 0;   // to read for the kRead segments
  size_t region = 0;  // in-place long stream: where in its buffer they are read to
};

struct DigestEntry {
  enum Kind : uint8_t { kBlock, kZero, kPlace, kCrc };  // kPlace, kCrc: version 3+
  Kind kind = kBlock;
  uint64_t offset = 0;
  uint64_t length = 0;  // kCrc: the frame's raw CRC-32C
  Digest sha = {};
};

// The long codec: a group left for the sending thread to compress, in
// order, as the next piece of the cycle's stream; its frame goes at
// frames_pos of the result's frames. Its blocks: a copy (raw), or, in an
// in-place stream, where each of header.blocks was read in the stream's
// buffer (block_data), to be moved up to the stream's end.
struct LongGroup {
  size_t frames_pos = 0;
  BlockGroupHeader header;
  std::string raw;
  std::vector<const uint8_t*> block_data;
};

struct WorkResult {
  uint64_t seq = 0;
  std::vector<LongGroup> long_groups;
  std::vector<std::pair<uint64_t, Digest>> new_digests;  // block -> digest
  std::string frames;                // encoded BLOCK(_GROUP) / ZERO_RANGE frames
  std::vector<DigestEntry> entries;  // for the cycle digest, in frame order
  uint64_t blocks_sent = 0;
  uint64_t zero_ranges = 0;
  uint64_t changed_bytes = 0;
  uint64_t bytes_read = 0;
};

// The pipeline's shared state. Thread safety: all members under mu_.
class Pipeline {
 public:
  explicit Pipeline(int depth) : depth_(depth) {}

  // Reader: waits for a free slot, then queues the item. False when cancelled.
  bool Push(WorkItem item) {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(
        +[](Pipeline* p)
             ABSL_NO_THREAD_SAFETY_ANALYSIS { return p->cancelled_ || p->in_flight_ < p->depth_; },
        this));
    if (cancelled_) return false;
    ++in_flight_;
    work_.push_back(std::move(item));
    return true;
  }
  // Reader: no more items; `total` were pushed.
  void FinishInput(uint64_t total) {
    absl::MutexLock l(&mu_);
    input_done_ = true;
    total_ = total;
  }
  // Workers: the next item, or nullopt when done/cancelled.
  std::optional<WorkItem> Take() {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(
        +[](Pipeline* p) ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return p->cancelled_ || p->input_done_ || !p->work_.empty();
        },
        this));
    if (cancelled_ || work_.empty()) return std::nullopt;
    WorkItem w = std::move(work_.front());
    work_.pop_front();
    return w;
  }
  void Complete(WorkResult r) {
    absl::MutexLock l(&mu_);
    results_.emplace(r.seq, std::move(r));
  }
  // Sender: the result with sequence `seq`, waiting for it; nullopt when
  // cancelled or when all items were consumed.
  std::optional<WorkResult> Next(uint64_t seq) {
    absl::MutexLock l(&mu_);
    struct Arg {
      Pipeline* p;
      uint64_t seq;
    } arg{this, seq};
    mu_.Await(absl::Condition(
        +[](Arg* a) ABSL_NO_THREAD_SAFETY_ANALYSIS {
          Pipeline* p = a->p;
          return p->cancelled_ || p->results_.count(a->seq) > 0 ||
                 (p->input_done_ && a->seq >= p->total_);
        },
        &arg));
    if (cancelled_ || results_.count(seq) == 0) return std::nullopt;
    auto it = results_.find(seq);
    WorkResult r = std::move(it->second);
    results_.erase(it);
    --in_flight_;
    return r;
  }
  void Fail(absl::Status s) {
    absl::MutexLock l(&mu_);
    if (error_.ok()) error_ = std::move(s);
    cancelled_ = true;
  }
  void Cancel() {
    absl::MutexLock l(&mu_);
    cancelled_ = true;
  }
  absl::Status error() {
    absl::MutexLock l(&mu_);
    return error_;
  }
  // A worker's last, held-back group (see WorkerLoop), sent after the
  // in-order results.
  void AddTail(WorkResult r) {
    absl::MutexLock l(&mu_);
    tails_.push_back(std::move(r));
  }
  std::vector<WorkResult> TakeTails() {
    absl::MutexLock l(&mu_);
    return std::move(tails_);
  }
  // Recycled frame strings.
  std::string TakeString() {
    absl::MutexLock l(&mu_);
    if (strings_.empty()) return std::string();
    std::string s = std::move(strings_.back());
    strings_.pop_back();
    s.clear();
    return s;
  }
  void ReturnString(std::string s) {
    absl::MutexLock l(&mu_);
    strings_.push_back(std::move(s));
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> strings_ ABSL_GUARDED_BY(mu_);
  std::vector<WorkResult> tails_ ABSL_GUARDED_BY(mu_);
  const int depth_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool input_done_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t total_ ABSL_GUARDED_BY(mu_) = 0;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  std::deque<WorkItem> work_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, WorkResult> results_ ABSL_GUARDED_BY(mu_);
};

class CycleSender {
 public:
  CycleSender(std::string path, CycleMode mode, net::ByteStream& stream, const SendOptions& options)
      : path_(std::move(path)),
        state_(options.state_path.empty() ? path_ : options.state_path),
        mode_(mode),
        stream_(stream),
        opts_(options) {}

  absl::StatusOr<CycleStats> Run() {
    absl::Time start = absl::Now();
    stats_.mode_requested = mode_;
    stats_.mode_used = mode_;
    ASR_RETURN_IF_ERROR(OpenStep());
    ASR_RETURN_IF_ERROR(HandshakeStep());
    ASR_RETURN_IF_ERROR(ChooseBaseStep());
    ASR_RETURN_IF_ERROR(PlanStep());
    ASR_RETURN_IF_ERROR(StartStep());
    ASR_RETURN_IF_ERROR(StreamStep());
    ASR_RETURN_IF_ERROR(SealStep());
    ASR_RETURN_IF_ERROR(AckStep());
    stats_.elapsed = absl::Now() - start;
    return stats_;
  }

 private:
  absl::Status OpenStep() {
    if (opts_.compression_level < -7 || opts_.compression_level > 19) {
      return absl::InvalidArgumentError(absl::StrCat("compression level ", opts_.compression_level,
                                                     " is outside 0..19 (0: off)"));
    }
    ASR_ASSIGN_OR_RETURN(disk_, disk::OpenDisk(path_, disk::OpenMode::kReadOnly));
    ASR_ASSIGN_OR_RETURN(committed_, LoadManifest(ManifestPath(state_)));
    ASR_ASSIGN_OR_RETURN(pending_, LoadManifest(PendingManifestPath(state_)));
    if (mode_ == CycleMode::kDifferencing && !committed_ && !pending_ &&
        disk_->parent() != nullptr) {
      // The child's first cycle: the parent's state is the base.
      const std::string& parent = disk_->parent()->path();
      ASR_ASSIGN_OR_RETURN(committed_, LoadManifest(ManifestPath(parent)));
      ASR_ASSIGN_OR_RETURN(pending_, LoadManifest(PendingManifestPath(parent)));
      base_is_parents_ = true;
    }
    const Manifest* known = committed_ ? &*committed_ : pending_ ? &*pending_ : nullptr;
    if (mode_ != CycleMode::kInitial && known == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(state_, " has no replication state (",
                                                        ManifestPath(state_),
                                                        "); run an initial replication first"));
    }
    if (known) {
      replication_id_ = known->replication_id;
    } else {  // kept until acknowledged, so that an interrupted one resumes (resume.h)
      ASR_ASSIGN_OR_RETURN(replication_id_, FirstReplicationId(state_));
    }
    block_size_ = (mode_ == CycleMode::kInitial || !known) ? opts_.block_size : known->block_size;
    if (block_size_ < kMinBlockSize || block_size_ > kMaxBlockSize ||
        (block_size_ & (block_size_ - 1)) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("block size ", block_size_, " must be a power of two in 4 KiB..4 MiB"));
    }
    if (known && known->virtual_size != disk_->virtual_size() && mode_ != CycleMode::kInitial) {
      return absl::FailedPreconditionError(absl::StrCat(
          path_, " changed size from ", known->virtual_size, " to ", disk_->virtual_size(),
          " bytes since it was replicated; resizing a replica is not supported"));
    }
    stats_.replication_id = replication_id_;
    return absl::OkStatus();
  }

  // The disk the cycle replicates, by its id (the copy read may have its own).
  std::string SourceDiskId() const {
    return opts_.source_disk_id.empty() ? disk_->info().disk_id : opts_.source_disk_id;
  }

  absl::Status HandshakeStep() {
    Hello h;
    h.replication_id = replication_id_;
    h.source_disk_id = SourceDiskId();
    h.virtual_size = disk_->virtual_size();
    h.block_size = block_size_;
    h.source_name = opts_.source_name;
    ASR_RETURN_IF_ERROR(WriteFrame(stream_, FrameType::kHello, h.Encode()));
    ASR_ASSIGN_OR_RETURN(Frame f, ReadReply());
    ASR_ASSIGN_OR_RETURN(reply_, HelloReply::Decode(f));
    stats_.protocol_version = reply_.version;
    if (!reply_.status.ok()) {
      return absl::Status(reply_.status.code(),
                          absl::StrCat("receiver refused: ", reply_.status.message()));
    }
    return absl::OkStatus();
  }

  absl::Status ChooseBaseStep() {
    if (mode_ == CycleMode::kInitial) {
      base_ = nullptr;
    } else if (!reply_.has_replica) {
      return absl::FailedPreconditionError(
          "the receiver holds no replica of this disk yet; run an initial replication first");
    } else if (pending_ && pending_->cycle == reply_.current_cycle &&
               pending_->replication_id == replication_id_) {
      // Our last cycle was committed but its ACK was lost: the receiver's
      // word makes it the committed state now, before this cycle's own
      // pending state replaces the file.
      ASR_RETURN_IF_ERROR(SaveManifest(ManifestPath(state_), *pending_));
      committed_ = std::move(pending_);
      pending_.reset();
      base_ = &*committed_;
    } else if (committed_ && committed_->cycle == reply_.current_cycle) {
      base_ = &*committed_;
    } else {
      return absl::FailedPreconditionError(absl::StrCat(
          "the replica is at point ", reply_.current_cycle, " but ", path_,
          "'s replication state describes point ", committed_ ? committed_->cycle : pending_->cycle,
          "; run an initial replication to resynchronize"));
    }
    cycle_ = reply_.current_cycle + 1;
    stats_.cycle = cycle_;
    stats_.base_cycle = reply_.current_cycle;
    return absl::OkStatus();
  }

  absl::Status PlanStep() {
    // The tracker: tracked mode reads it; initial and scan cycles (and a
    // tracked cycle's fallback scan) arm it, creating a missing map.
    ChangeTracker* tracker = opts_.tracker;
    if (tracker == nullptr && opts_.use_tracker_file && mode_ != CycleMode::kDifferencing) {
      // This process records no writes: the map need not be marked in use
      // (two fewer durable rewrites of it per cycle).
      absl::StatusOr<std::unique_ptr<ChangeTracker>> t =
          ChangeTracker::OpenForCycle(state_, disk_->virtual_size(), block_size_);
      if (t.ok()) {
        own_tracker_ = *std::move(t);
        tracker = own_tracker_.get();
      } else if (absl::IsFailedPrecondition(t.status())) {
        // A host holds the map: its bits are not ours to take. Tracked
        // mode scans instead; other modes leave the map to the host.
        busy_reason_ = std::string(t.status().message());
      } else {
        return t.status();
      }
    }
    if (tracker != nullptr && tracker->block_size() != block_size_) {
      if (mode_ == CycleMode::kTracked) {
        return absl::FailedPreconditionError(
            absl::StrCat("the change tracker uses ", tracker->block_size(),
                         "-byte blocks, the replica ", block_size_));
      }
      tracker = nullptr;
    }
    CycleMode effective = mode_;
    ASR_ASSIGN_OR_RETURN(resync_reason_, LoadResyncMarker(state_));
    // The source chain as this cycle finds it, before reading anything.
    std::vector<std::string> chain_paths;
    for (disk::VirtualDisk* d = disk_.get(); d != nullptr; d = d->parent()) {
      chain_paths.push_back(d->path());
    }
    for (const std::string& p : chain_paths) {
      ASR_ASSIGN_OR_RETURN(disk::DiskFingerprint fp, disk::TakeDiskFingerprint(p));
      new_manifest_.chain.push_back(std::move(fp));
    }
    if (mode_ == CycleMode::kDifferencing) {
      // Blocks the child does not hold come from its parents, sent when the
      // base state was made: only while no parent has changed since.
      std::string why = ParentsChangedReason(chain_paths);
      if (!why.empty()) {
        stats_.fallback_reason = std::move(why);
        effective = CycleMode::kScan;
      }
    }
    if (mode_ == CycleMode::kTracked && !opts_.host_changes.has_value()) {
      if (tracker == nullptr) {
        stats_.fallback_reason = !busy_reason_.empty() ? busy_reason_
                                                       : absl::StrCat("no change map for ", state_,
                                                                      ": writes were not tracked");
        effective = CycleMode::kScan;
      } else if (tracker->needs_scan()) {
        stats_.fallback_reason = tracker->needs_scan_reason();
        effective = CycleMode::kScan;
      } else if (resync_reason_) {
        // A verification found blocks the replica lacks; only a scan
        // compares every block with the manifest and resends them.
        stats_.fallback_reason = absl::StrCat("resynchronization required: ", *resync_reason_);
        effective = CycleMode::kScan;
      }
      if (effective != CycleMode::kTracked && opts_.tracked_only) {
        return absl::FailedPreconditionError(
            absl::StrCat("a tracked cycle cannot be trusted: ", stats_.fallback_reason,
                         "; run a scan cycle (or allow the fallback)"));
      }
    }
    if (mode_ == CycleMode::kTracked && opts_.host_changes.has_value()) {
      // The host's own record of the changes replaces the change map, but
      // only on top of exactly the replica state it was cut against.
      const SendOptions::HostChanges& hc = *opts_.host_changes;
      std::string why;
      if (base_ == nullptr || base_->cycle != hc.base_cycle) {
        why =
            absl::StrCat("the host's changed blocks are relative to replica point ", hc.base_cycle,
                         ", the replica is at point ", base_ == nullptr ? 0 : base_->cycle);
      } else if (base_->virtual_size != disk_->virtual_size()) {
        why = absl::StrCat("the disk was resized (", base_->virtual_size, " -> ",
                           disk_->virtual_size(), " bytes)");
      } else if (resync_reason_) {
        why = absl::StrCat("resynchronization required: ", *resync_reason_);
      }
      for (const auto& [offset, length] : hc.extents) {
        if (!why.empty()) break;
        if (offset > disk_->virtual_size() || length > disk_->virtual_size() - offset) {
          why = absl::StrCat("the host reported a change [", offset, ", +", length,
                             ") past the end of the disk");
        }
      }
      if (why.empty()) {
        std::vector<bool> marked(Manifest::BlocksFor(disk_->virtual_size(), block_size_));
        for (const auto& [offset, length] : hc.extents) {
          if (length == 0) continue;
          for (uint64_t b = offset / block_size_; b <= (offset + length - 1) / block_size_; ++b) {
            marked[b] = true;
          }
        }
        std::vector<uint64_t> blocks;
        for (uint64_t b = 0; b < marked.size(); ++b) {
          if (marked[b]) blocks.push_back(b);
        }
        detector_ = MakeTrackedDetector(std::move(blocks));
        effective = CycleMode::kTracked;
        tracker = nullptr;  // the host answers for the changes, not the map
      } else {
        stats_.fallback_reason = std::move(why);
        effective = CycleMode::kScan;
      }
      if (effective != CycleMode::kTracked && opts_.tracked_only) {
        return absl::FailedPreconditionError(
            absl::StrCat("a tracked cycle cannot be trusted: ", stats_.fallback_reason,
                         "; run a scan cycle (or allow the fallback)"));
      }
    }
    if (tracker != nullptr && mode_ != CycleMode::kDifferencing) {
      ASR_ASSIGN_OR_RETURN(std::vector<uint64_t> blocks, tracker->BeginCycle());
      tracker_ = tracker;
      if (effective == CycleMode::kTracked) {
        detector_ = MakeTrackedDetector(std::move(blocks));
      }
    }
    stats_.mode_used = effective;
    if (!detector_) {
      switch (effective) {
        case CycleMode::kInitial:
          detector_ = MakeInitialDetector();
          break;
        case CycleMode::kScan:
          detector_ = MakeScanDetector();
          break;
        case CycleMode::kDifferencing:
          detector_ = MakeDifferencingDetector();
          break;
        case CycleMode::kTracked:
          return absl::InternalError("tracked mode without a tracker");
      }
    }
    ASR_ASSIGN_OR_RETURN(plan_, detector_->Plan(*disk_, block_size_, base_));
    // The new state starts from the base (or all-zero for a full copy).
    new_manifest_.replication_id = replication_id_;
    new_manifest_.source_disk_id = SourceDiskId();
    new_manifest_.virtual_size = disk_->virtual_size();
    new_manifest_.block_size = block_size_;
    new_manifest_.cycle = cycle_;
    // Digests are only comparable under one hasher: a delta keeps its base's
    // (a SHA-256 manifest stays one until the next initial replication).
    hasher_ = base_ != nullptr ? base_->hasher : BlockHasher::NewXxh3();
    new_manifest_.hasher = hasher_;
    if (base_ != nullptr) {
      new_manifest_.digests = base_->digests;
    } else {
      new_manifest_.digests.assign(Manifest::BlocksFor(disk_->virtual_size(), block_size_),
                                   kZeroDigest);
    }
    return absl::OkStatus();
  }

  // Why the parents of a differencing disk may hold data the base state
  // does not know ("" when each matches its fingerprint in the base).
  std::string ParentsChangedReason(const std::vector<std::string>& chain_paths) const {
    if (base_ == nullptr) return "";
    // The base describes the parent itself (a child's first cycle) or this
    // disk (later cycles): either way its chain from the parent up.
    const size_t skip = base_is_parents_ ? 0 : 1;
    if (base_->chain.size() < skip || base_->chain.size() - skip != chain_paths.size() - 1) {
      return absl::StrCat(
          "the replication state of ", state_,
          " does not record its parents as they were replicated (made by an older asr, or the "
          "chain changed): their blocks are compared too");
    }
    for (size_t i = 1; i < chain_paths.size(); ++i) {
      const disk::DiskFingerprint& then = base_->chain[skip + i - 1];
      const disk::DiskFingerprint& now = new_manifest_.chain[i];
      std::string why = disk::DescribeDiskChange(then, now, chain_paths[i]);
      if (!why.empty()) {
        return absl::StrCat("parent ", why,
                            " since it was replicated; the child's view of it "
                            "is compared block by block");
      }
    }
    return "";
  }

  absl::Status StartStep() {
    CycleStart c;
    c.cycle = cycle_;
    c.base_cycle = reply_.current_cycle;
    c.mode = stats_.mode_used;
    c.flags =
        (opts_.app_consistent ? kCycleAppConsistent : 0) | (base_ == nullptr ? kCycleFull : 0);
    c.source_time_us = absl::ToUnixMicros(
        opts_.source_time == absl::InfinitePast() ? absl::Now() : opts_.source_time);
    if (reply_.version >= kResumeVersion) {  // resume.h
      c.resumable = true;
      c.plan_id = PlanIdentity(replication_id_, c, block_size_, ChunkBlocks(),
                               disk_->virtual_size(), plan_, new_manifest_.chain);
    }
    ASR_RETURN_IF_ERROR(WriteFrame(stream_, FrameType::kCycleStart, c.Encode()));
    ASR_ASSIGN_OR_RETURN(Frame f, ReadReply());
    if (f.type != FrameType::kCycleReady) return Unexpected(f, FrameType::kCycleReady);
    ASR_ASSIGN_OR_RETURN(CycleReply r, CycleReply::Decode(f));
    if (!r.status.ok()) {
      return absl::Status(r.status.code(),
                          absl::StrCat("receiver refused the cycle: ", r.status.message()));
    }
    if (c.resumable && r.has_resume) {  // the receiver holds items before resume_item
      resume_item_ = r.resume_item;
      receiver_held_ = r.resume_bytes;
    }
    return absl::OkStatus();
  }

  // Blocks per work item (the reader's chunk).
  uint64_t ChunkBlocks() const {
    return std::max<uint64_t>(1, opts_.read_chunk_bytes / block_size_);
  }

  // A frame from the receiver; a clean close here is the peer giving up.
  absl::StatusOr<Frame> ReadReply() {
    absl::StatusOr<Frame> f = ReadFrame(stream_);
    if (absl::IsOutOfRange(f.status())) {
      return absl::UnavailableError(
          absl::StrCat(stream_.PeerDescription(), " closed the connection unexpectedly"));
    }
    return f;
  }

  void ReaderLoop(Pipeline& p) {
    uint64_t seq = 0;
    const uint64_t vsize = disk_->virtual_size();
    const uint64_t per_chunk = std::max<uint64_t>(1, opts_.read_chunk_bytes / block_size_);
    const size_t capacity = per_chunk * block_size_;
    WorkItem w;
    uint64_t zero_blocks = 0;  // in w, bounded so that no item grows without limit
    size_t region = 0;         // the items' read bytes so far
    auto push = [&]() -> bool {
      if (w.segs.empty()) return true;
      w.seq = seq++;
      w.region = region;
      region += w.bytes;
      zero_blocks = 0;
      bool ok = p.Push(std::move(w));
      w = WorkItem();
      return ok;
    };
    for (const PlannedRun& run : plan_.runs) {
      uint64_t b = run.first_block;
      const uint64_t end = run.first_block + run.block_count;
      while (b < end) {
        Segment seg;
        seg.first_block = b;
        seg.action = run.action;
        if (run.action == BlockAction::kZero) {
          seg.block_count = std::min<uint64_t>(end - b, (1 << 16) - zero_blocks);
          zero_blocks += seg.block_count;
        } else {
          // Only planned here: the workers read, in parallel, each through
          // its own handle of the disk (one handle serializes its calls).
          const size_t room = (capacity - w.bytes) / block_size_;
          seg.block_count = std::min<uint64_t>(end - b, room);
          uint64_t off = b * block_size_;
          uint64_t len = std::min<uint64_t>(seg.block_count * block_size_, vsize - off);
          seg.data_pos = w.bytes;
          w.bytes += len;
        }
        b += seg.block_count;
        w.segs.push_back(seg);
        const bool full = capacity - w.bytes < block_size_ || zero_blocks >= (1 << 16) ||
                          w.segs.size() >= kMaxGroupBlocks;
        if (full && !push()) return;
      }
    }
    if (!push()) return;
    p.FinishInput(seq);
  }

  void WorkerLoop(Pipeline& p, disk::VirtualDisk* disk) {
    BlockCompressor compressor(opts_.compression_level);
    const uint64_t per_chunk = std::max<uint64_t>(1, opts_.read_chunk_bytes / block_size_);
    // Where an item is read to: this worker's buffer (no allocation or
    // zero-filling per item), or its region of the in-place stream's.
    const size_t capacity = per_chunk * block_size_;
    std::unique_ptr<uint8_t[]> own_buf;
    if (in_place_ == nullptr) own_buf.reset(new uint8_t[capacity]);
    uint8_t* buf = own_buf.get();
    const uint64_t vsize = disk_->virtual_size();
    const bool groups = reply_.version >= 2;
    const bool by_crc = reply_.version >= kDigestByCrcVersion;
    // Protocol 5: an item's frames depend on the item alone (no blocks held
    // back for the next one), so every attempt cuts the same frames; items
    // the receiver holds are digested but neither compressed nor framed.
    const bool resumable = reply_.version >= kResumeVersion;
    bool skip_item = false;
    // The changed blocks waiting to be sent together.
    struct Pending {
      uint64_t offset;
      uint32_t length;
      const uint8_t* data;
      Digest sha;
    };
    std::vector<Pending> group;
    uint64_t group_bytes = 0;
    std::unique_ptr<uint8_t[]> gather;
    size_t gather_cap = 0;
    std::string head;
    std::unique_ptr<uint8_t[]> carry;  // held-back blocks (see below)
    size_t carry_cap = 0;
    auto flush_group = [&](WorkResult& r) {
      if (group.empty()) return;
      if (!groups) {  // protocol 1: one BLOCK frame per block
        for (const Pending& g : group) {
          BlockHeader h;
          h.offset = g.offset;
          h.length = g.length;
          BlockCodec codec;
          absl::string_view body = compressor.EncodeView(g.data, g.length, &codec);
          h.codec = static_cast<uint8_t>(codec);
          h.raw_crc = Crc32c(g.data, g.length);
          if (by_crc) {
            r.entries.push_back({DigestEntry::kPlace, g.offset, g.length, {}});
            r.entries.push_back({DigestEntry::kCrc, 0, h.raw_crc, {}});
          }
          uint8_t hb[kBlockHeaderSize];
          EncodeBlockHeader(h, hb);
          AppendFrame(&r.frames, FrameType::kBlock,
                      absl::string_view(reinterpret_cast<const char*>(hb), sizeof(hb)), body);
        }
      } else {
        // One zstd frame for all: straight from the read buffer when the
        // blocks lie back to back there, else gathered (not for an in-place
        // long stream: the sending thread lays its blocks out in the
        // stream's buffer, and their CRC is taken piece by piece).
        const uint8_t* src = group[0].data;
        for (size_t i = 1; i < group.size() && src != nullptr; ++i) {
          if (group[i].data != group[i - 1].data + group[i - 1].length) src = nullptr;
        }
        const bool laid_out_later = use_long_ && in_place_ != nullptr;
        if (src == nullptr && !laid_out_later) {
          if (gather_cap < group_bytes) {
            gather.reset(new uint8_t[group_bytes]);
            gather_cap = group_bytes;
          }
          size_t pos = 0;
          for (const Pending& g : group) {
            std::memcpy(gather.get() + pos, g.data, g.length);
            pos += g.length;
          }
          src = gather.get();
        }
        BlockGroupHeader h;
        if (src != nullptr) {
          h.raw_crc = Crc32c(src, group_bytes);
        } else {
          for (const Pending& g : group) h.raw_crc = Crc32cExtend(h.raw_crc, g.data, g.length);
        }
        for (const Pending& g : group) h.blocks.push_back({g.offset, g.length});
        if (use_long_) {  // (never while resuming: see ChooseCodec)
          h.codec = static_cast<uint8_t>(BlockCodec::kZstdLong);
          LongGroup lg;
          lg.frames_pos = r.frames.size();
          lg.header = h;
          if (in_place_ != nullptr) {
            for (const Pending& g : group) lg.block_data.push_back(g.data);
          } else {
            // A recycled string: a fresh 1 MiB one per group would be mapped
            // and zeroed by the kernel each time.
            lg.raw = p.TakeString();
            lg.raw.assign(reinterpret_cast<const char*>(src), group_bytes);
          }
          r.long_groups.push_back(std::move(lg));
        } else if (!skip_item) {
          BlockCodec codec;
          absl::string_view body = compressor.EncodeView(src, group_bytes, &codec);
          h.codec = static_cast<uint8_t>(codec);
          head.clear();
          EncodeBlockGroupHeader(h, &head);
          AppendFrame(&r.frames, FrameType::kBlockGroup, head, body);
        }
        if (by_crc) {
          for (const Pending& g : group) {
            r.entries.push_back({DigestEntry::kPlace, g.offset, g.length, {}});
          }
          r.entries.push_back({DigestEntry::kCrc, 0, h.raw_crc, {}});
        }
      }
      for (const Pending& g : group) {
        if (!by_crc) r.entries.push_back({DigestEntry::kBlock, g.offset, g.length, g.sha});
        ++r.blocks_sent;
        r.changed_bytes += g.length;
      }
      group.clear();
      group_bytes = 0;
    };
    while (std::optional<WorkItem> w = p.Take()) {
      if (in_place_ != nullptr) buf = in_place_ + w->region;
      for (const Segment& seg : w->segs) {
        if (seg.action != BlockAction::kRead) continue;
        uint64_t off = seg.first_block * block_size_;
        uint64_t len = std::min<uint64_t>(seg.block_count * block_size_, vsize - off);
        absl::Status st = disk->ReadAt(off, absl::MakeSpan(buf + seg.data_pos, len));
        if (!st.ok()) {
          p.Fail(st);
          return;
        }
      }
      WorkResult r;
      r.seq = w->seq;
      r.frames = p.TakeString();
      skip_item = w->seq < resume_item_;
      // A run of zero blocks to be sent, flushed as one ZERO_RANGE.
      uint64_t zero_start = 0, zero_len = 0;
      auto flush_zero = [&]() {
        if (zero_len == 0) return;
        ZeroRange z{zero_start, zero_len};
        if (!skip_item) AppendFrame(&r.frames, FrameType::kZeroRange, z.Encode(), {});
        r.entries.push_back({DigestEntry::kZero, zero_start, zero_len, {}});
        ++r.zero_ranges;
        zero_len = 0;
      };
      for (const Segment& seg : w->segs) {
        for (uint64_t i = 0; i < seg.block_count; ++i) {
          const uint64_t block = seg.first_block + i;
          const uint64_t off = block * block_size_;
          const uint32_t len = static_cast<uint32_t>(std::min<uint64_t>(block_size_, vsize - off));
          const Digest* old = base_ ? &base_->digests[block] : nullptr;
          Digest d = kZeroDigest;
          const uint8_t* data = nullptr;
          if (seg.action == BlockAction::kRead) {
            data = buf + seg.data_pos + i * block_size_;
            d = hasher_(data, len);
            r.bytes_read += len;
          }
          r.new_digests.emplace_back(block, d);
          if (old != nullptr && *old == d) {
            flush_zero();
            continue;  // unchanged since the base point
          }
          if (d == kZeroDigest) {
            if (zero_len == 0) zero_start = off;
            zero_len += len;
            continue;
          }
          flush_zero();
          if (group_bytes + len > capacity) flush_group(r);
          // Protocols 1 and 2 chain each block's SHA-256 into the cycle digest.
          Digest sha = {};
          if (!by_crc) sha = hasher_.kind == BlockHashKind::kSha256 ? d : BlockDigest(data, len);
          group.push_back({off, len, data, sha});
          group_bytes += len;
        }
      }
      flush_zero();
      if (groups && !resumable && group_bytes < capacity / 2) {
        // Few changed blocks in this item (a scan with little churn): hold
        // them back, copied out of the read buffer, to compress with the
        // next item's. Frame order is free: blocks never overlap, and the
        // cycle digest follows the order the frames are sent in.
        if (carry_cap < capacity) {
          carry.reset(new uint8_t[capacity]);
          carry_cap = capacity;
        }
        size_t pos = 0;
        for (Pending& g : group) {
          if (g.data != carry.get() + pos) std::memmove(carry.get() + pos, g.data, g.length);
          g.data = carry.get() + pos;
          pos += g.length;
        }
      } else {
        flush_group(r);
      }
      p.Complete(std::move(r));
    }
    if (!group.empty()) {
      WorkResult r;
      r.frames = p.TakeString();
      flush_group(r);
      p.AddTail(std::move(r));
    }
  }

  // Whether this cycle's groups use the long codec (long_range_codec.h):
  // a receiver of version 6 or later, compression on, and the codec asked
  // for (auto: every cycle but the initial copy, which compresses on all
  // workers and has little to gain from reaching back). Never for the rest
  // of a resumed cycle: the long stream's state is that of every group
  // before, which the receiver holds but this attempt does not send again;
  // classic groups need none, and the receiver's apply decodes the held
  // long pieces from the stream's start, then the classic groups.
  absl::Status ChooseCodec() {
    const bool wanted =
        opts_.codec == ReplicationCodec::kLong ||
        (opts_.codec == ReplicationCodec::kAuto && stats_.mode_used != CycleMode::kInitial);
    use_long_ = wanted && resume_item_ == 0 && reply_.version >= kLongCodecVersion &&
                opts_.compression_level != 0;
    stats_.codec_used = use_long_ ? ReplicationCodec::kLong : ReplicationCodec::kClassic;
    if (!use_long_) return absl::OkStatus();
    // The bytes the workers will read (planned_read_bytes, summed here from
    // the plan itself, as the reader lays the items out).
    uint64_t read_bytes = 0;
    for (const PlannedRun& run : plan_.runs) {
      if (run.action != BlockAction::kRead) continue;
      const uint64_t off = run.first_block * block_size_;
      read_bytes += std::min<uint64_t>(run.block_count * block_size_, disk_->virtual_size() - off);
    }
    // Where the window can hold every block read (a tracked cycle up to 128
    // MiB, not a scan of a larger disk), the workers read straight into the
    // stream's buffer, each item into its region, and the stream compresses
    // from there (LongRangeCompressor::StartInPlace). Protocol 5's items
    // hold no blocks back for the next one, which keeps every changed block
    // at or after the stream's end until it is sent (see consume).
    static_assert(kLongCodecVersion >= kResumeVersion);
    if (read_bytes <= (uint64_t{1} << kMaxLongWindowLog)) {
      ASR_RETURN_IF_ERROR(long_compressor_.StartInPlace(opts_.compression_level, read_bytes));
      in_place_ = long_compressor_.in_place_buffer();
    } else {
      ASR_RETURN_IF_ERROR(long_compressor_.Start(opts_.compression_level, read_bytes));
    }
    stats_.long_window_bytes = long_compressor_.window_bytes();
    return absl::OkStatus();
  }

  absl::Status StreamStep() {
    ASR_RETURN_IF_ERROR(ChooseCodec());
    const int nworkers = std::max(1, opts_.worker_threads);
    // The long codec compresses on this thread, in order: it is the slowest
    // stage, and results queued ahead of it only hold a copy of their
    // groups each (1 MiB of fresh memory per item, paged in and zeroed by
    // the kernel). Enough items for every worker and one ready to compress.
    // (In place, the items are read into the stream's buffer: no copies.)
    Pipeline p(use_long_ && in_place_ == nullptr
                   ? std::min(std::max(2, opts_.queue_depth), nworkers + 1)
                   : std::max(2, opts_.queue_depth));
    std::vector<std::unique_ptr<disk::VirtualDisk>> handles;
    for (int i = 1; i < nworkers; ++i) {
      ASR_ASSIGN_OR_RETURN(std::unique_ptr<disk::VirtualDisk> d,
                           disk::OpenDisk(path_, disk::OpenMode::kReadOnly));
      handles.push_back(std::move(d));
    }
    std::thread reader([&] { ReaderLoop(p); });
    std::vector<std::thread> workers;
    for (int i = 0; i < nworkers; ++i) {
      disk::VirtualDisk* d = i == 0 ? disk_.get() : handles[i - 1].get();
      workers.emplace_back([&p, d, this] { WorkerLoop(p, d); });
    }
    absl::Status status;
    CycleProgress progress;
    progress.planned_read_bytes = plan_.planned_read_bytes;
    progress.resumed_bytes = receiver_held_;
    std::string long_out, long_head;
    auto consume = [&](WorkResult* r) -> absl::Status {
      if (!r->long_groups.empty()) {
        // The long codec: compress the held groups here, in sending order,
        // between the result's other frames.
        long_out.clear();
        size_t pos = 0;
        for (LongGroup& g : r->long_groups) {
          long_out.append(r->frames, pos, g.frames_pos - pos);
          pos = g.frames_pos;
          absl::StatusOr<absl::string_view> next;
          if (in_place_ != nullptr) {
            // Its blocks, up to the stream's end: each lies at or after it
            // (everything before it in the buffer was sent or skipped), so
            // the moves go down and never touch an unsent block.
            uint8_t* end = in_place_ + long_compressor_.bytes_in();
            size_t n = 0;
            for (size_t i = 0; i < g.block_data.size(); ++i) {
              const uint32_t len = g.header.blocks[i].length;
              if (g.block_data[i] != end + n) std::memmove(end + n, g.block_data[i], len);
              n += len;
            }
            next = long_compressor_.NextInPlace(n);
          } else {
            next =
                long_compressor_.Next(reinterpret_cast<const uint8_t*>(g.raw.data()), g.raw.size());
          }
          ASR_ASSIGN_OR_RETURN(absl::string_view piece, std::move(next));
          long_head.clear();
          EncodeBlockGroupHeader(g.header, &long_head);
          AppendFrame(&long_out, FrameType::kBlockGroup, long_head, piece);
        }
        long_out.append(r->frames, pos, std::string::npos);
        r->frames.swap(long_out);
        for (LongGroup& g : r->long_groups) {
          if (g.raw.capacity() > 0) p.ReturnString(std::move(g.raw));
        }
        r->long_groups.clear();
      }
      const bool framed = !r->frames.empty();
      if (framed) {
        ASR_RETURN_IF_ERROR(stream_.WriteAll(r->frames.data(), r->frames.size()));
      }
      stats_.wire_bytes += r->frames.size();
      if (r->seq < resume_item_) stats_.resumed_bytes += r->changed_bytes;
      p.ReturnString(std::move(r->frames));
      stats_.bytes_read += r->bytes_read;
      stats_.blocks_sent += r->blocks_sent;
      stats_.zero_ranges += r->zero_ranges;
      stats_.changed_bytes += r->changed_bytes;
      for (const auto& [block, digest] : r->new_digests) {
        new_manifest_.digests[block] = digest;
      }
      for (const DigestEntry& e : r->entries) {
        switch (e.kind) {
          case DigestEntry::kZero:
            DigestZeroRange(cycle_digest_, e.offset, e.length);
            break;
          case DigestEntry::kBlock:
            DigestBlock(cycle_digest_, e.offset, static_cast<uint32_t>(e.length), e.sha);
            break;
          case DigestEntry::kPlace:
            DigestBlockPlace(cycle_digest_, e.offset, static_cast<uint32_t>(e.length));
            break;
          case DigestEntry::kCrc:
            DigestFrameCrc(cycle_digest_, static_cast<uint32_t>(e.length));
            break;
        }
      }
      if (reply_.version >= kResumeVersion && framed) {
        // Everything before the next item is sent: where a resume may start.
        CycleCheckpoint cp;
        cp.next_item = r->seq + 1;
        cp.blocks = stats_.blocks_sent;
        cp.zero_ranges = stats_.zero_ranges;
        cp.raw_bytes = stats_.changed_bytes;
        std::string frame = EncodeFrame(FrameType::kCycleCheckpoint, cp.Encode());
        ASR_RETURN_IF_ERROR(stream_.WriteAll(frame.data(), frame.size()));
        stats_.wire_bytes += frame.size();
      }
      if (opts_.progress) {
        progress.raw_position = stats_.changed_bytes;
        progress.bytes_read = stats_.bytes_read;
        progress.bytes_sent = stats_.wire_bytes;
        progress.blocks_sent = stats_.blocks_sent;
        opts_.progress(progress);
      }
      return absl::OkStatus();
    };
    for (uint64_t seq = 0; status.ok(); ++seq) {
      std::optional<WorkResult> r = p.Next(seq);
      if (!r) break;
      status = consume(&*r);
    }
    if (!status.ok()) p.Fail(status);
    bool complete = p.error().ok() && status.ok();
    if (!complete) p.Cancel();
    reader.join();
    for (auto& t : workers) t.join();
    ASR_RETURN_IF_ERROR(p.error());
    ASR_RETURN_IF_ERROR(status);
    for (WorkResult& r : p.TakeTails()) ASR_RETURN_IF_ERROR(consume(&r));
    return absl::OkStatus();
  }

  absl::Status SealStep() {
    ASR_RETURN_IF_ERROR(SaveManifest(PendingManifestPath(state_), new_manifest_));
    CycleEnd e;
    e.blocks = stats_.blocks_sent;
    e.zero_ranges = stats_.zero_ranges;
    e.raw_bytes = stats_.changed_bytes;
    e.digest = cycle_digest_.Finish();
    std::string frame = EncodeFrame(FrameType::kCycleEnd, e.Encode());
    stats_.wire_bytes += frame.size();
    return stream_.WriteAll(frame.data(), frame.size());
  }

  absl::Status AckStep() {
    ASR_ASSIGN_OR_RETURN(Frame f, ReadReply());
    if (f.type != FrameType::kCycleAck) return Unexpected(f, FrameType::kCycleAck);
    ASR_ASSIGN_OR_RETURN(CycleReply r, CycleReply::Decode(f));
    if (!r.status.ok()) {
      return absl::Status(r.status.code(),
                          absl::StrCat("receiver did not commit the cycle: ", r.status.message()));
    }
    if (r.cycle != cycle_) {
      return absl::FailedPreconditionError(absl::StrCat(
          "protocol violation: receiver acknowledged cycle ", r.cycle, " for cycle ", cycle_));
    }
    stats_.point_id = r.point_id;
    // The pending state (durable since SealStep) becomes the committed one.
    // No fsync: should a power loss undo the rename, the next cycle adopts
    // the pending state when the receiver reports this point (ChooseBase).
    absl::Status renamed =
        platform::Env::Default()->Rename(PendingManifestPath(state_), ManifestPath(state_));
    if (!renamed.ok()) {
      return platform::AddContext(
          renamed, absl::StrCat("cannot rename ", PendingManifestPath(state_), " to ",
                                ManifestPath(state_)));
    }
    ClearNewReplicationId(state_);
    if (tracker_ != nullptr) {
      ASR_RETURN_IF_ERROR(tracker_->CommitCycle(plan_.full_coverage));
    }
    // Every block was compared with the manifest and the flagged ones sent.
    if (resync_reason_ && plan_.full_coverage) ASR_RETURN_IF_ERROR(ClearResyncMarker(state_));
    if (own_tracker_) ASR_RETURN_IF_ERROR(own_tracker_->Close());
    return absl::OkStatus();
  }

  const std::string path_;   // read
  const std::string state_;  // whose replication state the cycle continues
  const CycleMode mode_;
  net::ByteStream& stream_;
  const SendOptions& opts_;

  std::unique_ptr<disk::VirtualDisk> disk_;
  std::optional<Manifest> committed_, pending_;
  std::string replication_id_;
  uint32_t block_size_ = 0;
  HelloReply reply_;
  const Manifest* base_ = nullptr;
  uint64_t cycle_ = 0;
  std::unique_ptr<ChangeTracker> own_tracker_;
  ChangeTracker* tracker_ = nullptr;
  bool base_is_parents_ = false;
  std::optional<std::string> resync_reason_;  // DISK.asrresync, when present  // differencing: the
                                              // base came from the parent
  std::string busy_reason_;                   // why the disk's tracker could not be opened
  std::unique_ptr<ChangeDetector> detector_;
  CyclePlan plan_;
  Manifest new_manifest_;
  BlockHasher hasher_;  // the manifest's; fixed before the workers start
  Sha256Stream cycle_digest_;
  CycleStats stats_;
  // Protocol 5: the first item the receiver still needs, and the raw bytes
  // of blocks it holds (CYCLE_READY).
  uint64_t resume_item_ = 0;
  uint64_t receiver_held_ = 0;
  bool use_long_ = false;  // fixed before the workers start
  LongRangeCompressor long_compressor_;
  // The in-place stream's buffer (ChooseCodec), or null.
  uint8_t* in_place_ = nullptr;
};

}  // namespace

model::CycleStats CycleStatsToProto(const CycleStats& st, const std::string& disk_path) {
  model::CycleStats m;
  m.set_disk(disk_path);
  m.set_replication_id(st.replication_id);
  m.set_mode(CycleModeName(st.mode_requested));
  m.set_mode_used(CycleModeName(st.mode_used));
  m.set_fallback_reason(st.fallback_reason);
  m.set_cycle(st.cycle);
  m.set_base_cycle(st.base_cycle);
  m.set_point_id(st.point_id);
  m.set_bytes_read(st.bytes_read);
  m.set_bytes_changed(st.changed_bytes);
  m.set_blocks_sent(st.blocks_sent);
  m.set_zero_ranges(st.zero_ranges);
  m.set_bytes_sent(st.wire_bytes);
  m.set_compression_ratio(std::round(st.compression_ratio() * 1000) / 1000);
  m.set_seconds(std::round(absl::ToDoubleMilliseconds(st.elapsed)) / 1000);
  m.set_bytes_resumed(st.resumed_bytes);
  m.set_bytes_resent(st.resent_bytes);
  m.set_attempts(st.attempts);
  m.set_codec(ReplicationCodecName(st.codec_used));
  m.set_long_window_bytes(st.long_window_bytes);
  return m;
}

std::string CycleStatsToJson(const CycleStats& st, const std::string& disk_path) {
  return model::ToJson(CycleStatsToProto(st, disk_path));
}

absl::StatusOr<CycleStats> ReplicateDisk(const std::string& disk_path, CycleMode mode,
                                         net::ByteStream& stream, const SendOptions& options) {
  CycleSender sender(disk_path, mode, stream, options);
  return sender.Run();
}

}  // namespace asr::replication
