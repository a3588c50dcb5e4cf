// Differencing chains built by asr (VHD and VHDX): merged content checked
// against a raw reference, per-layer allocation maps, parent lookup by
// relative path, linkage checks, and parents that are not regular files.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <future>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "asr/common/file_util.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/disk/disk_ops.h"
#include "asr/disk/test_util.h"
#include "asr/disk/virtual_disk.h"
#include "gtest/gtest.h"

namespace asr::disk {
namespace {

using ::asr::testing::StatusIs;

using testing::FirstDifference;
using testing::Pattern;
using testing::ReadAll;
using testing::RefDisk;
using testing::TempPath;

std::unique_ptr<VirtualDisk> MakeBase(DiskFormat f, const std::string& path, uint64_t size,
                                      uint32_t block) {
  CreateOptions o;
  o.format = f;
  o.type = DiskType::kDynamic;
  o.virtual_size = size;
  o.block_size = block;
  auto d = CreateDisk(path, o);
  EXPECT_OK(d);
  return d.ok() ? std::move(*d) : nullptr;
}

std::unique_ptr<VirtualDisk> MakeChild(DiskFormat f, const std::string& path,
                                       const std::string& parent, uint32_t block = 0) {
  CreateOptions o;
  o.format = f;
  o.type = DiskType::kDifferencing;
  o.parent_path = parent;
  o.block_size = block;
  auto d = CreateDisk(path, o);
  EXPECT_OK(d);
  return d.ok() ? std::move(*d) : nullptr;
}

class Chain : public ::testing::TestWithParam<DiskFormat> {};

TEST_P(Chain, ThreeLevelsMatchReference) {
  DiskFormat f = GetParam();
  std::string ext = DiskFormatName(f);
  const uint64_t size = 16 << 20;
  const uint32_t block = f == DiskFormat::kVhd ? (2u << 20) : (1u << 20);
  std::string base = TempPath("base." + ext), mid = TempPath("mid." + ext),
              top = TempPath("top." + ext);
  RefDisk ref(size);
  {
    auto d = MakeBase(f, base, size, block);
    ASSERT_NE(d, nullptr);
    ref.Write(d.get(), 0, Pattern(3 << 20, 1));
    ref.Write(d.get(), 10 << 20, Pattern(1 << 20, 2));
  }
  RefDisk mid_only(size);  // what the middle layer itself holds
  {
    auto d = MakeChild(f, mid, base);
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->info().type, DiskType::kDifferencing);
    ASSERT_NE(d->parent(), nullptr);
    ref.Write(d.get(), 4096, Pattern(8192, 3));             // partial block over base data
    ref.Write(d.get(), 1000, Pattern(100, 4));              // sub-sector: merges with the parent
    ref.Write(d.get(), (6 << 20) + 512, Pattern(1024, 5));  // over a hole in the base
    ref.Write(d.get(), 12 << 20, Pattern(2 << 20, 6));      // whole blocks
    EXPECT_EQ(FirstDifference(ReadAll(d.get()), ref.bytes()), -1);
  }
  {
    auto d = MakeChild(f, top, mid);
    ASSERT_NE(d, nullptr);
    ref.Write(d.get(), 2048, Pattern(512, 7));
    ref.Write(d.get(), size - 4096, Pattern(4096, 8));
  }
  auto d = OpenDisk(top, OpenMode::kReadOnly);
  ASSERT_OK(d);
  ASSERT_NE((*d)->parent(), nullptr);
  ASSERT_NE((*d)->parent()->parent(), nullptr);
  EXPECT_EQ((*d)->parent()->parent()->parent(), nullptr);
  EXPECT_EQ(FirstDifference(ReadAll(d->get()), ref.bytes()), -1);

