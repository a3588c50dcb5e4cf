#include "asr/qemu/qmp_client.h"

#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "absl/time/clock.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/platform/supervised_process.h"
#include "gtest/gtest.h"

namespace asr::qemu {
namespace {

constexpr char kQemu[] = "/usr/bin/qemu-system-x86_64";

// A QEMU with no machine to run (-machine none), paused, with QMP in `dir`.
std::unique_ptr<platform::SupervisedProcess> StartQemu(const std::string& dir) {
  platform::SupervisedProcessOptions o;
  o.working_directory = dir;
  o.output_path = dir + "/qemu.log";
  auto p = platform::SupervisedProcess::Start(kQemu,
                                              {"-nodefaults", "-machine", "none", "-S", "-display",
                                               "none", "-qmp", "unix:qmp.sock,server=on,wait=off"},
                                              o);
  EXPECT_TRUE(p.ok()) << p.status() << " (install qemu-system-x86)";
  return p.ok() ? std::move(*p) : nullptr;
}

// Connects as soon as QEMU listens.
absl::StatusOr<std::unique_ptr<QmpClient>> ConnectSoon(const std::string& sock) {
  absl::Status last;
  for (int i = 0; i < 300; ++i) {
    absl::StatusOr<std::unique_ptr<QmpClient>> c = QmpClient::Connect(sock, absl::Seconds(10));
    if (c.ok()) return c;
    last = c.status();
    absl::SleepFor(absl::Milliseconds(20));
  }
  return last;
}

std::string StatusOf(QmpClient& qmp) {
  absl::StatusOr<google::protobuf::Value> v = qmp.Execute("query-status");
  if (!v.ok()) return std::string(v.status().message());
  const google::protobuf::Value* s = QmpField(*v, "status");
  return s == nullptr ? "?" : s->string_value();
}

TEST(QmpClientTest, NegotiatesRunsCommandsCollectsEventsAndReportsQuit) {
  std::string dir = testing::TestDir("qmp");
  auto qemu = StartQemu(dir);
  ASSERT_NE(qemu, nullptr);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<QmpClient> qmp, ConnectSoon(dir + "/qmp.sock"));
  EXPECT_FALSE(qmp->qemu_version().empty());
  EXPECT_EQ(StatusOf(*qmp), "prelaunch");

  ASSERT_OK(qmp->Execute("cont").status());
  ASSERT_OK_AND_ASSIGN(QmpEvent resume, qmp->WaitForEvent("RESUME", absl::Seconds(10)));
  EXPECT_GT(resume.time_us, 0);
  EXPECT_EQ(StatusOf(*qmp), "running");
  ASSERT_OK(qmp->Execute("stop").status());
  ASSERT_OK_AND_ASSIGN(QmpEvent stop, qmp->WaitForEvent("STOP", absl::Seconds(10)));
  EXPECT_GE(stop.time_us, resume.time_us);
  EXPECT_EQ(StatusOf(*qmp), "paused");

  // Refusals carry QEMU's class and description.
  absl::StatusOr<google::protobuf::Value> unknown = qmp->Execute("no-such-command");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(unknown.status().message().find("no-such-command"), std::string::npos);
  absl::StatusOr<google::protobuf::Value> bad =
      qmp->Execute("set_link", R"({"name":"nic9","up":false})");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kNotFound) << bad.status();
  absl::StatusOr<google::protobuf::Value> arg =
      qmp->Execute("human-monitor-command", R"({"command-line":)" + QmpQuote("info \"x") + "}");
  ASSERT_OK(arg.status());  // an unknown monitor command is text, not an error
  EXPECT_EQ(arg->kind_case(), google::protobuf::Value::kStringValue);

  // quit: the answer, then the connection ends; no call waits afterwards.
  ASSERT_OK(qmp->Execute("quit").status());
  ASSERT_OK(qemu->WaitFor(absl::Seconds(30)).status());
  absl::Time start = absl::Now();
  absl::StatusOr<google::protobuf::Value> after = qmp->Execute("query-status");
  EXPECT_EQ(after.status().code(), absl::StatusCode::kUnavailable) << after.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_TRUE(qmp->closed());
  // The events that came before the end are kept; then nothing more comes.
  ASSERT_OK_AND_ASSIGN(QmpEvent shutdown, qmp->WaitForEvent("SHUTDOWN", absl::Seconds(30)));
  EXPECT_GE(shutdown.time_us, stop.time_us);
  EXPECT_EQ(qmp->WaitForEvent("SHUTDOWN", absl::Seconds(30)).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST(QmpClientTest, AKilledQemuIsReportedNotWaitedFor) {
  std::string dir = testing::TestDir("qmp");
  auto qemu = StartQemu(dir);
  ASSERT_NE(qemu, nullptr);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<QmpClient> qmp, ConnectSoon(dir + "/qmp.sock"));
  EXPECT_EQ(StatusOf(*qmp), "prelaunch");
  qemu->Kill();
  absl::Time start = absl::Now();
  absl::StatusOr<google::protobuf::Value> r = qmp->Execute("query-status", "", absl::Minutes(5));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(QmpClient::Connect(dir + "/qmp.sock", absl::Seconds(5)).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(QmpClient::Connect(dir + "/none.sock", absl::Seconds(5)).status().code(),
            absl::StatusCode::kNotFound);
}

// A monitor that greets and negotiates, then never answers: every command
// has its own time limit.
TEST(QmpClientTest, ACommandWithoutAnAnswerTimesOut) {
  std::string dir = testing::TestDir("qmp");
  std::string path = dir + "/mute.sock";
  int listener = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a;
  memset(&a, 0, sizeof(a));
  a.sun_family = AF_UNIX;
  memcpy(a.sun_path, "mute.sock", 9);
  // Bound from inside `dir`: TEST_TMPDIR can be deeper than sockaddr_un allows.
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
  ASSERT_EQ(chdir(dir.c_str()), 0);
  int bound = bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  ASSERT_EQ(chdir(cwd), 0);
  ASSERT_EQ(bound, 0);
  ASSERT_EQ(listen(listener, 1), 0);
  std::thread server([listener] {
    int c = accept(listener, nullptr, nullptr);
    std::string greeting =
        R"({"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}}, "capabilities": []}})"
        "\r\n";
    (void)!write(c, greeting.data(), greeting.size());
    char buf[256];
    (void)!read(c, buf, sizeof(buf));  // qmp_capabilities
    std::string ok = "{\"return\": {}, \"id\": 0}\r\n";
    (void)!write(c, ok.data(), ok.size());
    while (read(c, buf, sizeof(buf)) > 0) {
    }
    close(c);
  });
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<QmpClient> qmp,
                         QmpClient::Connect(path, absl::Seconds(10)));
    EXPECT_EQ(qmp->qemu_version(), "7.2.0");
    absl::Time start = absl::Now();
    absl::StatusOr<google::protobuf::Value> r =
        qmp->Execute("query-status", "", absl::Milliseconds(300));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
    EXPECT_GE(absl::Now() - start, absl::Milliseconds(300));
    EXPECT_LT(absl::Now() - start, absl::Seconds(5));
    EXPECT_TRUE(qmp->closed());
    EXPECT_EQ(qmp->Execute("query-status").status().code(), absl::StatusCode::kUnavailable);
  }
  server.join();
  close(listener);
}

TEST(QmpQuoteTest, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(QmpQuote("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
}

}  // namespace
}  // namespace asr::qemu
