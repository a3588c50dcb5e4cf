#include "asr/replication/receiver.h"

#include <algorithm>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "asr/common/status_macros.h"
#include "asr/platform/error.h"

namespace asr::replication {
namespace {

absl::Status SendReply(net::ByteStream& s, FrameType t, const absl::Status& st, uint64_t cycle,
                       uint64_t point) {
  CycleReply r;
  r.status = st;
  r.cycle = cycle;
  r.point_id = point;
  return WriteFrame(s, t, r.Encode());
}

// A failure that ends the session at once: a protocol violation, or a
// peer past the bounds of a cycle (replica_store.h), which no real sender
// reaches; other data errors are reported in the CYCLE_ACK.
bool Fatal(const absl::Status& s) {
  // A device error (no space left, an I/O error) is not the peer's fault:
  // the rest of the cycle is read and discarded, and its ACK names the error.
  if (platform::ErrorKindOf(s) != platform::ErrorKind::kNone) return false;
  return absl::IsInvalidArgument(s) || absl::IsResourceExhausted(s);
}

// Reports a protocol violation to the peer and returns it.
absl::Status Violation(net::ByteStream& s, absl::Status st) {
  SendError(s, st);
  return st;
}

// Serves one VERIFY_REQUEST (protocol.h): the digests of the latest point,
// then VERIFY_END. A refused request or a failed read is reported in
// VERIFY_END and the session goes on; only a broken stream ends it.
absl::Status ServeVerify(net::ByteStream& stream, ReplicaStore& store, const Frame& frame) {
  absl::StatusOr<VerifyRequest> req = VerifyRequest::Decode(frame);
  if (!req.ok()) return Violation(stream, req.status());
  VerifyEnd end;
  absl::StatusOr<uint64_t> point = store.CheckVerifyRequest(*req);
  absl::Status wrote;  // a failure to send: the stream is gone
  if (point.ok()) {
    end.point_id = *point;
    VerifyDigests out;
    end.status = store.DigestLatestPoint(
        *req, kMaxVerifyDigests, [&](uint64_t first, absl::Span<const Digest> d) {
          out.first_block = first;
          out.digests.assign(d.begin(), d.end());
          wrote = WriteFrame(stream, FrameType::kVerifyDigests, out.Encode());
          end.blocks += d.size();
          return wrote;
        });
    ASR_RETURN_IF_ERROR(wrote);
  } else {
    end.status = point.status();
  }
  return WriteFrame(stream, FrameType::kVerifyEnd, end.Encode());
}

// The session's stream, counting the bytes read: what an interrupted cycle
// had received after its last checkpoint (resume accounting).
class CountingStream : public net::ByteStream {
 public:
  explicit CountingStream(net::ByteStream& inner) : inner_(inner) {}
  absl::Status WriteAll(const void* data, size_t size) override {
    return inner_.WriteAll(data, size);
  }
  // As the stream's own, in pieces, so that a read the peer breaks off
  // counts what it got.
  absl::Status ReadExactly(void* out, size_t size) override {
    size_t got = 0;
    while (got < size) {
      absl::StatusOr<size_t> n = inner_.ReadSome(static_cast<char*>(out) + got, size - got);
      if (!n.ok()) return n.status();
      if (*n == 0) {
        return got == 0 ? absl::OutOfRangeError(absl::StrCat(PeerDescription(),
                                                             " closed the "
                                                             "connection"))
                        : absl::UnavailableError(absl::StrCat(
                              PeerDescription(), " closed the connection within a read"));
      }
      got += *n;
      read_ += *n;
    }
    return absl::OkStatus();
  }
  absl::StatusOr<size_t> ReadSome(void* out, size_t size) override {
    absl::StatusOr<size_t> n = inner_.ReadSome(out, size);
    if (n.ok()) read_ += *n;
    return n;
  }
  absl::Status Close() override { return inner_.Close(); }
  std::string PeerDescription() const override { return inner_.PeerDescription(); }
  std::string PeerIdentity() const override { return inner_.PeerIdentity(); }
  uint64_t read() const { return read_; }

