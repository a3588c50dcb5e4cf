#include "asr/cli/state_commands.h"

#include <ostream>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "asr/common/status_macros.h"
#include "asr/model/json.h"
#include "asr/store/pg_store.h"
#include "google/protobuf/struct.pb.h"

namespace asr::cli {
namespace {

// `state show --json`: one object, the same facts as the text.
std::string ShowJson(const std::string& state_dir, const store::PgStateStatus* s) {
  google::protobuf::Struct out;
  auto& f = *out.mutable_fields();
  if (s == nullptr) {
    f["state"].set_string_value(state_dir);
    f["backend"].set_string_value("directory");
    return model::ToJson(out, /*pretty=*/true);
  }
  f["state"].set_string_value(s->display_uri);
  f["backend"].set_string_value("postgresql");
  f["role"].set_string_value(s->standby ? "standby" : "primary");
  f["hasState"].set_bool_value(s->has_state);
  if (s->lease_epoch != 0) {
    auto& lease = *f["lease"].mutable_struct_value()->mutable_fields();
    lease["epoch"].set_number_value(static_cast<double>(s->lease_epoch));
    lease["holder"].set_string_value(s->lease_holder);
    lease["live"].set_bool_value(s->lease_live);
    lease["expiresInSeconds"].set_number_value(s->lease_expires_in_s);
  }
  google::protobuf::ListValue* standbys = f["standbys"].mutable_list_value();
  for (const store::PgStateStatus::Standby& st : s->standbys) {
    auto& o = *standbys->add_values()->mutable_struct_value()->mutable_fields();
    o["name"].set_string_value(st.name);
    o["syncState"].set_string_value(st.sync_state);
    o["replayLagBytes"].set_number_value(static_cast<double>(st.replay_lag_bytes));
  }
  return model::ToJson(out, /*pretty=*/true);
}

absl::Status Show(const CommandContext& ctx, const ParsedArgs&) {
  if (!store::IsPostgresUri(ctx.state_dir)) {
    if (ctx.json) {
      *ctx.out << ShowJson(ctx.state_dir, nullptr) << "\n";
      return absl::OkStatus();
    }
    *ctx.out << "state: " << ctx.state_dir << " (state directory: snapshot and journal)\n";
    return absl::OkStatus();
  }
  ASR_ASSIGN_OR_RETURN(store::PgStateStatus s, store::InspectPgState(ctx.state_dir));
  if (ctx.json) {
    *ctx.out << ShowJson(ctx.state_dir, &s) << "\n";
    return absl::OkStatus();
  }
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
         "the standbys streaming from it with their replay lag (--json: one object with the same "
         "facts: state, backend, role, hasState, lease, standbys).",
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
