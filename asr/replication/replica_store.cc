#include "asr/replication/replica_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <new>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "asr/common/crc32c.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/disk/disk_file.h"
#include "asr/model/json.h"
#include "asr/replication/block_codec.h"

namespace asr::replication {

struct ReplicaStore::State {
  bool has_replica = false;
  std::string replication_id;
  std::string source_disk_id;
  uint64_t virtual_size = 0;
  uint32_t block_size = 0;
  std::string replica_file = "replica.vhdx";
  uint64_t current_cycle = 0;
  uint64_t generation = 0;
  std::vector<RecoveryPoint> points;
  // The policy last used, for recovery by a lister/restorer.
  int additional_points = 0;
  int64_t interval_s = 3600;
  int64_t retention_s = 86400;
  // An apply in progress (phase applying).
  bool applying = false;
  CycleStart apply_start;
  std::string apply_journal;
  std::string apply_undo;
  int64_t apply_time_us = 0;
};

namespace {

constexpr char kStateFile[] = "replica.state";
constexpr uint64_t kIoChunk = 1 << 20;

using State = ReplicaStore::State;

std::string Dash(const std::string& s) { return s.empty() ? "-" : s; }
std::string Undash(const std::string& s) { return s == "-" ? "" : s; }

std::string SerializeState(const State& s) {
  std::string out = "asr-replica-state 1\n";
  absl::StrAppend(&out, "has_replica ", s.has_replica ? 1 : 0, "\n");
  absl::StrAppend(&out, "replication_id ", Dash(s.replication_id), "\n");
  absl::StrAppend(&out, "source_disk_id ", Dash(s.source_disk_id), "\n");
  absl::StrAppend(&out, "virtual_size ", s.virtual_size, "\n");
  absl::StrAppend(&out, "block_size ", s.block_size, "\n");
  absl::StrAppend(&out, "replica_file ", s.replica_file, "\n");
  absl::StrAppend(&out, "current_cycle ", s.current_cycle, "\n");
  absl::StrAppend(&out, "generation ", s.generation, "\n");
  absl::StrAppend(&out, "policy ", s.additional_points, " ", s.interval_s, " ", s.retention_s,
                  "\n");
  for (const RecoveryPoint& p : s.points) {
    absl::StrAppend(&out, "point ", p.id, " ", absl::ToUnixMicros(p.time), " ",
                    absl::ToUnixMicros(p.source_time), " ", p.app_consistent ? 1 : 0, " ",
                    static_cast<int>(p.mode), " ", Dash(p.delta_file), "\n");
  }
  if (s.applying) {
    const CycleStart& c = s.apply_start;
    absl::StrAppend(&out, "applying ", c.cycle, " ", c.base_cycle, " ", static_cast<int>(c.mode),
                    " ", static_cast<int>(c.flags), " ", c.source_time_us, " ",
                    s.apply_time_us, " ", Dash(s.apply_journal), " ", Dash(s.apply_undo), "\n");
  }
  absl::StrAppend(&out, "crc ", Crc32c(out), "\n");
  return out;
}

absl::StatusOr<State> ParseState(const std::string& path, const std::string& text) {
  auto corrupt = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat(path, ": replica state is corrupt (", why, ")"));
  };
  size_t crc_pos = text.rfind("crc ");
  if (crc_pos == std::string::npos) return corrupt("no checksum");
  uint32_t crc = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text.substr(crc_pos + 4)), &crc) ||
      crc != Crc32c(absl::string_view(text).substr(0, crc_pos))) {
    return corrupt("checksum mismatch");
  }
  State s;
  bool first = true;
  for (absl::string_view line : absl::StrSplit(text.substr(0, crc_pos), '\n', absl::SkipEmpty())) {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    if (first) {
      if (line != "asr-replica-state 1") return corrupt("unknown version");
      first = false;
      continue;
    }
    const std::string& k = f[0];
    auto num = [&](size_t i, auto* v) {
      return i < f.size() && absl::SimpleAtoi(f[i], v);
    };
    bool ok = true;
    if (k == "has_replica") {
      int v = 0;
      ok = num(1, &v);
      s.has_replica = v != 0;
    } else if (k == "replication_id" && f.size() == 2) {
      s.replication_id = Undash(f[1]);
    } else if (k == "source_disk_id" && f.size() == 2) {
      s.source_disk_id = Undash(f[1]);
    } else if (k == "virtual_size") {
      ok = num(1, &s.virtual_size);
    } else if (k == "block_size") {
      ok = num(1, &s.block_size);
    } else if (k == "replica_file" && f.size() == 2) {
      s.replica_file = f[1];
    } else if (k == "current_cycle") {
      ok = num(1, &s.current_cycle);
    } else if (k == "generation") {
      ok = num(1, &s.generation);
    } else if (k == "policy") {
      ok = num(1, &s.additional_points) && num(2, &s.interval_s) && num(3, &s.retention_s);
    } else if (k == "point" && f.size() == 7) {
      RecoveryPoint p;
      int64_t t = 0, st = 0;
      int app = 0, mode = 0;
      ok = num(1, &p.id) && num(2, &t) && num(3, &st) && num(4, &app) && num(5, &mode);
      p.time = absl::FromUnixMicros(t);
      p.source_time = absl::FromUnixMicros(st);
      p.app_consistent = app != 0;
      p.mode = static_cast<CycleMode>(mode);
      p.delta_file = Undash(f[6]);
      s.points.push_back(p);
    } else if (k == "applying" && f.size() == 9) {
      int mode = 0, flags = 0;
      ok = num(1, &s.apply_start.cycle) && num(2, &s.apply_start.base_cycle) && num(3, &mode) &&
           num(4, &flags) && num(5, &s.apply_start.source_time_us) && num(6, &s.apply_time_us);
      s.apply_start.mode = static_cast<CycleMode>(mode);
      s.apply_start.flags = static_cast<uint8_t>(flags);
      s.apply_journal = Undash(f[7]);
      s.apply_undo = Undash(f[8]);
      s.applying = true;
    } else {
      ok = false;
    }
    if (!ok) return corrupt(absl::StrCat("bad line '", line, "'"));
  }
  if (!s.points.empty()) s.points.back().latest = true;
  return s;
}

absl::StatusOr<State> LoadState(const std::string& dir) {
  std::string path = JoinPath(dir, kStateFile);
  if (!PathExists(path)) return State();
  ASR_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return ParseState(path, text);
}

absl::Status SaveState(const std::string& dir, const State& s) {
  return WriteFileAtomically(JoinPath(dir, kStateFile), SerializeState(s));
}

