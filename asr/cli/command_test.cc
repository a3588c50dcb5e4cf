#include "asr/cli/command.h"

#include <sstream>

#include "asr/jobs/rule_error.h"
#include "gtest/gtest.h"

namespace asr::cli {
namespace {

CommandRegistry MakeRegistry(std::string* seen) {
  CommandRegistry r;
  r.Add({"disk info",
         "disk info FILE",
         "info",
         {"format"},
         {"verbose"},
         1,
         1,
         [seen](const CommandContext& ctx, const ParsedArgs& a) {
           *seen = ctx.state_dir + "|" + (ctx.json ? "json" : "text") + "|" + a.positional[0] +
                   "|" + a.Get("format", "-") + "|" + (a.Has("verbose") ? "v" : "");
           return absl::OkStatus();
         }});
  return r;
}

TEST(CommandRegistry, DispatchesWithFlags) {
  std::string seen;
  CommandRegistry r = MakeRegistry(&seen);
  std::ostringstream out, err;
  EXPECT_EQ(
      r.Run({"--state-dir", "/s", "disk", "info", "f.vhdx", "--format=vhdx", "--json", "--verbose"},
            out, err),
      0);
  EXPECT_EQ(seen, "/s|json|f.vhdx|vhdx|v");
}

TEST(CommandRegistry, UnknownFlagIsUsageError) {
  std::string seen;
  CommandRegistry r = MakeRegistry(&seen);
  std::ostringstream out, err;
  EXPECT_EQ(r.Run({"disk", "info", "f", "--bogus"}, out, err), 2);
  EXPECT_NE(err.str().find("unknown option --bogus"), std::string::npos) << err.str();
  EXPECT_NE(err.str().find("usage: asrctl disk info FILE"), std::string::npos);
}

TEST(CommandRegistry, WrongArgCountAndUnknownCommand) {
  std::string seen;
  CommandRegistry r = MakeRegistry(&seen);
  std::ostringstream out, err;
  EXPECT_EQ(r.Run({"disk", "info"}, out, err), 2);
  EXPECT_NE(err.str().find("wrong number of arguments"), std::string::npos);
  EXPECT_EQ(r.Run({"disk", "frobnicate"}, out, err), 2);
  EXPECT_NE(err.str().find("did you mean"), std::string::npos);
  EXPECT_EQ(r.Run({"nothing"}, out, err), 2);
  EXPECT_EQ(seen, "");
}

TEST(ParseSize, Suffixes) {
  EXPECT_EQ(*ParseSize("512"), 512u);
  EXPECT_EQ(*ParseSize("64K"), 65536u);
  EXPECT_EQ(*ParseSize("2m"), 2u << 20);
  EXPECT_EQ(*ParseSize("1G"), 1ull << 30);
  EXPECT_EQ(*ParseSize("1GiB"), 1ull << 30);
  EXPECT_EQ(*ParseSize("3T"), 3ull << 40);
  EXPECT_FALSE(ParseSize("").ok());
  EXPECT_FALSE(ParseSize("12Q").ok());
  EXPECT_FALSE(ParseSize("-1").ok());
  EXPECT_FALSE(ParseSize("99999999999999T").ok());
}

TEST(ParseInt, Range) {
  EXPECT_EQ(*ParseInt("30", "frequency", 0, 900), 30);
  auto bad = ParseInt("1000", "frequency", 0, 900);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("frequency"), absl::string_view::npos);
  EXPECT_FALSE(ParseInt("x", "n", 0, 1).ok());
}

}  // namespace
}  // namespace asr::cli

namespace asr::cli {
namespace {

TEST(ExitCodeFor, OneMappingFromStatusToExitCodeAndMessage) {
  std::ostringstream err;
  EXPECT_EQ(ExitCodeFor(absl::OkStatus(), err), 0);
  EXPECT_EQ(err.str(), "");
  EXPECT_EQ(ExitCodeFor(absl::InvalidArgumentError("--vm is required"), err), 2);
  EXPECT_EQ(err.str(), "asrctl: --vm is required\n");
  err.str("");
  EXPECT_EQ(ExitCodeFor(absl::NotFoundError("no cloud 'x'"), err), 1);
  EXPECT_EQ(err.str(), "asrctl: no cloud 'x'\n");
  err.str("");
  EXPECT_EQ(ExitCodeFor(WithExitCode(absl::NotFoundError("no file"), 2), err), 2);
  EXPECT_EQ(err.str(), "asrctl: no file\n");
  err.str("");
  EXPECT_EQ(ExitCodeFor(QuietFailure(1), err), 1);
  EXPECT_EQ(err.str(), "");
}

TEST(ExitCodeFor, AFailedJobSaysHowToRestartIt) {
  std::ostringstream err;
  absl::Status s = jobs::WithJobId(absl::UnavailableError("WinRM timed out"), "job-000007");
  EXPECT_EQ(ExitCodeFor(s, err), 1);
  EXPECT_EQ(err.str(),
            "asrctl: WinRM timed out\n  job job-000007 failed; see 'asrctl job show job-000007', "
            "fix the cause and 'asrctl job restart job-000007'\n");
}

TEST(CommandRegistry, AHandlersStatusBecomesTheExitCode) {
  CommandRegistry r;
  r.Add({"fail", "fail", "fails", {}, {}, 0, 0, [](const CommandContext&, const ParsedArgs&) {
           return absl::FailedPreconditionError("not yet");
         }});
  std::ostringstream out, err;
  EXPECT_EQ(r.Run({"fail"}, out, err), 1);
  EXPECT_EQ(err.str(), "asrctl: not yet\n");
}

}  // namespace
}  // namespace asr::cli
