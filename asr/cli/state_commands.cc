#include "asr/cli/state_commands.h"

#include <ostream>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "asr/common/status_macros.h"
#include "asr/store/pg_store.h"

namespace asr::cli {
namespace {

absl::Status Show(const CommandContext& ctx, const ParsedArgs&) {
  if (ctx.json) {
    return absl::InvalidArgumentError("state show prints text only; leave out --json");
  }
  if (!store::IsPostgresUri(ctx.state_dir)) {
    *ctx.out << "state: " << ctx.state_dir << " (state directory: snapshot and journal)\n";
    return absl::OkStatus();
  }
  ASR_ASSIGN_OR_RETURN(store::PgStateStatus s, store::InspectPgState(ctx.state_dir));
  *ctx.out << "state: " << s.display_uri << " (PostgreSQL, "
           << (s.standby ? "standby: read-only until promoted" : "primary") << ")\n";
  if (!s.has_state) {
    *ctx.out << "no asr state in this database yet (asrctl init creates it)\n";
  } else if (s.lease_epoch == 0) {
    *ctx.out << "writer lease: never taken\n";
  } else if (s.lease_live) {
    *ctx.out << "writer lease: epoch " << s.lease_epoch << ", held by " << s.lease_holder
             << ", expires in " << s.lease_expires_in_s << " s unless renewed\n";
  } else {
    *ctx.out << "writer lease: epoch " << s.lease_epoch << ", free (last held by " << s.lease_holder
             << ")\n";
  }
  for (const store::PgStateStatus::Standby& st : s.standbys) {
    *ctx.out << "standby " << st.name << ": " << st.sync_state << ", replay lag "
             << st.replay_lag_bytes << " bytes\n";
  }
  if (!s.standby && s.standbys.empty()) {
    *ctx.out << "no standby streams from this server: its state has no copy at another site\n";
  }
  return absl::OkStatus();
}

absl::Status Promote(const CommandContext& ctx, const ParsedArgs& args) {
  if (!store::IsPostgresUri(ctx.state_dir)) {
    return absl::FailedPreconditionError(
        absl::StrCat("the state ", ctx.state_dir,
                     " is a state directory: only a PostgreSQL state (--state-dir "
                     "postgresql://...) has a standby to promote"));
  }
  const std::string shown = store::RedactPostgresUri(ctx.state_dir);
  if (!args.Has("confirm")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "promoting ", shown,
        " makes it a primary for good: do it only when the primary site is lost and its "
        "server is down or fenced (two primaries would each take writes); run again with "
        "--confirm"));
  }
  ASR_RETURN_IF_ERROR(store::PromotePgStandby(ctx.state_dir, absl::Seconds(60)));
  *ctx.out << "promoted " << shown
           << ": it accepts writes; fail the plans over from it, e.g.\n  asrctl --state-dir "
           << shown << " plan failover PLAN --operation UnplannedFailover\n";
  return absl::OkStatus();
}

}  // namespace

void RegisterStateCommands(CommandRegistry& r) {
  r.Add({"state show",
         "state show",
         "Where the state lives; for a PostgreSQL state the server's role, the writer lease and "
         "the standbys streaming from it with their replay lag.",
         {},
         {},
         0,
         0,
         Show});
  r.Add({"state promote",
         "state promote --confirm",
         "Promote the PostgreSQL standby of --state-dir to a primary (the recovery site, after "
         "the primary site is lost), so that the recovery site's asr can take the writer lease.",
         {},
         {"confirm"},
         0,
         0,
         Promote});
}

}  // namespace asr::cli
