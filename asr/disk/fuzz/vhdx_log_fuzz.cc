// libFuzzer entry point for the VHDX log parser: the first 16 bytes are the
// LogGuid, the rest (padded to 4 KiB) the log region.
#include <cstring>
#include <string>

#include "asr/disk/guid.h"
#include "asr/disk/vhdx_log.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 16) return 0;
  asr::disk::Guid guid = asr::disk::Guid::FromBytes(data);
  std::string log(reinterpret_cast<const char*>(data + 16), size - 16);
  log.resize((log.size() / 4096 + 1) * 4096, '\0');
  auto r = asr::disk::FindVhdxLogReplay(log, guid);
  if (r.ok() && r->found) {
    size_t total = 0;
    for (const auto& w : r->writes) total += w.data.size();
    (void)total;
  }
  return 0;
}
