// Direct (O_DIRECT) writes: a disk filled with EnableDirectWrites reads back
// exactly what was written, aligned or not, through asr and qemu-img alike,
// and its aligned data really went around the page cache.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/disk/disk_file.h"
#include "asr/disk/test_util.h"
#include "asr/disk/virtual_disk.h"
#include "gtest/gtest.h"

namespace asr::disk {
namespace {

using testing::TempPath;

struct FreeDeleter {
  void operator()(uint8_t* p) const { std::free(p); }
};
using AlignedPtr = std::unique_ptr<uint8_t[], FreeDeleter>;

AlignedPtr RandomAligned(size_t n, uint32_t seed) {
  AlignedPtr p(static_cast<uint8_t*>(std::aligned_alloc(DiskFile::kDirectAlignment, n)));
  std::mt19937 rng(seed);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(rng());
  return p;
}

// How many of the file's pages in [offset, offset+length) are in the page cache.
size_t ResidentPages(const std::string& path, uint64_t offset, uint64_t length) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return SIZE_MAX;
  void* map = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(offset));
  ::close(fd);
  if (map == MAP_FAILED) return SIZE_MAX;
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> vec((length + page - 1) / page);
  size_t resident = SIZE_MAX;
  if (::mincore(map, length, vec.data()) == 0) {
    resident = 0;
    for (unsigned char v : vec) resident += v & 1;
  }
  ::munmap(map, length);
  return resident;
}

class DirectWriteTest : public ::testing::TestWithParam<DiskFormat> {};

TEST_P(DirectWriteTest, ContentsAreExactAlignedOrNot) {
  const DiskFormat format = GetParam();
  const char* ext = format == DiskFormat::kVhdx  ? ".vhdx"
                    : format == DiskFormat::kVhd ? ".vhd"
                                                 : ".raw";
  const std::string path = TempPath(absl::StrCat("direct", ext));
  const uint64_t size = 16 << 20;
  CreateOptions co;
  co.format = format;
  co.type = format == DiskFormat::kRaw ? DiskType::kFixed : DiskType::kDynamic;
  co.virtual_size = size;
  co.overwrite = true;
  auto d = CreateDisk(path, co);
  ASSERT_OK(d);
  // ext4 and xfs take O_DIRECT; tmpfs before Linux 6.6 does not (then all
  // writes stay buffered and only the contents are checked).
  const bool direct = (*d)->EnableDirectWrites();
  std::vector<uint8_t> expected(size, 0);
  auto put = [&](uint64_t off, const uint8_t* p, size_t n) {
    absl::Status s = (*d)->WriteAt(off, absl::MakeConstSpan(p, n));
    ASSERT_OK(s);
    std::memcpy(expected.data() + off, p, n);
  };
  AlignedPtr big = RandomAligned(4 << 20, 1);
  put(0, big.get(), 4 << 20);                               // aligned: direct
  put(6 << 20, big.get() + 4096, 1 << 20);                  // aligned start inside the buffer
  put((8 << 20) + 512, big.get() + 7, 10000);               // unaligned everything: buffered
  put((9 << 20) + 4096, big.get() + 4096, 3 * 4096 + 100);  // aligned start, odd length
  put(100 << 10, big.get() + 8192, 8192);                   // rewrite inside direct-written data
  ASSERT_OK((*d)->Close());

  if (direct && format == DiskFormat::kRaw) {
    // The first 4 MiB were written around the page cache (only the rewrite
    // at 100 KiB, before the range checked here, went through it).
    size_t resident = ResidentPages(path, 1 << 20, 3 << 20);
    EXPECT_EQ(resident, 0u) << "direct-written pages are in the page cache";
  }

  OpenOptions oo;
  oo.format = format;
  auto r = OpenDisk(path, OpenMode::kReadOnly, oo);
  ASSERT_OK(r);
  std::vector<uint8_t> got(size);
  ASSERT_OK((*r)->ReadAt(0, absl::MakeSpan(got)));
  EXPECT_EQ(testing::FirstDifference(got, expected), -1);
  if (testing::HaveQemu()) {
    std::string raw = TempPath(absl::StrCat("direct-expected", ext, ".raw"));
    testing::WriteFileBytes(raw, std::string(expected.begin(), expected.end()));
    const char* fmt = format == DiskFormat::kVhdx  ? "vhdx"
                      : format == DiskFormat::kVhd ? "vpc"
                                                   : "raw";
    std::string out;
    int rc = testing::RunCommand(
        absl::StrCat("qemu-img compare -f ", fmt, " -F raw '", path, "' '", raw, "' 2>&1"), &out);
    EXPECT_EQ(rc, 0) << out;
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, DirectWriteTest,
                         ::testing::Values(DiskFormat::kVhdx, DiskFormat::kVhd, DiskFormat::kRaw),
                         [](const ::testing::TestParamInfo<DiskFormat>& i) {
                           return i.param == DiskFormat::kVhdx  ? std::string("Vhdx")
                                  : i.param == DiskFormat::kVhd ? std::string("Vhd")
                                                                : std::string("Raw");
                         });

TEST(DirectWriteFileTest, DirectWritesGoToTheOpenFileEvenAfterARename) {
  const std::string path = TempPath("direct-renamed.raw");
  const std::string moved = path + ".moved";
  auto f = DiskFile::Create(path, /*overwrite=*/true);
  ASSERT_OK(f);
  // Another file takes the old name before direct writes are enabled.
  ASSERT_EQ(std::rename(path.c_str(), moved.c_str()), 0);
  testing::WriteFileBytes(path, "someone else's file");
  const bool direct = (*f)->EnableDirectWrites();
  AlignedPtr data = RandomAligned(64 << 10, 5);
  ASSERT_OK((*f)->Write(0, data.get(), 64 << 10, "data"));
  ASSERT_OK((*f)->Sync());
  EXPECT_EQ(testing::ReadFileBytes(moved),
            std::string(reinterpret_cast<const char*>(data.get()), 64 << 10))
      << "direct writes " << (direct ? "on" : "off");
  EXPECT_EQ(testing::ReadFileBytes(path), "someone else's file");
}

TEST(DirectWriteFileTest, ReadOnlyFilesAndDevicesStayBuffered) {
  const std::string path = TempPath("direct-ro.raw");
  testing::WriteFileBytes(path, std::string(8192, 'x'));
  auto f = DiskFile::Open(path, /*writable=*/false);
  ASSERT_OK(f);
  EXPECT_FALSE((*f)->EnableDirectWrites());
  auto dev = DiskFile::Create("/dev/null", /*overwrite=*/false);
  ASSERT_OK(dev);
  EXPECT_FALSE((*dev)->EnableDirectWrites());
  AlignedPtr p = RandomAligned(8192, 3);
  EXPECT_OK((*dev)->Write(0, p.get(), 8192, "data"));
}

}  // namespace
}  // namespace asr::disk
