// asr/replication/byte_codec.h: little-endian encoding of the fixed-width
// fields and length-prefixed strings used by the replication wire protocol
// and its on-disk files.
//
//   ByteWriter w;
//   w.U64(offset); w.Str(replication_id);
//   ByteReader r(w.data());
//   uint64_t off; std::string id;
//   if (!r.U64(&off) || !r.Str(&id) || !r.Done()) return Malformed();
#ifndef ASR_REPLICATION_BYTE_CODEC_H_
#define ASR_REPLICATION_BYTE_CODEC_H_

#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/string_view.h"

namespace asr::replication {

// Appends encoded fields to a string. Thread safety: none.
class ByteWriter {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U32(uint32_t v) { Fixed(v, 4); }
  void U64(uint64_t v) { Fixed(v, 8); }
  void Bytes(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
  void Str(absl::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    out_.append(s.data(), s.size());
  }
  const std::string& data() const { return out_; }
  std::string Release() { return std::move(out_); }

 private:
  void Fixed(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<char>(v >> (8 * i)));
  }
  std::string out_;
};

// Reads fields back; every call returns false (and stays failed) when the
// input is too short. Thread safety: none.
class ByteReader {
 public:
  explicit ByteReader(absl::string_view in) : in_(in) {}
  bool U8(uint8_t* v) {
    if (!Need(1)) return false;
    *v = static_cast<uint8_t>(in_[pos_++]);
    return true;
  }
  bool U32(uint32_t* v) {
    uint64_t x;
    if (!Fixed(&x, 4)) return false;
    *v = static_cast<uint32_t>(x);
    return true;
  }
  bool U64(uint64_t* v) { return Fixed(v, 8); }
  bool Bytes(void* p, size_t n) {
    if (!Need(n)) return false;
    std::memcpy(p, in_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  bool Str(std::string* s, size_t max = 1 << 16) {
    uint32_t n;
    if (!U32(&n) || n > max || !Need(n)) return (ok_ = false);
    s->assign(in_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  // The unread rest.
  absl::string_view Rest() const { return in_.substr(pos_); }
  bool Done() const { return ok_ && pos_ == in_.size(); }
  bool ok() const { return ok_; }

 private:
  bool Need(size_t n) {
    if (!ok_ || in_.size() - pos_ < n) return (ok_ = false);
    return true;
  }
  bool Fixed(uint64_t* v, int n) {
    if (!Need(n)) return false;
    uint64_t x = 0;
    for (int i = 0; i < n; ++i) {
      x |= static_cast<uint64_t>(static_cast<uint8_t>(in_[pos_ + i])) << (8 * i);
    }
    pos_ += n;
    *v = x;
    return true;
  }
  absl::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace asr::replication

#endif  // ASR_REPLICATION_BYTE_CODEC_H_
