// A VM of two disks replicated point by point with the host point's instant
// as each disk's source time: a point only one disk committed (the other's
// cycle never sent, as when the site dies between the two) is not whole, the
// previous whole point restores both disks as they were, and the next cycle
// of the other disk completes the newer instant.
#include "asr/replication/vm_points.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asr/common/file_util.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/replication/replica_store.h"
#include "asr/replication/replication_test_util.h"
#include "asr/replication/sender.h"
#include "gtest/gtest.h"

namespace asr::replication {
namespace {

using testing::CreateSourceDisk;
using testing::ReadDisk;
using testing::RunCycle;
using testing::WritePattern;

constexpr uint64_t kDiskSize = 8 << 20;

struct Disk {
  std::string src;
  std::string dir;
  std::unique_ptr<ReplicaStore> store;
  std::map<int64_t, std::vector<uint8_t>> at;  // source contents by instant (us)
  bool replicated = false;
};

class VmPointsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = asr::testing::TestDir("vm-points");
    for (int i = 0; i < 2; ++i) {
      Disk& d = disks_[i];
      d.src = JoinPath(base_, absl::StrCat("disk", i, ".vhdx"));
      d.dir = JoinPath(base_, absl::StrCat("replica", i));
      CreateSourceDisk(d.src, kDiskSize);
      ReplicaOptions ro = testing::WriterOptions();
      ro.additional_points = 3;
      ro.point_interval = absl::ZeroDuration();
      ASSERT_OK_AND_ASSIGN(d.store, ReplicaStore::Open(d.dir, ro));
    }
  }

  // The VM's writes before the point at `t`, on both disks.
  void Write(uint32_t seed) {
    WritePattern(disks_[0].src, (seed % 6) << 20, 256 << 10, seed);
    WritePattern(disks_[1].src, ((seed + 3) % 6) << 20, 128 << 10, seed + 1000);
  }

  // Disk i's cycle of the VM point at `t` (its contents then are kept).
  void Send(int i, absl::Time t, bool app) {
    Disk& d = disks_[i];
    SendOptions so;
    so.source_time = t;
    so.app_consistent = app;
    auto st = RunCycle(d.src, d.replicated ? CycleMode::kScan : CycleMode::kInitial, *d.store, so);
    ASSERT_OK(st);
    d.replicated = true;
    d.at[absl::ToUnixMicros(t)] = ReadDisk(d.src);
  }

  std::vector<std::string> Dirs() const { return {disks_[0].dir, disks_[1].dir}; }

  std::string base_;
  Disk disks_[2];
};

TEST_F(VmPointsTest, APointOnlyOneDiskCommittedLeavesThePreviousWholePoint) {
  const absl::Time t1 = absl::FromUnixSeconds(1700000000);
  const absl::Time t2 = t1 + absl::Minutes(5);
  const absl::Time t3 = t2 + absl::Minutes(5);
  Write(1);
  Send(0, t1, /*app=*/true);
  Send(1, t1, /*app=*/true);
  Write(2);
  Send(0, t2, /*app=*/true);
  Send(1, t2, /*app=*/false);  // disk 1's snapshot was only crash-consistent
  // T3: the VM writes on; disk 0's point commits, disk 1's cycle is never
  // sent (the site died between the two commits).
  Write(3);
  Send(0, t3, /*app=*/false);

  ASSERT_OK_AND_ASSIGN(std::vector<VmPoint> points, CommonPoints(Dirs()));
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[0].source_time, t1);
  EXPECT_EQ(points[0].point_ids, (std::vector<uint64_t>{1, 1}));
  EXPECT_TRUE(points[0].app_consistent);
  EXPECT_EQ(points[1].source_time, t2);
  EXPECT_EQ(points[1].point_ids, (std::vector<uint64_t>{2, 2}));
  EXPECT_FALSE(points[1].app_consistent);  // app only when every disk's is
  ASSERT_OK_AND_ASSIGN(VmPoint latest, LatestWholePoint(Dirs()));
  EXPECT_EQ(latest.source_time, t2);

  // T2 restores both disks as they were at T2 (disk 0 from its older point).
  const std::vector<std::string> out = {JoinPath(base_, "vm-t2-disk0.vhdx"),
                                        JoinPath(base_, "vm-t2-disk1.vhdx")};
  ASSERT_OK(RestoreVmPoint(Dirs(), t2, out, {}));
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(ReadDisk(out[i]), disks_[i].at[absl::ToUnixMicros(t2)]) << "disk " << i;
  }
  EXPECT_NE(disks_[0].at[absl::ToUnixMicros(t2)], disks_[0].at[absl::ToUnixMicros(t3)]);
  const std::vector<std::string> out1 = {JoinPath(base_, "vm-t1-disk0.vhdx"),
                                         JoinPath(base_, "vm-t1-disk1.vhdx")};
  ASSERT_OK(RestoreVmPoint(Dirs(), t1, out1, {}));
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(ReadDisk(out1[i]), disks_[i].at[absl::ToUnixMicros(t1)]) << "disk " << i;
  }

  // T3 is not whole: refused, naming the replica without it; nothing written.
  const std::vector<std::string> out3 = {JoinPath(base_, "vm-t3-disk0.vhdx"),
                                         JoinPath(base_, "vm-t3-disk1.vhdx")};
  absl::Status partial = RestoreVmPoint(Dirs(), t3, out3, {});
  EXPECT_EQ(partial.code(), absl::StatusCode::kNotFound) << partial;
  EXPECT_NE(partial.message().find(disks_[1].dir), absl::string_view::npos) << partial;
  EXPECT_EQ(partial.message().find(disks_[0].dir), absl::string_view::npos) << partial;
  EXPECT_FALSE(PathExists(out3[0]));
  EXPECT_FALSE(PathExists(out3[1]));

  // Disk 1's next cycle completes T3 (the writes before it included):
  // nothing was lost.
  Send(1, t3, /*app=*/false);
  ASSERT_OK_AND_ASSIGN(latest, LatestWholePoint(Dirs()));
  EXPECT_EQ(latest.source_time, t3);
  EXPECT_EQ(latest.point_ids, (std::vector<uint64_t>{3, 3}));
  ASSERT_OK(RestoreVmPoint(Dirs(), t3, out3, {}));
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(ReadDisk(out3[i]), disks_[i].at[absl::ToUnixMicros(t3)]) << "disk " << i;
  }
}

TEST_F(VmPointsTest, BadArgumentsAndNoCommonPointAreRefused) {
  EXPECT_EQ(CommonPoints({}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CommonPoints({disks_[0].dir, disks_[0].dir}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CommonPoints({JoinPath(base_, "nothing-here")}).status().code(),
            absl::StatusCode::kNotFound);
  const absl::Time t1 = absl::FromUnixSeconds(1700000000);
  Write(1);
  Send(0, t1, false);
  Send(1, t1 + absl::Seconds(1), false);  // not the same instant: no VM point
  ASSERT_OK_AND_ASSIGN(std::vector<VmPoint> points, CommonPoints(Dirs()));
  EXPECT_TRUE(points.empty());
  EXPECT_EQ(LatestWholePoint(Dirs()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(RestoreVmPoint(Dirs(), t1, {JoinPath(base_, "only-one.vhdx")}, {}).code(),
            absl::StatusCode::kInvalidArgument);
  const std::string same = JoinPath(base_, "same.vhdx");
  EXPECT_EQ(RestoreVmPoint(Dirs(), t1, {same, same}, {}).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace asr::replication
