// The report of a state made by real operations on the simulated fabric
// (real VHDX disks, real replication cycles over loopback TLS, a recovery
// plan's test failover with a manual action, a planned failover): its
// numbers equal what the state holds, and the renderers' output is
// self-contained and escaped.
#include "asr/report/report.h"

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "asr/common/file_util.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/failover/failover_service.h"
#include "asr/model/recovery_plan.pb.h"
#include "asr/protection/test_site.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asr::report {
namespace {

using ::asr::testing::StatusIs;
using ::asr::testing::TestPath;
using ::testing::HasSubstr;
using ::testing::Not;

int Count(const std::string& haystack, const std::string& needle) {
  int n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

// One site for every test of the suite: building it runs real cycles and
// failovers, which take a few seconds.
class ReportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    protection::TestSiteOptions o;
    o.copy_frequency_seconds = 30;
    o.recovery_points = 3;
    absl::StatusOr<std::unique_ptr<protection::TestSite>> s =
        protection::TestSite::Create(TestPath("site"), o);
    ASSERT_OK(s.status());
    site_ = std::move(*s).release();
    protection::SiteServiceOptions so;
    so.threads = false;
    absl::StatusOr<std::unique_ptr<protection::SiteService>> svc = site_->StartService(so);
    ASSERT_OK(svc.status());
    service_ = std::move(*svc).release();
    SiteRecovery& sr = site_->sr();

    ASSERT_OK(site_->fabric().GuestWrite("vm1", "vm1-d0", 1 << 20, 256 << 10, 7));
    protection::EnableRequest e;
    e.vm_ref = "VM1";
    ASSERT_OK_AND_ASSIGN(model::Job enable, sr.protection().EnableProtection(e));
    ASSERT_EQ(enable.state(), model::Succeeded);
    // Cycles of different sizes: 64 KiB, 512 KiB of new data, then nothing.
    ASSERT_OK(site_->fabric().GuestWrite("vm1", "vm1-d0", 2 << 20, 64 << 10, 8));
    ASSERT_OK(sr.protection().ReplicateNow("VM1", {}).status());
    ASSERT_OK(site_->fabric().GuestWrite("vm1", "vm1-d1", 4 << 20, 512 << 10, 9));
    ASSERT_OK(sr.protection().ReplicateNow("VM1", {}).status());
    ASSERT_OK(sr.protection().ReplicateNow("VM1", {}).status());
    // A cycle that fails: the host cannot take a point of the VM.
    ASSERT_OK(site_->fabric().SetPointFails("vm1", true));
    ASSERT_FALSE(sr.protection().ReplicateNow("VM1", {}).ok());
    ASSERT_OK(site_->fabric().SetPointFails("vm1", false));

    // A recovery plan's test failover with a manual action at the end of
    // its group (the job suspends there and is resumed), then its cleanup.
    model::RecoveryPlanCreateRequest c;
    c.set_name("dr-east");
    c.add_items("VM1");
    ASSERT_OK(sr.recovery_plans().Create(c).status());
    model::RecoveryPlanEdit edit;
    edit.set_operation("AddAction");
    edit.set_group("Group 1");
    edit.set_placement("End");
    model::RecoveryPlanAction* action = edit.mutable_action();
    action->set_action_name("check-app");
    action->add_failover_types("TestFailover");
    action->add_failover_directions("PrimaryToRecovery");
    action->mutable_manual()->set_description("check the application answers");
    ASSERT_OK(sr.recovery_plans().Edit("dr-east", edit).status());
    model::RecoveryPlanRunRequest run;
    run.set_operation("TestFailover");
    run.set_direction("PrimaryToRecovery");
    run.set_network_type("Isolated");
    ASSERT_OK_AND_ASSIGN(model::Job suspended, sr.recovery_plans().Run("dr-east", run));
    ASSERT_EQ(suspended.state(), model::Suspended);
    ASSERT_OK_AND_ASSIGN(model::Job resumed, sr.jobs().Resume(suspended.id()));
    ASSERT_EQ(resumed.state(), model::Succeeded);
    plan_job_id_ = new std::string(resumed.id());
    run.set_operation("TestFailoverCleanup");
    ASSERT_OK(sr.recovery_plans().Run("dr-east", run).status());

    // A planned failover of the VM itself.
    failover::FailoverInput in;
    in.item_ref = "VM1";
    ASSERT_OK_AND_ASSIGN(model::Job planned, sr.failover().Start(failover::kPlannedFailover, in));
    ASSERT_EQ(planned.state(), model::Succeeded);
    planned_job_id_ = new std::string(planned.id());
  }

