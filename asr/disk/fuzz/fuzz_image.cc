#include "asr/disk/fuzz/fuzz_image.h"

#include <algorithm>
#include <string>
#include <vector>

#include "asr/disk/disk_internal.h"
#include "asr/platform/env.h"

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

}  // namespace

void FuzzImage(const uint8_t* data, size_t size, DiskFormat format) {
  auto file = platform::CreateAnonymousFile("asr-fuzz");
  if (!file.ok() || !(*file)->Truncate(size).ok()) return;
  // Only non-zero pages are written, so large sparse images stay cheap.
  const size_t kPage = 4096;
  for (size_t off = 0; off < size; off += kPage) {
    size_t n = std::min(kPage, size - off);
    if (internal::IsAllZero(data + off, n)) continue;
    if (!platform::WriteFully(**file, off, data + off, n).ok()) break;
  }
  std::string path = "/proc/self/fd/" + std::to_string((*file)->native_handle());
  OpenOptions o;
  o.format = format;
  o.max_chain_depth = 2;
  if (auto d = OpenDisk(path, OpenMode::kReadOnly, o); d.ok()) Exercise(**d);
  // Read-write: log replay into the file, writes and the commit path.
  if (auto d = OpenDisk(path, OpenMode::kReadWrite, o); d.ok()) {
    std::vector<uint8_t> w(4096, 0xA5);
    if ((*d)->virtual_size() >= 2 * w.size()) {
      (void)(*d)->WriteAt(0, w);
      (void)(*d)->WriteAt((*d)->virtual_size() / 2 / 512 * 512, w);
    }
    Exercise(**d);
    (void)(*d)->Close();
  }
}

}  // namespace asr::disk::fuzz
