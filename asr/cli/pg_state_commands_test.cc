// asrctl with its state in PostgreSQL: --state-dir takes a postgresql://
// URI (a real server started by the test) and every command works on it as
// on a state directory; messages show the URI with its password hidden; a
// second writer is refused while one holds the lease, readers are not.
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "asr/cli/control_commands.h"
#include "asr/cli/core_commands.h"
#include "asr/cli/plan_commands.h"
#include "asr/cli/state_commands.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/failover/plan_test_site.h"
#include "asr/model/json.h"
#include "asr/store/pg_store.h"
#include "asr/store/testing/pg_server.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "gtest/gtest.h"

namespace asr::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Result {
  int code;
  std::string out, err;
};

TEST(PgStateCommands, AsrctlWorksOnAPostgresqlUri) {
  ASSERT_OK_AND_ASSIGN(auto server, store::testing::PgServer::StartPrimary("cli"));
  // Trust authentication ignores the password: it is there to be hidden.
  std::string uri = server->Uri();
  uri.replace(uri.find("asrpg@"), 6, "asrpg:s3cret@");
  const std::string root = asr::testing::TestPath("site");
  ASSERT_OK_AND_ASSIGN(auto site, failover::PlanTestSite::Create(root, 3, uri));
  const std::string fabric = site->fabric().root();
  site->Close();
  CommandRegistry registry;
  RegisterCoreCommands(registry);
  RegisterControlCommands(registry);
  RegisterPlanCommands(registry);
  auto run = [&](const std::string& line) {
    std::vector<std::string> args = {"--state-dir", uri, "--fabric", fabric};
    for (absl::string_view w : absl::StrSplit(line, ' ', absl::SkipEmpty())) {
      args.emplace_back(w);
    }
    std::istringstream in;
    std::ostringstream out, err;
    int code = registry.Run(args, in, out, err);
    return Result{code, out.str(), err.str()};
  };

  Result c = run("plan create web --vm VM1 --vm VM2 --vm VM3 --groups 2");
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_THAT(c.out, HasSubstr("Group 1 (Boot): VM1, VM2, VM3"));
  Result list = run("plan list");
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr("web  gold1 -> gold2  3 VMs in 2 groups  never run"));

  // While another writer holds the lease: writes are refused naming it,
  // reads work.
  ASSERT_OK_AND_ASSIGN(site, failover::PlanTestSite::Open(root, uri));
  Result busy = run("plan edit web --append-group");
  EXPECT_NE(busy.code, 0);
  EXPECT_THAT(busy.err, HasSubstr("is in use by asr process"));
  EXPECT_THAT(busy.err, HasSubstr("postgresql://asrpg:***@127.0.0.1"));
  EXPECT_THAT(busy.err, Not(HasSubstr("s3cret")));
  Result show = run("plan show web");
  EXPECT_EQ(show.code, 0) << show.err;
  EXPECT_THAT(show.out, HasSubstr("Group 1 (Boot): VM1, VM2, VM3"));
  site.reset();
  Result edit = run("plan edit web --append-group");
  EXPECT_EQ(edit.code, 0) << edit.err;

  // A server that is not there: the error names it, without the password.
  std::string gone = uri;
  gone.replace(gone.find(absl::StrCat(":", server->port(), "/")),
               absl::StrCat(":", server->port(), "/").size(), ":1/");
  std::vector<std::string> args = {"--state-dir", gone, "plan", "list"};
  std::istringstream in;
  std::ostringstream out, err;
  EXPECT_NE(registry.Run(args, in, out, err), 0);
  EXPECT_THAT(err.str(), HasSubstr("cannot connect to the state database postgresql://asrpg:***@"));
  EXPECT_THAT(err.str(), Not(HasSubstr("s3cret")));
}

