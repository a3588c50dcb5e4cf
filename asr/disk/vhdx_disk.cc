#include "asr/disk/vhdx_disk.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/disk/byte_order.h"
#include "asr/disk/disk_internal.h"
#include "asr/disk/utf16.h"

namespace asr::disk {

using internal::DivRoundUp;
using internal::RoundUp;

namespace {

constexpr size_t kPage = 4096;
// Commit once this many BAT/bitmap pages are dirty.
constexpr size_t kCommitThreshold = 64;
// Largest log region read into memory for replay.
constexpr uint64_t kMaxLogLength = 256 * kMiB;
// Largest metadata prefix (table + items) read into memory.
constexpr uint64_t kMaxMetadataRead = 64 * kMiB;

struct Range {
  uint64_t start, end;
  std::string name;
};

absl::Status CheckOverlaps(const std::string& path, std::vector<Range>& ranges) {
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.start < b.start; });
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].start < ranges[i - 1].end) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": overlapping structures: ", ranges[i - 1].name, " [",
                       ranges[i - 1].start, ", ", ranges[i - 1].end, ") and ", ranges[i].name, " [",
                       ranges[i].start, ", ", ranges[i].end, ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

VhdxDisk::~VhdxDisk() { (void)Close(); }

absl::StatusOr<std::unique_ptr<VirtualDisk>> VhdxDisk::Open(std::unique_ptr<DiskFile> file,
                                                            OpenMode mode,
                                                            const OpenOptions& options, int depth) {
  std::unique_ptr<VhdxDisk> d(new VhdxDisk());
  d->read_only_ = mode == OpenMode::kReadOnly;
  d->info_.path = file->path();
  d->info_.format = DiskFormat::kVhdx;
  d->file_ = std::move(file);
  ASR_RETURN_IF_ERROR(d->Load(options, depth));
  return std::unique_ptr<VirtualDisk>(std::move(d));
}

absl::Status VhdxDisk::Load(const OpenOptions& options, int depth) {
  const std::string& path = file_->path();
  uint64_t fsize = file_->size();
  effective_size_ = fsize;
  if (fsize < kVhdxHeaderSectionSize) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": file is too small to be a VHDX (",
                                                   fsize,
                                                   " bytes; the header section alone is 1 MiB)"));
  }
  char sig[8];
  ASR_RETURN_IF_ERROR(file_->Read(0, sig, 8, "file identifier"));
  if (std::memcmp(sig, "vhdxfile", 8) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a VHDX file (no 'vhdxfile' signature at offset 0)"));
  }
  ASR_RETURN_IF_ERROR(LoadHeaders());
  ASR_RETURN_IF_ERROR(ReplayLog());
  ASR_RETURN_IF_ERROR(LoadRegions());
  ASR_RETURN_IF_ERROR(LoadMetadata());
  ASR_RETURN_IF_ERROR(LoadBat());
  if (metadata_.has_parent) ASR_RETURN_IF_ERROR(OpenParent(options, depth));
  info_.file_size = effective_size_;
  return absl::OkStatus();
}

absl::Status VhdxDisk::LoadHeaders() {
  const std::string& path = file_->path();
  uint8_t raw[2][kVhdxHeaderSize];
  ASR_RETURN_IF_ERROR(file_->Read(kVhdxHeader1Offset, raw[0], kVhdxHeaderSize, "header 1"));
  ASR_RETURN_IF_ERROR(file_->Read(kVhdxHeader2Offset, raw[1], kVhdxHeaderSize, "header 2"));
  absl::StatusOr<VhdxHeader> h[2] = {ParseVhdxHeader(raw[0]), ParseVhdxHeader(raw[1])};
  if (!h[0].ok() && !h[1].ok()) {
    absl::StatusCode code = (h[0].status().code() == absl::StatusCode::kDataLoss ||
                             h[1].status().code() == absl::StatusCode::kDataLoss)
                                ? absl::StatusCode::kDataLoss
                                : absl::StatusCode::kInvalidArgument;
    return absl::Status(
        code, absl::StrCat(path, ": no valid VHDX header (header 1: ", h[0].status().message(),
                           "; header 2: ", h[1].status().message(), ")"));
  }
  for (int i = 0; i < 2; ++i) {
    if (!h[i].ok()) {
      info_.warnings.push_back(absl::StrCat("header ", i + 1, " is invalid (",
                                            h[i].status().message(), "); using the other"));
    }
  }
  if (h[0].ok() && h[1].ok()) {
    current_slot_ = h[1]->sequence_number > h[0]->sequence_number ? 1 : 0;
  } else {
    current_slot_ = h[0].ok() ? 0 : 1;
  }
  header_ = *h[current_slot_];
  info_.data_write_guid = header_.data_write_guid.ToString();
  uint64_t fsize = file_->size();
  if (header_.log_length != 0 &&
      (header_.log_offset > fsize || fsize - header_.log_offset < header_.log_length)) {
    return absl::OutOfRangeError(
        absl::StrCat(path, ": log (", header_.log_length, " bytes at offset ", header_.log_offset,
                     ") lies past the end of the file (", fsize, " bytes)"));
  }
  if (!header_.log_guid.IsZero()) {
    if (header_.log_version != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, ": log version ", header_.log_version,
                       " is not supported and the log is not empty"));
    }
    if (header_.log_length == 0) {
      return absl::DataLossError(absl::StrCat(path, ": header has a LogGuid but no log region"));
    }
  }
  return absl::OkStatus();
}

