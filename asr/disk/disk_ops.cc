#include "asr/disk/disk_ops.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <thread>  // NOLINT(build/c++11): one writer thread per copy
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/disk/disk_file.h"
#include "asr/disk/disk_internal.h"
#include "asr/disk/vhd_format.h"
#include "asr/disk/vhdx_format.h"
#include "asr/platform/env.h"
#include "asr/platform/error.h"

namespace asr::disk {
namespace {

void Append(std::vector<Extent>* out, uint64_t offset, uint64_t length, ExtentState state) {
  if (length == 0) return;
  if (!out->empty() && out->back().state == state &&
      out->back().offset + out->back().length == offset) {
    out->back().length += length;
    return;
  }
  out->push_back({offset, length, state});
}

// Ranges where `map` says some layer holds data.
std::vector<std::pair<uint64_t, uint64_t>> DataRanges(const std::vector<Extent>& map) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (const Extent& e : map) {
    if (e.state == ExtentState::kPresent) out.push_back({e.offset, e.offset + e.length});
  }
  return out;
}

// Receives the copied content in ascending offset order, from one thread.
class CopySink {
 public:
  virtual ~CopySink() = default;
  virtual absl::Status Data(uint64_t offset, const uint8_t* data, size_t length) = 0;
  // [offset, offset+length) reads as zeros in the source.
  virtual absl::Status Zeros(uint64_t offset, uint64_t length) = 0;
};

// A freshly created VirtualDisk: reads zeros wherever nothing was written.
class DiskSink : public CopySink {
 public:
  explicit DiskSink(VirtualDisk& dst) : dst_(dst) {}
  absl::Status Data(uint64_t offset, const uint8_t* data, size_t length) override {
    return dst_.WriteAt(offset, absl::MakeConstSpan(data, length));
  }
  absl::Status Zeros(uint64_t, uint64_t) override { return absl::OkStatus(); }

 private:
  VirtualDisk& dst_;
};

// A raw output file; zeros are written only when the target does not
// already read zeros (a block device).
class RawFileSink : public CopySink {
 public:
  RawFileSink(platform::File& file, const std::string& path, bool write_zeros)
      : file_(file), path_(path), write_zeros_(write_zeros) {}
  absl::Status Data(uint64_t offset, const uint8_t* data, size_t length) override {
    return platform::AddContext(platform::WriteFully(file_, offset, data, length),
                                absl::StrCat("cannot write ", path_, ": data"));
  }
  absl::Status Zeros(uint64_t offset, uint64_t length) override {
    if (!write_zeros_) return absl::OkStatus();
    if (zeros_.empty()) zeros_.assign(1u << 20, 0);
    while (length > 0) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(length, zeros_.size()));
      ASR_RETURN_IF_ERROR(Data(offset, zeros_.data(), n));
      offset += n;
      length -= n;
    }
    return absl::OkStatus();
  }

 private:
  platform::File& file_;
  const std::string& path_;
  bool write_zeros_;
  std::vector<uint8_t> zeros_;
};

// Hands `buf` (src's bytes at `offset`) to the sink: runs of all-zero
// `granularity`-aligned pieces as Zeros, the rest as Data, coalesced.
absl::Status Emit(const uint8_t* buf, uint64_t offset, size_t n, size_t granularity, CopySink& sink,
                  CopyStats* stats) {
  size_t i = 0;
  while (i < n) {
    size_t end = std::min(n, i + granularity - static_cast<size_t>((offset + i) % granularity));
    const bool zero = internal::IsAllZero(buf + i, end - i);
    size_t j = end;
    while (j < n) {
      size_t e = std::min(n, j + granularity);
      if (internal::IsAllZero(buf + j, e - j) != zero) break;
      j = e;
    }
    if (zero) {
      ASR_RETURN_IF_ERROR(sink.Zeros(offset + i, j - i));
    } else {
      ASR_RETURN_IF_ERROR(sink.Data(offset + i, buf + i, j - i));
      stats->bytes_written += j - i;
    }
    i = j;
  }
  return absl::OkStatus();
}

// One step of a copy: read [offset, offset+length) from src (data), or a
// range that reads as zeros.
struct CopyItem {
  uint64_t offset;
  uint64_t length;
  bool data;
};

