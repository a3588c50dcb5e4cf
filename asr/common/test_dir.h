// asr/common/test_dir.h: fresh temporary directories for tests, under
// $TEST_TMPDIR (set by Bazel) or /tmp when it is unset, so that no test
// sees files left by another test, an earlier run or another process.
//
//   std::string dir = asr::testing::TestDir("journal");  // exists, empty
//   auto s = OpenJournalStore(asr::testing::TestPath("state"), {});  // absent
//
// Every call makes a new directory with mkdtemp(3); nothing is removed
// afterwards (Bazel gives each test run a fresh $TEST_TMPDIR). If one cannot be
// made the reason is printed and the process aborts: the test cannot run
// without it.
//
// Thread safety: both functions may be called from any number of threads at
// once (as long as nothing changes TEST_TMPDIR meanwhile).
#ifndef ASR_COMMON_TEST_DIR_H_
#define ASR_COMMON_TEST_DIR_H_

#include <string>

namespace asr::testing {

// A newly created, empty directory "<base>/<name>.XXXXXX", different on every
// call. `name` is a single path component.
std::string TestDir(const std::string& name);

// A path that does not exist yet, "<base>/<name>.XXXXXX/<name>": the parent is
// a newly created, empty directory of its own. For code under test that must
// create the path itself, or fail because it is missing.
std::string TestPath(const std::string& name);

}  // namespace asr::testing

#endif  // ASR_COMMON_TEST_DIR_H_
