// asr/common/crc32c.h: CRC-32C (Castagnoli), as used by VHDX and the state
// store's record framing. Uses the SSE4.2 instruction when the CPU has it.
//
//   uint32_t crc = asr::Crc32c(data, size);
//   crc = asr::Crc32cExtend(crc, more, more_size);
#ifndef ASR_COMMON_CRC32C_H_
#define ASR_COMMON_CRC32C_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace asr {

// Extends `crc` (the CRC-32C of earlier bytes; 0 for none) over `data`.
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t size);

inline uint32_t Crc32c(const void* data, size_t size) {
  return Crc32cExtend(0, data, size);
}
inline uint32_t Crc32c(absl::string_view data) {
  return Crc32cExtend(0, data.data(), data.size());
}

namespace internal {

// For tests and benchmarks: the table-driven path every CPU can take, and
// whether Crc32cExtend uses the SSE4.2 instruction instead.
uint32_t Crc32cExtendPortable(uint32_t crc, const void* data, size_t size);
bool Crc32cUsesHardware();

}  // namespace internal
}  // namespace asr

#endif  // ASR_COMMON_CRC32C_H_