// A copy buffer aligned to a page (2 MiB when it is that large, so it can be
// backed by huge pages). The kernel copies to and from page-aligned buffers
// measurably faster than from malloc's 16-byte-aligned large blocks, and
// huge pages spare the TLB misses of walking megabytes per call.
class AlignedBuffer {
 public:
  explicit AlignedBuffer(size_t size) {
    if (size == 0) return;
    size_t align = size >= (2u << 20) ? (2u << 20) : 4096;
    void* p = platform::AllocateAligned(align, internal::RoundUp(size, align));
    if (p == nullptr) {
      std::fprintf(stderr, "asr: out of memory allocating a %zu-byte copy buffer\n", size);
      std::abort();
    }
    if (align == (2u << 20)) platform::AdviseHugePages(p, internal::RoundUp(size, align));
    data_ = static_cast<uint8_t*>(p);
  }
  ~AlignedBuffer() { platform::FreeAligned(data_); }
  AlignedBuffer(AlignedBuffer&& o) noexcept : data_(o.data_) { o.data_ = nullptr; }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(AlignedBuffer&&) = delete;
  uint8_t* data() { return data_; }

 private:
  uint8_t* data_ = nullptr;
};

// Buffers passed from the reading thread to the writing thread.
class CopyPipe {
 public:
  CopyPipe(int slots, size_t slot_size) {
    for (int i = 0; i < slots; ++i) {
      buffers_.emplace_back(slot_size);
      free_.push_back(i);
    }
  }
  uint8_t* buffer(int slot) { return buffers_[slot].data(); }

  // Reader: a free slot, or -1 once the writer has failed.
  int TakeFree() {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(
        +[](CopyPipe* p)
             ABSL_NO_THREAD_SAFETY_ANALYSIS { return !p->error_.ok() || !p->free_.empty(); },
        this));
    if (!error_.ok()) return -1;
    int s = free_.back();
    free_.pop_back();
    return s;
  }
  // Reader: queue an item (slot -1 for a zero range).
  void Push(int slot, const CopyItem& item) {
    absl::MutexLock l(&mu_);
    filled_.push_back({slot, item});
  }
  // Reader: no more items, or the reader failed with `status`.
  void Finish(absl::Status status) {
    absl::MutexLock l(&mu_);
    if (error_.ok()) error_ = std::move(status);
    done_ = true;
  }
  // Writer: the next item; false when finished or failed.
  bool Next(int* slot, CopyItem* item) {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(
        +[](CopyPipe* p) ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return !p->error_.ok() || p->done_ || !p->filled_.empty();
        },
        this));
    if (!error_.ok() || filled_.empty()) return false;
    *slot = filled_.front().first;
    *item = filled_.front().second;
    filled_.pop_front();
    return true;
  }
  // Writer: the slot is written (or failed with `status`).
  void Release(int slot, absl::Status status) {
    absl::MutexLock l(&mu_);
    if (slot >= 0) free_.push_back(slot);
    if (error_.ok()) error_ = std::move(status);
  }
  absl::Status error() {
    absl::MutexLock l(&mu_);
    return error_;
  }

 private:
  std::vector<AlignedBuffer> buffers_;
  absl::Mutex mu_;
  std::vector<int> free_ ABSL_GUARDED_BY(mu_);
  std::deque<std::pair<int, CopyItem>> filled_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
};

