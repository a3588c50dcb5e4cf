// The C API's replication entry points (asr/replication): the host's
// change tracker, one replication cycle over mutual TLS with a progress
// callback, verification of a replica against the source, and a replica's
// recovery points (list, restore).
#include <cstring>
#include <memory>
#include <string>

#include "asr.h"
#include "asr/common/status_macros.h"
#include "asr/disk/virtual_disk.h"
#include "asr/model/json.h"
#include "asr/model/replication.pb.h"
#include "asr/net/tls.h"
#include "asr/replication/change_tracker.h"
#include "asr/replication/manifest.h"
#include "asr/replication/replica_store.h"
#include "asr/replication/resume.h"
#include "asr/replication/sender.h"
#include "asr/replication/verifier.h"
#include "capi/capi_internal.h"

struct asr_tracker {
  std::unique_ptr<asr::replication::ChangeTracker> tracker;
};

namespace asr::capi {
namespace {

// The first versions' sizes (see asr.h).
constexpr size_t kTlsFilesV1Size = ASR_CAPI_STRUCT_END(asr_tls_files_t, ca_path);
constexpr size_t kReplicationOptionsV1Size =
    ASR_CAPI_STRUCT_END(asr_replication_options_t, app_consistent);
constexpr size_t kReplicationOptionsV2Size =
    ASR_CAPI_STRUCT_END(asr_replication_options_t, reserved);

absl::StatusOr<replication::ChangeTracker*> TrackerOf(asr_tracker_t* t) {
  if (t == nullptr || !t->tracker) return absl::InvalidArgumentError("tracker is NULL");
  return t->tracker.get();
}

absl::StatusOr<replication::CycleMode> ModeOf(uint32_t mode) {
  switch (mode) {
    case ASR_REPLICATION_MODE_INITIAL:
      return replication::CycleMode::kInitial;
    case ASR_REPLICATION_MODE_TRACKED:
      return replication::CycleMode::kTracked;
    case ASR_REPLICATION_MODE_SCAN:
      return replication::CycleMode::kScan;
    case ASR_REPLICATION_MODE_DIFFERENCING:
      return replication::CycleMode::kDifferencing;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown replication mode ", mode));
}

absl::StatusOr<net::TlsConfig> TlsConfigOf(const asr_tls_files_t* in) {
  asr_tls_files_t tls;
  ASR_RETURN_IF_ERROR(ReadVersionedStruct(in, kTlsFilesV1Size, "asr_tls_files_t", &tls));
  net::TlsConfig cfg;
  cfg.cert_path = tls.cert_path ? tls.cert_path : "";
  cfg.key_path = tls.key_path ? tls.key_path : "";
  cfg.ca_path = tls.ca_path ? tls.ca_path : "";
  return cfg;
}

// The codec the ASR_REPLICATION_CODEC_* flags choose.
absl::StatusOr<replication::ReplicationCodec> CodecOf(uint32_t flags) {
  const bool classic = (flags & ASR_REPLICATION_CODEC_CLASSIC) != 0;
  const bool lng = (flags & ASR_REPLICATION_CODEC_LONG) != 0;
  if (classic && lng) {
    return absl::InvalidArgumentError(
        "ASR_REPLICATION_CODEC_CLASSIC and ASR_REPLICATION_CODEC_LONG exclude each other; give "
        "one, or neither for the default (long after the initial copy)");
  }
  return classic ? replication::ReplicationCodec::kClassic
         : lng   ? replication::ReplicationCodec::kLong
                 : replication::ReplicationCodec::kAuto;
}

// One cycle as `o` (already read with ReadVersionedStruct) says.
absl::Status RunCycle(asr_buffer_t** out, const char* disk_path, const char* host, uint16_t port,
                      const asr_tls_files_t* tls, const asr_replication_options_t& o) {
  ASR_RETURN_IF_ERROR(CheckNotNull(disk_path, "disk_path"));
  ASR_RETURN_IF_ERROR(CheckNotNull(host, "host"));
  ASR_RETURN_IF_ERROR(CheckNotNull(tls, "tls"));
  ASR_RETURN_IF_ERROR(CheckFlags(o.flags, ASR_REPLICATION_TRACKED_ONLY |
                                              ASR_REPLICATION_CODEC_CLASSIC |
                                              ASR_REPLICATION_CODEC_LONG));
  ASR_ASSIGN_OR_RETURN(replication::CycleMode mode, ModeOf(o.mode));
  ASR_ASSIGN_OR_RETURN(net::TlsConfig cfg, TlsConfigOf(tls));
  cfg.expected_peer_name = o.expected_receiver_name != nullptr ? o.expected_receiver_name : host;
  if (cfg.expected_peer_name.empty()) {
    return absl::InvalidArgumentError(
        "expected_receiver_name is empty; give the recovery host's name as its certificate "
        "carries it, or NULL to check the host argument");
  }
  if (o.crl_path != nullptr) cfg.crl_path = o.crl_path;
  replication::SendOptions so;
  so.compression_level = o.compression_level;
  if (o.block_size != 0) so.block_size = o.block_size;
  so.app_consistent = o.app_consistent != 0;
  so.tracked_only = (o.flags & ASR_REPLICATION_TRACKED_ONLY) != 0;
  ASR_ASSIGN_OR_RETURN(so.codec, CodecOf(o.flags));
  if (so.tracked_only && mode != replication::CycleMode::kTracked) {
    return absl::InvalidArgumentError(
        "ASR_REPLICATION_TRACKED_ONLY goes with ASR_REPLICATION_MODE_TRACKED");
  }
  so.source_name = "capi";
  if (o.tracker != nullptr) {
    ASR_ASSIGN_OR_RETURN(so.tracker, TrackerOf(o.tracker));
  }
  if (o.progress != nullptr) {
    so.progress = [&o](const replication::CycleProgress& p) {
      asr_replication_progress_t c = {sizeof(asr_replication_progress_t),
                                      0,
                                      p.planned_read_bytes,
                                      p.bytes_read,
                                      p.bytes_sent,
                                      p.blocks_sent};
      o.progress(&c, o.payload);
    };
  }
  // A broken or stalled connection is resumed on a new one (resume.h).
  cfg.io_timeout = absl::Minutes(10);
  const uint16_t to = port == 0 ? net::kCertificateAuthPort : port;
  absl::StatusOr<replication::CycleStats> st = replication::ReplicateDiskResuming(
      disk_path, mode, [&] { return net::TlsConnect(host, to, cfg, absl::Seconds(30)); }, so,
      replication::ResumeOptions());
  ASR_RETURN_IF_ERROR(st.status());
  ReturnBuffer(out, replication::CycleStatsToJson(*st, disk_path));
  return absl::OkStatus();
}

}  // namespace
}  // namespace asr::capi

using asr::capi::CheckFlags;
using asr::capi::CheckNotNull;
using asr::capi::Guard;

extern "C" {

ASR_API int asr_tracker_open(asr_tracker_t** out, const char* disk_path, uint32_t block_size,
                             uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(CheckNotNull(out, "out"));
    *out = nullptr;
    ASR_RETURN_IF_ERROR(CheckNotNull(disk_path, "disk_path"));
    ASR_RETURN_IF_ERROR(CheckFlags(flags, 0));
    ASR_ASSIGN_OR_RETURN(auto disk, asr::disk::OpenDisk(disk_path, asr::disk::OpenMode::kReadOnly));
    uint32_t bs = block_size;
    if (bs == 0) {
      ASR_ASSIGN_OR_RETURN(
          auto m, asr::replication::LoadManifest(asr::replication::ManifestPath(disk_path)));
      bs = m ? m->block_size : 64u << 10;
    }
    ASR_ASSIGN_OR_RETURN(
        auto tracker, asr::replication::ChangeTracker::Open(disk_path, disk->virtual_size(), bs));
    *out = new asr_tracker{std::move(tracker)};
    return absl::OkStatus();
  });
}

