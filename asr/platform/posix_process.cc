// The POSIX implementation of asr/platform/process.h (posix_spawn).
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "asr/platform/error.h"
#include "asr/platform/process.h"

extern char** environ;

namespace asr::platform {
namespace {

// Keeps the last `limit` bytes appended.
void AppendTail(std::string* out, const char* data, size_t n, size_t limit) {
  out->append(data, n);
  if (out->size() > limit) out->erase(0, out->size() - limit);
}

// Reads what the pipe holds now; false at end of file.
bool Drain(int fd, std::string* out, size_t limit) {
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      AppendTail(out, buf, static_cast<size_t>(n), limit);
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

void FillResult(int status, ProcessResult* r) {
  if (WIFEXITED(status)) {
    r->exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r->exit_code = -1;
    r->term_signal = WTERMSIG(status);
  }
}

}  // namespace

absl::StatusOr<ProcessResult> RunProcess(const std::string& path,
                                         const std::vector<std::string>& args,
                                         const RunProcessOptions& options) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return SystemError(errno, "cannot create a pipe");
  int rd = fds[0], wr = fds[1];

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, wr, 1);
  posix_spawn_file_actions_adddup2(&actions, wr, 2);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  std::vector<std::string> argv_strings;
  argv_strings.push_back(path);
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  // The environment: this process's, with options.environment's names
  // replaced or added.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const char* eq = strchr(*e, '=');
    const std::string name = eq == nullptr ? std::string(*e) : std::string(*e, eq - *e);
    if (options.environment.count(name) == 0) env_strings.push_back(*e);
  }
  for (const auto& [name, value] : options.environment) {
    if (name.empty() || name.find('=') != std::string::npos) {
      posix_spawn_file_actions_destroy(&actions);
      posix_spawnattr_destroy(&attr);
      close(rd);
      close(wr);
      return absl::InvalidArgumentError(
          absl::StrCat("environment variable name '", name, "' for ", path,
                       " is empty or holds '='; use a name of letters, digits and '_'"));
    }
    env_strings.push_back(absl::StrCat(name, "=", value));
  }
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  pid_t pid = 0;
  int err = posix_spawn(&pid, path.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(wr);
  if (err != 0) {
    close(rd);
    return SystemError(err, absl::StrCat("cannot run ", path));
  }
  fcntl(rd, F_SETFL, fcntl(rd, F_GETFL) | O_NONBLOCK);

  ProcessResult result;
  const absl::Time deadline = absl::Now() + options.timeout;
  bool open = true;
  int status = 0;
  for (;;) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      // Exited: take what is buffered and stop (a background child of the
      // script may still hold the pipe open; it is not waited for).
      if (open) Drain(rd, &result.output, options.output_limit);
      FillResult(status, &result);
      break;
    }
    if (absl::Now() >= deadline) {
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      if (open) Drain(rd, &result.output, options.output_limit);
      FillResult(status, &result);
      result.timed_out = true;
      break;
    }
    int wait_ms = static_cast<int>(
        std::min<int64_t>(50, absl::ToInt64Milliseconds(deadline - absl::Now()) + 1));
    if (open) {
      struct pollfd p = {rd, POLLIN, 0};
      int n = poll(&p, 1, wait_ms);
      if (n > 0) open = Drain(rd, &result.output, options.output_limit);
    } else {
      usleep(static_cast<useconds_t>(wait_ms) * 1000);
    }
  }
  close(rd);
  return result;
}

}  // namespace asr::platform
