#include "asr/disk/virtual_disk.h"

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/disk/disk_file.h"
#include "asr/disk/disk_internal.h"
#include "asr/disk/raw_disk.h"
#include "asr/disk/vhd_disk.h"
#include "asr/disk/vhdx_disk.h"
#include "asr/platform/env.h"

namespace asr::disk {

const char* DiskFormatName(DiskFormat f) {
  switch (f) {
    case DiskFormat::kAuto:
      return "auto";
    case DiskFormat::kRaw:
      return "raw";
    case DiskFormat::kVhd:
      return "vhd";
    case DiskFormat::kVhdx:
      return "vhdx";
  }
  return "?";
}

const char* DiskTypeName(DiskType t) {
  switch (t) {
    case DiskType::kFixed:
      return "fixed";
    case DiskType::kDynamic:
      return "dynamic";
    case DiskType::kDifferencing:
      return "differencing";
  }
  return "?";
}

const char* ExtentStateName(ExtentState s) {
  switch (s) {
    case ExtentState::kPresent:
      return "present";
    case ExtentState::kZero:
      return "zero";
    case ExtentState::kAbsent:
      return "absent";
  }
  return "?";
}

absl::StatusOr<DiskFormat> ParseDiskFormat(const std::string& name) {
  if (name == "vhd" || name == "vpc") return DiskFormat::kVhd;
  if (name == "vhdx") return DiskFormat::kVhdx;
  if (name == "raw") return DiskFormat::kRaw;
  if (name == "auto") return DiskFormat::kAuto;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown disk format '", name, "' (expected vhd, vhdx or raw)"));
}

absl::StatusOr<DiskType> ParseDiskType(const std::string& name) {
  if (name == "fixed") return DiskType::kFixed;
  if (name == "dynamic") return DiskType::kDynamic;
  if (name == "differencing") return DiskType::kDifferencing;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown disk type '", name, "' (expected fixed, dynamic or differencing)"));
}

VirtualDisk::~VirtualDisk() = default;

absl::Status VirtualDisk::ReadAt(uint64_t offset, absl::Span<uint8_t> out) {
  absl::MutexLock lock(&mu_);
  if (closed_) return absl::FailedPreconditionError(absl::StrCat(info_.path, ": disk is closed"));
  if (offset > info_.virtual_size || out.size() > info_.virtual_size - offset) {
    return absl::OutOfRangeError(absl::StrCat(info_.path, ": read of ", out.size(),
                                              " bytes at offset ", offset,
                                              " goes past the virtual size ", info_.virtual_size));
  }
  if (out.empty()) return absl::OkStatus();
  return DoRead(offset, out.data(), out.size());
}

absl::Status VirtualDisk::WriteAt(uint64_t offset, absl::Span<const uint8_t> data) {
  absl::MutexLock lock(&mu_);
  if (closed_) return absl::FailedPreconditionError(absl::StrCat(info_.path, ": disk is closed"));
  if (read_only_) {
    return absl::FailedPreconditionError(absl::StrCat(info_.path, ": disk is open read-only"));
  }
  if (offset > info_.virtual_size || data.size() > info_.virtual_size - offset) {
    return absl::OutOfRangeError(absl::StrCat(info_.path, ": write of ", data.size(),
                                              " bytes at offset ", offset,
                                              " goes past the virtual size ", info_.virtual_size));
  }
  if (data.empty()) return absl::OkStatus();
  const uint64_t a = write_alignment();
  if (a <= 1 || (offset % a == 0 && data.size() % a == 0)) {
    return DoWrite(offset, data.data(), data.size());
  }
  // Read-modify-write of the partial sectors at either end.
  uint64_t start = offset / a * a;
  uint64_t end = internal::RoundUp(offset + data.size(), a);
  std::vector<uint8_t> buf(end - start);
  ASR_RETURN_IF_ERROR(DoRead(start, buf.data(), a));
  if (end - a > start) ASR_RETURN_IF_ERROR(DoRead(end - a, buf.data() + (end - a - start), a));
  std::memcpy(buf.data() + (offset - start), data.data(), data.size());
  return DoWrite(start, buf.data(), buf.size());
}

absl::StatusOr<std::vector<Extent>> VirtualDisk::GetAllocationMap(uint64_t offset,
                                                                  uint64_t length) {
  absl::MutexLock lock(&mu_);
  if (closed_) return absl::FailedPreconditionError(absl::StrCat(info_.path, ": disk is closed"));
  if (offset > info_.virtual_size || length > info_.virtual_size - offset) {
    return absl::OutOfRangeError(absl::StrCat(info_.path, ": map range ", offset, "+", length,
                                              " goes past the virtual size ", info_.virtual_size));
  }
  std::vector<Extent> out;
  if (length == 0) return out;
  ASR_RETURN_IF_ERROR(DoAllocationMap(offset, length, &out));
  return out;
}

absl::Status VirtualDisk::Flush() {
  absl::MutexLock lock(&mu_);
  if (closed_) return absl::FailedPreconditionError(absl::StrCat(info_.path, ": disk is closed"));
  return DoFlush();
}

absl::Status VirtualDisk::Close() {
  absl::MutexLock lock(&mu_);
  if (closed_) return absl::OkStatus();
  closed_ = true;
  return DoClose();
}

bool VirtualDisk::EnableDirectWrites() {
  absl::MutexLock lock(&mu_);
  if (closed_ || read_only_) return false;
  return DoEnableDirectWrites();
}

absl::Status VirtualDisk::ReadParent(uint64_t offset, uint8_t* out, size_t length) {
  if (parent_ == nullptr) {
    std::memset(out, 0, length);
    return absl::OkStatus();
  }
  uint64_t psize = parent_->virtual_size();
  size_t from_parent =
      offset >= psize ? 0 : static_cast<size_t>(std::min<uint64_t>(length, psize - offset));
  if (from_parent > 0) {
    ASR_RETURN_IF_ERROR(parent_->ReadAt(offset, absl::MakeSpan(out, from_parent)));
  }
  std::memset(out + from_parent, 0, length - from_parent);
  return absl::OkStatus();
}

void VirtualDisk::AppendExtent(std::vector<Extent>* out, uint64_t offset, uint64_t length,
                               ExtentState state) {
  if (length == 0) return;
  if (!out->empty()) {
    Extent& last = out->back();
    if (last.state == state && last.offset + last.length == offset) {
      last.length += length;
      return;
    }
  }
  out->push_back({offset, length, state});
}

namespace internal {

namespace {

// The format-probing half of OpenDiskAtDepth and OpenParentAtDepth.
absl::StatusOr<std::unique_ptr<VirtualDisk>> OpenDiskFile(std::unique_ptr<DiskFile> file,
                                                          OpenMode mode, const OpenOptions& options,
                                                          int depth) {
  const std::string path = file->path();
  DiskFormat format = options.format;
  if (depth > 0) format = DiskFormat::kAuto;  // parents are always probed
  if (format == DiskFormat::kAuto) {
    uint64_t size = file->size();
    uint8_t head[8] = {0};
    if (size >= 8) ASR_RETURN_IF_ERROR(file->Read(0, head, 8, "signature"));
    uint8_t tail[8] = {0};
    if (size >= 512) ASR_RETURN_IF_ERROR(file->Read(size - 512, tail, 8, "VHD footer"));
    if (size >= 8 && std::memcmp(head, "vhdxfile", 8) == 0) {
      format = DiskFormat::kVhdx;
    } else if ((size >= 512 && std::memcmp(tail, "conectix", 8) == 0) ||
               (size >= 512 && std::memcmp(head, "conectix", 8) == 0)) {
      format = DiskFormat::kVhd;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          path,
          ": not a VHD or VHDX image (no 'vhdxfile' signature at offset 0, no 'conectix' "
          "footer); use format raw to read it as a plain image"));
    }
  }
  OpenOptions child_options = options;
  switch (format) {
    case DiskFormat::kVhdx:
      return VhdxDisk::Open(std::move(file), mode, child_options, depth);
    case DiskFormat::kVhd:
      return VhdDisk::Open(std::move(file), mode, child_options, depth);
    case DiskFormat::kRaw:
      return RawDisk::Open(std::move(file), mode);
    case DiskFormat::kAuto:
      break;
  }
  return absl::InternalError("unreachable");
}

absl::Status CheckDepth(const std::string& path, const OpenOptions& options, int depth) {
  if (depth > options.max_chain_depth) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": differencing chain is deeper than ",
                                                      options.max_chain_depth,
                                                      " levels (or loops back on itself)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<VirtualDisk>> OpenDiskAtDepth(const std::string& path, OpenMode mode,
                                                             const OpenOptions& options,
                                                             int depth) {
  ASR_RETURN_IF_ERROR(CheckDepth(path, options, depth));
  ASR_ASSIGN_OR_RETURN(auto file, DiskFile::Open(path, mode == OpenMode::kReadWrite));
  return OpenDiskFile(std::move(file), mode, options, depth);
}

absl::StatusOr<std::unique_ptr<VirtualDisk>> OpenParentAtDepth(const std::string& path,
                                                               const std::string& child,
                                                               const OpenOptions& options,
                                                               int depth) {
  ASR_RETURN_IF_ERROR(CheckDepth(path, options, depth));
  ASR_ASSIGN_OR_RETURN(auto file, DiskFile::OpenParent(path, child));
  return OpenDiskFile(std::move(file), OpenMode::kReadOnly, options, depth);
}

std::string AbsolutePath(const std::string& path) {
  std::string p = path;
  if (p.empty() || p[0] != '/') {
    absl::StatusOr<std::string> cwd = platform::Env::Default()->CurrentDirectory();
    if (cwd.ok()) p = JoinPath(*cwd, p);
  }
  std::vector<std::string> parts;
  for (absl::string_view part : absl::StrSplit(p, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.emplace_back(part);
  }
  return "/" + absl::StrJoin(parts, "/");
}

std::string RelativePath(const std::string& from_dir, const std::string& target) {
  std::vector<std::string> a = absl::StrSplit(AbsolutePath(from_dir), '/', absl::SkipEmpty());
  std::vector<std::string> b = absl::StrSplit(AbsolutePath(target), '/', absl::SkipEmpty());
  size_t common = 0;
  while (common < a.size() && common + 1 < b.size() && a[common] == b[common]) ++common;
  std::vector<std::string> out;
  for (size_t i = common; i < a.size(); ++i) out.push_back("..");
  for (size_t i = common; i < b.size(); ++i) out.push_back(b[i]);
  return absl::StrJoin(out, "/");
}

std::string LocalizeStoredPath(const std::string& stored) {
  std::string s = stored;
  for (char& c : s) {
    if (c == '\\') c = '/';
  }
  if (s.rfind("//?/", 0) == 0) s = s.substr(4);
  if (s.size() >= 2 && s[1] == ':') return "";                         // drive letter
  if (s.rfind("//", 0) == 0 || s.rfind("Volume{", 0) == 0) return "";  // UNC / volume GUID
  return s;
}

std::string BaseName(const std::string& path) {
  size_t slash = path.find_last_of("/\\");
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool IsAllZero(const uint8_t* p, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    std::memcpy(&v, p + i, 8);
    if (v != 0) return false;
  }
  for (; i < n; ++i) {
    if (p[i] != 0) return false;
  }
  return true;
}

}  // namespace internal

absl::StatusOr<std::unique_ptr<VirtualDisk>> OpenDisk(const std::string& path, OpenMode mode,
                                                      const OpenOptions& options) {
  return internal::OpenDiskAtDepth(path, mode, options, 0);
}

absl::StatusOr<std::unique_ptr<VirtualDisk>> OpenDisk(std::unique_ptr<DiskFile> file, OpenMode mode,
                                                      const OpenOptions& options) {
  if (mode == OpenMode::kReadWrite && !file->writable()) {
    return absl::InvalidArgumentError(
        absl::StrCat(file->path(), ": opened read-only, cannot open the disk for writing"));
  }
  ASR_RETURN_IF_ERROR(internal::CheckDepth(file->path(), options, 0));
  return internal::OpenDiskFile(std::move(file), mode, options, 0);
}

absl::StatusOr<std::unique_ptr<VirtualDisk>> CreateDisk(const std::string& path,
                                                        const CreateOptions& options) {
  std::unique_ptr<VirtualDisk> parent;
  if (options.type == DiskType::kDifferencing) {
    if (options.parent_path.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": a differencing disk needs a parent"));
    }
    ASR_ASSIGN_OR_RETURN(parent, OpenDisk(options.parent_path, OpenMode::kReadOnly));
  } else if (options.virtual_size == 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": virtual size must not be zero"));
  }
  switch (options.format) {
    case DiskFormat::kVhd:
      return VhdDisk::Create(path, options, std::move(parent));
    case DiskFormat::kVhdx:
      return VhdxDisk::Create(path, options, std::move(parent));
    case DiskFormat::kRaw:
      return RawDisk::Create(path, options);
    case DiskFormat::kAuto:
      break;
  }
  return absl::InvalidArgumentError(absl::StrCat(path, ": choose a format to create"));
}

}  // namespace asr::disk
