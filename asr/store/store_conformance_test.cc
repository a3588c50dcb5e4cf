// The state store's contract, run against both backends: the embedded
// journal store in a state directory and PostgreSQL (a real server this test
// starts). Crash tests kill a real writer process with SIGKILL.
//
// The binary is also its own child: "--writer LOCATION" commits numbered
// batches and prints "ACK n" after each Commit returned OK;
// "--paused-writer LOCATION LEASE_MS" opens, prints "OPEN epoch pid", waits
// for its standard input to close, commits once and prints the outcome.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <map>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/platform/child_process.h"
#include "asr/store/journal_store.h"
#include "asr/store/open_store.h"
#include "asr/store/pg_store.h"
#include "asr/store/testing/pg_server.h"
#include "gtest/gtest.h"

namespace asr::store {
namespace {

using ::asr::testing::StatusIs;
using State = std::map<std::string, std::string>;

State Dump(const StateStore& s) {
  State out;
  for (auto& [k, v] : s.Scan("")) out[k] = v;
  return out;
}

std::string SeqKey(int n) { return absl::StrFormat("n/%08d", n); }

// One server for the whole binary, started on first use and stopped at the
// end; every test gets a database of its own.
std::unique_ptr<testing::PgServer> g_server;
bool g_server_tried = false;

testing::PgServer* Server() {
  if (!g_server_tried) {
    g_server_tried = true;
    absl::StatusOr<std::unique_ptr<testing::PgServer>> s = testing::PgServer::StartPrimary("conf");
    if (s.ok()) {
      g_server = std::move(*s);
    } else {
      std::cerr << "cannot start PostgreSQL: " << s.status() << "\n";
    }
  }
  return g_server.get();
}

class StoreConformance : public ::testing::TestWithParam<std::string> {
 protected:
  bool pg() const { return GetParam() == "postgresql"; }

  // A fresh, empty place for a state.
  std::string NewLocation() {
    if (!pg()) return asr::testing::TestPath("state");
    testing::PgServer* server = Server();
    if (server == nullptr) {
      ADD_FAILURE() << "no PostgreSQL server";
      return "postgresql://nowhere/none";
    }
    static std::atomic<int> next{0};
    std::string db = absl::StrCat("t", ::getpid(), "_", next++);
    EXPECT_OK(server->CreateDatabase(db));
    return server->Uri(db);
  }

  static absl::StatusOr<std::unique_ptr<StateStore>> Open(const std::string& where,
                                                          bool read_only = false,
                                                          bool create = true) {
    StoreOpenOptions o;
    o.read_only = read_only;
    o.create_if_missing = create;
    return OpenStateStore(where, o);
  }

  static std::unique_ptr<StateStore> MustOpen(const std::string& where, bool read_only = false) {
    auto s = Open(where, read_only);
    EXPECT_OK(s);
    return s.ok() ? std::move(*s) : nullptr;
  }
};

TEST_P(StoreConformance, ReopenKeepsCommittedState) {
  std::string where = NewLocation();
  {
    auto s = MustOpen(where);
    ASSERT_NE(s, nullptr);
    WriteBatch b;
    b.Put("cloud/a", "1");
    b.Put("cloud/b", "2");
    b.Put("vm/x", "3");
    ASSERT_OK(s->Commit(b));
    WriteBatch d;
    d.Delete("cloud/a");
    d.Put("cloud/b", "22");
    ASSERT_OK(s->Commit(d));
    EXPECT_EQ(Dump(*s), (State{{"cloud/b", "22"}, {"vm/x", "3"}}));
  }
  auto s = MustOpen(where);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(Dump(*s), (State{{"cloud/b", "22"}, {"vm/x", "3"}}));
  EXPECT_THAT(s->Get("cloud/a").status(), StatusIs(absl::StatusCode::kNotFound));
  auto scanned = s->Scan("cloud/");
  ASSERT_EQ(scanned.size(), 1u);
  EXPECT_EQ(scanned[0].first, "cloud/b");
  EXPECT_OK(s->Compact());
}

// Keys are UTF-8 text (with NULs, multi-byte characters, mixed case) and
// values any bytes. Scan's order is byte order whatever the database's
// collation.
TEST_P(StoreConformance, BinaryKeysScanInByteOrder) {
  std::string where = NewLocation();
  const std::vector<std::string> keys = {
      std::string("a\0b", 3), "a", "B", "b", "\xf0\x9f\x98\x80", "\xc3\xa9t\xc3\xa9", "\x7f",
      std::string("\0", 1)};
  State want;
  {
    auto s = MustOpen(where);
    ASSERT_NE(s, nullptr);
    WriteBatch b;
    for (size_t i = 0; i < keys.size(); ++i) {
      std::string v = absl::StrCat(std::string("\0\xff", 2), i);
      b.Put(keys[i], v);
      want[keys[i]] = v;
    }
    ASSERT_OK(s->Commit(b));
  }
  auto s = MustOpen(where, /*read_only=*/true);
  ASSERT_NE(s, nullptr);
  std::vector<std::pair<std::string, std::string>> all = s->Scan("");
  std::vector<std::pair<std::string, std::string>> expected(want.begin(), want.end());
  EXPECT_EQ(all, expected);
  EXPECT_EQ(all.back().first, "\xf0\x9f\x98\x80");
  EXPECT_EQ(all[1].first, "B");
  auto high = s->Scan("\xf0");
  ASSERT_EQ(high.size(), 1u);
  EXPECT_EQ(high[0].first, "\xf0\x9f\x98\x80");
  auto a = s->Scan("a");
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].first, "a");
  EXPECT_EQ(a[1].first, std::string("a\0b", 3));
}

