#include "asr/planning/capacity_planner.h"

#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "asr/disk/virtual_disk.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asr::planning {
namespace {

using ::testing::HasSubstr;

model::CapacityPlanInput TwoDisks() {
  model::CapacityPlanInput in;
  model::CapacityDiskInput* a = in.add_disks();
  a->set_name("VM1/disk0");
  a->set_used_bytes(10ull << 30);
  a->set_churn_bytes_per_hour(1ull << 30);
  model::CapacityDiskInput* b = in.add_disks();
  b->set_name("VM2/disk0");
  b->set_used_bytes(30ull << 30);
  b->set_churn_bytes_per_hour(2ull << 30);
  in.set_copy_frequency_seconds(300);
  in.set_recovery_points_to_retain(24);
  in.set_app_consistent_frequency_hours(1);
  in.set_compression_ratio(2.0);
  in.set_headroom(0.25);
  in.set_link_mbps(4);
  return in;
}

// Every figure computed by hand from TwoDisks():
//   churn 3 GiB/h = 3221225472 B/h; per 300 s cycle: 3221225472 * 300 / 3600
//   = 268435456 B; sent at ratio 2: 134217728 B; mean 134217728 * 8 / 300 /
//   1e6 = 3.5791394 Mbit/s; with 25% headroom 4.4739243 Mbit/s; base 40 GiB
//   = 42949672960 B; 24 points over 7200 s hold ceil(7200 / 3600) = 2
//   app-consistent points: storage 42949672960 + 26 * 268435456 =
//   49928994816 B.
TEST(CapacityPlannerTest, ArithmeticMatchesHandComputedFigures) {
  absl::StatusOr<model::CapacityPlan> p = ComputeCapacityPlan(TwoDisks());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->churn_bytes_per_hour(), 3221225472u);
  EXPECT_EQ(p->changed_bytes_per_cycle(), 268435456u);
  EXPECT_EQ(p->sent_bytes_per_cycle(), 134217728u);
  EXPECT_NEAR(p->mean_mbps(), 3.5791394, 1e-6);
  EXPECT_NEAR(p->required_mbps(), 4.4739243, 1e-6);
  EXPECT_EQ(p->base_bytes(), 42949672960u);
  EXPECT_EQ(p->point_bytes(), 268435456u);
  EXPECT_EQ(p->points_kept(), 24);
  EXPECT_EQ(p->app_consistent_points(), 2);
  EXPECT_EQ(p->replica_storage_bytes(), 49928994816u);
  EXPECT_TRUE(p->link_checked());
  EXPECT_FALSE(p->link_sufficient());
  // The arithmetic is shown step by step with the numbers used.
  ASSERT_GE(p->arithmetic_size(), 8);
  EXPECT_EQ(p->arithmetic(1),
            "changed per cycle = 3221225472 B/h * 300 s / 3600 s/h = 268435456 B (256.00 MiB)");
  EXPECT_THAT(p->arithmetic(p->arithmetic_size() - 1), HasSubstr("too slow"));
}

TEST(CapacityPlannerTest, FastEnoughLinkAndNoAppConsistentPoints) {
  model::CapacityPlanInput in = TwoDisks();
  in.set_link_mbps(5);
  in.set_app_consistent_frequency_hours(0);
  in.set_compression_ratio(0);  // unset: 1
  absl::StatusOr<model::CapacityPlan> p = ComputeCapacityPlan(in);
  ASSERT_TRUE(p.ok()) << p.status();
  // Incompressible: 268435456 B * 8 / 300 s = 7.158 Mbit/s * 1.25 = 8.948: 5 is too slow.
  EXPECT_NEAR(p->required_mbps(), 8.9478485, 1e-6);
  EXPECT_FALSE(p->link_sufficient());
  EXPECT_EQ(p->app_consistent_points(), 0);
  EXPECT_EQ(p->replica_storage_bytes(), 42949672960ull + 24ull * 268435456ull);
  in.set_link_mbps(10);
  p = ComputeCapacityPlan(in);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->link_sufficient());
  EXPECT_THAT(p->arithmetic(p->arithmetic_size() - 1), HasSubstr("meets the RPO"));
  in.set_link_mbps(0);
  p = ComputeCapacityPlan(in);
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->link_checked());
}

TEST(CapacityPlannerTest, BadInputSaysWhatIsWrong) {
  model::CapacityPlanInput in = TwoDisks();
  in.set_copy_frequency_seconds(0);
  EXPECT_THAT(ComputeCapacityPlan(in).status().message(), HasSubstr("copy frequency"));
  in = TwoDisks();
  in.set_compression_ratio(0.5);
  EXPECT_THAT(ComputeCapacityPlan(in).status().message(), HasSubstr("1 or more"));
  in = TwoDisks();
  in.set_headroom(-1);
  EXPECT_THAT(ComputeCapacityPlan(in).status().message(), HasSubstr("headroom"));
  in = TwoDisks();
  in.clear_disks();
  EXPECT_THAT(ComputeCapacityPlan(in).status().message(), HasSubstr("no disks"));
}

