// asr/replication/kept_bytes.h (internal to asr/replication): the decoded
// blocks a receiver keeps in memory for a cycle's apply, in chunks.
//
// Growing one string by doubling (as before) moved everything kept so far
// at each step and zero-filled the new room, all in fresh memory the kernel
// maps and zeroes again: at 5% churn of 1 GiB (53 MiB kept) that was 80-120
// MiB of page faults per cycle, a third of the receiver's CPU. Chunks never
// move, are not zero-filled, and go back to a process-wide pool (within a
// byte budget) for the next cycle.
//
//   KeptBytes kept;
//   uint8_t* p = kept.Reserve(n);  // decode n bytes at p; p stays valid
//   ...
//   kept.Clear();  // the chunks go back to the pool
#ifndef ASR_REPLICATION_KEPT_BYTES_H_
#define ASR_REPLICATION_KEPT_BYTES_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace asr::replication {

// Chunks of this size are pooled; a larger request gets its own.
inline constexpr size_t kKeptChunkBytes = size_t{4} << 20;
// The default idle pool: the chunks of one 64 MiB cycle.
inline constexpr size_t kDefaultKeptPoolBytes = size_t{64} << 20;

// Thread safety: none (one per cycle); the pool behind it is thread-safe.
class KeptBytes {
 public:
  KeptBytes() = default;
  ~KeptBytes() { Clear(); }
  KeptBytes(const KeptBytes&) = delete;
  KeptBytes& operator=(const KeptBytes&) = delete;

  // Room for `n` more bytes (contents unspecified), valid until Clear.
  uint8_t* Reserve(size_t n);
  // Bytes reserved, and bytes held (the chunks).
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  // Gives every chunk back (to the pool, within its budget).
  void Clear();

 private:
  struct Chunk {
    std::unique_ptr<uint8_t[]> data;
    size_t capacity = 0, used = 0;
  };
  std::vector<Chunk> chunks_;
  size_t size_ = 0, capacity_ = 0;
};

// The pool's budget in bytes (0: none kept); what it holds now.
void SetKeptPoolBudget(size_t bytes);
size_t KeptPoolBytes();

}  // namespace asr::replication

#endif  // ASR_REPLICATION_KEPT_BYTES_H_
