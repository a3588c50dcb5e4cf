#include "asr/store/journal_store.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "asr/common/crc32c.h"
#include "asr/common/file_util.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/store/store.pb.h"
#include "gtest/gtest.h"

namespace asr::store {
namespace {

using ::asr::testing::StatusIs;

using ::asr::testing::TestPath;
using State = std::map<std::string, std::string>;

State Dump(const StateStore& s) {
  State out;
  for (auto& [k, v] : s.Scan("")) out[k] = v;
  return out;
}

std::unique_ptr<StateStore> MustOpen(const std::string& dir, JournalStoreOptions o = {}) {
  auto s = OpenJournalStore(dir, o);
  EXPECT_OK(s);
  return s.ok() ? std::move(*s) : nullptr;
}

void WriteRaw(const std::string& path, const std::string& bytes) {
  ASSERT_OK(WriteFileAtomically(path, bytes));
}

TEST(JournalStore, ReopenAfterCleanClose) {
  std::string dir = TestPath("clean");
  {
    auto s = MustOpen(dir);
    WriteBatch b;
    b.Put("cloud/a", "1");
    b.Put("cloud/b", "2");
    b.Put("vm/x", "3");
    ASSERT_OK(s->Commit(b));
    WriteBatch d;
    d.Delete("cloud/a");
    d.Put("cloud/b", "22");
    ASSERT_OK(s->Commit(d));
  }
  auto s = MustOpen(dir);
  EXPECT_EQ(Dump(*s), (State{{"cloud/b", "22"}, {"vm/x", "3"}}));
  auto missing = s->Get("cloud/a");
  EXPECT_THAT(missing.status(), StatusIs(absl::StatusCode::kNotFound));
  auto scanned = s->Scan("cloud/");
  ASSERT_EQ(scanned.size(), 1u);
  EXPECT_EQ(scanned[0].first, "cloud/b");
}

// Writes `n` batches, returning the state after each one and the journal's
// size at each record boundary.
struct History {
  std::vector<State> states;     // states[k]: after k batches
  std::vector<uint64_t> bounds;  // bounds[k]: journal size after k batches
  std::string journal;
  std::string snapshot;
};

History MakeHistory(const std::string& dir, int n) {
  History h;
  JournalStoreOptions o;
  o.compact_after_bytes = 0;
  auto s = MustOpen(dir, o);
  h.states.push_back(Dump(*s));
  h.bounds.push_back(ReadFileToString(JournalPath(dir, 1))->size());
  for (int i = 0; i < n; ++i) {
    WriteBatch b;
    b.Put(absl::StrCat("k", i % 4), std::string(10 + i * 7, static_cast<char>('a' + i)));
    if (i % 3 == 2) b.Delete(absl::StrCat("k", (i + 1) % 4));
    EXPECT_OK(s->Commit(b));
    h.states.push_back(Dump(*s));
    h.bounds.push_back(ReadFileToString(JournalPath(dir, 1))->size());
  }
  h.journal = *ReadFileToString(JournalPath(dir, 1));
  h.snapshot = *ReadFileToString(SnapshotPath(dir));
  return h;
}

TEST(JournalStore, CrashAtEveryByteRecoversTheCompletePrefix) {
  History h = MakeHistory(TestPath("hist"), 6);
  ASSERT_EQ(h.bounds.back(), h.journal.size());
  for (uint64_t cut = 0; cut <= h.journal.size(); ++cut) {
    std::string dir = TestPath("cut");
    ASSERT_OK(MakeDirectories(dir));
    WriteRaw(SnapshotPath(dir), h.snapshot);
    WriteRaw(JournalPath(dir, 1), h.journal.substr(0, cut));
    size_t complete = 0;
    while (complete + 1 < h.bounds.size() && h.bounds[complete + 1] <= cut) ++complete;
    {
      auto s = MustOpen(dir);
      ASSERT_NE(s, nullptr) << "cut at " << cut;
      EXPECT_EQ(Dump(*s), h.states[complete]) << "cut at " << cut;
      // The store keeps working after recovery: a new batch lands and survives.
      WriteBatch b;
      b.Put("after", absl::StrCat(cut));
      ASSERT_OK(s->Commit(b)) << "cut at " << cut;
    }
    auto s = MustOpen(dir);
    State want = h.states[complete];
    want["after"] = absl::StrCat(cut);
    EXPECT_EQ(Dump(*s), want) << "reopen after cut at " << cut;
  }
}

TEST(JournalStore, ReadOnlyOpenOfTornJournalLeavesFileAlone) {
  History h = MakeHistory(TestPath("ro-hist"), 3);
  std::string dir = TestPath("ro-torn");
  ASSERT_OK(MakeDirectories(dir));
  WriteRaw(SnapshotPath(dir), h.snapshot);
  std::string torn = h.journal.substr(0, h.journal.size() - 3);
  WriteRaw(JournalPath(dir, 1), torn);
  JournalStoreOptions ro;
  ro.read_only = true;
  auto s = MustOpen(dir, ro);
  EXPECT_EQ(Dump(*s), h.states[2]);
  EXPECT_EQ(*ReadFileToString(JournalPath(dir, 1)), torn);
  WriteBatch b;
  b.Put("x", "y");
  EXPECT_THAT(s->Commit(b), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(JournalStore, CorruptRecordBeforeTailIsDataLossWithFileAndOffset) {
  History h = MakeHistory(TestPath("corrupt-hist"), 5);
  // Flip one payload byte inside record 2 (of 5).
  uint64_t rec2 = h.bounds[1];
  std::string bad = h.journal;
  bad[rec2 + 8 + 2] ^= 0x40;
  std::string dir = TestPath("corrupt");
  ASSERT_OK(MakeDirectories(dir));
  WriteRaw(SnapshotPath(dir), h.snapshot);
  WriteRaw(JournalPath(dir, 1), bad);
  auto s = OpenJournalStore(dir, {});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status(), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_NE(s.status().message().find(JournalPath(dir, 1)), absl::string_view::npos) << s.status();
  EXPECT_NE(s.status().message().find(absl::StrCat("offset ", rec2)), absl::string_view::npos)
      << s.status();
  // Nothing was truncated: the evidence is kept.
  EXPECT_EQ(*ReadFileToString(JournalPath(dir, 1)), bad);
}

TEST(JournalStore, DamagedLengthBeforeTailIsDataLoss) {
  History h = MakeHistory(TestPath("len-hist"), 5);
  std::string bad = h.journal;
  bad[h.bounds[2] + 3] = '\x7f';  // record 3's length now runs past the end
  std::string dir = TestPath("len");
  ASSERT_OK(MakeDirectories(dir));
  WriteRaw(SnapshotPath(dir), h.snapshot);
  WriteRaw(JournalPath(dir, 1), bad);
  auto s = OpenJournalStore(dir, {});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status(), StatusIs(absl::StatusCode::kDataLoss)) << s.status();
}

TEST(JournalStore, CorruptSnapshotIsDataLoss) {
  std::string dir = TestPath("snap");
  {
    auto s = MustOpen(dir);
    WriteBatch b;
    b.Put("a", "b");
    ASSERT_OK(s->Commit(b));
    ASSERT_OK(s->Compact());
  }
  std::string snap = *ReadFileToString(SnapshotPath(dir));
  snap[snap.size() - 1] ^= 1;
  WriteRaw(SnapshotPath(dir), snap);
  auto s = OpenJournalStore(dir, {});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status(), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_NE(s.status().message().find("SNAPSHOT"), absl::string_view::npos);
}

TEST(JournalStore, SecondWriterInSameProcessIsRefusedWithPid) {
  std::string dir = TestPath("lock");
  auto first = MustOpen(dir);
  auto second = OpenJournalStore(dir, {});
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_NE(second.status().message().find(absl::StrCat("is in use by PID ", ::getpid())),
            absl::string_view::npos)
      << second.status();
  // Readers are welcome.
  JournalStoreOptions ro;
  ro.read_only = true;
  EXPECT_OK(OpenJournalStore(dir, ro));
  // Once the writer closes, the next one gets in.
  first.reset();
  EXPECT_OK(OpenJournalStore(dir, {}));
}

TEST(JournalStore, SecondWriterProcessIsRefused) {
  std::string dir = TestPath("lock-proc");
  auto first = MustOpen(dir);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    auto s = OpenJournalStore(dir, {});
    std::string msg = s.ok() ? "opened" : std::string(s.status().message());
    (void)!::write(fds[1], msg.data(), msg.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string got;
  char buf[512];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof(buf))) > 0) got.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_NE(got.find(absl::StrCat("is in use by PID ", ::getpid())), std::string::npos) << got;
}

TEST(JournalStore, NewerSchemaIsRefused) {
  std::string dir = TestPath("schema");
  ASSERT_OK(MakeDirectories(dir));
  { MustOpen(dir); }
  Snapshot snap;
  snap.set_schema_version(kSchemaVersion + 1);
  snap.set_journal_generation(1);
  // Frame it the way the store does: magic, length, crc(len||payload), payload.
  std::string payload = snap.SerializeAsString();
  std::string frame;
  uint32_t len = static_cast<uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) frame.push_back(static_cast<char>((len >> (8 * i)) & 0xFF));
  uint32_t crc = Crc32c(frame + payload);
  for (int i = 0; i < 4; ++i) frame.push_back(static_cast<char>((crc >> (8 * i)) & 0xFF));
  WriteRaw(SnapshotPath(dir), "ASRSNAP1" + frame + payload);
  auto s = OpenJournalStore(dir, {});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_NE(s.status().message().find("newer asr"), absl::string_view::npos) << s.status();
  EXPECT_NE(s.status().message().find(absl::StrCat("version ", kSchemaVersion + 1)),
            absl::string_view::npos);
}

