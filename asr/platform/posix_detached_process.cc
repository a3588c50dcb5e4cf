// The POSIX implementation of asr/platform/detached_process.h.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "asr/platform/detached_process.h"
#include "asr/platform/env.h"
#include "asr/platform/error.h"
#include "asr/platform/file.h"

namespace asr::platform {

absl::Status SpawnDetached(const std::vector<std::string>& argv, const std::string& dir,
                           const std::string& log) {
  if (argv.empty() || argv[0].empty() || argv[0][0] != '/') {
    return absl::InvalidArgumentError("SpawnDetached needs a program given by its absolute path");
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t child = fork();
  if (child < 0) return SystemError(errno, "fork to start a detached process");
  if (child == 0) {
    // Only async-signal-safe calls from here on.
    setsid();
    const pid_t grandchild = fork();
    if (grandchild != 0) _exit(grandchild < 0 ? 1 : 0);
    if (chdir(dir.c_str()) != 0) _exit(126);
    int in = open("/dev/null", O_RDONLY);
    int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0) _exit(126);
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3u, ~0u, 0u) != 0)
#endif
    {
      for (int fd = 3; fd < 65536; ++fd) close(fd);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl = {};
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &dfl, nullptr);
    sigaction(SIGTERM, &dfl, nullptr);
    sigaction(SIGINT, &dfl, nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) return SystemError(errno, "wait for a detached process's starter");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(
        absl::StrCat("could not start ", argv[0], " detached (its second fork failed)"));
  }
  return absl::OkStatus();
}

// /proc/PID/stat: field 3 is the state, field 22 the start time.
std::optional<ProcessStatus> ProcessStatusOf(int pid) {
  if (pid <= 0) return std::nullopt;
  absl::StatusOr<std::unique_ptr<File>> f =
      Env::Default()->Open(absl::StrCat("/proc/", pid, "/stat"), OpenOptions());
  if (!f.ok()) return std::nullopt;
  char buf[4096];
  absl::StatusOr<size_t> n = (*f)->ReadAt(0, buf, sizeof(buf));
  if (!n.ok()) return std::nullopt;
  absl::string_view stat(buf, *n);
  const size_t paren = stat.rfind(')');  // the command name may hold spaces and parentheses
  if (paren == absl::string_view::npos) return std::nullopt;
  std::vector<absl::string_view> fields =
      absl::StrSplit(stat.substr(paren + 1), ' ', absl::SkipEmpty());
  ProcessStatus s;
  if (fields.size() < 20 || fields[0].empty() || !absl::SimpleAtoi(fields[19], &s.start_ticks)) {
    return std::nullopt;
  }
  s.state = fields[0][0];
  return s;
}

}  // namespace asr::platform
