#include "asr/disk/fuzz/fuzz_image.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "asr/disk/disk_file.h"
#include "asr/platform/memory_env.h"

namespace asr::disk::fuzz {
namespace {

void Exercise(VirtualDisk& d) {
  uint64_t size = d.virtual_size();
  auto map = d.GetAllocationMap(0, size);
  (void)map;
  std::vector<uint8_t> buf(1 << 20);
  const uint64_t kLimit = 16 << 20;
  for (uint64_t off = 0; off < std::min(size, kLimit); off += buf.size()) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - off));
    if (!d.ReadAt(off, absl::MakeSpan(buf.data(), n)).ok()) break;
  }
  if (size > 4096) (void)d.ReadAt(size - 4096, absl::MakeSpan(buf.data(), 4096));
}

// The input as a disk file that lives in memory: no file system, no system
// call per read or write.
std::unique_ptr<VirtualDisk> OpenInMemory(const std::shared_ptr<platform::MemoryFileData>& bytes,
                                          OpenMode mode, const OpenOptions& options) {
  const bool writable = mode == OpenMode::kReadWrite;
  auto file = DiskFile::FromFile(
      std::make_unique<platform::MemoryFile>(bytes, /*readable=*/true, writable, /*inode=*/1),
      "fuzz-input", writable);
  if (!file.ok()) return nullptr;
  auto disk = OpenDisk(*std::move(file), mode, options);
  return disk.ok() ? *std::move(disk) : nullptr;
}

}  // namespace

void FuzzImage(const uint8_t* data, size_t size, DiskFormat format) {
  auto bytes = std::make_shared<platform::MemoryFileData>(
      std::string(reinterpret_cast<const char*>(data), size));
  OpenOptions o;
  o.format = format;
  o.max_chain_depth = 2;
  if (auto d = OpenInMemory(bytes, OpenMode::kReadOnly, o)) Exercise(*d);
  // Read-write: log replay into the file, writes and the commit path.
  if (auto d = OpenInMemory(bytes, OpenMode::kReadWrite, o)) {
    std::vector<uint8_t> w(4096, 0xA5);
    if (d->virtual_size() >= 2 * w.size()) {
      (void)d->WriteAt(0, w);
      (void)d->WriteAt(d->virtual_size() / 2 / 512 * 512, w);
    }
    Exercise(*d);
    (void)d->Close();
  }
}

}  // namespace asr::disk::fuzz
