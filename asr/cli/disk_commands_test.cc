// End-to-end tests of `asrctl disk ...` through the command registry.
#include "asr/cli/disk_commands.h"

#include <sys/stat.h>

#include <cstdio>
#include <sstream>
#include <vector>

#include "absl/strings/match.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/disk/virtual_disk.h"
#include "gtest/gtest.h"

namespace asr::cli {
namespace {

using ::asr::testing::TestDir;

struct Result {
  int code;
  std::string out, err;
};

Result Asrctl(const std::vector<std::string>& args) {
  CommandRegistry r;
  RegisterDiskCommands(r);
  std::ostringstream out, err;
  int code = r.Run(args, out, err);
  return {code, out.str(), err.str()};
}

TEST(DiskCommands, CreateInfoConvertCompareMapCheck) {
  const std::string dir = TestDir("disk_cli");
  std::string a = dir + "/cli_a.vhdx", b = dir + "/cli_b.vhd";
  Result r = Asrctl({"disk", "create", "--format", "vhdx", "--type", "dynamic", "--size", "8M",
                     "--block-size", "1M", a});
  ASSERT_EQ(r.code, 0) << r.err;
  {
    auto d = disk::OpenDisk(a, disk::OpenMode::kReadWrite);
    ASSERT_OK(d);
    std::vector<uint8_t> data(4096, 0x42);
    ASSERT_OK((*d)->WriteAt(3 << 20, data));
  }
  r = Asrctl({"disk", "info", a, "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "\"format\":\"vhdx\"")) << r.out;
  // 64-bit sizes are strings in the proto3 JSON mapping.
  EXPECT_TRUE(absl::StrContains(r.out, "\"virtualSize\":\"8388608\"")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "\"allocatedBytes\":\"1048576\"")) << r.out;

  r = Asrctl({"disk", "convert", a, b, "--format", "vhd", "--type", "dynamic"});
  ASSERT_EQ(r.code, 0) << r.err;
  r = Asrctl({"disk", "compare", a, b});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  {
    auto d = disk::OpenDisk(b, disk::OpenMode::kReadWrite);
    ASSERT_OK(d);
    std::vector<uint8_t> data(1, 0x43);
    ASSERT_OK((*d)->WriteAt((3 << 20) + 100, data));
  }
  r = Asrctl({"disk", "compare", a, b});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(absl::StrContains(r.out, std::to_string((3 << 20) + 100))) << r.out;

  r = Asrctl({"disk", "map", a, "--json"});
  ASSERT_EQ(r.code, 0);
  EXPECT_TRUE(absl::StrContains(r.out,
                                "{\"offset\":\"3145728\",\"length\":\"1048576\","
                                "\"state\":\"present\"}"))
      << r.out;
  r = Asrctl({"disk", "check", a});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "No errors found")) << r.out;

  // Raw output to a file and back.
  std::string raw = dir + "/cli_a.raw";
  r = Asrctl({"disk", "convert", a, raw, "--format", "raw"});
  ASSERT_EQ(r.code, 0) << r.err;
  r = Asrctl({"disk", "compare", raw, a, "--a-format", "raw"});
  EXPECT_EQ(r.code, 0) << r.err;
}

TEST(DiskCommands, ErrorsNameTheFile) {
  const std::string dir = TestDir("disk_cli");
  std::string g = dir + "/cli_garbage.vhdx";
  FILE* f = std::fopen(g.c_str(), "w");
  std::fputs("definitely not a disk image", f);
  std::fclose(f);
  Result r = Asrctl({"disk", "info", g});
  EXPECT_NE(r.code, 0);
  EXPECT_TRUE(absl::StrContains(r.err, g)) << r.err;
  r = Asrctl({"disk", "check", g});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(absl::StrContains(r.err, "not a VHD or VHDX")) << r.err;
  r = Asrctl({"disk", "compare", g, dir + "/nope.vhdx"});
  EXPECT_EQ(r.code, 2);
  r = Asrctl({"disk", "create", "--format", "vhdx", dir + "/nosize.vhdx"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(absl::StrContains(r.err, "--size")) << r.err;
  r = Asrctl({"disk", "create", "--format", "vhd", "--size", "12Q", dir + "/badsize.vhd"});
  EXPECT_EQ(r.code, 2);
}

TEST(DiskCommands, DifferencingCreate) {
  const std::string dir = TestDir("disk_cli");
  std::string p = dir + "/cli_p.vhdx", c = dir + "/cli_c.vhdx";
  ASSERT_EQ(Asrctl({"disk", "create", "--format", "vhdx", "--size", "4M", p}).code, 0);
  Result r =
      Asrctl({"disk", "create", "--format", "vhdx", "--type", "differencing", "--parent", p, c});
  ASSERT_EQ(r.code, 0) << r.err;
  r = Asrctl({"disk", "info", c});
  EXPECT_TRUE(absl::StrContains(r.out, "differencing")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, p)) << r.out;
}

TEST(DiskCommands, ConvertToRawLeavesHolesAndHonoursNoSync) {
  const std::string dir = TestDir("disk_cli");
  std::string a = dir + "/cli_sparse.vhdx";
  ASSERT_EQ(
      Asrctl({"disk", "create", "--format", "vhdx", "--size", "256M", "--block-size", "1M", a})
          .code,
      0);
  {
    auto d = disk::OpenDisk(a, disk::OpenMode::kReadWrite);
    ASSERT_OK(d);
    ASSERT_OK((*d)->WriteAt(100 << 20, std::vector<uint8_t>(64 << 10, 0x42)));
    ASSERT_OK((*d)->Close());
  }
  for (const char* sync_flag : {"", "--no-sync"}) {
    SCOPED_TRACE(sync_flag);
    std::string raw = dir + "/cli_sparse.raw";
    std::remove(raw.c_str());
    std::vector<std::string> args = {"disk", "convert", a, raw, "--format", "raw"};
    if (*sync_flag) args.push_back(sync_flag);
    Result r = Asrctl(args);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(absl::StrContains(r.out, "65536 bytes written")) << r.out;
    struct stat st;
    ASSERT_EQ(::stat(raw.c_str(), &st), 0);
    EXPECT_EQ(st.st_size, 256 << 20);
    EXPECT_LE(st.st_blocks * 512, 1 << 20);  // 64 KiB of data, not 256 MiB
    r = Asrctl({"disk", "compare", raw, a, "--a-format", "raw"});
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    // An existing output needs --overwrite.
    r = Asrctl({"disk", "convert", a, raw, "--format", "raw"});
    EXPECT_NE(r.code, 0);
    EXPECT_TRUE(absl::StrContains(r.err, raw)) << r.err;
    r = Asrctl({"disk", "convert", a, raw, "--format", "raw", "--overwrite"});
    EXPECT_EQ(r.code, 0) << r.err;
  }
}

}  // namespace
}  // namespace asr::cli