// The recovery site's operator: `state show` on both servers, `state
// promote` refused without --confirm and on a primary, and then the standby
// promoted and writable.
TEST(PgStateCommands, StateShowAndPromote) {
  ASSERT_OK_AND_ASSIGN(auto primary, store::testing::PgServer::StartPrimary("show"));
  ASSERT_OK_AND_ASSIGN(auto standby, primary->StartStandby("show-standby"));
  CommandRegistry registry;
  RegisterCoreCommands(registry);
  RegisterStateCommands(registry);
  auto run = [&](const std::string& state, std::vector<std::string> words) {
    std::vector<std::string> args = {"--state-dir", state};
    args.insert(args.end(), words.begin(), words.end());
    std::istringstream in;
    std::ostringstream out, err;
    int code = registry.Run(args, in, out, err);
    return Result{code, out.str(), err.str()};
  };
  {
    ASSERT_OK_AND_ASSIGN(auto writer, store::OpenPgStore(primary->Uri(), {}));
    Result p = run(primary->Uri(), {"state", "show"});
    ASSERT_EQ(p.code, 0) << p.err;
    EXPECT_THAT(p.out, HasSubstr("(PostgreSQL, primary)"));
    EXPECT_THAT(p.out, HasSubstr("writer lease: epoch 1, held by asr process"));
    EXPECT_THAT(p.out, HasSubstr("standby "));
    EXPECT_THAT(p.out, HasSubstr(": async, replay lag "));
    // The same facts as one JSON object.
    Result j = run(primary->Uri(), {"--json", "state", "show"});
    ASSERT_EQ(j.code, 0) << j.err;
    google::protobuf::Struct parsed;
    ASSERT_OK(model::FromJson(j.out, &parsed)) << j.out;
    const auto& f = parsed.fields();
    EXPECT_EQ(f.at("backend").string_value(), "postgresql");
    EXPECT_EQ(f.at("role").string_value(), "primary");
    EXPECT_TRUE(f.at("hasState").bool_value());
    const auto& lease = f.at("lease").struct_value().fields();
    EXPECT_EQ(lease.at("epoch").number_value(), 1);
    EXPECT_TRUE(lease.at("live").bool_value());
    EXPECT_THAT(lease.at("holder").string_value(), HasSubstr("asr process"));
    ASSERT_EQ(f.at("standbys").list_value().values_size(), 1);
    EXPECT_EQ(f.at("standbys")
                  .list_value()
                  .values(0)
                  .struct_value()
                  .fields()
                  .at("syncState")
                  .string_value(),
              "async");
  }
  ASSERT_OK(primary->WaitForReplay(absl::Seconds(60)));
  Result s = run(standby->Uri(), {"state", "show"});
  ASSERT_EQ(s.code, 0) << s.err;
  EXPECT_THAT(s.out, HasSubstr("standby: read-only until promoted"));
  EXPECT_THAT(s.out, HasSubstr("writer lease: epoch 1, free"));
  Result sj = run(standby->Uri(), {"--json", "state", "show"});
  ASSERT_EQ(sj.code, 0) << sj.err;
  google::protobuf::Struct standby_json;
  ASSERT_OK(model::FromJson(sj.out, &standby_json)) << sj.out;
  EXPECT_EQ(standby_json.fields().at("role").string_value(), "standby");
  EXPECT_FALSE(standby_json.fields().at("lease").struct_value().fields().at("live").bool_value());
  Result dj = run(asr::testing::TestPath("dir"), {"--json", "state", "show"});
  ASSERT_EQ(dj.code, 0) << dj.err;
  EXPECT_THAT(dj.out, HasSubstr(R"("backend": "directory")"));

  Result unconfirmed = run(standby->Uri(), {"state", "promote"});
  EXPECT_EQ(unconfirmed.code, 2);
  EXPECT_THAT(unconfirmed.err, HasSubstr("run again with --confirm"));
  Result on_primary = run(primary->Uri(), {"state", "promote", "--confirm"});
  EXPECT_EQ(on_primary.code, 1);
  EXPECT_THAT(on_primary.err, HasSubstr("is not a standby"));
  Result dir = run(asr::testing::TestPath("dir"), {"state", "promote", "--confirm"});
  EXPECT_THAT(dir.err, HasSubstr("only a PostgreSQL state"));

  ASSERT_OK(primary->Kill());
  Result promoted = run(standby->Uri(), {"state", "promote", "--confirm"});
  ASSERT_EQ(promoted.code, 0) << promoted.err;
  EXPECT_THAT(promoted.out, HasSubstr("it accepts writes"));
  Result after = run(standby->Uri(), {"state", "show"});
  EXPECT_THAT(after.out, HasSubstr("(PostgreSQL, primary)"));
  ASSERT_OK_AND_ASSIGN(auto writer, store::OpenPgStore(standby->Uri(), {}));
  EXPECT_EQ(writer->lease_epoch(), 2u);
  writer.reset();
  standby.reset();
}

}  // namespace
}  // namespace asr::cli
