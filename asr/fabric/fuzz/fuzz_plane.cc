#include "asr/fabric/fuzz/fuzz_plane.h"

#include <cstdio>
#include <cstdlib>

namespace asr::fabric::fuzz {
namespace {

void Check(const absl::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "fuzz plane: %s: %s\n", what, std::string(s.message()).c_str());
    std::abort();
  }
}

}  // namespace

FuzzPlane::FuzzPlane() {
  auto store = std::make_unique<MemoryStateStore>();
  store_ = store.get();
  repo_ = std::make_unique<repository::ObjectRepository>(std::move(store), "/nonexistent");
  Check(repo_->Initialize(), "initialize");
  jobs_ = std::make_unique<jobs::JobManager>(repo_.get(), &clock_);
  fabric_ = std::make_unique<FabricService>(repo_.get(), jobs_.get(), &clock_, nullptr, &keys_);
  Check(fabric_->RegisterScenarios(), "scenarios");
  Check(fabric_->CreateVault("fuzz-vault", "westeurope").status(), "create vault");
  Check(fabric_->vault().Get().status(), "vault");
  Save();
}

}  // namespace asr::fabric::fuzz
