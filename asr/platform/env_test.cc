#include "asr/platform/env.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/platform/error.h"
#include "asr/platform/file.h"
#include "asr/platform/memory_env.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asr::platform {
namespace {

using ::asr::testing::IsOk;
using ::asr::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

OpenOptions CreateNew() {
  OpenOptions o;
  o.access = OpenOptions::Access::kReadWrite;
  o.create = true;
  o.exclusive = true;
  o.no_follow = true;
  return o;
}

// The same checks against the POSIX Env and the in-memory one.
class EnvTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam()) {
      memory_ = NewMemoryEnv();
      env_ = memory_.get();
      dir_ = "/t";
      ASSERT_OK(env_->MakeDirectory(dir_, 0755));
    } else {
      env_ = Env::Default();
      dir_ = asr::testing::TestDir("env");
    }
  }
  std::unique_ptr<Env> memory_;
  Env* env_ = nullptr;
  std::string dir_;
};

TEST_P(EnvTest, WriteReadSyncTruncateStat) {
  const std::string path = dir_ + "/a";
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> f, env_->Open(path, CreateNew()));
  ASSERT_OK(WriteFully(*f, 10, "hello", 5));
  char buf[16] = {};
  ASSERT_OK_AND_ASSIGN(size_t n, ReadFully(*f, 8, buf, sizeof(buf)));
  EXPECT_EQ(n, 7u);
  EXPECT_EQ(std::string(buf, 7), std::string("\0\0hello", 7));
  ASSERT_OK_AND_ASSIGN(size_t past, f->ReadAt(100, buf, 4));
  EXPECT_EQ(past, 0u);
  EXPECT_OK(f->Sync());
  EXPECT_OK(f->DataSync());
  ASSERT_OK(f->Truncate(12));
  ASSERT_OK_AND_ASSIGN(FileInfo info, f->Stat());
  EXPECT_EQ(info.type, FileType::kRegular);
  EXPECT_EQ(info.size, 12u);
  ASSERT_OK_AND_ASSIGN(FileInfo by_name, env_->Stat(path));
  EXPECT_EQ(by_name.inode, info.inode);
  EXPECT_EQ(by_name.device, info.device);
  ASSERT_OK_AND_ASSIGN(uint64_t end, f->SeekToEnd());
  EXPECT_EQ(end, 12u);
  EXPECT_OK(f->Close());
}

TEST_P(EnvTest, StartWritebackThroughAReadOnlyHandle) {
  const std::string path = dir_ + "/wb";
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> f, env_->Open(path, CreateNew()));
  const std::string data(256 << 10, 'w');
  ASSERT_OK(WriteFully(*f, 0, data.data(), data.size()));
  // As the receiver does: a second, read-only handle only starts writeback.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> ro, env_->Open(path, OpenOptions()));
  EXPECT_OK(ro->StartWriteback());
  EXPECT_OK(f->StartWriteback());
  EXPECT_OK(f->DataSync());
  ASSERT_OK_AND_ASSIGN(FileInfo info, ro->Stat());
  EXPECT_EQ(info.size, data.size());
  EXPECT_OK(ro->Close());
  EXPECT_OK(f->Close());
}

TEST_P(EnvTest, ExclusiveCreateRefusesAnExistingName) {
  const std::string path = dir_ + "/x";
  ASSERT_OK(env_->Open(path, CreateNew()).status());
  absl::Status again = env_->Open(path, CreateNew()).status();
  EXPECT_THAT(again, StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(ErrorKindOf(again), ErrorKind::kExists);
  EXPECT_THAT(
      AddContext(again, "cannot create " + path),
      StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("cannot create " + path + ": ")));
  EXPECT_EQ(ErrorKindOf(AddContext(again, "x")), ErrorKind::kExists);
}

