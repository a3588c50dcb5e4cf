// The POSIX implementation of asr/platform/socket.h.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "asr/platform/error.h"
#include "asr/platform/socket.h"

namespace asr::platform {
namespace {

int PollTimeoutMs(absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return -1;
  absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, INT_MAX));
}

std::string SockaddrString(const sockaddr* sa) {
  char host[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
    port = ntohs(in->sin_port);
    return absl::StrCat(host, ":", port);
  }
  if (sa->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    port = ntohs(in6->sin6_port);
    return absl::StrCat("[", host, "]:", port);
  }
  return "(unknown address)";
}

absl::StatusOr<struct addrinfo*> Resolve(const std::string& host, uint16_t port, bool passive) {
  struct addrinfo hints;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : AI_ADDRCONFIG;
  struct addrinfo* res = nullptr;
  std::string port_text = std::to_string(port);
  int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port_text.c_str(), &hints, &res);
  if (rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve ", host, ":", port, ": ", gai_strerror(rc)));
  }
  return res;
}

}  // namespace

absl::StatusOr<size_t> SocketSend(SocketHandle s, const void* data, size_t size) {
  for (;;) {
    ssize_t n = ::send(s, data, size, MSG_NOSIGNAL);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) return SystemError(errno);
  }
}

absl::StatusOr<size_t> SocketReceive(SocketHandle s, void* buf, size_t size, bool peek) {
  for (;;) {
    ssize_t n = ::recv(s, buf, size, peek ? MSG_PEEK : 0);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) return SystemError(errno);
  }
}

absl::Status WaitSocket(SocketHandle s, bool for_write, absl::Time deadline,
                        absl::string_view what) {
  for (;;) {
    struct pollfd p = {s, static_cast<short>(for_write ? POLLOUT : POLLIN), 0};
    int r = ::poll(&p, 1, PollTimeoutMs(deadline));
    if (r > 0) return absl::OkStatus();
    if (r == 0) {
      if (absl::Now() >= deadline) return absl::DeadlineExceededError(std::string(what));
      continue;
    }
    if (errno == EINTR) continue;
    return SystemError(errno, "poll failed");
  }
}

void ShutdownSocket(SocketHandle s, bool both) { ::shutdown(s, both ? SHUT_RDWR : SHUT_WR); }

void CloseSocket(SocketHandle s) {
  if (s >= 0) ::close(s);
}

void ConfigureStreamSocket(SocketHandle s) {
  int one = 1;
  ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  ::setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
  int flags = ::fcntl(s, F_GETFL, 0);
  ::fcntl(s, F_SETFL, flags | O_NONBLOCK);
}

absl::Status SetSocketBlocking(SocketHandle s, bool blocking) {
  int flags = ::fcntl(s, F_GETFL, 0);
  if (flags < 0) return SystemError(errno);
  flags = blocking ? (flags & ~O_NONBLOCK) : (flags | O_NONBLOCK);
  return ::fcntl(s, F_SETFL, flags) == 0 ? absl::OkStatus() : SystemError(errno);
}

absl::StatusOr<std::pair<SocketHandle, SocketHandle>> MakeSocketPair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return SystemError(errno);
  return std::make_pair(fds[0], fds[1]);
}

absl::StatusOr<ListeningSocket> ListenTcp(const std::string& host, uint16_t port) {
  absl::StatusOr<struct addrinfo*> res = Resolve(host, port, true);
  if (!res.ok()) return res.status();
  absl::Status last = absl::UnavailableError(absl::StrCat("no address for ", host));
  int fd = -1;
  for (struct addrinfo* ai = *res; ai != nullptr; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last = SystemError(errno, "cannot create a socket");
      continue;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, 128) == 0) break;
    last = absl::UnavailableError(
        absl::StrCat("cannot listen on ", host, ":", port, ": ", strerror(errno)));
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(*res);
  if (fd < 0) return last;
  sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  ListeningSocket out;
  out.handle = fd;
  out.port = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                      : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  out.address = SockaddrString(reinterpret_cast<sockaddr*>(&ss));
  return out;
}

absl::StatusOr<AcceptedSocket> AcceptSocket(SocketHandle listener) {
  for (;;) {
    sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fd = ::accept4(listener, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      return SystemError(errno);
    }
    AcceptedSocket out;
    out.handle = fd;
    out.peer = SockaddrString(reinterpret_cast<sockaddr*>(&ss));
    return out;
  }
}

absl::StatusOr<ConnectedSocket> ConnectTcp(const std::string& host, uint16_t port,
                                           absl::Time deadline, absl::string_view timeout_message) {
  absl::StatusOr<struct addrinfo*> res = Resolve(host, port, false);
  if (!res.ok()) return res.status();
  std::string target = absl::StrCat(host, ":", port);
  absl::Status last = absl::UnavailableError(absl::StrCat("no address for ", target));
  int fd = -1;
  std::string peer;
  for (struct addrinfo* ai = *res; ai != nullptr; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last = SystemError(errno, "cannot create a socket");
      continue;
    }
    ConfigureStreamSocket(fd);
    peer = SockaddrString(ai->ai_addr);
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    int err = rc == 0 ? 0 : errno;
    if (err == EINPROGRESS || err == EINTR) {
      absl::Status w = WaitSocket(fd, true, deadline, timeout_message);
      if (!w.ok()) {
        ::close(fd);
        fd = -1;
        last = w;
        break;
      }
      socklen_t len = sizeof(err);
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    }
    if (err == 0) break;
    last = absl::UnavailableError(absl::StrCat("cannot connect to ", target, " (", peer,
                                               "): ", strerror(err),
                                               "; is the recovery host's receiver listening?"));
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(*res);
  if (fd < 0) return last;
  ConnectedSocket out;
  out.handle = fd;
  out.peer = peer;
  return out;
}

bool IsIpAddressLiteral(const std::string& text) {
  unsigned char buf[16];
  return inet_pton(AF_INET, text.c_str(), buf) == 1 || inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

std::string IpAddressToString(const unsigned char* bytes, size_t size) {
  char text[INET6_ADDRSTRLEN] = "";
  if (size != 4 && size != 16) return "";
  if (inet_ntop(size == 4 ? AF_INET : AF_INET6, bytes, text, sizeof(text)) == nullptr) return "";
  return text;
}

}  // namespace asr::platform
