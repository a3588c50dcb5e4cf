#include "asr/common/testing/status_matchers.h"
#include "asr/model/fabric.pb.h"
#include "asr/model/job.pb.h"
#include "asr/model/json.h"
#include "asr/model/kinds.h"
#include "gtest/gtest.h"

namespace asr::model {
namespace {

TEST(Json, RoundTripUsesCamelCaseAndEnumNames) {
  HyperVHost host;
  host.set_id("h1");
  host.set_os_version(WINDOWS_SERVER_2012_R2);
  host.set_default_storage_path("D:\\VMs");
  std::string json = ToJson(host);
  EXPECT_NE(json.find("\"defaultStoragePath\":\"D:\\\\VMs\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"osVersion\":\"WINDOWS_SERVER_2012_R2\""), std::string::npos) << json;
  HyperVHost back;
  ASSERT_OK(FromJson(json, &back));
  EXPECT_EQ(back.SerializeAsString(), host.SerializeAsString());
}

TEST(Json, JobStatesFollowSiteRecoveryNames) {
  Job job;
  job.set_state(Cancelled);
  EXPECT_NE(ToJson(job).find("\"state\":\"Cancelled\""), std::string::npos);
  Job parsed;
  ASSERT_OK(FromJson(R"({"state":"Suspended"})", &parsed));
  EXPECT_EQ(parsed.state(), Suspended);
}

TEST(Json, BadInputNamesTypeAndProblem) {
  Cloud cloud;
  absl::Status s = FromJson(R"({"name": "c", "flavour": 1})", &cloud);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("Cloud"), absl::string_view::npos) << s;
  EXPECT_NE(s.message().find("flavour"), absl::string_view::npos) << s;
  EXPECT_FALSE(FromJson("{not json", &cloud).ok());
}

TEST(Kinds, EveryKindHasAStringId) {
  for (const std::string& kind : AllKinds()) {
    auto proto = PrototypeForKind(kind);
    ASSERT_OK(proto) << kind;
    const auto* f = (*proto)->GetDescriptor()->FindFieldByName("id");
    ASSERT_NE(f, nullptr) << kind;
    EXPECT_EQ(f->type(), google::protobuf::FieldDescriptor::TYPE_STRING) << kind;
  }
  auto bad = PrototypeForKind("spaceship");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("cloud"), absl::string_view::npos);
}

}  // namespace
}  // namespace asr::model
