// asrctl plan ...: a plan over VM1..VM3 created, edited (groups, VMs,
// actions), shown as text and JSON, run (the VMs were written as protected
// items without replicas: each VM's test failover fails saying it has no
// recovery point, and the job says how to restart it) and deleted.
#include "asr/cli/plan_commands.h"

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "asr/cli/control_commands.h"
#include "asr/cli/core_commands.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/failover/plan_test_site.h"
#include "asr/model/json.h"
#include "asr/model/recovery_plan.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asr::cli {
namespace {

using ::testing::HasSubstr;

struct Result {
  int code;
  std::string out, err;
};

class PlanCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(site_, failover::PlanTestSite::Create(asr::testing::TestPath("site"), 3));
    site_->Close();
    RegisterCoreCommands(registry_);
    RegisterControlCommands(registry_);
    RegisterPlanCommands(registry_);
  }
  Result Run(std::vector<std::string> words) {
    std::vector<std::string> args = {"--state-dir", site_->state_dir(), "--fabric",
                                     site_->fabric().root()};
    args.insert(args.end(), words.begin(), words.end());
    std::istringstream in;
    std::ostringstream out, err;
    int code = registry_.Run(args, in, out, err);
    return {code, out.str(), err.str()};
  }
  Result Run(const std::string& line) {
    std::vector<std::string> w = absl::StrSplit(line, ' ', absl::SkipEmpty());
    return Run(w);
  }

  std::unique_ptr<failover::PlanTestSite> site_;
  CommandRegistry registry_;
};

TEST_F(PlanCommandsTest, CreateEditShowFailoverDelete) {
  Result c = Run("plan create web --vm VM1 --vm VM2 --vm VM3 --groups 2");
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_THAT(c.out, HasSubstr("recovery plan web (rp-web)"));
  EXPECT_THAT(c.out, HasSubstr("source: cloud gold1 (server vmm-ny)  target: cloud gold2"));
  EXPECT_THAT(c.out, HasSubstr("Group 1 (Boot): VM1, VM2, VM3"));
  EXPECT_THAT(c.out, HasSubstr("Group 2 (Boot)\n"));

  Result m = Run("plan edit web --move-vm VM3 --to-group 2");
  ASSERT_EQ(m.code, 0) << m.err;
  EXPECT_THAT(m.out, HasSubstr("Group 1 (Boot): VM1, VM2\n"));
  EXPECT_THAT(m.out, HasSubstr("Group 2 (Boot): VM3\n"));
  ASSERT_EQ(Run("plan edit web --append-group").code, 0);
  Result g = Run("plan edit web --move-group 3 --position 1");
  ASSERT_EQ(g.code, 0) << g.err;
  EXPECT_THAT(g.out, HasSubstr("Group 1 (Boot)\n  Group 2 (Boot): VM1, VM2"));
  ASSERT_EQ(Run("plan edit web --remove-group 1").code, 0);

  Result a =
      Run({"plan", "edit", "web", "--add-action", "dns", "--group", "1", "--placement", "End",
           "--types", "PlannedFailover,UnplannedFailover", "--directions", "PrimaryToRecovery",
           "--script", "/opt/dns.sh", "--location", "Recovery", "--timeout", "60"});
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_THAT(a.out, HasSubstr("end   dns: script /opt/dns.sh on Recovery (timeout 60 s)  "
                               "[PlannedFailover,UnplannedFailover; PrimaryToRecovery]"));
  Result manual = Run({"plan", "edit", "web", "--add-action", "check", "--group", "Failover",
                       "--placement", "Start", "--types", "PlannedFailover", "--directions",
                       "PrimaryToRecovery", "--manual", "check the database in Chicago"});
  ASSERT_EQ(manual.code, 0) << manual.err;
  EXPECT_THAT(manual.out, HasSubstr("start check: manual: check the database in Chicago"));

  // Errors say what was wrong and what to do.
  Result two = Run("plan edit web --append-group --remove-group 1");
  EXPECT_EQ(two.code, 2);  // a usage error
  EXPECT_THAT(two.err, HasSubstr("one change at a time"));
  Result none = Run("plan edit web");
  EXPECT_THAT(none.err, HasSubstr("say what to change"));
  Result both = Run({"plan", "edit", "web", "--add-action", "x", "--group", "1", "--types",
                     "PlannedFailover", "--directions", "PrimaryToRecovery"});
  EXPECT_THAT(both.err, HasSubstr("exactly one of --script"));
  Result loc =
      Run({"plan", "edit", "web", "--add-action", "x", "--group", "1", "--types", "PlannedFailover",
           "--directions", "PrimaryToRecovery", "--script", "/x", "--location", "Moon"});
  EXPECT_THAT(loc.err, HasSubstr("not Primary or Recovery"));
  Result busy = Run("plan edit web --remove-group 1");
  EXPECT_THAT(busy.err, HasSubstr("move them to another group"));

  Result js = Run("plan show web --json");
  ASSERT_EQ(js.code, 0) << js.err;
  model::RecoveryPlan plan;
  ASSERT_OK(model::FromJson(js.out, &plan));
  ASSERT_EQ(plan.groups_size(), 4);
  EXPECT_EQ(plan.groups(2).replication_protected_items_size(), 2);
  EXPECT_EQ(plan.groups(1).start_group_actions(0).manual().description(),
            "check the database in Chicago");
  Result list = Run("plan list");
  EXPECT_THAT(list.out, HasSubstr("web  gold1 -> gold2  3 VMs in 2 groups  never run"));

  // The per-VM failover runs and refuses: these items have no points.
  Result bad = Run("plan failover web --operation Reprotect");
  EXPECT_EQ(bad.code, 2);
  EXPECT_THAT(bad.err, HasSubstr("ReverseReplicate"));
  Result f = Run("plan failover web --operation TestFailover");
  EXPECT_NE(f.code, 0);
  EXPECT_THAT(f.err, HasSubstr("VM1: VM 'VM1' has no recovery point yet"));
  EXPECT_THAT(f.err, HasSubstr("asrctl job restart"));
  Result jobs = Run("job list --target rp-web --json");
  ASSERT_EQ(jobs.code, 0) << jobs.err;
  EXPECT_THAT(jobs.out, HasSubstr("RecoveryPlanTestFailover"));

  Result d = Run("plan delete web");
  ASSERT_EQ(d.code, 0) << d.err;
  EXPECT_THAT(Run("plan show web").err, HasSubstr("asrctl plan list"));
}

}  // namespace
}  // namespace asr::cli
