// asr/jobs/rule_error.h: errors that name the domain rule that was broken and
// what to do about it. The job manager copies both into the job's JobError
// (error_code = the rule, recommended_action = the action), and the C API and
// CLI show the whole message.
//
//   if (cloud.host_group_ids().empty()) {
//     return jobs::RuleError(absl::StatusCode::kFailedPrecondition, "PrimaryCloudNeedsHostGroup",
//                            absl::StrCat("cloud '", cloud.name(), "' has no host group"),
//                            "add a host group with Hyper-V hosts to the cloud in VMM and sync");
//   }
//   // message: "cloud 'Gold' has no host group (rule PrimaryCloudNeedsHostGroup);
//   //           add a host group with Hyper-V hosts to the cloud in VMM and sync"
//
// Thread safety: free functions, safe from any thread.
#ifndef ASR_JOBS_RULE_ERROR_H_
#define ASR_JOBS_RULE_ERROR_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace asr::jobs {

// A status of `code` whose message is "<what> (rule <rule>); <action>" and
// which carries `rule` and `action` as payloads.
absl::Status RuleError(absl::StatusCode code, absl::string_view rule, absl::string_view what,
                       absl::string_view action);

// The rule named by a RuleError ("" for other statuses).
std::string RuleOf(const absl::Status& status);

// The recommended action of a RuleError ("" for other statuses).
std::string RecommendedActionOf(const absl::Status& status);

// The id of the job in which `status` happened ("" when none was attached).
std::string JobIdOf(const absl::Status& status);

// `status` with the id of the job it happened in attached (see JobIdOf).
absl::Status WithJobId(absl::Status status, absl::string_view job_id);

}  // namespace asr::jobs

#endif  // ASR_JOBS_RULE_ERROR_H_
