#include "asr/replication/partial_cycle.h"

#include <cstring>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "asr/common/crc32c.h"
#include "asr/common/file_util.h"
#include "asr/platform/env.h"
#include "asr/replication/byte_codec.h"

namespace asr::replication {
namespace {

constexpr char kMagic[8] = {'A', 'S', 'R', 'P', 'A', 'R', 'T', '1'};
// The running SHA-256 state is kept as the bytes of the stream object: the
// record is read back only by this build's receiver on this host.
static_assert(std::is_trivially_copyable_v<Sha256Stream>);
// A journal's header (block_log.h).
constexpr uint64_t kJournalHeader = 36;

}  // namespace

bool PartialCycle::Matches(const Hello& hello, const CycleStart& start) const {
  return start.resumable && start.cycle == cycle && start.base_cycle == base_cycle &&
         static_cast<uint8_t>(start.mode) == mode && start.flags == flags &&
         start.plan_id == plan_id && hello.replication_id == replication_id &&
         hello.source_disk_id == source_disk_id && hello.virtual_size == virtual_size &&
         hello.block_size == block_size;
}

std::string PartialCyclePath(const std::string& dir, uint64_t cycle) {
  return JoinPath(dir, absl::StrCat("journal/cycle-", cycle, ".resume"));
}

absl::Status SavePartialCycle(const std::string& dir, const PartialCycle& p) {
  ByteWriter w;
  w.Bytes(kMagic, sizeof(kMagic));
  w.U64(p.cycle);
  w.U64(p.base_cycle);
  w.U8(p.mode);
  w.U8(p.flags);
  w.Bytes(p.plan_id.data(), p.plan_id.size());
  w.Str(p.replication_id);
  w.Str(p.source_disk_id);
  w.U64(p.virtual_size);
  w.U32(p.block_size);
  w.U8(p.direct ? 1 : 0);
  w.U64(p.journal_bytes);
  w.U64(p.journal_records);
  w.U64(p.next_item);
  w.U64(p.blocks);
  w.U64(p.zero_ranges);
  w.U64(p.raw_bytes);
  uint8_t ctx[sizeof(Sha256Stream)];
  std::memcpy(ctx, &p.digest, sizeof(ctx));
  w.Bytes(ctx, sizeof(ctx));
  w.U32(Crc32c(w.data().data(), w.data().size()));
  return WriteFileAtomically(PartialCyclePath(dir, p.cycle), w.data(), 0644);
}

std::optional<PartialCycle> LoadPartialCycle(const std::string& dir, uint64_t cycle,
                                             const std::string& direct_file) {
  absl::StatusOr<std::string> data = ReadFileToString(PartialCyclePath(dir, cycle));
  if (!data.ok() || data->size() < 4) return std::nullopt;
  const size_t body = data->size() - 4;
  ByteReader crc_reader(absl::string_view(*data).substr(body));
  uint32_t crc = 0;
  if (!crc_reader.U32(&crc) || crc != Crc32c(data->data(), body)) return std::nullopt;
  ByteReader r(absl::string_view(*data).substr(0, body));
  PartialCycle p;
  char magic[8];
  uint8_t direct = 0;
  uint8_t ctx[sizeof(Sha256Stream)];
  if (!r.Bytes(magic, 8) || std::memcmp(magic, kMagic, 8) != 0 || !r.U64(&p.cycle) ||
      !r.U64(&p.base_cycle) || !r.U8(&p.mode) || !r.U8(&p.flags) ||
      !r.Bytes(p.plan_id.data(), p.plan_id.size()) || !r.Str(&p.replication_id) ||
      !r.Str(&p.source_disk_id) || !r.U64(&p.virtual_size) || !r.U32(&p.block_size) ||
      !r.U8(&direct) || !r.U64(&p.journal_bytes) || !r.U64(&p.journal_records) ||
      !r.U64(&p.next_item) || !r.U64(&p.blocks) || !r.U64(&p.zero_ranges) || !r.U64(&p.raw_bytes) ||
      !r.Bytes(ctx, sizeof(ctx)) || !r.Done()) {
    return std::nullopt;
  }
  std::memcpy(&p.digest, ctx, sizeof(ctx));
  p.direct = direct != 0;
  if (p.cycle != cycle || p.next_item == 0) return std::nullopt;
  // The data it describes must be there.
  const std::string file = p.direct
                               ? JoinPath(dir, direct_file + ".tmp")
                               : JoinPath(dir, absl::StrCat("journal/cycle-", cycle, ".blog.tmp"));
  absl::StatusOr<platform::FileInfo> info = platform::Env::Default()->Stat(file);
  if (!info.ok()) return std::nullopt;
  if (!p.direct && info->size < kJournalHeader + p.journal_bytes) return std::nullopt;
  return p;
}

}  // namespace asr::replication
