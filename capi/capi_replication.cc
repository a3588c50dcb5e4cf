// The C API's replication entry points (asr/replication): the host's
// change tracker, one replication cycle over mutual TLS with a progress
// callback, verification of a replica against the source, and a replica's
// recovery points (list, restore).
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
#include "asr/replication/sender.h"
#include "asr/replication/verifier.h"
#include "capi/capi_internal.h"

struct asr_tracker {
  std::unique_ptr<asr::replication::ChangeTracker> tracker;
};

namespace asr::capi {
namespace {

absl::StatusOr<replication::ChangeTracker*> TrackerOf(asr_tracker_t* t) {
  if (t == nullptr || !t->tracker) return absl::InvalidArgumentError("tracker is NULL");
  return t->tracker.get();
}

absl::StatusOr<replication::CycleMode> ModeOf(uint32_t mode) {
  switch (mode) {
    case ASR_REPLICATION_MODE_INITIAL: return replication::CycleMode::kInitial;
    case ASR_REPLICATION_MODE_TRACKED: return replication::CycleMode::kTracked;
    case ASR_REPLICATION_MODE_SCAN: return replication::CycleMode::kScan;
    case ASR_REPLICATION_MODE_DIFFERENCING: return replication::CycleMode::kDifferencing;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown replication mode ", mode));
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
      ASR_ASSIGN_OR_RETURN(auto m, asr::replication::LoadManifest(
                                       asr::replication::ManifestPath(disk_path)));
      bs = m ? m->block_size : 64u << 10;
    }
    ASR_ASSIGN_OR_RETURN(auto tracker,
                         asr::replication::ChangeTracker::Open(disk_path, disk->virtual_size(), bs));
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

ASR_API int asr_replication_cycle(asr_buffer_t** out, const char* disk_path, const char* host,
                                  uint16_t port, const asr_tls_files_t* tls,
                                  const asr_replication_options_t* options,
                                  asr_tracker_t* tracker,
                                  asr_replication_progress_fn progress, void* payload,
                                  uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(CheckNotNull(out, "out"));
    *out = nullptr;
    ASR_RETURN_IF_ERROR(CheckNotNull(disk_path, "disk_path"));
    ASR_RETURN_IF_ERROR(CheckNotNull(host, "host"));
    ASR_RETURN_IF_ERROR(CheckNotNull(tls, "tls"));
    ASR_RETURN_IF_ERROR(CheckNotNull(options, "options"));
    ASR_RETURN_IF_ERROR(CheckFlags(flags, ASR_REPLICATION_TRACKED_ONLY));
    if (tls->struct_size < sizeof(asr_tls_files_t) ||
        options->struct_size < sizeof(asr_replication_options_t)) {
      return absl::InvalidArgumentError(
          "struct_size of asr_tls_files_t / asr_replication_options_t is too small; initialize "
          "them with ASR_TLS_FILES_INIT / ASR_REPLICATION_OPTIONS_INIT");
    }
    ASR_ASSIGN_OR_RETURN(asr::replication::CycleMode mode, asr::capi::ModeOf(options->mode));
    asr::net::TlsConfig cfg;
    cfg.cert_path = tls->cert_path ? tls->cert_path : "";
    cfg.key_path = tls->key_path ? tls->key_path : "";
    cfg.ca_path = tls->ca_path ? tls->ca_path : "";
    asr::replication::SendOptions so;
    so.compression_level = options->compression_level;
    if (options->block_size != 0) so.block_size = options->block_size;
    so.app_consistent = options->app_consistent != 0;
    so.tracked_only = (flags & ASR_REPLICATION_TRACKED_ONLY) != 0;
    if (so.tracked_only && mode != asr::replication::CycleMode::kTracked) {
      return absl::InvalidArgumentError(
          "ASR_REPLICATION_TRACKED_ONLY goes with ASR_REPLICATION_MODE_TRACKED");
    }
    so.source_name = "capi";
    if (tracker != nullptr) {
      ASR_ASSIGN_OR_RETURN(so.tracker, asr::capi::TrackerOf(tracker));
    }
    if (progress != nullptr) {
      so.progress = [&](const asr::replication::CycleProgress& p) {
        asr_replication_progress_t c = {sizeof(asr_replication_progress_t), 0,
                                        p.planned_read_bytes, p.bytes_read, p.bytes_sent,
                                        p.blocks_sent};
        progress(&c, payload);
      };
    }
    ASR_ASSIGN_OR_RETURN(auto stream,
                         asr::net::TlsConnect(host, port == 0 ? asr::net::kCertificateAuthPort : port,
                                              cfg, absl::Seconds(30)));
    absl::StatusOr<asr::replication::CycleStats> st =
        asr::replication::ReplicateDisk(disk_path, mode, *stream, so);
    (void)stream->Close();
    ASR_RETURN_IF_ERROR(st.status());
    asr::capi::ReturnBuffer(out, asr::replication::CycleStatsToJson(*st, disk_path));
    return absl::OkStatus();
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
    if (tls->struct_size < sizeof(asr_tls_files_t)) {
      return absl::InvalidArgumentError(
          "struct_size of asr_tls_files_t is too small; initialize it with ASR_TLS_FILES_INIT");
    }
    asr::net::TlsConfig cfg;
    cfg.cert_path = tls->cert_path ? tls->cert_path : "";
    cfg.key_path = tls->key_path ? tls->key_path : "";
    cfg.ca_path = tls->ca_path ? tls->ca_path : "";
    asr::replication::VerifyOptions vo;
    vo.check_source = (flags & ASR_VERIFY_REPLICA_ONLY) == 0;
    vo.source_name = "capi";
    ASR_ASSIGN_OR_RETURN(auto stream,
                         asr::net::TlsConnect(host, port == 0 ? asr::net::kCertificateAuthPort : port,
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
