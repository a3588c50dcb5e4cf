#include "asr/disk/disk_fingerprint.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asr/common/file_util.h"
#include "asr/disk/byte_order.h"
#include "asr/disk/vhdx_format.h"
#include "asr/platform/env.h"
#include "asr/platform/error.h"

namespace asr::disk {
namespace {

std::string TimeText(int64_t ns) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E9SZ", absl::FromUnixNanos(ns), absl::UTCTimeZone());
}

// The VHDX header with the highest sequence number of the two valid ones.
void ReadVhdxHeader(const platform::File& file, DiskFingerprint* fp) {
  uint8_t sig[8];
  absl::StatusOr<size_t> n = platform::ReadFully(file, 0, sig, sizeof(sig));
  if (!n.ok() || *n != sizeof(sig) || std::memcmp(sig, "vhdxfile", 8) != 0) {
    return;
  }
  fp->vhdx = true;
  bool found = false;
  for (uint64_t off : {kVhdxHeader1Offset, kVhdxHeader2Offset}) {
    uint8_t raw[kVhdxHeaderSize];
    absl::StatusOr<size_t> got = platform::ReadFully(file, off, raw, sizeof(raw));
    if (!got.ok() || *got != sizeof(raw)) continue;
    absl::StatusOr<VhdxHeader> h = ParseVhdxHeader(raw);
    if (!h.ok()) continue;
    if (!found || h->sequence_number > fp->header_sequence) {
      fp->header_sequence = h->sequence_number;
      fp->data_write_guid = h->data_write_guid.ToString();
      found = true;
    }
  }
  // No valid header: the file is damaged; the empty GUID differs from any
  // vouched one, so the comparison reports it.
}

}  // namespace

bool DiskFingerprint::operator==(const DiskFingerprint& o) const {
  return verifiable == o.verifiable && device == o.device && inode == o.inode &&
         file_size == o.file_size && mtime_ns == o.mtime_ns && ctime_ns == o.ctime_ns &&
         vhdx == o.vhdx && data_write_guid == o.data_write_guid &&
         header_sequence == o.header_sequence;
}

absl::StatusOr<DiskFingerprint> TakeDiskFingerprint(const std::string& path) {
  // Non-blocking: a FIFO put in the disk's place must not hang the caller.
  platform::OpenOptions o;
  o.non_blocking = true;
  absl::StatusOr<std::unique_ptr<platform::File>> file = platform::Env::Default()->Open(path, o);
  if (!file.ok()) return platform::AddContext(file.status(), absl::StrCat("cannot open ", path));
  DiskFingerprint fp;
  platform::FileInfo st;
  // Settle: the file's change time must lie before the coarse clock's
  // "now", so that any later write (stamped with a coarse "now" at least as
  // late) leaves a different change time. One clock tick is 1-10 ms.
  for (int attempt = 0;; ++attempt) {
    const int64_t now = platform::CoarseRealTimeNanos();
    absl::StatusOr<platform::FileInfo> info = (*file)->Stat();
    if (!info.ok()) return platform::AddContext(info.status(), absl::StrCat("cannot stat ", path));
    st = *info;
    if (st.type != platform::FileType::kRegular || st.ctime_ns < now || attempt >= 100) break;
    absl::SleepFor(absl::Milliseconds(1));
  }
  if (st.type == platform::FileType::kDirectory) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is a directory, not a disk image"));
  }
  fp.verifiable = st.type == platform::FileType::kRegular;
  fp.device = st.device;
  fp.inode = st.inode;
  fp.file_size = st.size;
  fp.mtime_ns = st.mtime_ns;
  fp.ctime_ns = st.ctime_ns;
  // Read after the stat: a write in between changes the change time, which
  // a later comparison sees.
  if (fp.verifiable) ReadVhdxHeader(**file, &fp);
  return fp;
}

// Version 1: u8 version, u8 flags (1 verifiable, 2 vhdx), u64 device,
// inode, file size, mtime, ctime, header sequence, u16 GUID length, GUID.
constexpr uint8_t kFingerprintVersion = 1;
constexpr size_t kFixedSize = 2 + 6 * 8 + 2;

