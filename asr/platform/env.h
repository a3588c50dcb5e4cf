// asr/platform/env.h: the operating system behind one interface, in the
// manner of LevelDB's Env: opening files, names in the file system,
// directories, the coarse clock, the process, randomness and aligned memory.
// Env::Default() is the POSIX implementation (posix_env.cc); NewMemoryEnv()
// (memory_env.h) keeps everything in memory for tests and fuzzers. No file
// outside asr/platform includes a POSIX header.
//
//   Env* env = Env::Default();
//   OpenOptions o;
//   o.access = OpenOptions::Access::kWrite;
//   o.create = o.exclusive = o.no_follow = true;
//   ASR_ASSIGN_OR_RETURN(std::unique_ptr<File> f, env->Open(tmp, o));
//   ASR_RETURN_IF_ERROR(WriteFully(*f, 0, data.data(), data.size()));
//   ASR_RETURN_IF_ERROR(env->Rename(tmp, path));
//   ASR_RETURN_IF_ERROR(env->SyncDirectory(dir));
//
// Layering: asr/platform depends on Abseil only; asr/common and everything
// above reach the system through it.
#ifndef ASR_PLATFORM_ENV_H_
#define ASR_PLATFORM_ENV_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asr/platform/file.h"

namespace asr::platform {

// Thread safety: every method may be called from any thread; the objects it
// returns say their own.
class Env {
 public:
  virtual ~Env() = default;

  // The operating system's file system (never destroyed).
  static Env* Default();

  virtual absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path,
                                                     const OpenOptions& options) = 0;
  // stat(2): through symbolic links.
  virtual absl::StatusOr<FileInfo> Stat(const std::string& path) = 0;
  // lstat(2): a symbolic link itself.
  virtual absl::StatusOr<FileInfo> LinkStat(const std::string& path) = 0;
  // Replaces `to` atomically.
  virtual absl::Status Rename(const std::string& from, const std::string& to) = 0;
  virtual absl::Status Unlink(const std::string& path) = 0;
  // A second name `to` for the file `from` (a hard link: same file, same
  // filesystem; EXDEV otherwise, EEXIST when `to` exists).
  virtual absl::Status HardLink(const std::string& from, const std::string& to) = 0;
  // One directory (kExists when the name is taken), `mode` less the umask.
  virtual absl::Status MakeDirectory(const std::string& path, FileMode mode) = 0;
  // A new, empty directory named `prefix` plus six random characters.
  virtual absl::StatusOr<std::string> MakeTempDirectory(const std::string& prefix) = 0;
  // The names in a directory, without "." and "..", in no particular order.
  virtual absl::StatusOr<std::vector<std::string>> ListDirectory(const std::string& path) = 0;
  // Makes the creations, renames and removals in `path` durable.
  virtual absl::Status SyncDirectory(const std::string& path) = 0;
  virtual absl::StatusOr<std::string> CurrentDirectory() = 0;
};

// Wraps a descriptor the caller owns (and hands over) in a File.
std::unique_ptr<File> AdoptNativeFile(int handle);

// A file with no name in the file system, in memory (memfd on Linux),
// reachable by other processes through /proc/self/fd/N while it is open.
absl::StatusOr<std::unique_ptr<File>> CreateAnonymousFile(const std::string& name);

// The real-time clock as the kernel stamps file times (coarse, 1-10 ms),
// in nanoseconds since the Unix epoch.
int64_t CoarseRealTimeNanos();
void Sleep(absl::Duration d);

int ProcessId();
// Whether the descriptor (0 stdin, 1 stdout, 2 stderr) is a terminal.
bool IsTerminal(int handle);

// Fills `buf` from the system's random source; false if there is none.
bool FillRandom(void* buf, size_t size);

// `size` bytes aligned to `alignment` (a power of two); nullptr if memory is
// short. Release with FreeAligned.
void* AllocateAligned(size_t alignment, size_t size);
void FreeAligned(void* p);
// Asks for transparent huge pages behind [p, p+size) (best effort).
void AdviseHugePages(void* p, size_t size);

}  // namespace asr::platform

#endif  // ASR_PLATFORM_ENV_H_
