#include "asr/qemu/nbd_client.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "asr/common/status_macros.h"
#include "asr/platform/supervised_process.h"

namespace asr::qemu {
namespace {

// The protocol's numbers (doc/proto.md of the NetworkBlockDevice/nbd repository).
constexpr uint64_t kNbdMagic = 0x4e42444d41474943ull;  // "NBDMAGIC"
constexpr uint64_t kOptMagic = 0x49484156454f5054ull;  // "IHAVEOPT"
constexpr uint64_t kOldstyleMagic = 0x0000420281861253ull;
constexpr uint64_t kReplyMagic = 0x0003e889045565a9ull;
constexpr uint32_t kRequestMagic = 0x25609513;
constexpr uint32_t kSimpleReplyMagic = 0x67446698;
constexpr uint32_t kStructuredReplyMagic = 0x668e33ef;

constexpr uint16_t kFlagFixedNewstyle = 1;
constexpr uint16_t kFlagNoZeroes = 2;

constexpr uint32_t kOptGo = 7;
constexpr uint32_t kOptStructuredReply = 8;
constexpr uint32_t kOptSetMetaContext = 10;

constexpr uint32_t kRepAck = 1;
constexpr uint32_t kRepInfo = 3;
constexpr uint32_t kRepMetaContext = 4;
constexpr uint32_t kRepErrorBit = 0x80000000u;
constexpr uint32_t kRepErrUnsup = kRepErrorBit | 1;
constexpr uint32_t kRepErrUnknown = kRepErrorBit | 6;

constexpr uint16_t kInfoExport = 0;
constexpr uint16_t kInfoBlockSize = 3;

constexpr uint16_t kCmdRead = 0;
constexpr uint16_t kCmdDisc = 2;
constexpr uint16_t kCmdBlockStatus = 7;

constexpr uint16_t kReplyFlagDone = 1;
constexpr uint16_t kReplyNone = 0;
constexpr uint16_t kReplyOffsetData = 1;
constexpr uint16_t kReplyOffsetHole = 2;
constexpr uint16_t kReplyBlockStatus = 5;
constexpr uint16_t kReplyErrorBit = 0x8000;
constexpr uint16_t kReplyErrorOffset = kReplyErrorBit | 2;

constexpr uint32_t kMaxOptionReply = 1u << 16;
constexpr uint32_t kMaxChunk = 64u << 20;  // larger than any read this client asks for
constexpr uint32_t kMaxBlockStatusRequest = 1u << 31;

void PutBe16(std::string* s, uint16_t v) {
  s->push_back(static_cast<char>(v >> 8));
  s->push_back(static_cast<char>(v));
}
void PutBe32(std::string* s, uint32_t v) {
  PutBe16(s, static_cast<uint16_t>(v >> 16));
  PutBe16(s, static_cast<uint16_t>(v));
}
void PutBe64(std::string* s, uint64_t v) {
  PutBe32(s, static_cast<uint32_t>(v >> 32));
  PutBe32(s, static_cast<uint32_t>(v));
}
uint16_t Be16(const void* p) {
  const auto* b = static_cast<const uint8_t*>(p);
  return static_cast<uint16_t>((b[0] << 8) | b[1]);
}
uint32_t Be32(const void* p) {
  const auto* b = static_cast<const uint8_t*>(p);
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
}
uint64_t Be64(const void* p) {
  const auto* b = static_cast<const uint8_t*>(p);
  return (uint64_t{Be32(b)} << 32) | Be32(b + 4);
}

// The errno values the protocol names (NBD_EPERM ... NBD_ESHUTDOWN).
std::string ErrorName(uint32_t e) {
  switch (e) {
    case 1:
      return "EPERM";
    case 5:
      return "EIO";
    case 12:
      return "ENOMEM";
    case 22:
      return "EINVAL";
    case 28:
      return "ENOSPC";
    case 75:
      return "EOVERFLOW";
    case 95:
      return "ENOTSUP";
    case 108:
      return "ESHUTDOWN";
    default:
      return absl::StrCat("error ", e);
  }
}

std::string OptionReplyName(uint32_t type) {
  switch (type) {
    case kRepErrorBit | 1:
      return "not supported";
    case kRepErrorBit | 2:
      return "refused by the server's policy";
    case kRepErrorBit | 3:
      return "invalid";
    case kRepErrorBit | 4:
      return "not supported on this platform";
    case kRepErrorBit | 5:
      return "TLS required";
    case kRepErrorBit | 6:
      return "unknown export";
    case kRepErrorBit | 7:
      return "the server is shutting down";
    case kRepErrorBit | 8:
      return "block size negotiation required";
    case kRepErrorBit | 9:
      return "request too big";
    default:
      return absl::StrFormat("reply type 0x%x", type);
  }
}

}  // namespace

NbdClient::NbdClient(platform::SocketHandle socket, std::string peer, absl::Duration timeout)
    : socket_(socket), peer_(std::move(peer)), timeout_(timeout) {}

NbdClient::~NbdClient() { (void)Disconnect(); }

absl::StatusOr<std::unique_ptr<NbdClient>> NbdClient::Connect(const std::string& socket_path,
                                                              const std::string& export_name,
                                                              const NbdClientOptions& options) {
  absl::StatusOr<platform::SocketHandle> s = platform::ConnectLocalSocket(socket_path);
  if (!s.ok()) {
    return absl::Status(s.status().code(),
                        absl::StrCat("cannot connect to the NBD server at ", socket_path, ": ",
                                     s.status().message(), " (does the server run?)"));
  }
  return Handshake(*s, socket_path, export_name, options);
}

absl::StatusOr<std::unique_ptr<NbdClient>> NbdClient::Handshake(platform::SocketHandle socket,
                                                                const std::string& peer,
                                                                const std::string& export_name,
                                                                const NbdClientOptions& options) {
  std::unique_ptr<NbdClient> c(new NbdClient(socket, peer, options.timeout));
  absl::Status n = c->Negotiate(export_name, options.meta_contexts);
  if (!n.ok()) {
    c->Fail(n).IgnoreError();
    return n;
  }
  return c;
}

absl::Status NbdClient::CheckOpen() const {
  if (socket_ != platform::kInvalidSocket) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("the connection to the NBD server at ", peer_, " is closed",
                   closed_reason_.empty() ? "" : ": ", closed_reason_));
}