  // The top layer's own map: exactly the sectors written to it.
  auto map = (*d)->GetAllocationMap(0, size);
  ASSERT_OK(map);
  uint64_t present = 0;
  for (const Extent& e : *map) {
    if (e.state == ExtentState::kPresent) present += e.length;
  }
  EXPECT_EQ(present, 512u + 4096u);
  // The merged map covers base data and every layer's writes.
  auto chain = GetChainAllocationMap(**d, 0, size);
  ASSERT_OK(chain);
  for (uint64_t off :
       {uint64_t{0}, uint64_t{10 << 20}, uint64_t{(6 << 20) + 512}, uint64_t{12 << 20}, size - 1}) {
    bool ok = false;
    for (const Extent& e : *chain) {
      if (off >= e.offset && off < e.offset + e.length) ok = e.state == ExtentState::kPresent;
    }
    EXPECT_TRUE(ok) << off;
  }
  // Flattening through convert gives the same bytes.
  std::string flat = TempPath("flat.raw");
  CreateOptions o;
  o.format = DiskFormat::kRaw;
  o.virtual_size = size;
  auto out = CreateDisk(flat, o);
  ASSERT_OK(out);
  ASSERT_OK(CopyDisk(**d, **out));
  EXPECT_EQ(FirstDifference(ReadAll(out->get()), ref.bytes()), -1);
}

TEST_P(Chain, ParentFoundByRelativePathAfterMove) {
  DiskFormat f = GetParam();
  std::string ext = DiskFormatName(f);
  std::string dir1 = TempPath("pair1_" + ext), dir2 = TempPath("pair2_" + ext);
  ASSERT_OK(MakeDirectories(dir1));
  RefDisk ref(4 << 20);
  MakeBase(f, dir1 + "/p." + ext, 4 << 20, 1 << 20);
  {
    auto c = MakeChild(f, dir1 + "/c." + ext, dir1 + "/p." + ext);
    ASSERT_NE(c, nullptr);
    ref.Write(c.get(), 512, Pattern(512, 1));
  }
  ASSERT_EQ(::rename(dir1.c_str(), dir2.c_str()), 0);
  auto d = OpenDisk(dir2 + "/c." + ext, OpenMode::kReadOnly);
  ASSERT_OK(d);
  EXPECT_EQ((*d)->info().parent_path, dir2 + "/p." + ext);
  EXPECT_EQ(FirstDifference(ReadAll(d->get()), ref.bytes()), -1);
}

TEST_P(Chain, MissingParentIsNotFound) {
  DiskFormat f = GetParam();
  std::string ext = DiskFormatName(f);
  std::string p = TempPath("gone." + ext), c = TempPath("orphan." + ext);
  MakeBase(f, p, 4 << 20, 2 << 20);
  MakeChild(f, c, p);
  ASSERT_EQ(::unlink(p.c_str()), 0);
  auto d = OpenDisk(c, OpenMode::kReadOnly);
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.status(), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_TRUE(absl::StrContains(d.status().message(), c)) << d.status();
  EXPECT_TRUE(absl::StrContains(d.status().message(), "parent")) << d.status();
}

TEST_P(Chain, WrongParentIsLinkageMismatch) {
  DiskFormat f = GetParam();
  std::string ext = DiskFormatName(f);
  std::string p = TempPath("par." + ext), c = TempPath("kid." + ext);
  MakeBase(f, p, 4 << 20, 2 << 20);
  MakeChild(f, c, p);
  // Replace the parent by another disk of the same size.
  ASSERT_EQ(::unlink(p.c_str()), 0);
  MakeBase(f, p, 4 << 20, 2 << 20);
  auto d = OpenDisk(c, OpenMode::kReadOnly);
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.status(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_TRUE(absl::StrContains(d.status().message(), "linkage mismatch")) << d.status();
}

// Opens `path` read-only on another thread. Should the open block (a FIFO
// opened without O_NONBLOCK waits for a writer), the test fails instead of
// hanging: after the timeout `fifo` gets a writer, which releases it.
absl::Status OpenPromptly(const std::string& path, const std::string& fifo) {
  auto open = std::async(std::launch::async,
                         [path] { return OpenDisk(path, OpenMode::kReadOnly).status(); });
  if (open.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    ADD_FAILURE() << "opening " << path << " blocked for 10 s";
    int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    absl::Status s = open.get();
    if (fd >= 0) ::close(fd);
    return s;
  }
  return open.get();
}

// A differencing disk's parent locator is data inside the image: it may name
// a FIFO, a directory or a link. Each is refused at once with a message that
// names the parent, the child and what the parent is; the child is untouched.
TEST_P(Chain, ParentThatIsNotARegularFileIsRefusedPromptly) {
  DiskFormat f = GetParam();
  std::string ext = DiskFormatName(f);
  std::string dir = TempPath("odd_parent_" + ext);
  ASSERT_OK(MakeDirectories(dir));
  const std::string p = dir + "/p." + ext, c = dir + "/c." + ext;
  const std::string real = dir + "/real." + ext, fifo = dir + "/fifo";
  for (const std::string& old : {p, c, real, fifo}) ::remove(old.c_str());
  MakeBase(f, p, 4 << 20, 2 << 20);
  MakeChild(f, c, p);
  ASSERT_OK(OpenDisk(c, OpenMode::kReadOnly));
  auto child_before = ReadFileToString(c);
  ASSERT_OK(child_before);
  ASSERT_EQ(::rename(p.c_str(), real.c_str()), 0);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);

  struct Case {
    const char* what;
    std::function<int()> make;  // puts something at p; 0 on success
    std::string message;
  };
  const std::vector<Case> cases = {
      {"FIFO", [&] { return ::mkfifo(p.c_str(), 0600); },
       absl::StrCat("parent ", p, " of ", c, " is a FIFO, not a regular file")},
      {"directory", [&] { return ::mkdir(p.c_str(), 0700); },
       absl::StrCat("parent ", p, " of ", c, " is a directory, not a regular file")},
      {"symlink to a FIFO", [&] { return ::symlink(fifo.c_str(), p.c_str()); },
       absl::StrCat("parent ", p, " of ", c, " is a symbolic link, not a regular file")},
      {"symlink to the real parent", [&] { return ::symlink(real.c_str(), p.c_str()); },
       absl::StrCat("parent ", p, " of ", c, " is a symbolic link, not a regular file")},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.what);
    ASSERT_EQ(k.make(), 0) << k.what;
    const auto start = std::chrono::steady_clock::now();
    absl::Status s = OpenPromptly(c, k.what == std::string("FIFO") ? p : fifo);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    EXPECT_LT(ms, 5000) << "ms to refuse the " << k.what;
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument)) << s;
    EXPECT_TRUE(absl::StrContains(s.message(), k.message)) << s;
    ASSERT_EQ(::remove(p.c_str()), 0);
  }

  // A FIFO given as the disk itself is refused as promptly.
  absl::Status s = OpenPromptly(fifo, fifo);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument)) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), fifo + " is a FIFO, not a regular file or a device"))
      << s;

  // Nothing was lost: the child is byte for byte what it was, and opens again
  // once its real parent is back.
  EXPECT_EQ(*ReadFileToString(c), *child_before);
  ASSERT_EQ(::rename(real.c_str(), p.c_str()), 0);
  auto d = OpenDisk(c, OpenMode::kReadOnly);
  ASSERT_OK(d);
  EXPECT_EQ((*d)->info().parent_path, p);
}