  static void TearDownTestSuite() {
    if (service_ != nullptr) service_->Stop();
    delete service_;
    delete site_;
    delete plan_job_id_;
    delete planned_job_id_;
  }

  void SetUp() override {
    ASSERT_NE(site_, nullptr);
    ASSERT_NE(planned_job_id_, nullptr);
    ASSERT_OK_AND_ASSIGN(report_, BuildReport(site_->sr()));
  }

  const VmReport* Vm(const std::string& name) const {
    for (const VmReport& v : report_.vms) {
      if (v.vm_name == name) return &v;
    }
    return nullptr;
  }
  const JobReport* Job(const std::string& id) const {
    for (const JobReport& j : report_.jobs) {
      if (j.id == id) return &j;
    }
    return nullptr;
  }

  static protection::TestSite* site_;
  static protection::SiteService* service_;
  static std::string* plan_job_id_;
  static std::string* planned_job_id_;
  Report report_;
};

protection::TestSite* ReportTest::site_ = nullptr;
protection::SiteService* ReportTest::service_ = nullptr;
std::string* ReportTest::plan_job_id_ = nullptr;
std::string* ReportTest::planned_job_id_ = nullptr;

TEST_F(ReportTest, CyclesAreTheItemsRecordedCyclesWithTheChangedBytes) {
  ASSERT_OK_AND_ASSIGN(model::ProtectedItem item, site_->sr().protection().GetItem("VM1"));
  const VmReport* v = Vm("VM1");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->item_id, item.id());
  EXPECT_EQ(v->copy_frequency_seconds, 30);
  EXPECT_EQ(v->policy_name, "gold-policy");
  ASSERT_EQ(static_cast<int>(v->cycles.size()), item.recent_cycles_size());
  ASSERT_GE(v->cycles.size(), 4u);  // the initial replication and three cycles
  uint64_t changed = 0, sent = 0;
  for (int i = 0; i < item.recent_cycles_size(); ++i) {
    const model::CycleOutcome& c = item.recent_cycles(i);
    const CycleRow& row = v->cycles[i];
    EXPECT_EQ(row.bytes_sent, c.bytes_sent());
    EXPECT_EQ(row.bytes_changed, c.bytes_changed());
    EXPECT_EQ(row.start_us, c.time_us());
    EXPECT_EQ(row.start_us / 1000000, c.time_unix());
    EXPECT_EQ(row.ok, c.ok());
    EXPECT_EQ(row.point_sequence, c.point_sequence());
    EXPECT_DOUBLE_EQ(row.seconds, c.seconds());
    if (c.bytes_sent() > 0) {
      EXPECT_DOUBLE_EQ(row.compression_ratio,
                       static_cast<double>(c.bytes_changed()) / c.bytes_sent());
    }
    changed += c.bytes_changed();
    sent += c.bytes_sent();
  }
  EXPECT_EQ(v->bytes_changed, changed);
  EXPECT_EQ(v->bytes_sent, sent);
  EXPECT_EQ(v->cycles_ok, static_cast<int>(v->cycles.size()) - 1);
  EXPECT_EQ(v->cycles_failed, 1);
  // cycles[4] failed: its error, no point, nothing sent.
  EXPECT_FALSE(v->cycles[4].ok);
  EXPECT_FALSE(v->cycles[4].error.empty());
  EXPECT_EQ(v->cycles[4].point_sequence, 0u);
  EXPECT_EQ(v->cycles[4].point_time_us, 0);
  EXPECT_EQ(v->cycles[4].bytes_sent, 0u);

  // The changed bytes are the raw blocks written, before compression: the
  // 64 KiB cycle changed at least 64 KiB, the 512 KiB cycle at least that,
  // the idle cycle nothing. The guest writes random data: the ratio stays
  // near 1.
  // cycles[0] is the initial replication; the planned failover's sync
  // cycles come after these three. The writes are whole 64 KiB blocks and
  // the rest of the disks is zeros (sent as zero ranges): changed bytes are
  // exactly the blocks written.
  EXPECT_EQ(v->cycles[0].bytes_changed, 256u << 10);
  EXPECT_EQ(v->cycles[1].bytes_changed, 64u << 10);
  EXPECT_EQ(v->cycles[2].bytes_changed, 512u << 10);
  EXPECT_EQ(v->cycles[3].bytes_changed, 0u);
  EXPECT_GT(v->cycles[2].compression_ratio, 0.5);
  EXPECT_LT(v->cycles[2].compression_ratio, 1.5);
  EXPECT_GT(v->cycles[3].bytes_sent, 0u);  // the cycle's frames, even with no data
}

