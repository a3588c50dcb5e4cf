// Verification and resynchronization of protected VMs on the simulated
// fabric (real VHDX replicas behind the site's recovery endpoint): bit rot
// in a replica file and a replica cut short are found by `VerifyItem`, shown
// as the item's resync state and health, repaired by `ResyncItem` sending
// only the blocks that differ, and the site service resynchronizes by
// itself only inside the policy's window.
#include "asr/protection/item_resync.h"

#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "asr/common/clock.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/disk/test_util.h"
#include "asr/jobs/rule_error.h"
#include "asr/protection/test_site.h"
#include "asr/replication/replica_store.h"
#include "asr/replication/replication_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asr::protection {
namespace {

using ::asr::testing::StatusIs;
using ::asr::testing::TestPath;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr uint64_t kBlock = 64 << 10;  // the replication block
constexpr uint64_t kMarked = 6 << 20;  // a block of vm1-d0 with its own data

class ItemResyncTest : public ::testing::Test {
 protected:
  void Make(TestSiteOptions o = {}) {
    absl::StatusOr<std::unique_ptr<TestSite>> s = TestSite::Create(
        TestPath(::testing::UnitTest::GetInstance()->current_test_info()->name()), o);
    ASSERT_OK(s.status());
    site_ = std::move(*s);
    SiteServiceOptions so;
    so.threads = false;
    absl::StatusOr<std::unique_ptr<SiteService>> svc = site_->StartService(so);
    ASSERT_OK(svc.status());
    service_ = std::move(*svc);
    ASSERT_OK(site_->fabric().GuestWrite("vm1", "vm1-d0", kMarked, kBlock, 77));
    ASSERT_OK(site_->fabric().GuestWrite("vm1", "vm1-d1", 1 << 20, 3 << 20, 78));
    EnableRequest r;
    r.vm_ref = "VM1";
    ASSERT_OK(protection().EnableProtection(r).status());
    ASSERT_OK_AND_ASSIGN(item_, protection().GetItem("VM1"));
  }
  ProtectionService& protection() { return site_->sr().protection(); }

  // Flips one bit of the block at kMarked inside disk 0's replica FILE.
  void FlipBitInReplica() {
    const std::vector<uint8_t> src = replication::testing::ReadDisk(item_.disks(0).source_path());
    std::string needle(reinterpret_cast<const char*>(src.data()) + kMarked + kBlock / 2,
                       kBlock / 4);
    const std::string file = item_.disks(0).replica_path();
    std::string bytes = disk::testing::ReadFileBytes(file);
    size_t at = bytes.find(needle);
    ASSERT_NE(at, std::string::npos);
    uint8_t b = static_cast<uint8_t>(bytes[at + 3]) ^ 0x80;
    disk::testing::PatchFile(file, at + 3, &b, 1);
  }

  // Every disk of the latest VM point restored and proven against the
  // fabric's write log.
  void ExpectLatestPointHoldsTheGuestWrites() {
    ASSERT_OK_AND_ASSIGN(std::vector<model::RecoveryPoint> points,
                         protection().ListRecoveryPoints("VM1"));
    ASSERT_FALSE(points.empty());
    const model::RecoveryPoint& p = points.back();
    for (int k = 0; k < item_.disks_size(); ++k) {
      const std::string out = TestPath(absl::StrCat("restored-", p.id(), "-", k, ".vhdx"));
      replication::RestoreOptions ro;
      ro.overwrite = true;
      ASSERT_OK(replication::RestorePoint(item_.disks(k).replica_dir(),
                                          p.disks(k).replica_point_id(), out, ro));
      EXPECT_OK(site_->fabric().VerifyDiskAtPoint(item_.vm_id(), item_.disks(k).disk_id(),
                                                  p.host_point_id(), out));
    }
  }

  std::unique_ptr<TestSite> site_;
  std::unique_ptr<SiteService> service_;
  model::ProtectedItem item_;
};

TEST_F(ItemResyncTest, BitRotIsFoundShownAndRepairedByResendingOneBlock) {
  Make();
  ASSERT_OK_AND_ASSIGN(model::ItemVerification clean, protection().VerifyItem("VM1"));
  EXPECT_FALSE(clean.resync_required()) << clean.reason();
  ASSERT_EQ(clean.disks_size(), 2);
  ASSERT_OK_AND_ASSIGN(model::ProtectedItem item, protection().GetItem("VM1"));
  EXPECT_EQ(item.resync_state(), model::None);
  EXPECT_GT(item.last_verification_time_unix(), 0);
  EXPECT_THAT(item.allowed_operations(), Not(Contains("RepairReplication")));
  // Not needed now: refused, naming the state.
  EXPECT_THAT(protection().ResyncItem("VM1").status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("RepairReplication")));