absl::Status VhdxDisk::ReplayLog() {
  const std::string& path = file_->path();
  if (header_.log_guid.IsZero()) return absl::OkStatus();
  if (header_.log_length > kMaxLogLength) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": log length ", header_.log_length, " is implausibly large"));
  }
  std::string log(header_.log_length, '\0');
  ASR_RETURN_IF_ERROR(file_->Read(header_.log_offset, log.data(), log.size(), "log"));
  auto replay_or = FindVhdxLogReplay(log, header_.log_guid);
  if (!replay_or.ok()) return Annotate(replay_or.status(), path);
  VhdxLogReplay& replay = *replay_or;
  if (!replay.found) {
    info_.warnings.push_back(
        "header has a LogGuid but the log holds no valid sequence; nothing replayed");
    return absl::OkStatus();
  }
  uint64_t fsize = file_->size();
  if (replay.flushed_file_offset > fsize) {
    return absl::DataLossError(
        absl::StrCat(path, ": file is truncated: the log says it was at least ",
                     replay.flushed_file_offset, " bytes but it is ", fsize));
  }
  const uint64_t kMaxFile = kVhdxMaxVirtualSize + 64 * (1ull << 30);
  if (replay.last_file_offset > kMaxFile) {
    return absl::DataLossError(absl::StrCat(path, ": log entry's last file offset ",
                                            replay.last_file_offset, " is implausibly large"));
  }
  uint64_t log_end = header_.log_offset + header_.log_length;
  for (const VhdxLogWrite& w : replay.writes) {
    uint64_t end = w.file_offset + w.length;
    if (w.file_offset < kVhdxRegionTable1Offset || end > kMaxFile ||
        (w.file_offset < log_end && end > header_.log_offset)) {
      return absl::DataLossError(
          absl::StrCat(path, ": log entry writes to [", w.file_offset, ", ", end,
                       "), which is the file identifier, a header or the log itself"));
    }
  }
  info_.log_replayed = true;
  info_.warnings.push_back(absl::StrCat(
      "replayed ", replay.entry_count, " log entr", replay.entry_count == 1 ? "y" : "ies",
      " (head sequence ", replay.head_sequence, ")", read_only_ ? " in memory" : " into the file"));
  uint64_t new_size = std::max(fsize, replay.last_file_offset);
  for (const VhdxLogWrite& w : replay.writes) {
    new_size = std::max(new_size, w.data.empty() ? 0 : w.file_offset + w.length);
  }
  if (read_only_) {
    overlay_ = std::move(replay.writes);
    effective_size_ = new_size;
    return absl::OkStatus();
  }
  // The first modification of the session: change FileWriteGuid first.
  VhdxHeader h = header_;
  h.file_write_guid = Guid::Random();
  ASR_RETURN_IF_ERROR(WriteHeader(h));
  if (new_size > file_->size()) ASR_RETURN_IF_ERROR(file_->Truncate(new_size));
  std::vector<uint8_t> zeros;
  for (const VhdxLogWrite& w : replay.writes) {
    if (!w.data.empty()) {
      ASR_RETURN_IF_ERROR(file_->Write(w.file_offset, w.data.data(), w.data.size(), "log replay"));
      continue;
    }
    uint64_t off = w.file_offset;
    uint64_t end = std::min(w.file_offset + w.length, fsize);  // beyond: already a hole
    if (zeros.empty() && off < end) zeros.assign(kMiB, 0);
    while (off < end) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(end - off, kMiB));
      ASR_RETURN_IF_ERROR(file_->Write(off, zeros.data(), n, "log replay"));
      off += n;
    }
  }
  ASR_RETURN_IF_ERROR(file_->Sync());
  h = header_;
  h.log_guid = Guid();
  ASR_RETURN_IF_ERROR(WriteHeader(h));
  effective_size_ = file_->size();
  return absl::OkStatus();
}

absl::Status VhdxDisk::ReadFile(uint64_t offset, uint8_t* out, size_t length,
                                absl::string_view what) {
  if (overlay_.empty()) return file_->Read(offset, out, length, what);
  if (offset > effective_size_ || length > effective_size_ - offset) {
    return absl::OutOfRangeError(absl::StrCat(file_->path(), ": ", what, " at offset ", offset,
                                              " lies past the end of the file"));
  }
  uint64_t phys = file_->size();
  size_t n = offset >= phys ? 0 : static_cast<size_t>(std::min<uint64_t>(length, phys - offset));
  ASR_RETURN_IF_ERROR(file_->Read(offset, out, n, what));
  std::memset(out + n, 0, length - n);
  uint64_t end = offset + length;
  for (const VhdxLogWrite& w : overlay_) {
    uint64_t ws = w.file_offset, we = w.file_offset + w.length;
    uint64_t s = std::max(ws, offset), e = std::min(we, end);
    if (s >= e) continue;
    if (w.data.empty()) {
      std::memset(out + (s - offset), 0, e - s);
    } else {
      std::memcpy(out + (s - offset), w.data.data() + (s - ws), e - s);
    }
  }
  return absl::OkStatus();
}

