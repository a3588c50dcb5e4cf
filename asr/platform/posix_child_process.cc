// The POSIX (Linux) implementation of asr/platform/child_process.h.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "asr/platform/child_process.h"

extern char** environ;

namespace asr::platform {
namespace {

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

double Seconds(const struct timeval& t) { return t.tv_sec + t.tv_usec / 1e6; }

}  // namespace

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(
    const std::string& path, const std::vector<std::string>& args) {
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0)
    return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  std::vector<std::string> all = {path};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, path.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(in[0]);
  close(out[1]);
  if (rc != 0) {
    close(in[1]);
    close(out[0]);
    if (rc == ENOENT) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
    if (rc == EACCES) return absl::PermissionDeniedError(absl::StrCat(path, ": not executable"));
    return absl::InternalError(absl::StrCat("cannot start ", path, ": ", strerror(rc)));
  }
  std::unique_ptr<ChildProcess> c(new ChildProcess());
  c->pid_ = pid;
  c->to_child_ = in[1];
  c->from_child_ = out[0];
  return c;
}

ChildProcess::~ChildProcess() {
  CloseStdin();
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (from_child_ >= 0) close(from_child_);
}

absl::StatusOr<std::string> ChildProcess::ReadLine(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    const size_t nl = buffered_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffered_.substr(0, nl);
      buffered_.erase(0, nl + 1);
      return line;
    }
    const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    struct pollfd p = {from_child_, POLLIN, 0};
    const int n = ms <= 0 ? 0 : poll(&p, 1, static_cast<int>(ms));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::DeadlineExceededError("the child process printed no line in time");
    char buf[4096];
    const ssize_t r = read(from_child_, buf, sizeof(buf));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return absl::UnavailableError("the child process closed its output");
    buffered_.append(buf, static_cast<size_t>(r));
  }
}

void ChildProcess::CloseStdin() {
  if (to_child_ >= 0) close(to_child_);
  to_child_ = -1;
}

absl::StatusOr<ProcessResult> ChildProcess::Wait() {
  if (pid_ <= 0) return absl::FailedPreconditionError("the child process was already waited for");
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) return absl::InternalError(absl::StrCat("waitpid: ", strerror(errno)));
  }
  pid_ = -1;
  ProcessResult r;
  if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.term_signal = WTERMSIG(status);
  }
  return r;
}

absl::StatusOr<std::string> SelfExecutablePath() {
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return absl::InternalError("cannot read /proc/self/exe");
  return std::string(self, static_cast<size_t>(n));
}

bool StdinClosedWithin(absl::Duration timeout) {
  struct pollfd p = {0, POLLIN, 0};
  const int n = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  if (n <= 0) return false;
  char buf[64];
  return read(0, buf, sizeof(buf)) <= 0;
}

double ProcessCpuSeconds() {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return Seconds(r.ru_utime) + Seconds(r.ru_stime);
}

double ThreadCpuSeconds() {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

std::vector<int> ThreadIds() {
  std::vector<int> ids;
  DIR* d = opendir("/proc/self/task");
  if (d == nullptr) return ids;
  while (struct dirent* e = readdir(d)) {
    int id = 0;
    if (absl::SimpleAtoi(e->d_name, &id)) ids.push_back(id);
  }
  closedir(d);
  return ids;
}

double ThreadCpuSecondsOf(int thread_id) {
  const std::string s = ReadText(absl::StrCat("/proc/self/task/", thread_id, "/stat"));
  // After the command's closing parenthesis: state is field 3; utime and
  // stime are fields 14 and 15.
  const size_t paren = s.rfind(')');
  if (paren == std::string::npos || paren + 2 > s.size()) return 0;
  std::vector<std::string> f = absl::StrSplit(s.substr(paren + 2), ' ');
  if (f.size() < 13) return 0;
  double ut = 0, st = 0;
  (void)absl::SimpleAtod(f[11], &ut);
  (void)absl::SimpleAtod(f[12], &st);
  return (ut + st) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

MemoryUsage MemoryUsageOfSelf() {
  MemoryUsage m;
  const std::string s = ReadText("/proc/self/status");
  for (absl::string_view line : absl::StrSplit(s, '\n')) {
    auto field = [&](absl::string_view name, uint64_t* v) {
      if (!absl::ConsumePrefix(&line, name)) return;
      line = absl::StripAsciiWhitespace(line);
      (void)absl::ConsumeSuffix(&line, " kB");
      (void)absl::SimpleAtoi(line, v);
    };
    field("VmRSS:", &m.rss_kib);
    field("VmHWM:", &m.peak_kib);
  }
  return m;
}

}  // namespace asr::platform