  FlipBitInReplica();
  ASSERT_OK_AND_ASSIGN(model::ItemVerification v, protection().VerifyItem("VM1"));
  EXPECT_TRUE(v.resync_required());
  EXPECT_EQ(v.disks(0).replica_mismatches(), 1u);
  EXPECT_THAT(v.disks(0).replica_mismatch_blocks(), ::testing::ElementsAre(kMarked / kBlock));
  EXPECT_FALSE(v.disks(1).resync_required());
  EXPECT_THAT(v.reason(), HasSubstr(absl::StrCat("at offset ", kMarked)));

  ASSERT_OK_AND_ASSIGN(item, protection().GetItem("VM1"));
  EXPECT_TRUE(item.resync_required());
  EXPECT_EQ(item.resync_state(), model::PreparedForResynchronization);
  EXPECT_EQ(item.replication_health(), model::Critical);
  EXPECT_THAT(item.allowed_operations(), Contains("RepairReplication"));
  bool found = false;
  for (const auto& e : item.health_errors()) {
    if (e.code() != "ResyncRequired") continue;
    found = true;
    EXPECT_THAT(e.message(), HasSubstr("1 block of the replica differs"));
    EXPECT_THAT(e.recommended_action(), HasSubstr("asrctl item resync VM1"));
  }
  EXPECT_TRUE(found);

  // A regular cycle meanwhile stays tracked and leaves the requirement.
  ASSERT_OK(site_->fabric().GuestWrite("vm1", "vm1-d1", 9 << 20, 4096, 79));
  ASSERT_OK(protection().ReplicateNow("VM1", ReplicateOptions()).status());
  ASSERT_OK_AND_ASSIGN(item, protection().GetItem("VM1"));
  EXPECT_TRUE(item.resync_required());

  ASSERT_OK_AND_ASSIGN(model::ItemVerification r, protection().ResyncItem("VM1"));
  EXPECT_TRUE(r.resynchronized());
  // One 64 KiB block (compressed at most to itself) and the frames of two
  // disks' cycles; a full copy would be megabytes.
  EXPECT_GT(r.bytes_sent(), 0u);
  EXPECT_LT(r.bytes_sent(), kBlock + 16 * 1024) << r.bytes_sent();
  ASSERT_OK_AND_ASSIGN(item, protection().GetItem("VM1"));
  EXPECT_FALSE(item.resync_required());
  EXPECT_EQ(item.resync_state(), model::None);
  EXPECT_EQ(item.resynchronization_state(), model::ResynchronizationCompleted);
  EXPECT_EQ(item.replication_health(), model::Normal);
  EXPECT_THAT(item.allowed_operations(), Not(Contains("RepairReplication")));
  ASSERT_OK_AND_ASSIGN(v, protection().VerifyItem("VM1"));
  EXPECT_FALSE(v.resync_required()) << v.reason();
  ExpectLatestPointHoldsTheGuestWrites();
}

TEST_F(ItemResyncTest, TruncatedReplicaIsRepairedWithOnlyItsLostData) {
  Make();
  const std::string file = item_.disks(1).replica_path();
  struct stat st;
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  // The last 2 MiB payload block of disk 1 (its guest data ends there).
  ASSERT_EQ(truncate(file.c_str(), st.st_size - (2 << 20)), 0);
  ASSERT_OK_AND_ASSIGN(model::ItemVerification v, protection().VerifyItem("VM1"));
  EXPECT_TRUE(v.resync_required());
  EXPECT_FALSE(v.disks(0).resync_required());
  const uint64_t lost = v.disks(1).replica_mismatches();
  EXPECT_GT(lost, 0u);
  EXPECT_LE(lost, (2u << 20) / kBlock);
  ASSERT_OK_AND_ASSIGN(model::ItemVerification r, protection().ResyncItem("VM1"));
  EXPECT_TRUE(r.resynchronized());
  EXPECT_LT(r.bytes_sent(), lost * kBlock + 64 * 1024) << r.bytes_sent();
  ASSERT_OK_AND_ASSIGN(v, protection().VerifyItem("VM1"));
  EXPECT_FALSE(v.resync_required()) << v.reason();
  ExpectLatestPointHoldsTheGuestWrites();
}