// Copies src's merged content into `sink` in ascending order: present ranges
// are read in buffer_size-aligned pieces, the rest are Zeros.
absl::StatusOr<CopyStats> RunCopy(VirtualDisk& src, CopySink& sink, const CopyOptions& o) {
  if (o.buffer_size == 0 || o.zero_granularity == 0 ||
      (o.zero_granularity & (o.zero_granularity - 1)) != 0) {
    return absl::InvalidArgumentError(
        "copy: buffer size and zero granularity must be > 0, "
        "the granularity a power of two");
  }
  ASR_ASSIGN_OR_RETURN(std::vector<Extent> map, GetChainAllocationMap(src, 0, src.virtual_size()));
  std::vector<CopyItem> items;
  uint64_t data_bytes = 0;
  for (const Extent& e : map) {
    if (e.state != ExtentState::kPresent) {
      items.push_back({e.offset, e.length, false});
      continue;
    }
    data_bytes += e.length;
    for (uint64_t off = e.offset, end = e.offset + e.length; off < end;) {
      // Keep reads aligned to the buffer size so block boundaries line up.
      uint64_t stop = std::min(end, (off / o.buffer_size + 1) * o.buffer_size);
      items.push_back({off, stop - off, true});
      off = stop;
    }
  }
  CopyStats stats;
  if (!o.overlap || data_bytes <= o.buffer_size) {
    AlignedBuffer buf(static_cast<size_t>(std::min<uint64_t>(o.buffer_size, data_bytes)));
    for (const CopyItem& it : items) {
      if (!it.data) {
        ASR_RETURN_IF_ERROR(sink.Zeros(it.offset, it.length));
        continue;
      }
      size_t n = static_cast<size_t>(it.length);
      ASR_RETURN_IF_ERROR(src.ReadAt(it.offset, absl::MakeSpan(buf.data(), n)));
      stats.bytes_read += n;
      ASR_RETURN_IF_ERROR(Emit(buf.data(), it.offset, n, o.zero_granularity, sink, &stats));
    }
    return stats;
  }
  // Two threads: this one reads, `writer` writes. Three buffers keep both busy
  // when one side is briefly slower.
  CopyPipe pipe(3, o.buffer_size);
  uint64_t bytes_written = 0;
  std::thread writer([&pipe, &sink, &o, &bytes_written] {
    CopyStats ws;
    int slot;
    CopyItem it;
    while (pipe.Next(&slot, &it)) {
      absl::Status s = slot < 0 ? sink.Zeros(it.offset, it.length)
                                : Emit(pipe.buffer(slot), it.offset, static_cast<size_t>(it.length),
                                       o.zero_granularity, sink, &ws);
      pipe.Release(slot, std::move(s));
    }
    bytes_written = ws.bytes_written;
  });
  absl::Status read_status;
  for (const CopyItem& it : items) {
    if (!it.data) {
      pipe.Push(-1, it);
      continue;
    }
    int slot = pipe.TakeFree();
    if (slot < 0) break;
    size_t n = static_cast<size_t>(it.length);
    read_status = src.ReadAt(it.offset, absl::MakeSpan(pipe.buffer(slot), n));
    if (!read_status.ok()) break;
    stats.bytes_read += n;
    pipe.Push(slot, it);
  }
  pipe.Finish(read_status);
  writer.join();
  ASR_RETURN_IF_ERROR(pipe.error());
  stats.bytes_written = bytes_written;
  return stats;
}

}  // namespace

absl::StatusOr<std::vector<Extent>> GetChainAllocationMap(VirtualDisk& disk, uint64_t offset,
                                                          uint64_t length) {
  ASR_ASSIGN_OR_RETURN(std::vector<Extent> map, disk.GetAllocationMap(offset, length));
  VirtualDisk* parent = disk.parent();
  if (parent == nullptr) return map;
  std::vector<Extent> out;
  for (const Extent& e : map) {
    if (e.state != ExtentState::kAbsent) {
      Append(&out, e.offset, e.length, e.state);
      continue;
    }
    uint64_t psize = parent->virtual_size();
    uint64_t in_parent = e.offset >= psize ? 0 : std::min(e.length, psize - e.offset);
    if (in_parent > 0) {
      ASR_ASSIGN_OR_RETURN(std::vector<Extent> sub,
                           GetChainAllocationMap(*parent, e.offset, in_parent));
      for (const Extent& s : sub) Append(&out, s.offset, s.length, s.state);
    }
    Append(&out, e.offset + in_parent, e.length - in_parent, ExtentState::kAbsent);
  }
  return out;
}

absl::StatusOr<CopyStats> CopyDisk(VirtualDisk& src, VirtualDisk& dst, const CopyOptions& options) {
  if (dst.virtual_size() < src.virtual_size()) {
    return absl::InvalidArgumentError(absl::StrCat(dst.path(), ": virtual size ",
                                                   dst.virtual_size(), " is smaller than ",
                                                   src.path(), " (", src.virtual_size(), ")"));
  }
  DiskSink sink(dst);
  ASR_ASSIGN_OR_RETURN(CopyStats stats, RunCopy(src, sink, options));
  if (options.flush) ASR_RETURN_IF_ERROR(dst.Flush());
  return stats;
}

