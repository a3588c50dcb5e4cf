// libFuzzer entry point for the state store's recovery (asr/store/
// journal_store.h): a state directory whose snapshot and journal are the
// fuzzed bytes is opened read-only (what `asrctl` reads with) and, when the
// input asks, for writing (which replays the journal, cuts a torn tail and
// appends), after which a read-only open must still see every key the first
// open saw, with the same value, and the record just committed.
//
// Input: flags u8 (bit 0: repair the checksums of the snapshot, the journal
// header and each journal record; bit 1: also open for writing), snapshot
// length u32 LE (0xFFFFFFFF: no snapshot file), the snapshot, then the
// journal (generation 1; absent when empty).
//
// JournalStore reads and writes through the file system, so the directory
// is on tmpfs (/dev/shm) when there is one: no disk I/O and fsync is free.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "asr/common/crc32c.h"
#include "asr/common/file_util.h"
#include "asr/platform/env.h"
#include "asr/store/journal_store.h"

namespace {

using asr::store::JournalStoreOptions;

uint32_t Load32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
void Store32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}

// magic(8) | len u32 | crc u32 (CRC-32C of len, then the payload) | payload
void RepairSnapshot(std::string& s) {
  if (s.size() < 16) return;
  Store32(&s[8], static_cast<uint32_t>(s.size() - 16));
  Store32(&s[12], asr::Crc32cExtend(asr::Crc32c(&s[8], 4), s.data() + 16, s.size() - 16));
}

// magic(8) | version u32 | crc u32, then records: len u32 | crc u32 | payload
void RepairJournal(std::string& s) {
  if (s.size() < 16) return;
  Store32(&s[12], asr::Crc32c(s.data(), 12));
  size_t pos = 16;
  while (s.size() - pos >= 8) {
    size_t len = Load32(&s[pos]);
    if (len > s.size() - pos - 8) break;  // leave a torn tail torn
    Store32(&s[pos + 4], asr::Crc32cExtend(asr::Crc32c(&s[pos], 4), &s[pos + 8], len));
    pos += 8 + len;
  }
}

const std::string& Dir() {
  static const std::string* dir = [] {
    asr::platform::Env* env = asr::platform::Env::Default();
    // Under a test, the test's own directory (removed after it); else tmpfs.
    const char* t = std::getenv("TEST_TMPDIR");
    std::string base = t ? t : env->Stat("/dev/shm").ok() ? "/dev/shm" : "/tmp";
    auto d = env->MakeTempDirectory(base + "/asr-store-fuzz-");
    if (!d.ok()) std::abort();
    return new std::string(*d);
  }();
  return *dir;
}

void Clear(const std::string& dir) {
  asr::platform::Env* env = asr::platform::Env::Default();
  auto names = env->ListDirectory(dir);
  if (!names.ok()) std::abort();
  for (const std::string& n : *names) (void)env->Unlink(asr::JoinPath(dir, n));
}

std::map<std::string, std::string> ReadAll(const std::string& dir, bool* ok) {
  std::map<std::string, std::string> out;
  JournalStoreOptions ro;
  ro.read_only = true;
  auto s = asr::store::OpenJournalStore(dir, ro);
  *ok = s.ok();
  if (!s.ok()) return out;
  for (auto& [k, v] : (*s)->Scan("")) out[k] = v;
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5) return 0;
  const char* p = reinterpret_cast<const char*>(data);
  const uint8_t flags = data[0];
  const uint32_t snap_len = Load32(p + 1);
  size_t rest = size - 5;
  const bool has_snapshot = snap_len != 0xFFFFFFFFu;
  const size_t n = has_snapshot ? std::min<size_t>(snap_len, rest) : 0;
  std::string snapshot(p + 5, n);
  std::string journal(p + 5 + n, rest - n);
  if (flags & 1) {
    RepairSnapshot(snapshot);
    RepairJournal(journal);
  }
  const std::string& dir = Dir();
  Clear(dir);
  if (has_snapshot && !asr::WriteFileAtomically(asr::store::SnapshotPath(dir), snapshot).ok()) {
    std::abort();
  }
  if (!journal.empty() &&
      !asr::WriteFileAtomically(asr::store::JournalPath(dir, 1), journal).ok()) {
    std::abort();
  }
  bool ok = false;
  std::map<std::string, std::string> before = ReadAll(dir, &ok);
  if (!(flags & 2)) return 0;
  {
    JournalStoreOptions rw;
    rw.compact_after_bytes = 1 << 16;
    auto s = asr::store::OpenJournalStore(dir, rw);
    if (!s.ok()) return 0;
    asr::store::WriteBatch batch;
    batch.Put("zz/fuzz-probe", "committed");
    if (!(*s)->Commit(batch).ok()) return 0;
  }
  bool reopened = false;
  std::map<std::string, std::string> after = ReadAll(dir, &reopened);
  auto lost = [&](const std::string& why) {
    std::fprintf(stderr, "state store lost data: %s\n", why.c_str());
    std::abort();
  };
  if (!reopened) lost("the directory no longer opens after a committed write");
  if (after["zz/fuzz-probe"] != "committed") lost("the committed record is missing");
  if (ok) {
    for (const auto& [k, v] : before) {
      if (k == "zz/fuzz-probe") continue;
      auto it = after.find(k);
      if (it == after.end() || it->second != v)
        lost(absl::StrCat("key ", k, " changed or vanished"));
    }
  }
  return 0;
}
