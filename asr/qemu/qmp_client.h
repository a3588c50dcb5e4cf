// asr/qemu/qmp_client.h: a client of QEMU's machine protocol (QMP), the
// JSON control channel a QEMU process offers on a Unix socket
// (-qmp unix:PATH,server=on,wait=off). It reads the greeting, negotiates
// capabilities (qmp_capabilities), runs commands one at a time, each with
// its own time limit, and keeps the asynchronous events QEMU sends
// (SHUTDOWN, POWERDOWN, STOP, RESUME, BLOCK_JOB_COMPLETED, ...) for the
// caller to take or wait for.
//
//   ASR_ASSIGN_OR_RETURN(std::unique_ptr<QmpClient> qmp,
//                        QmpClient::Connect(vm_dir + "/qmp.sock", absl::Seconds(10)));
//   ASR_ASSIGN_OR_RETURN(google::protobuf::Value status, qmp->Execute("query-status"));
//   // status.struct_value().fields().at("status").string_value() == "running"
//   ASR_RETURN_IF_ERROR(qmp->Execute("system_powerdown").status());
//   ASR_ASSIGN_OR_RETURN(QmpEvent e, qmp->WaitForEvent("SHUTDOWN", absl::Seconds(60)));
//
// Arguments are a JSON object as text; QmpQuote makes a JSON string:
//   qmp->Execute("set_link", absl::StrCat(R"({"name":)", QmpQuote(id), R"(,"up":false})"));
//
// JSON is read and written with protobuf's JSON support
// (google.protobuf.Value): numbers are doubles, exact up to 2^53.
//
// Errors: a command QEMU refuses is FailedPrecondition (its GenericError),
// NotFound (DeviceNotFound) or Unimplemented (CommandNotFound), with QEMU's
// description. A command without an answer within its limit is
// DeadlineExceeded, and the connection is closed (a late answer would be
// taken for the next command's). A QEMU that has exited closes the socket:
// every call then fails at once with Unavailable, never waits for it.
//
// Thread safety: thread-safe; commands and event waits are serialized.
#ifndef ASR_QEMU_QMP_CLIENT_H_
#define ASR_QEMU_QMP_CLIENT_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "asr/platform/socket.h"
#include "google/protobuf/struct.pb.h"

namespace asr::qemu {

// One asynchronous event QEMU sent.
struct QmpEvent {
  std::string name;               // "SHUTDOWN", "STOP", ...
  int64_t time_us = 0;            // QEMU's timestamp (host clock)
  google::protobuf::Struct data;  // the event's "data" (empty when it has none)
};

// `text` as a JSON string literal, quotes included.
std::string QmpQuote(absl::string_view text);

// One line of QEMU's JSON protocols (QMP, the guest agent's) as a JSON
// object; InvalidArgument, quoting the start of the text, otherwise.
absl::StatusOr<google::protobuf::Value> ParseJsonObject(absl::string_view text);

// Takes the first whole line out of `buffer` into *line, without its end
// and trailing blanks (may leave it empty); false while `buffer` holds no
// whole line.
bool TakeLine(std::string* buffer, std::string* line);

// A field of a JSON object value, or nullptr (also when `v` is no object).
const google::protobuf::Value* QmpField(const google::protobuf::Value& v, absl::string_view name);

class QmpClient {
 public:
  // Connects to the QMP socket at `socket_path`, reads QEMU's greeting and
  // leaves the negotiation mode, all within `timeout`. Unavailable when
  // nothing listens there (or it closes), NotFound when there is no socket.
  static absl::StatusOr<std::unique_ptr<QmpClient>> Connect(const std::string& socket_path,
                                                            absl::Duration timeout);
  ~QmpClient();
  QmpClient(const QmpClient&) = delete;
  QmpClient& operator=(const QmpClient&) = delete;

  // Runs `command` with `arguments_json` (a JSON object; "" for none) and
  // returns its "return" value. Events that arrive meanwhile are kept.
  absl::StatusOr<google::protobuf::Value> Execute(absl::string_view command,
                                                  absl::string_view arguments_json = "",
                                                  absl::Duration timeout = absl::Seconds(10));
  // The events received so far, oldest first; they are removed.
  std::vector<QmpEvent> TakeEvents();
  // The first kept or arriving event named `name` (it and the events before
  // it are removed); DeadlineExceeded after `timeout`, Unavailable when
  // QEMU closes the connection first.
  absl::StatusOr<QmpEvent> WaitForEvent(absl::string_view name, absl::Duration timeout);
  // QEMU's version from the greeting ("7.2.22").
  const std::string& qemu_version() const { return version_; }
  // Whether the connection has ended (QEMU exited, or a command timed out).
  bool closed() const;

 private:
  QmpClient(platform::SocketHandle s, std::string path) : socket_(s), path_(std::move(path)) {}
  // The next message, as a JSON object: events go to events_ (and are
  // returned too, so waiters can look). DeadlineExceeded at `deadline`.
  absl::StatusOr<google::protobuf::Value> ReadMessageLocked(absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SendLocked(const std::string& line) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CloseLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ClosedError() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  platform::SocketHandle socket_ ABSL_GUARDED_BY(mu_);
  const std::string path_;
  std::string version_;
  std::string buffer_ ABSL_GUARDED_BY(mu_);  // bytes read, not yet a whole line
  std::deque<QmpEvent> events_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::string close_reason_ ABSL_GUARDED_BY(mu_);
};

}  // namespace asr::qemu

#endif  // ASR_QEMU_QMP_CLIENT_H_