TEST_P(EnvTest, MissingFileIsNotFound) {
  absl::Status s = env_->Open(dir_ + "/missing", OpenOptions()).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(ErrorKindOf(s), ErrorKind::kNotFound);
  EXPECT_THAT(env_->Stat(dir_ + "/missing"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(EnvTest, RenameUnlinkListAndDirectories) {
  ASSERT_OK(env_->Open(dir_ + "/one", CreateNew()).status());
  ASSERT_OK(env_->MakeDirectory(dir_ + "/sub", 0700));
  EXPECT_EQ(ErrorKindOf(env_->MakeDirectory(dir_ + "/sub", 0700)), ErrorKind::kExists);
  ASSERT_OK(env_->Rename(dir_ + "/one", dir_ + "/two"));
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> names, env_->ListDirectory(dir_));
  EXPECT_THAT(names, UnorderedElementsAre("two", "sub"));
  EXPECT_OK(env_->SyncDirectory(dir_));
  ASSERT_OK(env_->Unlink(dir_ + "/two"));
  EXPECT_THAT(env_->Unlink(dir_ + "/two"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(FileInfo sub, env_->Stat(dir_ + "/sub"));
  EXPECT_EQ(sub.type, FileType::kDirectory);
  ASSERT_OK_AND_ASSIGN(std::string tmp, env_->MakeTempDirectory(dir_ + "/tmp."));
  ASSERT_OK_AND_ASSIGN(FileInfo t, env_->Stat(tmp));
  EXPECT_EQ(t.type, FileType::kDirectory);
}

TEST_P(EnvTest, LocksConflictBetweenTwoOpenFiles) {
  OpenOptions o = CreateNew();
  o.exclusive = false;
  const std::string path = dir_ + "/lock";
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> a, env_->Open(path, o));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> b, env_->Open(path, o));
  ASSERT_OK(a->Lock(/*wait=*/false));
  EXPECT_EQ(ErrorKindOf(b->Lock(/*wait=*/false)), ErrorKind::kWouldBlock);
  ASSERT_OK(a->Close());
  EXPECT_OK(b->Lock(/*wait=*/false));
}

INSTANTIATE_TEST_SUITE_P(PosixAndMemory, EnvTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? std::string("Memory") : std::string("Posix");
                         });

// A child forked while the lock is held shares the open file until it
// execs; closing the file must still release the lock at once, or a
// reopen in this process finds the state "in use" by itself.
TEST(PosixEnvTest, ClosingReleasesTheLockThoughAForkedChildSharesTheFile) {
  const std::string path = asr::testing::TestPath("forked-lock");
  OpenOptions o;
  o.access = OpenOptions::Access::kReadWrite;
  o.create = true;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> a, Env::Default()->Open(path, o));
  ASSERT_OK(a->Lock(/*wait=*/false));
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // As a child between fork and exec: holds the descriptors, runs nothing.
    char byte;
    (void)read(go[0], &byte, 1);
    _exit(0);
  }
  ASSERT_OK(a->Close());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> b, Env::Default()->Open(path, o));
  EXPECT_OK(b->Lock(/*wait=*/false));
  // The same through the destructor.
  a = std::move(b);
  b.reset();
  a.reset();
  ASSERT_OK_AND_ASSIGN(b, Env::Default()->Open(path, o));
  EXPECT_OK(b->Lock(/*wait=*/false));
  ASSERT_EQ(write(go[1], "x", 1), 1);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  close(go[0]);
  close(go[1]);
}

TEST(PosixEnvTest, DirectReopenIsTheSameFile) {
  const std::string path = asr::testing::TestDir("direct") + "/d";
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> f, Env::Default()->Open(path, CreateNew()));
  absl::StatusOr<std::unique_ptr<File>> direct = f->OpenDirect();
  if (!direct.ok()) {
    EXPECT_EQ(ErrorKindOf(direct.status()), ErrorKind::kNotSupported) << direct.status();
    GTEST_SKIP() << "the file system refuses O_DIRECT";
  }
  ASSERT_OK_AND_ASSIGN(FileInfo a, f->Stat());
  ASSERT_OK_AND_ASSIGN(FileInfo b, (*direct)->Stat());
  EXPECT_EQ(a.inode, b.inode);
}

TEST(PosixEnvTest, NoFollowRefusesALink) {
  OpenOptions o;
  o.no_follow = true;
  // /proc/self is a symbolic link on Linux.
  EXPECT_EQ(ErrorKindOf(Env::Default()->Open("/proc/self", o).status()), ErrorKind::kLoop);
  ASSERT_OK_AND_ASSIGN(FileInfo l, Env::Default()->LinkStat("/proc/self"));
  EXPECT_EQ(l.type, FileType::kSymbolicLink);
}

TEST(PosixEnvTest, ProcessClockRandomAndMemory) {
  EXPECT_GT(ProcessId(), 0);
  EXPECT_GT(CoarseRealTimeNanos(), int64_t{1600000000} * 1000000000);
  unsigned char a[16] = {}, b[16] = {};
  ASSERT_TRUE(FillRandom(a, sizeof(a)));
  ASSERT_TRUE(FillRandom(b, sizeof(b)));
  EXPECT_NE(std::string(reinterpret_cast<char*>(a), 16),
            std::string(reinterpret_cast<char*>(b), 16));
  void* p = AllocateAligned(4096, 8192);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 4096, 0u);
  AdviseHugePages(p, 8192);
  FreeAligned(p);
  ASSERT_OK_AND_ASSIGN(std::string cwd, Env::Default()->CurrentDirectory());
  EXPECT_FALSE(cwd.empty());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> anon, CreateAnonymousFile("env-test"));
  EXPECT_OK(WriteFully(*anon, 0, "abc", 3));
  EXPECT_GE(anon->native_handle(), 0);
}

TEST(MemoryFileTest, HoldsBytesAndRefusesDirectIo) {
  MemoryFile f("abcdef");
  char buf[4] = {};
  ASSERT_OK_AND_ASSIGN(size_t n, f.ReadAt(4, buf, sizeof(buf)));
  EXPECT_EQ(std::string(buf, n), "ef");
  ASSERT_OK(WriteFully(f, 8, "zz", 2));
  EXPECT_EQ(f.Contents(), std::string("abcdef\0\0zz", 10));
  EXPECT_EQ(ErrorKindOf(f.OpenDirect().status()), ErrorKind::kNotSupported);
  EXPECT_EQ(f.native_handle(), -1);
  ASSERT_OK(f.Close());
  EXPECT_THAT(f.ReadAt(0, buf, 1), ::testing::Not(IsOk()));
}

}  // namespace
}  // namespace asr::platform
