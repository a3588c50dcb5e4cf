#include "asr/replication/direct_writer.h"

#include <utility>

#include "absl/types/span.h"
#include "asr/common/status_macros.h"
#include "asr/replication/replica_internal.h"

namespace asr::replication {
namespace {
// A first cycle starts the writeback of the new replica every so many bytes,
// so that the final flush has little left to wait for.
constexpr uint64_t kWritebackEvery = 32 << 20;
}  // namespace

DirectWriter::DirectWriter(disk::VirtualDisk* disk, std::function<void(const char*)> hook,
                           platform::File* writeback)
    : disk_(disk), hook_(std::move(hook)), writeback_(writeback) {
  for (int i = 0; i < kBuffers; ++i) {
    buffers_.push_back(std::make_unique<AlignedBytes>());
    free_.push_back(buffers_.back().get());
  }
  thread_ = std::thread([this] { Loop(); });
}

DirectWriter::~DirectWriter() { (void)Finish(); }

absl::StatusOr<AlignedBytes*> DirectWriter::Acquire() {
  absl::MutexLock l(&mu_);
  mu_.Await(absl::Condition(
      +[](DirectWriter* w)
           ABSL_NO_THREAD_SAFETY_ANALYSIS { return !w->free_.empty() || !w->error_.ok(); },
      this));
  if (!error_.ok()) return error_;
  AlignedBytes* b = free_.back();
  free_.pop_back();
  return b;
}

absl::Status DirectWriter::Submit(AlignedBytes* buf, std::vector<DirectRun> runs) {
  absl::MutexLock l(&mu_);
  jobs_.push_back({buf, std::move(runs)});
  return error_;
}

absl::Status DirectWriter::Finish() {
  {
    absl::MutexLock l(&mu_);
    finishing_ = true;
  }
  if (thread_.joinable()) thread_.join();
  absl::MutexLock l(&mu_);
  return error_;
}

void DirectWriter::Loop() {
  for (;;) {
    Job job;
    {
      absl::MutexLock l(&mu_);
      mu_.Await(absl::Condition(
          +[](DirectWriter* w)
               ABSL_NO_THREAD_SAFETY_ANALYSIS { return !w->jobs_.empty() || w->finishing_; },
          this));
      if (jobs_.empty()) break;  // finishing, all written
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    absl::Status s;
    for (const DirectRun& r : job.runs) {
      s = Write(r.offset, job.buf->data() + r.pos, r.length);
      if (!s.ok()) break;
    }
    absl::MutexLock l(&mu_);
    free_.push_back(job.buf);
    if (!s.ok()) {
      if (error_.ok()) error_ = s;
      // Nothing more is written; queued buffers return to the pool.
      for (Job& j : jobs_) free_.push_back(j.buf);
      jobs_.clear();
      return;
    }
  }
  absl::Status s = Flush();
  absl::MutexLock l(&mu_);
  if (error_.ok()) error_ = s;
}

absl::Status DirectWriter::Flush() {
  if (!batch_.empty()) {
    ASR_RETURN_IF_ERROR(
        disk_->WriteAt(batch_off_, absl::MakeConstSpan(batch_.data(), batch_.size())));
    unsynced_bytes_ += batch_.size();
    batch_.Clear();
  } else if (unsynced_bytes_ == 0) {
    return absl::OkStatus();
  }
  if (hook_) hook_("direct-write");
  if (unsynced_bytes_ >= kWritebackEvery && writeback_ != nullptr) {
    // Asynchronous: only starts writing back what went through the cache.
    (void)writeback_->StartWriteback();
    unsynced_bytes_ = 0;
  }
  return absl::OkStatus();
}

absl::Status DirectWriter::Write(uint64_t offset, const uint8_t* data, size_t length) {
  if (!batch_.empty() &&
      (batch_off_ + batch_.size() != offset || batch_.size() >= kIoChunk || length >= kIoChunk)) {
    ASR_RETURN_IF_ERROR(Flush());
  }
  if (batch_.empty() && length >= kIoChunk) {  // large enough on its own: no copy
    ASR_RETURN_IF_ERROR(disk_->WriteAt(offset, absl::MakeConstSpan(data, length)));
    unsynced_bytes_ += length;
    return Flush();  // the hook and the writeback kick
  }
  if (batch_.empty()) batch_off_ = offset;
  batch_.Append(data, length);
  return absl::OkStatus();
}

}  // namespace asr::replication
