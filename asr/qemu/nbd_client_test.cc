// NbdClient against a real qemu-nbd serving images made here, and against
// scripted servers that break the protocol.
#include "asr/qemu/nbd_client.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "asr/common/file_util.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/disk/virtual_disk.h"
#include "asr/platform/process.h"
#include "asr/platform/socket.h"
#include "gtest/gtest.h"

namespace asr::qemu {
namespace {

using ::asr::testing::StatusIs;
using ::testing::HasSubstr;

// Runs `args` in `dir` (socket paths stay short); its output, or a failure.
std::string RunIn(const std::string& dir, const std::vector<std::string>& args) {
  std::vector<std::string> a = {"-c", "cd \"$1\" && shift && exec \"$@\"", "sh", dir};
  a.insert(a.end(), args.begin(), args.end());
  platform::RunProcessOptions o;
  o.timeout = absl::Seconds(60);
  o.output_limit = 1 << 20;
  absl::StatusOr<platform::ProcessResult> r = platform::RunProcess("/bin/sh", a, o);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return "";
  EXPECT_EQ(r->exit_code, 0) << args[0] << ": " << r->output;
  return r->output;
}

// A qemu-nbd serving `file` on DIR/nbd.sock until the test ends.
class QemuNbd {
 public:
  QemuNbd(const std::string& dir, const std::string& file, const std::vector<std::string>& extra)
      : dir_(dir) {
    // qemu-nbd wants an absolute socket path, and a Unix address holds 108 bytes.
    static int next = 0;
    socket_dir_ = absl::StrCat("/tmp/asr-nbd-", getpid(), "-", next++);
    mkdir(socket_dir_.c_str(), 0700);
    std::vector<std::string> args = {
        "qemu-nbd",     "--fork",      "--pid-file=nbd.pid", "--socket=" + socket(),
        "--persistent", "--read-only", "--export-name=disk"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(file);
    RunIn(dir, args);
    absl::StatusOr<std::string> pid = ReadFileToString(JoinPath(dir, "nbd.pid"));
    EXPECT_TRUE(pid.ok()) << pid.status();
    if (pid.ok()) {
      EXPECT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(*pid), &pid_));
    }
  }
  ~QemuNbd() {
    Stop();
    unlink(socket().c_str());
    rmdir(socket_dir_.c_str());
  }
  void Stop() {
    if (pid_ > 0) kill(pid_, SIGKILL);
    pid_ = 0;
    absl::SleepFor(absl::Milliseconds(100));
  }
  std::string socket() const { return JoinPath(socket_dir_, "nbd.sock"); }

 private:
  std::string dir_;
  std::string socket_dir_;
  int pid_ = 0;
};

std::vector<uint8_t> Pattern(size_t n, uint32_t seed) {
  std::mt19937 g(seed);
  std::vector<uint8_t> v(n);
  for (uint8_t& b : v) b = static_cast<uint8_t>(g());
  return v;
}

TEST(NbdClientTest, ReadsOfAVhdxExportEqualTheFileAndHolesReadAsZeros) {
  const std::string dir = asr::testing::TestDir("nbd_vhdx");
  const std::string path = JoinPath(dir, "d.vhdx");
  constexpr uint64_t kSize = 48ull << 20;
  {
    disk::CreateOptions o;
    o.virtual_size = kSize;
    o.block_size = 2u << 20;
    ASSERT_OK_AND_ASSIGN(auto d, disk::CreateDisk(path, o));
    ASSERT_OK(d->WriteAt(1 << 20, Pattern(100000, 1)));
    ASSERT_OK(d->WriteAt((10 << 20) + 3, Pattern(5 << 20, 2)));  // crosses blocks, unaligned
    ASSERT_OK(d->WriteAt(kSize - 4096, Pattern(4096, 3)));
    ASSERT_OK(d->Close());
  }
  QemuNbd server(dir, "d.vhdx", {"--format=vhdx"});
  NbdClientOptions o;
  o.meta_contexts = {"base:allocation"};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<NbdClient> c,
                       NbdClient::Connect(server.socket(), "disk", o));
  EXPECT_EQ(c->size(), kSize);
  EXPECT_TRUE(c->structured_replies());
  EXPECT_GT(c->max_request(), 0u);

