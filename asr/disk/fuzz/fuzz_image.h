// asr/disk/fuzz/fuzz_image.h: shared body of the VHD and VHDX fuzz targets:
// put the input bytes in a platform::MemoryFile (no file system, no system
// call per access) and open, map and read it as a disk image of the given
// format, read-only and read-write.
//
//   extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
//     asr::disk::fuzz::FuzzImage(data, size, asr::disk::DiskFormat::kVhdx);
//     return 0;
//   }
#ifndef ASR_DISK_FUZZ_FUZZ_IMAGE_H_
#define ASR_DISK_FUZZ_FUZZ_IMAGE_H_

#include <cstddef>
#include <cstdint>

#include "asr/disk/virtual_disk.h"

namespace asr::disk::fuzz {

// Never fails the process for bad input; only crashes/sanitizer reports count.
void FuzzImage(const uint8_t* data, size_t size, DiskFormat format);

}  // namespace asr::disk::fuzz

#endif  // ASR_DISK_FUZZ_FUZZ_IMAGE_H_
