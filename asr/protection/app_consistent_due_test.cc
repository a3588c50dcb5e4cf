#include "asr/protection/app_consistent_due.h"

#include "asr/model/groups.pb.h"
#include "asr/model/protection.pb.h"
#include "gtest/gtest.h"

namespace asr::protection {
namespace {

constexpr int64_t kT0 = 1800000000;  // a cycle time, Unix seconds

template <typename Cycles>
void AddCycle(Cycles* cycles, int64_t time_unix, const std::string& fallback) {
  auto* c = cycles->Add();
  c->set_time_unix(time_unix);
  c->set_ok(true);
  c->set_app_consistent_fallback(fallback);
}

absl::Time At(int64_t unix_seconds) { return absl::FromUnixSeconds(unix_seconds); }

TEST(AppConsistentDueTest, FollowsThePolicysFrequency) {
  google::protobuf::RepeatedPtrField<model::CycleOutcome> cycles;
  EXPECT_FALSE(AppConsistentDue(0, 0, cycles, At(kT0)));  // the policy asks for none
  EXPECT_TRUE(AppConsistentDue(4, 0, cycles, At(kT0)));   // none yet
  AddCycle(&cycles, kT0, "");
  EXPECT_FALSE(AppConsistentDue(4, kT0, cycles, At(kT0 + 3 * 3600)));
  EXPECT_TRUE(AppConsistentDue(4, kT0, cycles, At(kT0 + 4 * 3600)));
}

TEST(AppConsistentDueTest, AfterAFallbackItIsAskedAgainOnlyAnHourLater) {
  google::protobuf::RepeatedPtrField<model::CycleOutcome> cycles;
  // No app-consistent point yet; the last try fell back (no guest agent);
  // crash-consistent cycles since.
  AddCycle(&cycles, kT0, "VM 'vm1' cannot be quiesced: no guest agent answers");
  AddCycle(&cycles, kT0 + 300, "");
  AddCycle(&cycles, kT0 + 600, "");
  EXPECT_FALSE(AppConsistentDue(1, 0, cycles, At(kT0 + 900)));
  EXPECT_FALSE(AppConsistentDue(1, 0, cycles, At(kT0 + 3599)));
  EXPECT_TRUE(AppConsistentDue(1, 0, cycles, At(kT0 + 3600)));

  // A fallback before the last app-consistent point does not count: the
  // policy's frequency decides.
  google::protobuf::RepeatedPtrField<model::CycleOutcome> later;
  AddCycle(&later, kT0, "no guest agent answers");
  AddCycle(&later, kT0 + 600, "");  // app-consistent
  EXPECT_TRUE(AppConsistentDue(1, kT0 + 600, later, At(kT0 + 600 + 3600)));
  EXPECT_FALSE(AppConsistentDue(1, kT0 + 600, later, At(kT0 + 600 + 1800)));
}

TEST(AppConsistentDueTest, GroupsFollowTheSameRule) {
  google::protobuf::RepeatedPtrField<model::GroupCycleOutcome> cycles;
  AddCycle(&cycles, kT0, "VM 'vm2' cannot be quiesced");
  EXPECT_FALSE(AppConsistentDue(2, 0, cycles, At(kT0 + 60)));
  EXPECT_TRUE(AppConsistentDue(2, 0, cycles, At(kT0 + 3600)));
}

}  // namespace
}  // namespace asr::protection
