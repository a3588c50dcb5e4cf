// libFuzzer entry point for the replica state file (replica.state): both the
// JSON format and the legacy "asr-replica-state 1" text format. The input
// is parsed as the file's whole text, and again with a correct "crc N"
// line appended (so that mutated bodies get past the checksum to the
// parsers). A state that parses must serialize and parse back to itself.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "asr/common/crc32c.h"
#include "asr/replication/replica_state.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace asr::replication;
  const std::string text(reinterpret_cast<const char*>(data), size);
  bool legacy = false;
  (void)ParseReplicaState("replica.state", text, &legacy);
  std::string checked = text;
  if (!checked.empty() && checked.back() != '\n') checked += '\n';
  absl::StrAppend(&checked, "crc ", asr::Crc32c(checked), "\n");
  auto s = ParseReplicaState("replica.state", checked, &legacy);
  if (!s.ok()) return 0;
  const std::string once = SerializeReplicaState(*s);
  auto again = ParseReplicaState("replica.state", once, &legacy);
  if (!again.ok() || legacy || SerializeReplicaState(*again) != once) {
    std::fprintf(stderr, "replica state does not survive a save and load: %s\n",
                 again.ok() ? "it changed" : std::string(again.status().message()).c_str());
    std::abort();
  }
  return 0;
}
