#include <string>
#include <vector>

#include "absl/time/time.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/jobs/rule_error.h"
#include "asr/protection/health.h"
#include "asr/protection/item_state.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"

namespace asr::protection {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

model::ProtectedItem Item(model::ProtectionState state) {
  model::ProtectedItem i;
  i.set_id("pi-vm1");
  i.set_vm_id("vm1");
  i.set_vm_name("VM1");
  i.set_protection_state(state);
  return i;
}

model::ReplicationPolicy Policy(int frequency) {
  model::ReplicationPolicy p;
  p.set_name("gold");
  p.set_replication_provider(model::HyperVReplica2012R2);
  p.set_replication_frequency_in_seconds(frequency);
  return p;
}

TEST(ItemStateTest, AllowedOperationsFollowTheState) {
  EXPECT_THAT(
      AllowedOperations(Item(model::Protected)),
      ElementsAre("PlannedFailover", "UnplannedFailover", "TestFailover", "DisableProtection"));
  EXPECT_THAT(AllowedOperations(Item(model::EnablingProtection)), IsEmpty());
  EXPECT_THAT(AllowedOperations(Item(model::DisablingProtection)), IsEmpty());
  EXPECT_THAT(AllowedOperations(Item(model::EnablingFailed)), ElementsAre("DisableProtection"));
  EXPECT_THAT(AllowedOperations(Item(model::InitialReplicationInProgress)),
              ElementsAre("DisableProtection"));
  model::ProtectedItem resync = Item(model::Protected);
  resync.add_health_errors()->set_code("ResyncRequired");
  EXPECT_THAT(AllowedOperations(resync), ::testing::Contains("RepairReplication"));
}

TEST(ItemStateTest, RefusalNamesStateOperationAndWhatIsAllowed) {
  model::ProtectedItem item = Item(model::InitialReplicationInProgress);
  absl::Status s = CheckAllowed(item, kPlannedFailover);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("PlannedFailover is not allowed for VM 'VM1' in protection "
                                     "state InitialReplicationInProgress"));
  EXPECT_THAT(s.message(), HasSubstr("allowed now: DisableProtection"));
  EXPECT_EQ(jobs::RuleOf(s), "OperationNotAllowedInState");

  model::ProtectedItem busy = Item(model::EnablingProtection);
  busy.mutable_current_scenario()->set_job_id("job-000007");
  busy.mutable_current_scenario()->set_scenario_name("EnableProtection");
  EXPECT_THAT(CheckAllowed(busy, kDisableProtection).message(),
              HasSubstr("wait for job job-000007 (EnableProtection)"));
  EXPECT_OK(CheckAllowed(Item(model::Protected), kTestFailover));
  EXPECT_OK(CheckAllowed(Item(model::Protected), kReplicate));
  EXPECT_FALSE(CheckAllowed(Item(model::EnablingFailed), kReplicate).ok());
}

TEST(HealthTest, NormalWhenPointsAreFresh) {
  model::ProtectedItem item = Item(model::Protected);
  const absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  item.set_last_recovery_point_time_unix(absl::ToUnixSeconds(now) - 40);
  HealthReport h = ComputeHealth(item, Policy(30), now);
  EXPECT_EQ(h.health, model::Normal);
  EXPECT_EQ(h.rpo_seconds, 40);
  EXPECT_THAT(h.errors, IsEmpty());
}

TEST(HealthTest, RpoOverTwiceTheFrequencyWarnsAndOverTwelveIsCritical) {
  model::ProtectedItem item = Item(model::Protected);
  const absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  item.set_last_recovery_point_time_unix(absl::ToUnixSeconds(now) - 14 * 60);
  HealthReport h = ComputeHealth(item, Policy(300), now);
  EXPECT_EQ(h.health, model::Warning);
  ASSERT_EQ(h.errors.size(), 1u);
  EXPECT_EQ(h.errors[0].code(), "RpoExceeded");
  EXPECT_EQ(h.errors[0].message(), "RPO 14 min exceeds 2x the 300 s copy frequency");

  item.set_last_recovery_point_time_unix(absl::ToUnixSeconds(now) - 65 * 60 - 10);
  h = ComputeHealth(item, Policy(300), now);
  EXPECT_EQ(h.health, model::Critical);
  EXPECT_EQ(h.errors[0].message(), "RPO 1 h 5 min exceeds 12x the 300 s copy frequency");
}

TEST(HealthTest, HyperVReplica2012IsJudgedAtFiveMinutes) {
  model::ReplicationPolicy p = Policy(30);
  p.set_replication_provider(model::HyperVReplica2012);
  EXPECT_EQ(CopyFrequencySeconds(p), 300);
  model::ProtectedItem item = Item(model::Protected);
  const absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  item.set_last_recovery_point_time_unix(absl::ToUnixSeconds(now) - 600);
  EXPECT_EQ(ComputeHealth(item, p, now).health, model::Normal);
}

TEST(HealthTest, FailingCyclesAreCountedWithTheLatestError) {
  model::ProtectedItem item = Item(model::Protected);
  const absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  item.set_last_recovery_point_time_unix(absl::ToUnixSeconds(now) - 10);
  for (int i = 0; i < 10; ++i) {
    model::CycleOutcome* c = item.add_recent_cycles();
    c->set_ok(i != 2 && i != 5 && i != 7);
    if (!c->ok()) c->set_error("disk full on hv-chi-01");
  }
  HealthReport h = ComputeHealth(item, Policy(30), now);
  EXPECT_EQ(h.health, model::Warning);
  ASSERT_EQ(h.errors.size(), 1u);
  EXPECT_EQ(h.errors[0].message(), "3 of the last 10 cycles failed: disk full on hv-chi-01");
  // The last three failing is critical.
  for (int i = 7; i < 10; ++i) item.mutable_recent_cycles(i)->set_ok(false);
  EXPECT_EQ(ComputeHealth(item, Policy(30), now).health, model::Critical);
}

