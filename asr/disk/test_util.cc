#include "asr/disk/test_util.h"

#include <stdio.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include "asr/common/file_util.h"
#include "asr/common/test_dir.h"
#include "asr/platform/env.h"
#include "gtest/gtest.h"

namespace asr::disk::testing {

std::string TempPath(const std::string& name) {
  // One fresh directory per test process (asr::testing::TestDir), so that
  // parents and children made by one test sit side by side.
  static const std::string* const dir = new std::string(asr::testing::TestDir("disk"));
  std::string p = JoinPath(*dir, name);
  (void)platform::Env::Default()->Unlink(p);
  return p;
}

int RunCommand(const std::string& cmd, std::string* out) {
  FILE* f = ::popen((cmd + " 2>&1").c_str(), "r");
  if (f == nullptr) return -1;
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
  int status = ::pclose(f);
  if (out) *out = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool HaveQemu() {
  return RunCommand("qemu-img --version") == 0 && RunCommand("qemu-io --version") == 0;
}

std::vector<uint8_t> Pattern(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    v[i] = static_cast<uint8_t>(x);
  }
  return v;
}

std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFileBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void PatchFile(const std::string& path, uint64_t offset, const void* data, size_t n) {
  platform::OpenOptions o;
  o.access = platform::OpenOptions::Access::kWrite;
  auto file = platform::Env::Default()->Open(path, o);
  ASSERT_TRUE(file.ok()) << path << ": " << file.status();
  absl::Status s = platform::WriteFully(**file, offset, data, n);
  ASSERT_TRUE(s.ok()) << path << ": " << s;
}

uint64_t FileSize(const std::string& path) {
  auto st = platform::Env::Default()->Stat(path);
  return st.ok() ? st->size : 0;
}

void TruncateFile(const std::string& path, uint64_t size) {
  platform::OpenOptions o;
  o.access = platform::OpenOptions::Access::kWrite;
  auto file = platform::Env::Default()->Open(path, o);
  ASSERT_TRUE(file.ok()) << path << ": " << file.status();
  absl::Status s = (*file)->Truncate(size);
  ASSERT_TRUE(s.ok()) << path << ": " << s;
}

std::vector<uint8_t> ReadAll(VirtualDisk* disk) {
  std::vector<uint8_t> v(disk->virtual_size());
  absl::Status s = disk->ReadAt(0, absl::MakeSpan(v));
  EXPECT_TRUE(s.ok()) << s;
  return v;
}

void RefDisk::Write(VirtualDisk* disk, uint64_t offset, const std::vector<uint8_t>& data) {
  ASSERT_LE(offset + data.size(), bytes_.size());
  std::copy(data.begin(), data.end(), bytes_.begin() + static_cast<long>(offset));
  if (disk != nullptr) {
    absl::Status s = disk->WriteAt(offset, absl::MakeConstSpan(data));
    ASSERT_TRUE(s.ok()) << s;
  }
}

int64_t FirstDifference(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return static_cast<int64_t>(i);
  }
  return a.size() == b.size() ? -1 : static_cast<int64_t>(n);
}

}  // namespace asr::disk::testing
