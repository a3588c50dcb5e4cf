// Linked into every fuzz target: protobuf logs an error for each string
// field that is not UTF-8, and fuzzed inputs are full of them. The parsers'
// own statuses say what was wrong; the log lines only slow the run down.
#include "google/protobuf/stubs/logging.h"

namespace {

const bool kQuiet = (google::protobuf::SetLogHandler(nullptr), true);

}  // namespace
