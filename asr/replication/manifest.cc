#include "asr/replication/manifest.h"

#include <openssl/rand.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "asr/common/crc32c.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/replication/byte_codec.h"

namespace asr::replication {
namespace {
// Format 1 (SHA-256 digests) and 2 are read; format 2 adds the hash kind
// and seed after the cycle; format 3, what is written, adds after them the
// fingerprints of the source chain (u32 count, each a length-prefixed
// SerializeDiskFingerprint).
constexpr char kMagicV1[8] = {'A', 'S', 'R', 'M', 'A', 'N', '0', '1'};
constexpr char kMagicV2[8] = {'A', 'S', 'R', 'M', 'A', 'N', '0', '2'};
constexpr char kMagicV3[8] = {'A', 'S', 'R', 'M', 'A', 'N', '0', '3'};
constexpr uint32_t kMaxChain = 64;
}  // namespace

std::string ManifestPath(const std::string& disk_path) { return disk_path + ".asrrepl"; }
std::string PendingManifestPath(const std::string& disk_path) {
  return disk_path + ".asrrepl.pending";
}

absl::StatusOr<std::optional<Manifest>> LoadManifest(const std::string& path) {
  if (!PathExists(path)) return std::optional<Manifest>();
  ASR_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  auto corrupt = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat(path, ": replication manifest is corrupt (", why,
                                            "); run a scan or initial replication"));
  };
  if (bytes.size() < 12) return corrupt("bad header");
  const bool v1 = bytes.compare(0, 8, kMagicV1, 8) == 0;
  const bool v3 = bytes.compare(0, 8, kMagicV3, 8) == 0;
  if (!v1 && !v3 && bytes.compare(0, 8, kMagicV2, 8) != 0) {
    if (bytes.compare(0, 6, kMagicV2, 6) == 0) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, ": replication manifest format '", bytes.substr(6, 2),
                       "' is newer than this asr understands (03); upgrade asr"));
    }
    return corrupt("bad header");
  }
  ByteReader tail(absl::string_view(bytes).substr(bytes.size() - 4));
  uint32_t crc = 0;
  tail.U32(&crc);
  if (crc != Crc32c(bytes.data(), bytes.size() - 4)) return corrupt("checksum mismatch");
  ByteReader r(absl::string_view(bytes).substr(8, bytes.size() - 12));
  Manifest m;
  uint64_t count = 0;
  if (!r.Str(&m.replication_id) || !r.Str(&m.source_disk_id) || !r.U64(&m.virtual_size) ||
      !r.U32(&m.block_size) || !r.U64(&m.cycle)) {
    return corrupt("truncated");
  }
  if (v1) {
    m.hasher = BlockHasher{BlockHashKind::kSha256, 0};
  } else {
    uint8_t kind = 0;
    if (!r.U8(&kind) || !r.U64(&m.hasher.seed)) return corrupt("truncated");
    if (kind != static_cast<uint8_t>(BlockHashKind::kSha256) &&
        kind != static_cast<uint8_t>(BlockHashKind::kXxh3_128)) {
      return corrupt(absl::StrCat("unknown block hash ", kind));
    }
    m.hasher.kind = static_cast<BlockHashKind>(kind);
  }
  if (v3) {
    uint32_t links = 0;
    if (!r.U32(&links) || links > kMaxChain) return corrupt("bad source chain");
    for (uint32_t i = 0; i < links; ++i) {
      std::string fp;
      if (!r.Str(&fp)) return corrupt("truncated");
      absl::StatusOr<disk::DiskFingerprint> parsed = disk::ParseDiskFingerprint(fp);
      if (!parsed.ok()) return corrupt("bad source fingerprint");
      m.chain.push_back(*std::move(parsed));
    }
  }
  if (!r.U64(&count)) return corrupt("truncated");
  if (m.block_size == 0 || count != Manifest::BlocksFor(m.virtual_size, m.block_size) ||
      r.Rest().size() != count * sizeof(Digest)) {
    return corrupt("inconsistent sizes");
  }
  m.digests.resize(count);
  r.Bytes(m.digests.data(), count * sizeof(Digest));
  return std::optional<Manifest>(std::move(m));
}

absl::Status SaveManifest(const std::string& path, const Manifest& m) {
  ByteWriter w;
  w.Bytes(kMagicV3, 8);
  w.Str(m.replication_id);
  w.Str(m.source_disk_id);
  w.U64(m.virtual_size);
  w.U32(m.block_size);
  w.U64(m.cycle);
  w.U8(static_cast<uint8_t>(m.hasher.kind));
  w.U64(m.hasher.seed);
  w.U32(static_cast<uint32_t>(m.chain.size()));
  for (const disk::DiskFingerprint& fp : m.chain) w.Str(disk::SerializeDiskFingerprint(fp));
  w.U64(m.digests.size());
  w.Bytes(m.digests.data(), m.digests.size() * sizeof(Digest));
  w.U32(Crc32c(w.data().data(), w.data().size()));
  return WriteFileAtomically(path, w.data());
}

std::string NewReplicationId() {
  uint8_t b[16];
  RAND_bytes(b, sizeof(b));
  return absl::StrCat(
      "r-", absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(b), sizeof(b))));
}

}  // namespace asr::replication
