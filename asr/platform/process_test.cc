// RunProcess: output, exit codes, the time limit and the environment a
// program gets.
#include "asr/platform/process.h"

#include <cstdlib>

#include "asr/common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asr::platform {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(RunProcessTest, TheProgramGetsThisEnvironmentWithTheOptionsVariables) {
  setenv("ASR_PROCESS_TEST_INHERITED", "kept", 1);
  setenv("ASR_PROCESS_TEST_REPLACED", "old", 1);
  RunProcessOptions o;
  o.environment["ASR_PROCESS_TEST_REPLACED"] = "new value";
  o.environment["ASR_PROCESS_TEST_ADDED"] = "{\"vm\": \"VM1\"}";
  ASSERT_OK_AND_ASSIGN(ProcessResult r, RunProcess("/usr/bin/env", {}, o));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("ASR_PROCESS_TEST_INHERITED=kept\n"));
  EXPECT_THAT(r.output, HasSubstr("ASR_PROCESS_TEST_REPLACED=new value\n"));
  EXPECT_THAT(r.output, Not(HasSubstr("ASR_PROCESS_TEST_REPLACED=old")));
  EXPECT_THAT(r.output, HasSubstr("ASR_PROCESS_TEST_ADDED={\"vm\": \"VM1\"}\n"));
}

TEST(RunProcessTest, ABadVariableNameIsRefusedBeforeAnythingRuns) {
  RunProcessOptions o;
  o.environment["A=B"] = "x";
  absl::StatusOr<ProcessResult> r = RunProcess("/bin/true", {}, o);
  EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("'A=B'"));
  o.environment.clear();
  o.environment[""] = "x";
  EXPECT_TRUE(absl::IsInvalidArgument(RunProcess("/bin/true", {}, o).status()));
}

TEST(RunProcessTest, ExitCodesOutputAndTheTimeLimit) {
  ASSERT_OK_AND_ASSIGN(ProcessResult r,
                       RunProcess("/bin/sh", {"-c", "echo out; echo err >&2; exit 3"}));
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.output, HasSubstr("out\n"));
  EXPECT_THAT(r.output, HasSubstr("err\n"));
  RunProcessOptions o;
  o.timeout = absl::Milliseconds(200);
  ASSERT_OK_AND_ASSIGN(r, RunProcess("/bin/sleep", {"30"}, o));
  EXPECT_TRUE(r.timed_out);
  EXPECT_TRUE(absl::IsNotFound(RunProcess("/nonexistent/program", {}).status()));
}

}  // namespace
}  // namespace asr::platform
