#include "asr/disk/vhd_disk.h"

#include <algorithm>
#include <cstring>
#include <ctime>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/disk/byte_order.h"
#include "asr/disk/disk_internal.h"
#include "asr/disk/utf16.h"
#include "asr/platform/env.h"

namespace asr::disk {

using internal::DivRoundUp;
using internal::RoundUp;

namespace {

absl::Status FileError(const std::string& path, const absl::Status& s) { return Annotate(s, path); }

uint32_t VhdTimestampNow() {
  uint64_t now = static_cast<uint64_t>(::time(nullptr));
  return now > kVhdEpochOffset ? static_cast<uint32_t>(now - kVhdEpochOffset) : 0;
}

std::string CreatorName(const std::array<uint8_t, 4>& a) {
  std::string s;
  for (uint8_t c : a) s.push_back(c >= 32 && c < 127 ? static_cast<char>(c) : '.');
  return s;
}

}  // namespace

VhdDisk::~VhdDisk() { (void)Close(); }

absl::StatusOr<std::unique_ptr<VirtualDisk>> VhdDisk::Open(std::unique_ptr<DiskFile> file,
                                                           OpenMode mode,
                                                           const OpenOptions& options, int depth) {
  std::unique_ptr<VhdDisk> d(new VhdDisk());
  d->read_only_ = mode == OpenMode::kReadOnly;
  d->info_.path = file->path();
  d->info_.format = DiskFormat::kVhd;
  d->file_ = std::move(file);
  ASR_RETURN_IF_ERROR(d->Load(options, depth));
  return std::unique_ptr<VirtualDisk>(std::move(d));
}

absl::Status VhdDisk::Load(const OpenOptions& options, int depth) {
  const std::string& path = file_->path();
  uint64_t fsize = file_->size();
  info_.file_size = fsize;
  if (fsize < kVhdFooterSize) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": file is too small to be a VHD (", fsize, " bytes)"));
  }
  uint8_t raw[kVhdFooterSize];
  ASR_RETURN_IF_ERROR(file_->Read(fsize - kVhdFooterSize, raw, sizeof(raw), "VHD footer"));
  auto footer = ParseVhdFooter(raw);
  bool footer_at_end = footer.ok();
  if (!footer.ok()) {
    uint8_t copy[kVhdFooterSize];
    ASR_RETURN_IF_ERROR(file_->Read(0, copy, sizeof(copy), "VHD footer copy"));
    auto alt = ParseVhdFooter(copy);
    if (!alt.ok() || alt->disk_type == kVhdTypeFixed) {
      return FileError(path, footer.status());
    }
    info_.warnings.push_back(absl::StrCat("footer at end of file is damaged (",
                                          footer.status().message(),
                                          "); using the copy at offset 0"));
    footer = std::move(alt);
  }
  footer_ = *footer;
  info_.disk_id = footer_.unique_id.ToString();
  info_.virtual_size = footer_.current_size;
  info_.logical_sector_size = kVhdSectorSize;
  info_.physical_sector_size = kVhdSectorSize;
  if (footer_.current_size % kVhdSectorSize != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": VHD current size ", footer_.current_size, " is not a multiple of 512"));
  }
  if (footer_.current_size > kVhdMaxSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": VHD current size ", footer_.current_size, " exceeds the 2040 GiB VHD maximum"));
  }
  uint64_t chs = footer_.geometry.Bytes();
  if (chs != footer_.current_size) {
    info_.warnings.push_back(absl::StrFormat(
        "CHS geometry %u/%u/%u gives %u bytes but the footer's current size is %u; using the "
        "current size (Hyper-V semantics; creator '%s')",
        footer_.geometry.cylinders, footer_.geometry.heads, footer_.geometry.sectors_per_track, chs,
        footer_.current_size, CreatorName(footer_.creator_app)));
  }
  if (footer_.saved_state) info_.warnings.push_back("footer saved-state flag is set");
  if (footer_.disk_type == kVhdTypeFixed) {
    info_.type = DiskType::kFixed;
    info_.block_size = kVhdDefaultBlockSize;
    if (footer_.current_size > fsize - kVhdFooterSize) {
      return absl::OutOfRangeError(
          absl::StrCat(path, ": fixed VHD is truncated: current size ", footer_.current_size,
                       " but only ", fsize - kVhdFooterSize, " bytes of data precede the footer"));
    }
    if (footer_.current_size < fsize - kVhdFooterSize) {
      info_.warnings.push_back(absl::StrCat(fsize - kVhdFooterSize - footer_.current_size,
                                            " bytes between the data and the footer"));
    }
    return absl::OkStatus();
  }
  dynamic_ = true;
  differencing_ = footer_.disk_type == kVhdTypeDifferencing;
  info_.type = differencing_ ? DiskType::kDifferencing : DiskType::kDynamic;
  (void)footer_at_end;
  return LoadDynamic(options, depth);
}

