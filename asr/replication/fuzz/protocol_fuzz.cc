// libFuzzer entry point for the replication wire protocol: the input is what
// a peer sends. Its first byte chooses whether the frames' checksums are
// repaired first (bit 0), so that most inputs get past the CRC-32C checks to
// the decoders; the rest is the byte stream, read frame by frame with
// ReadFrameInto (as a receiver and a sender do) until the stream ends or a
// frame is refused. Every frame's payload is offered to every decoder
// (HELLO, HELLO_REPLY, CYCLE_START, CYCLE_READY/ACK, BLOCK and BLOCK_GROUP
// headers and their zstd data, ZERO_RANGE, CYCLE_END, VERIFY_*, ERROR), as if
// it had arrived with that type.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "asr/common/crc32c.h"
#include "asr/replication/block_codec.h"
#include "asr/replication/fuzz/bytes_stream.h"
#include "asr/replication/protocol.h"

namespace asr::replication::fuzz {
namespace {

// The decoders write into a buffer of the announced size (up to kMaxPayload),
// as the receiver's do; allocated once, never cleared, so that an input
// announcing 16 MiB costs what decoding it costs.
uint8_t* Scratch() {
  static uint8_t* buf = new uint8_t[kMaxPayload];
  return buf;
}

void DecodeAll(Frame& f, BlockDecompressor& dec) {
  const FrameType original = f.type;
  (void)FrameTypeName(f.type);
  (void)ErrorFromFrame(f);
  (void)Unexpected(f, FrameType::kHello);
  for (uint8_t t = 1; t <= 14; ++t) {
    f.type = static_cast<FrameType>(t);
    switch (f.type) {
      case FrameType::kHello:
        (void)Hello::Decode(f);
        break;
      case FrameType::kHelloReply:
        (void)HelloReply::Decode(f);
        break;
      case FrameType::kCycleStart:
        if (auto c = CycleStart::Decode(f); c.ok()) (void)CycleModeName(c->mode);
        break;
      case FrameType::kCycleReady:
      case FrameType::kCycleAck:
        (void)CycleReply::Decode(f);
        break;
      case FrameType::kZeroRange:
        (void)ZeroRange::Decode(f);
        break;
      case FrameType::kCycleEnd:
        (void)CycleEnd::Decode(f);
        break;
      case FrameType::kVerifyRequest:
        (void)VerifyRequest::Decode(f);
        break;
      case FrameType::kVerifyDigests: {
        VerifyDigests d;
        (void)VerifyDigests::DecodeInto(f, &d);
        break;
      }
      case FrameType::kVerifyEnd:
        (void)VerifyEnd::Decode(f);
        break;
      case FrameType::kCycleCheckpoint:
        (void)CycleCheckpoint::Decode(f);
        break;
      case FrameType::kError:
        (void)ErrorFromFrame(f);
        break;
      case FrameType::kBlock: {
        // As the receiver does: the header, then the data into a block of
        // the announced size (the receiver bounds it by its block size).
        auto h = DecodeBlockHeader(f.payload);
        if (h.ok() && h->length <= kMaxBlockSize) {
          (void)dec.Decode(h->codec, absl::string_view(f.payload).substr(kBlockHeaderSize),
                           Scratch(), h->length);
        }
        break;
      }
      case FrameType::kBlockGroup: {
        auto g = DecodeBlockGroupHeader(f.payload);
        if (g.ok() && g->raw_bytes <= kMaxPayload) {
          (void)dec.Decode(g->codec, absl::string_view(f.payload).substr(g->data_pos), Scratch(),
                           g->raw_bytes);
        }
        break;
      }
    }
  }
  f.type = original;
}

}  // namespace
}  // namespace asr::replication::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace asr::replication;
  using namespace asr::replication::fuzz;
  if (size < 1) return 0;
  std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] & 1) RepairFrames(bytes);
  BytesStream stream(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  static BlockDecompressor* dec = new BlockDecompressor();
  Frame f;
  for (int i = 0; i < 256; ++i) {
    if (!ReadFrameInto(stream, &f).ok()) break;
    DecodeAll(f, *dec);
  }
  return 0;
}
