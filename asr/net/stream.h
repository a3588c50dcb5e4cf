// asr/net/stream.h: a reliable, ordered byte stream between two hosts — the
// contract between the replication protocol and its transports (TLS 1.3 over
// TCP in production; a plain socket pair in unit tests).
//
//   std::unique_ptr<ByteStream> s = ...;   // from TlsConnect / TlsListener::Accept
//   ASR_RETURN_IF_ERROR(s->WriteAll(header, sizeof(header)));
//   ASR_RETURN_IF_ERROR(s->ReadExactly(reply, sizeof(reply)));
//   ASR_RETURN_IF_ERROR(s->Close());
#ifndef ASR_NET_STREAM_H_
#define ASR_NET_STREAM_H_

#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace asr::net {

// Thread safety: one reader thread and one writer thread may use a stream at
// the same time; two concurrent readers (or writers) may not.
class ByteStream {
 public:
  virtual ~ByteStream() = default;

  // Writes all `size` bytes. Unavailable when the peer has gone.
  virtual absl::Status WriteAll(const void* data, size_t size) = 0;

  // Reads exactly `size` bytes. OutOfRange when the peer closed the stream
  // cleanly before any byte of this read; Unavailable when it broke off.
  virtual absl::Status ReadExactly(void* out, size_t size) = 0;

  // Reads up to `size` bytes; returns 0 at a clean end of stream.
  virtual absl::StatusOr<size_t> ReadSome(void* out, size_t size) = 0;

  // Ends the sending direction cleanly (TLS close_notify) and releases the
  // connection.
  virtual absl::Status Close() = 0;

  // A description of the peer for messages, e.g. "127.0.0.1:8084 (CN=recovery-host)".
  virtual std::string PeerDescription() const = 0;

  // The peer's authenticated identity: for TLS the common name of the
  // certificate it presented (the host name the vault CA issued it for);
  // empty for a stream that authenticates nobody (plain test streams made
  // without a name). Receivers authorize writers by it.
  virtual std::string PeerIdentity() const { return std::string(); }
};

// A stream over a connected socket without encryption: for unit tests of the
// protocol above the transport, over socketpair(2). Takes ownership of `fd`.
// `identity` is what PeerIdentity() returns (tests stand in for a certificate).
std::unique_ptr<ByteStream> MakePlainFdStream(int fd, std::string peer = "socketpair",
                                              std::string identity = "");

// A connected pair of plain streams (socketpair(AF_UNIX, SOCK_STREAM)).
absl::StatusOr<std::pair<std::unique_ptr<ByteStream>, std::unique_ptr<ByteStream>>>
MakeStreamPair();

}  // namespace asr::net

#endif  // ASR_NET_STREAM_H_