absl::Status VhdxDisk::LoadRegions() {
  const std::string& path = file_->path();
  std::vector<uint8_t> raw(kVhdxRegionTableSize);
  ASR_RETURN_IF_ERROR(ReadFile(kVhdxRegionTable1Offset, raw.data(), raw.size(), "region table 1"));
  auto t1 = ParseVhdxRegionTable(raw.data());
  absl::StatusOr<std::vector<VhdxRegion>> table = t1;
  if (!t1.ok()) {
    ASR_RETURN_IF_ERROR(
        ReadFile(kVhdxRegionTable2Offset, raw.data(), raw.size(), "region table 2"));
    auto t2 = ParseVhdxRegionTable(raw.data());
    if (!t2.ok()) {
      return absl::Status(
          t1.status().code(),
          absl::StrCat(path, ": no valid region table (table 1: ", t1.status().message(),
                       "; table 2: ", t2.status().message(), ")"));
    }
    info_.warnings.push_back(absl::StrCat("region table 1 is invalid (", t1.status().message(),
                                          "); using region table 2"));
    table = std::move(t2);
  }
  bool have_bat = false, have_meta = false;
  std::vector<Range> ranges = {{0, kVhdxHeaderSectionSize, "header section"}};
  if (header_.log_length) {
    ranges.push_back({header_.log_offset, header_.log_offset + header_.log_length, "log"});
  }
  for (const VhdxRegion& r : *table) {
    std::string name;
    if (r.guid == VhdxBatRegionGuid()) {
      bat_offset_ = r.file_offset;
      bat_length_ = r.length;
      have_bat = true;
      name = "BAT region";
    } else if (r.guid == VhdxMetadataRegionGuid()) {
      metadata_offset_ = r.file_offset;
      metadata_length_ = r.length;
      have_meta = true;
      name = "metadata region";
    } else if (r.required) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, ": unknown required region ", r.guid.ToString(), "; cannot open"));
    } else {
      name = absl::StrCat("region ", r.guid.ToString());
    }
    if (r.file_offset > effective_size_ || effective_size_ - r.file_offset < r.length) {
      return absl::OutOfRangeError(
          absl::StrCat(path, ": ", name, " (", r.length, " bytes at offset ", r.file_offset,
                       ") lies past the end of the file (", effective_size_, " bytes)"));
    }
    ranges.push_back({r.file_offset, r.file_offset + r.length, name});
  }
  if (!have_bat || !have_meta) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": region table lacks the ", have_bat ? "metadata" : "BAT", " region"));
  }
  return CheckOverlaps(path, ranges);
}

absl::Status VhdxDisk::LoadMetadata() {
  const std::string& path = file_->path();
  std::string region(kVhdxMetadataTableSize, '\0');
  ASR_RETURN_IF_ERROR(ReadFile(metadata_offset_, reinterpret_cast<uint8_t*>(region.data()),
                               region.size(), "metadata table"));
  auto table =
      ParseVhdxMetadataTable(reinterpret_cast<const uint8_t*>(region.data()), metadata_length_);
  if (!table.ok()) return Annotate(table.status(), path);
  uint64_t end = kVhdxMetadataTableSize;
  for (const VhdxMetadataEntry& e : *table) {
    end = std::max<uint64_t>(end, static_cast<uint64_t>(e.offset) + e.length);
  }
  if (end > kMaxMetadataRead) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": metadata items extend to ", end, " bytes, implausibly far"));
  }
  region.resize(end);
  ASR_RETURN_IF_ERROR(ReadFile(metadata_offset_ + kVhdxMetadataTableSize,
                               reinterpret_cast<uint8_t*>(region.data()) + kVhdxMetadataTableSize,
                               end - kVhdxMetadataTableSize, "metadata items"));
  auto md = ParseVhdxMetadata(region);
  if (!md.ok()) return Annotate(md.status(), path);
  metadata_ = std::move(*md);
  info_.virtual_size = metadata_.virtual_size;
  info_.block_size = metadata_.block_size;
  info_.logical_sector_size = metadata_.logical_sector_size;
  info_.physical_sector_size = metadata_.physical_sector_size;
  info_.disk_id = metadata_.virtual_disk_id.ToString();
  info_.type = metadata_.has_parent               ? DiskType::kDifferencing
               : metadata_.leave_blocks_allocated ? DiskType::kFixed
                                                  : DiskType::kDynamic;
  geometry_ = ComputeVhdxGeometry(metadata_.virtual_size, metadata_.block_size,
                                  metadata_.logical_sector_size, metadata_.has_parent);
  return absl::OkStatus();
}

