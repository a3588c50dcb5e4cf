#include "asr/model/kinds.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "asr/model/fabric.pb.h"
#include "asr/model/groups.pb.h"
#include "asr/model/job.pb.h"
#include "asr/model/protection.pb.h"
#include "asr/model/recovery_plan.pb.h"
#include "asr/model/throttle.pb.h"

namespace asr::model {
namespace {

const std::vector<std::pair<std::string, const google::protobuf::Message*>>& Table() {
  static const auto* table =
      new std::vector<std::pair<std::string, const google::protobuf::Message*>>{
          {"vault", &Vault::default_instance()},
          {"site", &Site::default_instance()},
          {"server", &VmmServer::default_instance()},
          {"cloud", &Cloud::default_instance()},
          {"host-group", &HostGroup::default_instance()},
          {"host", &HyperVHost::default_instance()},
          {"vm", &VirtualMachine::default_instance()},
          {"vm-network", &VmNetwork::default_instance()},
          {"logical-network", &LogicalNetwork::default_instance()},
          {"storage-classification", &StorageClassification::default_instance()},
          {"pairing", &CloudPairing::default_instance()},
          {"policy", &ReplicationPolicy::default_instance()},
          {"network-mapping", &NetworkMapping::default_instance()},
          {"storage-mapping", &StorageMapping::default_instance()},
          {"protected-item", &ProtectedItem::default_instance()},
          {"recovery-point", &RecoveryPoint::default_instance()},
          {"recovery-plan", &RecoveryPlan::default_instance()},
          {"job", &Job::default_instance()},
          {"throttle", &Throttle::default_instance()},
          {"replication-group", &ReplicationGroup::default_instance()},
          {"group-recovery-point", &GroupRecoveryPoint::default_instance()},
      };
  return *table;
}

}  // namespace

absl::StatusOr<const google::protobuf::Message*> PrototypeForKind(absl::string_view kind) {
  for (const auto& [name, proto] : Table()) {
    if (name == kind) return proto;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown object kind '", kind, "'; known kinds: ", absl::StrJoin(AllKinds(), ", ")));
}

absl::StatusOr<std::string> KindOf(const google::protobuf::Message& message) {
  for (const auto& [name, proto] : Table()) {
    if (proto->GetDescriptor() == message.GetDescriptor()) return name;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(message.GetDescriptor()->full_name(), " is not a stored object kind"));
}

const std::vector<std::string>& AllKinds() {
  static const auto* kinds = [] {
    auto* v = new std::vector<std::string>();
    for (const auto& entry : Table()) v->push_back(entry.first);
    return v;
  }();
  return *kinds;
}

std::string IdOf(const google::protobuf::Message& message) {
  const auto* field = message.GetDescriptor()->FindFieldByName("id");
  if (field == nullptr || field->type() != google::protobuf::FieldDescriptor::TYPE_STRING ||
      field->is_repeated()) {
    return "";
  }
  return message.GetReflection()->GetString(message, field);
}

}  // namespace asr::model
