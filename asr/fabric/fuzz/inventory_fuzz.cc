// libFuzzer entry point for inventory JSON (what a VMM server's inventory
// sync hands the fabric): model::FromJson of the Inventory message, then the
// SyncInventory job (validation, then the diff against the stored objects)
// for a server registered once per process, over an in-memory store that is
// put back after each input. An input whose size is a multiple of 3 syncs
// the one cloud "gold1" instead of the whole server.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "asr/fabric/fuzz/fuzz_plane.h"
#include "asr/model/json.h"

namespace {

asr::fabric::fuzz::FuzzPlane* MakePlane() {
  using namespace asr;
  auto* plane = new fabric::fuzz::FuzzPlane();
  auto key = plane->fabric().GenerateRegistrationKey();
  if (!key.ok()) std::abort();
  model::ServerRegistrationRequest r;
  r.set_credentials(*key);
  r.set_friendly_name("vmm-fuzz");
  if (!plane->fabric().RegisterServer(r).ok() || !plane->fabric().FindServer("vmm-fuzz").ok()) {
    std::abort();
  }
  // A first inventory, so that inputs are diffed against stored objects.
  model::Inventory inv;
  if (!model::FromJson(
           "{\"clouds\":[{\"id\":\"gold1\",\"name\":\"GoldCloud1\",\"capabilityProfiles\":"
           "[\"Hyper-V\"],\"hostGroupIds\":[\"hg-a\"]}],\"hostGroups\":[{\"id\":\"hg-a\","
           "\"name\":\"HG A\",\"hostIds\":[\"hv-a\"]}],\"hosts\":[{\"id\":\"hv-a\",\"name\":"
           "\"hv-a.contoso.com\",\"hostGroupId\":\"hg-a\"}]}",
           &inv)
           .ok() ||
      !plane->fabric().SyncInventory("vmm-fuzz", &inv, "").ok()) {
    std::abort();
  }
  plane->Save();
  return plane;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace asr;
  static fabric::fuzz::FuzzPlane* plane = MakePlane();
  model::Inventory inventory;
  if (!model::FromJson(std::string(reinterpret_cast<const char*>(data), size), &inventory).ok()) {
    return 0;
  }
  (void)plane->fabric().SyncInventory("vmm-fuzz", &inventory, size % 3 == 0 ? "gold1" : "");
  plane->Restore();
  return 0;
}