 private:
  net::ByteStream& inner_;
  uint64_t read_ = 0;
};

// Refuses a HELLO: the status only, every replica field empty.
absl::Status Refuse(net::ByteStream& stream, const absl::Status& why) {
  HelloReply refused;
  refused.status = why;
  refused.version = 0;
  ASR_RETURN_IF_ERROR(WriteFrame(stream, FrameType::kHelloReply, refused.Encode()));
  return why;
}

// The session after its HELLO frame `first` was read: with `fixed` (one store,
// authorized before the HELLO is decoded) or, when null, the store that
// `resolve` picks for the decoded HELLO.
absl::Status Serve(CountingStream& stream, const Frame& first, ReplicaStore* fixed,
                   const ReplicaResolver* resolve, const ServeOptions& options) {
  const std::string peer = stream.PeerIdentity();
  if (!peer.empty() && peer == options.receiver_identity) {
    return Refuse(stream, absl::PermissionDeniedError(absl::StrCat(
                              "host certificate CN=", EscapeForMessage(peer),
                              " is not authorized to replicate to this receiver (it is the "
                              "receiver's own)")));
  }
  // Who is asking comes first: a peer that may not write this replica
  // learns nothing of it (no id, point, size or block size in the reply).
  if (fixed != nullptr) {
    absl::Status authorized = fixed->AuthorizeWriter(peer);
    if (!authorized.ok()) return Refuse(stream, authorized);
  }
  absl::StatusOr<Hello> hello = Hello::Decode(first);
  if (hello.ok()) {
    hello->max_version = std::min(
        hello->max_version,
        std::max(kMinProtocolVersion, std::min(kProtocolVersion, options.max_protocol_version)));
    if (hello->max_version < hello->min_version) {
      hello = absl::FailedPreconditionError(absl::StrCat(
          "protocol version mismatch: the sender speaks versions ", hello->min_version, "..",
          hello->max_version, ", this receiver at most ", options.max_protocol_version));
    }
  }
  // The replica the HELLO is for (a resolver's refusal says nothing of
  // any replica), and its writer.
  std::shared_ptr<ReplicaStore> resolved;
  if (fixed == nullptr) {
    if (!hello.ok()) return Refuse(stream, hello.status());
    absl::StatusOr<std::shared_ptr<ReplicaStore>> r = (*resolve)(*hello, peer);
    if (!r.ok()) return Refuse(stream, r.status());
    if (*r == nullptr) {
      return Refuse(stream, absl::InternalError("the receiver found no replica for the disk"));
    }
    resolved = *std::move(r);
    absl::Status authorized = resolved->AuthorizeWriter(peer);
    if (!authorized.ok()) return Refuse(stream, authorized);
  }
  ReplicaStore& store = fixed != nullptr ? *fixed : *resolved;
  HelloReply reply;
  reply.status = hello.ok() ? store.CheckHello(*hello) : hello.status();
  // A point committed earlier whose apply failed is completed first, so
  // that the reply names the point the replica really holds.
  if (reply.status.ok()) reply.status = store.CompleteInterruptedApply();
  if (hello.ok()) reply.version = std::min(kProtocolVersion, hello->max_version);
  const uint32_t version = reply.version;
  if (reply.status.ok()) {  // a refusal says why, and nothing of the replica
    ReplicaInfo info = store.info();
    reply.has_replica = info.has_replica;
    reply.replication_id = info.replication_id;
    reply.current_cycle = info.current_cycle;
    reply.virtual_size = info.virtual_size;
    reply.block_size = info.block_size;
  }
  ASR_RETURN_IF_ERROR(WriteFrame(stream, FrameType::kHelloReply, reply.Encode()));
  if (!reply.status.ok()) return reply.status;

  for (;;) {
    absl::StatusOr<Frame> next = ReadFrame(stream);
    if (absl::IsOutOfRange(next.status())) return absl::OkStatus();  // clean close
    if (!next.ok()) return next.status();
    if (next->type == FrameType::kVerifyRequest && version >= kVerifyVersion) {
      ASR_RETURN_IF_ERROR(ServeVerify(stream, store, *next));
      continue;  // Idle again
    }
    absl::StatusOr<CycleStart> start = CycleStart::Decode(*next);
    if (!start.ok()) return Violation(stream, start.status());
    if (version < kResumeVersion) start->resumable = false;
    absl::Status admitted =
        options.admit_cycle ? options.admit_cycle(*hello, *start) : absl::OkStatus();
    absl::StatusOr<std::unique_ptr<CycleWriter>> cycle =
        admitted.ok() ? store.BeginCycle(*hello, *start)
                      : absl::StatusOr<std::unique_ptr<CycleWriter>>(admitted);
    {
      CycleReply ready;
      ready.status = cycle.status();
      ready.cycle = start->cycle;
      if (start->resumable) {  // version 5: where the cycle continues
        ready.has_resume = true;
        ready.resume_item = cycle.ok() ? (*cycle)->resume_item() : 0;
        ready.resume_bytes = cycle.ok() ? (*cycle)->resume_bytes() : 0;
      }
      ASR_RETURN_IF_ERROR(WriteFrame(stream, FrameType::kCycleReady, ready.Encode()));
    }
    if (!cycle.ok()) continue;
    // Receiving.
    absl::Status failed;  // a data error: keep reading to CYCLE_END, then refuse
    Frame frame;          // reused: no new buffer per frame
    Frame* fr = &frame;
    // A cycle that failed its checks or broke the protocol keeps nothing
    // for a resume.
    auto fatal = [&](absl::Status st) {
      (*cycle)->DoNotResume();
      return Violation(stream, std::move(st));
    };
    uint64_t at_checkpoint = stream.read();  // bytes read up to the last checkpoint
    for (;;) {
      if (!failed.ok()) (*cycle)->DoNotResume();
      absl::Status read = ReadFrameInto(stream, fr);
      if (!read.ok()) (*cycle)->NoteInterrupted(stream.read() - at_checkpoint);
      if (absl::IsOutOfRange(read)) {
        return absl::UnavailableError(
            absl::StrCat(stream.PeerDescription(), " closed the connection in cycle ", start->cycle,
                         start->resumable && failed.ok() ? "; it resumes from its last checkpoint"
                                                         : "; the cycle was discarded"));
      }
      if (!read.ok()) return read;
      if (fr->type == FrameType::kCycleCheckpoint && start->resumable) {
        absl::StatusOr<CycleCheckpoint> cp = CycleCheckpoint::Decode(*fr);
        if (!cp.ok()) return fatal(cp.status());
        if (failed.ok()) failed = (*cycle)->AddCheckpoint(*cp);
        if (Fatal(failed)) return fatal(failed);
        at_checkpoint = stream.read();
      } else if (fr->type == FrameType::kBlock) {
        if (failed.ok()) failed = (*cycle)->AddBlock(fr->payload);
        if (Fatal(failed)) return fatal(failed);
      } else if (fr->type == FrameType::kBlockGroup) {
        if (failed.ok()) failed = (*cycle)->AddBlockGroup(fr->payload);
        if (Fatal(failed)) return fatal(failed);
      } else if (fr->type == FrameType::kZeroRange) {
        absl::StatusOr<ZeroRange> z = ZeroRange::Decode(*fr);
        if (!z.ok()) return fatal(z.status());
        if (failed.ok()) failed = (*cycle)->AddZeroRange(*z);
        if (Fatal(failed)) return fatal(failed);
      } else if (fr->type == FrameType::kCycleEnd) {
        absl::StatusOr<CycleEnd> end = CycleEnd::Decode(*fr);
        if (!end.ok()) return fatal(end.status());
        // The ACK goes out as soon as the point is durable; the replica is
        // brought up to it afterwards (a crash in between rolls forward).
        absl::StatusOr<uint64_t> point =
            failed.ok() ? (*cycle)->CommitDurable(*end) : absl::StatusOr<uint64_t>(failed);
        absl::Status acked = SendReply(stream, FrameType::kCycleAck, point.status(), start->cycle,
                                       point.ok() ? *point : 0);
        absl::Status applied = point.ok() ? (*cycle)->FinishApply() : absl::OkStatus();
        cycle->reset();
        ASR_RETURN_IF_ERROR(applied);
        if (point.ok() && options.on_commit) options.on_commit(*point, *start);
        if (point.ok() && options.on_commit_of) options.on_commit_of(*hello, *point, *start);
        ASR_RETURN_IF_ERROR(acked);
        break;
      } else {
        return fatal(Unexpected(*fr, FrameType::kBlock));
      }
    }
  }
}

}  // namespace

absl::Status ServeConnection(net::ByteStream& stream, ReplicaStore& store,
                             const ServeOptions& options) {
  absl::StatusOr<Frame> f = ReadFrame(stream);
  if (!f.ok()) {
    if (absl::IsDataLoss(f.status())) SendError(stream, f.status());
    return f.status();
  }
  CountingStream counted(stream);
  return Serve(counted, *f, &store, nullptr, options);
}

absl::Status ServeConnection(net::ByteStream& stream, const ReplicaResolver& resolve,
                             const ServeOptions& options) {
  absl::StatusOr<Frame> f = ReadFrame(stream);
  if (!f.ok()) {
    if (absl::IsDataLoss(f.status())) SendError(stream, f.status());
    return f.status();
  }
  CountingStream counted(stream);
  return Serve(counted, *f, nullptr, &resolve, options);
}

}  // namespace asr::replication