// An flock on dir/name, released when destroyed.
class FileLock {
 public:
  FileLock() = default;
  ~FileLock() { Release(); }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  absl::Status Lock(const std::string& path, int op) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return ErrnoToStatus(errno, path);
    while (::flock(fd_, op) != 0) {
      if (errno == EINTR) continue;
      int err = errno;
      Release();
      if (err == EWOULDBLOCK) {
        return absl::FailedPreconditionError(
            absl::StrCat(path, " is locked: another receiver is serving this replica directory"));
      }
      return ErrnoToStatus(err, absl::StrCat("flock ", path));
    }
    return absl::OkStatus();
  }
  int Release() {
    int fd = fd_;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    return fd;
  }
  int Take() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  ::closedir(d);
  return out;
}

uint32_t BlockLen(uint64_t offset, uint32_t bs, uint64_t vsize) {
  return static_cast<uint32_t>(std::min<uint64_t>(bs, vsize - offset));
}

// Calls fn(offset, length) for each present extent of `d` in [off, off+len).
absl::Status ForPresent(disk::VirtualDisk& d, uint64_t off, uint64_t len,
                        const std::function<absl::Status(uint64_t, uint64_t)>& fn) {
  ASR_ASSIGN_OR_RETURN(std::vector<disk::Extent> map, d.GetAllocationMap(off, len));
  for (const disk::Extent& e : map) {
    if (e.state == disk::ExtentState::kPresent) ASR_RETURN_IF_ERROR(fn(e.offset, e.length));
  }
  return absl::OkStatus();
}

// Copies the record stored in `from` into `to` unchanged.
absl::Status CopyRecord(const BlockLogReader& from, const BlockLogRecord& rec,
                        BlockLogWriter& to) {
  if (rec.type == RecordType::kZero) return to.AppendZero(rec.offset, rec.length);
  std::string payload;
  ASR_RETURN_IF_ERROR(from.ReadPayload(rec, &payload));
  return to.AppendBlock(rec.offset, rec.length, rec.codec, rec.raw_crc, payload);
}

std::string ReplicaFileName(disk::DiskFormat format) {
  return format == disk::DiskFormat::kVhd ? "replica.vhd" : "replica.vhdx";
}

// Decodes a BLOCK_GROUP payload's data (header `h`) into the h.raw_bytes
// bytes at `out`, verifying its checksum.
absl::Status DecodeGroupData(absl::string_view payload, const BlockGroupHeader& h,
                             BlockDecompressor& dec, uint8_t* out) {
  ASR_RETURN_IF_ERROR(dec.Decode(h.codec, payload.substr(h.data_pos), out, h.raw_bytes));
  if (Crc32c(out, h.raw_bytes) != h.raw_crc) {
    return absl::DataLossError(absl::StrCat("block group at offset ",
                                            h.blocks.empty() ? 0 : h.blocks[0].offset,
                                            " fails its checksum after decoding"));
  }
  return absl::OkStatus();
}

// Calls on_block(offset, data, length) and on_zero(offset, length) for the
// records of a cycle journal, in order, groups expanded into their blocks.
absl::Status ForEachJournalEntry(
    const BlockLogReader& log,
    const std::function<absl::Status(uint64_t, const uint8_t*, uint64_t)>& on_block,
    const std::function<absl::Status(uint64_t, uint64_t)>& on_zero) {
  BlockDecompressor dec;
  std::string data, payload;
  for (const BlockLogRecord& rec : log.records()) {
    if (rec.type == RecordType::kZero) {
      ASR_RETURN_IF_ERROR(on_zero(rec.offset, rec.length));
    } else if (rec.type == RecordType::kBlock) {
      ASR_RETURN_IF_ERROR(log.ReadData(rec, &data));
      ASR_RETURN_IF_ERROR(
          on_block(rec.offset, reinterpret_cast<const uint8_t*>(data.data()), data.size()));
    } else {
      ASR_RETURN_IF_ERROR(log.ReadPayload(rec, &payload));
      ASR_ASSIGN_OR_RETURN(BlockGroupHeader h, DecodeBlockGroupHeader(payload));
      data.resize(h.raw_bytes);
      uint8_t* p = reinterpret_cast<uint8_t*>(data.data());
      ASR_RETURN_IF_ERROR(DecodeGroupData(payload, h, dec, p));
      for (const BlockGroupEntry& b : h.blocks) {
        ASR_RETURN_IF_ERROR(on_block(b.offset, p, b.length));
        p += b.length;
      }
    }
  }
  return absl::OkStatus();
}

disk::DiskFormat FormatForPath(const std::string& path) {
  auto ends = [&](absl::string_view s) { return absl::EndsWith(path, s); };
  if (ends(".vhd") || ends(".VHD")) return disk::DiskFormat::kVhd;
  if (ends(".raw") || ends(".img")) return disk::DiskFormat::kRaw;
  return disk::DiskFormat::kVhdx;
}

}  // namespace

// ---------------------------------------------------------------- CycleWriter

namespace {
// Decoded blocks of a later cycle kept in memory for the apply (beyond: the
// apply decodes the journal again).
constexpr size_t kKeepLimit = 256 << 20;
// A first cycle starts the writeback of the new replica every so many bytes,
// so that the final flush has little left to wait for.
constexpr uint64_t kWritebackEvery = 32 << 20;
}  // namespace

AlignedBytes::~AlignedBytes() { std::free(data_); }

uint8_t* AlignedBytes::Reserve(size_t n) {
  if (n > capacity_) {
    constexpr size_t kAlign = disk::DiskFile::kDirectAlignment;
    size_t cap = std::max(n, capacity_ * 2);
    cap = (cap + kAlign - 1) / kAlign * kAlign;
    auto* p = static_cast<uint8_t*>(std::aligned_alloc(kAlign, cap));
    if (p == nullptr) throw std::bad_alloc();
    if (size_ > 0) std::memcpy(p, data_, size_);
    std::free(data_);
    data_ = p;
    capacity_ = cap;
  }
  return data_;
}

void AlignedBytes::Append(const uint8_t* p, size_t n) {
  Reserve(size_ + n);
  std::memcpy(data_ + size_, p, n);
  size_ += n;
}

CycleWriter::CycleWriter(ReplicaStore* store, const CycleStart& start)
    : store_(store), start_(start) {}

CycleWriter::~CycleWriter() {
  if (durable_ && !done_) {
    (void)FinishApply();  // past the commit point: complete it (recovery would)
  }
  if (!done_) {
    journal_.Abandon();
    DiscardDirect();
  }
  if (writeback_fd_ >= 0) ::close(writeback_fd_);
  if (apply_lock_fd_ >= 0) ::close(apply_lock_fd_);
}

void CycleWriter::DiscardDirect() {
  if (!direct_) return;
  writer_.reset();  // waits for its writes in flight
  if (direct_disk_) {
    (void)direct_disk_->Close();
    direct_disk_.reset();
  }
  if (!direct_tmp_.empty()) ::unlink(direct_tmp_.c_str());
}