TEST_F(ReportTest, RpoIsTheAgeOfTheNewestPointAtEachCycleEnd) {
  ASSERT_OK_AND_ASSIGN(std::vector<model::RecoveryPoint> points,
                       site_->sr().protection().ListRecoveryPoints("VM1"));
  const VmReport* v = Vm("VM1");
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(v->points.size(), points.size());
  std::map<uint64_t, int64_t> source_time;
  for (size_t i = 0; i < points.size(); ++i) {
    EXPECT_EQ(v->points[i].id, points[i].id());
    EXPECT_EQ(v->points[i].time_us, points[i].source_time_us());
    source_time[points[i].sequence()] = points[i].source_time_us();
  }
  // Each cycle's point is the recovery point of its sequence (the kept ones).
  for (const CycleRow& c : v->cycles) {
    if (!c.ok) continue;
    ASSERT_NE(c.point_time_us, 0);
    auto it = source_time.find(c.point_sequence);
    if (it != source_time.end()) {
      EXPECT_EQ(c.point_time_us, it->second);
    }
    EXPECT_LE(c.point_time_us, c.end_us);
  }
  // At each cycle end after the first: the age of the previous point
  // (before) and, for a cycle that made a point, the age of that point
  // (after). A failed cycle has only the first.
  std::vector<RpoSample> expected;
  int64_t newest = 0;
  for (const CycleRow& c : v->cycles) {
    if (newest != 0) expected.push_back({c.end_us, (c.end_us - newest) / 1e6});
    if (c.ok) {
      newest = c.point_time_us;
      expected.push_back({c.end_us, (c.end_us - newest) / 1e6});
    }
  }
  ASSERT_EQ(v->rpo.size(), 2 * v->cycles.size() - 2);
  ASSERT_EQ(v->rpo.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(v->rpo[i].time_us, expected[i].time_us) << i;
    EXPECT_DOUBLE_EQ(v->rpo[i].rpo_seconds, expected[i].rpo_seconds) << i;
  }
  // The failed cycle's sample: the RPO went on growing through it.
  const CycleRow& failed = v->cycles[4];
  const RpoSample* at_failed = nullptr;
  for (const RpoSample& r : v->rpo) {
    if (r.time_us == failed.end_us) at_failed = &r;
  }
  ASSERT_NE(at_failed, nullptr);
  EXPECT_DOUBLE_EQ(at_failed->rpo_seconds, (failed.end_us - v->cycles[3].point_time_us) / 1e6);
  double max_rpo = 0;
  for (const RpoSample& s : v->rpo) max_rpo = std::max(max_rpo, s.rpo_seconds);
  EXPECT_DOUBLE_EQ(v->max_rpo_seconds, max_rpo);
}