  ASSERT_OK_AND_ASSIGN(auto file, disk::OpenDisk(path, disk::OpenMode::kReadOnly));
  std::vector<uint8_t> got(kSize), want(kSize);
  ASSERT_OK(c->Read(0, absl::MakeSpan(got)));  // split into max_request() pieces
  ASSERT_OK(file->ReadAt(0, absl::MakeSpan(want)));
  EXPECT_TRUE(got == want) << "the export's bytes differ from asr's reading of the file";
  // QEMU's VHDX driver reports unallocated blocks as data (zeros); the
  // qcow2 test below reads real holes.
  EXPECT_EQ(c->data_bytes_read() + c->hole_bytes_read(), kSize);
  // An unaligned read in the middle of written data.
  std::vector<uint8_t> part(12345);
  ASSERT_OK(c->Read((10 << 20) + 1000, absl::MakeSpan(part)));
  EXPECT_EQ(0, memcmp(part.data(), want.data() + (10 << 20) + 1000, part.size()));
  // base:allocation covers the disk in adjacent extents.
  ASSERT_OK_AND_ASSIGN(std::vector<NbdExtent> alloc, c->BlockStatus("base:allocation", 0, kSize));
  uint64_t at = 0;
  for (const NbdExtent& e : alloc) {
    EXPECT_EQ(e.offset, at);
    at += e.length;
  }
  EXPECT_EQ(at, kSize);
  EXPECT_THAT(c->Read(kSize - 10, absl::MakeSpan(part)), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(c->BlockStatus("qemu:dirty-bitmap:x", 0, 1),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not negotiated")));
  ASSERT_OK(c->Disconnect());
  EXPECT_THAT(c->Read(0, absl::MakeSpan(part)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("closed")));
}

TEST(NbdClientTest, BlockStatusOfADirtyBitmapNamesTheWrittenClusters) {
  const std::string dir = asr::testing::TestDir("nbd_bitmap");
  constexpr uint64_t kSize = 64ull << 20;
  RunIn(dir, {"qemu-img", "create", "-q", "-f", "qcow2", "d.qcow2", absl::StrCat(kSize)});
  RunIn(dir, {"qemu-img", "bitmap", "--add", "d.qcow2", "b0"});
  RunIn(dir, {"qemu-io", "-f", "qcow2", "-c", "write -P 0x55 1M 64k", "-c",
              "write -P 0x66 5242900 10", "-c", "write -P 0x77 63M 1M", "d.qcow2"});
  RunIn(dir, {"qemu-img", "convert", "-f", "qcow2", "-O", "raw", "d.qcow2", "d.raw"});
  QemuNbd server(dir, "d.qcow2", {"--format=qcow2", "--bitmap=b0"});
  NbdClientOptions o;
  o.meta_contexts = {"qemu:dirty-bitmap:b0", "base:allocation"};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<NbdClient> c,
                       NbdClient::Connect(server.socket(), "disk", o));
  ASSERT_EQ(c->size(), kSize);
  ASSERT_OK_AND_ASSIGN(std::vector<NbdExtent> dirty,
                       c->BlockStatus("qemu:dirty-bitmap:b0", 0, kSize));
  const uint64_t k64 = 64 << 10;
  std::vector<NbdExtent> want = {{0, 1 << 20, 0},
                                 {1 << 20, k64, 1},
                                 {(1 << 20) + k64, (5 << 20) - (1 << 20) - k64, 0},
                                 {5 << 20, k64, 1},  // 10 bytes at 5 MiB + 20: one cluster
                                 {(5 << 20) + k64, (63 << 20) - (5 << 20) - k64, 0},
                                 {63 << 20, 1 << 20, 1}};
  EXPECT_EQ(dirty, want);
  // A range that starts and ends inside extents is cut to the range.
  ASSERT_OK_AND_ASSIGN(dirty, c->BlockStatus("qemu:dirty-bitmap:b0", 1000, (5 << 20) + 1));
  ASSERT_FALSE(dirty.empty());
  EXPECT_EQ(dirty.front().offset, 1000u);
  EXPECT_EQ(dirty.back().offset + dirty.back().length, 1000u + (5 << 20) + 1);
  // The dirty extents' bytes equal the image's.
  ASSERT_OK_AND_ASSIGN(auto raw, disk::OpenDisk(JoinPath(dir, "d.raw"), disk::OpenMode::kReadOnly,
                                                {disk::DiskFormat::kRaw}));
  for (const NbdExtent& e : want) {
    if (!e.flags) continue;
    std::vector<uint8_t> a(e.length), b(e.length);
    ASSERT_OK(c->Read(e.offset, absl::MakeSpan(a)));
    ASSERT_OK(raw->ReadAt(e.offset, absl::MakeSpan(b)));
    EXPECT_TRUE(a == b) << "at " << e.offset;
  }
  // The qcow2's unallocated start is a hole.
  ASSERT_OK_AND_ASSIGN(std::vector<NbdExtent> alloc, c->BlockStatus("base:allocation", 0, k64));
  ASSERT_EQ(alloc.size(), 1u);
  EXPECT_EQ(alloc[0].flags & 1, 1u);
  std::vector<uint8_t> zeros(k64, 0xee);
  const uint64_t holes = c->hole_bytes_read();
  ASSERT_OK(c->Read(0, absl::MakeSpan(zeros)));
  EXPECT_EQ(zeros, std::vector<uint8_t>(k64, 0));
  EXPECT_EQ(c->hole_bytes_read(), holes + k64);
}

TEST(NbdClientTest, AnUnknownExportOrContextAndADeadServerAreClearErrors) {
  const std::string dir = asr::testing::TestDir("nbd_errors");
  RunIn(dir, {"qemu-img", "create", "-q", "-f", "qcow2", "d.qcow2", "1M"});
  auto server = std::make_unique<QemuNbd>(dir, "d.qcow2", std::vector<std::string>{"-f", "qcow2"});
  EXPECT_THAT(NbdClient::Connect(server->socket(), "nope").status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no export 'nope'")));
  NbdClientOptions o;
  o.meta_contexts = {"qemu:dirty-bitmap:missing"};
  EXPECT_THAT(NbdClient::Connect(server->socket(), "disk", o).status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("qemu:dirty-bitmap:missing")));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<NbdClient> c, NbdClient::Connect(server->socket(), "disk"));
  server->Stop();
  std::vector<uint8_t> buf(4096);
  absl::Status dead = c->Read(0, absl::MakeSpan(buf));
  EXPECT_FALSE(dead.ok());
  EXPECT_THAT(std::string(dead.message()), HasSubstr("NBD server"));
  absl::Status refused = NbdClient::Connect(server->socket(), "disk").status();
  EXPECT_TRUE(absl::IsUnavailable(refused) || absl::IsNotFound(refused)) << refused;
  EXPECT_THAT(std::string(refused.message()), HasSubstr("does the server run"));
}

