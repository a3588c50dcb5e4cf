#include "asr/common/test_dir.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "asr/common/file_util.h"
#include "asr/common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace asr::testing {
namespace {

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// rmdir(2) removes only an empty directory: true if `dir` was one (and is
// now gone).
bool RemoveIfEmpty(const std::string& dir) { return ::rmdir(dir.c_str()) == 0; }

std::string BaseName(const std::string& path) { return path.substr(path.rfind('/') + 1); }

TEST(TestDirTest, IsAnEmptyDirectoryUnderTestTmpdir) {
  std::string dir = TestDir("empty");
  EXPECT_TRUE(IsDirectory(dir)) << dir;
  const char* base = ::getenv("TEST_TMPDIR");
  ASSERT_NE(base, nullptr);
  EXPECT_EQ(DirName(dir), base);
  EXPECT_TRUE(RemoveIfEmpty(dir)) << dir;
}

TEST(TestDirTest, NameIsInTheDirectoryName) {
  std::string dir = TestDir("journal-store");
  EXPECT_EQ(BaseName(dir).rfind("journal-store.", 0), 0u) << dir;
}

TEST(TestDirTest, EveryCallGivesANewEmptyDirectory) {
  std::string first = TestDir("same");
  ASSERT_OK(WriteFileAtomically(JoinPath(first, "file"), "x"));
  std::string second = TestDir("same");
  EXPECT_NE(first, second);
  EXPECT_TRUE(IsDirectory(second));
  EXPECT_TRUE(PathExists(JoinPath(first, "file")));
  EXPECT_FALSE(RemoveIfEmpty(first)) << first;
  EXPECT_TRUE(RemoveIfEmpty(second)) << second;
}

TEST(TestDirTest, ConcurrentCallsGiveDistinctDirectories) {
  constexpr int kThreads = 4, kEach = 25;
  std::vector<std::vector<std::string>> made(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&made, t] {
      for (int i = 0; i < kEach; ++i) made[t].push_back(TestDir("threads"));
    });
  }
  for (std::thread& t : threads) t.join();
  std::set<std::string> all;
  for (const auto& dirs : made) all.insert(dirs.begin(), dirs.end());
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kEach));
  for (const std::string& dir : all) EXPECT_TRUE(IsDirectory(dir)) << dir;
}

TEST(TestDirTest, FallsBackToTmpWhenTestTmpdirIsUnset) {
  const char* base = ::getenv("TEST_TMPDIR");
  ASSERT_NE(base, nullptr);
  const std::string saved = base;
  ASSERT_EQ(::unsetenv("TEST_TMPDIR"), 0);
  std::string dir = TestDir("fallback");
  ASSERT_EQ(::setenv("TEST_TMPDIR", saved.c_str(), 1), 0);
  EXPECT_EQ(DirName(dir), "/tmp");
  EXPECT_TRUE(IsDirectory(dir)) << dir;
  EXPECT_TRUE(RemoveIfEmpty(dir)) << dir;  // also tidies up outside $TEST_TMPDIR
}

TEST(TestPathTest, DoesNotExistButItsParentIsANewEmptyDirectory) {
  std::string path = TestPath("state");
  EXPECT_FALSE(PathExists(path)) << path;
  EXPECT_EQ(BaseName(path), "state");
  std::string parent = DirName(path);
  EXPECT_TRUE(IsDirectory(parent)) << parent;
  EXPECT_EQ(BaseName(parent).rfind("state.", 0), 0u) << parent;
  EXPECT_NE(TestPath("state"), path);
  EXPECT_TRUE(RemoveIfEmpty(parent)) << parent;
}

}  // namespace
}  // namespace asr::testing
