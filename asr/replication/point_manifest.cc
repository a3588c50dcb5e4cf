#include "asr/replication/point_manifest.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "asr/common/crc32c.h"
#include "asr/common/file_lock.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/platform/env.h"
#include "asr/replication/block_log.h"
#include "asr/replication/disk_digest.h"
#include "asr/replication/replica_state.h"
#include "asr/replication/replica_store.h"

namespace asr::replication {
namespace {

constexpr char kMagic[8] = {'A', 'S', 'R', 'D', 'I', 'G', '1', '\n'};
constexpr size_t kHeader = 8 + 8 + 8 + 4 + 8 + 8;
constexpr size_t kMaxReported = 8;

void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

std::array<uint8_t, 16> Short(const Digest& d) {
  std::array<uint8_t, 16> s;
  std::memcpy(s.data(), d.data(), 16);
  return s;
}

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppend(&out, "\\u00", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

}  // namespace

BlockHasher PointManifest::hasher() const {
  BlockHasher h;
  h.kind = BlockHashKind::kXxh3_128;
  h.seed = seed;
  return h;
}

void PointManifest::SetBlock(uint64_t offset, const uint8_t* data, size_t length) {
  const uint64_t b = offset / block_size;
  if (b < digests.size()) digests[b] = Short(hasher()(data, length));
}

void PointManifest::SetZero(uint64_t offset, uint64_t length) {
  const uint64_t end = std::min<uint64_t>(offset + length, virtual_size);
  for (uint64_t o = offset; o < end; o += block_size) {
    const uint64_t b = o / block_size;
    if (b < digests.size()) digests[b] = Short(kZeroDigest);
  }
}

absl::StatusOr<std::optional<PointManifest>> LoadPointManifest(const std::string& dir) {
  const std::string path = JoinPath(dir, kPointManifestFile);
  if (!PathExists(path)) return std::optional<PointManifest>();
  ASR_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  auto corrupt = [&](absl::string_view why) {
    return absl::DataLossError(
        absl::StrCat(path, ": the block digest manifest is damaged (", why,
                     "); the replica's data was not judged. The next cycle rewrites the manifest"));
  };
  if (text.size() < kHeader + 4 || std::memcmp(text.data(), kMagic, 8) != 0) {
    return corrupt("not a manifest file");
  }
  const size_t body = text.size() - 4;
  if (Crc32c(text.data(), body) != GetU32(text.data() + body)) return corrupt("checksum mismatch");
  PointManifest m;
  const char* p = text.data() + 8;
  m.point = GetU64(p);
  m.virtual_size = GetU64(p + 8);
  m.block_size = GetU32(p + 16);
  m.seed = GetU64(p + 20);
  const uint64_t count = GetU64(p + 28);
  if (m.block_size == 0 || count != (m.virtual_size + m.block_size - 1) / m.block_size ||
      body - kHeader != count * 16) {
    return corrupt("its geometry does not match its length");
  }
  m.digests.resize(count);
  std::memcpy(m.digests.data(), text.data() + kHeader, count * 16);
  return std::optional<PointManifest>(std::move(m));
}

absl::Status SavePointManifest(const std::string& dir, const PointManifest& m) {
  std::string out(kMagic, 8);
  out.reserve(kHeader + m.digests.size() * 16 + 4);
  PutU64(&out, m.point);
  PutU64(&out, m.virtual_size);
  PutU32(&out, m.block_size);
  PutU64(&out, m.seed);
  PutU64(&out, m.digests.size());
  out.append(reinterpret_cast<const char*>(m.digests.data()), m.digests.size() * 16);
  PutU32(&out, Crc32c(out.data(), out.size()));
  return WriteFileAtomically(JoinPath(dir, kPointManifestFile), out);
}

absl::StatusOr<PointManifest> BuildPointManifest(disk::VirtualDisk& disk, uint64_t point,
                                                 uint32_t block_size) {
  PointManifest m;
  m.point = point;
  m.virtual_size = disk.virtual_size();
  m.block_size = block_size;
  m.seed = BlockHasher::NewXxh3().seed;
  const uint64_t count = (m.virtual_size + block_size - 1) / block_size;
  m.digests.resize(count);
  ASR_RETURN_IF_ERROR(DigestDiskBlocks(
      disk, m.hasher(), block_size, 0, count, 4096,
      [&](uint64_t first, absl::Span<const Digest> d) -> absl::Status {
        for (size_t i = 0; i < d.size(); ++i) m.digests[first + i] = Short(d[i]);
        return absl::OkStatus();
      },
      nullptr));
  return m;
}

std::optional<PointManifest> ManifestToUpdate(const std::string& dir, uint64_t current,
                                              uint64_t applying, uint64_t virtual_size,
                                              uint32_t block_size, bool fresh) {
  if (block_size == 0) return std::nullopt;
  if (fresh) {
    PointManifest m;
    m.point = applying;
    m.virtual_size = virtual_size;
    m.block_size = block_size;
    m.seed = BlockHasher::NewXxh3().seed;
    m.digests.assign((virtual_size + block_size - 1) / block_size, Short(kZeroDigest));
    return m;
  }
  absl::StatusOr<std::optional<PointManifest>> loaded = LoadPointManifest(dir);
  if (!loaded.ok() || !loaded->has_value()) return std::nullopt;
  PointManifest& m = **loaded;
  if ((m.point != current && m.point != applying) || m.virtual_size != virtual_size ||
      m.block_size != block_size) {
    return std::nullopt;
  }
  return std::move(m);
}

void SaveLatestManifest(const std::string& dir, std::optional<PointManifest> m, uint64_t point,
                        const std::string& replica_file, uint32_t block_size) {
  absl::Status s = [&]() -> absl::Status {
    if (!m.has_value()) {
      ASR_ASSIGN_OR_RETURN(auto replica,
                           disk::OpenDisk(JoinPath(dir, replica_file), disk::OpenMode::kReadOnly));
      ASR_ASSIGN_OR_RETURN(m, BuildPointManifest(*replica, point, block_size));
      ASR_RETURN_IF_ERROR(replica->Close());
    }
    m->point = point;
    return SavePointManifest(dir, *m);
  }();
  if (!s.ok()) (void)platform::Env::Default()->Unlink(JoinPath(dir, kPointManifestFile));
}

absl::StatusOr<LocalVerifyResult> VerifyReplicaDir(const std::string& dir,
                                                   std::optional<uint64_t> point) {
  // Listing first recovers an interrupted apply when no receiver holds the
  // directory (and says NotFound for a directory that is no replica).
  ASR_ASSIGN_OR_RETURN(std::vector<RecoveryPoint> listed, ListRecoveryPoints(dir));
  FileLock apply;
  ASR_RETURN_IF_ERROR(apply.LockShared(JoinPath(dir, "apply.lock")));
  ASR_ASSIGN_OR_RETURN(LoadedState loaded, LoadReplicaState(dir));
  const ReplicaStore::State& s = loaded.state;
  if (s.applying) {
    return absl::UnavailableError(
        absl::StrCat(dir, ": a cycle is being applied; try again in a moment"));
  }
  if (!s.has_replica || s.points.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the replica in ", dir, " has no recovery point yet; nothing to verify"));
  }
  const uint64_t latest = s.points.back().id;
  size_t idx = s.points.size() - 1;
  if (point.has_value() && *point != latest) {
    idx = s.points.size();
    for (size_t i = 0; i < s.points.size(); ++i) {
      if (s.points[i].id == *point) idx = i;
    }
    if (idx == s.points.size()) {
      return absl::NotFoundError(absl::StrCat("the replica in ", dir, " keeps no point ", *point,
                                              "; list its points with `asrctl replica points`"));
    }
  }
  LocalVerifyResult r;
  r.point = s.points[idx].id;
  ASR_ASSIGN_OR_RETURN(std::optional<PointManifest> m, LoadPointManifest(dir));
  if (!m.has_value() || m->point != latest) {
    r.message = absl::StrCat(
        "no manifest recorded for point ", latest, r.point != latest ? " (the latest)" : "",
        " (replicated before manifests existed, or its commit was interrupted); the next cycle "
        "records it");
    return r;
  }
  if (m->virtual_size != s.virtual_size || m->block_size != s.block_size) {
    return absl::DataLossError(absl::StrCat(
        JoinPath(dir, kPointManifestFile), ": the manifest's geometry (", m->virtual_size,
        " bytes in blocks of ", m->block_size, ") differs from the replica's (", s.virtual_size,
        " bytes in blocks of ", s.block_size, "); the next cycle rewrites it"));
  }
  r.manifest_recorded = true;
  ASR_ASSIGN_OR_RETURN(auto replica,
                       disk::OpenDisk(JoinPath(dir, s.replica_file), disk::OpenMode::kReadOnly));
  if (replica->virtual_size() < s.virtual_size) {
    return absl::DataLossError(absl::StrCat(JoinPath(dir, s.replica_file), " holds ",
                                            replica->virtual_size(), " bytes, the replica needs ",
                                            s.virtual_size, "; resynchronize it"));
  }
  // An older point (as RestorePoint reads it): a block from the oldest
  // reverse delta at or after it that holds one, else the replica's. The
  // deltas' blocks are checked by their CRC-32C (recorded when the delta was
  // captured), the replica's against the manifest.
  std::vector<std::unique_ptr<BlockLogReader>> deltas;
  std::map<uint64_t, std::pair<size_t, BlockLogRecord>> overrides;
  for (size_t i = idx; i + 1 < s.points.size(); ++i) {
    absl::StatusOr<std::unique_ptr<BlockLogReader>> d =
        BlockLogReader::Open(JoinPath(dir, s.points[i].delta_file));
    if (!d.ok()) {
      return absl::DataLossError(
          absl::StrCat("point ", r.point, " cannot be read: its reverse delta ",
                       s.points[i].delta_file, " (point ", s.points[i].id, ") is damaged (",
                       d.status().message(), "); later points are not affected"));
    }
    for (const BlockLogRecord& rec : (*d)->records()) {
      overrides.emplace(rec.offset, std::make_pair(deltas.size(), rec));
    }
    deltas.push_back(*std::move(d));
  }
  std::vector<uint64_t> bad;  // offsets, the first few of each source
  const uint64_t count = m->digests.size();
  ASR_RETURN_IF_ERROR(DigestDiskBlocks(
      *replica, m->hasher(), s.block_size, 0, count, 4096,
      [&](uint64_t first, absl::Span<const Digest> d) -> absl::Status {
        for (size_t i = 0; i < d.size(); ++i) {
          const uint64_t off = (first + i) * s.block_size;
          if (!overrides.empty() && overrides.count(off)) continue;
          ++r.blocks;
          if (Short(d[i]) != m->digests[first + i]) {
            if (bad.size() < kMaxReported) bad.push_back(off);
            ++r.mismatched_blocks;
          }
        }
        return absl::OkStatus();
      },
      &r.bytes_read));
  std::string data;
  uint64_t delta_bad = 0;
  for (const auto& [off, ref] : overrides) {
    if (ref.second.type != RecordType::kBlock) continue;  // zeros: nothing stored to rot
    ++r.blocks;
    r.bytes_read += ref.second.payload_len;
    absl::Status read = deltas[ref.first]->ReadData(ref.second, &data);
    if (absl::IsDataLoss(read) || absl::IsInvalidArgument(read)) {
      if (delta_bad < kMaxReported) bad.push_back(off);
      ++delta_bad;
      ++r.mismatched_blocks;
    } else if (!read.ok()) {
      return read;
    }
  }
  std::sort(bad.begin(), bad.end());
  if (bad.size() > kMaxReported) bad.resize(kMaxReported);
  r.first_mismatches = std::move(bad);
  if (r.mismatched_blocks == 0) {
    r.message = absl::StrCat("point ", r.point, ": all ", r.blocks, " blocks match the manifest",
                             overrides.empty() ? "" : " and their reverse deltas' checksums");
  } else {
    r.message =
        absl::StrCat("point ", r.point, ": ", r.mismatched_blocks, " of ", r.blocks,
                     " blocks differ from the manifest",
                     delta_bad > 0 ? absl::StrCat(" (", delta_bad,
                                                  " in its reverse deltas, which fail their "
                                                  "checksums)")
                                   : "",
                     ", first at byte offsets ", absl::StrJoin(r.first_mismatches, ", "),
                     delta_bad == r.mismatched_blocks
                         ? "; the latest point is not affected, this point cannot be restored "
                           "whole"
                         : "; resynchronize the item (`asrctl item resync`)");
  }
  return r;
}

std::string LocalVerifyResultToJson(const LocalVerifyResult& r) {
  std::vector<std::string> offs;
  for (uint64_t o : r.first_mismatches) offs.push_back(absl::StrCat("\"", o, "\""));
  return absl::StrCat(
      "{\"point\":\"", r.point, "\",\"manifestRecorded\":", r.manifest_recorded ? "true" : "false",
      ",\"blocks\":\"", r.blocks, "\",\"mismatchedBlocks\":\"", r.mismatched_blocks,
      "\",\"firstMismatches\":[", absl::StrJoin(offs, ","), "],\"bytesRead\":\"", r.bytes_read,
      "\",\"ok\":", r.manifest_recorded && r.mismatched_blocks == 0 ? "true" : "false",
      ",\"message\":", JsonString(r.message), "}");
}

}  // namespace asr::replication
