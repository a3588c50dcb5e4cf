// asr/cli/replica_verify_dir.h: `asrctl replica verify --dir REPLICA_DIR
// [--point P] [--json]`, the recovery host's local verification of a
// replica against its block digest manifest (replication/point_manifest.h).
#ifndef ASR_CLI_REPLICA_VERIFY_DIR_H_
#define ASR_CLI_REPLICA_VERIFY_DIR_H_

#include "absl/status/status.h"
#include "asr/cli/command.h"

namespace asr::cli {

// Exit code 0 when every block matches (or no manifest is recorded yet,
// which it says), 1 when blocks differ or the manifest is damaged, 2 for bad
// input (no replica directory, no point yet, an unknown point).
absl::Status ReplicaVerifyDir(const CommandContext& ctx, const ParsedArgs& a);

}  // namespace asr::cli

#endif  // ASR_CLI_REPLICA_VERIFY_DIR_H_