absl::Status VhdDisk::LoadDynamic(const OpenOptions& options, int depth) {
  const std::string& path = file_->path();
  uint64_t fsize = file_->size();
  if (footer_.data_offset < kVhdFooterSize || footer_.data_offset > fsize ||
      fsize - footer_.data_offset < kVhdDynamicHeaderSize) {
    return absl::OutOfRangeError(absl::StrCat(path, ": dynamic header offset ", footer_.data_offset,
                                              " lies outside the file (", fsize, " bytes)"));
  }
  uint8_t raw[kVhdDynamicHeaderSize];
  ASR_RETURN_IF_ERROR(file_->Read(footer_.data_offset, raw, sizeof(raw), "VHD dynamic header"));
  auto header = ParseVhdDynamicHeader(raw);
  if (!header.ok()) return FileError(path, header.status());
  header_ = *header;
  info_.block_size = header_.block_size;
  bitmap_size_ = VhdBitmapSize(header_.block_size);
  uint64_t needed = DivRoundUp(footer_.current_size, header_.block_size);
  if (header_.max_table_entries < needed) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": BAT has ", header_.max_table_entries, " entries but a disk of ",
        footer_.current_size, " bytes with ", header_.block_size, "-byte blocks needs ", needed));
  }
  uint64_t bat_bytes = static_cast<uint64_t>(header_.max_table_entries) * 4;
  if (header_.table_offset < kVhdFooterSize || header_.table_offset > fsize ||
      fsize - header_.table_offset < bat_bytes) {
    return absl::OutOfRangeError(absl::StrCat(path, ": BAT (", bat_bytes, " bytes at offset ",
                                              header_.table_offset, ") lies outside the file (",
                                              fsize, " bytes)"));
  }
  std::vector<uint8_t> bat_raw(bat_bytes);
  ASR_RETURN_IF_ERROR(file_->Read(header_.table_offset, bat_raw.data(), bat_raw.size(), "BAT"));
  bat_.resize(header_.max_table_entries);
  for (size_t i = 0; i < bat_.size(); ++i) bat_[i] = LoadBe32(bat_raw.data() + 4 * i);

  // Metadata ranges that blocks must not overlap.
  uint64_t meta_end = std::max(footer_.data_offset + kVhdDynamicHeaderSize,
                               RoundUp(header_.table_offset + bat_bytes, kVhdSectorSize));
  struct Range {
    uint64_t start, end;
    int64_t block;  // -1 for metadata
  };
  std::vector<Range> ranges;
  ranges.push_back({0, kVhdFooterSize, -1});
  ranges.push_back({footer_.data_offset, footer_.data_offset + kVhdDynamicHeaderSize, -1});
  ranges.push_back({header_.table_offset, header_.table_offset + bat_bytes, -1});
  uint64_t block_span = static_cast<uint64_t>(bitmap_size_) + header_.block_size;
  uint64_t limit = fsize;  // blocks may end where the footer starts
  next_block_offset_ = meta_end;
  for (size_t i = 0; i < bat_.size(); ++i) {
    if (bat_[i] == kVhdUnallocated) continue;
    if (i >= needed) continue;  // entries past the disk end are never read
    uint64_t start = static_cast<uint64_t>(bat_[i]) * kVhdSectorSize;
    if (start + block_span > limit) {
      return absl::OutOfRangeError(absl::StrCat(path, ": BAT entry ", i, " points to offset ",
                                                start, ", past the end of the file (", fsize,
                                                " bytes)"));
    }
    ranges.push_back({start, start + block_span, static_cast<int64_t>(i)});
    next_block_offset_ = std::max(next_block_offset_, start + block_span);
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.start < b.start; });
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].start < ranges[i - 1].end && (ranges[i].block >= 0 || ranges[i - 1].block >= 0)) {
      const Range& a = ranges[i - 1];
      const Range& b = ranges[i];
      auto name = [](const Range& r) {
        return r.block >= 0 ? absl::StrCat("block ", r.block) : std::string("the VHD metadata");
      };
      return absl::InvalidArgumentError(absl::StrCat(path, ": BAT entries overlap: ", name(a), " [",
                                                     a.start, ", ", a.end, ") and ", name(b), " [",
                                                     b.start, ", ", b.end, ")"));
    }
  }
  if (differencing_) {
    for (const VhdParentLocator& l : header_.locators) {
      if (l.platform_code == 0) continue;
      next_block_offset_ =
          std::max(next_block_offset_, RoundUp(l.data_offset + l.data_length, kVhdSectorSize));
    }
    if (next_block_offset_ > fsize - kVhdFooterSize) {
      next_block_offset_ = RoundUp(next_block_offset_, kVhdSectorSize);
    }
    ASR_RETURN_IF_ERROR(OpenParent(options, depth));
  }
  return absl::OkStatus();
}

