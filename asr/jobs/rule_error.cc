#include "asr/jobs/rule_error.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace asr::jobs {
namespace {

constexpr char kRuleUrl[] = "asr/rule";
constexpr char kActionUrl[] = "asr/recommended-action";
constexpr char kJobUrl[] = "asr/job-id";

std::string Payload(const absl::Status& status, absl::string_view url) {
  absl::optional<absl::Cord> p = status.GetPayload(url);
  return p.has_value() ? std::string(*p) : std::string();
}

}  // namespace

absl::Status RuleError(absl::StatusCode code, absl::string_view rule, absl::string_view what,
                       absl::string_view action) {
  absl::Status s(code, absl::StrCat(what, " (rule ", rule, ")", action.empty() ? "" : "; ",
                                    action));
  s.SetPayload(kRuleUrl, absl::Cord(rule));
  if (!action.empty()) s.SetPayload(kActionUrl, absl::Cord(action));
  return s;
}

std::string RuleOf(const absl::Status& status) { return Payload(status, kRuleUrl); }

std::string RecommendedActionOf(const absl::Status& status) {
  return Payload(status, kActionUrl);
}

std::string JobIdOf(const absl::Status& status) { return Payload(status, kJobUrl); }

absl::Status WithJobId(absl::Status status, absl::string_view job_id) {
  if (!status.ok()) status.SetPayload(kJobUrl, absl::Cord(job_id));
  return status;
}

}  // namespace asr::jobs
