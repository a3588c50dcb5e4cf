// libFuzzer entry point for registration key files (what a VMM server
// presents to register): VaultService::VerifyRegistrationKey on a vault made
// once per process over an in-memory store. The input's first byte chooses
// the form of the rest: bit 0 clear, the key file as is; set, a JSON object
// merged over a valid key of this vault (so that inputs reach the signature
// and expiry checks, and a change to a signed field must be refused).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "asr/fabric/fuzz/fuzz_plane.h"
#include "asr/fabric/vault.h"
#include "asr/model/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace asr;
  if (size < 1) return 0;
  static fabric::fuzz::FuzzPlane* plane = new fabric::fuzz::FuzzPlane();
  static std::string* valid = [] {
    auto k = plane->fabric().GenerateRegistrationKey();
    if (!k.ok()) std::abort();
    return new std::string(*k);
  }();
  fabric::VaultService& vault = plane->fabric().vault();
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  if (!(data[0] & 1)) {
    (void)vault.VerifyRegistrationKey(text);
    return 0;
  }
  model::RegistrationKey key, patch;
  if (!model::FromJson(*valid, &key).ok() || !model::FromJson(text, &patch).ok()) return 0;
  const std::string before = fabric::VaultService::SignedBytes(key);
  key.MergeFrom(patch);
  auto verified = vault.VerifyRegistrationKey(model::ToJson(key, /*pretty=*/false));
  if (verified.ok() && fabric::VaultService::SignedBytes(key) != before) {
    std::fprintf(stderr, "a registration key with altered signed fields verified\n");
    std::abort();
  }
  return 0;
}
