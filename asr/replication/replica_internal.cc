#include "asr/replication/replica_internal.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asr/common/crc32c.h"
#include "asr/common/status_macros.h"

namespace asr::replication {

absl::Status ForPresent(disk::VirtualDisk& d, uint64_t off, uint64_t len,
                        const std::function<absl::Status(uint64_t, uint64_t)>& fn) {
  ASR_ASSIGN_OR_RETURN(std::vector<disk::Extent> map, d.GetAllocationMap(off, len));
  for (const disk::Extent& e : map) {
    if (e.state == disk::ExtentState::kPresent) {
      ASR_RETURN_IF_ERROR(fn(e.offset, e.length));
    } else if (e.state == disk::ExtentState::kAbsent && d.parent() != nullptr) {
      // A differencing replica (replica_overlay.h): its parent's data shows here.
      ASR_RETURN_IF_ERROR(ForPresent(*d.parent(), e.offset, e.length, fn));
    }
  }
  return absl::OkStatus();
}

absl::Status DecodeGroupData(absl::string_view payload, const BlockGroupHeader& h,
                             BlockDecompressor& dec, uint8_t* out) {
  ASR_RETURN_IF_ERROR(dec.Decode(h.codec, payload.substr(h.data_pos), out, h.raw_bytes));
  if (Crc32c(out, h.raw_bytes) != h.raw_crc) {
    return absl::DataLossError(absl::StrCat("block group at offset ",
                                            h.blocks.empty() ? 0 : h.blocks[0].offset,
                                            " fails its checksum after decoding"));
  }
  return absl::OkStatus();
}

absl::Status ForEachJournalEntry(
    const BlockLogReader& log,
    const std::function<absl::Status(uint64_t, const uint8_t*, uint64_t)>& on_block,
    const std::function<absl::Status(uint64_t, uint64_t)>& on_zero) {
  BlockDecompressor dec;
  std::string data, payload;
  for (const BlockLogRecord& rec : log.records()) {
    if (rec.type == RecordType::kZero) {
      ASR_RETURN_IF_ERROR(on_zero(rec.offset, rec.length));
    } else if (rec.type == RecordType::kBlock) {
      ASR_RETURN_IF_ERROR(log.ReadData(rec, &data));
      ASR_RETURN_IF_ERROR(
          on_block(rec.offset, reinterpret_cast<const uint8_t*>(data.data()), data.size()));
    } else {
      ASR_RETURN_IF_ERROR(log.ReadPayload(rec, &payload));
      ASR_ASSIGN_OR_RETURN(BlockGroupHeader h, DecodeBlockGroupHeader(payload));
      data.resize(h.raw_bytes);
      uint8_t* p = reinterpret_cast<uint8_t*>(data.data());
      ASR_RETURN_IF_ERROR(DecodeGroupData(payload, h, dec, p));
      for (const BlockGroupEntry& b : h.blocks) {
        ASR_RETURN_IF_ERROR(on_block(b.offset, p, b.length));
        p += b.length;
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace asr::replication