TEST(CapacityPlannerTest, InputFromItemsAndTheirPolicy) {
  model::ReplicationPolicy policy;
  policy.set_id("gold");
  policy.set_replication_frequency_in_seconds(30);
  policy.set_number_of_recovery_points_to_retain(4);
  policy.set_application_consistent_snapshot_frequency_in_hours(2);
  std::vector<model::ProtectedItem> items(2);
  items[0].set_vm_name("VM1");
  items[0].set_policy_id("gold");
  model::ProtectedDisk* d = items[0].add_disks();
  d->set_name("disk0");
  d->set_size_bytes(1000);
  items[1].set_vm_name("VM2");
  items[1].set_policy_id("gold");
  d = items[1].add_disks();
  d->set_disk_id("d-2");
  d->set_size_bytes(3000);
  absl::StatusOr<model::CapacityPlanInput> in = PlanInputFromItems(items, {policy});
  ASSERT_TRUE(in.ok()) << in.status();
  ASSERT_EQ(in->disks_size(), 2);
  EXPECT_EQ(in->disks(0).name(), "VM1/disk0");
  EXPECT_EQ(in->disks(1).name(), "VM2/d-2");
  EXPECT_EQ(in->disks(1).used_bytes(), 3000u);
  EXPECT_EQ(in->copy_frequency_seconds(), 30);
  EXPECT_EQ(in->recovery_points_to_retain(), 4);
  EXPECT_EQ(in->app_consistent_frequency_hours(), 2);
  EXPECT_EQ(in->compression_ratio(), 1.0);

  items[1].set_policy_id("silver");
  EXPECT_THAT(PlanInputFromItems(items, {policy}).status().message(),
              HasSubstr("plan each policy separately"));
  EXPECT_THAT(PlanInputFromItems({}, {policy}).status().message(), HasSubstr("protect a VM"));
  items[0].set_policy_id("bronze");
  EXPECT_EQ(PlanInputFromItems(items, {policy}).status().code(), absl::StatusCode::kNotFound);
}

// A real VHDX written while measured: one 64 KiB block rewritten twice counts
// once, a write straddling two blocks counts two.
TEST(CapacityPlannerTest, MeasureCountsDistinctChangedBlocks) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(tmp ? tmp : "/tmp") + "/measure.vhdx";
  disk::CreateOptions opts;
  opts.virtual_size = 16ull << 20;
  {
    auto d = disk::CreateDisk(path, opts);
    ASSERT_TRUE(d.ok()) << d.status();
    std::vector<uint8_t> base(1 << 20, 0x11);
    ASSERT_TRUE((*d)->WriteAt(0, absl::MakeSpan(base)).ok());
    ASSERT_TRUE((*d)->Close().ok());
  }
  absl::StatusOr<model::CapacityMeasurement> m;
  std::thread measure([&] { m = MeasureDiskChurn(path, absl::Seconds(2)); });
  absl::SleepFor(absl::Milliseconds(800));
  {
    auto d = disk::OpenDisk(path, disk::OpenMode::kReadWrite);
    ASSERT_TRUE(d.ok()) << d.status();
    std::vector<uint8_t> a(4096, 0x22), b(4096, 0x33), c(100, 0x44);
    ASSERT_TRUE((*d)->WriteAt(65536, absl::MakeSpan(a)).ok());
    ASSERT_TRUE((*d)->WriteAt(65536 + 8192, absl::MakeSpan(b)).ok());
    ASSERT_TRUE((*d)->WriteAt(4 * 65536 - 50, absl::MakeSpan(c)).ok());
    ASSERT_TRUE((*d)->Close().ok());
  }
  measure.join();
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->blocks_changed(), 3u);
  EXPECT_EQ(m->bytes_changed(), 3u * 65536);
  EXPECT_EQ(m->virtual_size_bytes(), 16u << 20);
  EXPECT_GE(m->seconds(), 2.0);
  EXPECT_NEAR(static_cast<double>(m->churn_bytes_per_hour()), 3.0 * 65536 * 3600 / m->seconds(),
              2.0);
  EXPECT_EQ(m->used_bytes(), 1u << 20);  // the blocks not all zeros

  EXPECT_THAT(MeasureDiskChurn(path, absl::ZeroDuration()).status().message(),
              HasSubstr("positive duration"));
  EXPECT_FALSE(MeasureDiskChurn(path + ".missing", absl::Seconds(1)).ok());
}

}  // namespace
}  // namespace asr::planning