absl::Status CycleWriter::CheckRange(uint64_t offset, uint64_t length) const {
  const uint32_t bs = block_size_;
  const uint64_t vs = virtual_size_;
  uint64_t end = offset + length;
  if (length == 0 || offset % bs != 0 || end < offset || end > vs ||
      (end % bs != 0 && end != vs)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "protocol violation: range [", offset, ", +", length, ") is not whole ", bs,
        "-byte blocks inside the ", vs, "-byte disk"));
  }
  return absl::OkStatus();
}

// The first cycle's writes run on a thread of their own: a direct write
// waits for the device, and meanwhile the receiver reads and decodes the
// next frames into another of kBuffers buffers. Writes happen in the order
// submitted; runs shorter than kIoChunk that continue each other are
// gathered into one write.
class DirectWriter {
 public:
  static constexpr int kBuffers = 4;

  DirectWriter(disk::VirtualDisk* disk, const ReplicaStore* store, int writeback_fd)
      : disk_(disk), store_(store), writeback_fd_(writeback_fd) {
    for (int i = 0; i < kBuffers; ++i) {
      buffers_.push_back(std::make_unique<AlignedBytes>());
      free_.push_back(buffers_.back().get());
    }
    thread_ = std::thread([this] { Loop(); });
  }
  ~DirectWriter() { (void)Finish(); }

  // A free buffer (waits for one); the writer's error once it has failed.
  absl::StatusOr<AlignedBytes*> Acquire() {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(
        +[](DirectWriter* w) ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return !w->free_.empty() || !w->error_.ok();
        },
        this));
    if (!error_.ok()) return error_;
    AlignedBytes* b = free_.back();
    free_.pop_back();
    return b;
  }

  // Queues `runs` out of `buf` (which returns to the pool once written).
  absl::Status Submit(AlignedBytes* buf, std::vector<DirectRun> runs) {
    absl::MutexLock l(&mu_);
    jobs_.push_back({buf, std::move(runs)});
    return error_;
  }

  // Waits until everything queued is written (the gathered rest too) and
  // stops the thread. The first error, if any.
  absl::Status Finish() {
    {
      absl::MutexLock l(&mu_);
      finishing_ = true;
    }
    if (thread_.joinable()) thread_.join();
    absl::MutexLock l(&mu_);
    return error_;
  }

 private:
  struct Job {
    AlignedBytes* buf;
    std::vector<DirectRun> runs;
  };

  void Loop() {
    for (;;) {
      Job job;
      {
        absl::MutexLock l(&mu_);
        mu_.Await(absl::Condition(
            +[](DirectWriter* w) ABSL_NO_THREAD_SAFETY_ANALYSIS {
              return !w->jobs_.empty() || w->finishing_;
            },
            this));
        if (jobs_.empty()) break;  // finishing, all written
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      absl::Status s;
      for (const DirectRun& r : job.runs) {
        s = Write(r.offset, job.buf->data() + r.pos, r.length);
        if (!s.ok()) break;
      }
      absl::MutexLock l(&mu_);
      free_.push_back(job.buf);
      if (!s.ok()) {
        if (error_.ok()) error_ = s;
        // Nothing more is written; queued buffers return to the pool.
        for (Job& j : jobs_) free_.push_back(j.buf);
        jobs_.clear();
        return;
      }
    }
    absl::Status s = Flush();
    absl::MutexLock l(&mu_);
    if (error_.ok()) error_ = s;
  }

  absl::Status Flush() {
    if (!batch_.empty()) {
      ASR_RETURN_IF_ERROR(
          disk_->WriteAt(batch_off_, absl::MakeConstSpan(batch_.data(), batch_.size())));
      unsynced_bytes_ += batch_.size();
      batch_.Clear();
    } else if (unsynced_bytes_ == 0) {
      return absl::OkStatus();
    }
    store_->Hook("direct-write");
    if (unsynced_bytes_ >= kWritebackEvery && writeback_fd_ >= 0) {
      // Asynchronous: only starts writing back what went through the cache.
      (void)::sync_file_range(writeback_fd_, 0, 0, SYNC_FILE_RANGE_WRITE);
      unsynced_bytes_ = 0;
    }
    return absl::OkStatus();
  }

  absl::Status Write(uint64_t offset, const uint8_t* data, size_t length) {
    if (!batch_.empty() && (batch_off_ + batch_.size() != offset || batch_.size() >= kIoChunk ||
                            length >= kIoChunk)) {
      ASR_RETURN_IF_ERROR(Flush());
    }
    if (batch_.empty() && length >= kIoChunk) {  // large enough on its own: no copy
      ASR_RETURN_IF_ERROR(disk_->WriteAt(offset, absl::MakeConstSpan(data, length)));
      unsynced_bytes_ += length;
      return Flush();  // the hook and the writeback kick
    }
    if (batch_.empty()) batch_off_ = offset;
    batch_.Append(data, length);
    return absl::OkStatus();
  }

  disk::VirtualDisk* const disk_;
  const ReplicaStore* const store_;
  const int writeback_fd_;
  // The writer thread's own.
  AlignedBytes batch_;
  uint64_t batch_off_ = 0;
  uint64_t unsynced_bytes_ = 0;  // written since the last writeback kick

  std::vector<std::unique_ptr<AlignedBytes>> buffers_;  // owned; fixed after construction
  absl::Mutex mu_;
  std::vector<AlignedBytes*> free_ ABSL_GUARDED_BY(mu_);
  std::deque<Job> jobs_ ABSL_GUARDED_BY(mu_);
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

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
  if (keep_ && kept_data_.size() + n <= kKeepLimit) {
    size_t pos = kept_data_.size();
    kept_data_.resize(pos + n);
    return reinterpret_cast<uint8_t*>(kept_data_.data()) + pos;
  }
  if (keep_) {
    keep_ = false;  // over the budget: the apply reads the journal
    kept_.clear();
    std::string().swap(kept_data_);
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
    kept_.push_back({false, offset, length,
                     static_cast<size_t>(raw - reinterpret_cast<const uint8_t*>(kept_data_.data()))});
  }
  return absl::OkStatus();
}

