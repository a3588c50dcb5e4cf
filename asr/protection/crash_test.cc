// kill -9 of a process that protects and replicates, at random moments:
// after each kill a new process finds every VM either protected with whole
// points that hold exactly the guest writes before them, or with a failed
// job that the site service restarts; replication then resumes without
// sending the disks again.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/protection/test_site.h"
#include "asr/replication/replica_store.h"
#include "gtest/gtest.h"

namespace asr::protection {
namespace {

using ::asr::testing::TestPath;

EnableRequest Enable(const std::string& vm) {
  EnableRequest r;
  r.vm_ref = vm;
  return r;
}

// The child: replicate VM1 and VM2 (and enable VM-G001 when asked) in a
// loop under a guest workload, until killed.
[[noreturn]] void Child(const std::string& root, bool enable_extra) {
  absl::StatusOr<std::unique_ptr<TestSite>> site = TestSite::Open(root);
  if (!site.ok()) _exit(10);
  SiteServiceOptions o;
  o.threads = false;
  absl::StatusOr<std::unique_ptr<SiteService>> service = (*site)->StartService(o);
  if (!service.ok()) _exit(11);
  fabric::WorkloadOptions w;
  w.writes_per_second = 60;
  w.max_write_bytes = 16 << 10;
  w.vms = {"vm1", "vm2", "vm-g001"};
  if (!(*site)->fabric().StartWorkload(w).ok()) _exit(12);
  ProtectionService& p = (*site)->sr().protection();
  if (enable_extra) (void)p.EnableProtection(Enable("VM-G001"));
  for (;;) {
    (void)p.ReplicateNow("VM1", ReplicateOptions());
    (void)p.ReplicateNow("VM2", ReplicateOptions());
  }
}

void ExpectLatestPointHoldsTheGuestWrites(TestSite& site, const std::string& vm) {
  ProtectionService& p = site.sr().protection();
  ASSERT_OK_AND_ASSIGN(model::ProtectedItem item, p.GetItem(vm));
  ASSERT_OK_AND_ASSIGN(std::vector<model::RecoveryPoint> points, p.ListRecoveryPoints(vm));
  ASSERT_FALSE(points.empty()) << vm;
  for (size_t i = 1; i < points.size(); ++i) {
    EXPECT_LT(points[i - 1].sequence(), points[i].sequence());
    EXPECT_LT(points[i - 1].source_time_us(), points[i].source_time_us());
  }
  const model::RecoveryPoint& latest = points.back();
  for (int k = 0; k < item.disks_size(); ++k) {
    const std::string out = TestPath(absl::StrCat("check-", latest.id(), "-", k, ".vhdx"));
    replication::RestoreOptions ro;
    ro.overwrite = true;
    ASSERT_OK(replication::RestorePoint(item.disks(k).replica_dir(),
                                        latest.disks(k).replica_point_id(), out, ro));
    EXPECT_OK(site.fabric().VerifyDiskAtPoint(item.vm_id(), item.disks(k).disk_id(),
                                              latest.host_point_id(), out))
        << vm << " point " << latest.id() << " disk " << k;
  }
}

TEST(ProtectionCrashTest, KillNineAtAnyMomentLosesNoPointAndResumes) {
  const std::string root = TestPath("crash-site");
  {
    TestSiteOptions o;
    o.extra_vms = 1;
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<TestSite> site, TestSite::Create(root, o));
    SiteServiceOptions so;
    so.threads = false;
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<SiteService> service, site->StartService(so));
    ASSERT_OK(site->sr().protection().EnableProtection(Enable("VM1")).status());
    ASSERT_OK(site->sr().protection().EnableProtection(Enable("VM2")).status());
  }
  std::mt19937 rng(20261130);
  const int kRounds = 6;
  for (int round = 0; round < kRounds; ++round) {
    const bool enable_extra = round == 2;
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) Child(root, enable_extra);
    absl::SleepFor(absl::Milliseconds(300 + rng() % 1500));
    kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);

    ASSERT_OK_AND_ASSIGN(std::unique_ptr<TestSite> site, TestSite::Open(root));
    // A job the kill interrupted says so; the site service restarts it.
    SiteServiceOptions so;
    so.threads = false;
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<SiteService> service, site->StartService(so));
    ASSERT_OK(service->Step());
    ASSERT_OK_AND_ASSIGN(std::vector<model::ProtectedItem> items,
                         site->sr().protection().ListItems());
    for (const auto& item : items) {
      EXPECT_EQ(item.protection_state(), model::Protected)
          << item.vm_name() << " after round " << round << ": "
          << model::ProtectionState_Name(item.protection_state());
    }
    for (const char* vm : {"VM1", "VM2"}) {
      ExpectLatestPointHoldsTheGuestWrites(*site, vm);
      // Resumes: one more cycle sends the changes (under 1 MiB/s of guest
      // writes), not the disks (2 x 16 MiB).
      ASSERT_OK_AND_ASSIGN(model::CycleOutcome c,
                           site->sr().protection().ReplicateNow(vm, ReplicateOptions()));
      EXPECT_LT(c.bytes_sent(), 4u << 20) << vm << " round " << round;
      ExpectLatestPointHoldsTheGuestWrites(*site, vm);
    }
  }
}

}  // namespace
}  // namespace asr::protection