absl::Status VhdxDisk::LoadBat() {
  const std::string& path = file_->path();
  uint64_t needed = geometry_.bat_entries * 8;
  if (needed > bat_length_) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": BAT region (", bat_length_, " bytes) is too small for ",
                     geometry_.bat_entries, " entries (virtual size ", metadata_.virtual_size,
                     ", block size ", metadata_.block_size, ")"));
  }
  uint64_t padded = RoundUp(std::max<uint64_t>(needed, 8), kPage);
  std::vector<uint8_t> raw(padded);
  ASR_RETURN_IF_ERROR(ReadFile(bat_offset_, raw.data(), raw.size(), "BAT"));
  bat_.resize(padded / 8);
  for (size_t i = 0; i < bat_.size(); ++i) bat_[i] = LoadLe64(raw.data() + 8 * i);

  const uint64_t bs = metadata_.block_size;
  std::vector<Range> ranges = {
      {0, kVhdxHeaderSectionSize, "header section"},
      {bat_offset_, bat_offset_ + bat_length_, "BAT region"},
      {metadata_offset_, metadata_offset_ + metadata_length_, "metadata region"}};
  if (header_.log_length) {
    ranges.push_back({header_.log_offset, header_.log_offset + header_.log_length, "log"});
  }
  uint64_t end = RoundUp(effective_size_, kMiB);
  for (const Range& r : ranges) end = std::max(end, r.end);
  auto check_target = [&](uint64_t off, uint64_t len, const std::string& name) -> absl::Status {
    if (off < kVhdxHeaderSectionSize) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": BAT entry for ", name, " points into the header section (offset ", off, ")"));
    }
    if (off > effective_size_ || effective_size_ - off < len) {
      return absl::OutOfRangeError(
          absl::StrCat(path, ": BAT entry for ", name, " points to offset ", off,
                       ", past the end of the file (", effective_size_, " bytes)"));
    }
    ranges.push_back({off, off + len, name});
    end = std::max(end, off + len);
    return absl::OkStatus();
  };
  bool warned_sb = false;
  uint64_t chunks = DivRoundUp(geometry_.data_blocks, geometry_.chunk_ratio);
  for (uint64_t c = 0; c < chunks; ++c) {
    uint64_t idx = geometry_.BitmapIndex(c);
    if (idx >= geometry_.bat_entries) break;  // dynamic/fixed: last chunk has none
    uint64_t e = bat_[idx];
    uint8_t st = BatState(e);
    if (metadata_.has_parent) {
      if (st == kSbPresent) {
        ASR_RETURN_IF_ERROR(check_target(BatOffset(e), kVhdxSectorBitmapBlockSize,
                                         absl::StrCat("sector bitmap ", c)));
      } else if (st != kSbNotPresent) {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ": sector bitmap entry ", c, " has invalid state ", static_cast<int>(st)));
      }
    } else if (st != kSbNotPresent && !warned_sb) {
      info_.warnings.push_back("sector bitmap entries set in a non-differencing disk; ignored");
      warned_sb = true;
    }
  }
  for (uint64_t b = 0; b < geometry_.data_blocks; ++b) {
    uint64_t e = bat_[geometry_.PayloadIndex(b)];
    uint8_t st = BatState(e);
    switch (st) {
      case kPayloadNotPresent:
      case kPayloadUndefined:
      case kPayloadZero:
      case kPayloadUnmapped:
      case kPayloadUnmappedQemu:
        break;
      case kPayloadPartiallyPresent: {
        if (!metadata_.has_parent) {
          return absl::InvalidArgumentError(absl::StrCat(
              path, ": block ", b, " is partially present in a non-differencing disk"));
        }
        uint64_t sb = bat_[geometry_.BitmapIndex(b / geometry_.chunk_ratio)];
        if (BatState(sb) != kSbPresent) {
          return absl::InvalidArgumentError(
              absl::StrCat(path, ": block ", b, " is partially present but chunk ",
                           b / geometry_.chunk_ratio, " has no sector bitmap"));
        }
        ASR_RETURN_IF_ERROR(check_target(BatOffset(e), bs, absl::StrCat("block ", b)));
        break;
      }
      case kPayloadFullyPresent:
        ASR_RETURN_IF_ERROR(check_target(BatOffset(e), bs, absl::StrCat("block ", b)));
        break;
      default:
        return absl::InvalidArgumentError(absl::StrCat(
            path, ": BAT entry for block ", b, " has reserved state ", static_cast<int>(st)));
    }
  }
  ASR_RETURN_IF_ERROR(CheckOverlaps(path, ranges));
  next_free_ = RoundUp(end, kMiB);
  return absl::OkStatus();
}

absl::Status VhdxDisk::OpenParent(const OpenOptions& options, int depth) {
  const std::string& path = file_->path();
  const VhdxParentLocator& loc = *metadata_.parent_locator;
  if (loc.locator_type != VhdxParentLocatorTypeGuid()) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": parent locator type ", loc.locator_type.ToString(), " is not supported"));
  }
  const std::string* linkage = loc.Find("parent_linkage");
  if (linkage == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": parent locator lacks the required parent_linkage"));
  }
  auto link1 = Guid::Parse(*linkage);
  if (!link1.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": parent_linkage '", *linkage, "' is not a GUID"));
  }
  std::optional<Guid> link2;
  if (const std::string* l2 = loc.Find("parent_linkage2")) {
    auto g = Guid::Parse(*l2);
    if (g.ok()) link2 = *g;
  }
  std::string dir = DirName(path);
  std::vector<std::string> candidates;
  for (const char* key : {"relative_path", "volume_path", "absolute_win32_path"}) {
    const std::string* v = loc.Find(key);
    if (v == nullptr) continue;
    std::string local = internal::LocalizeStoredPath(*v);
    if (local.empty()) continue;
    if (std::string(key) == "relative_path") {
      if (local.rfind("./", 0) == 0) local = local.substr(2);
      if (local.empty() || local[0] != '/') local = JoinPath(dir, local);
    }
    candidates.push_back(local);
  }
  std::string found;
  for (const std::string& c : candidates) {
    if (PathExists(c)) {
      found = c;
      break;
    }
  }
  if (found.empty()) {
    return absl::NotFoundError(
        absl::StrCat(path, ": parent disk not found (tried: ",
                     candidates.empty() ? std::string("no usable path in the parent locator")
                                        : absl::StrJoin(candidates, ", "),
                     ")"));
  }
  ASR_ASSIGN_OR_RETURN(parent_, internal::OpenParentAtDepth(found, path, options, depth + 1));
  info_.parent_path = found;
  info_.parent_id = link1->ToString();
  if (parent_->info().format != DiskFormat::kVhdx) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": parent ", found, " is not a VHDX file"));
  }
  const std::string& pguid = parent_->info().data_write_guid;
  if (pguid != link1->ToString() && (!link2 || pguid != link2->ToString())) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": parent linkage mismatch: ", found, " has DataWriteGuid ", pguid,
                     " but this differencing disk expects ", link1->ToString(),
                     " (the parent was modified or is the wrong file)"));
  }
  if (parent_->logical_sector_size() != info_.logical_sector_size) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": logical sector size ", info_.logical_sector_size,
                     " differs from parent ", found, " (", parent_->logical_sector_size(), ")"));
  }
  if (parent_->virtual_size() != info_.virtual_size) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": virtual size ", info_.virtual_size,
                                                      " differs from parent ", found, " (",
                                                      parent_->virtual_size(), ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint8_t>*> VhdxDisk::BitmapPage(uint64_t chunk, uint64_t bit) {
  uint64_t sb = bat_[geometry_.BitmapIndex(chunk)];
  if (BatState(sb) != kSbPresent) {
    return absl::InternalError(
        absl::StrCat(file_->path(), ": chunk ", chunk, " has no sector bitmap"));
  }
  uint64_t off = BatOffset(sb) + (bit / 8) / kPage * kPage;
  auto it = bitmap_pages_.find(off);
  if (it != bitmap_pages_.end()) return &it->second;
  std::vector<uint8_t> page(kPage);
  ASR_RETURN_IF_ERROR(ReadFile(off, page.data(), kPage, "sector bitmap"));
  return &bitmap_pages_.emplace(off, std::move(page)).first->second;
}

