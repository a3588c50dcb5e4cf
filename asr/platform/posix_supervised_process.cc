// The POSIX implementation of asr/platform/supervised_process.h.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "asr/platform/error.h"
#include "asr/platform/supervised_process.h"

extern char** environ;

namespace asr::platform {
namespace {

ProcessResult ResultOf(int status) {
  ProcessResult r;
  if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.exit_code = -1;
    r.term_signal = WTERMSIG(status);
  }
  return r;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SupervisedProcess>> SupervisedProcess::Start(
    const std::string& path, const std::vector<std::string>& args,
    const SupervisedProcessOptions& options) {
  if (access(path.c_str(), X_OK) != 0) {
    return SystemError(errno, absl::StrCat("cannot run ", path));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (options.output_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  } else {
    posix_spawn_file_actions_addopen(&actions, 1, options.output_path.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0600);
  }
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  if (!options.working_directory.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions, options.working_directory.c_str());
  }

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<std::string> argv_strings;
  argv_strings.push_back(path);
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  pid_t pid = 0;
  int err = posix_spawn(&pid, path.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0) {
    std::string where = options.working_directory.empty()
                            ? std::string()
                            : absl::StrCat(" in ", options.working_directory);
    return SystemError(err, absl::StrCat("cannot start ", path, where));
  }
  return std::unique_ptr<SupervisedProcess>(new SupervisedProcess(pid, path));
}

SupervisedProcess::~SupervisedProcess() { Kill(); }

std::optional<ProcessResult> SupervisedProcess::PollLocked() {
  if (result_.has_value()) return result_;
  int status = 0;
  pid_t w;
  do {
    w = waitpid(pid_, &status, WNOHANG);
  } while (w < 0 && errno == EINTR);
  if (w == pid_) {
    result_ = ResultOf(status);
  } else if (w < 0) {
    // Reaped elsewhere (not ours to wait for any more): it has ended.
    result_ = ProcessResult{};
  }
  return result_;
}

std::optional<ProcessResult> SupervisedProcess::Poll() {
  std::lock_guard<std::mutex> l(mu_);
  return PollLocked();
}

absl::StatusOr<ProcessResult> SupervisedProcess::WaitFor(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (std::optional<ProcessResult> r = PollLocked()) return *r;
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(path_, " (pid ", pid_, ") still runs after ",
                                                      absl::FormatDuration(timeout)));
    }
    usleep(10 * 1000);
  }
}

void SupervisedProcess::Terminate() {
  std::lock_guard<std::mutex> l(mu_);
  if (!PollLocked().has_value()) kill(pid_, SIGTERM);
}

ProcessResult SupervisedProcess::Kill() {
  std::lock_guard<std::mutex> l(mu_);
  if (std::optional<ProcessResult> r = PollLocked()) return *r;
  kill(pid_, SIGKILL);
  int status = 0;
  pid_t w;
  do {
    w = waitpid(pid_, &status, 0);
  } while (w < 0 && errno == EINTR);
  result_ = w == pid_ ? ResultOf(status) : ProcessResult{};
  return *result_;
}

absl::StatusOr<SocketHandle> ConnectLocalSocket(const std::string& path) {
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  std::string target = path;
  int dir_fd = -1;
  if (path.size() >= sizeof(addr.sun_path)) {
    // Too long for sockaddr_un: reach it through its directory.
    size_t slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
    dir_fd = open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) return SystemError(errno, absl::StrCat("cannot open ", dir));
    target = absl::StrCat("/proc/self/fd/", dir_fd, "/", path.substr(slash + 1));
    if (target.size() >= sizeof(addr.sun_path)) {
      close(dir_fd);
      return absl::InvalidArgumentError(
          absl::StrCat("the socket name in ", path, " is too long (at most 80 characters)"));
    }
  }
  memcpy(addr.sun_path, target.data(), target.size());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int err = errno;
    if (dir_fd >= 0) close(dir_fd);
    return SystemError(err, "cannot create a local socket");
  }
  int rc;
  do {
    rc = connect(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr));
  } while (rc != 0 && errno == EINTR);
  int err = rc == 0 ? 0 : errno;
  if (dir_fd >= 0) close(dir_fd);
  if (err != 0) {
    close(fd);
    if (err == ECONNREFUSED) {
      return absl::UnavailableError(absl::StrCat("cannot connect to ", path,
                                                 ": nothing listens there (", strerror(err),
                                                 "); has its process ended?"));
    }
    return SystemError(err, absl::StrCat("cannot connect to ", path));
  }
  return fd;
}

}  // namespace asr::platform
