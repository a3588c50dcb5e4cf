// The C API with its state in PostgreSQL: asr_engine_open takes a
// postgresql:// URI where it takes a state directory (a real server started
// by the test); a plan created through one engine is there for the next,
// a second writer is refused naming the one that holds the lease, and the
// error message hides the URI's password.
#include <string>

#include "asr.h"
#include "asr/common/test_dir.h"
#include "asr/failover/plan_test_site.h"
#include "asr/store/testing/pg_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace capi_test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Take(asr_buffer_t* b) {
  std::string s = asr_buffer_data(b) == nullptr ? "" : asr_buffer_data(b);
  asr_buffer_dispose(b);
  return s;
}

TEST(CApiPgState, EngineOpensAPostgresqlUri) {
  auto server = asr::store::testing::PgServer::StartPrimary("capi");
  ASSERT_TRUE(server.ok()) << server.status();
  std::string uri = (*server)->Uri();
  uri.replace(uri.find("asrpg@"), 6, "asrpg:s3cret@");  // trust ignores it
  auto site = asr::failover::PlanTestSite::Create(asr::testing::TestDir("capi-pg"), 3, uri);
  ASSERT_TRUE(site.ok()) << site.status();
  (*site)->Close();

  asr_engine_t* engine = nullptr;
  ASSERT_EQ(asr_engine_open(&engine, uri.c_str(), nullptr, 0), ASR_OK) << asr_last_error_message();
  asr_buffer_t* out = nullptr;
  ASSERT_EQ(asr_plan_create(&out, engine, R"({"name": "web", "items": ["VM1", "VM2"]})", 0), ASR_OK)
      << asr_last_error_message();
  EXPECT_THAT(Take(out), HasSubstr("rp-web"));

  asr_engine_t* second = nullptr;
  EXPECT_NE(asr_engine_open(&second, uri.c_str(), nullptr, 0), ASR_OK);
  std::string message = asr_last_error_message();
  EXPECT_THAT(message, HasSubstr("is in use by asr process"));
  EXPECT_THAT(message, HasSubstr("postgresql://asrpg:***@127.0.0.1"));
  EXPECT_THAT(message, Not(HasSubstr("s3cret")));
  asr_engine_close(engine);

  ASSERT_EQ(asr_engine_open(&engine, uri.c_str(), nullptr, 0), ASR_OK) << asr_last_error_message();
  ASSERT_EQ(asr_plan_get(&out, engine, "web", 0), ASR_OK) << asr_last_error_message();
  EXPECT_THAT(Take(out), HasSubstr("VM2"));
  asr_engine_close(engine);
}

}  // namespace
}  // namespace capi_test
