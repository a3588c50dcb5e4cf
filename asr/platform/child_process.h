// asr/platform/child_process.h: a long-running child process that this
// process talks to over its standard input and output (a helper process of
// a benchmark or a test, a hypervisor's monitor), and what this process
// uses of the machine (CPU, memory) for measurements.
//
//   ASR_ASSIGN_OR_RETURN(std::unique_ptr<ChildProcess> c,
//                        ChildProcess::Spawn(SelfExecutablePath(), {"--serve", dir}));
//   ASR_ASSIGN_OR_RETURN(std::string line, c->ReadLine(absl::Seconds(30)));  // "LISTEN ..."
//   ...
//   c->CloseStdin();                       // the child sees end of file and stops
//   ASR_ASSIGN_OR_RETURN(ProcessResult r, c->Wait());
//
// The child's standard error is this process's.
//
// Thread safety: one thread at a time per ChildProcess; the free functions
// may be called from any thread.
#ifndef ASR_PLATFORM_CHILD_PROCESS_H_
#define ASR_PLATFORM_CHILD_PROCESS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asr/platform/process.h"

namespace asr::platform {

class ChildProcess {
 public:
  // Starts `path` with `args` (argv[1..]), its standard input and output
  // connected to this object. Errors as RunProcess.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Spawn(const std::string& path,
                                                             const std::vector<std::string>& args);
  ~ChildProcess();  // kills a child still running (SIGKILL) and reaps it
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // The next line the child printed, without its newline. DeadlineExceeded
  // after `timeout`; Unavailable when the child closed its output first.
  absl::StatusOr<std::string> ReadLine(absl::Duration timeout);
  // Closes the child's standard input (it reads end of file).
  void CloseStdin();
  // Waits for the child to exit.
  absl::StatusOr<ProcessResult> Wait();

 private:
  ChildProcess() = default;
  int pid_ = -1;
  int to_child_ = -1;
  int from_child_ = -1;
  std::string buffered_;
};

// The path of this process's executable.
absl::StatusOr<std::string> SelfExecutablePath();

// In a child: waits up to `timeout` for this process's standard input to
// reach end of file (the parent closed it); returns whether it did.
bool StdinClosedWithin(absl::Duration timeout);

// CPU time (user + system) of this process and of the calling thread.
double ProcessCpuSeconds();
double ThreadCpuSeconds();
// The ids of this process's threads, and the CPU time of one (0 if gone).
std::vector<int> ThreadIds();
double ThreadCpuSecondsOf(int thread_id);

// Resident memory of this process now and at its peak (VmRSS, VmHWM), KiB.
struct MemoryUsage {
  uint64_t rss_kib = 0;
  uint64_t peak_kib = 0;
};
MemoryUsage MemoryUsageOfSelf();

}  // namespace asr::platform

#endif  // ASR_PLATFORM_CHILD_PROCESS_H_
