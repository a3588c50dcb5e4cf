#include "asr/disk/vhdx_log.h"

#include <cstring>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "asr/common/crc32c.h"
#include "asr/disk/byte_order.h"

namespace asr::disk {
namespace {

constexpr uint32_t kLogeSig = 0x65676F6C;
constexpr uint32_t kZeroSig = 0x6F72657A;
constexpr uint32_t kDescSig = 0x63736564;
constexpr uint32_t kDataSig = 0x61746164;

struct Entry {
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t tail = 0;
  uint64_t sequence = 0;
  uint64_t flushed = 0;
  uint64_t last = 0;
  std::vector<VhdxLogWrite> writes;
};

size_t DescriptorSectors(uint64_t count) {
  return count <= 126 ? 1 : 1 + static_cast<size_t>((count - 126 + 127) / 128);
}

// Parses the entry at `offset` (wrapping around the log end); nullopt if it
// is not a valid entry for `guid`.
std::optional<Entry> ParseEntry(absl::string_view log, uint64_t offset, const Guid& guid) {
  const uint64_t size = log.size();
  const auto* base = reinterpret_cast<const uint8_t*>(log.data());
  const uint8_t* h = base + offset;
  if (LoadLe32(h) != kLogeSig) return std::nullopt;
  Entry e;
  e.offset = offset;
  e.length = LoadLe32(h + 8);
  e.tail = LoadLe32(h + 12);
  e.sequence = LoadLe64(h + 16);
  uint32_t count = LoadLe32(h + 24);
  if (e.length == 0 || e.length % kVhdxLogSector != 0 || e.length > size) return std::nullopt;
  if (e.tail % kVhdxLogSector != 0 || e.tail >= size || e.sequence == 0) return std::nullopt;
  if (Guid::FromBytes(h + 32) != guid) return std::nullopt;
  e.flushed = LoadLe64(h + 48);
  e.last = LoadLe64(h + 56);
  uint64_t sectors = e.length / kVhdxLogSector;
  size_t desc_sectors = DescriptorSectors(count);
  if (desc_sectors > sectors) return std::nullopt;
  // Gather the entry, which may wrap around the end of the log.
  std::string bytes(e.length, '\0');
  for (uint64_t s = 0; s < sectors; ++s) {
    uint64_t at = (offset + s * kVhdxLogSector) % size;
    std::memcpy(&bytes[s * kVhdxLogSector], base + at, kVhdxLogSector);
  }
  auto* b = reinterpret_cast<uint8_t*>(bytes.data());
  uint32_t stored = LoadLe32(b + 4);
  std::memset(b + 4, 0, 4);
  if (Crc32c(b, bytes.size()) != stored) return std::nullopt;
  uint64_t data_sector = desc_sectors;
  for (uint32_t i = 0; i < count; ++i) {
    size_t pos = i < 126 ? 64 + 32 * i
                         : kVhdxLogSector * (1 + (i - 126) / 128) + 32 * ((i - 126) % 128);
    const uint8_t* d = b + pos;
    uint32_t sig = LoadLe32(d);
    if (LoadLe64(d + 24) != e.sequence) return std::nullopt;
    VhdxLogWrite w;
    w.file_offset = LoadLe64(d + 16);
    if (w.file_offset % kVhdxLogSector != 0) return std::nullopt;
    if (sig == kZeroSig) {
      w.length = LoadLe64(d + 8);
      if (w.length % kVhdxLogSector != 0 || w.file_offset + w.length < w.file_offset) {
        return std::nullopt;
      }
    } else if (sig == kDescSig) {
      if (data_sector >= sectors) return std::nullopt;
      const uint8_t* s = b + data_sector * kVhdxLogSector;
      if (LoadLe32(s) != kDataSig || LoadLe32(s + 4) != static_cast<uint32_t>(e.sequence >> 32) ||
          LoadLe32(s + 4092) != static_cast<uint32_t>(e.sequence)) {
        return std::nullopt;
      }
      w.length = kVhdxLogSector;
      w.data.assign(reinterpret_cast<const char*>(s), kVhdxLogSector);
      std::memcpy(&w.data[0], d + 8, 8);       // leading bytes
      std::memcpy(&w.data[4092], d + 4, 4);    // trailing bytes
      ++data_sector;
    } else {
      return std::nullopt;
    }
    e.writes.push_back(std::move(w));
  }
  return e;
}

}  // namespace

absl::StatusOr<VhdxLogReplay> FindVhdxLogReplay(absl::string_view log, const Guid& log_guid) {
  if (log.empty() || log.size() % kVhdxLogSector != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("log size ", log.size(), " is not a non-zero multiple of 4 KiB"));
  }
  std::map<uint64_t, Entry> valid;
  for (uint64_t off = 0; off < log.size(); off += kVhdxLogSector) {
    auto e = ParseEntry(log, off, log_guid);
    if (e.has_value()) valid.emplace(off, std::move(*e));
  }
  auto next_of = [&](const Entry& e) -> const Entry* {
    auto it = valid.find((e.offset + e.length) % log.size());
    if (it == valid.end() || it->second.sequence != e.sequence + 1) return nullptr;
    return &it->second;
  };
  // Entries that follow another entry of the sequence are not chain starts.
  std::map<uint64_t, bool> has_pred;
  for (const auto& [off, e] : valid) {
    if (const Entry* n = next_of(e)) has_pred[n->offset] = true;
  }
  VhdxLogReplay best;
  std::vector<const Entry*> best_chain;
  for (const auto& [off, e] : valid) {
    if (has_pred.count(off)) continue;
    std::vector<const Entry*> chain = {&e};
    while (chain.size() <= valid.size()) {
      const Entry* n = next_of(*chain.back());
      if (n == nullptr) break;
      chain.push_back(n);
    }
    const Entry* head = chain.back();
    size_t tail_index = chain.size();
    for (size_t i = 0; i < chain.size(); ++i) {
      if (chain[i]->offset == head->tail) {
        tail_index = i;
        break;
      }
    }
    if (tail_index == chain.size()) continue;  // head's tail not in this sequence
    if (!best.found || head->sequence > best.head_sequence) {
      best.found = true;
      best.head_sequence = head->sequence;
      best.flushed_file_offset = head->flushed;
      best.last_file_offset = head->last;
      best_chain.assign(chain.begin() + static_cast<long>(tail_index), chain.end());
    }
  }
  for (const Entry* e : best_chain) {
    for (const VhdxLogWrite& w : e->writes) best.writes.push_back(w);
  }
  best.entry_count = best_chain.size();
  return best;
}

