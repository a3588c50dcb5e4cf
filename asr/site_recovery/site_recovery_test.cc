#include "asr/site_recovery/site_recovery.h"

#include "absl/strings/str_cat.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/jobs/rule_error.h"
#include "asr/jobs/test_util.h"
#include "gtest/gtest.h"

namespace asr {
namespace {

using ::asr::testing::TestPath;

// A key file beside the state directory (never inside it), one per test.
std::shared_ptr<fabric::KeyProvider> TestKeys() {
  static const std::string path = [] {
    std::string p = TestPath("kek");
    if (!fabric::CreateKeyFile(p).ok()) abort();
    return p;
  }();
  return std::make_shared<fabric::KeyFileProvider>(path);
}

std::unique_ptr<SiteRecovery> OpenOrDie(const std::string& dir) {
  SiteRecoveryOptions options;
  options.key_provider = TestKeys();
  auto sr = SiteRecovery::Open(dir, options);
  if (!sr.ok()) abort();
  return std::move(*sr);
}

TEST(SiteRecovery, EnsureDefaultVaultIsIdempotent) {
  std::string dir = TestPath("default");
  {
    auto sr = OpenOrDie(dir);
    auto v = sr->EnsureDefaultVault();
    ASSERT_OK(v);
    EXPECT_EQ(v->name(), "default");
  }
  auto sr = OpenOrDie(dir);
  auto v2 = sr->EnsureDefaultVault();
  ASSERT_OK(v2);
  EXPECT_TRUE(sr->IsInitialized());
  EXPECT_EQ(sr->repository().List<model::Vault>()->size(), 1u);
  EXPECT_EQ(sr->jobs().List()->size(), 1u);  // one CreateVault job
}

TEST(SiteRecovery, EveryScenarioIsRegisteredOnTheOneJobManager) {
  auto sr = OpenOrDie(TestPath("scenarios"));
  for (const char* s : {"CreateVault", "PairClouds", "SavePolicy", "MapNetwork", "UnmapNetwork"}) {
    EXPECT_TRUE(sr->jobs().HasScenario(s)) << s;
  }
}

TEST(SiteRecovery, RawWritesOfRuleGuardedKindsAreRefused) {
  auto sr = OpenOrDie(TestPath("fence"));
  ASSERT_OK(sr->Initialize());
  // Inventory may be written directly.
  ASSERT_OK(sr->PutObjectJson("cloud", R"({"id":"gold1","name":"GoldCloud1"})"));
  ASSERT_OK(sr->DeleteObject("cloud", "gold1"));
  // A pairing or a job is written only by its operations, even when it exists.
  model::CloudPairing pairing;
  pairing.set_id("pair-gold");
  ASSERT_OK(sr->repository().Put(pairing));
  absl::Status del = sr->DeleteObject("pairing", "pair-gold");
  EXPECT_STATUS(del, kFailedPrecondition, "cannot be deleted through the generic object calls");
  EXPECT_EQ(jobs::RuleOf(del), "RawObjectAccessFenced");
  EXPECT_NE(jobs::RecommendedActionOf(del).find("asr_cloud_unpair"), std::string::npos);
  EXPECT_OK(sr->repository().Get<model::CloudPairing>("pair-gold"));
  ASSERT_OK(sr->EnsureDefaultVault());
  std::string job_id = (*sr->jobs().List())[0].id();
  EXPECT_STATUS(sr->DeleteObject("job", job_id), kFailedPrecondition, "job cannot be deleted");
  EXPECT_STATUS(sr->PutObjectJson("policy", R"({"id":"p"})"), kFailedPrecondition,
                "policy cannot be written");
  // Unknown kinds keep their InvalidArgument.
  EXPECT_STATUS(sr->PutObjectJson("spaceship", R"({"id":"s"})"), kInvalidArgument,
                "unknown object kind");
}

TEST(SiteRecovery, IdsAndNamesInPutObjectsAreValidated) {
  auto sr = OpenOrDie(TestPath("ids"));
  ASSERT_OK(sr->Initialize());
  EXPECT_STATUS(sr->PutObjectJson("cloud", R"({"id":"gold\n1","name":"GoldCloud1"})"),
                kInvalidArgument, "cloud.id contains a control character (U+000a at offset 4)");
  EXPECT_STATUS(sr->PutObjectJson(
                    "vm", absl::StrCat(R"({"id":"vm1","name":")", std::string(300, 'n'), R"("})")),
                kInvalidArgument, "vm.name is 300 bytes long; at most 256 are allowed");
  EXPECT_STATUS(sr->PutObjectJson("vm", R"({"id":"vm1","cloudId":"\u0000"})"), kInvalidArgument,
                "vm.cloudId contains a control character");
  EXPECT_STATUS(sr->DeleteObject("cloud", "a\xff"), kInvalidArgument, "id is not valid UTF-8");
  EXPECT_STATUS(sr->DeleteObject("cloud", ""), kInvalidArgument, "id must not be empty");
  EXPECT_TRUE(sr->repository().List<model::Cloud>()->empty());
  EXPECT_TRUE(sr->repository().List<model::VirtualMachine>()->empty());
  EXPECT_OK(sr->PutObjectJson("cloud", R"({"id":"gold1","name":"Zürich Gold"})"));
}

}  // namespace
}  // namespace asr