std::string SerializeDiskFingerprint(const DiskFingerprint& fp) {
  std::string out(kFixedSize + fp.data_write_guid.size(), '\0');
  uint8_t* p = reinterpret_cast<uint8_t*>(out.data());
  p[0] = kFingerprintVersion;
  p[1] = (fp.verifiable ? 1 : 0) | (fp.vhdx ? 2 : 0);
  StoreLe64(p + 2, fp.device);
  StoreLe64(p + 10, fp.inode);
  StoreLe64(p + 18, fp.file_size);
  StoreLe64(p + 26, static_cast<uint64_t>(fp.mtime_ns));
  StoreLe64(p + 34, static_cast<uint64_t>(fp.ctime_ns));
  StoreLe64(p + 42, fp.header_sequence);
  StoreLe16(p + 50, static_cast<uint16_t>(fp.data_write_guid.size()));
  std::memcpy(p + kFixedSize, fp.data_write_guid.data(), fp.data_write_guid.size());
  return out;
}

absl::StatusOr<DiskFingerprint> ParseDiskFingerprint(absl::string_view bytes) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(bytes.data());
  if (bytes.size() < kFixedSize || p[0] != kFingerprintVersion ||
      bytes.size() != kFixedSize + LoadLe16(p + 50)) {
    return absl::InvalidArgumentError("not a disk fingerprint (version 1)");
  }
  DiskFingerprint fp;
  fp.verifiable = (p[1] & 1) != 0;
  fp.vhdx = (p[1] & 2) != 0;
  fp.device = LoadLe64(p + 2);
  fp.inode = LoadLe64(p + 10);
  fp.file_size = LoadLe64(p + 18);
  fp.mtime_ns = static_cast<int64_t>(LoadLe64(p + 26));
  fp.ctime_ns = static_cast<int64_t>(LoadLe64(p + 34));
  fp.header_sequence = LoadLe64(p + 42);
  fp.data_write_guid = std::string(bytes.substr(kFixedSize));
  return fp;
}

std::string DescribeDiskChange(const DiskFingerprint& then, const DiskFingerprint& now,
                               const std::string& path) {
  if (!now.verifiable || !then.verifiable) {
    return absl::StrCat(path,
                        " is not a regular file: writes by other programs cannot be detected");
  }
  if (then.device != now.device || then.inode != now.inode) {
    return absl::StrCat(path, " was replaced by another file (inode ", then.inode, " -> ",
                        now.inode, ")");
  }
  if (now.mtime_ns < then.mtime_ns) {
    return absl::StrCat(path, "'s modification time went back from ", TimeText(then.mtime_ns),
                        " to ", TimeText(now.mtime_ns),
                        ": an older copy of the disk was restored over it");
  }
  if (then.vhdx != now.vhdx) {
    return absl::StrCat(path, " changed format (", then.vhdx ? "was" : "was not", " a VHDX file)");
  }
  if (then.vhdx && then.data_write_guid != now.data_write_guid) {
    return absl::StrCat(path,
                        " was written outside the change tracker (its VHDX DataWriteGuid "
                        "changed from ",
                        then.data_write_guid, " to ",
                        now.data_write_guid.empty() ? "an unreadable header" : now.data_write_guid,
                        ")");
  }
  if (then.file_size != now.file_size) {
    return absl::StrCat(path, now.file_size > then.file_size ? " grew" : " shrank", " from ",
                        then.file_size, " to ", now.file_size, " bytes outside the change tracker");
  }
  if (then.ctime_ns != now.ctime_ns || then.mtime_ns != now.mtime_ns ||
      then.header_sequence != now.header_sequence) {
    return absl::StrCat(path, " was modified outside the change tracker (change time ",
                        TimeText(then.ctime_ns), " -> ", TimeText(now.ctime_ns), ")");
  }
  return "";
}

}  // namespace asr::disk
