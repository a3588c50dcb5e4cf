// asr/disk/test_util.h: helpers for the virtual-disk tests: temp paths,
// running qemu-img/qemu-io, deterministic data, and an in-memory reference
// disk to compare against.
//
//   RefDisk ref(16 << 20);
//   ref.Write(disk.get(), 4096, Pattern(8192, 7));  // writes both
//   ExpectSameContent(disk.get(), ref);
#ifndef ASR_DISK_TEST_UTIL_H_
#define ASR_DISK_TEST_UTIL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "asr/disk/virtual_disk.h"

namespace asr::disk::testing {

// <dir>/<name> (removed first if it exists), where <dir> is one directory
// per test process made by asr::testing::TestDir (asr/common/test_dir.h).
std::string TempPath(const std::string& name);
// Runs a shell command; returns its exit status, output (stdout+stderr) in *out.
int RunCommand(const std::string& cmd, std::string* out = nullptr);
bool HaveQemu();
// Deterministic bytes seeded by `seed`.
std::vector<uint8_t> Pattern(size_t n, uint32_t seed);
std::string ReadFileBytes(const std::string& path);
void WriteFileBytes(const std::string& path, const std::string& bytes);
// Overwrites bytes in an existing file.
void PatchFile(const std::string& path, uint64_t offset, const void* data, size_t n);
uint64_t FileSize(const std::string& path);
void TruncateFile(const std::string& path, uint64_t size);

// The whole virtual content of a disk (small disks only).
std::vector<uint8_t> ReadAll(VirtualDisk* disk);

// A plain in-memory copy of what a disk should contain.
class RefDisk {
 public:
  explicit RefDisk(uint64_t size) : bytes_(size, 0) {}
  // Writes to `disk` (if not null) and to the reference; asserts success.
  void Write(VirtualDisk* disk, uint64_t offset, const std::vector<uint8_t>& data);
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  std::vector<uint8_t>& mutable_bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

// Index of the first differing byte, or -1.
int64_t FirstDifference(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b);

}  // namespace asr::disk::testing

#endif  // ASR_DISK_TEST_UTIL_H_
