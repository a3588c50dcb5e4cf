// Two sites over PostgreSQL: the primary site's process writes its state to
// a PostgreSQL primary; a streaming-replication standby at the recovery site
// follows it. In the middle of a recovery plan's test failover the primary
// site is lost: the process and the PostgreSQL primary are killed with
// SIGKILL. The standby is promoted, the recovery site's engine opens it,
// takes the writer lease and runs the plan's unplanned failover from the
// state it has.
//
// What the primary site's process was told is durable is known exactly: it
// writes every batch to a side file (fsync'd) before committing it and
// marks it acknowledged (fsync'd) after Commit returned OK. With a
// synchronous standby the promoted state holds every acknowledged batch
// (and at most the one in flight); with an asynchronous standby it is the
// state after some earlier batch (never a mix), and how many acknowledged
// batches were lost is computed and reported.
//
// The binary is also the primary site's process: "--primary-site ROOT URI
// SIDE_FILE" runs the plan's test failover over the state at URI.
#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "asr/common/file_util.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/failover/fake_item_failover.h"
#include "asr/failover/plan_test_site.h"
#include "asr/failover/recovery_plan_service.h"
#include "asr/platform/child_process.h"
#include "asr/repository/object_repository.h"
#include "asr/store/pg_store.h"
#include "asr/store/testing/pg_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asr::failover {
namespace {

using State = std::map<std::string, std::string>;
constexpr int kVms = 20;

// ---- the side file ---------------------------------------------------------
// "B seq\n" then "P hexkey hexvalue\n" / "D hexkey\n" per op, then "E\n"
// (all fsync'd before Commit); "A seq\n" (fsync'd) once Commit returned OK.

class SideFile {
 public:
  explicit SideFile(const std::string& path)
      : fd_(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600)) {}
  ~SideFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  void Append(const std::string& text) {
    size_t off = 0;
    while (off < text.size()) {
      ssize_t n = ::write(fd_, text.data() + off, text.size() - off);
      if (n <= 0) ::_exit(40);
      off += static_cast<size_t>(n);
    }
    if (::fsync(fd_) != 0) ::_exit(41);
  }

 private:
  int fd_;
};

// A store that records each batch before committing it and its
// acknowledgement after.
class RecordingStore final : public store::StateStore {
 public:
  RecordingStore(std::unique_ptr<store::StateStore> inner, SideFile* side)
      : inner_(std::move(inner)), side_(side) {}
  absl::StatusOr<std::string> Get(absl::string_view key) const override { return inner_->Get(key); }
  std::vector<std::pair<std::string, std::string>> Scan(absl::string_view prefix) const override {
    return inner_->Scan(prefix);
  }
  absl::Status Commit(const store::WriteBatch& batch) override {
    absl::MutexLock l(&mu_);
    const uint64_t seq = ++seq_;
    std::string rec = absl::StrCat("B ", seq, "\n");
    for (const store::WriteBatch::Op& op : batch.ops()) {
      if (op.is_delete) {
        absl::StrAppend(&rec, "D ", absl::BytesToHexString(op.key), "\n");
      } else {
        absl::StrAppend(&rec, "P ", absl::BytesToHexString(op.key), " ",
                        absl::BytesToHexString(op.value), "\n");
      }
    }
    rec += "E\n";
    side_->Append(rec);
    absl::Status s = inner_->Commit(batch);
    side_->Append(s.ok() ? absl::StrCat("A ", seq, "\n") : absl::StrCat("F ", seq, "\n"));
    return s;
  }
  absl::Status Compact() override { return inner_->Compact(); }
  bool read_only() const override { return inner_->read_only(); }

 private:
  std::unique_ptr<store::StateStore> inner_;
  SideFile* side_;
  absl::Mutex mu_;
  uint64_t seq_ = 0;
};

struct Batch {
  uint64_t seq = 0;
  std::vector<store::WriteBatch::Op> ops;
  bool complete = false;  // its "E" line was written
  bool acked = false;
  bool failed = false;
};