std::string HhMm(absl::Time t) { return absl::FormatTime("%H:%M", t, absl::UTCTimeZone()); }

TEST_F(ItemResyncTest, TheSiteServiceResynchronizesOnlyInsideThePolicysWindow) {
  FakeClock clock(absl::Now());
  TestSiteOptions o;
  o.clock = &clock;
  Make(o);
  ASSERT_OK_AND_ASSIGN(model::ReplicationPolicy p,
                       site_->sr().policies().FindPolicy("gold-policy"));
  p.set_auto_resynchronize_enabled(true);
  p.set_auto_resynchronize_interval_start(HhMm(clock.Now() + absl::Hours(2)));
  p.set_auto_resynchronize_interval_end(HhMm(clock.Now() + absl::Hours(3)));
  ASSERT_OK(site_->sr().policies().UpdatePolicy(p).status());
  EXPECT_FALSE(InAutoResyncWindow(p, clock.Now()));
  EXPECT_TRUE(InAutoResyncWindow(p, clock.Now() + absl::Hours(2) + absl::Minutes(1)));

  FlipBitInReplica();
  ASSERT_OK_AND_ASSIGN(model::ItemVerification v, protection().VerifyItem("VM1"));
  ASSERT_TRUE(v.resync_required());
  // Outside the window: a regular cycle, the requirement stays.
  clock.Advance(absl::Seconds(31));
  ASSERT_OK(service_->Step());
  ASSERT_OK_AND_ASSIGN(model::ProtectedItem item, protection().GetItem("VM1"));
  EXPECT_TRUE(item.resync_required());
  EXPECT_EQ(item.resynchronization_state(), model::ResynchronizationNone);
  // Inside it: the site service resynchronizes by itself.
  clock.Advance(absl::Hours(2) + absl::Minutes(1));
  ASSERT_OK(service_->Step());
  ASSERT_OK_AND_ASSIGN(item, protection().GetItem("VM1"));
  EXPECT_FALSE(item.resync_required()) << item.last_verification_result();
  EXPECT_EQ(item.resynchronization_state(), model::ResynchronizationCompleted);
  EXPECT_THAT(item.last_verification_result(), HasSubstr("resynchronized"));
  ExpectLatestPointHoldsTheGuestWrites();
}

TEST_F(ItemResyncTest, ThePolicysVerificationFrequencyMakesTheSiteServiceVerify) {
  FakeClock clock(absl::Now());
  TestSiteOptions o;
  o.clock = &clock;
  Make(o);
  ASSERT_OK_AND_ASSIGN(model::ReplicationPolicy p,
                       site_->sr().policies().FindPolicy("gold-policy"));
  p.set_verification_frequency_in_hours(24);
  ASSERT_OK(site_->sr().policies().UpdatePolicy(p).status());
  FlipBitInReplica();
  clock.Advance(absl::Seconds(31));
  ASSERT_OK(service_->Step());
  ASSERT_OK_AND_ASSIGN(model::ProtectedItem item, protection().GetItem("VM1"));
  EXPECT_TRUE(item.resync_required()) << item.last_verification_result();
  EXPECT_EQ(item.replication_health(), model::Critical);
  EXPECT_EQ(item.resync_state(), model::PreparedForResynchronization);
}

TEST(AutoResyncWindowTest, BoundsAreHhMmAndAWindowMaySpanMidnight) {
  model::ReplicationPolicy p;
  p.set_auto_resynchronize_enabled(true);
  p.set_auto_resynchronize_interval_start("22:00");
  p.set_auto_resynchronize_interval_end("02:30");
  ASSERT_OK(CheckAutoResyncWindow(p));
  const absl::Time day =
      absl::FromCivil(absl::CivilMinute(2026, 11, 30, 0, 0), absl::UTCTimeZone());
  EXPECT_TRUE(InAutoResyncWindow(p, day + absl::Hours(23)));
  EXPECT_TRUE(InAutoResyncWindow(p, day + absl::Hours(1)));
  EXPECT_FALSE(InAutoResyncWindow(p, day + absl::Hours(2) + absl::Minutes(30)));
  EXPECT_FALSE(InAutoResyncWindow(p, day + absl::Hours(12)));
  p.set_auto_resynchronize_enabled(false);
  EXPECT_FALSE(InAutoResyncWindow(p, day + absl::Hours(23)));
  p.set_auto_resynchronize_interval_end("25:00");
  EXPECT_THAT(CheckAutoResyncWindow(p),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'25:00'")));
}

}  // namespace
}  // namespace asr::protection
