// asr/platform/socket.h: the TCP and local sockets asr/net needs, as plain
// handles, so that the TLS stream and the plain stream never call the
// operating system themselves. Sends never raise SIGPIPE; EINTR is retried.
//
//   ASR_ASSIGN_OR_RETURN(ListeningSocket l, ListenTcp("127.0.0.1", 0));
//   ASR_ASSIGN_OR_RETURN(AcceptedSocket a, AcceptSocket(l.handle));
//   ASR_RETURN_IF_ERROR(WaitSocket(a.handle, /*for_write=*/false, absl::Now() + absl::Seconds(5),
//   "no data")); ASR_ASSIGN_OR_RETURN(size_t n, SocketReceive(a.handle, buf, sizeof(buf)));
//
// Thread safety: all functions are thread-safe; a handle is used as the
// system allows (one reader and one writer at a time).
#ifndef ASR_PLATFORM_SOCKET_H_
#define ASR_PLATFORM_SOCKET_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace asr::platform {

using SocketHandle = int;
inline constexpr SocketHandle kInvalidSocket = -1;

// One send without SIGPIPE: bytes sent; kWouldBlock on a full non-blocking socket.
absl::StatusOr<size_t> SocketSend(SocketHandle s, const void* data, size_t size);
// One receive: bytes received, 0 when the peer has closed; kWouldBlock when a
// non-blocking socket has nothing. `peek` leaves the bytes queued.
absl::StatusOr<size_t> SocketReceive(SocketHandle s, void* buf, size_t size, bool peek = false);
// Waits until `s` is readable (or writable): DeadlineExceeded(`what`) at
// `deadline` (absl::InfiniteFuture() waits for ever).
absl::Status WaitSocket(SocketHandle s, bool for_write, absl::Time deadline,
                        absl::string_view what);
// shutdown(2) of the sending side, or of both sides.
void ShutdownSocket(SocketHandle s, bool both);
void CloseSocket(SocketHandle s);
// TCP_NODELAY, SO_KEEPALIVE and non-blocking mode on a connected socket.
void ConfigureStreamSocket(SocketHandle s);

// Clears (or sets) non-blocking mode.
absl::Status SetSocketBlocking(SocketHandle s, bool blocking);

// Two connected local sockets.
absl::StatusOr<std::pair<SocketHandle, SocketHandle>> MakeSocketPair();

struct ListeningSocket {
  SocketHandle handle = kInvalidSocket;
  uint16_t port = 0;    // the bound port (the one chosen when asked for 0)
  std::string address;  // "127.0.0.1:4433", "[::1]:4433"
};
// Binds (SO_REUSEADDR) and listens on the first address `host` resolves to
// (all addresses when empty). Unavailable "cannot resolve" / "cannot listen".
absl::StatusOr<ListeningSocket> ListenTcp(const std::string& host, uint16_t port);

struct AcceptedSocket {
  SocketHandle handle = kInvalidSocket;
  std::string peer;  // "10.0.0.5:51234"
};
// One accept(2); aborted connections are kConnectionAborted.
absl::StatusOr<AcceptedSocket> AcceptSocket(SocketHandle listener);

struct ConnectedSocket {
  SocketHandle handle = kInvalidSocket;  // configured as by ConfigureStreamSocket
  std::string peer;
};
// Connects to the first address of `host`:`port` that answers before
// `deadline`. Unavailable "cannot connect to host:port (addr): reason; is
// the recovery host's receiver listening?"; DeadlineExceeded(`timeout_message`).
absl::StatusOr<ConnectedSocket> ConnectTcp(const std::string& host, uint16_t port,
                                           absl::Time deadline, absl::string_view timeout_message);

// Whether `text` is an IPv4 or IPv6 address literal.
bool IsIpAddressLiteral(const std::string& text);
// An IPv4 (4 bytes) or IPv6 (16 bytes) address as text; "" for other sizes.
std::string IpAddressToString(const unsigned char* bytes, size_t size);

}  // namespace asr::platform

#endif  // ASR_PLATFORM_SOCKET_H_