absl::StatusOr<CopyStats> CopyDiskToRawFile(VirtualDisk& src, const std::string& path,
                                            const RawFileOptions& file_options,
                                            const CopyOptions& options) {
  platform::Env* env = platform::Env::Default();
  absl::StatusOr<platform::FileInfo> st = env->Stat(path);
  bool block_device = st.ok() && st->type == platform::FileType::kBlockDevice;
  bool char_device = st.ok() && st->type == platform::FileType::kCharacterDevice;
  platform::OpenOptions o;
  o.access = platform::OpenOptions::Access::kWrite;
  if (!block_device && !char_device) {
    o.create = true;
    o.truncate = file_options.overwrite;
    o.exclusive = !file_options.overwrite;
  }
  o.mode = 0644;
  absl::StatusOr<std::unique_ptr<platform::File>> opened = env->Open(path, o);
  if (!opened.ok()) {
    return platform::AddContext(opened.status(), absl::StrCat("cannot create ", path));
  }
  platform::File& file = **opened;
  const uint64_t size = src.virtual_size();
  if (block_device) {
    absl::StatusOr<uint64_t> end = file.SeekToEnd();
    if (!end.ok()) {
      return platform::AddContext(end.status(), absl::StrCat(path, ": cannot get the device size"));
    }
    if (*end < size) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": device size ", *end, " is smaller than ", src.path(), " (", size, ")"));
    }
  } else if (!char_device) {
    // A fresh file of the full size is one hole: it reads zeros everywhere.
    if (absl::Status s = file.Truncate(size); !s.ok()) {
      return platform::AddContext(s, absl::StrCat(path, ": cannot set file size to ", size));
    }
    // Best effort, as for a fixed raw disk: file systems without fallocate
    // still get a correct (sparse) file.
    if (file_options.preallocate && size > 0) (void)file.Allocate(0, size);
  }
  RawFileSink sink(file, path, /*write_zeros=*/block_device);
  ASR_ASSIGN_OR_RETURN(CopyStats stats, RunCopy(src, sink, options));
  if (options.flush && !char_device) {
    if (absl::Status s = file.DataSync(); !s.ok()) {
      return platform::AddContext(s, absl::StrCat(path, ": cannot flush to stable storage"));
    }
    // The file is new: its directory entry must be durable too.
    if (!block_device) ASR_RETURN_IF_ERROR(FsyncDirectory(DirName(path)));
  }
  if (absl::Status s = file.Close(); !s.ok()) {
    return platform::AddContext(s, absl::StrCat("cannot close ", path));
  }
  return stats;
}

absl::StatusOr<CompareResult> CompareDisks(VirtualDisk& a, VirtualDisk& b, size_t buffer_size) {
  CompareResult r;
  uint64_t common = std::min(a.virtual_size(), b.virtual_size());
  r.size_differs = a.virtual_size() != b.virtual_size();
  ASR_ASSIGN_OR_RETURN(std::vector<Extent> ma, GetChainAllocationMap(a, 0, a.virtual_size()));
  ASR_ASSIGN_OR_RETURN(std::vector<Extent> mb, GetChainAllocationMap(b, 0, b.virtual_size()));
  std::vector<std::pair<uint64_t, uint64_t>> ranges = DataRanges(ma);
  for (const auto& rg : DataRanges(mb)) ranges.push_back(rg);
  std::sort(ranges.begin(), ranges.end());
  std::vector<uint8_t> ba(buffer_size), bb(buffer_size);
  uint64_t covered = 0;  // everything below was compared or is zero in both
  for (const auto& [s0, e0] : ranges) {
    uint64_t off = std::max(s0, covered);
    while (off < e0) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(e0 - off, buffer_size));
      bool in_a = off < a.virtual_size(), in_b = off < b.virtual_size();
      size_t na = in_a ? static_cast<size_t>(std::min<uint64_t>(n, a.virtual_size() - off)) : 0;
      size_t nb = in_b ? static_cast<size_t>(std::min<uint64_t>(n, b.virtual_size() - off)) : 0;
      std::memset(ba.data(), 0, n);
      std::memset(bb.data(), 0, n);
      if (na) ASR_RETURN_IF_ERROR(a.ReadAt(off, absl::MakeSpan(ba.data(), na)));
      if (nb) ASR_RETURN_IF_ERROR(b.ReadAt(off, absl::MakeSpan(bb.data(), nb)));
      if (std::memcmp(ba.data(), bb.data(), n) != 0) {
        size_t i = 0;
        while (ba[i] == bb[i]) ++i;
        r.identical = false;
        r.first_difference = off + i;
        return r;
      }
      off += n;
    }
    covered = std::max(covered, e0);
  }
  (void)common;
  r.identical = true;
  return r;
}

