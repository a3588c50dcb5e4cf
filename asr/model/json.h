// asr/model/json.h: model objects to and from JSON in the proto3 JSON mapping
// (lowerCamelCase field names, enums by name), the form objects take at the
// C API, in the CLI and in the .NET binding.
//
//   asr::model::Cloud cloud;
//   ASR_RETURN_IF_ERROR(asr::model::FromJson(text, &cloud));
//   std::string out = asr::model::ToJson(cloud);
#ifndef ASR_MODEL_JSON_H_
#define ASR_MODEL_JSON_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace asr::model {

// Serializes `message`; fields with default values are printed too, so
// readers see every field. `pretty` indents.
std::string ToJson(const google::protobuf::Message& message, bool pretty = false);

// Parses `json` into `message` (cleared first). Unknown fields are an error
// that names them; the message says which type was expected.
absl::Status FromJson(absl::string_view json, google::protobuf::Message* message);

}  // namespace asr::model

#endif  // ASR_MODEL_JSON_H_