TEST(JournalStore, CompactionKeepsStateAndStartsNewJournal) {
  std::string dir = TestPath("compact");
  JournalStoreOptions o;
  o.compact_after_bytes = 2000;  // compacts several times below
  State want;
  {
    auto s = MustOpen(dir, o);
    for (int i = 0; i < 200; ++i) {
      WriteBatch b;
      std::string k = absl::StrCat("key", i % 17);
      b.Put(k, std::string(50, static_cast<char>('A' + i % 26)));
      want[k] = std::string(50, static_cast<char>('A' + i % 26));
      ASSERT_OK(s->Commit(b));
    }
    EXPECT_FALSE(PathExists(JournalPath(dir, 1)));
  }
  auto s = MustOpen(dir, o);
  EXPECT_EQ(Dump(*s), want);
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// The snapshot and journal hold the vault's keys: the directory is 0700 and
// its files 0600 from creation, through commits and compactions; a writable
// open tightens looser modes found on disk and loses nothing.
TEST(JournalStore, StateDirectoryIsPrivate) {
  std::string dir = JoinPath(TestPath("private"), "state");
  JournalStoreOptions o;
  o.compact_after_bytes = 0;
  State want;
  {
    auto s = MustOpen(dir, o);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(ModeOf(dir), 0700u);
    EXPECT_EQ(ModeOf(SnapshotPath(dir)), 0600u);
    EXPECT_EQ(ModeOf(JournalPath(dir, 1)), 0600u);
    EXPECT_EQ(ModeOf(LockPath(dir)), 0600u);
    WriteBatch b;
    b.Put("vault-secrets/v1", "sealing key");
    want["vault-secrets/v1"] = "sealing key";
    ASSERT_OK(s->Commit(b));
    EXPECT_EQ(ModeOf(JournalPath(dir, 1)), 0600u);
    ASSERT_OK(s->Compact());
    EXPECT_EQ(ModeOf(SnapshotPath(dir)), 0600u);
    EXPECT_EQ(ModeOf(JournalPath(dir, 2)), 0600u);
  }
  // Modes loosened on disk (an older version, a copy, a permissive umask).
  ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);
  for (const std::string& f : {SnapshotPath(dir), JournalPath(dir, 2), LockPath(dir)}) {
    ASSERT_EQ(::chmod(f.c_str(), 0644), 0);
  }
  {
    // A read-only open changes nothing on disk.
    JournalStoreOptions ro;
    ro.read_only = true;
    auto s = MustOpen(dir, ro);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(ModeOf(dir), 0755u);
  }
  auto s = MustOpen(dir, o);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(ModeOf(dir), 0700u);
  EXPECT_EQ(ModeOf(SnapshotPath(dir)), 0600u);
  EXPECT_EQ(ModeOf(JournalPath(dir, 2)), 0600u);
  EXPECT_EQ(ModeOf(LockPath(dir)), 0600u);
  EXPECT_EQ(Dump(*s), want);
  // Stricter modes are kept, never widened.
  s.reset();
  ASSERT_EQ(::chmod(SnapshotPath(dir).c_str(), 0400), 0);
  s = MustOpen(dir, o);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(ModeOf(SnapshotPath(dir)), 0400u);
}

