// asr/platform/process.h: runs a program as a child process and waits for
// it, with a time limit and the tail of what it printed. For host scripts
// (pre/post actions of a recovery plan, the simulated fabric's RunScript).
//
//   RunProcessOptions o;
//   o.timeout = absl::Seconds(30);
//   ASR_ASSIGN_OR_RETURN(ProcessResult r, RunProcess("/opt/scripts/drain.sh", {"vm1"}, o));
//   if (r.timed_out) ...;            // killed after 30 s
//   if (r.exit_code != 0) ... r.output ...;
//
// The child runs in a process group of its own with standard input from
// /dev/null, standard output and error into one pipe, the default signal
// dispositions and an empty signal mask (a server that blocked SIGTERM for
// itself does not pass that on). At the time limit the whole group is
// killed (SIGKILL), so a script's own children do not outlive it.
//
//   spawned --(exits)-----------------------------> exit_code / signal
//      \----(time limit)--> group killed (SIGKILL) -> timed_out
//
// Thread safety: RunProcess may be called from several threads at once.
#ifndef ASR_PLATFORM_PROCESS_H_
#define ASR_PLATFORM_PROCESS_H_

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace asr::platform {

struct RunProcessOptions {
  absl::Duration timeout = absl::Minutes(5);
  // At most this many of the last bytes printed are kept.
  size_t output_limit = 64 * 1024;
  // Variables the program gets besides this process's environment (a name
  // given here replaces the inherited one). Names hold no '='.
  std::map<std::string, std::string> environment;
};

struct ProcessResult {
  int exit_code = -1;      // the exit status; -1 when killed by a signal
  int term_signal = 0;     // the signal that ended it, or 0
  bool timed_out = false;  // killed at the time limit
  std::string output;      // the tail of stdout and stderr, interleaved
};

// Runs `path` (not searched in PATH) with `args` (argv[1..]) and waits for
// it. A program that runs and fails is a result, not an error; errors are
// for a program that could not be started: NotFound (no such file),
// PermissionDenied (not executable), Internal otherwise.
absl::StatusOr<ProcessResult> RunProcess(const std::string& path,
                                         const std::vector<std::string>& args,
                                         const RunProcessOptions& options = {});

}  // namespace asr::platform

#endif  // ASR_PLATFORM_PROCESS_H_