// A batch's operations apply in order: the last one on a key wins.
TEST_P(StoreConformance, LastOperationOnAKeyWins) {
  std::string where = NewLocation();
  {
    auto s = MustOpen(where);
    ASSERT_NE(s, nullptr);
    WriteBatch seed;
    seed.Put("j", "old");
    ASSERT_OK(s->Commit(seed));
    WriteBatch b;
    b.Put("k", "1");
    b.Delete("k");
    b.Put("k", "2");
    b.Delete("j");
    b.Put("j", "back");
    b.Delete("j");
    b.Put("m", "x");
    ASSERT_OK(s->Commit(b));
    EXPECT_EQ(Dump(*s), (State{{"k", "2"}, {"m", "x"}}));
  }
  auto s = MustOpen(where);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(Dump(*s), (State{{"k", "2"}, {"m", "x"}}));
}

TEST_P(StoreConformance, OneWriterManyReaders) {
  std::string where = NewLocation();
  auto writer = MustOpen(where);
  ASSERT_NE(writer, nullptr);
  WriteBatch b;
  b.Put("a", "1");
  ASSERT_OK(writer->Commit(b));

  auto second = Open(where);
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_NE(second.status().message().find("in use by"), absl::string_view::npos)
      << second.status();

  auto reader = MustOpen(where, /*read_only=*/true);
  ASSERT_NE(reader, nullptr);
  EXPECT_TRUE(reader->read_only());
  EXPECT_EQ(Dump(*reader), (State{{"a", "1"}}));
  WriteBatch c;
  c.Put("x", "y");
  EXPECT_THAT(reader->Commit(c), StatusIs(absl::StatusCode::kFailedPrecondition));

  // Once the writer closes, the next one gets in at once.
  writer.reset();
  auto next = MustOpen(where);
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(Dump(*next), (State{{"a", "1"}}));
  if (pg()) {
    EXPECT_EQ(static_cast<PgStateStore*>(next.get())->lease_epoch(), 2u);
  }
}

TEST_P(StoreConformance, MissingStateIsNotFoundWithoutCreate) {
  std::string where = NewLocation();
  EXPECT_THAT(Open(where, /*read_only=*/true).status(), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Open(where, /*read_only=*/false, /*create=*/false).status(),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_OK(Open(where));
  EXPECT_OK(Open(where, /*read_only=*/true));
}

TEST_P(StoreConformance, ConcurrentCommitsFromThreads) {
  std::string where = NewLocation();
  constexpr int kThreads = 6;
  constexpr int kEach = 40;
  {
    auto s = MustOpen(where);
    ASSERT_NE(s, nullptr);
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i) {
          WriteBatch b;
          b.Put(absl::StrCat("t", t, "/", i), absl::StrCat(i));
          b.Put(absl::StrCat("last/", t), absl::StrCat(i));
          if (!s->Commit(b).ok()) ++failures;
          (void)s->Scan(absl::StrCat("t", t, "/"));
        }
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(failures.load(), 0);
  }
  auto s = MustOpen(where, /*read_only=*/true);
  ASSERT_NE(s, nullptr);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(s->Scan(absl::StrCat("t", t, "/")).size(), static_cast<size_t>(kEach));
    EXPECT_EQ(*s->Get(absl::StrCat("last/", t)), absl::StrCat(kEach - 1));
  }
}

