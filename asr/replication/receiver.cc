#include "asr/replication/receiver.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asr/common/status_macros.h"

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

// Reports a protocol violation to the peer and returns it.
absl::Status Violation(net::ByteStream& s, absl::Status st) {
  SendError(s, st);
  return st;
}

// A first cycle's frames, in the order they arrived; BLOCK_GROUPs are decoded
// (decompressed, CRC-checked) by worker threads meanwhile, so that decoding
// overlaps with the socket reads and the replica writes on the serving
// thread, which records the frames strictly in order.
class DecodePipeline {
 public:
  struct Slot {
    Frame frame;  // the frame read; a group's payload moves into `group`
    CycleWriter::DecodedGroup group;
    bool is_group = false;
    bool done = false;
  };

  DecodePipeline(const CycleWriter& cycle, int threads) : cycle_(cycle) {
    for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { Work(); });
  }
  ~DecodePipeline() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    work_cv_.notify_all();
    for (std::thread& t : workers_) t.join();
  }

  // A slot to read the next frame into (reused memory).
  std::unique_ptr<Slot> Acquire() {
    std::lock_guard<std::mutex> l(mu_);
    if (free_.empty()) return std::make_unique<Slot>();
    std::unique_ptr<Slot> s = std::move(free_.back());
    free_.pop_back();
    return s;
  }
  void Release(std::unique_ptr<Slot> s) {
    std::lock_guard<std::mutex> l(mu_);
    free_.push_back(std::move(s));
  }

  // Queues a frame in order; a BLOCK_GROUP is handed to a worker.
  void Push(std::unique_ptr<Slot> s) {
    s->is_group = s->frame.type == FrameType::kBlockGroup;
    if (s->is_group) s->group.payload.swap(s->frame.payload);
    s->done = !s->is_group;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (s->is_group) todo_.push_back(s.get());
      order_.push_back(std::move(s));
    }
    work_cv_.notify_one();
  }

  size_t size() const {
    std::lock_guard<std::mutex> l(mu_);
    return order_.size();
  }
  // The oldest queued frame once decoded (waits when `wait`), else null.
  std::unique_ptr<Slot> Pop(bool wait) {
    std::unique_lock<std::mutex> l(mu_);
    if (order_.empty()) return nullptr;
    if (!order_.front()->done) {
      if (!wait) return nullptr;
      done_cv_.wait(l, [this] { return order_.front()->done; });
    }
    std::unique_ptr<Slot> s = std::move(order_.front());
    order_.pop_front();
    return s;
  }

 private:
  void Work() {
    BlockDecompressor dec;
    for (;;) {
      Slot* s;
      {
        std::unique_lock<std::mutex> l(mu_);
        work_cv_.wait(l, [this] { return stop_ || !todo_.empty(); });
        if (stop_) return;
        s = todo_.front();
        todo_.pop_front();
      }
      cycle_.DecodeGroup(&s->group, dec);
      {
        std::lock_guard<std::mutex> l(mu_);
        s->done = true;
      }
      done_cv_.notify_one();
    }
  }

  const CycleWriter& cycle_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  bool stop_ = false;
  std::deque<Slot*> todo_;
  std::deque<std::unique_ptr<Slot>> order_;
  std::vector<std::unique_ptr<Slot>> free_;
  std::vector<std::thread> workers_;
};

// Decode workers and frames decoded ahead for a first cycle.
constexpr int kDecodeThreads = 2;
constexpr size_t kDecodeAhead = 6;

}  // namespace