TEST_F(ReportTest, FailoverJobsHaveTheirStepsWithMicrosecondTimes) {
  ASSERT_OK_AND_ASSIGN(model::Job job, site_->sr().jobs().Get(*planned_job_id_));
  const JobReport* j = Job(*planned_job_id_);
  ASSERT_NE(j, nullptr);
  EXPECT_EQ(j->scenario, "PlannedFailover");
  EXPECT_EQ(j->state, "Succeeded");
  EXPECT_FALSE(j->plan_job);
  ASSERT_EQ(static_cast<int>(j->steps.size()), job.tasks_size());
  ASSERT_GT(job.tasks_size(), 2);
  for (int i = 0; i < job.tasks_size(); ++i) {
    const model::JobTask& t = job.tasks(i);
    const StepRow& s = j->steps[i];
    EXPECT_EQ(s.name, t.name());
    EXPECT_EQ(s.state, "Succeeded");
    ASSERT_NE(t.start_time_us(), 0) << t.name();
    EXPECT_EQ(s.start_us, t.start_time_us());
    EXPECT_EQ(s.end_us, t.end_time_us());
    EXPECT_EQ(t.start_time_us() / 1000000, t.start_time_unix());
    EXPECT_EQ(t.end_time_us() / 1000000, t.end_time_unix());
    EXPECT_DOUBLE_EQ(s.seconds, (t.end_time_us() - t.start_time_us()) / 1e6);
    EXPECT_GE(s.start_us, j->start_us);
    EXPECT_LE(s.end_us, j->end_us);
  }
  EXPECT_EQ(j->start_us, job.tasks(0).start_time_us());
  // Only failover and plan jobs: not enable protection.
  for (const JobReport& r : report_.jobs) EXPECT_TRUE(IsFailoverScenario(r.scenario)) << r.scenario;
  EXPECT_FALSE(IsFailoverScenario("EnableProtection"));
  EXPECT_TRUE(IsFailoverScenario("RecoveryPlanTestFailover"));
}

TEST_F(ReportTest, PlanJobHasTheTimelineOfItsGroups) {
  const JobReport* j = Job(*plan_job_id_);
  ASSERT_NE(j, nullptr);
  EXPECT_EQ(j->scenario, "RecoveryPlanTestFailover");
  EXPECT_TRUE(j->plan_job);
  EXPECT_EQ(j->plan_name, "dr-east");
  ASSERT_EQ(j->groups.size(), 3u);
  EXPECT_EQ(j->groups[0].name, "Shutdown");
  EXPECT_EQ(j->groups[1].name, "Failover");
  const GroupSpan& g = j->groups[2];
  EXPECT_EQ(g.name, "Group 1");
  ASSERT_EQ(g.vms.size(), 1u);
  EXPECT_EQ(g.vms[0].name, "g3-vm-pi-vm1");
  EXPECT_EQ(g.vms[0].state, "Succeeded");
  ASSERT_EQ(g.actions.size(), 1u);
  EXPECT_EQ(g.actions[0].name, "g3-end-check-app");
  EXPECT_EQ(g.actions[0].state, "Succeeded");
  // The group spans its VM's operation and its end action, in that order.
  EXPECT_EQ(g.start_us, g.vms[0].start_us);
  EXPECT_GE(g.end_us, g.actions[0].end_us);
  EXPECT_LE(g.vms[0].end_us, g.actions[0].start_us);
  EXPECT_EQ(j->groups[0].start_us, 0);  // nothing ran in the empty groups
}

TEST_F(ReportTest, MarkdownTablesHoldTheNumbers) {
  const std::string md = RenderMarkdown(report_);
  const VmReport* v = Vm("VM1");
  ASSERT_NE(v, nullptr);
  EXPECT_THAT(md, HasSubstr("# Site Recovery report"));
  EXPECT_THAT(md, HasSubstr("| VM1 | PlannedFailoverCompleted |"));
  EXPECT_THAT(md, HasSubstr("### Cycles"));
  EXPECT_THAT(md, HasSubstr(absl::StrCat("| ", v->cycles_ok, "/1 |")));
  EXPECT_THAT(md, HasSubstr(absl::StrCat("| failed: ", v->cycles[4].error)));
  EXPECT_THAT(md, HasSubstr(absl::StrCat("## Job ", *planned_job_id_)));
  EXPECT_THAT(md, HasSubstr("### Groups of plan dr-east"));
  EXPECT_THAT(md, HasSubstr("| Group 1 |"));
  EXPECT_THAT(md, HasSubstr("30.0 s (gold-policy)"));
}

