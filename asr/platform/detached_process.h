// asr/platform/detached_process.h: a process that outlives this one, as a
// hypervisor's VM outlives the tool that started it. It runs in a session
// of its own, is not this process's child (a short-lived middle process
// exits at once, so nothing here waits for it), and has its output
// appended to a log file.
//
//   ASR_RETURN_IF_ERROR(platform::SpawnDetached({"/bin/sh", "supervise.sh"}, dir, dir + "/log"));
//   ...   // later, in any process: its pid (from a file it wrote) and
//   std::optional<platform::ProcessStatus> s = platform::ProcessStatusOf(pid);
//   bool same = s && s->start_ticks == recorded_start;   // not a reused pid
//
// Thread safety: both functions are thread-safe.
#ifndef ASR_PLATFORM_DETACHED_PROCESS_H_
#define ASR_PLATFORM_DETACHED_PROCESS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace asr::platform {

// Runs `argv` (argv[0] an absolute path) detached, in `dir`, with stdin
// from /dev/null and stdout and stderr appended to `log` (created 0644).
// Returns once it was started; errors when the fork fails.
absl::Status SpawnDetached(const std::vector<std::string>& argv, const std::string& dir,
                           const std::string& log);

// A process as the kernel sees it now.
struct ProcessStatus {
  char state = '?';          // 'R', 'S', 'D', 'Z' (ended, not reaped), ...
  uint64_t start_ticks = 0;  // when it started, in clock ticks since boot
};

// The status of process `pid`, or nothing when there is none.
std::optional<ProcessStatus> ProcessStatusOf(int pid);

}  // namespace asr::platform

#endif  // ASR_PLATFORM_DETACHED_PROCESS_H_