// A scripted server on one end of a socket pair: the bytes of a complete
// handshake of a 1 MiB export, then `rest`; then it stops sending.
struct ScriptedServer {
  platform::SocketHandle client = platform::kInvalidSocket;
  platform::SocketHandle server = platform::kInvalidSocket;
  ~ScriptedServer() {
    if (server != platform::kInvalidSocket) platform::CloseSocket(server);
  }
};

void Put(std::string* s, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) s->push_back(static_cast<char>(v >> (8 * i)));
}

std::string Handshake() {
  std::string s = "NBDMAGIC";
  Put(&s, 0x49484156454f5054ull, 8);
  Put(&s, 3, 2);  // fixed newstyle, no zeroes
  // NBD_OPT_STRUCTURED_REPLY: ACK
  Put(&s, 0x0003e889045565a9ull, 8);
  Put(&s, 8, 4);
  Put(&s, 1, 4);
  Put(&s, 0, 4);
  // NBD_OPT_GO: INFO export (1 MiB, flags 3), ACK
  Put(&s, 0x0003e889045565a9ull, 8);
  Put(&s, 7, 4);
  Put(&s, 3, 4);
  Put(&s, 12, 4);
  Put(&s, 0, 2);
  Put(&s, 1 << 20, 8);
  Put(&s, 3, 2);
  Put(&s, 0x0003e889045565a9ull, 8);
  Put(&s, 7, 4);
  Put(&s, 1, 4);
  Put(&s, 0, 4);
  return s;
}

ScriptedServer Script(const std::string& bytes, bool close_after) {
  ScriptedServer s;
  absl::StatusOr<std::pair<platform::SocketHandle, platform::SocketHandle>> p =
      platform::MakeSocketPair();
  EXPECT_TRUE(p.ok());
  s.client = p->first;
  s.server = p->second;
  size_t sent = 0;
  while (sent < bytes.size()) {
    absl::StatusOr<size_t> n =
        platform::SocketSend(s.server, bytes.data() + sent, bytes.size() - sent);
    EXPECT_TRUE(n.ok());
    if (!n.ok()) break;
    sent += *n;
  }
  if (close_after) platform::ShutdownSocket(s.server, /*both=*/false);
  return s;
}