absl::Status NbdClient::Fail(absl::Status error) {
  if (socket_ != platform::kInvalidSocket) {
    platform::CloseSocket(socket_);
    socket_ = platform::kInvalidSocket;
    closed_reason_ = std::string(error.message());
  }
  return error;
}

absl::Status NbdClient::SendAll(const std::string& bytes, absl::Time deadline) {
  ASR_RETURN_IF_ERROR(CheckOpen());
  size_t sent = 0;
  while (sent < bytes.size()) {
    absl::Status w =
        platform::WaitSocket(socket_, /*for_write=*/true, deadline,
                             absl::StrCat("the NBD server at ", peer_, " takes no request within ",
                                          absl::FormatDuration(timeout_)));
    if (!w.ok()) return Fail(w);
    absl::StatusOr<size_t> n =
        platform::SocketSend(socket_, bytes.data() + sent, bytes.size() - sent);
    if (!n.ok()) {
      return Fail(absl::UnavailableError(
          absl::StrCat("cannot send to the NBD server at ", peer_, ": ", n.status().message())));
    }
    sent += *n;
  }
  return absl::OkStatus();
}

absl::Status NbdClient::ReceiveAll(void* out, size_t size, absl::Time deadline, const char* what) {
  ASR_RETURN_IF_ERROR(CheckOpen());
  auto* p = static_cast<uint8_t*>(out);
  size_t got = 0;
  while (got < size) {
    absl::Status w =
        platform::WaitSocket(socket_, /*for_write=*/false, deadline,
                             absl::StrCat("the NBD server at ", peer_, " sent no ", what,
                                          " within ", absl::FormatDuration(timeout_)));
    if (!w.ok()) return Fail(w);
    absl::StatusOr<size_t> n = platform::SocketReceive(socket_, p + got, size - got);
    if (!n.ok()) {
      return Fail(
          absl::UnavailableError(absl::StrCat("cannot read the ", what, " from the NBD server at ",
                                              peer_, ": ", n.status().message())));
    }
    if (*n == 0) {
      return Fail(absl::UnavailableError(
          absl::StrCat("the NBD server at ", peer_, " closed the connection in the middle of the ",
                       what, " (", got, " of ", size, " bytes)")));
    }
    got += *n;
  }
  return absl::OkStatus();
}