TEST_F(ReportTest, HtmlIsSelfContainedWithEveryChart) {
  const std::string html = RenderHtml(report_);
  EXPECT_TRUE(absl::StartsWith(html, "<!DOCTYPE html>"));
  EXPECT_THAT(html, Not(HasSubstr("http://")));
  EXPECT_THAT(html, Not(HasSubstr("https://")));
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("<link")));
  EXPECT_THAT(html, Not(HasSubstr("url(")));
  EXPECT_EQ(Count(html, "data-chart=\"rpo\""), 1);
  EXPECT_EQ(Count(html, "data-chart=\"bytes\""), 1);
  EXPECT_EQ(Count(html, "data-chart=\"steps\""), static_cast<int>(report_.jobs.size()));
  EXPECT_EQ(Count(html, "data-chart=\"timeline\""), 2);  // the test failover and its cleanup
  EXPECT_EQ(Count(html, "<svg"), Count(html, "</svg>"));
  EXPECT_EQ(Count(html, "class=\"series rpo-curve\" points=\"60,"), 1);  // from the plot's left
  // The failed cycle is marked on the RPO curve and under its bars.
  EXPECT_EQ(Count(html, "class=\"failed-cycle\""), 2);
  // The policy's copy frequency is drawn and named in the RPO chart.
  EXPECT_THAT(html, HasSubstr("copy frequency 30.0 s"));
  // A bar per cycle and series: changed and sent.
  const VmReport* v = Vm("VM1");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(Count(html, "fill=\"#f59e0b\"><title>cycle "), static_cast<int>(v->cycles.size()));
  EXPECT_EQ(Count(html, "fill=\"#10b981\"><title>cycle "), static_cast<int>(v->cycles.size()));
}

TEST(ReportRenderTest, TextFromTheStateIsEscaped) {
  Report r;
  r.state_dir = "/tmp/<state>";
  r.generated_us = 1700000000000000;
  VmReport v;
  v.vm_name = "<script>alert('x')</script> & \"Co\"";
  v.protection_state = "Protected";
  v.health = "Normal";
  v.copy_frequency_seconds = 30;
  for (int i = 0; i < 3; ++i) {
    CycleRow c;
    c.start_us = r.generated_us + i * 30000000LL;
    c.seconds = 1.5;
    c.end_us = c.start_us + 1500000;
    c.ok = i != 1;
    c.error = c.ok ? "" : "disk <d0> lost | gone";
    c.bytes_changed = 1 << 20;
    c.bytes_sent = 1 << 19;
    c.compression_ratio = 2;
    c.point_time_us = c.ok ? c.start_us : 0;
    v.cycles.push_back(c);
    if (c.ok) v.rpo.push_back({c.end_us, 1.5});
  }
  v.rpo.insert(v.rpo.begin() + 1, RpoSample{v.cycles[1].end_us, 31.5});
  v.cycles_ok = 2;
  v.cycles_failed = 1;
  r.vms.push_back(v);
  JobReport j;
  j.id = "job-1";
  j.scenario = "RecoveryPlanPlannedFailover";
  j.display_name = "Fail over <plan> & more";
  j.state = "Failed";
  j.error = "script \"x\" <failed>";
  j.start_us = r.generated_us;
  j.end_us = r.generated_us + 2000000;
  j.seconds = 2;
  StepRow s;
  s.name = "g3-vm-pi-vm1";
  s.friendly_name = "Group 1: <b>bold</b>";
  s.state = "Failed";
  s.start_us = j.start_us;
  s.end_us = j.end_us;
  s.seconds = 2;
  j.steps.push_back(s);
  j.plan_job = true;
  j.plan_name = "p<1>";
  GroupSpan g;
  g.name = "Group 1";
  g.start_us = s.start_us;
  g.end_us = s.end_us;
  g.vms.push_back(s);
  j.groups.push_back(g);
  r.jobs.push_back(j);

  const std::string html = RenderHtml(r);
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("<b>")));
  EXPECT_THAT(html, Not(HasSubstr("<plan>")));
  EXPECT_THAT(html, Not(HasSubstr("<state>")));
  EXPECT_THAT(html, Not(HasSubstr("<failed>")));
  EXPECT_THAT(html, Not(HasSubstr("<d0>")));
  EXPECT_THAT(html,
              HasSubstr("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;Co&quot;"));
  EXPECT_THAT(html, HasSubstr("Group 1: &lt;b&gt;bold&lt;/b&gt;"));
  EXPECT_THAT(html, HasSubstr("p&lt;1&gt;"));
  EXPECT_THAT(html, Not(HasSubstr("http")));
  EXPECT_THAT(html, HasSubstr("data-chart=\"timeline\""));

  // Markdown: a '|' in a name or error cannot break a table row.
  const std::string md = RenderMarkdown(r);
  EXPECT_THAT(md, HasSubstr("disk <d0> lost \\| gone"));
  EXPECT_THAT(md, HasSubstr("| 2/1 |"));
}