absl::Status VhdDisk::OpenParent(const OpenOptions& options, int depth) {
  const std::string& path = file_->path();
  uint64_t fsize = file_->size();
  std::string dir = DirName(path);
  std::vector<std::string> candidates, absolute;
  for (const VhdParentLocator& l : header_.locators) {
    if (l.platform_code != kVhdPlatformW2ru && l.platform_code != kVhdPlatformW2ku) continue;
    if (l.data_length == 0 || l.data_length > 65536 || l.data_offset > fsize ||
        fsize - l.data_offset < l.data_length) {
      info_.warnings.push_back(absl::StrCat("parent locator data (", l.data_length, " bytes at ",
                                            l.data_offset, ") lies outside the file; ignored"));
      continue;
    }
    std::string raw(l.data_length, '\0');
    ASR_RETURN_IF_ERROR(file_->Read(l.data_offset, raw.data(), raw.size(), "parent locator"));
    auto text = Utf16ToUtf8(raw, /*big_endian=*/false);
    if (!text.ok()) continue;
    std::string local = internal::LocalizeStoredPath(*text);
    if (local.empty()) continue;
    if (l.platform_code == kVhdPlatformW2ru) {
      if (local.rfind("./", 0) == 0) local = local.substr(2);
      candidates.push_back(local[0] == '/' ? local : JoinPath(dir, local));
    } else {
      absolute.push_back(local);
    }
  }
  // Relative locators first: they survive moving the pair together.
  candidates.insert(candidates.end(), absolute.begin(), absolute.end());
  if (!header_.parent_name.empty()) {
    candidates.push_back(
        JoinPath(dir, internal::BaseName(internal::LocalizeStoredPath(header_.parent_name))));
  }
  std::string found;
  for (const std::string& c : candidates) {
    if (PathExists(c)) {
      found = c;
      break;
    }
  }
  if (found.empty()) {
    return absl::NotFoundError(absl::StrCat(path, ": parent disk not found (tried: ",
                                            candidates.empty()
                                                ? std::string("no usable parent locator")
                                                : absl::StrJoin(candidates, ", "),
                                            ")"));
  }
  ASR_ASSIGN_OR_RETURN(parent_, internal::OpenParentAtDepth(found, path, options, depth + 1));
  info_.parent_path = found;
  info_.parent_id = header_.parent_unique_id.ToString();
  if (parent_->info().format != DiskFormat::kVhd) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": parent ", found, " is not a VHD file"));
  }
  if (parent_->info().disk_id != info_.parent_id) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": parent linkage mismatch: ", found, " has unique ID ", parent_->info().disk_id,
        " but this differencing disk expects ", info_.parent_id));
  }
  if (parent_->virtual_size() != info_.virtual_size) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": size ", info_.virtual_size,
                                                      " differs from parent ", found, " size ",
                                                      parent_->virtual_size()));
  }
  return absl::OkStatus();
}

absl::StatusOr<const std::vector<uint8_t>*> VhdDisk::Bitmap(uint32_t block) {
  auto it = bitmaps_.find(block);
  if (it != bitmaps_.end()) return &it->second;
  std::vector<uint8_t> bm(bitmap_size_);
  ASR_RETURN_IF_ERROR(file_->Read(static_cast<uint64_t>(bat_[block]) * kVhdSectorSize, bm.data(),
                                  bm.size(), absl::StrCat("sector bitmap of block ", block)));
  return &bitmaps_.emplace(block, std::move(bm)).first->second;
}