INSTANTIATE_TEST_SUITE_P(Formats, Chain, ::testing::Values(DiskFormat::kVhd, DiskFormat::kVhdx),
                         [](const auto& info) { return DiskFormatName(info.param); });

TEST(Differencing, VhdxParentWrittenAfterChildCreationIsDetected) {
  std::string p = TempPath("mod_parent.vhdx"), c = TempPath("mod_child.vhdx");
  MakeBase(DiskFormat::kVhdx, p, 4 << 20, 1 << 20);
  MakeChild(DiskFormat::kVhdx, c, p);
  {
    auto d = OpenDisk(p, OpenMode::kReadWrite);
    ASSERT_OK(d);
    ASSERT_OK((*d)->WriteAt(0, Pattern(512, 1)));  // new DataWriteGuid
  }
  auto d = OpenDisk(c, OpenMode::kReadOnly);
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(absl::StrContains(d.status().message(), "DataWriteGuid")) << d.status();
}

TEST(Differencing, ChainDepthIsLimited) {
  std::string prev = TempPath("d0.vhdx");
  MakeBase(DiskFormat::kVhdx, prev, 4 << 20, 1 << 20);
  for (int i = 1; i <= 4; ++i) {
    std::string next = TempPath(absl::StrCat("d", i, ".vhdx"));
    MakeChild(DiskFormat::kVhdx, next, prev);
    prev = next;
  }
  OpenOptions o;
  o.max_chain_depth = 2;
  auto d = OpenDisk(prev, OpenMode::kReadOnly, o);
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.status(), StatusIs(absl::StatusCode::kFailedPrecondition));
  o.max_chain_depth = 4;
  EXPECT_OK(OpenDisk(prev, OpenMode::kReadOnly, o));
}

TEST(Differencing, QemuReadsParentOfAsrChain) {
  if (!testing::HaveQemu()) GTEST_SKIP();
  // qemu cannot open differencing VHDX; check our merge against qemu's view
  // of the parent plus our own writes.
  std::string p = TempPath("qp.vhdx"), c = TempPath("qc.vhdx");
  ASSERT_EQ(testing::RunCommand("qemu-img create -q -f vhdx -o block_size=1M " + p + " 8M"), 0);
  ASSERT_EQ(testing::RunCommand("qemu-io -f vhdx -c 'write -P 0x77 0 3M' " + p), 0);
  ASSERT_EQ(testing::RunCommand("qemu-img convert -f vhdx -O raw " + p + " " + p + ".raw"), 0);
  std::string raw = testing::ReadFileBytes(p + ".raw");
  RefDisk ref(8 << 20);
  std::copy(raw.begin(), raw.end(), ref.mutable_bytes().begin());
  {
    auto d = MakeChild(DiskFormat::kVhdx, c, p);
    ASSERT_NE(d, nullptr);
    ref.Write(d.get(), 1 << 20, Pattern(4096, 3));
  }
  auto d = OpenDisk(c, OpenMode::kReadOnly);
  ASSERT_OK(d);
  EXPECT_EQ(FirstDifference(ReadAll(d->get()), ref.bytes()), -1);
}

}  // namespace
}  // namespace asr::disk