TEST(ReportRenderTest, EmptyStateRendersPlaceholders) {
  Report r;
  r.state_dir = "/s";
  const std::string html = RenderHtml(r);
  EXPECT_THAT(html, HasSubstr("No protected VMs."));
  EXPECT_THAT(html, HasSubstr("No failover or recovery plan jobs"));
  const std::string md = RenderMarkdown(r);
  EXPECT_THAT(md, HasSubstr("No protected VMs."));
}

TEST(LoadReportTest, MissingOrEmptyStateDirectoryIsAClearError) {
  EXPECT_THAT(LoadReport(TestPath("absent")).status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("does not exist")));
  const std::string empty = TestPath("empty");
  ASSERT_OK(MakeDirectories(empty));
  absl::Status s = LoadReport(empty).status();
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr(empty));
  EXPECT_THAT(WriteReport(empty, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no report file named")));
}

TEST(WriteReportTest, WritesBothFilesOfAStateOnDisk) {
  protection::TestSiteOptions o;
  ASSERT_OK_AND_ASSIGN(auto site, protection::TestSite::Create(TestPath("write-site"), o));
  const std::string state = site->state_dir();
  site->Close();
  ReportOptions ro;
  ro.html_path = TestPath("write.html");
  ro.markdown_path = TestPath("write.md");
  ASSERT_OK(WriteReport(state, ro));
  ASSERT_OK_AND_ASSIGN(std::string html, ReadFileToString(ro.html_path));
  ASSERT_OK_AND_ASSIGN(std::string md, ReadFileToString(ro.markdown_path));
  EXPECT_THAT(html, HasSubstr("</html>"));
  EXPECT_THAT(md, HasSubstr("No protected VMs."));
  EXPECT_THAT(md, HasSubstr(state));
}

}  // namespace
}  // namespace asr::report

namespace asr::report {
namespace {

TEST(RunStepsTest, TheRunsStepsComeFirstWithTheirTimelineAndTitle) {
  protection::TestSiteOptions o;
  ASSERT_OK_AND_ASSIGN(auto site, protection::TestSite::Create(TestPath("steps-site"), o));
  const std::string state = site->state_dir();
  site->Close();
  ReportOptions ro;
  ro.title = "Drill <1>";
  ro.html_path = TestPath("steps.html");
  ro.markdown_path = TestPath("steps.md");
  const int64_t t0 = 1700000000000000;
  ro.run_steps.push_back({"Protect VM1 & VM2", true, t0, t0 + 2500000, "2 VMs"});
  ro.run_steps.push_back({"Fail over", false, t0 + 2500000, t0 + 4000000, "disk <d0> differs"});
  ASSERT_OK(WriteReport(state, ro));
  ASSERT_OK_AND_ASSIGN(std::string html, ReadFileToString(ro.html_path));
  ASSERT_OK_AND_ASSIGN(std::string md, ReadFileToString(ro.markdown_path));
  EXPECT_THAT(html, HasSubstr("<title>Drill &lt;1&gt;</title>"));
  EXPECT_THAT(html, HasSubstr("data-chart=\"run-steps\""));
  EXPECT_THAT(html, HasSubstr("Protect VM1 &amp; VM2"));
  EXPECT_THAT(html, HasSubstr("disk &lt;d0&gt; differs"));
  // The steps precede the VMs.
  EXPECT_LT(html.find("data-chart=\"run-steps\""), html.find("<h2>Protected VMs</h2>"));
  EXPECT_THAT(md, HasSubstr("# Drill <1>"));
  EXPECT_THAT(md, HasSubstr("| Protect VM1 & VM2 | ok | 2.5 s | 2 VMs |"));
  EXPECT_THAT(md, HasSubstr("| Fail over | FAILED | 1.5 s | disk <d0> differs |"));
}

}  // namespace
}  // namespace asr::report
