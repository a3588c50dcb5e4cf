#include "asr/cli/disk_commands.h"

#include <cstdio>
#include <ostream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "asr/disk/disk_ops.h"
#include "asr/disk/virtual_disk.h"
#include "asr/model/cli.pb.h"
#include "asr/model/json.h"

namespace asr::cli {
namespace {

using disk::DiskFormat;
using disk::DiskType;
using disk::OpenMode;
using disk::VirtualDisk;

// Opens `path`, as raw when `format` says so; otherwise by probing.
absl::StatusOr<std::unique_ptr<VirtualDisk>> OpenInput(const std::string& path,
                                                       const std::string& format,
                                                       OpenMode mode = OpenMode::kReadOnly) {
  disk::OpenOptions o;
  if (!format.empty()) {
    auto f = disk::ParseDiskFormat(format);
    if (!f.ok()) return f.status();
    o.format = *f;
  }
  return disk::OpenDisk(path, mode, o);
}

uint64_t AllocatedBytes(VirtualDisk& d) {
  auto map = d.GetAllocationMap(0, d.virtual_size());
  if (!map.ok()) return 0;
  uint64_t n = 0;
  for (const disk::Extent& e : *map) {
    if (e.state == disk::ExtentState::kPresent) n += e.length;
  }
  return n;
}

absl::Status DiskInfoCmd(const CommandContext& ctx, const ParsedArgs& a) {
  auto d = OpenInput(a.positional[0], a.Get("format"));
  if (!d.ok()) return d.status();
  const disk::DiskInfo& i = (*d)->info();
  uint64_t allocated = AllocatedBytes(**d);
  if (ctx.json) {
    model::DiskInfoOutput o;
    o.set_path(i.path);
    o.set_format(disk::DiskFormatName(i.format));
    o.set_type(disk::DiskTypeName(i.type));
    o.set_virtual_size(i.virtual_size);
    o.set_block_size(i.block_size);
    o.set_logical_sector_size(i.logical_sector_size);
    o.set_physical_sector_size(i.physical_sector_size);
    o.set_file_size(i.file_size);
    o.set_allocated_bytes(allocated);
    o.set_disk_id(i.disk_id);
    o.set_parent(i.parent_path);
    o.set_parent_id(i.parent_id);
    o.set_log_replayed(i.log_replayed);
    for (const std::string& w : i.warnings) o.add_warnings(w);
    *ctx.out << model::ToJson(o) << "\n";
    return absl::OkStatus();
  }
  std::ostream& o = *ctx.out;
  o << "file:             " << i.path << "\n"
    << "format:           " << disk::DiskFormatName(i.format) << "\n"
    << "type:             " << disk::DiskTypeName(i.type) << "\n"
    << "virtual size:     " << i.virtual_size << " bytes\n"
    << "block size:       " << i.block_size << "\n"
    << "sector size:      " << i.logical_sector_size << " logical, " << i.physical_sector_size
    << " physical\n"
    << "file size:        " << i.file_size << " bytes\n"
    << "allocated:        " << allocated << " bytes\n";
  if (!i.disk_id.empty()) o << "disk id:          " << i.disk_id << "\n";
  if (!i.parent_path.empty()) {
    o << "parent:           " << i.parent_path << " (" << i.parent_id << ")\n";
  }
  for (const std::string& w : i.warnings) o << "warning:          " << w << "\n";
  return absl::OkStatus();
}

absl::Status DiskCreateCmd(const CommandContext& ctx, const ParsedArgs& a) {
  disk::CreateOptions o;
  const std::string& path = a.positional[0];
  auto fmt = disk::ParseDiskFormat(a.Get("format", "vhdx"));
  if (!fmt.ok() || *fmt == DiskFormat::kAuto) {
    return absl::InvalidArgumentError("--format must be vhd or vhdx");
  }
  auto type = disk::ParseDiskType(a.Get("type", a.Has("parent") ? "differencing" : "dynamic"));
  if (!type.ok()) return type.status();
  o.format = *fmt;
  o.type = *type;
  if (o.type == DiskType::kDifferencing) {
    if (!a.Has("parent")) return absl::InvalidArgumentError("--parent is required");
    o.parent_path = a.Get("parent");
  } else {
    if (!a.Has("size")) return absl::InvalidArgumentError("--size is required");
    auto size = ParseSize(a.Get("size"));
    if (!size.ok()) return size.status();
    o.virtual_size = *size;
  }
  if (a.Has("block-size")) {
    auto bs = ParseSize(a.Get("block-size"));
    if (!bs.ok()) return bs.status();
    if (*bs > (1ull << 30)) return absl::InvalidArgumentError("--block-size too large");
    o.block_size = static_cast<uint32_t>(*bs);
  }
  if (a.Has("logical-sector")) {
    auto l = ParseInt(a.Get("logical-sector"), "--logical-sector", 512, 4096);
    if (!l.ok()) return l.status();
    o.logical_sector_size = static_cast<uint32_t>(*l);
  }
  auto d = disk::CreateDisk(path, o);
  if (!d.ok()) return d.status();
  absl::Status s = (*d)->Close();
  if (!s.ok()) return s;
  *ctx.out << "created " << path << ": " << disk::DiskFormatName(o.format) << " "
           << disk::DiskTypeName(o.type) << ", " << (*d)->virtual_size() << " bytes\n";
  return absl::OkStatus();
}

DiskFormat FormatFromName(const std::string& path) {
  if (absl::EndsWithIgnoreCase(path, ".vhdx")) return DiskFormat::kVhdx;
  if (absl::EndsWithIgnoreCase(path, ".vhd")) return DiskFormat::kVhd;
  return DiskFormat::kRaw;
}

absl::Status DiskConvertCmd(const CommandContext& ctx, const ParsedArgs& a) {
  const std::string& src_path = a.positional[0];
  const std::string& dst_path = a.positional[1];
  auto src = OpenInput(src_path, a.Get("src-format"));
  if (!src.ok()) return src.status();
  disk::CreateOptions o;
  o.format = FormatFromName(dst_path);
  if (a.Has("format")) {
    auto f = disk::ParseDiskFormat(a.Get("format"));
    if (!f.ok()) return f.status();
    o.format = *f;
  }
  auto type = disk::ParseDiskType(a.Get("type", "dynamic"));
  if (!type.ok() || *type == DiskType::kDifferencing) {
    return absl::InvalidArgumentError("--type must be fixed or dynamic");
  }
  o.type = *type;
  o.virtual_size = (*src)->virtual_size();
  if (o.format == DiskFormat::kVhdx) o.logical_sector_size = (*src)->logical_sector_size();
  if (o.format == DiskFormat::kVhd && o.virtual_size % 512 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(src_path, ": size ", o.virtual_size, " is not a multiple of 512"));
  }
  if (a.Has("block-size")) {
    auto bs = ParseSize(a.Get("block-size"));
    if (!bs.ok()) return bs.status();
    o.block_size = static_cast<uint32_t>(*bs);
  }
  o.overwrite = a.Has("overwrite");
  disk::CopyOptions copy;
  // --no-sync is qemu-img convert's default (-t unsafe): the output is in the
  // page cache, not yet on stable storage, when the command returns. VHD and
  // VHDX outputs still flush on close for their crash-safe metadata order.
  copy.flush = !a.Has("no-sync");
  absl::StatusOr<disk::CopyStats> stats;
  if (o.format == DiskFormat::kRaw) {
    // Raw output: a sparse file written directly (holes where src is absent
    // or zero), flushed once at the end unless --no-sync.
    disk::RawFileOptions f;
    f.overwrite = o.overwrite;
    f.preallocate = o.type == DiskType::kFixed;
    stats = disk::CopyDiskToRawFile(**src, dst_path, f, copy);
    if (!stats.ok()) return stats.status();
  } else {
    auto dst = disk::CreateDisk(dst_path, o);
    if (!dst.ok()) return dst.status();
    // Close() flushes anyway: no separate flush after the copy.
    copy.flush = false;
    stats = disk::CopyDisk(**src, **dst, copy);
    if (!stats.ok()) return stats.status();
    absl::Status s = (*dst)->Close();
    if (!s.ok()) return s;
  }
  *ctx.out << "converted " << src_path << " -> " << dst_path << " ("
           << disk::DiskFormatName(o.format) << "): " << stats->bytes_read << " bytes read, "
           << stats->bytes_written << " bytes written\n";
  return absl::OkStatus();
}

absl::Status DiskCompareCmd(const CommandContext& ctx, const ParsedArgs& a) {
  auto x = OpenInput(a.positional[0], a.Get("a-format"));
  if (!x.ok()) return WithExitCode(x.status(), 2);  // trouble, as cmp(1)
  auto y = OpenInput(a.positional[1], a.Get("b-format"));
  if (!y.ok()) return WithExitCode(y.status(), 2);  // trouble, as cmp(1)
  auto r = disk::CompareDisks(**x, **y);
  if (!r.ok()) return WithExitCode(r.status(), 2);  // trouble, as cmp(1)
  if (r->size_differs) {
    *ctx.err << "asrctl: warning: virtual sizes differ (" << (*x)->virtual_size() << " vs "
             << (*y)->virtual_size() << ")\n";
  }
  if (r->identical) {
    *ctx.out << "identical\n";
    return absl::OkStatus();
  }
  *ctx.out << "content differs at offset " << r->first_difference << "\n";
  return QuietFailure(1);
}

absl::Status DiskMapCmd(const CommandContext& ctx, const ParsedArgs& a) {
  auto d = OpenInput(a.positional[0], a.Get("format"));
  if (!d.ok()) return d.status();
  absl::StatusOr<std::vector<disk::Extent>> map =
      a.Has("chain") ? disk::GetChainAllocationMap(**d, 0, (*d)->virtual_size())
                     : (*d)->GetAllocationMap(0, (*d)->virtual_size());
  if (!map.ok()) return map.status();
  if (ctx.json) {
    // An array of DiskExtentOutput, one element a line.
    *ctx.out << "[";
    bool first = true;
    for (const disk::Extent& e : *map) {
      model::DiskExtentOutput o;
      o.set_offset(e.offset);
      o.set_length(e.length);
      o.set_state(disk::ExtentStateName(e.state));
      *ctx.out << (first ? "" : ",\n ") << model::ToJson(o);
      first = false;
    }
    *ctx.out << "]\n";
    return absl::OkStatus();
  }
  *ctx.out << absl::StrFormat("%-16s %-16s %s\n", "offset", "length", "state");
  for (const disk::Extent& e : *map) {
    *ctx.out << absl::StrFormat("%-16u %-16u %s\n", e.offset, e.length,
                                disk::ExtentStateName(e.state));
  }
  return absl::OkStatus();
}

absl::Status DiskCheckCmd(const CommandContext& ctx, const ParsedArgs& a) {
  disk::OpenOptions o;
  if (a.Has("format")) {
    auto f = disk::ParseDiskFormat(a.Get("format"));
    if (!f.ok()) return f.status();
    o.format = *f;
  }
  disk::CheckReport r = disk::CheckDisk(a.positional[0], o);
  for (const std::string& n : r.notes) *ctx.out << "info:    " << n << "\n";
  for (const std::string& w : r.warnings) *ctx.out << "warning: " << w << "\n";
  for (const std::string& e : r.errors) *ctx.out << "error:   " << e << "\n";
  *ctx.out << (r.ok() ? "No errors found: " : "Errors found: ") << a.positional[0] << "\n";
  if (!r.ok()) return absl::DataLossError(r.errors.front());
  return absl::OkStatus();
}

}  // namespace

