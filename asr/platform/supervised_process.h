// asr/platform/supervised_process.h: a long-running child process that
// this process starts and watches without waiting for it (a hypervisor's
// VM process), and local (Unix domain) sockets to talk to it.
//
//   SupervisedProcessOptions o;
//   o.working_directory = vm_dir;            // relative paths in args are from here
//   o.output_path = vm_dir + "/qemu.log";    // stdout and stderr appended
//   ASR_ASSIGN_OR_RETURN(auto p, SupervisedProcess::Start("/usr/bin/qemu-system-x86_64", args, o));
//   ...
//   if (std::optional<ProcessResult> r = p->Poll()) ...;  // it has exited (never blocks)
//   ASR_ASSIGN_OR_RETURN(SocketHandle s, ConnectLocalSocket(vm_dir + "/qmp.sock"));
//   ...
//   absl::StatusOr<ProcessResult> r = p->WaitFor(absl::Seconds(10));  // DeadlineExceeded
//   if (!r.ok()) r = p->Kill();
//
// The child has standard input from /dev/null, standard output and error
// appended to `output_path` (or /dev/null), the default signal dispositions
// and an empty signal mask. It stays in this process's process group, so a
// test runner that kills the group also ends it. Destroying the object
// kills a child still running (SIGKILL) and reaps it: a supervised process
// never outlives its supervisor's wish, and never becomes a zombie.
//
// Thread safety: every method may be called from any thread.
#ifndef ASR_PLATFORM_SUPERVISED_PROCESS_H_
#define ASR_PLATFORM_SUPERVISED_PROCESS_H_

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asr/platform/process.h"
#include "asr/platform/socket.h"

namespace asr::platform {

struct SupervisedProcessOptions {
  // The child's working directory ("": this process's).
  std::string working_directory;
  // Standard output and error are appended to this file, created 0600 if
  // missing ("": /dev/null).
  std::string output_path;
};

class SupervisedProcess {
 public:
  // Starts `path` (not searched in PATH) with `args` (argv[1..]). NotFound
  // when there is no such program, Internal when it cannot be started.
  static absl::StatusOr<std::unique_ptr<SupervisedProcess>> Start(
      const std::string& path, const std::vector<std::string>& args,
      const SupervisedProcessOptions& options = {});
  ~SupervisedProcess();
  SupervisedProcess(const SupervisedProcess&) = delete;
  SupervisedProcess& operator=(const SupervisedProcess&) = delete;

  int pid() const { return pid_; }
  // How the child ended, once it has (it is reaped then); nullopt while it
  // runs. Never blocks.
  std::optional<ProcessResult> Poll();
  // Waits up to `timeout` for the child to end: DeadlineExceeded naming the
  // process when it still runs.
  absl::StatusOr<ProcessResult> WaitFor(absl::Duration timeout);
  // Asks the child to stop (SIGTERM); no effect once it has ended.
  void Terminate();
  // Kills the child (SIGKILL) and reaps it.
  ProcessResult Kill();

 private:
  SupervisedProcess(int pid, std::string path) : pid_(pid), path_(std::move(path)) {}
  std::optional<ProcessResult> PollLocked();

  const int pid_;
  const std::string path_;
  std::mutex mu_;
  std::optional<ProcessResult> result_;  // set once reaped
};

// Connects to the local (Unix domain) stream socket at `path`; the handle
// is blocking, with SIGPIPE suppressed on sends as everywhere in
// socket.h. A path longer than the system's limit (108 bytes) is reached
// through its directory. NotFound when nothing is at `path`; Unavailable
// when nothing listens there (ECONNREFUSED).
absl::StatusOr<SocketHandle> ConnectLocalSocket(const std::string& path);

}  // namespace asr::platform

#endif  // ASR_PLATFORM_SUPERVISED_PROCESS_H_
