// asr/disk/disk_fingerprint.h: what a disk file looks like from outside, so
// that a change tracker can tell whether anybody it was not told about
// wrote the disk since it last vouched for it.
//
//   ASR_ASSIGN_OR_RETURN(DiskFingerprint then, TakeDiskFingerprint(path));
//   ...  // later, possibly in another process
//   ASR_ASSIGN_OR_RETURN(DiskFingerprint now, TakeDiskFingerprint(path));
//   std::string why = DescribeDiskChange(then, now, path);
//   if (!why.empty()) { /* scan: someone else wrote (why says what changed) */ }
//
// What is compared, and what each catches:
//   - device and inode: the file was replaced (mv, cp --remove-destination,
//     a restore that writes a new file);
//   - modification time going backwards: an older copy was put back with
//     its old times (cp -p, tar, rsync -t, touch -d);
//   - VHDX: the current header's DataWriteGuid, which MS-VHDX requires a
//     writer to change before the first change of user-visible data of
//     every session (qemu, Hyper-V and asr's own writer do): any other
//     writer of the VHDX;
//   - file size: a disk that grew or shrank;
//   - change time (st_ctime, nanoseconds): any write at all, by anybody,
//     including writers that ignore the VHDX rules, and `cp` over the file
//     in place. A process cannot set a file's change time: the kernel sets it
//     to "now" on every write and metadata change, and utimensat() sets it
//     to now too.
//
// What it cannot catch (documented in the README's replication section):
//   - a write in the same clock tick as the fingerprint was taken, on a file
//     system whose timestamps are coarser than the kernel's tick (FAT: 2 s);
//     TakeDiskFingerprint waits until the coarse clock has passed the file's
//     change time, so on ext4, XFS, btrfs and tmpfs any later write gets a
//     later change time;
//   - an administrator who resets the system clock to the past, or edits the
//     inode with a debugger (debugfs);
//   - anything that is not a regular file: block devices do not change their
//     change time on writes, so no fingerprint vouches for them
//     (`verifiable` is false and every comparison reports that).
//
// Thread safety: free functions, no shared state.
#ifndef ASR_DISK_DISK_FINGERPRINT_H_
#define ASR_DISK_DISK_FINGERPRINT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace asr::disk {

struct DiskFingerprint {
  bool verifiable = false;  // a regular file (see above)
  uint64_t device = 0;
  uint64_t inode = 0;
  uint64_t file_size = 0;
  int64_t mtime_ns = 0;  // since the Unix epoch
  int64_t ctime_ns = 0;
  bool vhdx = false;
  std::string data_write_guid;   // VHDX: the current header's, "{...}"
  uint64_t header_sequence = 0;  // VHDX: the current header's sequence number

  bool operator==(const DiskFingerprint& o) const;
  bool operator!=(const DiskFingerprint& o) const { return !(*this == o); }
};

// Takes the fingerprint of the file at `path`, never blocking on a FIFO or
// a device. Waits (a few milliseconds at most) until the file's change time
// lies in the past of the coarse clock, so that a write after this call
// changes it. NotFound when the file is missing; InvalidArgument for a
// directory; a non-regular file gives a fingerprint with verifiable=false.
absl::StatusOr<DiskFingerprint> TakeDiskFingerprint(const std::string& path);

// A fingerprint as bytes (for the files that keep one) and back;
// InvalidArgument for bytes that are not one.
std::string SerializeDiskFingerprint(const DiskFingerprint& fp);
absl::StatusOr<DiskFingerprint> ParseDiskFingerprint(absl::string_view bytes);

// Why `now` is not the disk that `then` described, as a sentence that
// names `path` and what changed ("" when nothing did). The first of:
// replaced, restored (older modification time), written through another
// VHDX session, resized, modified.
std::string DescribeDiskChange(const DiskFingerprint& then, const DiskFingerprint& now,
                               const std::string& path);

}  // namespace asr::disk

#endif  // ASR_DISK_DISK_FINGERPRINT_H_