TEST(JournalStore, CrashBetweenSnapshotRenameAndNewJournal) {
  std::string dir = TestPath("compact-crash");
  {
    auto s = MustOpen(dir);
    WriteBatch b;
    b.Put("a", "1");
    ASSERT_OK(s->Commit(b));
    ASSERT_OK(s->Compact());
    WriteBatch c;
    c.Put("b", "2");
    ASSERT_OK(s->Commit(c));
  }
  // Simulate: the snapshot for generation 2 landed, journal-2 was never made,
  // and the stale journal-1 was not deleted yet.
  ASSERT_TRUE(PathExists(JournalPath(dir, 2)));
  std::string j2 = *ReadFileToString(JournalPath(dir, 2));
  ASSERT_EQ(::unlink(JournalPath(dir, 2).c_str()), 0);
  WriteRaw(JournalPath(dir, 1), j2);
  auto s = MustOpen(dir);
  EXPECT_EQ(Dump(*s), (State{{"a", "1"}}));
  EXPECT_FALSE(PathExists(JournalPath(dir, 1)));
  EXPECT_TRUE(PathExists(JournalPath(dir, 2)));
}

TEST(JournalStore, MissingDirectoryWithoutCreateIsNotFound) {
  JournalStoreOptions o;
  o.create_if_missing = false;
  auto s = OpenJournalStore(TestPath("absent"), o);
  EXPECT_THAT(s.status(), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(OpenJournalStore("", {}).status(), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace asr::store