absl::StatusOr<bool> VhdxDisk::SectorPresent(uint64_t block, uint64_t sector_in_block) {
  uint64_t spb = metadata_.block_size / metadata_.logical_sector_size;
  uint64_t bit = (block % geometry_.chunk_ratio) * spb + sector_in_block;
  ASR_ASSIGN_OR_RETURN(std::vector<uint8_t> * page, BitmapPage(block / geometry_.chunk_ratio, bit));
  return ((*page)[(bit / 8) % kPage] >> (bit % 8)) & 1;
}

absl::Status VhdxDisk::DoRead(uint64_t offset, uint8_t* out, size_t length) {
  const uint64_t bs = metadata_.block_size;
  const uint64_t lss = metadata_.logical_sector_size;
  while (length > 0) {
    uint64_t b = offset / bs;
    uint64_t in = offset % bs;
    size_t n = static_cast<size_t>(std::min<uint64_t>(length, bs - in));
    uint64_t e = bat_[geometry_.PayloadIndex(b)];
    switch (BatState(e)) {
      case kPayloadFullyPresent: {
        // Extend over following blocks stored right after this one.
        uint64_t k = 1;
        while (n < length) {
          uint64_t e2 = bat_[geometry_.PayloadIndex(b + k)];
          if (BatState(e2) != kPayloadFullyPresent || BatOffset(e2) != BatOffset(e) + k * bs) {
            break;
          }
          n += static_cast<size_t>(std::min<uint64_t>(length - n, bs));
          ++k;
        }
        ASR_RETURN_IF_ERROR(ReadFile(BatOffset(e) + in, out, n, "payload block"));
        break;
      }
      case kPayloadPartiallyPresent: {
        size_t done = 0;
        while (done < n) {
          uint64_t pos = in + done;
          uint64_t sector = pos / lss;
          ASR_ASSIGN_OR_RETURN(bool present, SectorPresent(b, sector));
          uint64_t run_end = (sector + 1) * lss;
          while (run_end < in + n) {
            ASR_ASSIGN_OR_RETURN(bool p2, SectorPresent(b, run_end / lss));
            if (p2 != present) break;
            run_end += lss;
          }
          size_t m = static_cast<size_t>(std::min<uint64_t>(run_end, in + n) - pos);
          if (present) {
            ASR_RETURN_IF_ERROR(ReadFile(BatOffset(e) + pos, out + done, m, "payload block"));
          } else {
            ASR_RETURN_IF_ERROR(ReadParent(offset + done, out + done, m));
          }
          done += m;
        }
        break;
      }
      case kPayloadNotPresent:
        ASR_RETURN_IF_ERROR(ReadParent(offset, out, n));
        break;
      default:  // undefined, zero, unmapped: zeros
        std::memset(out, 0, n);
        break;
    }
    offset += n;
    out += n;
    length -= n;
  }
  return absl::OkStatus();
}

absl::Status VhdxDisk::WriteHeader(const VhdxHeader& next) {
  VhdxHeader h = next;
  uint8_t raw[kVhdxHeaderSize];
  for (int pass = 0; pass < 2; ++pass) {
    h.sequence_number = header_.sequence_number + 1;
    SerializeVhdxHeader(h, raw);
    int slot = 1 - current_slot_;
    ASR_RETURN_IF_ERROR(file_->Write(slot == 0 ? kVhdxHeader1Offset : kVhdxHeader2Offset, raw,
                                     sizeof(raw), "header"));
    ASR_RETURN_IF_ERROR(file_->Sync());
    current_slot_ = slot;
    header_ = h;
  }
  info_.data_write_guid = header_.data_write_guid.ToString();
  return absl::OkStatus();
}

absl::Status VhdxDisk::BeginWrite() {
  if (session_started_) return absl::OkStatus();
  if (header_.log_length < 2 * kPage) {
    return absl::FailedPreconditionError(
        absl::StrCat(file_->path(), ": file has no usable log region; refusing to modify it"));
  }
  VhdxHeader h = header_;
  h.file_write_guid = Guid::Random();
  h.data_write_guid = Guid::Random();
  h.log_guid = Guid::Random();
  ASR_RETURN_IF_ERROR(WriteHeader(h));
  log_head_ = 0;
  log_sequence_ = 1;
  uint64_t fsize = file_->size();
  std::string entry = BuildVhdxLogEntry(header_.log_guid, log_sequence_, 0, fsize / kMiB * kMiB,
                                        RoundUp(fsize, kMiB), {}, {});
  ASR_RETURN_IF_ERROR(file_->Write(header_.log_offset, entry.data(), entry.size(), "log"));
  ASR_RETURN_IF_ERROR(file_->Sync());
  log_head_ = entry.size();
  ++log_sequence_;
  session_started_ = true;
  return absl::OkStatus();
}

