// The disk fingerprint: unchanged files compare equal, and each kind of
// outside change (a write by qemu-io, an in-place write, a replacement, a
// restore with older times, growth) is named; FIFOs and directories never
// hang the caller.
#include "asr/disk/disk_fingerprint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <future>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/disk/test_util.h"
#include "asr/disk/virtual_disk.h"
#include "gtest/gtest.h"

namespace asr::disk {
namespace {

using testing::TempPath;

std::string NewVhdx(const std::string& name) {
  std::string p = TempPath(name);
  CreateOptions o;
  o.format = DiskFormat::kVhdx;
  o.type = DiskType::kDynamic;
  o.virtual_size = 8 << 20;
  o.overwrite = true;
  auto d = CreateDisk(p, o);
  EXPECT_OK(d);
  if (d.ok()) {
    EXPECT_OK((*d)->Close());
  }
  return p;
}

TEST(DiskFingerprintTest, UnchangedFileComparesEqual) {
  std::string p = NewVhdx("fp-same.vhdx");
  auto a = TakeDiskFingerprint(p);
  ASSERT_OK(a);
  EXPECT_TRUE(a->verifiable);
  EXPECT_TRUE(a->vhdx);
  EXPECT_FALSE(a->data_write_guid.empty());
  // Reading the disk changes nothing.
  auto d = OpenDisk(p, OpenMode::kReadOnly);
  ASSERT_OK(d);
  std::vector<uint8_t> buf(4096);
  ASSERT_OK((*d)->ReadAt(0, absl::MakeSpan(buf)));
  d->reset();
  auto b = TakeDiskFingerprint(p);
  ASSERT_OK(b);
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(DescribeDiskChange(*a, *b, p), "");
}

TEST(DiskFingerprintTest, VhdxWriteChangesTheDataWriteGuid) {
  std::string p = NewVhdx("fp-write.vhdx");
  auto a = TakeDiskFingerprint(p);
  ASSERT_OK(a);
  {
    auto d = OpenDisk(p, OpenMode::kReadWrite);
    ASSERT_OK(d);
    std::vector<uint8_t> data(512, 7);
    ASSERT_OK((*d)->WriteAt(1 << 20, absl::MakeConstSpan(data)));
    ASSERT_OK((*d)->Close());
  }
  auto b = TakeDiskFingerprint(p);
  ASSERT_OK(b);
  EXPECT_NE(a->data_write_guid, b->data_write_guid);
  std::string why = DescribeDiskChange(*a, *b, p);
  EXPECT_TRUE(absl::StrContains(why, "DataWriteGuid")) << why;
  EXPECT_TRUE(absl::StrContains(why, p)) << why;
}

TEST(DiskFingerprintTest, QemuIoWriteIsSeen) {
  if (!testing::HaveQemu()) GTEST_SKIP() << "qemu-io is not installed";
  std::string p = NewVhdx("fp-qemu.vhdx");
  auto a = TakeDiskFingerprint(p);
  ASSERT_OK(a);
  std::string out;
  ASSERT_EQ(testing::RunCommand(absl::StrCat("qemu-io -f vhdx -c 'write -P 0x42 1M 64k' '", p, "'"),
                                &out),
            0)
      << out;
  auto b = TakeDiskFingerprint(p);
  ASSERT_OK(b);
  EXPECT_TRUE(absl::StrContains(DescribeDiskChange(*a, *b, p), "DataWriteGuid"));
}

TEST(DiskFingerprintTest, InPlaceWriteRightAfterTheFingerprintIsSeen) {
  // The same clock tick: the fingerprint waited until the clock passed the
  // file's change time, so an immediate write still changes it.
  std::string p = TempPath("fp-raw.img");
  testing::WriteFileBytes(p, std::string(65536, 'a'));
  for (int i = 0; i < 20; ++i) {
    auto a = TakeDiskFingerprint(p);
    ASSERT_OK(a);
    EXPECT_FALSE(a->vhdx);
    char c = static_cast<char>('b' + i);
    testing::PatchFile(p, 100, &c, 1);
    auto b = TakeDiskFingerprint(p);
    ASSERT_OK(b);
    std::string why = DescribeDiskChange(*a, *b, p);
    EXPECT_TRUE(absl::StrContains(why, "modified outside")) << i << ": " << why;
  }
}

TEST(DiskFingerprintTest, ReplacedFileIsNamed) {
  std::string p = TempPath("fp-replaced.img");
  testing::WriteFileBytes(p, std::string(4096, 'a'));
  auto a = TakeDiskFingerprint(p);
  ASSERT_OK(a);
  std::string q = p + ".new";
  testing::WriteFileBytes(q, std::string(4096, 'a'));
  ASSERT_EQ(::rename(q.c_str(), p.c_str()), 0);
  auto b = TakeDiskFingerprint(p);
  ASSERT_OK(b);
  EXPECT_TRUE(absl::StrContains(DescribeDiskChange(*a, *b, p), "replaced"));
}

TEST(DiskFingerprintTest, OlderModificationTimeMeansARestore) {
  std::string p = TempPath("fp-restored.img");
  testing::WriteFileBytes(p, std::string(4096, 'a'));
  auto a = TakeDiskFingerprint(p);
  ASSERT_OK(a);
  struct timespec times[2] = {{1000000000, 0}, {1000000000, 0}};  // 2001
  ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), times, 0), 0);
  auto b = TakeDiskFingerprint(p);
  ASSERT_OK(b);
  std::string why = DescribeDiskChange(*a, *b, p);
  EXPECT_TRUE(absl::StrContains(why, "modification time went back")) << why;
}

TEST(DiskFingerprintTest, GrowthIsNamed) {
  std::string p = NewVhdx("fp-grown.vhdx");
  auto a = TakeDiskFingerprint(p);
  ASSERT_OK(a);
  ASSERT_EQ(::truncate(p.c_str(), static_cast<off_t>(a->file_size + (1 << 20))), 0);
  auto b = TakeDiskFingerprint(p);
  ASSERT_OK(b);
  std::string why = DescribeDiskChange(*a, *b, p);
  EXPECT_TRUE(absl::StrContains(why, "grew from")) << why;
}

TEST(DiskFingerprintTest, FifoDirectoryAndMissingFileNeverHang) {
  std::string fifo = TempPath("fp-fifo");
  ::unlink(fifo.c_str());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto f = std::async(std::launch::async, [&] { return TakeDiskFingerprint(fifo); });
  ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready)
      << "fingerprinting a FIFO blocked";
  auto fp = f.get();
  ASSERT_OK(fp);
  EXPECT_FALSE(fp->verifiable);
  EXPECT_TRUE(absl::StrContains(DescribeDiskChange(*fp, *fp, fifo), "not a regular file"));
  EXPECT_TRUE(absl::IsInvalidArgument(TakeDiskFingerprint(TempPath("").c_str()).status()));
  EXPECT_TRUE(absl::IsNotFound(TakeDiskFingerprint(TempPath("fp-missing.img")).status()));
}

}  // namespace
}  // namespace asr::disk