absl::Status CycleWriter::AddBlock(const std::string& payload) {
  ASR_ASSIGN_OR_RETURN(BlockHeader h, DecodeBlockHeader(payload));
  ASR_RETURN_IF_ERROR(CheckRange(h.offset, h.length));
  if (h.length != BlockLen(h.offset, block_size_, virtual_size_)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "protocol violation: block at ", h.offset, " has ", h.length, " bytes"));
  }
  absl::string_view data = absl::string_view(payload).substr(kBlockHeaderSize);
  // Decode once, into where the block is kept (or a scratch buffer).
  ASR_ASSIGN_OR_RETURN(uint8_t* raw, RawBuffer(h.length));
  ASR_RETURN_IF_ERROR(decoder_.Decode(h.codec, data, raw, h.length));
  if (Crc32c(raw, h.length) != h.raw_crc) {
    return absl::DataLossError(
        absl::StrCat("block at offset ", h.offset, " fails its checksum after decoding"));
  }
  ASR_RETURN_IF_ERROR(AcceptBlock(h.offset, raw, h.length, /*write=*/true));
  if (by_crc_) DigestFrameCrc(digest_, h.raw_crc);
  if (direct_) return SubmitDirect();
  return journal_.AppendBlock(h.offset, h.length, h.codec, h.raw_crc, data);
}

absl::Status CycleWriter::CheckGroup(const BlockGroupHeader& h) const {
  for (const BlockGroupEntry& b : h.blocks) {
    ASR_RETURN_IF_ERROR(CheckRange(b.offset, b.length));
    if (b.length != BlockLen(b.offset, block_size_, virtual_size_)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "protocol violation: block at ", b.offset, " has ", b.length, " bytes"));
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
  ASR_ASSIGN_OR_RETURN(uint8_t* raw, RawBuffer(h.raw_bytes));
  ASR_RETURN_IF_ERROR(DecodeGroupData(payload, h, decoder_, raw));
  ASR_RETURN_IF_ERROR(AcceptGroup(h, raw));
  if (direct_) return SubmitDirect();
  return journal_.AppendGroup(h.blocks[0].offset, h.raw_bytes, payload);
}

absl::Status CycleWriter::AddZeroRange(const ZeroRange& z) {
  ASR_RETURN_IF_ERROR(CheckRange(z.offset, z.length));
  DigestZeroRange(digest_, z.offset, z.length);
  ++zero_ranges_;
  if (direct_) return absl::OkStatus();  // a new disk reads as zeros already
  if (keep_) kept_.push_back({true, z.offset, z.length, 0});
  return journal_.AppendZero(z.offset, z.length);
}

absl::StatusOr<uint64_t> CycleWriter::Commit(const CycleEnd& end) {
  ASR_ASSIGN_OR_RETURN(uint64_t point, CommitDurable(end));
  ASR_RETURN_IF_ERROR(FinishApply());
  return point;
}

absl::StatusOr<uint64_t> CycleWriter::CommitDurable(const CycleEnd& end) {
  if (done_ || durable_) return absl::FailedPreconditionError("cycle already committed");
  if (end.blocks != blocks_ || end.zero_ranges != zero_ranges_ || end.raw_bytes != raw_bytes_) {
    return absl::DataLossError(absl::StrCat(
        "cycle ", start_.cycle, " is incomplete: the sender announced ", end.blocks,
        " blocks / ", end.zero_ranges, " zero ranges / ", end.raw_bytes, " bytes, received ",
        blocks_, " / ", zero_ranges_, " / ", raw_bytes_));
  }
  Digest d = digest_.Finish();
  if (d != end.digest) {
    return absl::DataLossError(absl::StrCat("cycle ", start_.cycle,
                                            ": cycle digest mismatch (sender ",
                                            DigestHex(end.digest), ", received ", DigestHex(d),
                                            "); nothing was applied"));
  }
  if (direct_) return CommitDirect();
  ASR_RETURN_IF_ERROR(journal_.Seal(d));
  store_->Hook("sealed");
  ASR_RETURN_IF_ERROR(store_->MarkApplying(journal_path_, start_, &apply_lock_fd_));
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
  std::string().swap(kept_data_);
  if (apply_lock_fd_ >= 0) ::close(apply_lock_fd_);
  apply_lock_fd_ = -1;
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
  if (::rename(direct_tmp_.c_str(), JoinPath(store_->dir(), direct_file_).c_str()) != 0) {
    int err = errno;
    DiscardDirect();
    return ErrnoToStatus(err, absl::StrCat("rename ", direct_tmp_));
  }
  direct_tmp_.clear();
  ASR_RETURN_IF_ERROR(FsyncDirectory(store_->dir()));
  store_->Hook("direct-renamed");
  ASR_RETURN_IF_ERROR(store_->CommitFirstPoint(start_, direct_file_));
  done_ = true;
  return start_.cycle;
}

// --------------------------------------------------------------- ReplicaStore

ReplicaStore::ReplicaStore(std::string dir, ReplicaOptions options)
    : dir_(std::move(dir)), options_(std::move(options)) {}

ReplicaStore::~ReplicaStore() {
  if (receiver_lock_fd_ >= 0) ::close(receiver_lock_fd_);
}

void ReplicaStore::Hook(const char* step) const {
  if (options_.step_hook) options_.step_hook(step);
}

absl::StatusOr<std::unique_ptr<ReplicaStore>> ReplicaStore::Open(const std::string& dir,
                                                                 const ReplicaOptions& options) {
  if (options.additional_points < 0 || options.additional_points > 24) {
    return absl::InvalidArgumentError(absl::StrCat(
        "additional recovery points must be 0..24, not ", options.additional_points));
  }
  ASR_RETURN_IF_ERROR(MakeDirectories(JoinPath(dir, "journal")));
  ASR_RETURN_IF_ERROR(MakeDirectories(JoinPath(dir, "points")));
  std::unique_ptr<ReplicaStore> store(new ReplicaStore(dir, options));
  FileLock lock;
  ASR_RETURN_IF_ERROR(lock.Lock(JoinPath(dir, "receiver.lock"), LOCK_EX | LOCK_NB));
  store->receiver_lock_fd_ = lock.Take();
  ASR_ASSIGN_OR_RETURN(State s, LoadState(dir));
  {
    absl::MutexLock l(&store->mu_);
    store->state_ = std::make_unique<State>(std::move(s));
  }
  ASR_RETURN_IF_ERROR(store->Recover());
  return store;
}

