#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "asr/common/file_util.h"
#include "asr/net/stream.h"

namespace asr::net {
namespace {

class PlainFdStream final : public ByteStream {
 public:
  PlainFdStream(int fd, std::string peer) : fd_(fd), peer_(std::move(peer)) {}
  ~PlainFdStream() override {
    if (fd_ >= 0) ::close(fd_);
  }

  absl::Status WriteAll(const void* data, size_t size) override {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      ssize_t n = ::send(fd_, p, size, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        return absl::UnavailableError(
            absl::StrCat("cannot send to ", peer_, ": ", strerror(errno)));
      }
      p += n;
      size -= static_cast<size_t>(n);
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
    for (;;) {
      ssize_t n = ::recv(fd_, out, size, 0);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno == EINTR) continue;
      return absl::UnavailableError(
          absl::StrCat("cannot receive from ", peer_, ": ", strerror(errno)));
    }
  }

  absl::Status Close() override {
    if (fd_ >= 0) {
      ::shutdown(fd_, SHUT_WR);
      ::close(fd_);
      fd_ = -1;
    }
    return absl::OkStatus();
  }

  std::string PeerDescription() const override { return peer_; }

 private:
  int fd_;
  std::string peer_;
};

}  // namespace

std::unique_ptr<ByteStream> MakePlainFdStream(int fd, std::string peer) {
  return std::make_unique<PlainFdStream>(fd, std::move(peer));
}

absl::StatusOr<std::pair<std::unique_ptr<ByteStream>, std::unique_ptr<ByteStream>>>
MakeStreamPair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return ErrnoToStatus(errno, "cannot create a socket pair");
  }
  return std::make_pair(MakePlainFdStream(fds[0], "socketpair end 0"),
                        MakePlainFdStream(fds[1], "socketpair end 1"));
}

}  // namespace asr::net
