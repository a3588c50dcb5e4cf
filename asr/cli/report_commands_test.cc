// asrctl report: Markdown on stdout or in a file, the HTML page in a file,
// --state or the global --state-dir, and the errors for a missing or empty
// state directory and an empty file name.
#include "asr/cli/report_commands.h"

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "asr/common/file_util.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/failover/plan_test_site.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asr::cli {
namespace {

using ::asr::testing::TestPath;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

struct Result {
  int code;
  std::string out, err;
};

class ReportCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(site_, failover::PlanTestSite::Create(TestPath("site"), 2));
    site_->Close();
    RegisterReportCommands(registry_);
  }
  Result Run(const std::vector<std::string>& args) {
    std::istringstream in;
    std::ostringstream out, err;
    int code = registry_.Run(args, in, out, err);
    return {code, out.str(), err.str()};
  }

  std::unique_ptr<failover::PlanTestSite> site_;
  CommandRegistry registry_;
};

TEST_F(ReportCommandsTest, MarkdownOnStdoutAndHtmlInAFile) {
  const std::string html = TestPath("r.html");
  Result r = Run({"report", "--state", site_->state_dir(), "--html", html});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("# Site Recovery report"));
  EXPECT_THAT(r.out, HasSubstr("| VM1 | Protected |"));
  EXPECT_THAT(r.out, HasSubstr("| VM2 | Protected |"));
  EXPECT_THAT(r.err, HasSubstr("HTML report written to " + html));
  ASSERT_OK_AND_ASSIGN(std::string page, ReadFileToString(html));
  EXPECT_THAT(page, HasSubstr("<!DOCTYPE html>"));
  EXPECT_THAT(page, HasSubstr(">VM1</a>"));
  EXPECT_THAT(page, Not(HasSubstr("http")));
}

TEST_F(ReportCommandsTest, MarkdownFileWithTheGlobalStateDir) {
  const std::string md = TestPath("r.md");
  Result r = Run({"--state-dir", site_->state_dir(), "report", "--markdown", md});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, IsEmpty());
  ASSERT_OK_AND_ASSIGN(std::string text, ReadFileToString(md));
  EXPECT_THAT(text, HasSubstr("| VM1 | Protected |"));
  EXPECT_THAT(text, HasSubstr("State " + site_->state_dir()));
}

TEST_F(ReportCommandsTest, MissingOrEmptyStateAndEmptyFileNamesAreRefused) {
  const std::string absent = TestPath("absent");  // a fresh path each call
  Result r = Run({"report", "--state", absent});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr(absent + " does not exist"));
  const std::string empty = TestPath("empty");
  ASSERT_OK(MakeDirectories(empty));
  r = Run({"report", "--state", empty});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr(empty));
  r = Run({"report", "--state", site_->state_dir(), "--html="});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--html"));
  r = Run({"report", "--state", site_->state_dir(), "extra"});
  EXPECT_EQ(r.code, 2);
}

}  // namespace
}  // namespace asr::cli