absl::Status ReplicaStore::Recover() {
  FileLock apply;
  ASR_RETURN_IF_ERROR(apply.Lock(JoinPath(dir_, "apply.lock"), LOCK_EX));
  absl::MutexLock l(&mu_);
  if (state_->applying) {
    hello_.virtual_size = state_->virtual_size;
    hello_.block_size = state_->block_size;
    hello_.replication_id = state_->replication_id;
    hello_.source_disk_id = state_->source_disk_id;
    ASR_RETURN_IF_ERROR(FinishApply(nullptr));
  }
  // Whatever the committed state does not reference is debris of an
  // interrupted cycle.
  std::set<std::string> keep;
  for (const RecoveryPoint& p : state_->points) {
    if (!p.delta_file.empty()) keep.insert(p.delta_file);
  }
  for (const std::string& n : ListDir(JoinPath(dir_, "journal"))) {
    ::unlink(JoinPath(dir_, JoinPath("journal", n)).c_str());
  }
  for (const std::string& n : ListDir(JoinPath(dir_, "points"))) {
    std::string rel = JoinPath("points", n);
    if (!keep.count(rel)) ::unlink(JoinPath(dir_, rel).c_str());
  }
  for (const std::string& n : ListDir(dir_)) {
    if (n.size() > 4 && n.compare(n.size() - 4, 4, ".tmp") == 0) {
      ::unlink(JoinPath(dir_, n).c_str());
    }
  }
  if (!state_->has_replica) {
    // A first cycle renamed its replica into place but died before the
    // state recorded it: not a point.
    for (disk::DiskFormat f : {disk::DiskFormat::kVhdx, disk::DiskFormat::kVhd}) {
      ::unlink(JoinPath(dir_, ReplicaFileName(f)).c_str());
    }
  }
  return absl::OkStatus();
}

absl::Status ReplicaStore::CompleteInterruptedApply() {
  {
    absl::MutexLock l(&mu_);
    if (!state_->applying) return absl::OkStatus();
  }
  absl::Status s = Recover();
  if (!s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the newest point of the replica in ", dir_,
        " is committed but could not be written into it: ", s.message(),
        "; fix the cause (e.g. free space) and retry: the point is applied first"));
  }
  return absl::OkStatus();
}

ReplicaInfo ReplicaStore::info() const {
  absl::MutexLock l(&mu_);
  ReplicaInfo i;
  i.has_replica = state_->has_replica;
  i.replication_id = state_->replication_id;
  i.source_disk_id = state_->source_disk_id;
  i.virtual_size = state_->virtual_size;
  i.block_size = state_->block_size;
  i.current_cycle = state_->current_cycle;
  i.replica_path = JoinPath(dir_, state_->replica_file);
  return i;
}

std::vector<RecoveryPoint> ReplicaStore::points() const {
  absl::MutexLock l(&mu_);
  return state_->points;
}

absl::Status ReplicaStore::CheckHello(const Hello& h) const {
  if (h.block_size < kMinBlockSize || h.block_size > kMaxBlockSize ||
      (h.block_size & (h.block_size - 1)) != 0 || h.virtual_size == 0 ||
      h.replication_id.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "protocol violation: HELLO with block size ", h.block_size, ", disk size ",
        h.virtual_size, ", replication id '", h.replication_id, "'"));
  }
  absl::MutexLock l(&mu_);
  if (!state_->has_replica) return absl::OkStatus();
  if (h.replication_id != state_->replication_id) {
    return absl::FailedPreconditionError(absl::StrCat(
        "this replica directory holds replication ", state_->replication_id,
        ", not ", h.replication_id, "; give each disk its own replica directory"));
  }
  if (h.virtual_size != state_->virtual_size || h.block_size != state_->block_size) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the replica is ", state_->virtual_size, " bytes in ", state_->block_size,
        "-byte blocks; the sender has ", h.virtual_size, " in ", h.block_size));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<CycleWriter>> ReplicaStore::BeginCycle(const Hello& hello,
                                                                     const CycleStart& start) {
  ASR_RETURN_IF_ERROR(CheckHello(hello));
  absl::MutexLock l(&mu_);
  if (state_->applying) {
    return absl::FailedPreconditionError(
        "an earlier cycle failed while being applied; it is retried when the next sender "
        "connects, or when the receiver restarts");
  }
  if (!state_->has_replica) {
    if (!start.full()) {
      return absl::FailedPreconditionError(
          "the replica has no point yet: the first cycle must be an initial replication");
    }
  } else {
    if (!start.full() && start.base_cycle != state_->current_cycle) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cycle ", start.cycle, " is a delta over point ", start.base_cycle,
          " but the replica is at point ", state_->current_cycle));
    }
  }
  if (start.cycle <= state_->current_cycle) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cycle ", start.cycle, " is not newer than the replica's point ",
        state_->current_cycle));
  }
  hello_ = hello;
  std::unique_ptr<CycleWriter> w(new CycleWriter(this, start));
  w->block_size_ = hello.block_size;
  w->by_crc_ = std::min(kProtocolVersion, hello.max_version) >= kDigestByCrcVersion;
  w->virtual_size_ = hello.virtual_size;
  if (!state_->has_replica) {
    // The first point: straight into a new replica file (see the diagram).
    w->direct_ = true;
    w->direct_file_ = ReplicaFileName(options_.format);
    w->direct_tmp_ = JoinPath(dir_, absl::StrCat(w->direct_file_, ".tmp"));
    disk::CreateOptions co;
    co.format = options_.format;
    co.type = disk::DiskType::kDynamic;
    co.virtual_size = hello.virtual_size;
    co.block_size = options_.format == disk::DiskFormat::kVhdx ? options_.disk_block_size : 0;
    co.overwrite = true;
    ASR_ASSIGN_OR_RETURN(w->direct_disk_, disk::CreateDisk(w->direct_tmp_, co));
    // The new replica's data is written once and read back only at restore
    // or failover: past the page cache (no copy into it, no writeback of it
    // competing with the sender for the CPU) where the file system allows.
    (void)w->direct_disk_->EnableDirectWrites();
    w->writeback_fd_ = ::open(w->direct_tmp_.c_str(), O_RDONLY | O_CLOEXEC);
    w->writer_ = std::make_unique<DirectWriter>(w->direct_disk_.get(), this, w->writeback_fd_);
    return w;
  }
  w->journal_path_ = JoinPath(dir_, absl::StrCat("journal/cycle-", start.cycle, ".blog"));
  ASR_RETURN_IF_ERROR(
      w->journal_.Create(w->journal_path_, start.cycle, hello.block_size, hello.virtual_size));
  return w;
}

absl::Status ReplicaStore::CommitFirstPoint(const CycleStart& start,
                                            const std::string& replica_file) {
  FileLock apply;
  ASR_RETURN_IF_ERROR(apply.Lock(JoinPath(dir_, "apply.lock"), LOCK_EX));
  absl::MutexLock l(&mu_);
  const Clock& clock = options_.clock ? *options_.clock : Clock::Real();
  State next = *state_;
  next.has_replica = true;
  next.replication_id = hello_.replication_id;
  next.source_disk_id = hello_.source_disk_id;
  next.virtual_size = hello_.virtual_size;
  next.block_size = hello_.block_size;
  next.replica_file = replica_file;
  next.current_cycle = start.cycle;
  next.additional_points = options_.additional_points;
  next.interval_s = absl::ToInt64Seconds(options_.point_interval);
  next.retention_s = absl::ToInt64Seconds(options_.retention);
  RecoveryPoint p;
  p.id = start.cycle;
  p.time = clock.Now();
  p.source_time = absl::FromUnixMicros(start.source_time_us);
  p.app_consistent = start.app_consistent();
  p.mode = start.mode;
  p.latest = true;
  next.points.assign(1, p);
  ASR_RETURN_IF_ERROR(SaveState(dir_, next));
  *state_ = next;
  Hook("committed");
  return absl::OkStatus();
}

