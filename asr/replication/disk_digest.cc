#include "asr/replication/disk_digest.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asr/common/status_macros.h"

namespace asr::replication {

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
  std::unique_ptr<uint8_t[]> buf(new uint8_t[per_chunk * block_size]);
  std::vector<Digest> out;
  out.reserve(std::min<uint64_t>(batch, block_count));
  uint64_t out_first = first_block;
  const bool has_parent = disk.parent() != nullptr;
  for (uint64_t b = first_block; b < first_block + block_count;) {
    const uint64_t n = std::min<uint64_t>(per_chunk, first_block + block_count - b);
    const uint64_t off = b * block_size;
    const uint64_t len = std::min<uint64_t>(n * block_size, vsize - off);
    ASR_ASSIGN_OR_RETURN(std::vector<disk::Extent> map, disk.GetAllocationMap(off, len));
    bool read = false;
    for (const disk::Extent& e : map) {
      if (e.state == disk::ExtentState::kPresent ||
          (e.state == disk::ExtentState::kAbsent && has_parent)) {
        read = true;
      }
    }
    if (read) {
      ASR_RETURN_IF_ERROR(disk.ReadAt(off, absl::MakeSpan(buf.get(), len)));
      if (bytes_read != nullptr) *bytes_read += len;
    }
    for (uint64_t i = 0; i < n; ++i) {
      const uint64_t pos = i * block_size;
      const size_t blen = static_cast<size_t>(std::min<uint64_t>(block_size, len - pos));
      out.push_back(read ? hasher(buf.get() + pos, blen) : kZeroDigest);
      if (out.size() == batch) {
        ASR_RETURN_IF_ERROR(sink(out_first, absl::MakeConstSpan(out)));
        out_first += out.size();
        out.clear();
      }
    }
    b += n;
  }
  if (!out.empty()) ASR_RETURN_IF_ERROR(sink(out_first, absl::MakeConstSpan(out)));
  return absl::OkStatus();
}

}  // namespace asr::replication