absl::Status ServeConnection(net::ByteStream& stream, ReplicaStore& store,
                             const ServeOptions& options) {
  absl::StatusOr<Frame> f = ReadFrame(stream);
  if (!f.ok()) {
    if (absl::IsDataLoss(f.status())) SendError(stream, f.status());
    return f.status();
  }
  absl::StatusOr<Hello> hello = Hello::Decode(*f);
  HelloReply reply;
  reply.status = hello.ok() ? store.CheckHello(*hello) : hello.status();
  if (hello.ok()) reply.version = std::min(kProtocolVersion, hello->max_version);
  ReplicaInfo info = store.info();
  reply.has_replica = info.has_replica;
  reply.replication_id = info.replication_id;
  reply.current_cycle = info.current_cycle;
  reply.virtual_size = info.virtual_size;
  reply.block_size = info.block_size;
  ASR_RETURN_IF_ERROR(WriteFrame(stream, FrameType::kHelloReply, reply.Encode()));
  if (!reply.status.ok()) return reply.status;

  for (;;) {
    absl::StatusOr<Frame> next = ReadFrame(stream);
    if (absl::IsOutOfRange(next.status())) return absl::OkStatus();  // clean close
    if (!next.ok()) return next.status();
    absl::StatusOr<CycleStart> start = CycleStart::Decode(*next);
    if (!start.ok()) return Violation(stream, start.status());
    absl::StatusOr<std::unique_ptr<CycleWriter>> cycle = store.BeginCycle(*hello, *start);
    ASR_RETURN_IF_ERROR(SendReply(stream, FrameType::kCycleReady, cycle.status(), start->cycle, 0));
    if (!cycle.ok()) continue;
    // Receiving.
    absl::Status failed;  // a data error: keep reading to CYCLE_END, then refuse
    std::unique_ptr<DecodePipeline> pipeline;
    if ((*cycle)->DecodesInParallel()) {
      pipeline = std::make_unique<DecodePipeline>(**cycle, kDecodeThreads);
    }
    // Records one frame of the cycle (not CYCLE_END); a violation is returned,
    // a data error kept in `failed`.
    auto record = [&](const Frame& fr, const CycleWriter::DecodedGroup* decoded) -> absl::Status {
      if (fr.type == FrameType::kBlock) {
        if (failed.ok()) failed = (*cycle)->AddBlock(fr.payload);
      } else if (fr.type == FrameType::kBlockGroup) {
        if (failed.ok()) {
          failed = decoded != nullptr ? (*cycle)->AddDecodedGroup(*decoded)
                                      : (*cycle)->AddBlockGroup(fr.payload);
        }
      } else if (fr.type == FrameType::kZeroRange) {
        absl::StatusOr<ZeroRange> z = ZeroRange::Decode(fr);
        if (!z.ok()) return z.status();
        if (failed.ok()) failed = (*cycle)->AddZeroRange(*z);
      } else {
        return Unexpected(fr, FrameType::kBlock);
      }
      if (absl::IsInvalidArgument(failed)) return failed;
      return absl::OkStatus();
    };
    // Records the pipeline's decoded frames (all of them when `all`).
    auto drain = [&](bool all) -> absl::Status {
      if (pipeline == nullptr) return absl::OkStatus();
      for (;;) {
        const bool wait = all || pipeline->size() > kDecodeAhead;
        std::unique_ptr<DecodePipeline::Slot> s = pipeline->Pop(wait);
        if (s == nullptr) return absl::OkStatus();
        absl::Status st = record(s->frame, s->is_group ? &s->group : nullptr);
        pipeline->Release(std::move(s));
        ASR_RETURN_IF_ERROR(st);
      }
    };
    Frame plain;
    for (;;) {
      std::unique_ptr<DecodePipeline::Slot> slot;
      if (pipeline != nullptr) slot = pipeline->Acquire();
      Frame& fr = slot != nullptr ? slot->frame : plain;
      absl::Status read = ReadFrameInto(stream, &fr);
      if (absl::IsOutOfRange(read)) {
        return absl::UnavailableError(
            absl::StrCat(stream.PeerDescription(), " closed the connection in cycle ",
                         start->cycle, "; the cycle was discarded"));
      }
      if (!read.ok()) return read;
      if (fr.type == FrameType::kCycleEnd) {
        absl::Status drained = drain(/*all=*/true);
        pipeline.reset();
        if (!drained.ok()) return Violation(stream, drained);
        absl::StatusOr<CycleEnd> end = CycleEnd::Decode(fr);
        if (!end.ok()) return Violation(stream, end.status());
        // The ACK goes out as soon as the point is durable; the replica is
        // brought up to it afterwards (a crash in between rolls forward).
        absl::StatusOr<uint64_t> point =
            failed.ok() ? (*cycle)->CommitDurable(*end) : absl::StatusOr<uint64_t>(failed);
        absl::Status acked = SendReply(stream, FrameType::kCycleAck, point.status(),
                                       start->cycle, point.ok() ? *point : 0);
        absl::Status applied = point.ok() ? (*cycle)->FinishApply() : absl::OkStatus();
        cycle->reset();
        ASR_RETURN_IF_ERROR(applied);
        if (point.ok() && options.on_commit) options.on_commit(*point, *start);
        ASR_RETURN_IF_ERROR(acked);
        break;
      }
      if (pipeline != nullptr) {
        if (fr.type != FrameType::kBlock && fr.type != FrameType::kBlockGroup &&
            fr.type != FrameType::kZeroRange) {
          return Violation(stream, Unexpected(fr, FrameType::kBlock));
        }
        pipeline->Push(std::move(slot));
        absl::Status st = drain(/*all=*/false);
        if (!st.ok()) return Violation(stream, st);
      } else {
        absl::Status st = record(fr, nullptr);
        if (!st.ok()) return Violation(stream, st);
      }
    }
  }
}

}  // namespace asr::replication