absl::Status ReplicaStore::MarkApplying(const std::string& journal, const CycleStart& start,
                                        int* apply_lock_fd) {
  FileLock apply;
  ASR_RETURN_IF_ERROR(apply.Lock(JoinPath(dir_, "apply.lock"), LOCK_EX));
  absl::MutexLock l(&mu_);
  const Clock& clock = options_.clock ? *options_.clock : Clock::Real();
  State& s = *state_;
  // Capture the undo (the current point's contents where this cycle writes)
  // while the replica still is that point.
  std::string undo_rel;
  if (s.has_replica && options_.additional_points > 0) {
    ASR_ASSIGN_OR_RETURN(std::unique_ptr<BlockLogReader> log, BlockLogReader::Open(journal));
    undo_rel = absl::StrCat("points/point-", s.current_cycle, "-", ++s.generation, ".blog");
    ASR_ASSIGN_OR_RETURN(auto replica, disk::OpenDisk(JoinPath(dir_, s.replica_file),
                                                      disk::OpenMode::kReadOnly));
    BlockLogWriter undo;
    ASR_RETURN_IF_ERROR(
        undo.Create(JoinPath(dir_, undo_rel), s.current_cycle, s.block_size, s.virtual_size));
    BlockCompressor compressor(1);
    EncodedBlock enc;
    std::string old;
    std::set<uint64_t> seen;
    auto capture = [&](uint64_t off) -> absl::Status {
      if (!seen.insert(off).second) return absl::OkStatus();
      uint32_t len = BlockLen(off, s.block_size, s.virtual_size);
      old.resize(len);
      ASR_RETURN_IF_ERROR(
          replica->ReadAt(off, absl::MakeSpan(reinterpret_cast<uint8_t*>(old.data()), len)));
      const uint8_t* p = reinterpret_cast<const uint8_t*>(old.data());
      if (IsAllZero(p, len)) return undo.AppendZero(off, len);
      compressor.Encode(p, len, &enc);
      return undo.AppendBlock(off, len, static_cast<uint8_t>(enc.codec), Crc32c(p, len),
                              enc.payload);
    };
    ASR_RETURN_IF_ERROR(ForEachJournalEntry(
        *log, [&](uint64_t off, const uint8_t*, uint64_t) { return capture(off); },
        [&](uint64_t off, uint64_t len) {
          // Only blocks the replica holds can change when zeroed.
          return ForPresent(*replica, off, len, [&](uint64_t o, uint64_t n) -> absl::Status {
            uint64_t first = o / s.block_size, last = (o + n - 1) / s.block_size;
            for (uint64_t b = first; b <= last; ++b) {
              ASR_RETURN_IF_ERROR(capture(b * s.block_size));
            }
            return absl::OkStatus();
          });
        }));
    ASR_RETURN_IF_ERROR(undo.Seal(kZeroDigest));
    ASR_RETURN_IF_ERROR(replica->Close());
    Hook("undo");
  }
  // The commit point: from here on, recovery rolls forward.
  s.applying = true;
  s.apply_start = start;
  s.apply_journal = journal.substr(dir_.size() + 1);
  s.apply_undo = undo_rel;
  s.apply_time_us = absl::ToUnixMicros(clock.Now());
  if (!s.has_replica) {
    s.replication_id = hello_.replication_id;
    s.source_disk_id = hello_.source_disk_id;
    s.virtual_size = hello_.virtual_size;
    s.block_size = hello_.block_size;
    s.replica_file = ReplicaFileName(options_.format);
  }
  s.additional_points = options_.additional_points;
  s.interval_s = absl::ToInt64Seconds(options_.point_interval);
  s.retention_s = absl::ToInt64Seconds(options_.retention);
  ASR_RETURN_IF_ERROR(SaveState(dir_, s));
  Hook("applying");
  *apply_lock_fd = apply.Take();
  return absl::OkStatus();
}

