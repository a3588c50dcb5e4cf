// The portable parts of asr/platform/file.h.
#include "asr/platform/file.h"

namespace asr::platform {

const char* FileTypeName(FileType type) {
  switch (type) {
    case FileType::kFifo:
      return "a FIFO";
    case FileType::kSocket:
      return "a socket";
    case FileType::kDirectory:
      return "a directory";
    case FileType::kSymbolicLink:
      return "a symbolic link";
    case FileType::kCharacterDevice:
      return "a character device";
    case FileType::kBlockDevice:
      return "a block device";
    case FileType::kRegular:
      return "a regular file";
    case FileType::kOther:
      break;
  }
  return "a special file";
}

absl::StatusOr<size_t> ReadFully(const File& file, uint64_t offset, void* buf, size_t size) {
  char* p = static_cast<char*>(buf);
  size_t done = 0;
  while (done < size) {
    absl::StatusOr<size_t> n = file.ReadAt(offset + done, p + done, size - done);
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    done += *n;
  }
  return done;
}

absl::Status WriteFully(File& file, uint64_t offset, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  size_t done = 0;
  while (done < size) {
    absl::StatusOr<size_t> n = file.WriteAt(offset + done, p + done, size - done);
    if (!n.ok()) return n.status();
    done += *n;
  }
  return absl::OkStatus();
}

absl::Status WriteFully(File& file, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  size_t done = 0;
  while (done < size) {
    absl::StatusOr<size_t> n = file.Write(p + done, size - done);
    if (!n.ok()) return n.status();
    done += *n;
  }
  return absl::OkStatus();
}

}  // namespace asr::platform
