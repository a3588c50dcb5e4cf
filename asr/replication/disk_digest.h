// asr/replication/disk_digest.h: the manifest digests of a range of a disk's
// replication blocks, read in bounded chunks — what verification compares on
// both sides (the source disk on the primary, the latest point's replica on
// the recovery host).
//
//   uint64_t read = 0;
//   ASR_RETURN_IF_ERROR(DigestDiskBlocks(
//       *disk, manifest.hasher, manifest.block_size, 0, manifest.block_count(), 4096,
//       [&](uint64_t first, absl::Span<const Digest> d) -> absl::Status {
//         for (size_t i = 0; i < d.size(); ++i) { ...compare block first + i... }
//         return absl::OkStatus();
//       },
//       &read));
#ifndef ASR_REPLICATION_DISK_DIGEST_H_
#define ASR_REPLICATION_DISK_DIGEST_H_

#include <cstddef>
#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "asr/disk/virtual_disk.h"
#include "asr/replication/digest.h"

namespace asr::replication {

// Called with the digests of blocks first, first + 1, ... (in block order).
using DigestSink = std::function<absl::Status(uint64_t first, absl::Span<const Digest>)>;

// Digests blocks [first_block, first_block + block_count) of `disk` (each
// `block_size` bytes, the disk's last block possibly shorter) with `hasher`
// and hands them to `sink` at most `batch` at a time. A chunk the disk's own
// allocation map shows to read as zeros (zero extents, or unallocated without
// a parent) gets kZeroDigest without being read. A second thread reads the
// chunks in order, up to 4 ahead, while this one digests and hands them to
// `sink` (a cold disk keeps reading meanwhile). Memory: 4 chunks of
// max(4 MiB, block_size) and `batch` digests. `disk` is read only on that
// thread while the call runs. Adds the bytes read to
// *bytes_read (may be null). OutOfRange when the range passes the disk's end.
absl::Status DigestDiskBlocks(disk::VirtualDisk& disk, const BlockHasher& hasher,
                              uint32_t block_size, uint64_t first_block, uint64_t block_count,
                              size_t batch, const DigestSink& sink, uint64_t* bytes_read);

}  // namespace asr::replication

#endif  // ASR_REPLICATION_DISK_DIGEST_H_