TEST(HealthTest, FailedStatesAreCritical) {
  model::ProtectedItem item = Item(model::InitialReplicationFailed);
  item.mutable_current_scenario()->set_job_id("job-000003");
  HealthReport h = ComputeHealth(item, Policy(30), absl::Now());
  EXPECT_EQ(h.health, model::Critical);
  ASSERT_FALSE(h.errors.empty());
  EXPECT_EQ(h.errors[0].code(), "InitialReplicationFailed");
  EXPECT_THAT(h.errors[0].recommended_action(), HasSubstr("job-000003"));
}

TEST(HealthTest, HumanDurations) {
  EXPECT_EQ(HumanDuration(45), "45 s");
  EXPECT_EQ(HumanDuration(14 * 60 + 3), "14 min");
  EXPECT_EQ(HumanDuration(7200), "2 h");
  EXPECT_EQ(HumanDuration(-3), "0 s");
}

}  // namespace
}  // namespace asr::protection

namespace asr::protection {
namespace {

// Every state a failover or a failure can leave has a way forward: the
// operation again, a cancel, or disabling protection. Only the states of a
// job that is running now (enable, disable) allow nothing, and the range
// markers and the unset value are never stored.
TEST(ItemStateTest, EveryStateHasAWayForward) {
  const google::protobuf::EnumDescriptor* d = model::ProtectionState_descriptor();
  for (int k = 0; k < d->value_count(); ++k) {
    const auto state = static_cast<model::ProtectionState>(d->value(k)->number());
    if (state == model::PROTECTION_STATE_UNSPECIFIED || state == model::UnprotectedStatesBegin ||
        state == model::EnablingProtection || state == model::DisablingProtection) {
      continue;
    }
    model::ProtectedItem item;
    item.set_vm_name("VM1");
    item.set_protection_state(state);
    EXPECT_FALSE(AllowedOperations(item).empty()) << d->value(k)->name();
  }
}

TEST(ItemStateTest, FailoverStatesAllowRetryCancelOrCommit) {
  auto ops = [](model::ProtectionState s) {
    model::ProtectedItem i;
    i.set_protection_state(s);
    return AllowedOperations(i);
  };
  using ::testing::ElementsAre;
  EXPECT_THAT(ops(model::PlannedFailoverFailed), ElementsAre("PlannedFailover", "CancelFailover"));
  EXPECT_THAT(ops(model::PlannedFailoverCompleted), ElementsAre("Commit", "CancelFailover"));
  EXPECT_THAT(ops(model::UnplannedFailoverFailed),
              ElementsAre("UnplannedFailover", "CancelFailover"));
  EXPECT_THAT(ops(model::FailedOver), ElementsAre("Commit", "ChangePit", "CancelFailover"));
  EXPECT_THAT(ops(model::ChangeRecoveryPointFailed), ElementsAre("ChangePit", "CancelFailover"));
  EXPECT_THAT(ops(model::CommitFailoverFailedOnRecovery), ElementsAre("Commit"));
  EXPECT_THAT(ops(model::CancelFailoverFailedOnRecovery), ElementsAre("CancelFailover"));
  EXPECT_THAT(ops(model::Committed), ElementsAre("ReverseReplicate", "DisableProtection"));
  EXPECT_THAT(ops(model::ReprotectFailed), ElementsAre("ReverseReplicate", "DisableProtection"));
  EXPECT_FALSE(Replicates(model::FailedOver));
  EXPECT_FALSE(Replicates(model::PlannedFailoverCompleted));
  EXPECT_FALSE(Replicates(model::Committed));
  EXPECT_TRUE(Replicates(model::PlannedFailoverInitiated));  // its last cycle
}

TEST(ItemStateTest, ATestFailoverIsCleanedUpBeforeAnotherOrDisabling) {
  using ::testing::Contains;
  using ::testing::Not;
  model::ProtectedItem i;
  i.set_protection_state(model::Protected);
  for (const char* s :
       {"TestFailoverCompleted", "TestFailoverCleanupInitiated", "TestFailoverCompletionFailed"}) {
    i.set_test_failover_state(s);
    EXPECT_THAT(AllowedOperations(i), Contains("TestFailoverCleanup")) << s;
    EXPECT_THAT(AllowedOperations(i), Not(Contains("TestFailover"))) << s;
    EXPECT_THAT(AllowedOperations(i), Not(Contains("DisableProtection"))) << s;
  }
  i.set_test_failover_state("TestFailoverFailed");
  EXPECT_THAT(AllowedOperations(i), Contains("TestFailover"));
  EXPECT_THAT(AllowedOperations(i), Contains("TestFailoverCleanup"));
  i.set_test_failover_state("None");
  EXPECT_THAT(AllowedOperations(i), Contains("TestFailover"));
  EXPECT_THAT(AllowedOperations(i), Not(Contains("TestFailoverCleanup")));
  i.set_reversed(true);
  EXPECT_THAT(AllowedOperations(i), Contains("Failback"));
}

}  // namespace
}  // namespace asr::protection
