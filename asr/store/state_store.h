// asr/store/state_store.h: the engine's persistent state, as an ordered
// key-value map changed by atomic batches.
//
// Callers see only this interface; the embedded journal store
// (journal_store.h) is the default backend, PostgreSQL (pg_store.h) the
// other, chosen by where the state lives (open_store.h).
//
//   std::unique_ptr<StateStore> store = ...;
//   WriteBatch batch;
//   batch.Put("cloud/c1", cloud.SerializeAsString());
//   batch.Delete("cloud/c0");
//   ASR_RETURN_IF_ERROR(store->Commit(batch));   // durable when it returns
//   ASR_ASSIGN_OR_RETURN(std::string bytes, store->Get("cloud/c1"));
#ifndef ASR_STORE_STATE_STORE_H_
#define ASR_STORE_STATE_STORE_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace asr::store {

// A set of puts and deletes applied all together or not at all, in order.
class WriteBatch {
 public:
  struct Op {
    bool is_delete = false;
    std::string key;
    std::string value;
  };

  void Put(absl::string_view key, absl::string_view value) {
    ops_.push_back({false, std::string(key), std::string(value)});
  }
  void Delete(absl::string_view key) { ops_.push_back({true, std::string(key), {}}); }
  bool empty() const { return ops_.empty(); }
  const std::vector<Op>& ops() const { return ops_; }

 private:
  std::vector<Op> ops_;
};

// Thread safety: implementations are safe for concurrent use from any thread.
class StateStore {
 public:
  virtual ~StateStore() = default;

  // The value under `key`; NotFound if there is none.
  virtual absl::StatusOr<std::string> Get(absl::string_view key) const = 0;

  // All (key, value) pairs whose key starts with `prefix`, in key order.
  virtual std::vector<std::pair<std::string, std::string>> Scan(absl::string_view prefix) const = 0;

  // Applies `batch` atomically and durably (fsync'd before returning OK).
  // FailedPrecondition on a read-only store.
  virtual absl::Status Commit(const WriteBatch& batch) = 0;

  // Folds the journal into a fresh snapshot. No-op for backends without one.
  virtual absl::Status Compact() = 0;

  virtual bool read_only() const = 0;
};

}  // namespace asr::store

#endif  // ASR_STORE_STATE_STORE_H_
