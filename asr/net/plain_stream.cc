#include "absl/strings/str_cat.h"
#include "asr/net/stream.h"
#include "asr/platform/error.h"
#include "asr/platform/socket.h"

namespace asr::net {
namespace {

class PlainFdStream final : public ByteStream {
 public:
  PlainFdStream(int fd, std::string peer, std::string identity)
      : fd_(fd), peer_(std::move(peer)), identity_(std::move(identity)) {}
  ~PlainFdStream() override {
    if (fd_ >= 0) platform::CloseSocket(fd_);
  }

  absl::Status WriteAll(const void* data, size_t size) override {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      absl::StatusOr<size_t> n = platform::SocketSend(fd_, p, size);
      if (!n.ok()) {
        return absl::UnavailableError(
            absl::StrCat("cannot send to ", peer_, ": ", n.status().message()));
      }
      p += *n;
      size -= *n;
    }
    return absl::OkStatus();
  }

  absl::Status ReadExactly(void* out, size_t size) override {
    char* p = static_cast<char*>(out);
    size_t done = 0;
    while (done < size) {
      absl::StatusOr<size_t> n = ReadSome(p + done, size - done);
      if (!n.ok()) return n.status();
      if (*n == 0) {
        if (done == 0) return absl::OutOfRangeError(absl::StrCat(peer_, " closed the stream"));
        return absl::UnavailableError(
            absl::StrCat(peer_, " closed the stream in the middle of a message"));
      }
      done += *n;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<size_t> ReadSome(void* out, size_t size) override {
    absl::StatusOr<size_t> n = platform::SocketReceive(fd_, out, size);
    if (!n.ok()) {
      return absl::UnavailableError(
          absl::StrCat("cannot receive from ", peer_, ": ", n.status().message()));
    }
    return *n;
  }

  absl::Status Close() override {
    if (fd_ >= 0) {
      platform::ShutdownSocket(fd_, /*both=*/false);
      platform::CloseSocket(fd_);
      fd_ = -1;
    }
    return absl::OkStatus();
  }

  std::string PeerDescription() const override { return peer_; }
  std::string PeerIdentity() const override { return identity_; }

 private:
  int fd_;
  std::string peer_;
  std::string identity_;
};

}  // namespace

std::unique_ptr<ByteStream> MakePlainFdStream(int fd, std::string peer, std::string identity) {
  return std::make_unique<PlainFdStream>(fd, std::move(peer), std::move(identity));
}

absl::StatusOr<std::pair<std::unique_ptr<ByteStream>, std::unique_ptr<ByteStream>>>
MakeStreamPair() {
  absl::StatusOr<std::pair<platform::SocketHandle, platform::SocketHandle>> fds =
      platform::MakeSocketPair();
  if (!fds.ok()) return platform::AddContext(fds.status(), "cannot create a socket pair");
  return std::make_pair(MakePlainFdStream(fds->first, "socketpair end 0"),
                        MakePlainFdStream(fds->second, "socketpair end 1"));
}

}  // namespace asr::net