absl::Status VhdDisk::DoRead(uint64_t offset, uint8_t* out, size_t length) {
  if (!dynamic_) return file_->Read(offset, out, length, "VHD data");
  const uint64_t bs = header_.block_size;
  while (length > 0) {
    uint32_t block = static_cast<uint32_t>(offset / bs);
    uint64_t in = offset % bs;
    size_t n = static_cast<size_t>(std::min<uint64_t>(length, bs - in));
    uint32_t entry = bat_[block];
    if (entry == kVhdUnallocated) {
      ASR_RETURN_IF_ERROR(ReadParent(offset, out, n));
    } else {
      uint64_t data = static_cast<uint64_t>(entry) * kVhdSectorSize + bitmap_size_;
      if (!differencing_) {
        ASR_RETURN_IF_ERROR(file_->Read(data + in, out, n, "VHD block data"));
      } else {
        ASR_ASSIGN_OR_RETURN(const std::vector<uint8_t>* bm, Bitmap(block));
        size_t done = 0;
        while (done < n) {
          uint64_t pos = in + done;
          uint64_t sector = pos / kVhdSectorSize;
          bool present = SectorPresent(*bm, sector);
          uint64_t run_end = (sector + 1) * kVhdSectorSize;
          while (run_end < in + n && SectorPresent(*bm, run_end / kVhdSectorSize) == present) {
            run_end += kVhdSectorSize;
          }
          size_t m = static_cast<size_t>(std::min<uint64_t>(run_end, in + n) - pos);
          if (present) {
            ASR_RETURN_IF_ERROR(file_->Read(data + pos, out + done, m, "VHD block data"));
          } else {
            ASR_RETURN_IF_ERROR(ReadParent(offset + done, out + done, m));
          }
          done += m;
        }
      }
    }
    offset += n;
    out += n;
    length -= n;
  }
  return absl::OkStatus();
}

absl::Status VhdDisk::AllocateBlock(uint32_t block) {
  uint64_t start = RoundUp(next_block_offset_, kVhdSectorSize);
  uint64_t end = start + bitmap_size_ + header_.block_size;
  // Drop the old footer (and any torn tail), then grow with a zero-filled hole.
  ASR_RETURN_IF_ERROR(file_->Truncate(start));
  ASR_RETURN_IF_ERROR(file_->Truncate(end + kVhdFooterSize));
  std::vector<uint8_t> bm(bitmap_size_, differencing_ ? 0x00 : 0xFF);
  ASR_RETURN_IF_ERROR(file_->Write(start, bm.data(), bm.size(), "sector bitmap"));
  uint8_t raw[kVhdFooterSize];
  SerializeVhdFooter(footer_, raw);
  ASR_RETURN_IF_ERROR(file_->Write(end, raw, sizeof(raw), "VHD footer"));
  uint8_t be[4];
  StoreBe32(be, static_cast<uint32_t>(start / kVhdSectorSize));
  ASR_RETURN_IF_ERROR(file_->Write(header_.table_offset + 4ull * block, be, 4, "BAT entry"));
  bat_[block] = static_cast<uint32_t>(start / kVhdSectorSize);
  if (differencing_) bitmaps_[block] = std::move(bm);
  next_block_offset_ = end;
  info_.file_size = file_->size();
  return absl::OkStatus();
}