absl::Status NbdClient::SendOption(uint32_t option, const std::string& data, absl::Time deadline) {
  std::string m;
  PutBe64(&m, kOptMagic);
  PutBe32(&m, option);
  PutBe32(&m, static_cast<uint32_t>(data.size()));
  m += data;
  return SendAll(m, deadline);
}

absl::StatusOr<NbdClient::OptionReply> NbdClient::ReceiveOptionReply(uint32_t option,
                                                                     absl::Time deadline) {
  uint8_t h[20];
  ASR_RETURN_IF_ERROR(ReceiveAll(h, sizeof(h), deadline, "option reply"));
  if (Be64(h) != kReplyMagic) {
    return Fail(absl::InternalError(absl::StrFormat(
        "the NBD server at %s answered option %d with magic 0x%x, not an option reply", peer_,
        option, Be64(h))));
  }
  if (Be32(h + 8) != option) {
    return Fail(absl::InternalError(
        absl::StrFormat("the NBD server at %s answered option %d with a reply to option %d", peer_,
                        option, Be32(h + 8))));
  }
  OptionReply r;
  r.type = Be32(h + 12);
  const uint32_t length = Be32(h + 16);
  if (length > kMaxOptionReply) {
    return Fail(absl::InternalError(absl::StrFormat(
        "the NBD server at %s sent an option reply of %d bytes (at most %d expected)", peer_,
        length, kMaxOptionReply)));
  }
  r.data.resize(length);
  if (length > 0) ASR_RETURN_IF_ERROR(ReceiveAll(r.data.data(), length, deadline, "option reply"));
  return r;
}

