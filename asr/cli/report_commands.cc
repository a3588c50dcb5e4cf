#include "asr/cli/report_commands.h"

#include <ostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/report/report.h"

namespace asr::cli {
namespace {

absl::Status Report(const CommandContext& ctx, const ParsedArgs& a) {
  const std::string state_dir = a.Has("state") ? a.Get("state") : ctx.state_dir;
  for (const char* flag : {"html", "markdown"}) {
    if (a.Has(flag) && a.Get(flag).empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--", flag, " needs a file name"));
    }
  }
  ASR_ASSIGN_OR_RETURN(report::Report r, report::LoadReport(state_dir));
  const std::string markdown = report::RenderMarkdown(r);
  if (a.Has("html")) {
    ASR_RETURN_IF_ERROR(WriteFileAtomically(a.Get("html"), report::RenderHtml(r)));
  }
  if (a.Has("markdown")) {
    ASR_RETURN_IF_ERROR(WriteFileAtomically(a.Get("markdown"), markdown));
  } else {
    *ctx.out << markdown;
  }
  if (a.Has("html")) *ctx.err << "HTML report written to " << a.Get("html") << "\n";
  if (a.Has("markdown")) *ctx.err << "Markdown report written to " << a.Get("markdown") << "\n";
  return absl::OkStatus();
}

}  // namespace

void RegisterReportCommands(CommandRegistry& r) {
  r.Add({"report",
         "report [--state DIR] [--html FILE] [--markdown FILE]",
         "The report of a state directory (read-only): replication cycles, RPO over time "
         "against the copy frequency, bytes changed vs. sent, time per step of each failover "
         "and each recovery plan job's group timeline; Markdown on stdout unless --markdown, "
         "and with --html one self-contained HTML page with charts. --state defaults to "
         "--state-dir.",
         {"state", "html", "markdown"},
         {},
         0,
         0,
         Report});
}

}  // namespace asr::cli