ASR_API int asr_tracker_record_write(asr_tracker_t* tracker, uint64_t offset, uint64_t length,
                                     uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(CheckFlags(flags, 0));
    ASR_ASSIGN_OR_RETURN(auto* t, asr::capi::TrackerOf(tracker));
    return t->RecordWrite(offset, length);
  });
}

ASR_API int asr_tracker_status(asr_buffer_t** out, asr_tracker_t* tracker, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(CheckNotNull(out, "out"));
    *out = nullptr;
    ASR_RETURN_IF_ERROR(CheckFlags(flags, 0));
    ASR_ASSIGN_OR_RETURN(auto* t, asr::capi::TrackerOf(tracker));
    asr::model::TrackerStatus status;
    status.set_needs_scan(t->needs_scan());
    status.set_reason(t->needs_scan_reason());
    status.set_changed_blocks(t->marked_blocks());
    status.set_block_size(t->block_size());
    asr::capi::ReturnBuffer(out, asr::model::ToJson(status));
    return absl::OkStatus();
  });
}

ASR_API int asr_tracker_close(asr_tracker_t* tracker) {
  if (tracker == nullptr) return ASR_OK;
  int rc = Guard([&]() -> absl::Status {
    return tracker->tracker ? tracker->tracker->Close() : absl::OkStatus();
  });
  delete tracker;
  return rc;
}

ASR_API int asr_tls_files_init(asr_tls_files_t* files, uint32_t version) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(CheckNotNull(files, "files"));
    if (version != 1) {
      return absl::InvalidArgumentError(absl::StrCat("asr_tls_files_t has versions 1 to ",
                                                     ASR_TLS_FILES_VERSION, ", not ", version));
    }
    memset(static_cast<void*>(files), 0, asr::capi::kTlsFilesV1Size);
    files->struct_size = static_cast<uint32_t>(asr::capi::kTlsFilesV1Size);
    return absl::OkStatus();
  });
}

