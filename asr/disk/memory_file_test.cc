// Opening a disk held in memory: DiskFile::FromFile and the OpenDisk overload
// that takes an open DiskFile.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "asr/common/testing/status_matchers.h"
#include "asr/disk/disk_file.h"
#include "asr/disk/test_util.h"
#include "asr/disk/virtual_disk.h"
#include "asr/platform/memory_env.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asr::disk {
namespace {

using ::asr::testing::StatusIs;
using ::testing::HasSubstr;
using testing::Pattern;
using testing::ReadAll;
using testing::ReadFileBytes;
using testing::TempPath;

class MemoryFileTest : public ::testing::TestWithParam<DiskFormat> {};

TEST_P(MemoryFileTest, OpensReadsAndWritesADiskInMemory) {
  const std::string path = TempPath(std::string("mem.") + DiskFormatName(GetParam()));
  CreateOptions c;
  c.format = GetParam();
  c.virtual_size = 8 << 20;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<VirtualDisk> made, CreateDisk(path, c));
  const std::vector<uint8_t> data = Pattern(64 << 10, 3);
  ASSERT_OK(made->WriteAt(1 << 20, data));
  ASSERT_OK(made->Close());
  const std::vector<uint8_t> expected = [&] {
    auto disk = OpenDisk(path, OpenMode::kReadOnly);
    EXPECT_OK(disk);
    return disk.ok() ? ReadAll(disk->get()) : std::vector<uint8_t>();
  }();

  auto bytes = std::make_shared<platform::MemoryFileData>(ReadFileBytes(path));
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<DiskFile> file,
      DiskFile::FromFile(std::make_unique<platform::MemoryFile>(bytes, true, true, 1), "in-memory",
                         /*writable=*/true));
  EXPECT_EQ(file->path(), "in-memory");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<VirtualDisk> disk,
                       OpenDisk(std::move(file), OpenMode::kReadWrite));
  EXPECT_EQ(ReadAll(disk.get()), expected);
  const std::vector<uint8_t> more = Pattern(4096, 9);
  ASSERT_OK(disk->WriteAt(0, more));
  ASSERT_OK(disk->Close());

  // The written image is a valid disk with the new data.
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<DiskFile> again,
      DiskFile::FromFile(std::make_unique<platform::MemoryFile>(bytes, true, false, 1), "again",
                         /*writable=*/false));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<VirtualDisk> reopened,
                       OpenDisk(std::move(again), OpenMode::kReadOnly));
  std::vector<uint8_t> all = ReadAll(reopened.get());
  EXPECT_EQ(std::vector<uint8_t>(all.begin(), all.begin() + 4096), more);
}

INSTANTIATE_TEST_SUITE_P(Formats, MemoryFileTest,
                         ::testing::Values(DiskFormat::kVhd, DiskFormat::kVhdx));

TEST(MemoryFileOpenTest, ReadOnlyFileCannotBeOpenedForWriting) {
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<DiskFile> file,
      DiskFile::FromFile(std::make_unique<platform::MemoryFile>(std::string(1 << 20, '\0')),
                         "zeros", /*writable=*/false));
  EXPECT_THAT(OpenDisk(std::move(file), OpenMode::kReadWrite),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("zeros")));
}

TEST(MemoryFileOpenTest, GarbageIsNotADisk) {
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<DiskFile> file,
      DiskFile::FromFile(std::make_unique<platform::MemoryFile>(std::string(4096, 'x')), "garbage",
                         /*writable=*/false));
  EXPECT_THAT(
      OpenDisk(std::move(file), OpenMode::kReadOnly),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("garbage: not a VHD or VHDX")));
}

}  // namespace
}  // namespace asr::disk
