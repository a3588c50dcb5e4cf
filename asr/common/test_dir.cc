#include "asr/common/test_dir.h"

#include <stdlib.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "asr/common/file_util.h"

namespace asr::testing {
namespace {

[[noreturn]] void Die(const absl::Status& status) {
  std::fprintf(stderr, "asr::testing::TestDir: %s\n", status.ToString().c_str());
  std::abort();
}

}  // namespace

std::string TestDir(const std::string& name) {
  const char* env = std::getenv("TEST_TMPDIR");
  const std::string base = env != nullptr && *env != '\0' ? env : "/tmp";
  if (absl::Status s = MakeDirectories(base); !s.ok()) Die(s);
  std::string dir = JoinPath(base, absl::StrCat(name, ".XXXXXX"));
  if (::mkdtemp(dir.data()) == nullptr) {
    Die(ErrnoToStatus(errno, absl::StrCat("cannot create a directory like ", dir)));
  }
  return dir;
}

std::string TestPath(const std::string& name) { return JoinPath(TestDir(name), name); }

}  // namespace asr::testing
