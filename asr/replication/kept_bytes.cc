#include "asr/replication/kept_bytes.h"

#include <atomic>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace asr::replication {
namespace {

class ChunkPool {
 public:
  std::unique_ptr<uint8_t[]> Take() {
    absl::MutexLock l(&mu_);
    if (idle_.empty()) return nullptr;
    std::unique_ptr<uint8_t[]> c = std::move(idle_.back());
    idle_.pop_back();
    return c;
  }
  void Put(std::unique_ptr<uint8_t[]> c) {
    absl::MutexLock l(&mu_);
    if ((idle_.size() + 1) * kKeptChunkBytes <= budget_.load(std::memory_order_relaxed)) {
      idle_.push_back(std::move(c));
    }
  }
  void SetBudget(size_t bytes) {
    std::vector<std::unique_ptr<uint8_t[]>> drop;
    absl::MutexLock l(&mu_);
    budget_.store(bytes, std::memory_order_relaxed);
    while (!idle_.empty() && idle_.size() * kKeptChunkBytes > bytes) {
      drop.push_back(std::move(idle_.back()));
      idle_.pop_back();
    }
  }
  size_t Bytes() {
    absl::MutexLock l(&mu_);
    return idle_.size() * kKeptChunkBytes;
  }

 private:
  std::atomic<size_t> budget_{kDefaultKeptPoolBytes};
  absl::Mutex mu_;
  std::vector<std::unique_ptr<uint8_t[]>> idle_ ABSL_GUARDED_BY(mu_);
};

// Never destroyed: cycles may end on threads that outlive main.
ChunkPool& Pool() {
  static ChunkPool* pool = new ChunkPool();
  return *pool;
}

}  // namespace

uint8_t* KeptBytes::Reserve(size_t n) {
  if (chunks_.empty() || chunks_.back().capacity - chunks_.back().used < n) {
    Chunk c;
    if (n <= kKeptChunkBytes) {
      c.data = Pool().Take();
      c.capacity = kKeptChunkBytes;
    } else {
      c.capacity = n;
    }
    // Default-initialised: not zero-filled, every byte is decoded into.
    if (c.data == nullptr) c.data.reset(new uint8_t[c.capacity]);
    capacity_ += c.capacity;
    chunks_.push_back(std::move(c));
  }
  Chunk& c = chunks_.back();
  uint8_t* p = c.data.get() + c.used;
  c.used += n;
  size_ += n;
  return p;
}

void KeptBytes::Clear() {
  for (Chunk& c : chunks_) {
    if (c.capacity == kKeptChunkBytes) Pool().Put(std::move(c.data));
  }
  chunks_.clear();
  size_ = capacity_ = 0;
}

void SetKeptPoolBudget(size_t bytes) { Pool().SetBudget(bytes); }
size_t KeptPoolBytes() { return Pool().Bytes(); }

}  // namespace asr::replication