absl::Status VhdDisk::DoWrite(uint64_t offset, const uint8_t* data, size_t length) {
  if (!dynamic_) return file_->Write(offset, data, length, "VHD data");
  const uint64_t bs = header_.block_size;
  while (length > 0) {
    uint32_t block = static_cast<uint32_t>(offset / bs);
    uint64_t in = offset % bs;
    size_t n = static_cast<size_t>(std::min<uint64_t>(length, bs - in));
    if (bat_[block] == kVhdUnallocated) {
      if (!differencing_ && internal::IsAllZero(data, n)) {
        // Unallocated blocks of a dynamic disk already read as zeros.
        offset += n;
        data += n;
        length -= n;
        continue;
      }
      if (static_cast<uint64_t>(next_block_offset_) + bitmap_size_ + bs >
          0xFFFFFFFFull * kVhdSectorSize) {
        return absl::ResourceExhaustedError(
            absl::StrCat(file_->path(), ": VHD file cannot grow past 2 TiB of block space"));
      }
      ASR_RETURN_IF_ERROR(AllocateBlock(block));
    }
    uint64_t base = static_cast<uint64_t>(bat_[block]) * kVhdSectorSize;
    ASR_RETURN_IF_ERROR(file_->Write(base + bitmap_size_ + in, data, n, "VHD block data"));
    if (differencing_) {
      ASR_ASSIGN_OR_RETURN(const std::vector<uint8_t>* cached, Bitmap(block));
      std::vector<uint8_t>& bm = bitmaps_[block];
      (void)cached;
      uint64_t first = in / kVhdSectorSize, last = (in + n) / kVhdSectorSize;  // aligned
      bool changed = false;
      for (uint64_t s = first; s < last; ++s) {
        uint8_t mask = static_cast<uint8_t>(0x80 >> (s % 8));
        if (!(bm[s / 8] & mask)) {
          bm[s / 8] |= mask;
          changed = true;
        }
      }
      if (changed) {
        uint64_t b0 = first / 8 / kVhdSectorSize * kVhdSectorSize;
        uint64_t b1 = RoundUp((last + 7) / 8, kVhdSectorSize);
        ASR_RETURN_IF_ERROR(file_->Write(base + b0, bm.data() + b0, b1 - b0, "sector bitmap"));
      }
    }
    offset += n;
    data += n;
    length -= n;
  }
  return absl::OkStatus();
}

absl::Status VhdDisk::DoAllocationMap(uint64_t offset, uint64_t length, std::vector<Extent>* out) {
  if (!dynamic_) {
    AppendExtent(out, offset, length, ExtentState::kPresent);
    return absl::OkStatus();
  }
  const uint64_t bs = header_.block_size;
  uint64_t end = offset + length;
  while (offset < end) {
    uint32_t block = static_cast<uint32_t>(offset / bs);
    uint64_t in = offset % bs;
    uint64_t n = std::min<uint64_t>(end - offset, bs - in);
    if (bat_[block] == kVhdUnallocated) {
      AppendExtent(out, offset, n, ExtentState::kAbsent);
    } else if (!differencing_) {
      AppendExtent(out, offset, n, ExtentState::kPresent);
    } else {
      ASR_ASSIGN_OR_RETURN(const std::vector<uint8_t>* bm, Bitmap(block));
      uint64_t pos = in;
      while (pos < in + n) {
        uint64_t sector = pos / kVhdSectorSize;
        uint64_t next = std::min<uint64_t>((sector + 1) * kVhdSectorSize, in + n);
        AppendExtent(out, offset + (pos - in), next - pos,
                     SectorPresent(*bm, sector) ? ExtentState::kPresent : ExtentState::kAbsent);
        pos = next;
      }
    }
    offset += n;
  }
  return absl::OkStatus();
}

absl::Status VhdDisk::DoFlush() {
  if (read_only_) return absl::OkStatus();
  return file_->Sync();
}