CheckReport CheckDisk(const std::string& path, const OpenOptions& options) {
  CheckReport report;
  auto disk_or = OpenDisk(path, OpenMode::kReadOnly, options);
  if (!disk_or.ok()) {
    report.errors.push_back(std::string(disk_or.status().message()));
    return report;
  }
  VirtualDisk& disk = **disk_or;
  for (VirtualDisk* d = &disk; d != nullptr; d = d->parent()) {
    const DiskInfo& info = d->info();
    std::string who = d == &disk ? "" : absl::StrCat("parent ", info.path, ": ");
    report.notes.push_back(absl::StrCat(who, DiskFormatName(info.format), " ",
                                        DiskTypeName(info.type), ", virtual size ",
                                        info.virtual_size, " bytes, block size ", info.block_size));
    for (const std::string& w : info.warnings) report.warnings.push_back(who + w);
    auto file_or = DiskFile::Open(info.path, false);
    if (!file_or.ok()) continue;
    DiskFile& file = **file_or;
    if (info.format == DiskFormat::kVhdx && file.size() >= kVhdxHeaderSectionSize) {
      std::vector<uint8_t> t1(kVhdxRegionTableSize), t2(kVhdxRegionTableSize);
      if (file.Read(kVhdxRegionTable1Offset, t1.data(), t1.size(), "region table 1").ok() &&
          file.Read(kVhdxRegionTable2Offset, t2.data(), t2.size(), "region table 2").ok() &&
          t1 != t2) {
        report.warnings.push_back(who + "the two region table copies differ");
      }
      uint8_t h[2][kVhdxHeaderSize];
      for (int i = 0; i < 2; ++i) {
        if (file.Read(i == 0 ? kVhdxHeader1Offset : kVhdxHeader2Offset, h[i], kVhdxHeaderSize,
                      "header")
                .ok()) {
          auto parsed = ParseVhdxHeader(h[i]);
          if (parsed.ok() && !parsed->log_guid.IsZero() && !info.log_replayed) {
            report.warnings.push_back(absl::StrCat(who, "header ", i + 1,
                                                   " has a LogGuid set (file not closed cleanly)"));
          }
        }
      }
    }
    if (info.format == DiskFormat::kVhd && info.type != DiskType::kFixed &&
        file.size() >= 2 * kVhdFooterSize) {
      uint8_t f0[kVhdFooterSize], f1[kVhdFooterSize];
      if (file.Read(0, f0, sizeof(f0), "footer copy").ok() &&
          file.Read(file.size() - kVhdFooterSize, f1, sizeof(f1), "footer").ok() &&
          std::memcmp(f0, f1, sizeof(f0)) != 0) {
        report.warnings.push_back(who + "the footer copy at offset 0 differs from the footer");
      }
    }
  }
  // Every allocated byte of the chain must be readable.
  auto map = GetChainAllocationMap(disk, 0, disk.virtual_size());
  if (!map.ok()) {
    report.errors.push_back(std::string(map.status().message()));
    return report;
  }
  uint64_t present = 0;
  std::vector<uint8_t> buf(4u << 20);
  for (const Extent& e : *map) {
    if (e.state != ExtentState::kPresent) continue;
    present += e.length;
    for (uint64_t off = e.offset; off < e.offset + e.length; off += buf.size()) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), e.offset + e.length - off));
      absl::Status s = disk.ReadAt(off, absl::MakeSpan(buf.data(), n));
      if (!s.ok()) {
        report.errors.push_back(std::string(s.message()));
        return report;
      }
    }
  }
  report.notes.push_back(absl::StrCat(present, " bytes of data readable through the chain"));
  return report;
}

}  // namespace asr::disk