absl::Status NbdClient::Negotiate(const std::string& export_name,
                                  const std::vector<std::string>& contexts) {
  const absl::Time deadline = absl::Now() + timeout_;
  uint8_t greeting[18];
  ASR_RETURN_IF_ERROR(ReceiveAll(greeting, sizeof(greeting), deadline, "greeting"));
  if (Be64(greeting) != kNbdMagic) {
    return absl::InternalError(
        absl::StrCat(peer_, " is not an NBD server: its greeting does not start with NBDMAGIC"));
  }
  if (Be64(greeting + 8) == kOldstyleMagic) {
    return absl::InternalError(
        absl::StrCat("the NBD server at ", peer_,
                     " speaks the old-style handshake only; a newstyle server "
                     "(qemu-nbd, QEMU's nbd-server-start) is needed"));
  }
  if (Be64(greeting + 8) != kOptMagic) {
    return absl::InternalError(
        absl::StrCat("the NBD server at ", peer_, " sent an unknown handshake after NBDMAGIC"));
  }
  const uint16_t server_flags = Be16(greeting + 16);
  if ((server_flags & kFlagFixedNewstyle) == 0) {
    return absl::InternalError(
        absl::StrCat("the NBD server at ", peer_, " does not offer the fixed newstyle handshake"));
  }
  std::string client_flags;
  PutBe32(&client_flags, kFlagFixedNewstyle | (server_flags & kFlagNoZeroes));
  ASR_RETURN_IF_ERROR(SendAll(client_flags, deadline));

  // Structured replies: needed for holes, errors with messages and block status.
  ASR_RETURN_IF_ERROR(SendOption(kOptStructuredReply, "", deadline));
  ASR_ASSIGN_OR_RETURN(OptionReply sr, ReceiveOptionReply(kOptStructuredReply, deadline));
  if (sr.type == kRepAck) {
    structured_ = true;
  } else if (sr.type != kRepErrUnsup) {
    return absl::InternalError(
        absl::StrCat("the NBD server at ", peer_,
                     " refused structured replies: ", OptionReplyName(sr.type), " ", sr.data));
  }

  if (!contexts.empty()) {
    if (!structured_) {
      return absl::FailedPreconditionError(
          absl::StrCat("the NBD server at ", peer_,
                       " has no structured replies, so no block status of ", contexts[0]));
    }
    std::string q;
    PutBe32(&q, static_cast<uint32_t>(export_name.size()));
    q += export_name;
    PutBe32(&q, static_cast<uint32_t>(contexts.size()));
    for (const std::string& c : contexts) {
      PutBe32(&q, static_cast<uint32_t>(c.size()));
      q += c;
    }
    ASR_RETURN_IF_ERROR(SendOption(kOptSetMetaContext, q, deadline));
    for (;;) {
      ASR_ASSIGN_OR_RETURN(OptionReply r, ReceiveOptionReply(kOptSetMetaContext, deadline));
      if (r.type == kRepAck) break;
      if (r.type == kRepMetaContext) {
        if (r.data.size() < 4) {
          return absl::InternalError(absl::StrCat("the NBD server at ", peer_,
                                                  " sent a metadata context reply of ",
                                                  r.data.size(), " bytes"));
        }
        context_ids_[r.data.substr(4)] = Be32(r.data.data());
        continue;
      }
      if (r.type & kRepErrorBit) {
        return absl::Status(r.type == kRepErrUnknown ? absl::StatusCode::kNotFound
                                                     : absl::StatusCode::kFailedPrecondition,
                            absl::StrCat("the NBD server at ", peer_,
                                         " refused the metadata "
                                         "contexts of export '",
                                         export_name, "': ", OptionReplyName(r.type),
                                         r.data.empty() ? "" : ": ", r.data));
      }
      // Unknown reply types that are not errors are ignored, as the protocol asks.
    }
    for (const std::string& c : contexts) {
      if (context_ids_.count(c) == 0) {
        return absl::NotFoundError(absl::StrCat("the NBD server at ", peer_, " offers no ", c,
                                                " for export '", export_name, "'"));
      }
    }
  }

  std::string go;
  PutBe32(&go, static_cast<uint32_t>(export_name.size()));
  go += export_name;
  PutBe16(&go, 1);
  PutBe16(&go, kInfoBlockSize);
  ASR_RETURN_IF_ERROR(SendOption(kOptGo, go, deadline));
  bool have_size = false;
  for (;;) {
    ASR_ASSIGN_OR_RETURN(OptionReply r, ReceiveOptionReply(kOptGo, deadline));
    if (r.type == kRepAck) break;
    if (r.type == kRepInfo) {
      if (r.data.size() < 2) continue;
      const uint16_t info = Be16(r.data.data());
      if (info == kInfoExport && r.data.size() >= 12) {
        size_ = Be64(r.data.data() + 2);
        flags_ = Be16(r.data.data() + 10);
        have_size = true;
      } else if (info == kInfoBlockSize && r.data.size() >= 14) {
        const uint32_t max = Be32(r.data.data() + 10);
        const uint32_t min = Be32(r.data.data() + 2);
        if (max > 0 && max < max_request_) max_request_ = max;
        if (min > 1) max_request_ -= max_request_ % min;
      }
      continue;
    }
    if (r.type & kRepErrorBit) {
      return absl::Status(
          r.type == kRepErrUnknown ? absl::StatusCode::kNotFound
                                   : absl::StatusCode::kFailedPrecondition,
          absl::StrCat("the NBD server at ", peer_, " has no export '", export_name,
                       "' to open: ", OptionReplyName(r.type), r.data.empty() ? "" : ": ", r.data));
    }
  }
  if (!have_size) {
    return absl::InternalError(absl::StrCat("the NBD server at ", peer_, " opened export '",
                                            export_name, "' without saying its size"));
  }
  if (max_request_ == 0) max_request_ = 4u << 20;
  return absl::OkStatus();
}

absl::Status NbdClient::SendRequest(uint16_t flags, uint16_t type, uint64_t cookie, uint64_t offset,
                                    uint32_t length, absl::Time deadline) {
  std::string m;
  PutBe32(&m, kRequestMagic);
  PutBe16(&m, flags);
  PutBe16(&m, type);
  PutBe64(&m, cookie);
  PutBe64(&m, offset);
  PutBe32(&m, length);
  return SendAll(m, deadline);
}

