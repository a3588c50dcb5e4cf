// asr/model/kinds.h: the kinds of stored objects ("cloud", "vm", "job", ...)
// and the message type of each. The C API, the CLI and the engine address
// objects as (kind, id); every kind's message has a string field `id`.
//
//   const google::protobuf::Message* proto = asr::model::PrototypeForKind("cloud");
//   std::unique_ptr<google::protobuf::Message> m(proto->New());
#ifndef ASR_MODEL_KINDS_H_
#define ASR_MODEL_KINDS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace asr::model {

// The default instance of `kind`'s message type; InvalidArgument listing the
// known kinds when `kind` is not one of them.
absl::StatusOr<const google::protobuf::Message*> PrototypeForKind(absl::string_view kind);

// The kind whose message type is `message`'s; InvalidArgument if none.
absl::StatusOr<std::string> KindOf(const google::protobuf::Message& message);

// All kinds, in a stable order.
const std::vector<std::string>& AllKinds();

// The `id` field of a message of any kind ("" if it has none).
std::string IdOf(const google::protobuf::Message& message);

}  // namespace asr::model

#endif  // ASR_MODEL_KINDS_H_
