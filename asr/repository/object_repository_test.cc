#include "asr/repository/object_repository.h"

#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/model/fabric.pb.h"
#include "gtest/gtest.h"

namespace asr::repository {
namespace {

using ::asr::testing::TestPath;

TEST(ObjectRepository, InitializeCreatesTwoSitesIdempotently) {
  std::string dir = TestPath("init");
  {
    auto e = ObjectRepository::Open(dir, {});
    ASSERT_OK(e);
    EXPECT_FALSE((*e)->IsInitialized());
    ASSERT_OK((*e)->Initialize());
    ASSERT_OK((*e)->Initialize());
  }
  auto e = ObjectRepository::Open(dir, {});
  ASSERT_OK(e);
  EXPECT_TRUE((*e)->IsInitialized());
  auto sites = (*e)->List<model::Site>();
  ASSERT_OK(sites);
  ASSERT_EQ(sites->size(), 2u);
  EXPECT_EQ((*sites)[0].id(), "primary");
  EXPECT_EQ((*sites)[0].role(), model::SITE_ROLE_PRIMARY);
  EXPECT_EQ((*sites)[1].id(), "recovery");
  EXPECT_EQ((*sites)[1].role(), model::SITE_ROLE_RECOVERY);
}

TEST(ObjectRepository, ListWithAnIdPrefixReadsOnlyThatRange) {
  auto e = ObjectRepository::Open(TestPath("prefix"), {});
  ASSERT_OK(e);
  for (const char* id :
       {"pi-vm1-p00000001", "pi-vm1-p00000002", "pi-vm10-p00000001", "pi-vm2-p1"}) {
    model::Cloud c;
    c.set_id(id);
    ASSERT_OK((*e)->Put(c));
  }
  auto vm1 = (*e)->List<model::Cloud>("pi-vm1-p");
  ASSERT_OK(vm1);
  ASSERT_EQ(vm1->size(), 2u);
  EXPECT_EQ((*vm1)[0].id(), "pi-vm1-p00000001");
  EXPECT_EQ((*vm1)[1].id(), "pi-vm1-p00000002");
  auto all = (*e)->List<model::Cloud>();
  ASSERT_OK(all);
  EXPECT_EQ(all->size(), 4u);
  auto none = (*e)->List<model::Cloud>("pi-vm3");
  ASSERT_OK(none);
  EXPECT_TRUE(none->empty());
}

TEST(ObjectRepository, JsonObjectsSurviveReopen) {
  std::string dir = TestPath("json");
  {
    auto e = ObjectRepository::Open(dir, {});
    ASSERT_OK(e);
    ASSERT_OK((*e)->PutObjectJson("cloud", R"({"id":"gold1","name":"GoldCloud1",
        "capabilityProfiles":["Hyper-V"]})"));
    ASSERT_OK((*e)->PutObjectJson("cloud", R"({"id":"silver1","name":"SilverCloud1"})"));
  }
  auto e = ObjectRepository::Open(dir, {});
  ASSERT_OK(e);
  auto json = (*e)->GetObjectJson("cloud", "gold1");
  ASSERT_OK(json);
  EXPECT_NE(json->find("\"name\":\"GoldCloud1\""), std::string::npos) << *json;
  EXPECT_NE(json->find("\"capabilityProfiles\":[\"Hyper-V\"]"), std::string::npos) << *json;
  auto list = (*e)->ListObjectsJson("cloud");
  ASSERT_OK(list);
  EXPECT_LT(list->find("gold1"), list->find("silver1"));
  ASSERT_OK((*e)->DeleteObject("cloud", "gold1"));
  EXPECT_EQ((*e)->GetObjectJson("cloud", "gold1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*e)->DeleteObject("cloud", "gold1").code(), absl::StatusCode::kNotFound);
}

TEST(ObjectRepository, BadObjectsAreClearErrors) {
  auto e = ObjectRepository::Open(TestPath("bad"), {});
  ASSERT_OK(e);
  absl::Status s = (*e)->PutObjectJson("cloud", R"({"name":"no id"})");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("needs a non-empty \"id\""), absl::string_view::npos) << s;
  s = (*e)->PutObjectJson("cloud", R"({"id":"a/b"})");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  s = (*e)->PutObjectJson("warpdrive", R"({"id":"x"})");
  EXPECT_NE(s.message().find("unknown object kind 'warpdrive'"), absl::string_view::npos) << s;
  auto missing = (*e)->GetObjectJson("vm", "nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "no vm with id 'nope'");
}

TEST(ObjectRepository, ReadOnlyRepositoryRefusesWrites) {
  std::string dir = TestPath("ro");
  { ASSERT_OK(ObjectRepository::Open(dir, {})); }
  RepositoryOptions o;
  o.read_only = true;
  auto e = ObjectRepository::Open(dir, o);
  ASSERT_OK(e);
  EXPECT_EQ((*e)->Initialize().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace asr::repository