absl::Status ReplicaStore::FinishApply(const CycleWriter* kept) {
  State& s = *state_;
  const std::string journal = JoinPath(dir_, s.apply_journal);
  const std::string replica_path = JoinPath(dir_, s.replica_file);
  std::unique_ptr<disk::VirtualDisk> replica;
  const bool fresh = !s.has_replica;
  if (fresh) {
    disk::CreateOptions co;
    co.format = options_.format;
    co.type = disk::DiskType::kDynamic;
    co.virtual_size = s.virtual_size;
    co.block_size = options_.format == disk::DiskFormat::kVhdx ? options_.disk_block_size : 0;
    co.overwrite = true;
    ASR_ASSIGN_OR_RETURN(replica, disk::CreateDisk(replica_path, co));
  } else {
    ASR_ASSIGN_OR_RETURN(replica, disk::OpenDisk(replica_path, disk::OpenMode::kReadWrite));
  }
  // Redo: adjacent blocks are written together.
  std::string batch;
  uint64_t batch_off = 0;
  auto flush_batch = [&]() -> absl::Status {
    if (batch.empty()) return absl::OkStatus();
    ASR_RETURN_IF_ERROR(replica->WriteAt(
        batch_off,
        absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(batch.data()), batch.size())));
    batch.clear();
    Hook("apply-write");
    return absl::OkStatus();
  };
  std::string zeros;
  auto on_block = [&](uint64_t off, const uint8_t* p, uint64_t n) -> absl::Status {
    if (!batch.empty() && (batch_off + batch.size() != off || batch.size() >= kIoChunk)) {
      ASR_RETURN_IF_ERROR(flush_batch());
    }
    if (batch.empty()) batch_off = off;
    batch.append(reinterpret_cast<const char*>(p), n);
    return absl::OkStatus();
  };
  auto on_zero = [&](uint64_t off, uint64_t len) -> absl::Status {
    ASR_RETURN_IF_ERROR(flush_batch());
    if (fresh) return absl::OkStatus();  // a new disk reads as zeros already
    return ForPresent(*replica, off, len, [&](uint64_t o, uint64_t n) -> absl::Status {
      while (n > 0) {
        uint64_t m = std::min<uint64_t>(n, kIoChunk);
        zeros.assign(m, '\0');
        ASR_RETURN_IF_ERROR(replica->WriteAt(
            o, absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(zeros.data()), m)));
        o += m;
        n -= m;
      }
      return absl::OkStatus();
    });
  };
  // The cycle's blocks and zero ranges, in order: decoded in memory, or
  // from the journal.
  if (kept != nullptr) {
    for (const CycleWriter::Kept& k : kept->kept_) {
      if (k.zero) {
        ASR_RETURN_IF_ERROR(on_zero(k.offset, k.length));
      } else {
        ASR_RETURN_IF_ERROR(on_block(
            k.offset, reinterpret_cast<const uint8_t*>(kept->kept_data_.data()) + k.pos,
            k.length));
      }
    }
  } else {
    ASR_ASSIGN_OR_RETURN(std::unique_ptr<BlockLogReader> log, BlockLogReader::Open(journal));
    ASR_RETURN_IF_ERROR(ForEachJournalEntry(*log, on_block, on_zero));
  }
  ASR_RETURN_IF_ERROR(flush_batch());
  ASR_RETURN_IF_ERROR(replica->Close());  // flushes
  Hook("applied");

  // The new list of points.
  State next = s;
  const Clock& clock = options_.clock ? *options_.clock : Clock::Real();
  std::vector<std::string> drop_files;
  if (!next.points.empty()) {
    next.points.back().latest = false;
    next.points.back().delta_file = s.apply_undo;
  }
  RecoveryPoint p;
  p.id = s.apply_start.cycle;
  p.time = absl::FromUnixMicros(s.apply_time_us);
  p.source_time = absl::FromUnixMicros(s.apply_start.source_time_us);
  p.app_consistent = s.apply_start.app_consistent();
  p.mode = s.apply_start.mode;
  p.latest = true;
  next.points.push_back(p);
  std::vector<RecoveryPoint>& pts = next.points;
  auto drop_oldest = [&]() {
    if (!pts.front().delta_file.empty()) drop_files.push_back(pts.front().delta_file);
    pts.erase(pts.begin());
  };
  // Undeltaed older points cannot be restored: drop them.
  while (pts.size() > 1 && pts.front().delta_file.empty()) drop_oldest();
  // Spacing: the point just demoted stays only if far enough from the one before.
  if (pts.size() >= 3) {
    RecoveryPoint& q = pts[pts.size() - 3];
    RecoveryPoint& d = pts[pts.size() - 2];
    if (d.time - q.time < options_.point_interval) {
      ASR_ASSIGN_OR_RETURN(auto qr, BlockLogReader::Open(JoinPath(dir_, q.delta_file)));
      ASR_ASSIGN_OR_RETURN(auto dr, BlockLogReader::Open(JoinPath(dir_, d.delta_file)));
      std::string merged = absl::StrCat("points/point-", q.id, "-", ++next.generation, ".blog");
      BlockLogWriter w;
      ASR_RETURN_IF_ERROR(w.Create(JoinPath(dir_, merged), q.id, s.block_size, s.virtual_size));
      std::set<uint64_t> have;
      for (const BlockLogRecord& r : qr->records()) {
        have.insert(r.offset);
        ASR_RETURN_IF_ERROR(CopyRecord(*qr, r, w));
      }
      for (const BlockLogRecord& r : dr->records()) {
        if (!have.count(r.offset)) ASR_RETURN_IF_ERROR(CopyRecord(*dr, r, w));
      }
      ASR_RETURN_IF_ERROR(w.Seal(kZeroDigest));
      drop_files.push_back(q.delta_file);
      drop_files.push_back(d.delta_file);
      q.delta_file = merged;
      pts.erase(pts.end() - 2);
    }
  }
  // Retention age and count, oldest first.
  const absl::Time now = clock.Now();
  while (pts.size() > 1 && now - pts.front().time > options_.retention) drop_oldest();
  while (pts.size() > 1 + static_cast<size_t>(options_.additional_points)) drop_oldest();

  next.applying = false;
  next.has_replica = true;
  next.current_cycle = s.apply_start.cycle;
  next.apply_journal.clear();
  next.apply_undo.clear();
  ASR_RETURN_IF_ERROR(SaveState(dir_, next));
  *state_ = next;
  Hook("committed");
  ::unlink(journal.c_str());
  for (const std::string& f : drop_files) ::unlink(JoinPath(dir_, f).c_str());
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> ReplicaStore::CheckVerifyRequest(const VerifyRequest& r) const {
  absl::MutexLock l(&mu_);
  if (!state_->has_replica) {
    return absl::FailedPreconditionError(
        absl::StrCat("the replica in ", dir_, " has no recovery point yet; nothing to verify"));
  }
  if (state_->applying) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the newest point of the replica in ", dir_,
        " is not completely applied yet; verify after the next cycle"));
  }
  const uint64_t total = (state_->virtual_size + state_->block_size - 1) / state_->block_size;
  if (r.block_size != state_->block_size || r.first_block > total ||
      r.block_count > total - r.first_block) {
    return absl::InvalidArgumentError(absl::StrCat(
        "verification of blocks ", r.first_block, "..+", r.block_count, " of ", r.block_size,
        " bytes does not match the replica: ", total, " blocks of ", state_->block_size,
        " bytes (", state_->virtual_size, " bytes)"));
  }
  return state_->current_cycle;
}

absl::Status ReplicaStore::DigestLatestPoint(const VerifyRequest& request, size_t batch,
                                             const DigestSink& sink) const {
  ASR_RETURN_IF_ERROR(CheckVerifyRequest(request).status());
  std::string replica_file;
  {
    absl::MutexLock l(&mu_);
    replica_file = state_->replica_file;
  }
  // Shared, as a restore: a lister or restorer may read alongside.
  FileLock apply;
  ASR_RETURN_IF_ERROR(apply.Lock(JoinPath(dir_, "apply.lock"), LOCK_SH));
  ASR_ASSIGN_OR_RETURN(auto replica,
                       disk::OpenDisk(JoinPath(dir_, replica_file), disk::OpenMode::kReadOnly));
  return DigestDiskBlocks(*replica, request.hasher, request.block_size, request.first_block,
                          request.block_count, batch, sink, nullptr);
}

// ------------------------------------------------------ listing and restoring