// The batches of a side file; a line cut short by the kill is ignored.
std::vector<Batch> ReadSideFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string all = ss.str();
  if (!all.empty() && all.back() != '\n') all.erase(all.rfind('\n') + 1);
  std::vector<Batch> out;
  for (absl::string_view line : absl::StrSplit(all, '\n', absl::SkipEmpty())) {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    if (f[0] == "B") {
      Batch b;
      (void)absl::SimpleAtoi(f[1], &b.seq);
      out.push_back(std::move(b));
    } else if (f[0] == "P" && !out.empty()) {
      out.back().ops.push_back({false, absl::HexStringToBytes(f[1]), absl::HexStringToBytes(f[2])});
    } else if (f[0] == "D" && !out.empty()) {
      out.back().ops.push_back({true, absl::HexStringToBytes(f[1]), ""});
    } else if (f[0] == "E" && !out.empty()) {
      out.back().complete = true;
    } else if ((f[0] == "A" || f[0] == "F") && !out.empty()) {
      uint64_t seq = 0;
      (void)absl::SimpleAtoi(f[1], &seq);
      for (Batch& b : out) {
        if (b.seq == seq) (f[0] == "A" ? b.acked : b.failed) = true;
      }
    }
  }
  return out;
}

void Apply(const Batch& b, State* s) {
  for (const store::WriteBatch::Op& op : b.ops) {
    if (op.is_delete) {
      s->erase(op.key);
    } else {
      (*s)[op.key] = op.value;
    }
  }
}

State Dump(const store::StateStore& s) {
  State out;
  for (auto& [k, v] : s.Scan("")) out[k] = v;
  return out;
}

std::string PowerDir(const std::string& root) { return JoinPath(root, "power"); }

absl::StatusOr<std::vector<model::Job>> PlanJobs(SiteRecovery& sr) {
  jobs::JobFilter f;
  f.target_object_id = "rp-app";
  return sr.jobs().List(f);
}

// ---- the primary site's process --------------------------------------------

int RunPrimarySite(const std::string& root, const std::string& uri, const std::string& side_path) {
  SideFile side(side_path);
  if (!side.ok()) return 20;
  absl::StatusOr<std::unique_ptr<fabric::SimulatedFabric>> fabric =
      fabric::SimulatedFabric::Open(JoinPath(root, "fabric"));
  if (!fabric.ok()) return 21;
  store::PgStoreOptions po;
  po.holder = "primary site";
  absl::StatusOr<std::unique_ptr<store::PgStateStore>> pg = store::OpenPgStore(uri, po);
  if (!pg.ok()) {
    std::cout << "ERROR " << pg.status() << std::endl;
    return 22;
  }
  auto repo = std::make_unique<repository::ObjectRepository>(
      std::make_unique<RecordingStore>(std::move(*pg), &side), uri);
  SiteRecoveryOptions o;
  o.host = fabric->get();
  absl::StatusOr<std::unique_ptr<SiteRecovery>> sr = SiteRecovery::Create(std::move(repo), o);
  if (!sr.ok()) {
    std::cout << "ERROR " << sr.status() << std::endl;
    return 23;
  }
  FakeItemFailover fake(PowerDir(root));
  fake.SetStepDelay(absl::Milliseconds(50));
  (*sr)->recovery_plans().SetItemFailover(&fake);
  std::cout << "RUNNING" << std::endl;
  model::RecoveryPlanRunRequest r;
  r.set_operation("TestFailover");
  r.set_max_parallel(2);
  absl::StatusOr<model::Job> job = (*sr)->recovery_plans().Run("app", r);
  std::cout << "DONE " << (job.ok() ? model::JobState_Name(job->state()) : job.status().ToString())
            << std::endl;
  return 0;
}

// ---- the test ---------------------------------------------------------------

class TwoSites : public ::testing::TestWithParam<bool> {
 protected:
  bool synchronous() const { return GetParam(); }
};