TEST(NbdClientTest, TruncatedRepliesBadMagicAndSilenceAreClearErrors) {
  {
    ScriptedServer s = Script("NBDMAGIC", /*close_after=*/true);
    EXPECT_THAT(
        NbdClient::Handshake(s.client, "scripted", "disk").status(),
        StatusIs(absl::StatusCode::kUnavailable,
                 HasSubstr("closed the connection in the middle of the greeting (8 of 18")));
  }
  {
    ScriptedServer s = Script("HTTP/1.1 400 Bad Request\r\n\r\n", true);
    EXPECT_THAT(NbdClient::Handshake(s.client, "scripted", "disk").status(),
                StatusIs(absl::StatusCode::kInternal, HasSubstr("not an NBD server")));
  }
  {
    // A read's reply: a data chunk that promises 4096 bytes and ends after 100.
    std::string bytes = Handshake();
    Put(&bytes, 0x668e33ef, 4);
    Put(&bytes, 1, 2);  // done
    Put(&bytes, 1, 2);  // OFFSET_DATA
    Put(&bytes, 1, 8);  // the client's first cookie
    Put(&bytes, 8 + 4096, 4);
    Put(&bytes, 0, 8);
    bytes += std::string(100, 'x');
    ScriptedServer s = Script(bytes, true);
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<NbdClient> c,
                         NbdClient::Handshake(s.client, "scripted", "disk"));
    EXPECT_EQ(c->size(), 1u << 20);
    std::vector<uint8_t> buf(4096);
    EXPECT_THAT(c->Read(0, absl::MakeSpan(buf)),
                StatusIs(absl::StatusCode::kUnavailable,
                         HasSubstr("in the middle of the read data (100 of 4096")));
    EXPECT_THAT(c->Read(0, absl::MakeSpan(buf)),
                StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("closed")));
  }
  {
    // A chunk outside the request.
    std::string bytes = Handshake();
    Put(&bytes, 0x668e33ef, 4);
    Put(&bytes, 1, 2);
    Put(&bytes, 2, 2);  // OFFSET_HOLE
    Put(&bytes, 1, 8);
    Put(&bytes, 12, 4);
    Put(&bytes, 8192, 8);
    Put(&bytes, 4096, 4);
    ScriptedServer s = Script(bytes, false);
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<NbdClient> c,
                         NbdClient::Handshake(s.client, "scripted", "disk"));
    std::vector<uint8_t> buf(4096);
    EXPECT_THAT(c->Read(0, absl::MakeSpan(buf)),
                StatusIs(absl::StatusCode::kInternal, HasSubstr("4096 bytes at 8192")));
  }
  {
    // An error chunk with a message.
    std::string bytes = Handshake();
    Put(&bytes, 0x668e33ef, 4);
    Put(&bytes, 1, 2);
    Put(&bytes, 0x8001, 2);  // ERROR
    Put(&bytes, 1, 8);
    Put(&bytes, 4 + 2 + 9, 4);
    Put(&bytes, 5, 4);  // EIO
    Put(&bytes, 9, 2);
    bytes += "disk gone";
    ScriptedServer s = Script(bytes, false);
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<NbdClient> c,
                         NbdClient::Handshake(s.client, "scripted", "disk"));
    std::vector<uint8_t> buf(4096);
    EXPECT_THAT(c->Read(0, absl::MakeSpan(buf)),
                StatusIs(absl::StatusCode::kInternal, HasSubstr("EIO: disk gone")));
  }
  {
    // Silence: the time limit.
    ScriptedServer s = Script(Handshake(), false);
    NbdClientOptions o;
    o.timeout = absl::Milliseconds(300);
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<NbdClient> c,
                         NbdClient::Handshake(s.client, "scripted", "disk", o));
    std::vector<uint8_t> buf(4096);
    const absl::Time start = absl::Now();
    EXPECT_THAT(c->Read(0, absl::MakeSpan(buf)),
                StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("sent no reply")));
    EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  }
}

}  // namespace
}  // namespace asr::qemu
