#include "asr/disk/disk_ops.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "asr/common/status_macros.h"
#include "asr/disk/disk_file.h"
#include "asr/disk/disk_internal.h"
#include "asr/disk/vhd_format.h"
#include "asr/disk/vhdx_format.h"

namespace asr::disk {
namespace {

void Append(std::vector<Extent>* out, uint64_t offset, uint64_t length, ExtentState state) {
  if (length == 0) return;
  if (!out->empty() && out->back().state == state &&
      out->back().offset + out->back().length == offset) {
    out->back().length += length;
    return;
  }
  out->push_back({offset, length, state});
}

// Ranges where `map` says some layer holds data.
std::vector<std::pair<uint64_t, uint64_t>> DataRanges(const std::vector<Extent>& map) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (const Extent& e : map) {
    if (e.state == ExtentState::kPresent) out.push_back({e.offset, e.offset + e.length});
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<Extent>> GetChainAllocationMap(VirtualDisk& disk, uint64_t offset,
                                                          uint64_t length) {
  ASR_ASSIGN_OR_RETURN(std::vector<Extent> map, disk.GetAllocationMap(offset, length));
  VirtualDisk* parent = disk.parent();
  if (parent == nullptr) return map;
  std::vector<Extent> out;
  for (const Extent& e : map) {
    if (e.state != ExtentState::kAbsent) {
      Append(&out, e.offset, e.length, e.state);
      continue;
    }
    uint64_t psize = parent->virtual_size();
    uint64_t in_parent = e.offset >= psize ? 0 : std::min(e.length, psize - e.offset);
    if (in_parent > 0) {
      ASR_ASSIGN_OR_RETURN(std::vector<Extent> sub,
                           GetChainAllocationMap(*parent, e.offset, in_parent));
      for (const Extent& s : sub) Append(&out, s.offset, s.length, s.state);
    }
    Append(&out, e.offset + in_parent, e.length - in_parent, ExtentState::kAbsent);
  }
  return out;
}

absl::StatusOr<CopyStats> CopyDisk(VirtualDisk& src, VirtualDisk& dst, size_t buffer_size) {
  if (dst.virtual_size() < src.virtual_size()) {
    return absl::InvalidArgumentError(absl::StrCat(dst.path(), ": virtual size ",
                                                   dst.virtual_size(), " is smaller than ",
                                                   src.path(), " (", src.virtual_size(), ")"));
  }
  ASR_ASSIGN_OR_RETURN(std::vector<Extent> map,
                       GetChainAllocationMap(src, 0, src.virtual_size()));
  CopyStats stats;
  std::vector<uint8_t> buf(buffer_size);
  for (const auto& [start, end] : DataRanges(map)) {
    uint64_t off = start;
    while (off < end) {
      // Keep reads aligned to the buffer size so block boundaries line up.
      uint64_t stop = std::min(end, (off / buffer_size + 1) * buffer_size);
      size_t n = static_cast<size_t>(stop - off);
      ASR_RETURN_IF_ERROR(src.ReadAt(off, absl::MakeSpan(buf.data(), n)));
      stats.bytes_read += n;
      // Write only the non-zero 64 KiB pieces so the target stays sparse.
      const size_t kPiece = 64 * 1024;
      size_t i = 0;
      while (i < n) {
        size_t piece = std::min(kPiece - static_cast<size_t>((off + i) % kPiece), n - i);
        if (internal::IsAllZero(buf.data() + i, piece)) {
          i += piece;
          continue;
        }
        size_t j = i + piece;
        while (j < n) {
          size_t p2 = std::min(kPiece, n - j);
          if (internal::IsAllZero(buf.data() + j, p2)) break;
          j += p2;
        }
        ASR_RETURN_IF_ERROR(dst.WriteAt(off + i, absl::MakeConstSpan(buf.data() + i, j - i)));
        stats.bytes_written += j - i;
        i = j;
      }
      off = stop;
    }
  }
  ASR_RETURN_IF_ERROR(dst.Flush());
  return stats;
}

absl::StatusOr<CompareResult> CompareDisks(VirtualDisk& a, VirtualDisk& b, size_t buffer_size) {
  CompareResult r;
  uint64_t common = std::min(a.virtual_size(), b.virtual_size());
  r.size_differs = a.virtual_size() != b.virtual_size();
  ASR_ASSIGN_OR_RETURN(std::vector<Extent> ma, GetChainAllocationMap(a, 0, a.virtual_size()));
  ASR_ASSIGN_OR_RETURN(std::vector<Extent> mb, GetChainAllocationMap(b, 0, b.virtual_size()));
  std::vector<std::pair<uint64_t, uint64_t>> ranges = DataRanges(ma);
  for (const auto& rg : DataRanges(mb)) ranges.push_back(rg);
  std::sort(ranges.begin(), ranges.end());
  std::vector<uint8_t> ba(buffer_size), bb(buffer_size);
  uint64_t covered = 0;  // everything below was compared or is zero in both
  for (const auto& [s0, e0] : ranges) {
    uint64_t off = std::max(s0, covered);
    while (off < e0) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(e0 - off, buffer_size));
      bool in_a = off < a.virtual_size(), in_b = off < b.virtual_size();
      size_t na = in_a ? static_cast<size_t>(std::min<uint64_t>(n, a.virtual_size() - off)) : 0;
      size_t nb = in_b ? static_cast<size_t>(std::min<uint64_t>(n, b.virtual_size() - off)) : 0;
      std::memset(ba.data(), 0, n);
      std::memset(bb.data(), 0, n);
      if (na) ASR_RETURN_IF_ERROR(a.ReadAt(off, absl::MakeSpan(ba.data(), na)));
      if (nb) ASR_RETURN_IF_ERROR(b.ReadAt(off, absl::MakeSpan(bb.data(), nb)));
      if (std::memcmp(ba.data(), bb.data(), n) != 0) {
        size_t i = 0;
        while (ba[i] == bb[i]) ++i;
        r.identical = false;
        r.first_difference = off + i;
        return r;
      }
      off += n;
    }
    covered = std::max(covered, e0);
  }
  (void)common;
  r.identical = true;
  return r;
}

CheckReport CheckDisk(const std::string& path, const OpenOptions& options) {
  CheckReport report;
  auto disk_or = OpenDisk(path, OpenMode::kReadOnly, options);
  if (!disk_or.ok()) {
    report.errors.push_back(std::string(disk_or.status().message()));
    return report;
  }
  VirtualDisk& disk = **disk_or;
  for (VirtualDisk* d = &disk; d != nullptr; d = d->parent()) {
    const DiskInfo& info = d->info();
    std::string who = d == &disk ? "" : absl::StrCat("parent ", info.path, ": ");
    report.notes.push_back(absl::StrCat(who, DiskFormatName(info.format), " ",
                                        DiskTypeName(info.type), ", virtual size ",
                                        info.virtual_size, " bytes, block size ",
                                        info.block_size));
    for (const std::string& w : info.warnings) report.warnings.push_back(who + w);
    auto file_or = DiskFile::Open(info.path, false);
    if (!file_or.ok()) continue;
    DiskFile& file = **file_or;
    if (info.format == DiskFormat::kVhdx && file.size() >= kVhdxHeaderSectionSize) {
      std::vector<uint8_t> t1(kVhdxRegionTableSize), t2(kVhdxRegionTableSize);
      if (file.Read(kVhdxRegionTable1Offset, t1.data(), t1.size(), "region table 1").ok() &&
          file.Read(kVhdxRegionTable2Offset, t2.data(), t2.size(), "region table 2").ok() &&
          t1 != t2) {
        report.warnings.push_back(who + "the two region table copies differ");
      }
      uint8_t h[2][kVhdxHeaderSize];
      for (int i = 0; i < 2; ++i) {
        if (file.Read(i == 0 ? kVhdxHeader1Offset : kVhdxHeader2Offset, h[i], kVhdxHeaderSize,
                      "header")
                .ok()) {
          auto parsed = ParseVhdxHeader(h[i]);
          if (parsed.ok() && !parsed->log_guid.IsZero() && !info.log_replayed) {
            report.warnings.push_back(absl::StrCat(who, "header ", i + 1,
                                                   " has a LogGuid set (file not closed cleanly)"));
          }
        }
      }
    }
    if (info.format == DiskFormat::kVhd && info.type != DiskType::kFixed &&
        file.size() >= 2 * kVhdFooterSize) {
      uint8_t f0[kVhdFooterSize], f1[kVhdFooterSize];
      if (file.Read(0, f0, sizeof(f0), "footer copy").ok() &&
          file.Read(file.size() - kVhdFooterSize, f1, sizeof(f1), "footer").ok() &&
          std::memcmp(f0, f1, sizeof(f0)) != 0) {
        report.warnings.push_back(who + "the footer copy at offset 0 differs from the footer");
      }
    }
  }
  // Every allocated byte of the chain must be readable.
  auto map = GetChainAllocationMap(disk, 0, disk.virtual_size());
  if (!map.ok()) {
    report.errors.push_back(std::string(map.status().message()));
    return report;
  }
  uint64_t present = 0;
  std::vector<uint8_t> buf(4u << 20);
  for (const Extent& e : *map) {
    if (e.state != ExtentState::kPresent) continue;
    present += e.length;
    for (uint64_t off = e.offset; off < e.offset + e.length; off += buf.size()) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), e.offset + e.length - off));
      absl::Status s = disk.ReadAt(off, absl::MakeSpan(buf.data(), n));
      if (!s.ok()) {
        report.errors.push_back(std::string(s.message()));
        return report;
      }
    }
  }
  report.notes.push_back(absl::StrCat(present, " bytes of data readable through the chain"));
  return report;
}

}  // namespace asr::disk
