// asr/replication/replica_internal.h (internal to asr/replication): block
// helpers shared by the cycle writer, the replica store and restore.
//
//   ASR_RETURN_IF_ERROR(ForEachJournalEntry(log, on_block, on_zero));
#ifndef ASR_REPLICATION_REPLICA_INTERNAL_H_
#define ASR_REPLICATION_REPLICA_INTERNAL_H_

#include <algorithm>
#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "asr/disk/virtual_disk.h"
#include "asr/replication/block_codec.h"
#include "asr/replication/block_log.h"
#include "asr/replication/protocol.h"

namespace asr::replication {

// The unit of reads and gathered writes.
inline constexpr uint64_t kIoChunk = 1 << 20;

// The length of the block at `offset` (the last one may be short).
inline uint32_t BlockLen(uint64_t offset, uint32_t bs, uint64_t vsize) {
  return static_cast<uint32_t>(std::min<uint64_t>(bs, vsize - offset));
}

// Calls fn(offset, length) for each present extent of `d` in [off, off+len),
// in ascending order; a differencing disk's ranges it does not hold itself
// are its parents' (recursively).
absl::Status ForPresent(disk::VirtualDisk& d, uint64_t off, uint64_t len,
                        const std::function<absl::Status(uint64_t, uint64_t)>& fn);

// Decodes a BLOCK_GROUP payload's data (header `h`) into the h.raw_bytes
// bytes at `out`, verifying its checksum.
absl::Status DecodeGroupData(absl::string_view payload, const BlockGroupHeader& h,
                             BlockDecompressor& dec, uint8_t* out);

// Calls on_block(offset, data, length) and on_zero(offset, length) for the
// records of a cycle journal, in order, groups expanded into their blocks.
absl::Status ForEachJournalEntry(
    const BlockLogReader& log,
    const std::function<absl::Status(uint64_t, const uint8_t*, uint64_t)>& on_block,
    const std::function<absl::Status(uint64_t, uint64_t)>& on_zero);

}  // namespace asr::replication

#endif  // ASR_REPLICATION_REPLICA_INTERNAL_H_