void RegisterDiskCommands(CommandRegistry& r) {
  r.Add({"disk info",
         "disk info FILE [--format raw] [--json]",
         "Show a virtual disk's format, type, sizes, parent, allocation and warnings",
         {"format"},
         {},
         1,
         1,
         DiskInfoCmd});
  r.Add({"disk create",
         "disk create --format vhd|vhdx --type fixed|dynamic|differencing (--size SIZE | "
         "--parent FILE) [--block-size SIZE] [--logical-sector 512|4096] FILE",
         "Create a new virtual disk",
         {"format", "type", "size", "parent", "block-size", "logical-sector"},
         {},
         1,
         1,
         DiskCreateCmd});
  r.Add({"disk convert",
         "disk convert SRC DST [--format vhd|vhdx|raw] [--type fixed|dynamic] "
         "[--block-size SIZE] [--src-format raw] [--overwrite] [--no-sync]",
         "Copy a disk's content (through its whole chain) into a new disk; ranges that are "
         "absent or zero stay holes. --no-sync (raw output) returns without waiting for "
         "the data to reach stable storage, like qemu-img convert's default",
         {"format", "type", "block-size", "src-format"},
         {"overwrite", "no-sync"},
         2,
         2,
         DiskConvertCmd});
  r.Add({"disk compare",
         "disk compare A B [--a-format raw] [--b-format raw]",
         "Compare content: exit 0 identical, 1 different (first offset printed), 2 error",
         {"a-format", "b-format"},
         {},
         2,
         2,
         DiskCompareCmd});
  r.Add({"disk map",
         "disk map FILE [--chain] [--format raw] [--json]",
         "List the file's extents (present / zero / absent); --chain merges the parents",
         {"format"},
         {"chain"},
         1,
         1,
         DiskMapCmd});
  r.Add({"disk check",
         "disk check FILE [--format raw]",
         "Check a disk's structures and that all its data is readable",
         {"format"},
         {},
         1,
         1,
         DiskCheckCmd});
}

}  // namespace asr::cli
