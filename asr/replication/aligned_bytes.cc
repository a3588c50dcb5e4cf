#include "asr/replication/aligned_bytes.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "asr/disk/disk_file.h"

namespace asr::replication {

AlignedBytes::~AlignedBytes() { std::free(data_); }

uint8_t* AlignedBytes::Reserve(size_t n) {
  if (n > capacity_) {
    constexpr size_t kAlign = disk::DiskFile::kDirectAlignment;
    size_t cap = std::max(n, capacity_ * 2);
    cap = (cap + kAlign - 1) / kAlign * kAlign;
    auto* p = static_cast<uint8_t*>(std::aligned_alloc(kAlign, cap));
    if (p == nullptr) throw std::bad_alloc();
    if (size_ > 0) std::memcpy(p, data_, size_);
    std::free(data_);
    data_ = p;
    capacity_ = cap;
  }
  return data_;
}

void AlignedBytes::Append(const uint8_t* p, size_t n) {
  Reserve(size_ + n);
  std::memcpy(data_ + size_, p, n);
  size_ += n;
}

}  // namespace asr::replication
