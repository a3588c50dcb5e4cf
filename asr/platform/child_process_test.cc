#include "asr/platform/child_process.h"

#include <algorithm>

#include "asr/common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace asr::platform {
namespace {

TEST(ChildProcessTest, LinesOutStdinClosedAndTheExitCode) {
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<ChildProcess> c,
      ChildProcess::Spawn("/bin/sh", {"-c",
                                      "echo LISTEN 127.0.0.1:1; echo two; cat >/dev/null; "
                                      "exit 3"}));
  ASSERT_OK_AND_ASSIGN(std::string line, c->ReadLine(absl::Seconds(10)));
  EXPECT_EQ(line, "LISTEN 127.0.0.1:1");
  ASSERT_OK_AND_ASSIGN(line, c->ReadLine(absl::Seconds(10)));
  EXPECT_EQ(line, "two");
  // Nothing more until stdin closes.
  EXPECT_EQ(c->ReadLine(absl::Milliseconds(100)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  c->CloseStdin();
  EXPECT_EQ(c->ReadLine(absl::Seconds(10)).status().code(), absl::StatusCode::kUnavailable);
  ASSERT_OK_AND_ASSIGN(ProcessResult r, c->Wait());
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(c->Wait().status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ChildProcessTest, AMissingProgramIsNotFoundAndAChildLeftRunningIsKilled) {
  EXPECT_EQ(ChildProcess::Spawn("/no/such/program", {}).status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ChildProcess> c,
                       ChildProcess::Spawn("/bin/sh", {"-c", "sleep 600"}));
  c.reset();  // killed and reaped, not waited for 10 minutes
}

TEST(ChildProcessTest, ThisProcessCpuThreadsAndMemory) {
  volatile double x = 0;
  for (int i = 0; i < 2000000; ++i) x = x + i * 0.5;
  EXPECT_GT(ProcessCpuSeconds(), 0);
  EXPECT_GT(ThreadCpuSeconds(), 0);
  std::vector<int> ids = ThreadIds();
  ASSERT_FALSE(ids.empty());
  EXPECT_GE(ThreadCpuSecondsOf(*std::min_element(ids.begin(), ids.end())), 0);
  MemoryUsage m = MemoryUsageOfSelf();
  EXPECT_GT(m.rss_kib, 0u);
  EXPECT_GE(m.peak_kib, m.rss_kib);
  ASSERT_OK_AND_ASSIGN(std::string self, SelfExecutablePath());
  EXPECT_NE(self.find("child_process_test"), std::string::npos);
}

}  // namespace
}  // namespace asr::platform