absl::Status VhdxDisk::Commit() {
  if (dirty_bat_pages_.empty() && dirty_bitmap_pages_.empty()) return absl::OkStatus();
  ASR_RETURN_IF_ERROR(file_->Sync());  // payload data and file growth first
  struct Page {
    uint64_t offset;
    std::vector<uint8_t> data;
  };
  std::vector<Page> pages;
  for (uint64_t p : dirty_bat_pages_) {
    Page page{bat_offset_ + p * kPage, std::vector<uint8_t>(kPage)};
    for (size_t i = 0; i < kPage / 8; ++i) StoreLe64(page.data.data() + 8 * i, bat_[p * 512 + i]);
    pages.push_back(std::move(page));
  }
  for (uint64_t off : dirty_bitmap_pages_) pages.push_back({off, bitmap_pages_[off]});
  const uint64_t log_len = header_.log_length;
  const size_t max_pages = static_cast<size_t>(std::min<uint64_t>(126, log_len / kPage - 1));
  uint64_t fsize = file_->size();
  for (size_t first = 0; first < pages.size(); first += max_pages) {
    size_t count = std::min(max_pages, pages.size() - first);
    std::vector<VhdxLogPage> refs;
    for (size_t i = first; i < first + count; ++i) {
      refs.push_back({pages[i].offset, pages[i].data.data()});
    }
    uint64_t bytes = VhdxLogEntrySectors(count, 0) * kPage;
    if (log_head_ + bytes > log_len) log_head_ = 0;
    std::string entry =
        BuildVhdxLogEntry(header_.log_guid, log_sequence_, static_cast<uint32_t>(log_head_),
                          fsize / kMiB * kMiB, RoundUp(fsize, kMiB), {}, refs);
    ASR_RETURN_IF_ERROR(
        file_->Write(header_.log_offset + log_head_, entry.data(), entry.size(), "log"));
    ASR_RETURN_IF_ERROR(file_->Sync());
    for (size_t i = first; i < first + count; ++i) {
      ASR_RETURN_IF_ERROR(
          file_->Write(pages[i].offset, pages[i].data.data(), kPage, "metadata page"));
    }
    log_head_ = (log_head_ + bytes) % log_len;
    ++log_sequence_;
    if (first + count < pages.size()) ASR_RETURN_IF_ERROR(file_->Sync());
  }
  dirty_bat_pages_.clear();
  dirty_bitmap_pages_.clear();
  return absl::OkStatus();
}

