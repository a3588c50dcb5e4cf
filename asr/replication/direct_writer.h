// asr/replication/direct_writer.h (internal to asr/replication): a first
// cycle's writes into the new replica, on a thread of their own. A direct
// write waits for the device; meanwhile the receiver reads and decodes the
// next frames into another of kBuffers buffers. Writes happen in the order
// submitted; runs shorter than kIoChunk that continue each other are
// gathered into one write.
//
//   DirectWriter w(disk, hook, writeback_file);
//   ASR_ASSIGN_OR_RETURN(AlignedBytes* buf, w.Acquire());
//   ... decode into buf ...
//   ASR_RETURN_IF_ERROR(w.Submit(buf, {{offset, 0, length}}));
//   ASR_RETURN_IF_ERROR(w.Finish());
#ifndef ASR_REPLICATION_DIRECT_WRITER_H_
#define ASR_REPLICATION_DIRECT_WRITER_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "asr/disk/virtual_disk.h"
#include "asr/platform/file.h"
#include "asr/replication/aligned_bytes.h"

namespace asr::replication {

// A write of a first cycle: `length` bytes at `pos` of a decoded buffer, to
// virtual `offset` of the new replica.
struct DirectRun {
  uint64_t offset = 0;
  size_t pos = 0;
  size_t length = 0;
};

// Thread safety: Acquire, Submit and Finish from one thread (the
// receiver's); the writes run on the writer's own thread.
class DirectWriter {
 public:
  static constexpr int kBuffers = 4;

  // Writes into `disk`; calls `hook` ("direct-write") after each write;
  // starts the writeback of `writeback` (may be null; not owned, outlives the
  // writer) every so often.
  DirectWriter(disk::VirtualDisk* disk, std::function<void(const char*)> hook,
               platform::File* writeback);
  ~DirectWriter();
  DirectWriter(const DirectWriter&) = delete;
  DirectWriter& operator=(const DirectWriter&) = delete;

  // A free buffer (waits for one); the writer's error once it has failed.
  absl::StatusOr<AlignedBytes*> Acquire();

  // Queues `runs` out of `buf` (which returns to the pool once written).
  absl::Status Submit(AlignedBytes* buf, std::vector<DirectRun> runs);

  // Waits until everything queued is written (the gathered rest too) and
  // stops the thread. The first error, if any.
  absl::Status Finish();

 private:
  struct Job {
    AlignedBytes* buf;
    std::vector<DirectRun> runs;
  };

  void Loop();
  absl::Status Flush();
  absl::Status Write(uint64_t offset, const uint8_t* data, size_t length);

  disk::VirtualDisk* const disk_;
  const std::function<void(const char*)> hook_;
  platform::File* const writeback_;
  // The writer thread's own.
  AlignedBytes batch_;
  uint64_t batch_off_ = 0;
  uint64_t unsynced_bytes_ = 0;  // written since the last writeback kick

  std::vector<std::unique_ptr<AlignedBytes>> buffers_;  // owned; fixed after construction
  absl::Mutex mu_;
  std::vector<AlignedBytes*> free_ ABSL_GUARDED_BY(mu_);
  std::deque<Job> jobs_ ABSL_GUARDED_BY(mu_);
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace asr::replication

#endif  // ASR_REPLICATION_DIRECT_WRITER_H_
