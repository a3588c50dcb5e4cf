// asr/repository/object_repository.h: the object repository, one floor
// above the store: model objects (asr/model/*.proto) kept by kind and id,
// typed for C++ callers and as proto3 JSON for the generic calls. It knows no
// domain rule; the services (fabric, policy, mapping, jobs) keep those, and
// asr::SiteRecovery (asr/site_recovery) owns the one repository of a state
// directory together with them.
//
//   RepositoryOptions options;
//   ASR_ASSIGN_OR_RETURN(std::unique_ptr<ObjectRepository> repo,
//                        ObjectRepository::Open("/var/lib/asr", options));
//   ASR_RETURN_IF_ERROR(repo->Initialize());   // sites "primary", "recovery"
//   ASR_RETURN_IF_ERROR(repo->PutObjectJson("cloud", R"({"id":"c1","name":"Gold"})"));
//   ASR_ASSIGN_OR_RETURN(model::Cloud cloud, repo->Get<model::Cloud>("c1"));
//
// Thread safety: an ObjectRepository is safe to use from several threads at
// once.
#ifndef ASR_REPOSITORY_OBJECT_REPOSITORY_H_
#define ASR_REPOSITORY_OBJECT_REPOSITORY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asr/common/status_macros.h"
#include "asr/model/kinds.h"
#include "asr/store/state_store.h"
#include "google/protobuf/message.h"

namespace asr::repository {

struct RepositoryOptions {
  // Open the state directory without taking the writer lock; writes fail.
  bool read_only = false;
  // Create the state directory when it does not exist.
  bool create_if_missing = true;
};

class ObjectRepository {
 public:
  // Opens (and recovers) the state in `state_dir`, or in the PostgreSQL
  // database when it is a postgresql:// URI (store/pg_store.h).
  static absl::StatusOr<std::unique_ptr<ObjectRepository>> Open(const std::string& state_dir,
                                                                const RepositoryOptions& options);

  // Wraps an already-open store (for other backends and tests).
  explicit ObjectRepository(std::unique_ptr<store::StateStore> store, std::string state_dir);

  ObjectRepository(const ObjectRepository&) = delete;
  ObjectRepository& operator=(const ObjectRepository&) = delete;

  // Makes the state directory ready for use: the two sites "primary" and
  // "recovery". Idempotent: existing objects are kept.
  absl::Status Initialize();

  // Whether Initialize has been run on this state.
  bool IsInitialized() const;

  // Stores an object of `kind` given as JSON (proto3 JSON mapping); its `id`
  // must be set. Replaces an existing object with the same id.
  absl::Status PutObjectJson(absl::string_view kind, absl::string_view json);
  // The object as JSON; NotFound naming kind and id.
  absl::StatusOr<std::string> GetObjectJson(absl::string_view kind, absl::string_view id) const;
  // All objects of `kind` as a JSON array, in id order.
  absl::StatusOr<std::string> ListObjectsJson(absl::string_view kind) const;
  // Removes an object; NotFound when absent.
  absl::Status DeleteObject(absl::string_view kind, absl::string_view id);

  // Typed access for C++ callers.
  absl::Status Put(const google::protobuf::Message& message);
  absl::Status Get(absl::string_view id, google::protobuf::Message* message) const;
  template <typename T>
  absl::StatusOr<T> Get(absl::string_view id) const {
    T message;
    ASR_RETURN_IF_ERROR(Get(id, &message));
    return message;
  }
  // All objects of T's kind, in id order; with `id_prefix`, only those whose
  // id starts with it (a range of the store, not a filter over every object).
  template <typename T>
  absl::StatusOr<std::vector<T>> List(absl::string_view id_prefix = "") const {
    ASR_ASSIGN_OR_RETURN(std::string kind, model::KindOf(T::default_instance()));
    std::vector<T> out;
    for (const auto& [key, value] : store_->Scan(KeyPrefix(kind) + std::string(id_prefix))) {
      T message;
      if (!message.ParseFromString(value)) return CorruptObject(key);
      out.push_back(std::move(message));
    }
    return out;
  }

  // The store key of an object, and the prefix of all keys of a kind.
  static std::string Key(absl::string_view kind, absl::string_view id);
  static std::string KeyPrefix(absl::string_view kind);

  store::StateStore& store() { return *store_; }
  // The state directory, or the database URI with its password hidden.
  const std::string& state_dir() const { return state_dir_; }

 private:
  static absl::Status CorruptObject(absl::string_view key);
  absl::Status CheckId(absl::string_view kind, absl::string_view id) const;

  std::unique_ptr<store::StateStore> store_;
  std::string state_dir_;
};

}  // namespace asr::repository

#endif  // ASR_REPOSITORY_OBJECT_REPOSITORY_H_
