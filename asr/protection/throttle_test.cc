// Bandwidth throttles: the schedule's human form and its errors, the limit
// at a moment in the site's local time, throttles stored with the site
// (surviving a reopen), the item's throttle in force, expected RPO and
// health, and a real cycle over loopback TLS paced by the VM's limit.
#include "asr/protection/throttle.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "asr/common/clock.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/protection/protection_service.h"
#include "asr/protection/test_site.h"
#include "asr/protection/throttle_schedule.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asr::protection {
namespace {

using ::asr::testing::StatusIs;
using ::asr::testing::TestPath;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Monday 2026-11-30 10:00 UTC.
const absl::Time kMondayTen =
    absl::FromCivil(absl::CivilMinute(2026, 11, 30, 10, 0), absl::UTCTimeZone());

uint64_t RateOf(absl::string_view text) {
  absl::StatusOr<uint64_t> r = ParseRate(text);
  EXPECT_OK(r.status()) << text;
  return r.ok() ? *r : 1;
}

TEST(ThrottleSchedule, ParsesRatesInEveryUnit) {
  EXPECT_EQ(RateOf("50Mbit/s"), 50'000'000u);
  EXPECT_EQ(RateOf("1.5Gbit/s"), 1'500'000'000u);
  EXPECT_EQ(RateOf("800kbps"), 800'000u);
  EXPECT_EQ(RateOf("10MB/s"), 80'000'000u);
  EXPECT_EQ(RateOf("unlimited"), 0u);
  EXPECT_EQ(FormatRate(50'000'000), "50Mbit/s");
  EXPECT_EQ(FormatRate(1'500'000'000), "1.5Gbit/s");
  EXPECT_EQ(FormatRate(0), "unlimited");
}

TEST(ThrottleSchedule, BadInputSaysWhatIsWrong) {
  EXPECT_THAT(ParseRate("50 furlongs"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown unit 'furlongs'")));
  EXPECT_THAT(ParseRate("fast"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a number with a unit")));
  EXPECT_THAT(ParseRate("10bit/s"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("64kbit/s to 100Gbit/s")));
  EXPECT_THAT(ParseWindow("Mon-Fri 18:00-08:00 50Mbit/s"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("the end 08:00 is not after the start 18:00")));
  EXPECT_THAT(ParseWindow("Mon-Fri 08:00 50Mbit/s"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not START-END")));
  EXPECT_THAT(ParseWindow("Mon-Fri 8-18 50Mbit/s"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is not HH:MM")));
  EXPECT_THAT(ParseWindow("Funday 08:00-18:00 50Mbit/s"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown days 'Funday'")));
  EXPECT_THAT(ParseWindow("Fri-Mon 08:00-18:00 50Mbit/s"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("runs backwards")));
  EXPECT_THAT(ParseWindow("Mon-Fri 08:00-18:00 50 Mbit/s"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not 3")));
  EXPECT_THAT(
      ParseSchedule({"Mon-Fri 08:00-18:00 50Mbit/s", "Wed 17:00-20:00 10Mbit/s"}, "unlimited"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("overlap on Wed from 17:00 to 18:00")));
  EXPECT_THAT(ParseSchedule({}, "lots"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("the default limit")));
  EXPECT_THAT(ParseUtcOffset("+1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("+HH:MM or -HH:MM")));
  EXPECT_THAT(ParseUtcOffset("+15:00"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ThrottleSchedule, TheLimitFollowsTheWeekInTheSitesLocalTime) {
  ASSERT_OK_AND_ASSIGN(model::BandwidthSchedule s, ParseSchedule({"Mon-Fri 08:00-18:00 50Mbit/s",
                                                                  "Sat,Sun 00:00-24:00 200Mbit/s"},
                                                                 "unlimited"));
  EXPECT_THAT(FormatSchedule(s), ElementsAre("Mon-Fri 08:00-18:00 50Mbit/s",
                                             "Sat-Sun 00:00-24:00 200Mbit/s", "default unlimited"));
  // Monday 10:00 UTC: inside the window in UTC.
  ScheduledLimit l = LimitAt(s, 0, kMondayTen);
  EXPECT_EQ(l.bits_per_second, 50'000'000u);
  EXPECT_EQ(l.rule, "Mon-Fri 08:00-18:00 50Mbit/s");
  EXPECT_EQ(l.next_change, kMondayTen + absl::Hours(8));
  // The same moment at UTC-05:00 is 05:00 local: before the window.
  l = LimitAt(s, -300, kMondayTen);
  EXPECT_EQ(l.bits_per_second, 0u);
  EXPECT_EQ(l.rule, "default unlimited");
  EXPECT_EQ(l.next_change, kMondayTen + absl::Hours(3));
  // Friday 18:00 UTC ends the week's last window; the weekend starts at midnight.
  l = LimitAt(s, 0, kMondayTen + absl::Hours(4 * 24 + 8));
  EXPECT_EQ(l.bits_per_second, 0u);
  EXPECT_EQ(l.next_change, kMondayTen + absl::Hours(4 * 24 + 14));
  l = LimitAt(s, 0, kMondayTen + absl::Hours(5 * 24));
  EXPECT_EQ(l.bits_per_second, 200'000'000u);
  // Sunday 24:00 hands over to Monday's default until 08:00.
  EXPECT_EQ(l.next_change, kMondayTen + absl::Hours(7 * 24 - 10));
  EXPECT_EQ(
      LimitAt(s, 60, kMondayTen + absl::Hours(7 * 24 - 10) - absl::Minutes(1)).bits_per_second,
      0u);  // Monday 00:59 local at UTC+01:00
}

class ThrottleSiteTest : public ::testing::Test {
 protected:
  void Make(TestSiteOptions o = {}) {
    o.compression = false;
    absl::StatusOr<std::unique_ptr<TestSite>> s = TestSite::Create(
        TestPath(::testing::UnitTest::GetInstance()->current_test_info()->name()), o);
    ASSERT_OK(s.status());
    site_ = std::move(*s);
  }
  ThrottleService Throttles() {
    return ThrottleService(&site_->sr().repository(), &site_->sr().clock());
  }
  std::unique_ptr<TestSite> site_;
};

model::ThrottleSetRequest Request(const std::string& vm, std::vector<std::string> limits,
                                  const std::string& def, const std::string& offset = "") {
  model::ThrottleSetRequest r;
  r.set_vm(vm);
  for (auto& l : limits) r.add_limits(l);
  r.set_default_limit(def);
  r.set_utc_offset(offset);
  return r;
}

TEST_F(ThrottleSiteTest, ThrottlesAreStoredWithTheSiteAndSurviveAReopen) {
  Make();
  ThrottleService t = Throttles();
  EXPECT_THAT(t.Get("site"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("unlimited")));
  ASSERT_OK_AND_ASSIGN(model::Throttle site,
                       t.Set(Request("", {"Mon-Fri 08:00-18:00 50Mbit/s"}, "", "+01:00")));
  EXPECT_EQ(site.id(), "site");
  EXPECT_EQ(site.utc_offset_minutes(), 60);
  ASSERT_OK_AND_ASSIGN(model::Throttle vm, t.Set(Request("VM1", {}, "20Mbit/s")));
  EXPECT_EQ(vm.id(), "vm-vm1");
  EXPECT_EQ(vm.vm_name(), "VM1");
  EXPECT_THAT(t.Set(Request("VM9", {}, "20Mbit/s")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no VM 'VM9'")));
  EXPECT_THAT(t.Set(Request("VM1", {"Mon 09:00-08:00 1Mbit/s"}, "")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not after the start")));
  EXPECT_THAT(t.Set(Request("VM1", {}, "")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("limits nothing")));

  ASSERT_OK(site_->Reopen());
  t = Throttles();
  ASSERT_OK_AND_ASSIGN(std::vector<model::Throttle> all, t.List());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id(), "site");
  EXPECT_EQ(all[0].schedule().windows(0).bits_per_second(), 50'000'000u);
  EXPECT_EQ(all[1].schedule().default_bits_per_second(), 20'000'000u);
  ASSERT_OK(t.Clear("vm1"));
  EXPECT_THAT(t.Get("VM1"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(t.Clear("VM1"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(all, t.List());
  EXPECT_EQ(all.size(), 1u);
}

TEST_F(ThrottleSiteTest, ACycleIsPacedByTheVmsLimitAndTheItemShowsItsExpectedRpo) {
  Make();
  SiteServiceOptions so;
  so.threads = false;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SiteService> service, site_->StartService(so));
  ProtectionService& p = site_->sr().protection();
  EnableRequest er;
  er.vm_ref = "VM1";
  ASSERT_OK_AND_ASSIGN(model::Job job, p.EnableProtection(er));
  ASSERT_EQ(job.state(), model::Succeeded);
  ASSERT_OK_AND_ASSIGN(model::ProtectedItem item, p.GetItem("VM1"));
  EXPECT_EQ(item.throttle_in_force().bits_per_second(), 0u);
  EXPECT_EQ(item.throttle_in_force().rule(), "unlimited");

  // 8 Mbit/s for VM1 and a looser site limit: the VM's applies.
  ThrottleService t = Throttles();
  ASSERT_OK(t.Set(Request("site", {}, "100Mbit/s")).status());
  ASSERT_OK(t.Set(Request("VM1", {}, "8Mbit/s")).status());
  ASSERT_OK(site_->fabric().GuestWrite("vm1", "vm1-d0", 1 << 20, 2 << 20, 7));
  ASSERT_OK_AND_ASSIGN(model::CycleOutcome c, p.ReplicateNow("VM1", ReplicateOptions()));
  ASSERT_TRUE(c.ok()) << c.error();
  ASSERT_GT(c.bytes_sent(), 2u << 20);
  // Pacing can only slow a cycle: at 8 Mbit/s its bytes need at least
  // bytes*8/limit, less the 100 ms burst.
  const double at_limit = static_cast<double>(c.bytes_sent()) * 8 / 8'000'000;
  EXPECT_GE(c.seconds(), at_limit - 0.15) << c.bytes_sent() << " bytes";

  ASSERT_OK_AND_ASSIGN(item, p.GetItem("VM1"));
  EXPECT_EQ(item.throttle_in_force().bits_per_second(), 8'000'000u);
  EXPECT_EQ(item.throttle_in_force().source(), "vm");
  EXPECT_EQ(item.throttle_in_force().rule(), "default 8Mbit/s");
  EXPECT_GE(item.expected_rpo_seconds(), 30 + static_cast<int64_t>(at_limit));
  EXPECT_LE(item.expected_rpo_seconds(), 30 + static_cast<int64_t>(c.seconds()) + 1);
  EXPECT_EQ(item.replication_health(), model::Normal);  // 30 s + ~2 s is within 60 s
  // Without the VM's limit the site's applies.
  ASSERT_OK(t.Clear("VM1"));
  ASSERT_OK_AND_ASSIGN(item, p.GetItem("VM1"));
  EXPECT_EQ(item.throttle_in_force().source(), "site");
  EXPECT_EQ(item.throttle_in_force().bits_per_second(), 100'000'000u);
  service->Stop();
}

TEST_F(ThrottleSiteTest, ALimitThatMakesTheRpoExceedThePolicysBoundIsAWarningNamingIt) {
  FakeClock clock(kMondayTen);
  TestSiteOptions o;
  o.clock = &clock;
  Make(o);
  repository::ObjectRepository& repo = site_->sr().repository();
  ASSERT_OK_AND_ASSIGN(std::vector<model::ReplicationPolicy> policies,
                       repo.List<model::ReplicationPolicy>());
  ASSERT_FALSE(policies.empty());
  const model::ReplicationPolicy& policy = policies[0];
  model::ProtectedItem item;
  item.set_id("pi-vm1");
  item.set_vm_id("vm1");
  item.set_protection_state(model::Protected);
  item.set_replication_health(model::Normal);
  model::CycleOutcome* last = item.add_recent_cycles();
  last->set_ok(true);
  last->set_bytes_sent(100'000'000);  // 100 MB a cycle
  last->set_seconds(4);
  ThrottleService t = Throttles();
  // Weekdays 08:00-18:00 8 Mbit/s: 100 MB take 100 s, so RPO 30 s + 100 s.
  ASSERT_OK(t.Set(Request("VM1", {"Mon-Fri 08:00-18:00 8Mbit/s"}, "unlimited")).status());
  model::ProtectedItem d = item;
  DecorateThrottle(repo, &policy, clock.Now(), &d);
  EXPECT_EQ(d.expected_rpo_seconds(), 30 + 100);
  EXPECT_EQ(d.replication_health(), model::Warning);
  ASSERT_EQ(d.health_errors_size(), 1);
  EXPECT_EQ(d.health_errors(0).code(), "ThrottleLimitsRpo");
  EXPECT_THAT(d.health_errors(0).message(),
              HasSubstr("vm throttle (Mon-Fri 08:00-18:00 8Mbit/s) sends the last cycle's 100 MB "
                        "in 100 s: expected RPO 2 min exceeds 2x the 30 s copy frequency"));
  EXPECT_EQ(d.throttle_in_force().next_change_unix(),
            absl::ToUnixSeconds(kMondayTen + absl::Hours(8)));
  // Out of the window the cycle's own time counts: no warning.
  clock.Advance(absl::Hours(9));
  d = item;
  DecorateThrottle(repo, &policy, clock.Now(), &d);
  EXPECT_EQ(d.throttle_in_force().bits_per_second(), 0u);
  EXPECT_EQ(d.expected_rpo_seconds(), 30 + 4);
  EXPECT_EQ(d.replication_health(), model::Normal);
  EXPECT_EQ(d.health_errors_size(), 0);
}

}  // namespace
}  // namespace asr::protection
