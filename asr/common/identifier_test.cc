// The identifier rules: UTF-8 (no overlongs, surrogates or truncated
// sequences), no control characters, not empty, bounded length; and the
// messages that name the field, the rule and the value, escaped.
#include "asr/common/identifier.h"

#include <string>

#include "asr/common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "gtest/gtest.h"

namespace asr {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

#define EXPECT_STATUS(expr, code, substring) \
  EXPECT_THAT((expr), ::asr::testing::StatusIs(absl::StatusCode::code, HasSubstr(substring)))

TEST(Identifier, AcceptsUtf8Names) {
  EXPECT_OK(ValidateIdentifier("cloud", "GoldCloud1"));
  EXPECT_OK(ValidateIdentifier("cloud", "Zürich-Cloud \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_OK(ValidateIdentifier("cloud", std::string(256, 'a')));
  EXPECT_OK(ValidatePath("disk", std::string(4096, 'a')));
  EXPECT_OK(ValidateOptionalIdentifier("pairing", ""));
}

TEST(Identifier, RefusesEmptyAndOverLong) {
  EXPECT_STATUS(ValidateIdentifier("friendlyName", ""), kInvalidArgument,
                "friendlyName must not be empty");
  absl::Status s = ValidateIdentifier("cloud", std::string(257, 'a'));
  EXPECT_STATUS(s, kInvalidArgument, "cloud is 257 bytes long; at most 256 are allowed");
  // The value is truncated in the message.
  EXPECT_THAT(std::string(s.message()), HasSubstr("aaa...\""));
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr(std::string(100, 'a'))));
  EXPECT_STATUS(ValidatePath("disk", std::string(4097, 'a')), kInvalidArgument,
                "at most 4096 are allowed");
}

TEST(Identifier, RefusesInvalidUtf8) {
  EXPECT_STATUS(ValidateIdentifier("id", "ab\xFF"), kInvalidArgument,
                "id is not valid UTF-8 (byte 0xff at offset 2): \"ab\\xff\"");
  EXPECT_STATUS(ValidateIdentifier("id", "\xC3"), kInvalidArgument, "cut short at offset 0");
  EXPECT_STATUS(ValidateIdentifier("id", "a\xC3(b"), kInvalidArgument, "byte 0x28 at offset 2");
  // Overlong encodings of '/', '.' and NUL.
  EXPECT_STATUS(ValidateIdentifier("id", "\xC0\xAF"), kInvalidArgument, "overlong");
  EXPECT_STATUS(ValidateIdentifier("id", "\xE0\x80\xAE"), kInvalidArgument, "overlong");
  EXPECT_STATUS(ValidateIdentifier("id", "\xC0\x80"), kInvalidArgument, "overlong");
  EXPECT_STATUS(ValidateIdentifier("id", "\xF0\x82\x82\xAC"), kInvalidArgument, "overlong");
  // A surrogate (U+D800) and a code point past U+10FFFF.
  EXPECT_STATUS(ValidateIdentifier("id", "\xED\xA0\x80"), kInvalidArgument, "surrogate U+d800");
  EXPECT_STATUS(ValidateIdentifier("id", "\xF4\x90\x80\x80"), kInvalidArgument, "past U+10FFFF");
  EXPECT_STATUS(ValidateIdentifier("id", "\xF8\x88\x80\x80\x80"), kInvalidArgument,
                "byte 0xf8 at offset 0");
}

TEST(Identifier, RefusesControlCharacters) {
  EXPECT_STATUS(ValidateIdentifier("replication id", "vm1\npoint 9 ../../x"), kInvalidArgument,
                "replication id contains a control character (U+000a at offset 3): "
                "\"vm1\\npoint 9 ../../x\"");
  EXPECT_STATUS(ValidateIdentifier("id", std::string("a\0b", 3)), kInvalidArgument,
                "U+0000 at offset 1");
  EXPECT_STATUS(ValidateIdentifier("id", "a\tb"), kInvalidArgument, "U+0009");
  EXPECT_STATUS(ValidateIdentifier("id", "a\x7F"), kInvalidArgument, "U+007f");
  EXPECT_STATUS(ValidateIdentifier("id", "a\xC2\x85"), kInvalidArgument, "U+0085");  // NEL
  absl::Status s = ValidateIdentifier("id", "a\x1B[2J");
  EXPECT_THAT(std::string(s.message()), AllOf(HasSubstr("\"a\\x1b[2J\""), Not(HasSubstr("\x1B"))));
}

TEST(Identifier, ChecksIdsAndNamesInsideMessages) {
  google::protobuf::Struct ok;
  (*ok.mutable_fields())["name"].set_string_value("x");
  EXPECT_OK(ValidateMessageIdentifiers("object", ok));
  // Struct has no id/name fields of its own: map values are not walked.
  google::protobuf::Value v;
  v.set_string_value("a\nb");
  EXPECT_OK(ValidateMessageIdentifiers("value", v));
}

}  // namespace
}  // namespace asr
