#include "asr/common/identifier.h"

#include <cstdint>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace asr {
namespace {

// What is wrong with `value` ("" when nothing): the first rule it breaks.
std::string FirstViolation(absl::string_view value, size_t max_bytes) {
  if (value.empty()) return "must not be empty";
  if (value.size() > max_bytes) {
    return absl::StrCat("is ", value.size(), " bytes long; at most ", max_bytes, " are allowed");
  }
  const auto* p = reinterpret_cast<const uint8_t*>(value.data());
  const size_t n = value.size();
  size_t i = 0;
  while (i < n) {
    const uint8_t b = p[i];
    uint32_t cp = 0;
    size_t len = 0;
    uint32_t min = 0;
    if (b < 0x80) {
      cp = b;
      len = 1;
    } else if ((b & 0xE0) == 0xC0) {
      cp = b & 0x1F;
      len = 2;
      min = 0x80;
    } else if ((b & 0xF0) == 0xE0) {
      cp = b & 0x0F;
      len = 3;
      min = 0x800;
    } else if ((b & 0xF8) == 0xF0) {
      cp = b & 0x07;
      len = 4;
      min = 0x10000;
    } else {
      return absl::StrCat("is not valid UTF-8 (byte 0x", absl::Hex(b, absl::kZeroPad2),
                          " at offset ", i, ")");
    }
    if (i + len > n) {
      return absl::StrCat("is not valid UTF-8 (a sequence cut short at offset ", i, ")");
    }
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) {
        return absl::StrCat("is not valid UTF-8 (byte 0x", absl::Hex(p[i + k], absl::kZeroPad2),
                            " at offset ", i + k, ")");
      }
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if (cp < min) {
      return absl::StrCat("is not valid UTF-8 (an overlong encoding at offset ", i, ")");
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) {
      return absl::StrCat("is not valid UTF-8 (a surrogate U+", absl::Hex(cp), " at offset ", i,
                          ")");
    }
    if (cp > 0x10FFFF) {
      return absl::StrCat("is not valid UTF-8 (a code point past U+10FFFF at offset ", i, ")");
    }
    if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F)) {
      return absl::StrCat("contains a control character (U+", absl::Hex(cp, absl::kZeroPad4),
                          " at offset ", i, ")");
    }
    i += len;
  }
  return "";
}

bool IsIdentifierField(const google::protobuf::FieldDescriptor& f) {
  if (f.type() != google::protobuf::FieldDescriptor::TYPE_STRING) return false;
  const std::string& name = f.name();
  auto ends_with = [&](absl::string_view suffix) {
    return name.size() >= suffix.size() &&
           absl::string_view(name).substr(name.size() - suffix.size()) == suffix;
  };
  if (f.is_repeated()) return ends_with("_ids");
  return name == "id" || name == "name" || ends_with("_id");
}

absl::Status Walk(const std::string& path, const google::protobuf::Message& m, int depth) {
  if (depth > 32) return absl::OkStatus();  // the model nests a few levels only
  const google::protobuf::Reflection* r = m.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const google::protobuf::FieldDescriptor* f : fields) {
    const std::string here = absl::StrCat(path, ".", f->json_name());
    if (IsIdentifierField(*f)) {
      if (f->is_repeated()) {
        for (int i = 0; i < r->FieldSize(m, f); ++i) {
          absl::Status s = ValidateOptionalIdentifier(absl::StrCat(here, "[", i, "]"),
                                                      r->GetRepeatedString(m, f, i));
          if (!s.ok()) return s;
        }
      } else {
        absl::Status s = ValidateOptionalIdentifier(here, r->GetString(m, f));
        if (!s.ok()) return s;
      }
      continue;
    }
    if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE || f->is_map()) {
      continue;
    }
    if (f->is_repeated()) {
      for (int i = 0; i < r->FieldSize(m, f); ++i) {
        absl::Status s =
            Walk(absl::StrCat(here, "[", i, "]"), r->GetRepeatedMessage(m, f, i), depth + 1);
        if (!s.ok()) return s;
      }
    } else {
      absl::Status s = Walk(here, r->GetMessage(m, f), depth + 1);
      if (!s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string EscapeForMessage(absl::string_view value, size_t max_bytes) {
  const bool cut = value.size() > max_bytes;
  return absl::StrCat("\"", absl::CHexEscape(value.substr(0, max_bytes)), cut ? "..." : "", "\"");
}

absl::Status ValidateIdentifier(absl::string_view field, absl::string_view value,
                                size_t max_bytes) {
  std::string why = FirstViolation(value, max_bytes);
  if (why.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      field, " ", why, ": ", EscapeForMessage(value),
      "; identifiers, names and paths must be valid UTF-8 without control characters, 1 to ",
      max_bytes, " bytes long"));
}

absl::Status ValidateOptionalIdentifier(absl::string_view field, absl::string_view value,
                                        size_t max_bytes) {
  if (value.empty()) return absl::OkStatus();
  return ValidateIdentifier(field, value, max_bytes);
}

absl::Status ValidateMessageIdentifiers(absl::string_view what,
                                        const google::protobuf::Message& message) {
  return Walk(std::string(what), message, 0);
}

}  // namespace asr
