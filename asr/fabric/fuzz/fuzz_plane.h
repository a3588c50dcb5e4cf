// asr/fabric/fuzz/fuzz_plane.h: the fabric over an in-memory state store,
// for the fuzz targets: a vault made once per process, and a way to put the
// store back as it was after each input, so that every input meets the same
// state and memory does not grow with the jobs the inputs run.
#ifndef ASR_FABRIC_FUZZ_FUZZ_PLANE_H_
#define ASR_FABRIC_FUZZ_FUZZ_PLANE_H_

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "asr/common/clock.h"
#include "asr/fabric/fabric_service.h"
#include "asr/fabric/key_provider.h"
#include "asr/jobs/job_manager.h"
#include "asr/repository/object_repository.h"
#include "asr/store/state_store.h"

namespace asr::fabric::fuzz {

// A StateStore in a std::map: what the journal store keeps in memory,
// without the files.
class MemoryStateStore final : public store::StateStore {
 public:
  absl::StatusOr<std::string> Get(absl::string_view key) const override {
    auto it = data_.find(std::string(key));
    if (it == data_.end()) return absl::NotFoundError(absl::StrCat("no state under key ", key));
    return it->second;
  }
  std::vector<std::pair<std::string, std::string>> Scan(absl::string_view prefix) const override {
    std::vector<std::pair<std::string, std::string>> out;
    for (auto it = data_.lower_bound(std::string(prefix));
         it != data_.end() && absl::StartsWith(it->first, prefix); ++it) {
      out.emplace_back(it->first, it->second);
    }
    return out;
  }
  absl::Status Commit(const store::WriteBatch& batch) override {
    for (const store::WriteBatch::Op& op : batch.ops()) {
      if (op.is_delete) {
        data_.erase(op.key);
      } else {
        data_[op.key] = op.value;
      }
    }
    return absl::OkStatus();
  }
  absl::Status Compact() override { return absl::OkStatus(); }
  bool read_only() const override { return false; }

  std::map<std::string, std::string> data_;
};

// A fixed key-encryption key for the vault's keys (a test key, in memory).
class FixedKeyProvider final : public KeyProvider {
 public:
  absl::StatusOr<KeyEncryptionKey> GetKey(absl::string_view purpose) override {
    std::string key(32, '\x5a');
    return KeyEncryptionKey{key, KeyIdFor(key)};
  }
  std::string Describe() const override { return "the fuzz targets' fixed test key"; }
};

// A vault "fuzz-vault" with its keys, on a fixed clock.
class FuzzPlane {
 public:
  FuzzPlane();
  FabricService& fabric() { return *fabric_; }
  // The store as it was when Save was last called.
  void Save() { saved_ = store_->data_; }
  void Restore() { store_->data_ = saved_; }

 private:
  FakeClock clock_{absl::FromUnixSeconds(1700000000)};
  FixedKeyProvider keys_;
  MemoryStateStore* store_;  // owned by repo_
  std::unique_ptr<repository::ObjectRepository> repo_;
  std::unique_ptr<jobs::JobManager> jobs_;
  std::unique_ptr<FabricService> fabric_;
  std::map<std::string, std::string> saved_;
};

}  // namespace asr::fabric::fuzz

#endif  // ASR_FABRIC_FUZZ_FUZZ_PLANE_H_
