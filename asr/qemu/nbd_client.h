// asr/qemu/nbd_client.h: a client of the Network Block Device protocol
// (the NetworkBlockDevice/nbd repository's doc/proto.md), enough to read a
// QEMU export and its dirty bitmaps: the fixed newstyle handshake,
// NBD_OPT_STRUCTURED_REPLY, NBD_OPT_SET_META_CONTEXT, NBD_OPT_GO, then
// NBD_CMD_READ (structured replies: data, holes, errors),
// NBD_CMD_BLOCK_STATUS and NBD_CMD_DISC. One request at a time.
//
//   NbdClientOptions o;
//   o.meta_contexts = {"qemu:dirty-bitmap:asr-1"};
//   ASR_ASSIGN_OR_RETURN(std::unique_ptr<NbdClient> nbd,
//                        NbdClient::Connect("/srv/vm1/nbd.sock", "disk0", o));
//   ASR_ASSIGN_OR_RETURN(std::vector<NbdExtent> dirty,
//                        nbd->BlockStatus("qemu:dirty-bitmap:asr-1", 0, nbd->size()));
//   std::vector<uint8_t> buf(65536);
//   ASR_RETURN_IF_ERROR(nbd->Read(dirty[0].offset, absl::MakeSpan(buf)));
//   ASR_RETURN_IF_ERROR(nbd->Disconnect());
//
// Every exchange has a time limit (NbdClientOptions::timeout, from the
// request to its last reply byte): DeadlineExceeded then. A server that
// breaks the protocol (bad magic, a reply for another request, a chunk
// outside the request, a reply cut short) gets an Internal or Unavailable
// error saying what it sent, and the connection is closed: every later call
// fails with that reason.
//
// Thread safety: not thread-safe; one thread uses a client at a time.
#ifndef ASR_QEMU_NBD_CLIENT_H_
#define ASR_QEMU_NBD_CLIENT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "asr/platform/socket.h"

namespace asr::qemu {

struct NbdClientOptions {
  // Each handshake step and each request, until its last reply byte.
  absl::Duration timeout = absl::Seconds(30);
  // Metadata contexts to select (NBD_OPT_SET_META_CONTEXT), e.g.
  // "base:allocation" or "qemu:dirty-bitmap:NAME". NotFound from Connect
  // when the server does not offer one of them.
  std::vector<std::string> meta_contexts;
};

// One extent of a block status reply; `flags` as the context defines them:
// base:allocation: 1 = hole (NBD_STATE_HOLE), 2 = reads as zeros
// (NBD_STATE_ZERO); qemu:dirty-bitmap:NAME: 1 = dirty.
struct NbdExtent {
  uint64_t offset = 0;
  uint64_t length = 0;
  uint32_t flags = 0;
  bool operator==(const NbdExtent& o) const {
    return offset == o.offset && length == o.length && flags == o.flags;
  }
};

class NbdClient {
 public:
  // Connects to the local socket at `socket_path` and negotiates `export_name`.
  // NotFound when nothing is at the path or the server has no such export;
  // Unavailable when nothing listens; Internal naming the step when the
  // server breaks the protocol.
  static absl::StatusOr<std::unique_ptr<NbdClient>> Connect(const std::string& socket_path,
                                                            const std::string& export_name,
                                                            const NbdClientOptions& options = {});
  // The same over a connected stream socket (taken: closed by the client).
  // `peer` names the server in errors.
  static absl::StatusOr<std::unique_ptr<NbdClient>> Handshake(platform::SocketHandle socket,
                                                              const std::string& peer,
                                                              const std::string& export_name,
                                                              const NbdClientOptions& options = {});
  // Sends NBD_CMD_DISC when still connected, then closes.
  ~NbdClient();
  NbdClient(const NbdClient&) = delete;
  NbdClient& operator=(const NbdClient&) = delete;

  uint64_t size() const { return size_; }                  // the export's size in bytes
  uint16_t transmission_flags() const { return flags_; }   // NBD_FLAG_* of NBD_INFO_EXPORT
  bool structured_replies() const { return structured_; }  // negotiated
  uint32_t max_request() const { return max_request_; }    // bytes per NBD_CMD_READ

  // Reads out.size() bytes at `offset` (split into requests of at most
  // max_request() bytes); holes the server reports read as zeros.
  // OutOfRange past size(); the server's error (e.g. "EIO: ...") as Internal.
  absl::Status Read(uint64_t offset, absl::Span<uint8_t> out);
  // The extents of `context` (one of options.meta_contexts) over
  // [offset, offset+length), asking again from where each reply ended until
  // the range is covered: adjacent extents that cover it exactly (the last
  // one cut at the range's end).
  absl::StatusOr<std::vector<NbdExtent>> BlockStatus(const std::string& context, uint64_t offset,
                                                     uint64_t length);
  // NBD_CMD_DISC and close; later calls fail.
  absl::Status Disconnect();

  // Bytes of data and of holes the server has answered reads with.
  uint64_t data_bytes_read() const { return data_bytes_; }
  uint64_t hole_bytes_read() const { return hole_bytes_; }

 private:
  NbdClient(platform::SocketHandle socket, std::string peer, absl::Duration timeout);
  absl::Status Negotiate(const std::string& export_name, const std::vector<std::string>& contexts);
  absl::Status SendAll(const std::string& bytes, absl::Time deadline);
  absl::Status ReceiveAll(void* out, size_t size, absl::Time deadline, const char* what);
  absl::Status SendOption(uint32_t option, const std::string& data, absl::Time deadline);
  struct OptionReply {
    uint32_t type = 0;
    std::string data;
  };
  absl::StatusOr<OptionReply> ReceiveOptionReply(uint32_t option, absl::Time deadline);
  absl::Status SendRequest(uint16_t flags, uint16_t type, uint64_t cookie, uint64_t offset,
                           uint32_t length, absl::Time deadline);
  absl::Status ReadOnce(uint64_t offset, uint8_t* out, uint32_t length);
  absl::Status BlockStatusOnce(uint32_t context_id, uint64_t offset, uint32_t length,
                               std::vector<NbdExtent>* out);
  // Closes the connection after a protocol error or a broken connection,
  // keeping the reason for later calls; returns `error`.
  absl::Status Fail(absl::Status error);
  absl::Status CheckOpen() const;

  platform::SocketHandle socket_;
  const std::string peer_;
  const absl::Duration timeout_;
  std::string closed_reason_;
  uint64_t size_ = 0;
  uint16_t flags_ = 0;
  bool structured_ = false;
  uint32_t max_request_ = 4u << 20;
  std::map<std::string, uint32_t> context_ids_;
  uint64_t next_cookie_ = 1;
  uint64_t data_bytes_ = 0;
  uint64_t hole_bytes_ = 0;
};

}  // namespace asr::qemu

#endif  // ASR_QEMU_NBD_CLIENT_H_
