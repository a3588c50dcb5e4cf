// asr/disk/vhdx_log.h: the VHDX metadata log (MS-VHDX 2.3): finding the
// active log sequence in a log region's bytes, turning it into the ordered
// list of writes a replay performs, and building log entries.
//
//   std::string log = ...;  // header.log_length bytes read at header.log_offset
//   ASR_ASSIGN_OR_RETURN(VhdxLogReplay r, FindVhdxLogReplay(log, header.log_guid));
//   if (r.found) for (const VhdxLogWrite& w : r.writes) { /* apply w */ }
//
// Pure functions over buffers; thread-compatible.
#ifndef ASR_DISK_VHDX_LOG_H_
#define ASR_DISK_VHDX_LOG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asr/disk/guid.h"

namespace asr::disk {

constexpr size_t kVhdxLogSector = 4096;

// One replayed update: `length` bytes at `file_offset`, either `data`
// (a 4 KiB page) or zeros when `data` is empty.
struct VhdxLogWrite {
  uint64_t file_offset = 0;
  uint64_t length = 0;
  std::string data;
};

struct VhdxLogReplay {
  bool found = false;              // an active sequence exists
  uint64_t head_sequence = 0;      // sequence number of its head entry
  uint64_t flushed_file_offset = 0;
  uint64_t last_file_offset = 0;
  size_t entry_count = 0;          // entries replayed (tail..head)
  std::vector<VhdxLogWrite> writes;  // in replay order
};

// Scans the circular log for entries carrying `log_guid`, finds the newest
// valid and complete sequence (each entry's CRC-32C, descriptor and data
// sector sequence numbers checked; consecutive sequence numbers; the head's
// tail inside the sequence) and returns its writes. InvalidArgument when the
// log size is not a non-zero multiple of 4 KiB; found=false when no valid
// sequence exists.
absl::StatusOr<VhdxLogReplay> FindVhdxLogReplay(absl::string_view log, const Guid& log_guid);

struct VhdxLogPage {
  uint64_t file_offset = 0;  // 4 KiB aligned
  const uint8_t* data = nullptr;  // 4096 bytes
};
struct VhdxLogZero {
  uint64_t file_offset = 0;  // 4 KiB aligned
  uint64_t length = 0;       // 4 KiB multiple
};

// Sectors an entry with these descriptors occupies.
size_t VhdxLogEntrySectors(size_t pages, size_t zeros);

// Builds one log entry (zero descriptors first, then data descriptors, then
// data sectors), with CRC-32C.
std::string BuildVhdxLogEntry(const Guid& log_guid, uint64_t sequence, uint32_t tail,
                              uint64_t flushed_file_offset, uint64_t last_file_offset,
                              const std::vector<VhdxLogZero>& zeros,
                              const std::vector<VhdxLogPage>& pages);

}  // namespace asr::disk

#endif  // ASR_DISK_VHDX_LOG_H_