size_t VhdxLogEntrySectors(size_t pages, size_t zeros) {
  return DescriptorSectors(pages + zeros) + pages;
}

std::string BuildVhdxLogEntry(const Guid& log_guid, uint64_t sequence, uint32_t tail,
                              uint64_t flushed_file_offset, uint64_t last_file_offset,
                              const std::vector<VhdxLogZero>& zeros,
                              const std::vector<VhdxLogPage>& pages) {
  size_t count = zeros.size() + pages.size();
  size_t desc_sectors = DescriptorSectors(count);
  std::string out((desc_sectors + pages.size()) * kVhdxLogSector, '\0');
  auto* b = reinterpret_cast<uint8_t*>(out.data());
  StoreLe32(b, kLogeSig);
  StoreLe32(b + 8, static_cast<uint32_t>(out.size()));
  StoreLe32(b + 12, tail);
  StoreLe64(b + 16, sequence);
  StoreLe32(b + 24, static_cast<uint32_t>(count));
  log_guid.CopyTo(b + 32);
  StoreLe64(b + 48, flushed_file_offset);
  StoreLe64(b + 56, last_file_offset);
  auto desc_at = [&](size_t i) -> uint8_t* {
    return b + (i < 126 ? 64 + 32 * i
                        : kVhdxLogSector * (1 + (i - 126) / 128) + 32 * ((i - 126) % 128));
  };
  size_t i = 0;
  for (const VhdxLogZero& z : zeros) {
    uint8_t* d = desc_at(i++);
    StoreLe32(d, kZeroSig);
    StoreLe64(d + 8, z.length);
    StoreLe64(d + 16, z.file_offset);
    StoreLe64(d + 24, sequence);
  }
  for (size_t k = 0; k < pages.size(); ++k) {
    uint8_t* d = desc_at(i++);
    const uint8_t* page = pages[k].data;
    StoreLe32(d, kDescSig);
    std::memcpy(d + 4, page + 4092, 4);
    std::memcpy(d + 8, page, 8);
    StoreLe64(d + 16, pages[k].file_offset);
    StoreLe64(d + 24, sequence);
    uint8_t* s = b + (desc_sectors + k) * kVhdxLogSector;
    std::memcpy(s, page, kVhdxLogSector);
    StoreLe32(s, kDataSig);
    StoreLe32(s + 4, static_cast<uint32_t>(sequence >> 32));
    StoreLe32(s + 4092, static_cast<uint32_t>(sequence));
  }
  StoreLe32(b + 4, Crc32c(b, out.size()));
  return out;
}

}  // namespace asr::disk
