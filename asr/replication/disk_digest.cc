#include "asr/replication/disk_digest.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "asr/common/status_macros.h"

namespace asr::replication {
namespace {

// Chunks in flight between the reading thread and the digesting one: the
// device keeps reading while a chunk is digested and sent (a cold read of a
// replica then runs at about the device's sequential speed).
constexpr size_t kChunksInFlight = 4;

struct Chunk {
  uint64_t first = 0;  // block
  uint64_t blocks = 0;
  uint64_t length = 0;  // bytes
  bool read = false;    // false: the range reads as zeros (not read)
  std::unique_ptr<uint8_t[]> data;
};

}  // namespace

absl::Status DigestDiskBlocks(disk::VirtualDisk& disk, const BlockHasher& hasher,
                              uint32_t block_size, uint64_t first_block, uint64_t block_count,
                              size_t batch, const DigestSink& sink, uint64_t* bytes_read) {
  if (block_size == 0 || batch == 0) {
    return absl::InvalidArgumentError("digesting a disk needs a block size and a batch size");
  }
  const uint64_t vsize = disk.virtual_size();
  const uint64_t total = (vsize + block_size - 1) / block_size;
  if (first_block > total || block_count > total - first_block) {
    return absl::OutOfRangeError(
        absl::StrCat("blocks ", first_block, "..", first_block + block_count, " pass the end of ",
                     disk.path(), " (", total, " blocks of ", block_size, " bytes)"));
  }
  const uint64_t per_chunk = std::max<uint64_t>(1, (4u << 20) / block_size);
  const uint64_t end = first_block + block_count;
  const bool has_parent = disk.parent() != nullptr;

  // [Reader] maps and reads chunks in order into free buffers.
  absl::Mutex mu;
  absl::CondVar cv;
  std::vector<std::unique_ptr<Chunk>> free_chunks;
  std::deque<std::unique_ptr<Chunk>> full;
  bool reader_done = false;  // guarded by mu
  bool stop = false;         // guarded by mu: the digesting side gave up
  absl::Status read_status;  // guarded by mu
  uint64_t read_bytes = 0;   // the reader's only
  for (size_t i = 0; i < kChunksInFlight && i < (block_count + per_chunk - 1) / per_chunk; ++i) {
    auto c = std::make_unique<Chunk>();
    c->data.reset(new uint8_t[per_chunk * block_size]);
    free_chunks.push_back(std::move(c));
  }
  std::thread reader([&] {
    absl::Status s;
    for (uint64_t b = first_block; b < end && s.ok();) {
      std::unique_ptr<Chunk> c;
      {
        absl::MutexLock l(&mu);
        while (free_chunks.empty() && !stop) cv.Wait(&mu);
        if (stop) break;
        c = std::move(free_chunks.back());
        free_chunks.pop_back();
      }
      c->first = b;
      c->blocks = std::min<uint64_t>(per_chunk, end - b);
      const uint64_t off = b * block_size;
      c->length = std::min<uint64_t>(c->blocks * block_size, vsize - off);
      s = [&]() -> absl::Status {
        ASR_ASSIGN_OR_RETURN(std::vector<disk::Extent> map, disk.GetAllocationMap(off, c->length));
        c->read = false;
        for (const disk::Extent& e : map) {
          if (e.state == disk::ExtentState::kPresent ||
              (e.state == disk::ExtentState::kAbsent && has_parent)) {
            c->read = true;
          }
        }
        if (c->read) {
          ASR_RETURN_IF_ERROR(disk.ReadAt(off, absl::MakeSpan(c->data.get(), c->length)));
          read_bytes += c->length;
        }
        return absl::OkStatus();
      }();
      b += c->blocks;
      if (s.ok()) {
        absl::MutexLock l(&mu);
        full.push_back(std::move(c));
        cv.SignalAll();
      }
    }
    absl::MutexLock l(&mu);
    read_status = s;
    reader_done = true;
    cv.SignalAll();
  });

  // [Digest] in block order, `batch` digests at a time into `sink`.
  std::vector<Digest> out;
  out.reserve(std::min<uint64_t>(batch, block_count));
  uint64_t out_first = first_block;
  absl::Status status = [&]() -> absl::Status {
    for (;;) {
      std::unique_ptr<Chunk> c;
      {
        absl::MutexLock l(&mu);
        while (full.empty() && !reader_done) cv.Wait(&mu);
        if (full.empty()) return read_status;  // the reader is done
        c = std::move(full.front());
        full.pop_front();
      }
      for (uint64_t i = 0; i < c->blocks; ++i) {
        const uint64_t pos = i * block_size;
        const size_t blen = static_cast<size_t>(std::min<uint64_t>(block_size, c->length - pos));
        out.push_back(c->read ? hasher(c->data.get() + pos, blen) : kZeroDigest);
        if (out.size() == batch) {
          ASR_RETURN_IF_ERROR(sink(out_first, absl::MakeConstSpan(out)));
          out_first += out.size();
          out.clear();
        }
      }
      absl::MutexLock l(&mu);
      free_chunks.push_back(std::move(c));
      cv.SignalAll();
    }
  }();
  {
    absl::MutexLock l(&mu);
    stop = true;
    cv.SignalAll();
  }
  reader.join();
  if (bytes_read != nullptr) *bytes_read += read_bytes;
  ASR_RETURN_IF_ERROR(status);
  if (!out.empty()) ASR_RETURN_IF_ERROR(sink(out_first, absl::MakeConstSpan(out)));
  return absl::OkStatus();
}

}  // namespace asr::replication