ASR_API int asr_replication_options_init(asr_replication_options_t* options, uint32_t version) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(CheckNotNull(options, "options"));
    size_t size = 0;
    switch (version) {
      case 1:
        size = asr::capi::kReplicationOptionsV1Size;
        break;
      case 2:
        size = asr::capi::kReplicationOptionsV2Size;
        break;
      case 3:
        size = sizeof(asr_replication_options_t);
        break;
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("asr_replication_options_t has versions 1 to ",
                         ASR_REPLICATION_OPTIONS_VERSION, ", not ", version));
    }
    const asr_replication_options_t defaults = ASR_REPLICATION_OPTIONS_INIT;
    memcpy(static_cast<void*>(options), &defaults, size);
    options->struct_size = static_cast<uint32_t>(size);
    return absl::OkStatus();
  });
}

ASR_API int asr_replication_run(asr_buffer_t** out, const char* disk_path, const char* host,
                                uint16_t port, const asr_tls_files_t* tls,
                                const asr_replication_options_t* options) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(CheckNotNull(out, "out"));
    *out = nullptr;
    asr_replication_options_t o;
    ASR_RETURN_IF_ERROR(asr::capi::ReadVersionedStruct(
        options, asr::capi::kReplicationOptionsV1Size, "asr_replication_options_t", &o));
    return asr::capi::RunCycle(out, disk_path, host, port, tls, o);
  });
}

ASR_API int asr_replication_cycle(asr_buffer_t** out, const char* disk_path, const char* host,
                                  uint16_t port, const asr_tls_files_t* tls,
                                  const asr_replication_options_t* options, asr_tracker_t* tracker,
                                  asr_replication_progress_fn progress, void* payload,
                                  uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(CheckNotNull(out, "out"));
    *out = nullptr;
    asr_replication_options_t o;
    ASR_RETURN_IF_ERROR(asr::capi::ReadVersionedStruct(
        options, asr::capi::kReplicationOptionsV1Size, "asr_replication_options_t", &o));
    o.tracker = tracker;
    o.progress = progress;
    o.payload = payload;
    o.flags = flags;
    return asr::capi::RunCycle(out, disk_path, host, port, tls, o);
  });
}

ASR_API int asr_replica_points(asr_buffer_t** out, const char* replica_dir, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(CheckNotNull(out, "out"));
    *out = nullptr;
    ASR_RETURN_IF_ERROR(CheckNotNull(replica_dir, "replica_dir"));
    ASR_RETURN_IF_ERROR(CheckFlags(flags, 0));
    ASR_ASSIGN_OR_RETURN(auto points, asr::replication::ListRecoveryPoints(replica_dir));
    asr::capi::ReturnBuffer(out, asr::replication::PointsToJson(points));
    return absl::OkStatus();
  });
}

ASR_API int asr_replica_restore(const char* replica_dir, uint64_t point_id, const char* out_path,
                                uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(CheckNotNull(replica_dir, "replica_dir"));
    ASR_RETURN_IF_ERROR(CheckNotNull(out_path, "out_path"));
    ASR_RETURN_IF_ERROR(CheckFlags(flags, ASR_RESTORE_OVERWRITE));
    asr::replication::RestoreOptions o;
    o.overwrite = (flags & ASR_RESTORE_OVERWRITE) != 0;
    return asr::replication::RestorePoint(replica_dir, point_id, out_path, o);
  });
}

ASR_API int asr_replica_verify(asr_buffer_t** out, const char* disk_path, const char* host,
                               uint16_t port, const asr_tls_files_t* tls, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(CheckNotNull(out, "out"));
    *out = nullptr;
    ASR_RETURN_IF_ERROR(CheckNotNull(disk_path, "disk_path"));
    ASR_RETURN_IF_ERROR(CheckNotNull(host, "host"));
    ASR_RETURN_IF_ERROR(CheckNotNull(tls, "tls"));
    ASR_RETURN_IF_ERROR(CheckFlags(flags, ASR_VERIFY_REPLICA_ONLY));
    ASR_ASSIGN_OR_RETURN(asr::net::TlsConfig cfg, asr::capi::TlsConfigOf(tls));
    cfg.expected_peer_name = host;
    asr::replication::VerifyOptions vo;
    vo.check_source = (flags & ASR_VERIFY_REPLICA_ONLY) == 0;
    vo.source_name = "capi";
    ASR_ASSIGN_OR_RETURN(
        auto stream, asr::net::TlsConnect(host, port == 0 ? asr::net::kCertificateAuthPort : port,
                                          cfg, absl::Seconds(30)));
    absl::StatusOr<asr::replication::VerifyResult> r =
        asr::replication::VerifyReplica(disk_path, *stream, vo);
    (void)stream->Close();
    ASR_RETURN_IF_ERROR(r.status());
    asr::capi::ReturnBuffer(out, asr::replication::VerifyResultToJson(*r, disk_path));
    return absl::OkStatus();
  });
}

}  // extern "C"