absl::Status NbdClient::Read(uint64_t offset, absl::Span<uint8_t> out) {
  ASR_RETURN_IF_ERROR(CheckOpen());
  if (offset > size_ || out.size() > size_ - offset) {
    return absl::OutOfRangeError(absl::StrCat("read of ", out.size(), " bytes at ", offset,
                                              " is past the end of the NBD export (", size_,
                                              " bytes)"));
  }
  size_t done = 0;
  while (done < out.size()) {
    const uint32_t n = static_cast<uint32_t>(std::min<size_t>(out.size() - done, max_request_));
    ASR_RETURN_IF_ERROR(ReadOnce(offset + done, out.data() + done, n));
    done += n;
  }
  return absl::OkStatus();
}

absl::Status NbdClient::ReadOnce(uint64_t offset, uint8_t* out, uint32_t length) {
  const absl::Time deadline = absl::Now() + timeout_;
  const uint64_t cookie = next_cookie_++;
  ASR_RETURN_IF_ERROR(SendRequest(0, kCmdRead, cookie, offset, length, deadline));
  const std::string what = absl::StrCat("read of ", length, " bytes at ", offset);
  std::vector<std::pair<uint64_t, uint64_t>> covered;  // chunks, relative to `offset`
  absl::Status server_error;
  for (;;) {
    uint8_t magic[4];
    ASR_RETURN_IF_ERROR(ReceiveAll(magic, 4, deadline, "reply"));
    if (Be32(magic) == kSimpleReplyMagic) {
      uint8_t h[12];
      ASR_RETURN_IF_ERROR(ReceiveAll(h, sizeof(h), deadline, "reply"));
      if (Be64(h + 4) != cookie) {
        return Fail(absl::InternalError(absl::StrCat("the NBD server at ", peer_,
                                                     " answered another request than the ", what)));
      }
      if (Be32(h) != 0) {
        return absl::InternalError(absl::StrCat("the NBD server at ", peer_, " failed the ", what,
                                                ": ", ErrorName(Be32(h))));
      }
      ASR_RETURN_IF_ERROR(ReceiveAll(out, length, deadline, "read data"));
      data_bytes_ += length;
      return absl::OkStatus();
    }
    if (Be32(magic) != kStructuredReplyMagic) {
      return Fail(absl::InternalError(
          absl::StrFormat("the NBD server at %s answered the %s with magic 0x%08x, not a reply",
                          peer_, what, Be32(magic))));
    }
    uint8_t h[16];
    ASR_RETURN_IF_ERROR(ReceiveAll(h, sizeof(h), deadline, "reply"));
    const uint16_t flags = Be16(h);
    const uint16_t type = Be16(h + 2);
    const uint32_t chunk = Be32(h + 12);
    if (Be64(h + 4) != cookie) {
      return Fail(absl::InternalError(
          absl::StrCat("the NBD server at ", peer_, " answered another request than the ", what)));
    }
    if (chunk > kMaxChunk + 8) {
      return Fail(absl::InternalError(absl::StrCat("the NBD server at ", peer_, " sent a chunk of ",
                                                   chunk, " bytes for the ", what)));
    }
    if (type == kReplyOffsetData || type == kReplyOffsetHole) {
      if (chunk < (type == kReplyOffsetData ? 9u : 12u) ||
          (type == kReplyOffsetHole && chunk != 12)) {
        return Fail(absl::InternalError(absl::StrCat("the NBD server at ", peer_, " sent a ",
                                                     type == kReplyOffsetData ? "data" : "hole",
                                                     " chunk of ", chunk, " bytes")));
      }
      uint8_t o[8];
      ASR_RETURN_IF_ERROR(ReceiveAll(o, 8, deadline, "reply"));
      const uint64_t at = Be64(o);
      uint64_t n = chunk - 8;
      if (type == kReplyOffsetHole) {
        uint8_t s[4];
        ASR_RETURN_IF_ERROR(ReceiveAll(s, 4, deadline, "reply"));
        n = Be32(s);
      }
      if (at < offset || n == 0 || at - offset > length || n > length - (at - offset)) {
        return Fail(absl::InternalError(absl::StrCat("the NBD server at ", peer_, " sent ", n,
                                                     " bytes at ", at, " for the ", what)));
      }
      uint8_t* dest = out + (at - offset);
      if (type == kReplyOffsetData) {
        ASR_RETURN_IF_ERROR(ReceiveAll(dest, n, deadline, "read data"));
        data_bytes_ += n;
      } else {
        memset(dest, 0, n);
        hole_bytes_ += n;
      }
      covered.emplace_back(at - offset, n);
    } else if (type & kReplyErrorBit) {
      if (chunk < 6) {
        return Fail(absl::InternalError(absl::StrCat("the NBD server at ", peer_,
                                                     " sent an error chunk of ", chunk, " bytes")));
      }
      std::string body(chunk, '\0');
      ASR_RETURN_IF_ERROR(ReceiveAll(body.data(), chunk, deadline, "error reply"));
      const uint32_t error = Be32(body.data());
      const uint16_t message_length = Be16(body.data() + 4);
      std::string message = body.substr(6, std::min<size_t>(message_length, chunk - 6));
      std::string where;
      if (type == kReplyErrorOffset && chunk >= 6u + message_length + 8u) {
        where = absl::StrCat(" at offset ", Be64(body.data() + 6 + message_length));
      }
      if (server_error.ok()) {
        server_error = absl::InternalError(absl::StrCat("the NBD server at ", peer_, " failed the ",
                                                        what, where, ": ", ErrorName(error),
                                                        message.empty() ? "" : ": ", message));
      }
    } else if (type == kReplyNone) {
      if (chunk != 0 || (flags & kReplyFlagDone) == 0) {
        return Fail(absl::InternalError(absl::StrCat(
            "the NBD server at ", peer_, " sent a malformed final chunk for the ", what)));
      }
    } else {
      return Fail(absl::InternalError(absl::StrCat(
          "the NBD server at ", peer_, " sent a chunk of type ", type, " for the ", what)));
    }
    if (flags & kReplyFlagDone) break;
  }
  if (!server_error.ok()) return server_error;
  std::sort(covered.begin(), covered.end());
  uint64_t end = 0;
  for (const auto& [at, n] : covered) {
    if (at != end) {
      return Fail(absl::InternalError(
          absl::StrCat("the NBD server at ", peer_, "'s reply to the ", what,
                       at < end ? " overlaps itself" : " leaves bytes out", " at ", offset + end)));
    }
    end = at + n;
  }
  if (end != length) {
    return Fail(absl::InternalError(
        absl::StrCat("the NBD server at ", peer_, " answered only ", end, " bytes of the ", what)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<NbdExtent>> NbdClient::BlockStatus(const std::string& context,
                                                              uint64_t offset, uint64_t length) {
  ASR_RETURN_IF_ERROR(CheckOpen());
  auto id = context_ids_.find(context);
  if (id == context_ids_.end()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "metadata context ", context, " was not negotiated with the NBD server at ", peer_));
  }
  if (offset > size_ || length > size_ - offset) {
    return absl::OutOfRangeError(absl::StrCat("block status of ", length, " bytes at ", offset,
                                              " is past the end of the NBD export (", size_,
                                              " bytes)"));
  }
  std::vector<NbdExtent> extents;
  const uint64_t end = offset + length;
  uint64_t at = offset;
  while (at < end) {
    const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(end - at, kMaxBlockStatusRequest));
    std::vector<NbdExtent> got;
    ASR_RETURN_IF_ERROR(BlockStatusOnce(id->second, at, n, &got));
    for (NbdExtent e : got) {
      if (e.offset >= end) break;
      e.length = std::min(e.length, end - e.offset);
      if (!extents.empty() && extents.back().flags == e.flags &&
          extents.back().offset + extents.back().length == e.offset) {
        extents.back().length += e.length;
      } else {
        extents.push_back(e);
      }
      at = e.offset + e.length;
    }
  }
  return extents;
}

absl::Status NbdClient::BlockStatusOnce(uint32_t context_id, uint64_t offset, uint32_t length,
                                        std::vector<NbdExtent>* out) {
  const absl::Time deadline = absl::Now() + timeout_;
  const uint64_t cookie = next_cookie_++;
  ASR_RETURN_IF_ERROR(SendRequest(0, kCmdBlockStatus, cookie, offset, length, deadline));
  const std::string what = absl::StrCat("block status of ", length, " bytes at ", offset);
  absl::Status server_error;
  bool found = false;
  for (;;) {
    uint8_t h[20];
    ASR_RETURN_IF_ERROR(ReceiveAll(h, sizeof(h), deadline, "block status reply"));
    if (Be32(h) == kSimpleReplyMagic) {
      // Only an error may come as a simple reply here; its 16 bytes are read.
      const uint32_t error = Be32(h + 4);
      return Fail(
          absl::InternalError(absl::StrCat("the NBD server at ", peer_, " answered the ", what,
                                           " with a simple reply: ", ErrorName(error))));
    }
    if (Be32(h) != kStructuredReplyMagic) {
      return Fail(absl::InternalError(
          absl::StrFormat("the NBD server at %s answered the %s with magic 0x%08x, not a reply",
                          peer_, what, Be32(h))));
    }
    const uint16_t flags = Be16(h + 4);
    const uint16_t type = Be16(h + 6);
    const uint32_t chunk = Be32(h + 16);
    if (Be64(h + 8) != cookie) {
      return Fail(absl::InternalError(
          absl::StrCat("the NBD server at ", peer_, " answered another request than the ", what)));
    }
    if (chunk > kMaxChunk) {
      return Fail(absl::InternalError(absl::StrCat("the NBD server at ", peer_, " sent a chunk of ",
                                                   chunk, " bytes for the ", what)));
    }
    std::string body(chunk, '\0');
    if (chunk > 0) ASR_RETURN_IF_ERROR(ReceiveAll(body.data(), chunk, deadline, "block status"));
    if (type == kReplyBlockStatus) {
      if (chunk < 12 || (chunk - 4) % 8 != 0) {
        return Fail(absl::InternalError(absl::StrCat(
            "the NBD server at ", peer_, " sent a block status chunk of ", chunk, " bytes")));
      }
      if (Be32(body.data()) == context_id) {
        if (found) {
          return Fail(absl::InternalError(absl::StrCat(
              "the NBD server at ", peer_, " sent two block status chunks of one context")));
        }
        found = true;
        uint64_t at = offset;
        for (size_t i = 4; i < chunk; i += 8) {
          const uint32_t n = Be32(body.data() + i);
          if (n == 0) {
            return Fail(absl::InternalError(
                absl::StrCat("the NBD server at ", peer_, " sent an empty extent for the ", what)));
          }
          out->push_back({at, n, Be32(body.data() + i + 4)});
          at += n;
        }
      }
    } else if (type & kReplyErrorBit) {
      if (server_error.ok()) {
        const uint32_t error = chunk >= 4 ? Be32(body.data()) : 0;
        const uint16_t ml = chunk >= 6 ? Be16(body.data() + 4) : 0;
        std::string message = chunk > 6 ? body.substr(6, std::min<size_t>(ml, chunk - 6)) : "";
        server_error = absl::InternalError(absl::StrCat("the NBD server at ", peer_, " failed the ",
                                                        what, ": ", ErrorName(error),
                                                        message.empty() ? "" : ": ", message));
      }
    } else if (type != kReplyNone) {
      return Fail(absl::InternalError(absl::StrCat(
          "the NBD server at ", peer_, " sent a chunk of type ", type, " for the ", what)));
    }
    if (flags & kReplyFlagDone) break;
  }
  if (!server_error.ok()) return server_error;
  if (!found) {
    return Fail(absl::InternalError(absl::StrCat("the NBD server at ", peer_, " answered the ",
                                                 what, " without extents of the context")));
  }
  return absl::OkStatus();
}

absl::Status NbdClient::Disconnect() {
  if (socket_ == platform::kInvalidSocket) return absl::OkStatus();
  absl::Status s = SendRequest(0, kCmdDisc, next_cookie_++, 0, 0, absl::Now() + absl::Seconds(1));
  if (socket_ != platform::kInvalidSocket) {
    platform::ShutdownSocket(socket_, /*both=*/false);
    platform::CloseSocket(socket_);
    socket_ = platform::kInvalidSocket;
    closed_reason_ = "disconnected";
  }
  return s;
}

}  // namespace asr::qemu
