#include "asr/qemu/guest_agent_client.h"

#include <cstdint>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "asr/common/status_macros.h"
#include "asr/platform/socket.h"
#include "asr/platform/supervised_process.h"
#include "asr/qemu/qmp_client.h"
#include "google/protobuf/util/json_util.h"

namespace asr::qemu {
namespace {

using google::protobuf::Value;

// One connection to the agent's socket, closed when it goes.
class Connection {
 public:
  explicit Connection(platform::SocketHandle s) : s_(s) {}
  ~Connection() { platform::CloseSocket(s_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  absl::Status Send(const std::string& line) {
    const std::string data = line + "\n";
    size_t sent = 0;
    while (sent < data.size()) {
      ASR_ASSIGN_OR_RETURN(size_t n,
                           platform::SocketSend(s_, data.data() + sent, data.size() - sent));
      sent += n;
    }
    return absl::OkStatus();
  }

  // More bytes into buffer_; DeadlineExceeded(`what`) at `deadline`,
  // Unavailable when the other end closed.
  absl::Status Fill(absl::Time deadline, absl::string_view what) {
    ASR_RETURN_IF_ERROR(platform::WaitSocket(s_, false, deadline, what));
    char buf[4096];
    ASR_ASSIGN_OR_RETURN(size_t n, platform::SocketReceive(s_, buf, sizeof(buf)));
    if (n == 0) return absl::UnavailableError("the agent's socket was closed (QEMU exited?)");
    buffer_.append(buf, n);
    if (buffer_.size() > (1u << 20)) {
      return absl::UnavailableError("the guest agent sent more than 1 MiB without a line end");
    }
    return absl::OkStatus();
  }

  // Skips everything up to the next 0xFF delimiter (the byte included).
  absl::Status SkipToDelimiter(absl::Time deadline, absl::string_view what) {
    for (;;) {
      size_t at = buffer_.find('\xff');
      if (at != std::string::npos) {
        buffer_.erase(0, at + 1);
        return absl::OkStatus();
      }
      buffer_.clear();
      ASR_RETURN_IF_ERROR(Fill(deadline, what));
    }
  }

  // The next non-empty line (without its end).
  absl::StatusOr<std::string> Line(absl::Time deadline, absl::string_view what) {
    for (;;) {
      if (std::string line; TakeLine(&buffer_, &line)) {
        // A delimiter inside the line (an answer to an earlier sync) starts it anew.
        size_t ff = line.rfind('\xff');
        if (ff != std::string::npos) line.erase(0, ff + 1);
        if (!line.empty()) return line;
        continue;
      }
      ASR_RETURN_IF_ERROR(Fill(deadline, what));
    }
  }

 private:
  platform::SocketHandle s_;
  std::string buffer_;
};

}  // namespace

absl::StatusOr<Value> GuestAgentClient::Execute(absl::string_view command,
                                                absl::string_view arguments_json,
                                                absl::Duration timeout, bool* command_sent) {
  if (command_sent != nullptr) *command_sent = false;
  const std::string no_agent = absl::StrCat("no guest agent answers in VM '", vm_,
                                            "' (port org.qemu.guest_agent.0 at ", path_, ")");
  absl::StatusOr<platform::SocketHandle> s = platform::ConnectLocalSocket(path_);
  if (!s.ok()) {
    return absl::UnavailableError(absl::StrCat(
        no_agent, ": cannot connect: ", s.status().message(),
        "; QEMU offers the port only to VMs started with it (a virtio-serial port named "
        "org.qemu.guest_agent.0)"));
  }
  Connection c(*s);
  // Synchronize: a random id, answered after a 0xFF byte; stale answers
  // before it (or after another delimiter, with another id) are skipped.
  const int64_t id = absl::Uniform<int64_t>(absl::BitGen(), 1, int64_t{1} << 31);
  const absl::Time sync_deadline = absl::Now() + options_.answer_timeout;
  const std::string sync_timeout =
      absl::StrCat(no_agent, " within ", absl::FormatDuration(options_.answer_timeout),
                   ": the guest runs no qemu-guest-agent (or it hangs)");
  absl::Status sent =
      c.Send(absl::StrCat(R"({"execute":"guest-sync-delimited","arguments":{"id":)", id, "}}"));
  if (!sent.ok()) return absl::UnavailableError(absl::StrCat(no_agent, ": ", sent.message()));
  for (;;) {
    absl::Status skipped = c.SkipToDelimiter(sync_deadline, sync_timeout);
    absl::StatusOr<std::string> line =
        skipped.ok() ? c.Line(sync_deadline, sync_timeout) : absl::StatusOr<std::string>(skipped);
    if (!line.ok()) {
      if (absl::IsDeadlineExceeded(line.status())) {
        return absl::UnavailableError(line.status().message());
      }
      return absl::UnavailableError(absl::StrCat(no_agent, ": ", line.status().message()));
    }
    absl::StatusOr<Value> v = ParseJsonObject(*line);
    if (!v.ok()) continue;  // half of something earlier
    const Value* ret = QmpField(*v, "return");
    if (ret != nullptr && ret->kind_case() == Value::kNumberValue &&
        static_cast<int64_t>(ret->number_value()) == id) {
      break;
    }
  }
  // The command; the next answer is its own.
  std::string request = absl::StrCat(R"({"execute":)", QmpQuote(command));
  if (!arguments_json.empty()) absl::StrAppend(&request, R"(,"arguments":)", arguments_json);
  absl::StrAppend(&request, "}");
  sent = c.Send(request);
  if (!sent.ok()) return absl::UnavailableError(absl::StrCat(no_agent, ": ", sent.message()));
  if (command_sent != nullptr) *command_sent = true;
  const absl::Time deadline = absl::Now() + timeout;
  const std::string late = absl::StrCat("the guest agent of VM '", vm_, "' did not answer ",
                                        command, " within ", absl::FormatDuration(timeout));
  for (;;) {
    ASR_ASSIGN_OR_RETURN(std::string line, c.Line(deadline, late));
    absl::StatusOr<Value> v = ParseJsonObject(line);
    if (!v.ok()) {
      return absl::UnavailableError(
          absl::StrCat("the guest agent of VM '", vm_, "' answered ", command,
                       " with something that is no JSON object: ", line.substr(0, 200)));
    }
    if (const Value* e = QmpField(*v, "error")) {
      const Value* desc = QmpField(*e, "desc");
      const Value* cls = QmpField(*e, "class");
      return absl::FailedPreconditionError(
          absl::StrCat("the guest agent of VM '", vm_, "' refused ", command, ": ",
                       desc != nullptr ? desc->string_value() : "(no description)", " (",
                       cls != nullptr ? cls->string_value() : "?", ")"));
    }
    if (const Value* ret = QmpField(*v, "return")) return *ret;
    // Anything else (an event: qemu-ga sends none today) is skipped.
  }
}

absl::Status GuestAgentClient::Ping() {
  return Execute("guest-ping", "", options_.answer_timeout).status();
}

absl::StatusOr<int> GuestAgentClient::Freeze() {
  ASR_ASSIGN_OR_RETURN(Value v, Execute("guest-fsfreeze-freeze", "", options_.freeze_timeout));
  return static_cast<int>(v.number_value());
}

absl::StatusOr<int> GuestAgentClient::Thaw() {
  ASR_ASSIGN_OR_RETURN(Value v, Execute("guest-fsfreeze-thaw", "", options_.thaw_timeout));
  return static_cast<int>(v.number_value());
}

absl::StatusOr<std::string> GuestAgentClient::FreezeStatus() {
  ASR_ASSIGN_OR_RETURN(Value v, Execute("guest-fsfreeze-status", "", options_.answer_timeout));
  return v.string_value();
}

}  // namespace asr::qemu
