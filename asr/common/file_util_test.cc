#include "asr/common/file_util.h"

#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace asr {
namespace {

using ::asr::testing::StatusIs;

using ::asr::testing::TestDir;

TEST(FileUtil, AtomicWriteThenRead) {
  std::string path = JoinPath(TestDir("atomic"), "atomic.txt");
  ASSERT_OK(WriteFileAtomically(path, "first"));
  ASSERT_OK(WriteFileAtomically(path, "second"));
  auto data = ReadFileToString(path);
  ASSERT_OK(data);
  EXPECT_EQ(*data, "second");
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// A secret is created 0600 and stays so when it replaces a looser file; a
// link planted at the temporary file's name is replaced, never followed.
TEST(FileUtil, AtomicWriteOfASecret) {
  const std::string dir = TestDir("secret");
  const std::string path = JoinPath(dir, "key.json");
  ASSERT_OK(WriteFileAtomically(path, "public"));
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  const std::string victim = JoinPath(dir, "victim");
  ASSERT_OK(WriteFileAtomically(victim, "untouched"));
  const std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  ASSERT_EQ(::symlink(victim.c_str(), tmp.c_str()), 0);

  ASSERT_OK(WriteFileAtomically(path, "secret", kSecretFileMode));
  EXPECT_EQ(ModeOf(path), 0600u);
  EXPECT_EQ(*ReadFileToString(path), "secret");
  EXPECT_EQ(*ReadFileToString(victim), "untouched");
  EXPECT_FALSE(PathExists(tmp));
}

TEST(FileUtil, MakeDirectoriesGivesTheModeToTheLastOnly) {
  const std::string base = TestDir("modes");
  const std::string dir = JoinPath(base, "outer/state");
  ASSERT_OK(MakeDirectories(dir, 0700));
  EXPECT_EQ(ModeOf(dir), 0700u);
  EXPECT_TRUE(PathExists(JoinPath(base, "outer")));
}

TEST(FileUtil, MissingFileIsNotFoundWithPath) {
  auto data = ReadFileToString("/nonexistent/dir/file");
  ASSERT_FALSE(data.ok());
  EXPECT_THAT(data.status(), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_NE(data.status().message().find("/nonexistent/dir/file"), absl::string_view::npos);
}

TEST(FileUtil, MakeDirectoriesNested) {
  std::string dir = JoinPath(TestDir("nested"), "a/b/c");
  ASSERT_OK(MakeDirectories(dir));
  EXPECT_TRUE(PathExists(dir));
  EXPECT_OK(MakeDirectories(dir));
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