TEST_P(TwoSites, PrimarySiteLostDuringTestFailoverThenUnplannedFailoverAtRecoverySite) {
  const std::string root = asr::testing::TestDir("two-sites");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<store::testing::PgServer> primary,
                       store::testing::PgServer::StartPrimary("primary-site"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<store::testing::PgServer> standby,
                       primary->StartStandby("recovery-site"));
  if (synchronous()) {
    ASSERT_OK(primary->RequireSynchronousStandby());
  }

  // The primary site: protected VMs and a recovery plan, state in the
  // PostgreSQL primary.
  {
    ASSERT_OK_AND_ASSIGN(auto site, PlanTestSite::Create(root, kVms, primary->Uri()));
    model::RecoveryPlanCreateRequest c;
    c.set_name("app");
    c.set_boot_groups(2);
    for (int i = 1; i <= kVms; ++i) c.add_items(PlanTestSite::VmName(i));
    ASSERT_OK(site->sr().recovery_plans().Create(c).status());
  }
  State before;
  {
    store::PgStoreOptions ro;
    ro.read_only = true;
    ASSERT_OK_AND_ASSIGN(auto s, store::OpenPgStore(primary->Uri(), ro));
    before = Dump(*s);
  }

  // The primary site's process runs the plan's test failover...
  const std::string side_path = JoinPath(root, "acknowledged");
  ASSERT_OK_AND_ASSIGN(std::string self, platform::SelfExecutablePath());
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<platform::ChildProcess> child,
      platform::ChildProcess::Spawn(self, {"--primary-site", root, primary->Uri(), side_path}));
  ASSERT_OK_AND_ASSIGN(std::string line, child->ReadLine(absl::Seconds(120)));
  ASSERT_EQ(line, "RUNNING");
  // ... and the site is lost in the middle of it: the process and the
  // PostgreSQL primary are killed.
  auto acked_now = [&] {
    int n = 0;
    for (const Batch& b : ReadSideFile(side_path)) n += b.acked;
    return n;
  };
  auto wait_for_acks = [&](int want) {
    const absl::Time deadline = absl::Now() + absl::Seconds(120);
    while (acked_now() < want) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(5));
    }
    return true;
  };
  ASSERT_TRUE(wait_for_acks(15)) << "the plan made no progress";
  // Asynchronous: the standby confirms replay up to a point, then is cut
  // off (a partition) while the primary site goes on committing.
  int acked_at_replay = 0;
  int acked_at_cutoff = 0;
  if (!synchronous()) {
    acked_at_replay = acked_now();
    ASSERT_OK(primary->WaitForReplay(absl::Seconds(60)));
    ASSERT_OK(standby->DisconnectFrom(*primary));
    acked_at_cutoff = acked_now();
    ASSERT_TRUE(wait_for_acks(acked_at_cutoff + 8)) << "the plan made no progress";
  } else {
    ASSERT_TRUE(wait_for_acks(25)) << "the plan made no progress";
  }
  child.reset();  // SIGKILL
  ASSERT_OK(primary->Kill());

  // Before promotion the standby serves readers and refuses a writer.
  {
    store::PgStoreOptions ro;
    ro.read_only = true;
    EXPECT_OK(store::OpenPgStore(standby->Uri(), ro).status());
    auto writer = store::OpenPgStore(standby->Uri(), {});
    EXPECT_THAT(writer.status(),
                asr::testing::StatusIs(absl::StatusCode::kFailedPrecondition,
                                       ::testing::HasSubstr("standby server in recovery")));
  }

  // The recovery site: promote the standby; its engine takes the writer
  // lease (the primary site's writer is gone with its server).
  ASSERT_OK(standby->Promote());
  const std::vector<Batch> batches = ReadSideFile(side_path);
  State got;
  {
    // What the promoted standby holds, before the recovery site writes.
    store::PgStoreOptions ro;
    ro.read_only = true;
    ASSERT_OK_AND_ASSIGN(auto s, store::OpenPgStore(standby->Uri(), ro));
    got = Dump(*s);
  }

  // Which batch's state the recovery site has: S_k, the state after the
  // first k batches the primary site committed.
  uint64_t last_acked = 0;
  for (const Batch& b : batches) {
    ASSERT_FALSE(b.failed) << "batch " << b.seq << " failed before the kill";
    if (b.acked) last_acked = b.seq;
  }
  std::optional<uint64_t> match;
  State s = before;
  if (got == s) match = 0;
  for (const Batch& b : batches) {
    if (!b.complete) break;
    Apply(b, &s);
    if (got == s) match = b.seq;
  }
  ASSERT_TRUE(match.has_value())
      << "the recovery site's state is not the state after any batch the primary site wrote";
  const uint64_t lost = *match >= last_acked ? 0 : last_acked - *match;
  std::cout << (synchronous() ? "synchronous" : "asynchronous") << " standby: the primary site "
            << "acknowledged " << last_acked << " commits, the recovery site has the state after "
            << *match << ": " << lost << " acknowledged commits lost\n";
  RecordProperty("acknowledged_commits", static_cast<int>(last_acked));
  RecordProperty("lost_acknowledged_commits", static_cast<int>(lost));
  EXPECT_LE(*match, last_acked + 1);
  if (synchronous()) {
    EXPECT_EQ(lost, 0u) << "a synchronous standby lost acknowledged commits";
  } else {
    // The loss is bounded by the last point the standby confirmed: nothing
    // acknowledged before it is lost; what was acknowledged after the
    // cut-off is (but for the one commit that may straddle it).
    EXPECT_GE(*match, static_cast<uint64_t>(acked_at_replay));
    EXPECT_GE(lost + acked_at_cutoff + 1, last_acked);
    EXPECT_GE(lost, 7u);
  }

  // The test failover's job was left InProgress by the killed process: the
  // recovery site's engine marks it Failed when it opens the state.
  ASSERT_OK_AND_ASSIGN(auto recovery, PlanTestSite::Open(root, standby->Uri()));
  ASSERT_OK_AND_ASSIGN(std::vector<model::Job> js, PlanJobs(recovery->sr()));
  ASSERT_FALSE(js.empty());
  EXPECT_EQ(js.back().state(), model::Failed) << js.back().DebugString();

  // The unplanned failover of the plan, from the state the recovery site has.
  FakeItemFailover fake(PowerDir(root));
  recovery->sr().recovery_plans().SetItemFailover(&fake);
  ASSERT_OK_AND_ASSIGN(model::RecoveryPlan plan, recovery->sr().recovery_plans().Get("app"));
  std::vector<std::string> allowed(plan.allowed_operations().begin(),
                                   plan.allowed_operations().end());
  std::cout << "allowed at the recovery site: " << absl::StrJoin(allowed, ", ") << "\n";
  model::RecoveryPlanRunRequest r;
  r.set_operation("UnplannedFailover");
  r.set_max_parallel(4);
  ASSERT_OK_AND_ASSIGN(model::Job job, recovery->sr().recovery_plans().Run("app", r));
  EXPECT_EQ(job.state(), model::Succeeded) << job.DebugString();
  for (int i = 1; i <= kVms; ++i) {
    EXPECT_TRUE(fake.Power(PlanTestSite::ItemId(i)).target_running) << i;
    EXPECT_FALSE(fake.Power(PlanTestSite::ItemId(i)).source_running) << i;
  }
  std::vector<std::string> items;
  for (int i = 1; i <= kVms; ++i) items.push_back(PlanTestSite::ItemId(i));
  EXPECT_FALSE(fake.EverRanOnBothSides(items));

  // The recovery site's writer holds the lease on the promoted server.
  auto again = store::OpenPgStore(standby->Uri(), {});
  EXPECT_THAT(again.status(), asr::testing::StatusIs(absl::StatusCode::kFailedPrecondition));
  recovery.reset();
  standby.reset();  // before the primary's object removes the servers' directory
}

INSTANTIATE_TEST_SUITE_P(Standby, TwoSites, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return std::string(info.param ? "Synchronous" : "Asynchronous");
                         });

}  // namespace
}  // namespace asr::failover

int main(int argc, char** argv) {
  if (argc >= 5 && std::string(argv[1]) == "--primary-site") {
    return asr::failover::RunPrimarySite(argv[2], argv[3], argv[4]);
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
