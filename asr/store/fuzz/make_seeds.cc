// Writes the seed corpus of journal_store_fuzz into DIR/journal_store_fuzz/:
// state directories made by the real store, in the target's input format.
//
//   bazel run //asr/store/fuzz:make_seeds -- $PWD/asr/store/fuzz/corpus
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "asr/common/file_util.h"
#include "asr/platform/env.h"
#include "asr/store/journal_store.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "make_seeds: %s failed\n", what);
    std::exit(1);
  }
}

std::string U32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = static_cast<char>(v >> (8 * i));
  return s;
}

// flags | snapshot length | snapshot | journal (generation 1)
std::string Input(const std::string& dir, uint8_t flags) {
  auto snap = asr::ReadFileToString(asr::store::SnapshotPath(dir));
  auto journal = asr::ReadFileToString(asr::store::JournalPath(dir, 1));
  std::string out(1, static_cast<char>(flags));
  if (snap.ok()) {
    out += U32(static_cast<uint32_t>(snap->size())) + *snap;
  } else {
    out += U32(0xFFFFFFFFu);
  }
  if (journal.ok()) out += *journal;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  const std::string out = std::string(argv[1]) + "/journal_store_fuzz";
  Check(asr::MakeDirectories(out).ok(), "mkdir");
  auto tmp = asr::platform::Env::Default()->MakeTempDirectory("/tmp/asr-store-seeds-");
  Check(tmp.ok(), "temp dir");
  const std::string dir = *tmp + "/state";
  {
    auto s = asr::store::OpenJournalStore(dir, {});
    Check(s.ok(), "open");
    for (int i = 0; i < 4; ++i) {
      asr::store::WriteBatch b;
      b.Put(absl::StrCat("cloud/c", i), absl::StrCat("{\"id\":\"c", i, "\"}"));
      if (i == 3) b.Delete("cloud/c1");
      Check((*s)->Commit(b).ok(), "commit");
    }
  }
  Check(asr::WriteFileAtomically(out + "/journal", Input(dir, 0)).ok(), "write");
  Check(asr::WriteFileAtomically(out + "/journal_write", Input(dir, 3)).ok(), "write");
  // Torn tail: the last record cut in half.
  std::string torn = Input(dir, 2);
  torn.resize(torn.size() - 5);
  Check(asr::WriteFileAtomically(out + "/journal_torn", torn).ok(), "write");
  // Compacted: every entry in the snapshot, the journal empty.
  {
    auto s = asr::store::OpenJournalStore(dir, {});
    Check(s.ok(), "reopen");
    Check((*s)->Compact().ok(), "compact");
  }
  auto snap = asr::ReadFileToString(asr::store::SnapshotPath(dir));
  Check(snap.ok(), "read snapshot");
  Check(asr::WriteFileAtomically(
            out + "/snapshot",
            std::string(1, '\3') + U32(static_cast<uint32_t>(snap->size())) + *snap)
            .ok(),
        "write");
  return 0;
}