absl::StatusOr<std::unique_ptr<VirtualDisk>> VhdDisk::Create(const std::string& path,
                                                             const CreateOptions& options,
                                                             std::unique_ptr<VirtualDisk> parent) {
  bool diff = options.type == DiskType::kDifferencing;
  uint64_t size = diff ? parent->virtual_size() : options.virtual_size;
  if (diff && parent->info().format != DiskFormat::kVhd) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": the parent of a differencing VHD must be a VHD file"));
  }
  if (size == 0 || size % kVhdSectorSize != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": VHD size must be a non-zero multiple of 512 bytes (got ", size, ")"));
  }
  if (size > kVhdMaxSize) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": VHD size ", size, " exceeds the 2040 GiB maximum"));
  }
  if (options.logical_sector_size != 512) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": VHD supports only 512-byte logical sectors"));
  }
  uint32_t bs = options.block_size ? options.block_size : kVhdDefaultBlockSize;
  if (bs < 4096 || bs > (256u << 20) || (bs & (bs - 1)) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": VHD block size ", bs, " must be a power of two from 4 KiB to 256 MiB"));
  }
  ASR_ASSIGN_OR_RETURN(auto file, DiskFile::Create(path, options.overwrite));

  VhdFooter f;
  f.timestamp = VhdTimestampNow();
  f.original_size = size;
  f.current_size = size;
  f.geometry = ComputeVhdGeometry(size);
  if (f.geometry.Bytes() != size) {
    // CHS cannot express this size: store the maximum geometry, which tells
    // readers that rely on CHS (qemu) to use the current size instead.
    f.geometry.cylinders = 65535;
    f.geometry.heads = 16;
    f.geometry.sectors_per_track = 255;
  }
  f.unique_id = Guid::Random();
  uint8_t raw_footer[kVhdFooterSize];
  if (options.type == DiskType::kFixed) {
    f.disk_type = kVhdTypeFixed;
    f.data_offset = kVhdNoDataOffset;
    ASR_RETURN_IF_ERROR(file->Truncate(size + kVhdFooterSize));
    file->Reserve(0, size);
    SerializeVhdFooter(f, raw_footer);
    ASR_RETURN_IF_ERROR(file->Write(size, raw_footer, sizeof(raw_footer), "VHD footer"));
  } else {
    f.disk_type = diff ? kVhdTypeDifferencing : kVhdTypeDynamic;
    f.data_offset = kVhdFooterSize;
    VhdDynamicHeader h;
    h.table_offset = kVhdFooterSize + kVhdDynamicHeaderSize;
    h.block_size = bs;
    uint64_t entries = DivRoundUp(size, bs);
    h.max_table_entries = static_cast<uint32_t>(entries);
    uint64_t bat_bytes = RoundUp(entries * 4, kVhdSectorSize);
    uint64_t next = h.table_offset + bat_bytes;
    std::vector<std::pair<uint64_t, std::string>> locator_data;
    if (diff) {
      std::string ppath = internal::AbsolutePath(parent->path());
      h.parent_unique_id = Guid::Parse(parent->info().disk_id).value_or(Guid());
      absl::StatusOr<platform::FileInfo> st = platform::Env::Default()->Stat(ppath);
      const int64_t mtime = st.ok() ? st->mtime_ns / 1000000000 : 0;
      if (st.ok() && static_cast<uint64_t>(mtime) > kVhdEpochOffset) {
        h.parent_timestamp = static_cast<uint32_t>(mtime - kVhdEpochOffset);
      }
      h.parent_name = internal::BaseName(ppath);
      std::string rel = internal::RelativePath(DirName(internal::AbsolutePath(path)), ppath);
      if (rel.find('/') == std::string::npos) rel = "./" + rel;
      std::string rel_w = absl::StrReplaceAll(rel, {{"/", "\\"}});
      std::string abs_w = absl::StrReplaceAll(ppath, {{"/", "\\"}});
      const std::pair<uint32_t, std::string> locs[2] = {{kVhdPlatformW2ru, rel_w},
                                                        {kVhdPlatformW2ku, abs_w}};
      for (int i = 0; i < 2; ++i) {
        std::string utf16 = Utf8ToUtf16(locs[i].second, /*big_endian=*/false);
        uint64_t space = RoundUp(std::max<size_t>(utf16.size(), 1), kVhdSectorSize);
        h.locators[i].platform_code = locs[i].first;
        h.locators[i].data_space = static_cast<uint32_t>(space / kVhdSectorSize);
        h.locators[i].data_length = static_cast<uint32_t>(utf16.size());
        h.locators[i].data_offset = next;
        locator_data.push_back({next, utf16});
        next += space;
      }
    }
    uint8_t raw_header[kVhdDynamicHeaderSize];
    SerializeVhdDynamicHeader(h, raw_header);
    SerializeVhdFooter(f, raw_footer);
    std::vector<uint8_t> bat(bat_bytes, 0xFF);
    ASR_RETURN_IF_ERROR(file->Truncate(next + kVhdFooterSize));
    ASR_RETURN_IF_ERROR(file->Write(0, raw_footer, sizeof(raw_footer), "VHD footer copy"));
    ASR_RETURN_IF_ERROR(
        file->Write(kVhdFooterSize, raw_header, sizeof(raw_header), "VHD dynamic header"));
    ASR_RETURN_IF_ERROR(file->Write(h.table_offset, bat.data(), bat.size(), "BAT"));
    for (const auto& [off, bytes] : locator_data) {
      ASR_RETURN_IF_ERROR(file->Write(off, bytes.data(), bytes.size(), "parent locator"));
    }
    ASR_RETURN_IF_ERROR(file->Write(next, raw_footer, sizeof(raw_footer), "VHD footer"));
  }
  ASR_RETURN_IF_ERROR(file->Sync());
  ASR_RETURN_IF_ERROR(FsyncDirectory(DirName(path)));
  parent.reset();  // reopened (and re-verified) through the locators
  OpenOptions open_options;
  return Open(std::move(file), OpenMode::kReadWrite, open_options, 0);
}

}  // namespace asr::disk
