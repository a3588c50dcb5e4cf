#include "asr/cli/replica_verify_dir.h"

#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "asr/replication/point_manifest.h"

namespace asr::cli {

absl::Status ReplicaVerifyDir(const CommandContext& ctx, const ParsedArgs& a) {
  if (a.Has("to") || a.Has("disk")) {
    return absl::InvalidArgumentError(
        "replica verify takes either --dir REPLICA_DIR (on the recovery host, against the "
        "replica's own manifest) or --to HOST:PORT --disk FILE (from the primary host), not both");
  }
  const std::string dir = a.Get("dir");
  std::optional<uint64_t> point;
  if (a.Has("point")) {
    uint64_t p = 0;
    if (!absl::SimpleAtoi(a.Get("point"), &p) || p == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--point must be a recovery point id (a positive number, see `asrctl replica points "
          "--dir ",
          dir, "`), not '", a.Get("point"), "'"));
    }
    point = p;
  }
  absl::StatusOr<replication::LocalVerifyResult> r = replication::VerifyReplicaDir(dir, point);
  if (!r.ok()) {
    const absl::StatusCode c = r.status().code();
    const bool bad_input = c == absl::StatusCode::kNotFound ||
                           c == absl::StatusCode::kFailedPrecondition ||
                           c == absl::StatusCode::kInvalidArgument;
    return bad_input ? WithExitCode(r.status(), 2) : r.status();
  }
  if (ctx.json) {
    *ctx.out << replication::LocalVerifyResultToJson(*r) << "\n";
  } else {
    *ctx.out << dir << ": " << r->message << "\n";
    if (r->manifest_recorded) {
      *ctx.out << "  blocks checked " << r->blocks << ", mismatches " << r->mismatched_blocks
               << ", bytes read " << r->bytes_read << "\n";
    }
  }
  if (r->mismatched_blocks > 0) return WithExitCode(absl::DataLossError(r->message), 1);
  return absl::OkStatus();
}

}  // namespace asr::cli
