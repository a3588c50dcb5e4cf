#include "asr/qemu/guest_agent_client.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/qemu/guest_freeze.h"
#include "gtest/gtest.h"

namespace asr::qemu {
namespace {

// How the fake agent behaves.
enum class Mode {
  kAnswer,       // answers everything (after stale bytes on each connection)
  kSilent,       // reads, never answers (a guest with no agent running)
  kFreezeHangs,  // answers the sync, never the freeze
  kFreezeFails,  // refuses the freeze
};

// A guest agent on a Unix socket in the test: it answers
// guest-sync-delimited with a 0xFF and the id, after stale answers a
// real port may hold (an old answer, an old sync with another id), and
// the fsfreeze commands from its own state. It records every command.
class FakeAgent {
 public:
  explicit FakeAgent(Mode mode) : mode_(mode) {
    char tmpl[] = "/tmp/qga-test.XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/qga.sock";
    fd_ = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a;
    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    memcpy(a.sun_path, path_.data(), path_.size());
    EXPECT_EQ(bind(fd_, reinterpret_cast<struct sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(listen(fd_, 4), 0);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeAgent() {
    stop_ = true;
    thread_.join();
    close(fd_);
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  const std::string& path() const { return path_; }
  std::vector<std::string> commands() {
    absl::MutexLock l(&mu_);
    return commands_;
  }
  bool frozen() {
    absl::MutexLock l(&mu_);
    return frozen_;
  }

 private:
  void Serve() {
    while (!stop_) {
      struct pollfd p = {fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      Handle(c);
      close(c);
    }
  }
  void Send(int c, const std::string& s) { (void)!write(c, s.data(), s.size()); }
  // One connection until the client closes it.
  void Handle(int c) {
    if (mode_ != Mode::kSilent) {
      Send(c, "{\"return\": 77}\n\xff{\"return\": 12345}\n");  // left by earlier clients
    }
    std::string buf;
    while (!stop_) {
      struct pollfd p = {c, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      char b[1024];
      ssize_t n = read(c, b, sizeof(b));
      if (n <= 0) return;
      buf.append(b, n);
      size_t nl;
      while ((nl = buf.find('\n')) != std::string::npos) {
        std::string line = buf.substr(0, nl);
        buf.erase(0, nl + 1);
        Answer(c, line);
      }
    }
  }
  void Answer(int c, const std::string& line) {
    // {"execute":"NAME"...}: the name, and the sync's id.
    size_t at = line.find("\"execute\":\"");
    if (at == std::string::npos) return;
    std::string name = line.substr(at + 11, line.find('"', at + 11) - at - 11);
    {
      absl::MutexLock l(&mu_);
      commands_.push_back(name);
    }
    if (mode_ == Mode::kSilent) return;
    if (name == "guest-sync-delimited") {
      size_t id = line.find("\"id\":");
      std::string digits;
      for (size_t i = id + 5; i < line.size() && isdigit(line[i]); ++i) digits += line[i];
      Send(c, absl::StrCat("\xff{\"return\": ", digits, "}\n"));
    } else if (name == "guest-ping") {
      Send(c, "{\"return\": {}}\n");
    } else if (name == "guest-fsfreeze-freeze") {
      if (mode_ == Mode::kFreezeHangs) return;
      if (mode_ == Mode::kFreezeFails) {
        Send(c,
             "{\"error\": {\"class\": \"GenericError\", \"desc\": \"fsfreeze hook has failed "
             "with status 1\"}}\n");
        return;
      }
      absl::MutexLock l(&mu_);
      frozen_ = true;
      Send(c, "{\"return\": 2}\n");
    } else if (name == "guest-fsfreeze-thaw") {
      absl::MutexLock l(&mu_);
      Send(c, absl::StrCat("{\"return\": ", frozen_ ? 2 : 0, "}\n"));
      frozen_ = false;
    } else if (name == "guest-fsfreeze-status") {
      absl::MutexLock l(&mu_);
      Send(c, absl::StrCat("{\"return\": \"", frozen_ ? "frozen" : "thawed", "\"}\n"));
    } else {
      Send(c, absl::StrCat("{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command ",
                           name, " has not been found\"}}\n"));
    }
  }

  const Mode mode_;
  std::string dir_, path_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<std::string> commands_ ABSL_GUARDED_BY(mu_);
  bool frozen_ ABSL_GUARDED_BY(mu_) = false;
};

GuestAgentOptions Quick() {
  GuestAgentOptions o;
  o.answer_timeout = absl::Milliseconds(400);
  o.freeze_timeout = absl::Milliseconds(600);
  o.thaw_timeout = absl::Milliseconds(400);
  return o;
}

TEST(GuestAgentClientTest, SkipsStaleAnswersUpToTheDelimiterAndRunsTheFreezeCommands) {
  FakeAgent fake(Mode::kAnswer);
  GuestAgentClient agent(fake.path(), "vm1", Quick());
  ASSERT_OK(agent.Ping());
  ASSERT_OK_AND_ASSIGN(std::string status, agent.FreezeStatus());
  EXPECT_EQ(status, "thawed");
  ASSERT_OK_AND_ASSIGN(int frozen, agent.Freeze());
  EXPECT_EQ(frozen, 2);
  ASSERT_OK_AND_ASSIGN(status, agent.FreezeStatus());
  EXPECT_EQ(status, "frozen");
  ASSERT_OK_AND_ASSIGN(int thawed, agent.Thaw());
  EXPECT_EQ(thawed, 2);
  ASSERT_OK_AND_ASSIGN(thawed, agent.Thaw());
  EXPECT_EQ(thawed, 0);
  // Every operation synchronized first, on a connection of its own.
  std::vector<std::string> c = fake.commands();
  ASSERT_EQ(c.size(), 12u);
  for (size_t i = 0; i < c.size(); i += 2) EXPECT_EQ(c[i], "guest-sync-delimited") << i;
  EXPECT_EQ(c[5], "guest-fsfreeze-freeze");
  // A command the agent does not know: its words.
  absl::StatusOr<google::protobuf::Value> unknown =
      agent.Execute("guest-exec", R"({"path":"/bin/true"})", absl::Seconds(1));
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(unknown.status().message(), "guest-exec has not been found"))
      << unknown.status();
}

TEST(GuestAgentClientTest, AGuestWithoutAnAgentIsReportedWithinTheLimitNotWaitedFor) {
  FakeAgent silent(Mode::kSilent);  // QEMU's socket, nothing in the guest reads the port
  GuestAgentClient agent(silent.path(), "vm1", Quick());
  const absl::Time t = absl::Now();
  absl::Status ping = agent.Ping();
  const absl::Duration took = absl::Now() - t;
  EXPECT_EQ(ping.code(), absl::StatusCode::kUnavailable) << ping;
  EXPECT_TRUE(absl::StrContains(ping.message(), "no guest agent answers in VM 'vm1'")) << ping;
  EXPECT_GE(took, absl::Milliseconds(350));
  EXPECT_LT(took, absl::Seconds(3));
  bool sent = true;
  EXPECT_FALSE(agent.Execute("guest-fsfreeze-freeze", "", absl::Seconds(1), &sent).ok());
  EXPECT_FALSE(sent);  // the guest never saw a freeze
  EXPECT_EQ(silent.commands(),
            std::vector<std::string>({"guest-sync-delimited", "guest-sync-delimited"}));

  // No socket at all (a VM started without the port, or not running).
  GuestAgentClient none("/tmp/no-such-dir-asr/qga.sock", "vm2", Quick());
  absl::Status gone = none.Ping();
  EXPECT_EQ(gone.code(), absl::StatusCode::kUnavailable) << gone;
  EXPECT_TRUE(absl::StrContains(gone.message(), "no guest agent answers in VM 'vm2'")) << gone;
}

TEST(GuestAgentClientTest, AFreezeThatHangsTimesOutAndIsThawed) {
  FakeAgent hangs(Mode::kFreezeHangs);
  GuestAgentClient agent(hangs.path(), "vm1", Quick());
  absl::StatusOr<int> f = agent.Freeze();
  EXPECT_EQ(f.status().code(), absl::StatusCode::kDeadlineExceeded) << f.status();
  EXPECT_TRUE(absl::StrContains(f.status().message(), "did not answer guest-fsfreeze-freeze"))
      << f.status();

  GuestFreezeOptions o;
  o.agent = Quick();
  o.thaw_retry_delay = absl::Milliseconds(10);
  absl::StatusOr<std::unique_ptr<GuestFreeze>> frozen =
      GuestFreeze::Freeze({{"vm1", hangs.path()}}, o);
  EXPECT_EQ(frozen.status().code(), absl::StatusCode::kFailedPrecondition) << frozen.status();
  EXPECT_TRUE(absl::StrContains(frozen.status().message(), "VM 'vm1'")) << frozen.status();
  EXPECT_TRUE(absl::StrContains(frozen.status().message(), "crash-consistent point"))
      << frozen.status();
  // The freeze reached the guest: it was thawed, lest it freeze late.
  EXPECT_EQ(hangs.commands().back(), "guest-fsfreeze-thaw");
}

TEST(GuestAgentClientTest, AGroupFreezeThawsTheGuestsFrozenWhenALaterOneFails) {
  FakeAgent good(Mode::kAnswer), bad(Mode::kFreezeFails), silent(Mode::kSilent);
  GuestFreezeOptions o;
  o.agent = Quick();
  o.thaw_retry_delay = absl::Milliseconds(10);
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<GuestFreeze> frozen,
                         GuestFreeze::Freeze({{"vm1", good.path()}}, o));
    EXPECT_TRUE(good.frozen());
    EXPECT_EQ(frozen->frozen_file_systems(), std::vector<int>({2}));
    // Destroyed without Thaw (an error path): thawed anyway.
  }
  EXPECT_FALSE(good.frozen());

  absl::StatusOr<std::unique_ptr<GuestFreeze>> r =
      GuestFreeze::Freeze({{"vm1", good.path()}, {"vm2", bad.path()}}, o);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(r.status().message(), "VM 'vm2'")) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), "fsfreeze hook has failed")) << r.status();
  EXPECT_FALSE(good.frozen());
  EXPECT_EQ(good.commands().back(), "guest-fsfreeze-thaw");

  // No agent in the second guest: nothing reached it, the first is thawed.
  const size_t silent_before = silent.commands().size();
  r = GuestFreeze::Freeze({{"vm1", good.path()}, {"vm3", silent.path()}}, o);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(r.status().message(), "VM 'vm3'")) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), "did not answer")) << r.status();
  EXPECT_FALSE(good.frozen());
  EXPECT_EQ(silent.commands().size(), silent_before + 1);  // one sync, no freeze, no thaw

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<GuestFreeze> both,
                       GuestFreeze::Freeze({{"vm1", good.path()}}, o));
  ASSERT_OK(both->Thaw());
  ASSERT_OK(both->Thaw());  // once
  EXPECT_FALSE(good.frozen());
  EXPECT_GT(both->held(), absl::ZeroDuration());
}

}  // namespace
}  // namespace asr::qemu
