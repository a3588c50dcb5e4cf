// The C API's local replica verification (asr.h, "Verify/resync: local
// manifests"): a replica directory re-read against its block digest
// manifest on the recovery host.
#include <optional>

#include "asr.h"
#include "asr/common/status_macros.h"
#include "asr/replication/point_manifest.h"
#include "capi_internal.h"

using asr::capi::CheckFlags;
using asr::capi::CheckNotNull;
using asr::capi::Guard;

ASR_API int asr_replica_verify_dir(asr_buffer_t** out, const char* replica_dir, uint64_t point_id,
                                   uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(CheckNotNull(out, "out"));
    *out = nullptr;
    ASR_RETURN_IF_ERROR(CheckNotNull(replica_dir, "replica_dir"));
    ASR_RETURN_IF_ERROR(CheckFlags(flags, 0));
    std::optional<uint64_t> point;
    if (point_id != 0) point = point_id;
    ASR_ASSIGN_OR_RETURN(asr::replication::LocalVerifyResult r,
                         asr::replication::VerifyReplicaDir(replica_dir, point));
    asr::capi::ReturnBuffer(out, asr::replication::LocalVerifyResultToJson(r));
    return absl::OkStatus();
  });
}