std::unique_ptr<platform::ChildProcess> SpawnSelf(const std::vector<std::string>& args) {
  absl::StatusOr<std::string> self = platform::SelfExecutablePath();
  EXPECT_OK(self);
  if (!self.ok()) return nullptr;
  auto child = platform::ChildProcess::Spawn(*self, args);
  EXPECT_OK(child);
  return child.ok() ? std::move(*child) : nullptr;
}

// A writer process killed with SIGKILL in the middle of its commits: every
// commit it saw acknowledged is there, the state is a prefix of what it
// wrote, and the next writer gets in.
TEST_P(StoreConformance, KilledWriterLosesNothingAcknowledged) {
  std::string where = NewLocation();
  auto child = SpawnSelf({"--writer", where});
  ASSERT_NE(child, nullptr);
  int acked = 0;
  while (acked < 60) {
    absl::StatusOr<std::string> line = child->ReadLine(absl::Seconds(60));
    ASSERT_OK(line);
    absl::string_view text = *line;
    if (absl::ConsumePrefix(&text, "ACK ")) {
      ASSERT_TRUE(absl::SimpleAtoi(text, &acked));
    } else {
      FAIL() << "the writer said: " << text;
    }
  }
  child.reset();  // SIGKILL, mid-stream

  // PostgreSQL sees the dead connection as soon as its backend reads the
  // closed socket; the lease is taken over then, without waiting it out.
  absl::StatusOr<std::unique_ptr<StateStore>> s = Open(where);
  for (absl::Time deadline = absl::Now() + absl::Seconds(5); !s.ok() && absl::Now() < deadline;) {
    absl::SleepFor(absl::Milliseconds(20));
    s = Open(where);
  }
  ASSERT_OK(s);
  std::vector<std::pair<std::string, std::string>> got = (*s)->Scan("n/");
  ASSERT_GE(got.size(), static_cast<size_t>(acked));
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].first, SeqKey(static_cast<int>(i) + 1)) << "a hole at " << i;
  }
  WriteBatch b;
  b.Put("after", "crash");
  EXPECT_OK((*s)->Commit(b));
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreConformance, ::testing::Values("journal", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

// --- PostgreSQL only ---------------------------------------------------------

std::string NewPgDatabase() {
  testing::PgServer* server = Server();
  if (server == nullptr) return "postgresql://nowhere/none";
  static std::atomic<int> next{0};
  std::string db = absl::StrCat("p", ::getpid(), "_", next++);
  EXPECT_OK(server->CreateDatabase(db));
  return server->Uri(db);
}

// A writer that stops (SIGSTOP: a long pause, a partition) keeps its lease
// only while it renews it. Once it expired, a new writer takes over with a
// higher epoch, and the old writer's commit after it wakes is refused by the
// fencing check and writes nothing.
TEST(PgStore, PausedWriterIsFencedAfterTakeover) {
  ASSERT_NE(Server(), nullptr);
  std::string uri = NewPgDatabase();
  auto child = SpawnSelf({"--paused-writer", uri, "1000"});
  ASSERT_NE(child, nullptr);
  absl::StatusOr<std::string> open = child->ReadLine(absl::Seconds(60));
  ASSERT_OK(open);
  std::vector<std::string> f = absl::StrSplit(*open, ' ');
  ASSERT_EQ(f.size(), 3u) << *open;
  ASSERT_EQ(f[0], "OPEN");
  EXPECT_EQ(f[1], "1");
  int pid = 0;
  ASSERT_TRUE(absl::SimpleAtoi(f[2], &pid));

  PgStoreOptions o;
  o.lease_duration = absl::Seconds(1);
  // A live writer renews: its lease outlasts its duration.
  absl::SleepFor(absl::Milliseconds(2500));
  auto refused = OpenPgStore(uri, o);
  EXPECT_THAT(refused.status(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_NE(refused.status().message().find("in use by asr process"), absl::string_view::npos)
      << refused.status();

  ASSERT_EQ(::kill(pid, SIGSTOP), 0);
  absl::SleepFor(absl::Milliseconds(1600));
  auto taken = OpenPgStore(uri, o);
  ASSERT_OK(taken);
  EXPECT_EQ((*taken)->lease_epoch(), 2u);
  WriteBatch mine;
  mine.Put("writer", "new");
  ASSERT_OK((*taken)->Commit(mine));

  ASSERT_EQ(::kill(pid, SIGCONT), 0);
  child->CloseStdin();
  absl::StatusOr<std::string> result = child->ReadLine(absl::Seconds(60));
  ASSERT_OK(result);
  EXPECT_NE(result->find("RESULT ABORTED"), std::string::npos) << *result;
  EXPECT_NE(result->find("another writer took the lease"), std::string::npos) << *result;
  EXPECT_NE(result->find("at epoch 2"), std::string::npos) << *result;

  PgStoreOptions ro;
  ro.read_only = true;
  auto reader = OpenPgStore(uri, ro);
  ASSERT_OK(reader);
  EXPECT_EQ(Dump(**reader), (State{{"writer", "new"}}));
}

// The server dies under an open writer: the commit in flight fails with
// Unavailable (its outcome unknown) and the store refuses every later commit
// until it is reopened; what it read stays readable.
TEST(PgStore, LostServerMakesTheWriterRefuseUntilReopened) {
  ASSERT_OK_AND_ASSIGN(auto server, testing::PgServer::StartPrimary("lost"));
  ASSERT_OK_AND_ASSIGN(auto store, OpenPgStore(server->Uri(), {}));
  WriteBatch b;
  b.Put("a", "1");
  ASSERT_OK(store->Commit(b));
  ASSERT_OK(server->Kill());
  WriteBatch c;
  c.Put("b", "2");
  absl::Status lost = store->Commit(c);
  EXPECT_THAT(lost, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_NE(lost.message().find("reopen the state"), absl::string_view::npos) << lost;
  EXPECT_THAT(store->Commit(c), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(*store->Get("a"), "1");
}

TEST(PgStore, ErrorsNameTheUriWithoutItsPassword) {
  EXPECT_EQ(RedactPostgresUri("postgresql://asr:s3cret@db1:5432/asr"),
            "postgresql://asr:***@db1:5432/asr");
  EXPECT_EQ(RedactPostgresUri("postgresql://asr@db1/asr?sslmode=require&password=s3cret"),
            "postgresql://asr@db1/asr?sslmode=require&password=***");
  EXPECT_EQ(RedactPostgresUri("postgres://db1/asr"), "postgres://db1/asr");
  EXPECT_TRUE(IsPostgresUri("postgresql://x/y"));
  EXPECT_TRUE(IsPostgresUri("postgres://x/y"));
  EXPECT_FALSE(IsPostgresUri("/var/lib/asr"));

  // Nothing listens on port 1.
  auto s = OpenPgStore("postgresql://asr:s3cret@127.0.0.1:1/asr", {});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_NE(s.status().message().find("postgresql://asr:***@127.0.0.1:1/asr"),
            absl::string_view::npos)
      << s.status();
  EXPECT_EQ(s.status().message().find("s3cret"), absl::string_view::npos) << s.status();
  EXPECT_THAT(OpenPgStore("/var/lib/asr", {}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// --- the child writers -------------------------------------------------------

int RunWriter(const std::string& where) {
  absl::StatusOr<std::unique_ptr<StateStore>> s = OpenStateStore(where, {});
  if (!s.ok()) {
    std::cout << "ERROR " << s.status() << std::endl;
    return 1;
  }
  for (int n = 1;; ++n) {
    WriteBatch b;
    b.Put(SeqKey(n), std::string(100, 'v'));
    if (absl::Status c = (*s)->Commit(b); !c.ok()) {
      std::cout << "ERROR " << c << std::endl;
      return 1;
    }
    std::cout << "ACK " << n << std::endl;
  }
}

int RunPausedWriter(const std::string& uri, int lease_ms) {
  PgStoreOptions o;
  o.lease_duration = absl::Milliseconds(lease_ms);
  absl::StatusOr<std::unique_ptr<PgStateStore>> s = OpenPgStore(uri, o);
  if (!s.ok()) {
    std::cout << "ERROR " << s.status() << std::endl;
    return 1;
  }
  std::cout << "OPEN " << (*s)->lease_epoch() << " " << ::getpid() << std::endl;
  (void)platform::StdinClosedWithin(absl::Minutes(5));
  WriteBatch b;
  b.Put("writer", "old");
  absl::Status c = (*s)->Commit(b);
  std::cout << "RESULT " << (c.ok() ? "OK" : absl::StatusCodeToString(c.code())) << " "
            << c.message() << std::endl;
  return 0;
}

}  // namespace
}  // namespace asr::store

int main(int argc, char** argv) {
  if (argc >= 3 && std::string(argv[1]) == "--writer") return asr::store::RunWriter(argv[2]);
  if (argc >= 4 && std::string(argv[1]) == "--paused-writer") {
    int lease_ms = 0;
    if (!absl::SimpleAtoi(argv[3], &lease_ms)) return 2;
    return asr::store::RunPausedWriter(argv[2], lease_ms);
  }
  ::testing::InitGoogleTest(&argc, argv);
  int rc = RUN_ALL_TESTS();
  asr::store::g_server.reset();
  return rc;
}
