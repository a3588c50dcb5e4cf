// asrctl group ...: over a protected site on the simulated fabric, a group
// of VM1 and VM2 is created, cycled with `group replicate` (shared points
// restored and proven against the fabric's write log) and taken apart.
#include "asr/cli/group_commands.h"

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "asr/cli/core_commands.h"
#include "asr/cli/engine_options.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/model/groups.pb.h"
#include "asr/model/json.h"
#include "asr/protection/test_site.h"
#include "asr/replication/replica_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asr::cli {
namespace {

using ::testing::HasSubstr;

struct Result {
  int code;
  std::string out, err;
};

class GroupCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    protection::TestSiteOptions o;
    ASSERT_OK_AND_ASSIGN(site_, protection::TestSite::Create(asr::testing::TestPath("site"), o));
    for (const char* vm : {"VM1", "VM2"}) {
      protection::EnableRequest r;
      r.vm_ref = vm;
      ASSERT_OK_AND_ASSIGN(auto service, site_->StartService({}));
      ASSERT_OK_AND_ASSIGN(model::Job job, site_->sr().protection().EnableProtection(r));
      ASSERT_EQ(job.state(), model::Succeeded);
      service->Stop();
    }
    site_->Close();  // asrctl opens the state now
    RegisterCoreCommands(registry_);
    RegisterGroupCommands(registry_);
  }
  Result Run(const std::string& line) {
    std::vector<std::string> args = {"--state-dir", site_->state_dir(), "--fabric",
                                     site_->fabric().root()};
    for (absl::string_view w : absl::StrSplit(line, ' ', absl::SkipEmpty())) args.emplace_back(w);
    std::istringstream in;
    std::ostringstream out, err;
    int code = registry_.Run(args, in, out, err);
    return {code, out.str(), err.str()};
  }

  std::unique_ptr<protection::TestSite> site_;
  CommandRegistry registry_;
};

TEST_F(GroupCommandsTest, CreateReplicateShowPointsAndDelete) {
  Result c = Run("group create app --vm VM1 --vm VM2 --sync-interval 60");
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_THAT(c.out, HasSubstr("members: pi-vm1, pi-vm2"));
  EXPECT_THAT(c.out, HasSubstr("sync interval: 60 s"));
  // The rules, as errors.
  Result again = Run("group create db --vm VM1");
  EXPECT_EQ(again.code, 1);
  EXPECT_THAT(again.err, HasSubstr("already in replication group 'app'"));
  Result unknown = Run("group add app --vm nope");
  EXPECT_EQ(unknown.code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("no protected item 'nope'"));
  Result none = Run("group points app");
  ASSERT_EQ(none.code, 0) << none.err;
  EXPECT_THAT(none.out, HasSubstr("no shared points yet"));

  ASSERT_OK(site_->fabric().GuestWrite("vm1", "vm1-d0", 1 << 20, 8192, 71));
  ASSERT_OK(site_->fabric().GuestWrite("vm2", "vm2-d1", 2 << 20, 8192, 72));
  Result r = Run("group replicate app --pki " + site_->pki_dir() + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  model::GroupCycleOutcome outcome;
  ASSERT_OK(model::FromJson(r.out, &outcome));
  EXPECT_TRUE(outcome.ok());
  EXPECT_EQ(outcome.point_sequence(), 1u);

  Result p = Run("group points app --json");
  ASSERT_EQ(p.code, 0) << p.err;
  EXPECT_THAT(p.out, HasSubstr("\"id\":\"rg-app-p00000001\""));
  Result show = Run("group show app");
  ASSERT_EQ(show.code, 0) << show.err;
  EXPECT_THAT(show.out, HasSubstr("latest shared point: rg-app-p00000001"));
  Result list = Run("group list");
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr("app  2 VMs  every 60 s"));

  // The shared point, restored from the replicas, holds every write up to
  // its instant on every disk of both VMs.
  ASSERT_OK(site_->Reopen());
  ASSERT_OK_AND_ASSIGN(model::GroupRecoveryPoint shared,
                       site_->sr().groups().LatestSharedPoint("app"));
  ASSERT_EQ(shared.members_size(), 2);
  for (const auto& m : shared.members()) {
    ASSERT_OK_AND_ASSIGN(model::ProtectedItem item,
                         site_->sr().protection().GetItem(m.protected_item_id()));
    ASSERT_OK_AND_ASSIGN(model::RecoveryPoint rp,
                         site_->sr().repository().Get<model::RecoveryPoint>(m.recovery_point_id()));
    EXPECT_EQ(rp.source_time_us(), shared.source_time_us());
    for (int k = 0; k < item.disks_size(); ++k) {
      const std::string out = asr::testing::TestPath(m.vm_id() + "-" + std::to_string(k) + ".vhdx");
      ASSERT_OK(replication::RestorePoint(item.disks(k).replica_dir(),
                                          rp.disks(k).replica_point_id(), out, {}));
      EXPECT_OK(site_->fabric().VerifyDiskAtPoint(item.vm_id(), item.disks(k).disk_id(),
                                                  rp.host_point_id(), out));
    }
  }
  site_->Close();

  Result rm = Run("group remove app --vm VM2");
  ASSERT_EQ(rm.code, 0) << rm.err;
  EXPECT_THAT(rm.out, HasSubstr("members: pi-vm1\n"));
  // VM2 left the group's members, so no shared point covers them all now.
  Result after = Run("group points app");
  ASSERT_EQ(after.code, 0) << after.err;
  EXPECT_THAT(after.out, HasSubstr("rg-app-p00000001"));
  Result del = Run("group delete app");
  ASSERT_EQ(del.code, 0) << del.err;
  Result gone = Run("group show app");
  EXPECT_EQ(gone.code, 1);
  EXPECT_THAT(gone.err, HasSubstr("no replication group 'app'"));
  Result bad = Run("group create x --sync-interval 5");
  EXPECT_EQ(bad.code, 2);  // bad usage
  EXPECT_THAT(bad.err, HasSubstr("30 .. 86400"));
}

}  // namespace
}  // namespace asr::cli
