#include "asr/common/test_dir.h"

#include <cstdio>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "asr/common/file_util.h"
#include "asr/platform/env.h"
#include "asr/platform/error.h"

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
  const std::string prefix = JoinPath(base, absl::StrCat(name, "."));
  absl::StatusOr<std::string> dir = platform::Env::Default()->MakeTempDirectory(prefix);
  if (!dir.ok()) {
    Die(platform::AddContext(dir.status(),
                             absl::StrCat("cannot create a directory like ", prefix, "XXXXXX")));
  }
  return *dir;
}

std::string TestPath(const std::string& name) { return JoinPath(TestDir(name), name); }

}  // namespace asr::testing