absl::Status VhdxDisk::SetBatEntry(uint64_t index, uint64_t entry) {
  bat_[index] = entry;
  dirty_bat_pages_.insert(index * 8 / kPage);
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> VhdxDisk::AllocateSpace(uint64_t length) {
  uint64_t off = next_free_;
  if (off + length > (1ull << 63) / 2) {
    return absl::ResourceExhaustedError(absl::StrCat(file_->path(), ": file too large"));
  }
  next_free_ += length;
  if (file_->size() < next_free_) ASR_RETURN_IF_ERROR(file_->Truncate(next_free_));
  return off;
}

absl::Status VhdxDisk::DoWrite(uint64_t offset, const uint8_t* data, size_t length) {
  ASR_RETURN_IF_ERROR(BeginWrite());
  const uint64_t bs = metadata_.block_size;
  const uint64_t lss = metadata_.logical_sector_size;
  while (length > 0) {
    uint64_t b = offset / bs;
    uint64_t in = offset % bs;
    size_t n = static_cast<size_t>(std::min<uint64_t>(length, bs - in));
    uint64_t idx = geometry_.PayloadIndex(b);
    uint64_t e = bat_[idx];
    uint8_t st = BatState(e);
    bool set_bits = false;
    uint64_t base = 0;
    if (st == kPayloadFullyPresent || st == kPayloadPartiallyPresent) {
      base = BatOffset(e);
      set_bits = st == kPayloadPartiallyPresent;
    } else {
      bool reads_zero = !(metadata_.has_parent && st == kPayloadNotPresent);
      if (reads_zero && internal::IsAllZero(data, n)) {
        offset += n;
        data += n;
        length -= n;
        continue;
      }
      uint64_t block_end = std::min<uint64_t>((b + 1) * bs, metadata_.virtual_size);
      bool full = in == 0 && b * bs + n == block_end;
      if (!reads_zero && !full) {
        uint64_t chunk = b / geometry_.chunk_ratio;
        uint64_t sb_idx = geometry_.BitmapIndex(chunk);
        if (BatState(bat_[sb_idx]) != kSbPresent) {
          ASR_ASSIGN_OR_RETURN(uint64_t sb_off, AllocateSpace(kVhdxSectorBitmapBlockSize));
          ASR_RETURN_IF_ERROR(SetBatEntry(sb_idx, MakeBatEntry(kSbPresent, sb_off)));
        }
        ASR_ASSIGN_OR_RETURN(base, AllocateSpace(bs));
        ASR_RETURN_IF_ERROR(SetBatEntry(idx, MakeBatEntry(kPayloadPartiallyPresent, base)));
        set_bits = true;
      } else {
        ASR_ASSIGN_OR_RETURN(base, AllocateSpace(bs));
        ASR_RETURN_IF_ERROR(SetBatEntry(idx, MakeBatEntry(kPayloadFullyPresent, base)));
      }
    }
    ASR_RETURN_IF_ERROR(file_->Write(base + in, data, n, "payload block"));
    if (set_bits) {
      uint64_t spb = bs / lss;
      uint64_t chunk = b / geometry_.chunk_ratio;
      for (uint64_t s = in / lss; s < (in + n) / lss; ++s) {
        uint64_t bit = (b % geometry_.chunk_ratio) * spb + s;
        ASR_ASSIGN_OR_RETURN(std::vector<uint8_t> * page, BitmapPage(chunk, bit));
        uint8_t mask = static_cast<uint8_t>(1u << (bit % 8));
        uint8_t& byte = (*page)[(bit / 8) % kPage];
        if (!(byte & mask)) {
          byte |= mask;
          dirty_bitmap_pages_.insert(BatOffset(bat_[geometry_.BitmapIndex(chunk)]) +
                                     (bit / 8) / kPage * kPage);
        }
      }
    }
    offset += n;
    data += n;
    length -= n;
  }
  if (dirty_bat_pages_.size() + dirty_bitmap_pages_.size() >= kCommitThreshold) {
    ASR_RETURN_IF_ERROR(Commit());
  }
  info_.file_size = file_->size();
  return absl::OkStatus();
}

absl::Status VhdxDisk::DoAllocationMap(uint64_t offset, uint64_t length, std::vector<Extent>* out) {
  const uint64_t bs = metadata_.block_size;
  const uint64_t lss = metadata_.logical_sector_size;
  uint64_t end = offset + length;
  while (offset < end) {
    uint64_t b = offset / bs;
    uint64_t in = offset % bs;
    uint64_t n = std::min<uint64_t>(end - offset, bs - in);
    uint8_t st = BatState(bat_[geometry_.PayloadIndex(b)]);
    switch (st) {
      case kPayloadFullyPresent:
        AppendExtent(out, offset, n, ExtentState::kPresent);
        break;
      case kPayloadNotPresent:
        AppendExtent(out, offset, n, ExtentState::kAbsent);
        break;
      case kPayloadPartiallyPresent: {
        uint64_t pos = in;
        while (pos < in + n) {
          uint64_t sector = pos / lss;
          uint64_t next = std::min<uint64_t>((sector + 1) * lss, in + n);
          ASR_ASSIGN_OR_RETURN(bool present, SectorPresent(b, sector));
          AppendExtent(out, offset + (pos - in), next - pos,
                       present ? ExtentState::kPresent : ExtentState::kAbsent);
          pos = next;
        }
        break;
      }
      default:
        AppendExtent(out, offset, n, ExtentState::kZero);
        break;
    }
    offset += n;
  }
  return absl::OkStatus();
}

absl::Status VhdxDisk::DoFlush() {
  if (read_only_ || !session_started_) return absl::OkStatus();
  ASR_RETURN_IF_ERROR(Commit());
  return file_->Sync();
}

absl::Status VhdxDisk::DoClose() {
  if (read_only_ || !session_started_) return absl::OkStatus();
  ASR_RETURN_IF_ERROR(Commit());
  ASR_RETURN_IF_ERROR(file_->Sync());
  VhdxHeader h = header_;
  h.log_guid = Guid();
  return WriteHeader(h);
}

absl::StatusOr<std::unique_ptr<VirtualDisk>> VhdxDisk::Create(const std::string& path,
                                                              const CreateOptions& options,
                                                              std::unique_ptr<VirtualDisk> parent) {
  bool diff = options.type == DiskType::kDifferencing;
  uint64_t size = options.virtual_size;
  uint32_t lss = options.logical_sector_size;
  if (diff) {
    if (parent->info().format != DiskFormat::kVhdx) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": the parent of a differencing VHDX must be a VHDX file"));
    }
    size = parent->virtual_size();
    lss = parent->logical_sector_size();
  }
  uint32_t pss = options.physical_sector_size;
  if (lss != 512 && lss != 4096) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": logical sector size must be 512 or 4096 (got ", lss, ")"));
  }
  if (pss != 512 && pss != 4096) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": physical sector size must be 512 or 4096 (got ", pss, ")"));
  }
  if (size == 0 || size % lss != 0 || size > kVhdxMaxVirtualSize) {
    return absl::InvalidArgumentError(absl::StrCat(path,
                                                   ": VHDX size must be a non-zero multiple of ",
                                                   lss, " bytes up to 64 TiB (got ", size, ")"));
  }
  uint32_t bs = options.block_size ? options.block_size : (diff ? 2u << 20 : 32u << 20);
  if (bs < kVhdxMinBlockSize || bs > kVhdxMaxBlockSize || (bs & (bs - 1)) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": VHDX block size ", bs, " must be a power of two from 1 MiB to 256 MiB"));
  }
  VhdxGeometry g = ComputeVhdxGeometry(size, bs, lss, diff);
  const uint64_t log_off = kMiB, log_len = kMiB;
  const uint64_t meta_off = 2 * kMiB, meta_len = kMiB;
  const uint64_t bat_off = 3 * kMiB;
  const uint64_t bat_len = RoundUp(std::max<uint64_t>(g.bat_entries * 8, 1), kMiB);
  if (bat_len > 0xFFF00000ull) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": BAT would exceed 4 GiB"));
  }
  const uint64_t payload = bat_off + bat_len;
  uint64_t file_end = payload;
  std::vector<uint8_t> bat(bat_len, 0);
  if (options.type == DiskType::kFixed) {
    for (uint64_t b = 0; b < g.data_blocks; ++b) {
      StoreLe64(bat.data() + 8 * g.PayloadIndex(b),
                MakeBatEntry(kPayloadFullyPresent, payload + b * bs));
    }
    file_end = payload + g.data_blocks * bs;
  }

  // Metadata items.
  std::string items;
  std::vector<VhdxMetadataEntry> entries;
  auto add_item = [&](const Guid& id, const std::string& bytes, bool vdisk) {
    VhdxMetadataEntry e;
    e.item_id = id;
    e.offset = static_cast<uint32_t>(kVhdxMetadataTableSize + items.size());
    e.length = static_cast<uint32_t>(bytes.size());
    e.is_virtual_disk = vdisk;
    e.is_required = true;
    entries.push_back(e);
    items += bytes;
  };
  uint8_t buf[16];
  StoreLe32(buf, bs);
  StoreLe32(buf + 4, (options.type == DiskType::kFixed ? 1u : 0u) | (diff ? 2u : 0u));
  add_item(VhdxFileParametersGuid(), std::string(reinterpret_cast<char*>(buf), 8), false);
  StoreLe64(buf, size);
  add_item(VhdxVirtualDiskSizeGuid(), std::string(reinterpret_cast<char*>(buf), 8), true);
  Guid disk_id = Guid::Random();
  disk_id.CopyTo(buf);
  add_item(VhdxVirtualDiskIdGuid(), std::string(reinterpret_cast<char*>(buf), 16), true);
  StoreLe32(buf, lss);
  add_item(VhdxLogicalSectorSizeGuid(), std::string(reinterpret_cast<char*>(buf), 4), true);
  StoreLe32(buf, pss);
  add_item(VhdxPhysicalSectorSizeGuid(), std::string(reinterpret_cast<char*>(buf), 4), true);
  if (diff) {
    std::string ppath = internal::AbsolutePath(parent->path());
    std::string rel = internal::RelativePath(DirName(internal::AbsolutePath(path)), ppath);
    VhdxParentLocator loc;
    loc.locator_type = VhdxParentLocatorTypeGuid();
    loc.entries.push_back({"parent_linkage", parent->info().data_write_guid});
    loc.entries.push_back({"relative_path", absl::StrReplaceAll(rel, {{"/", "\\"}})});
    loc.entries.push_back(
        {"absolute_win32_path", "\\\\?\\" + absl::StrReplaceAll(ppath, {{"/", "\\"}})});
    add_item(VhdxParentLocatorGuid(), SerializeVhdxParentLocator(loc), false);
  }
  if (kVhdxMetadataTableSize + items.size() > meta_len) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": parent path too long"));
  }
  std::vector<uint8_t> meta(kVhdxMetadataTableSize + items.size());
  SerializeVhdxMetadataTable(entries, meta.data());
  std::memcpy(meta.data() + kVhdxMetadataTableSize, items.data(), items.size());

  std::vector<uint8_t> ident(64 * 1024, 0);
  std::memcpy(ident.data(), "vhdxfile", 8);
  std::string creator = Utf8ToUtf16("asr", false);
  std::memcpy(ident.data() + 8, creator.data(), creator.size());

  VhdxHeader h;
  h.file_write_guid = Guid::Random();
  h.data_write_guid = Guid::Random();
  h.log_length = static_cast<uint32_t>(log_len);
  h.log_offset = log_off;
  uint8_t raw_h[kVhdxHeaderSize];
  std::vector<uint8_t> regions(kVhdxRegionTableSize);
  SerializeVhdxRegionTable(
      {{VhdxBatRegionGuid(), bat_off, static_cast<uint32_t>(bat_len), 1},
       {VhdxMetadataRegionGuid(), meta_off, static_cast<uint32_t>(meta_len), 1}},
      regions.data());

  ASR_ASSIGN_OR_RETURN(auto file, DiskFile::Create(path, options.overwrite));
  ASR_RETURN_IF_ERROR(file->Truncate(file_end));
  if (options.type == DiskType::kFixed) file->Reserve(payload, file_end - payload);
  ASR_RETURN_IF_ERROR(file->Write(0, ident.data(), ident.size(), "file identifier"));
  h.sequence_number = 1;
  SerializeVhdxHeader(h, raw_h);
  ASR_RETURN_IF_ERROR(file->Write(kVhdxHeader1Offset, raw_h, sizeof(raw_h), "header 1"));
  h.sequence_number = 2;
  SerializeVhdxHeader(h, raw_h);
  ASR_RETURN_IF_ERROR(file->Write(kVhdxHeader2Offset, raw_h, sizeof(raw_h), "header 2"));
  ASR_RETURN_IF_ERROR(
      file->Write(kVhdxRegionTable1Offset, regions.data(), regions.size(), "region table 1"));
  ASR_RETURN_IF_ERROR(
      file->Write(kVhdxRegionTable2Offset, regions.data(), regions.size(), "region table 2"));
  ASR_RETURN_IF_ERROR(file->Write(meta_off, meta.data(), meta.size(), "metadata"));
  if (options.type == DiskType::kFixed) {
    ASR_RETURN_IF_ERROR(file->Write(bat_off, bat.data(), bat.size(), "BAT"));
  }
  ASR_RETURN_IF_ERROR(file->Sync());
  ASR_RETURN_IF_ERROR(FsyncDirectory(DirName(internal::AbsolutePath(path))));
  parent.reset();  // reopened (and re-verified) through the locator
  return Open(std::move(file), OpenMode::kReadWrite, OpenOptions(), 0);
}

}  // namespace asr::disk
