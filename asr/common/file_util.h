// asr/common/file_util.h: small file helpers that report absl::Status with
// the path and the system's reason. They reach the operating system through
// asr/platform (Env::Default()).
//
//   ASR_RETURN_IF_ERROR(asr::WriteFileAtomically(dir + "/snapshot", bytes));
//   ASR_ASSIGN_OR_RETURN(std::string data, asr::ReadFileToString(path));
#ifndef ASR_COMMON_FILE_UTIL_H_
#define ASR_COMMON_FILE_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asr/platform/file.h"

namespace asr {

// Maps an errno value to a Status whose message is "<context>: <strerror>".
absl::Status ErrnoToStatus(int err, absl::string_view context);

// Reads a whole file.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// Writes `data` to `path` through a temporary file in the same directory:
// write, fsync, rename over `path`, fsync the directory. After a crash the
// file holds either the old or the new contents, never a mix. The temporary
// file is always created afresh (O_EXCL | O_NOFOLLOW: never through a link or
// a file planted at its name) with `mode` less the umask, so a secret written
// with kSecretFileMode is never readable by others, not even for a moment.
inline constexpr platform::FileMode kSecretFileMode = 0600;
absl::Status WriteFileAtomically(const std::string& path, absl::string_view data,
                                 platform::FileMode mode = 0644);

// `fd` below is a descriptor (platform::File::native_handle()).

// Writes all of `data` to `fd` at its current position, retrying short writes.
absl::Status WriteAll(int fd, absl::string_view data, absl::string_view what);

// Reads exactly `size` bytes at `offset`; fewer bytes is an OutOfRange error.
absl::Status PreadAll(int fd, void* buf, size_t size, uint64_t offset, absl::string_view what);

// Writes all of `data` at `offset`.
absl::Status PwriteAll(int fd, const void* data, size_t size, uint64_t offset,
                       absl::string_view what);

// fsyncs the directory `dir` so that renames and creations in it are durable.
absl::Status FsyncDirectory(const std::string& dir);

// Creates `dir` (and its parents) if missing. `dir` itself is created with
// `mode` (less the umask), the parents it creates with 0755.
absl::Status MakeDirectories(const std::string& dir, platform::FileMode mode = 0755);

bool PathExists(const std::string& path);

// Deletes `path` and, for a directory, everything under it (symbolic links
// are removed, not followed). OK when it does not exist.
absl::Status RemoveTree(const std::string& path);

// Joins two path parts with exactly one '/'.
std::string JoinPath(absl::string_view a, absl::string_view b);

// The directory part of `path` ("." when there is none).
std::string DirName(absl::string_view path);

}  // namespace asr

#endif  // ASR_COMMON_FILE_UTIL_H_
