#include "asr/platform/supervised_process.h"

#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace asr::platform {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(SupervisedProcessTest, RunsInItsDirectoryWithOutputToAFileAndIsPolledWithoutBlocking) {
  std::string dir = testing::TestDir("sup");
  SupervisedProcessOptions o;
  o.working_directory = dir;
  o.output_path = dir + "/out.log";
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<SupervisedProcess> p,
      SupervisedProcess::Start("/bin/sh", {"-c", "pwd; echo err >&2; touch here; exit 7"}, o));
  EXPECT_GT(p->pid(), 0);
  ASSERT_OK_AND_ASSIGN(ProcessResult r, p->WaitFor(absl::Seconds(30)));
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_EQ(ReadAll(dir + "/out.log"), dir + "\nerr\n");
  EXPECT_TRUE(std::ifstream(dir + "/here").good());
  ASSERT_TRUE(p->Poll().has_value());
  EXPECT_EQ(p->Poll()->exit_code, 7);
}

TEST(SupervisedProcessTest, ARunningChildTimesOutThenIsTerminatedOrKilled) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SupervisedProcess> p,
                       SupervisedProcess::Start("/bin/sleep", {"600"}));
  EXPECT_FALSE(p->Poll().has_value());
  absl::StatusOr<ProcessResult> r = p->WaitFor(absl::Milliseconds(50));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(r.status().message().find("still runs"), std::string::npos);
  p->Terminate();
  ASSERT_OK_AND_ASSIGN(ProcessResult t, p->WaitFor(absl::Seconds(30)));
  EXPECT_EQ(t.term_signal, SIGTERM);

  ASSERT_OK_AND_ASSIGN(p, SupervisedProcess::Start("/bin/sleep", {"600"}));
  ProcessResult k = p->Kill();
  EXPECT_EQ(k.term_signal, SIGKILL);
  EXPECT_EQ(p->Kill().term_signal, SIGKILL);  // again: the same result
  ASSERT_OK_AND_ASSIGN(p, SupervisedProcess::Start("/bin/sleep", {"600"}));
  p.reset();  // killed and reaped, not waited for
}

TEST(SupervisedProcessTest, AMissingProgramIsNotFound) {
  EXPECT_EQ(SupervisedProcess::Start("/no/such/program", {}).status().code(),
            absl::StatusCode::kNotFound);
}

// Listens on `path` (which must fit sockaddr_un) and returns the socket.
int Listen(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un a;
  memset(&a, 0, sizeof(a));
  a.sun_family = AF_UNIX;
  memcpy(a.sun_path, path.data(), path.size());
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&a), sizeof(a)) != 0) return -1;
  if (listen(fd, 4) != 0) return -1;
  return fd;
}

TEST(ConnectLocalSocketTest, ConnectsAlsoThroughALongPathAndSaysWhyNot) {
  std::string dir = testing::TestDir("sock");
  // A directory deep enough that the socket's path exceeds sockaddr_un.
  std::string deep = dir;
  while (deep.size() < 120) {
    deep += "/abcdefghijklmnopqrstuvwxyz";
    ASSERT_EQ(mkdir(deep.c_str(), 0700), 0);
  }
  std::string path = deep + "/s.sock";
  ASSERT_GT(path.size(), sizeof(sockaddr_un::sun_path));
  // Bind through the directory, as a child running in it would.
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
  ASSERT_EQ(chdir(deep.c_str()), 0);
  int listener = Listen("s.sock");
  ASSERT_EQ(chdir(cwd), 0);
  ASSERT_GE(listener, 0);

  ASSERT_OK_AND_ASSIGN(SocketHandle s, ConnectLocalSocket(path));
  int accepted = accept(listener, nullptr, nullptr);
  ASSERT_GE(accepted, 0);
  ASSERT_OK_AND_ASSIGN(size_t n, SocketSend(s, "hi", 2));
  EXPECT_EQ(n, 2u);
  char buf[2];
  ASSERT_EQ(read(accepted, buf, 2), 2);
  EXPECT_EQ(std::string(buf, 2), "hi");
  CloseSocket(s);
  close(accepted);
  close(listener);

  // Nothing listens any more: Unavailable; no file: NotFound.
  EXPECT_EQ(ConnectLocalSocket(path).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ConnectLocalSocket(dir + "/none.sock").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace asr::platform
