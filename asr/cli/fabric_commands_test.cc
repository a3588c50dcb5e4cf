#include "asr/cli/fabric_commands.h"

#include <sstream>
#include <string>
#include <vector>

#include "asr/common/file_util.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/fabric/simulated_fabric.h"
#include "asr/model/json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asr::cli {
namespace {

using ::testing::HasSubstr;

struct Result {
  int code;
  std::string out;
  std::string err;
};

Result Asrctl(const std::vector<std::string>& args) {
  CommandRegistry registry;
  RegisterFabricCommands(registry);
  std::ostringstream out, err;
  int code = registry.Run(args, out, err);
  return {code, out.str(), err.str()};
}

TEST(FabricCommandsTest, InitShowPowerFaultWorkloadVerify) {
  std::string dir = JoinPath(asr::testing::TestDir("fabcli"), "fab");
  Result r = Asrctl({"fabric", "init", "--dir", dir, "--example", "--disk-size", "8M"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("2 servers, 3 VMs, 3 disks"));
  r = Asrctl({"fabric", "init", "--dir", dir, "--example"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("already holds a fabric"));
  EXPECT_EQ(Asrctl({"fabric", "init", "--dir", dir + "2"}).code, 2);  // neither source

  r = Asrctl({"fabric", "vm", "start", "vm3", "--dir", dir});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "vm3: running\n");
  r = Asrctl({"fabric", "fault", "set", "host-down", "hv-chi-02", "--dir", dir});
  ASSERT_EQ(r.code, 0) << r.err;
  r = Asrctl({"fabric", "fault", "set", "storage-full", "hv-chi-01", "--dir", dir});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Asrctl({"fabric", "fault", "set", "meteor", "--dir", dir}).code, 2);

  r = Asrctl({"fabric", "show", "--dir", dir});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("vm vm3 (VM3) running cloud silver1"));
  EXPECT_THAT(r.out, HasSubstr("host hv-chi-02 (DOWN)"));
  EXPECT_THAT(r.out, HasSubstr("disk vm1-d0 8.0 MiB " + dir + "/storage/vmm-ny/"));
  EXPECT_THAT(r.out, HasSubstr("faults: host-down hv-chi-02, storage-full hv-chi-01"));
  r = Asrctl({"fabric", "show", "--dir", dir, "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  fabric::FabricState state;
  ASSERT_OK(model::FromJson(r.out, &state));
  EXPECT_EQ(state.servers_size(), 2);
  r = Asrctl({"fabric", "fault", "clear", "all", "--dir", dir});
  ASSERT_EQ(r.code, 0) << r.err;

  r = Asrctl({"fabric", "workload", "--dir", dir, "--duration", "300ms", "--rate", "50", "--vm",
              "vm1,vm3", "--seed", "5"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(", 0 errors"));
  ASSERT_OK_AND_ASSIGN(auto log, fabric::ReadWriteLog(dir));
  ASSERT_FALSE(log.empty());
  for (const auto& rec : log) EXPECT_NE(rec.vm_id, "vm2");  // not asked for

  ASSERT_OK_AND_ASSIGN(auto f, fabric::SimulatedFabric::Open(dir));
  ASSERT_OK_AND_ASSIGN(model::VirtualMachine vm1, f->GetVm("vm1"));
  std::string live = vm1.disks(0).path();
  r = Asrctl({"fabric", "verify", "--dir", dir, "--vm", "vm1", "--disk", "vm1-d0", "--latest",
              "--image", live});
  EXPECT_EQ(r.code, 0) << r.err;
  // Another VM's disk holds none of vm1's writes.
  ASSERT_OK(f->TurnOffVm("vm2"));
  ASSERT_OK_AND_ASSIGN(model::VirtualMachine vm2, f->GetVm("vm2"));
  r = Asrctl({"fabric", "verify", "--dir", dir, "--vm", "vm1", "--disk", "vm1-d0", "--latest",
              "--image", vm2.disks(0).path()});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("(vm1 vm1-d0, "));
  EXPECT_THAT(r.err, HasSubstr("is missing from"));
  r = Asrctl({"fabric", "verify", "--dir", dir, "--vm", "vm1", "--disk", "vm1-d0", "--point", "1",
              "--image", live});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("no point '1'"));
}

}  // namespace
}  // namespace asr::cli
