// libFuzzer entry point for the VHD parser and reader.
#include "asr/disk/fuzz/fuzz_image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  asr::disk::fuzz::FuzzImage(data, size, asr::disk::DiskFormat::kVhd);
  return 0;
}
