// asr/disk/disk_internal.h: helpers shared by the format implementations
// (not part of the public interface): chain-aware opening, path arithmetic
// for parent locators, and small buffer utilities.
//
//   ASR_ASSIGN_OR_RETURN(auto parent,
//                        internal::OpenParentAtDepth(p, child, opts, depth + 1));
#ifndef ASR_DISK_DISK_INTERNAL_H_
#define ASR_DISK_DISK_INTERNAL_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asr/disk/virtual_disk.h"

namespace asr::disk::internal {

// OpenDisk for a parent at chain depth `depth` (the child is depth-1);
// FailedPrecondition once depth exceeds options.max_chain_depth.
absl::StatusOr<std::unique_ptr<VirtualDisk>> OpenDiskAtDepth(const std::string& path, OpenMode mode,
                                                             const OpenOptions& options, int depth);
// Opens `path`, the parent of differencing disk `child` found through its
// locator, read-only at chain depth `depth`: a regular file only, never
// through a symbolic link, never blocking (see DiskFile::OpenParent).
absl::StatusOr<std::unique_ptr<VirtualDisk>> OpenParentAtDepth(const std::string& path,
                                                               const std::string& child,
                                                               const OpenOptions& options,
                                                               int depth);

// Absolute, lexically normalized form of `path` (relative to the cwd).
std::string AbsolutePath(const std::string& path);
// `target` relative to directory `from_dir` (both made absolute), '/'-separated.
std::string RelativePath(const std::string& from_dir, const std::string& target);
// Turns a stored Windows-style path into a local one: strips "\\?\", maps
// '\' to '/'. Returns "" for drive-letter or UNC paths that cannot exist here.
std::string LocalizeStoredPath(const std::string& stored);
std::string BaseName(const std::string& path);

bool IsAllZero(const uint8_t* p, size_t n);

inline uint64_t RoundUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }
inline uint64_t DivRoundUp(uint64_t v, uint64_t a) { return (v + a - 1) / a; }

}  // namespace asr::disk::internal

#endif  // ASR_DISK_DISK_INTERNAL_H_
