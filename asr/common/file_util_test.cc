#include "asr/common/file_util.h"

#include "asr/common/test_dir.h"
#include "gtest/gtest.h"

namespace asr {
namespace {

using ::asr::testing::TestDir;

TEST(FileUtil, AtomicWriteThenRead) {
  std::string path = JoinPath(TestDir("atomic"), "atomic.txt");
  ASSERT_TRUE(WriteFileAtomically(path, "first").ok());
  ASSERT_TRUE(WriteFileAtomically(path, "second").ok());
  auto data = ReadFileToString(path);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(*data, "second");
}

TEST(FileUtil, MissingFileIsNotFoundWithPath) {
  auto data = ReadFileToString("/nonexistent/dir/file");
  ASSERT_FALSE(data.ok());
  EXPECT_EQ(data.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(data.status().message().find("/nonexistent/dir/file"), absl::string_view::npos);
}

TEST(FileUtil, MakeDirectoriesNested) {
  std::string dir = JoinPath(TestDir("nested"), "a/b/c");
  ASSERT_TRUE(MakeDirectories(dir).ok());
  EXPECT_TRUE(PathExists(dir));
  EXPECT_TRUE(MakeDirectories(dir).ok());
}

TEST(FileUtil, PathHelpers) {
  EXPECT_EQ(JoinPath("a/", "/b"), "a/b");
  EXPECT_EQ(JoinPath("a", "b"), "a/b");
  EXPECT_EQ(DirName("/x/y/z"), "/x/y");
  EXPECT_EQ(DirName("z"), ".");
  EXPECT_EQ(DirName("/z"), "/");
}

}  // namespace
}  // namespace asr