namespace {

// The committed state of `dir` under a shared apply lock, recovering an
// interrupted apply first when no receiver holds the directory.
absl::StatusOr<State> LockedState(const std::string& dir, FileLock& apply) {
  if (!PathExists(JoinPath(dir, kStateFile))) {
    return absl::NotFoundError(absl::StrCat(dir, " is not a replica directory (no ",
                                            kStateFile, ")"));
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    ASR_RETURN_IF_ERROR(apply.Lock(JoinPath(dir, "apply.lock"), LOCK_SH));
    ASR_ASSIGN_OR_RETURN(State s, LoadState(dir));
    if (!s.applying) return s;
    apply.Release();
    // A receiver died while applying; finish its work with its policy.
    ReplicaOptions o;
    o.additional_points = s.additional_points;
    o.point_interval = absl::Seconds(s.interval_s);
    o.retention = absl::Seconds(s.retention_s);
    o.format = s.replica_file == "replica.vhd" ? disk::DiskFormat::kVhd
                                                : disk::DiskFormat::kVhdx;
    absl::StatusOr<std::unique_ptr<ReplicaStore>> store = ReplicaStore::Open(dir, o);
    if (!store.ok() && !absl::IsFailedPrecondition(store.status())) return store.status();
  }
  return absl::UnavailableError(
      absl::StrCat(dir, ": a cycle is being applied; try again in a moment"));
}

}  // namespace

absl::StatusOr<std::vector<RecoveryPoint>> ListRecoveryPoints(const std::string& dir) {
  FileLock apply;
  ASR_ASSIGN_OR_RETURN(State s, LockedState(dir, apply));
  return s.points;
}

absl::StatusOr<ReplicaInfo> ReadReplicaInfo(const std::string& dir) {
  FileLock apply;
  ASR_ASSIGN_OR_RETURN(State s, LockedState(dir, apply));
  ReplicaInfo i;
  i.has_replica = s.has_replica;
  i.replication_id = s.replication_id;
  i.source_disk_id = s.source_disk_id;
  i.virtual_size = s.virtual_size;
  i.block_size = s.block_size;
  i.current_cycle = s.current_cycle;
  i.replica_path = JoinPath(dir, s.replica_file);
  return i;
}

absl::Status RestorePoint(const std::string& dir, uint64_t point_id, const std::string& out_path,
                          const RestoreOptions& options) {
  FileLock apply;
  ASR_ASSIGN_OR_RETURN(State s, LockedState(dir, apply));
  size_t idx = s.points.size();
  for (size_t i = 0; i < s.points.size(); ++i) {
    if (s.points[i].id == point_id) idx = i;
  }
  if (idx == s.points.size()) {
    std::string have;
    for (const RecoveryPoint& p : s.points) absl::StrAppend(&have, have.empty() ? "" : ", ", p.id);
    return absl::NotFoundError(absl::StrCat("recovery point ", point_id, " is not kept in ", dir,
                                            " (kept: ", have.empty() ? "none" : have, ")"));
  }
  const uint32_t bs = s.block_size;
  const uint64_t vs = s.virtual_size;
  // block offset -> (delta index, record); the oldest delta at/after the point wins.
  std::vector<std::unique_ptr<BlockLogReader>> deltas;
  std::map<uint64_t, std::pair<size_t, BlockLogRecord>> overrides;
  for (size_t i = idx; i + 1 < s.points.size(); ++i) {
    ASR_ASSIGN_OR_RETURN(auto r, BlockLogReader::Open(JoinPath(dir, s.points[i].delta_file)));
    for (const BlockLogRecord& rec : r->records()) {
      overrides.emplace(rec.offset, std::make_pair(deltas.size(), rec));
    }
    deltas.push_back(std::move(r));
  }
  ASR_ASSIGN_OR_RETURN(auto replica,
                       disk::OpenDisk(JoinPath(dir, s.replica_file), disk::OpenMode::kReadOnly));
  disk::CreateOptions co;
  co.format = options.format == disk::DiskFormat::kAuto ? FormatForPath(out_path) : options.format;
  co.type = co.format == disk::DiskFormat::kRaw ? disk::DiskType::kFixed : disk::DiskType::kDynamic;
  co.virtual_size = vs;
  co.overwrite = options.overwrite;
  if (!options.overwrite && PathExists(out_path)) {
    return absl::AlreadyExistsError(absl::StrCat(out_path, " exists; choose another output"));
  }
  ASR_ASSIGN_OR_RETURN(auto out, disk::CreateDisk(out_path, co));
  std::string buf;
  auto write_nonzero = [&](uint64_t off, const uint8_t* p, uint64_t n) -> absl::Status {
    if (IsAllZero(p, n)) return absl::OkStatus();
    return out->WriteAt(off, absl::MakeConstSpan(p, n));
  };
  // The replica's data, except where an older point differs.
  ASR_RETURN_IF_ERROR(ForPresent(*replica, 0, vs, [&](uint64_t o, uint64_t n) -> absl::Status {
    uint64_t start = o / bs * bs;
    uint64_t end = std::min<uint64_t>((o + n + bs - 1) / bs * bs, vs);
    for (uint64_t c = start; c < end; c += kIoChunk) {
      uint64_t m = std::min<uint64_t>(kIoChunk, end - c);
      buf.resize(m);
      uint8_t* p = reinterpret_cast<uint8_t*>(buf.data());
      ASR_RETURN_IF_ERROR(replica->ReadAt(c, absl::MakeSpan(p, m)));
      for (uint64_t b = 0; b < m; b += bs) {
        uint64_t len = std::min<uint64_t>(bs, m - b);
        if (overrides.count(c + b)) continue;
        ASR_RETURN_IF_ERROR(write_nonzero(c + b, p + b, len));
      }
    }
    return absl::OkStatus();
  }));
  std::string data;
  for (const auto& [off, ref] : overrides) {
    if (ref.second.type != RecordType::kBlock) continue;  // zero: the new disk reads zeros
    ASR_RETURN_IF_ERROR(deltas[ref.first]->ReadData(ref.second, &data));
    ASR_RETURN_IF_ERROR(
        write_nonzero(off, reinterpret_cast<const uint8_t*>(data.data()), data.size()));
  }
  ASR_RETURN_IF_ERROR(out->Flush());
  return out->Close();
}

model::ReplicaPointList PointsToProto(const std::vector<RecoveryPoint>& points) {
  model::ReplicaPointList list;
  for (const RecoveryPoint& p : points) {
    model::ReplicaPoint* m = list.add_points();
    m->set_id(p.id);
    m->set_time(absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", p.time, absl::UTCTimeZone()));
    m->set_source_time(absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", p.source_time, absl::UTCTimeZone()));
    m->set_consistency(p.app_consistent ? "app" : "crash");
    m->set_latest(p.latest);
    m->set_mode(CycleModeName(p.mode));
  }
  return list;
}

std::string PointsToJson(const std::vector<RecoveryPoint>& points) {
  // A JSON array of the list's messages, each through the one JSON function.
  std::vector<std::string> items;
  const model::ReplicaPointList list = PointsToProto(points);
  for (const model::ReplicaPoint& p : list.points()) {
    items.push_back(model::ToJson(p));
  }
  return absl::StrCat("[", absl::StrJoin(items, ","), "]");
}

}  // namespace asr::replication
