// asr/replication/aligned_bytes.h (internal to asr/replication): growable
// bytes at an address aligned for direct (O_DIRECT) writes, the buffers a
// first cycle decodes into and DirectWriter writes from.
//
//   AlignedBytes buf;
//   buf.Append(data, n);
//   ASR_RETURN_IF_ERROR(disk->WriteAt(offset, absl::MakeConstSpan(buf.data(), buf.size())));
#ifndef ASR_REPLICATION_ALIGNED_BYTES_H_
#define ASR_REPLICATION_ALIGNED_BYTES_H_

#include <cstddef>
#include <cstdint>

namespace asr::replication {

// Thread safety: none.
class AlignedBytes {
 public:
  AlignedBytes() = default;
  ~AlignedBytes();
  AlignedBytes(const AlignedBytes&) = delete;
  AlignedBytes& operator=(const AlignedBytes&) = delete;

  // Room for `n` bytes in all, keeping the first size() bytes.
  uint8_t* Reserve(size_t n);
  void Append(const uint8_t* p, size_t n);
  void Clear() { size_ = 0; }
  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0, capacity_ = 0;
};

}  // namespace asr::replication

#endif  // ASR_REPLICATION_ALIGNED_BYTES_H_
