// libFuzzer entry point for the block log reader (cycle journals and
// reverse deltas): BlockLogReader::Open over an in-memory file, then its
// records as a cycle's apply reads them (ForEachJournalEntry: blocks,
// zero ranges, block groups expanded) and as a restore reads a reverse
// delta's blocks (ReadData).
// The input's first byte chooses whether the header's and the records'
// checksums are repaired first (bit 0) so that most inputs reach the record
// parser; the rest is the log file.
#include <cstdint>
#include <memory>
#include <string>

#include "asr/common/crc32c.h"
#include "asr/platform/memory_env.h"
#include "asr/replication/block_log.h"
#include "asr/replication/replica_internal.h"

namespace {

constexpr size_t kHeaderSize = 36;
constexpr size_t kRecordHeaderSize = 34;

uint32_t Load32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}
void Store32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// Recomputes the header CRC, each record header's CRC and its payload CRC.
void Repair(std::string& s) {
  if (s.size() < kHeaderSize) return;
  uint8_t* b = reinterpret_cast<uint8_t*>(s.data());
  Store32(b + kHeaderSize - 4, asr::Crc32c(b, kHeaderSize - 4));
  size_t pos = kHeaderSize;
  while (s.size() - pos >= kRecordHeaderSize) {
    uint8_t* r = b + pos;
    size_t len = Load32(r + 22);
    size_t avail = s.size() - pos - kRecordHeaderSize;
    if (len > avail) len = avail;
    Store32(r + 26, asr::Crc32c(r + kRecordHeaderSize, len));
    Store32(r + 30, asr::Crc32c(r, kRecordHeaderSize - 4));
    pos += kRecordHeaderSize + len;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace asr::replication;
  if (size < 1) return 0;
  std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] & 1) Repair(bytes);
  auto r = BlockLogReader::Open(std::make_unique<asr::platform::MemoryFile>(std::move(bytes)),
                                "fuzz.blog");
  if (!r.ok()) return 0;
  (void)ForEachJournalEntry(
      **r, [](uint64_t, const uint8_t*, uint64_t) { return absl::OkStatus(); },
      [](uint64_t, uint64_t) { return absl::OkStatus(); });
  std::string out;
  for (const BlockLogRecord& rec : (*r)->records()) {
    if (rec.type == RecordType::kBlock) (void)(*r)->ReadData(rec, &out);
  }
  return 0;
}
