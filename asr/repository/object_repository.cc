#include "asr/repository/object_repository.h"

#include "absl/strings/str_cat.h"
#include "asr/model/fabric.pb.h"
#include "asr/model/json.h"
#include "asr/store/open_store.h"

namespace asr::repository {

absl::StatusOr<std::unique_ptr<ObjectRepository>> ObjectRepository::Open(
    const std::string& state_dir, const RepositoryOptions& options) {
  // A postgresql:// URI selects the PostgreSQL backend; anything else is a
  // state directory.
  store::StoreOpenOptions store_options;
  store_options.read_only = options.read_only;
  store_options.create_if_missing = options.create_if_missing;
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<store::StateStore> store,
                       store::OpenStateStore(state_dir, store_options));
  return std::make_unique<ObjectRepository>(std::move(store),
                                            store::DisplayStateLocation(state_dir));
}

ObjectRepository::ObjectRepository(std::unique_ptr<store::StateStore> store, std::string state_dir)
    : store_(std::move(store)), state_dir_(std::move(state_dir)) {}

std::string ObjectRepository::Key(absl::string_view kind, absl::string_view id) {
  return absl::StrCat("obj/", kind, "/", id);
}

std::string ObjectRepository::KeyPrefix(absl::string_view kind) {
  return absl::StrCat("obj/", kind, "/");
}

absl::Status ObjectRepository::CorruptObject(absl::string_view key) {
  return absl::DataLossError(absl::StrCat("stored object ", key, " does not parse"));
}

absl::Status ObjectRepository::CheckId(absl::string_view kind, absl::string_view id) const {
  if (id.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("a ", kind, " needs a non-empty \"id\""));
  }
  for (char c : id) {
    if (c == '/' || static_cast<unsigned char>(c) < 0x20) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid ", kind, " id '", id, "': ids may not contain '/' or control characters"));
    }
  }
  return absl::OkStatus();
}

absl::Status ObjectRepository::Initialize() {
  store::WriteBatch batch;
  const struct {
    const char* id;
    const char* name;
    model::SiteRole role;
  } sites[] = {{"primary", "Primary site", model::SITE_ROLE_PRIMARY},
               {"recovery", "Recovery site", model::SITE_ROLE_RECOVERY}};
  for (const auto& s : sites) {
    if (store_->Get(Key("site", s.id)).ok()) continue;
    model::Site site;
    site.set_id(s.id);
    site.set_friendly_name(s.name);
    site.set_role(s.role);
    batch.Put(Key("site", s.id), site.SerializeAsString());
  }
  return store_->Commit(batch);
}

bool ObjectRepository::IsInitialized() const {
  return store_->Get(Key("site", "primary")).ok() && store_->Get(Key("site", "recovery")).ok();
}

absl::Status ObjectRepository::Put(const google::protobuf::Message& message) {
  ASR_ASSIGN_OR_RETURN(std::string kind, model::KindOf(message));
  std::string id = model::IdOf(message);
  ASR_RETURN_IF_ERROR(CheckId(kind, id));
  store::WriteBatch batch;
  batch.Put(Key(kind, id), message.SerializeAsString());
  return store_->Commit(batch);
}

absl::Status ObjectRepository::Get(absl::string_view id, google::protobuf::Message* message) const {
  ASR_ASSIGN_OR_RETURN(std::string kind, model::KindOf(*message));
  auto bytes = store_->Get(Key(kind, id));
  if (absl::IsNotFound(bytes.status())) {
    return absl::NotFoundError(absl::StrCat("no ", kind, " with id '", id, "'"));
  }
  ASR_RETURN_IF_ERROR(bytes.status());
  if (!message->ParseFromString(*bytes)) return CorruptObject(Key(kind, id));
  return absl::OkStatus();
}

absl::Status ObjectRepository::PutObjectJson(absl::string_view kind, absl::string_view json) {
  ASR_ASSIGN_OR_RETURN(const google::protobuf::Message* proto, model::PrototypeForKind(kind));
  std::unique_ptr<google::protobuf::Message> message(proto->New());
  ASR_RETURN_IF_ERROR(model::FromJson(json, message.get()));
  return Put(*message);
}

absl::StatusOr<std::string> ObjectRepository::GetObjectJson(absl::string_view kind,
                                                            absl::string_view id) const {
  ASR_ASSIGN_OR_RETURN(const google::protobuf::Message* proto, model::PrototypeForKind(kind));
  std::unique_ptr<google::protobuf::Message> message(proto->New());
  ASR_RETURN_IF_ERROR(Get(id, message.get()));
  return model::ToJson(*message);
}

absl::StatusOr<std::string> ObjectRepository::ListObjectsJson(absl::string_view kind) const {
  ASR_ASSIGN_OR_RETURN(const google::protobuf::Message* proto, model::PrototypeForKind(kind));
  std::string out = "[";
  bool first = true;
  for (const auto& [key, value] : store_->Scan(KeyPrefix(kind))) {
    std::unique_ptr<google::protobuf::Message> message(proto->New());
    if (!message->ParseFromString(value)) return CorruptObject(key);
    if (!first) out += ",";
    first = false;
    out += model::ToJson(*message);
  }
  out += "]";
  return out;
}

absl::Status ObjectRepository::DeleteObject(absl::string_view kind, absl::string_view id) {
  ASR_RETURN_IF_ERROR(model::PrototypeForKind(kind).status());
  std::string key = Key(kind, id);
  if (absl::IsNotFound(store_->Get(key).status())) {
    return absl::NotFoundError(absl::StrCat("no ", kind, " with id '", id, "'"));
  }
  store::WriteBatch batch;
  batch.Delete(key);
  return store_->Commit(batch);
}

}  // namespace asr::repository
