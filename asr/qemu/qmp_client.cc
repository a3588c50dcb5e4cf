#include "asr/qemu/qmp_client.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "asr/common/status_macros.h"
#include "asr/platform/supervised_process.h"
#include "google/protobuf/util/json_util.h"

namespace asr::qemu {
namespace {

using google::protobuf::Value;

std::string StringField(const Value& v, absl::string_view name) {
  const Value* f = QmpField(v, name);
  return f != nullptr && f->kind_case() == Value::kStringValue ? f->string_value() : "";
}

double NumberField(const Value& v, absl::string_view name) {
  const Value* f = QmpField(v, name);
  return f != nullptr && f->kind_case() == Value::kNumberValue ? f->number_value() : 0;
}

absl::StatusCode CodeOfQmpClass(const std::string& error_class) {
  if (error_class == "CommandNotFound") return absl::StatusCode::kUnimplemented;
  if (error_class == "DeviceNotFound") return absl::StatusCode::kNotFound;
  if (error_class == "KVMMissingCap") return absl::StatusCode::kUnimplemented;
  return absl::StatusCode::kFailedPrecondition;  // GenericError, DeviceNotActive
}

}  // namespace

bool TakeLine(std::string* buffer, std::string* line) {
  size_t nl = buffer->find('\n');
  if (nl == std::string::npos) return false;
  line->assign(*buffer, 0, nl);
  buffer->erase(0, nl + 1);
  while (!line->empty() && (line->back() == '\r' || line->back() == ' ')) line->pop_back();
  return true;
}

absl::StatusOr<Value> ParseJsonObject(absl::string_view text) {
  Value v;
  google::protobuf::util::JsonParseOptions options;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(text.data(), text.size()), &v, options);
  if (!status.ok() || v.kind_case() != Value::kStructValue) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a JSON object: ", text.substr(0, 200), " ",
                     std::string(status.message().data(), status.message().size())));
  }
  return v;
}

std::string QmpQuote(absl::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (u < 0x20) {
          out += absl::StrFormat("\\u%04x", u);
        } else {
          out += c;
        }
    }
  }
  out += "\"";
  return out;
}

const Value* QmpField(const Value& v, absl::string_view name) {
  if (v.kind_case() != Value::kStructValue) return nullptr;
  auto it = v.struct_value().fields().find(std::string(name));
  return it == v.struct_value().fields().end() ? nullptr : &it->second;
}

absl::StatusOr<std::unique_ptr<QmpClient>> QmpClient::Connect(const std::string& socket_path,
                                                              absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  ASR_ASSIGN_OR_RETURN(platform::SocketHandle s, platform::ConnectLocalSocket(socket_path));
  std::unique_ptr<QmpClient> c(new QmpClient(s, socket_path));
  absl::MutexLock l(&c->mu_);
  // The greeting: {"QMP": {"version": {"qemu": {"major":7,...}}, "capabilities": [...]}}
  ASR_ASSIGN_OR_RETURN(Value greeting, c->ReadMessageLocked(deadline));
  const Value* qmp = QmpField(greeting, "QMP");
  if (qmp == nullptr) {
    c->CloseLocked();
    return absl::UnavailableError(absl::StrCat(
        socket_path, " does not speak QMP (its first message has no \"QMP\" greeting)"));
  }
  const Value* version = QmpField(*qmp, "version");
  const Value* q = version == nullptr ? nullptr : QmpField(*version, "qemu");
  if (q != nullptr) {
    c->version_ = absl::StrCat(static_cast<int>(NumberField(*q, "major")), ".",
                               static_cast<int>(NumberField(*q, "minor")), ".",
                               static_cast<int>(NumberField(*q, "micro")));
  }
  ASR_RETURN_IF_ERROR(c->SendLocked(R"({"execute":"qmp_capabilities","id":0})"));
  for (;;) {
    ASR_ASSIGN_OR_RETURN(Value reply, c->ReadMessageLocked(deadline));
    if (QmpField(reply, "event") != nullptr) continue;
    if (const Value* e = QmpField(reply, "error")) {
      c->CloseLocked();
      return absl::UnavailableError(
          absl::StrCat("QEMU at ", socket_path,
                       " refused the capabilities negotiation: ", StringField(*e, "desc")));
    }
    break;
  }
  return c;
}

QmpClient::~QmpClient() {
  absl::MutexLock l(&mu_);
  CloseLocked();
}

bool QmpClient::closed() const {
  absl::MutexLock l(&mu_);
  return socket_ == platform::kInvalidSocket;
}

void QmpClient::CloseLocked() {
  if (socket_ != platform::kInvalidSocket) {
    platform::CloseSocket(socket_);
    socket_ = platform::kInvalidSocket;
  }
}

absl::Status QmpClient::ClosedError() const {
  return absl::UnavailableError(absl::StrCat("the QMP connection to ", path_, " has ended (",
                                             close_reason_.empty() ? "closed" : close_reason_,
                                             ")"));
}

absl::Status QmpClient::SendLocked(const std::string& line) {
  if (socket_ == platform::kInvalidSocket) return ClosedError();
  std::string data = line + "\n";
  size_t sent = 0;
  while (sent < data.size()) {
    absl::StatusOr<size_t> n =
        platform::SocketSend(socket_, data.data() + sent, data.size() - sent);
    if (!n.ok()) {
      close_reason_ = absl::StrCat("QEMU is gone: ", n.status().message());
      CloseLocked();
      return ClosedError();
    }
    sent += *n;
  }
  return absl::OkStatus();
}

absl::StatusOr<Value> QmpClient::ReadMessageLocked(absl::Time deadline) {
  for (;;) {
    if (std::string line; TakeLine(&buffer_, &line)) {
      if (line.empty()) continue;
      absl::StatusOr<Value> v = ParseJsonObject(line);
      if (!v.ok()) {
        close_reason_ =
            absl::StrCat("QEMU sent something that is no JSON object: ", line.substr(0, 200));
        CloseLocked();
        return ClosedError();
      }
      if (const Value* name = QmpField(*v, "event")) {
        QmpEvent e;
        e.name = name->string_value();
        if (const Value* t = QmpField(*v, "timestamp")) {
          e.time_us = static_cast<int64_t>(NumberField(*t, "seconds")) * 1000000 +
                      static_cast<int64_t>(NumberField(*t, "microseconds"));
        }
        if (const Value* d = QmpField(*v, "data"); d != nullptr && d->has_struct_value()) {
          e.data = d->struct_value();
        }
        events_.push_back(std::move(e));
      }
      return v;
    }
    if (socket_ == platform::kInvalidSocket) return ClosedError();
    absl::Status w = platform::WaitSocket(socket_, false, deadline,
                                          absl::StrCat("no answer from QEMU at ", path_));
    if (!w.ok()) return w;
    char buf[16384];
    absl::StatusOr<size_t> n = platform::SocketReceive(socket_, buf, sizeof(buf));
    if (!n.ok() || *n == 0) {
      close_reason_ = n.ok() ? "QEMU closed it: the process has exited or is exiting"
                             : absl::StrCat("QEMU is gone: ", n.status().message());
      CloseLocked();
      return ClosedError();
    }
    buffer_.append(buf, *n);
    if (buffer_.size() > (64u << 20)) {
      close_reason_ = "QEMU sent a message longer than 64 MiB";
      CloseLocked();
      return ClosedError();
    }
  }
}

absl::StatusOr<Value> QmpClient::Execute(absl::string_view command,
                                         absl::string_view arguments_json, absl::Duration timeout) {
  absl::MutexLock l(&mu_);
  const absl::Time deadline = absl::Now() + timeout;
  const uint64_t id = next_id_++;
  std::string request = absl::StrCat(R"({"execute":)", QmpQuote(command));
  if (!arguments_json.empty()) absl::StrAppend(&request, R"(,"arguments":)", arguments_json);
  absl::StrAppend(&request, R"(,"id":)", id, "}");
  ASR_RETURN_IF_ERROR(SendLocked(request));
  for (;;) {
    absl::StatusOr<Value> reply = ReadMessageLocked(deadline);
    if (!reply.ok()) {
      if (reply.status().code() == absl::StatusCode::kDeadlineExceeded) {
        // A late answer would be read as the next command's: start over.
        close_reason_ =
            absl::StrCat(command, " was not answered within ", absl::FormatDuration(timeout));
        CloseLocked();
        return absl::DeadlineExceededError(
            absl::StrCat("QEMU at ", path_, " did not answer ", command, " within ",
                         absl::FormatDuration(timeout), "; is the VM hung?"));
      }
      return absl::Status(reply.status().code(),
                          absl::StrCat(command, ": ", reply.status().message()));
    }
    if (QmpField(*reply, "event") != nullptr) continue;
    const Value* rid = QmpField(*reply, "id");
    if (rid == nullptr || rid->kind_case() != Value::kNumberValue ||
        static_cast<uint64_t>(rid->number_value()) != id) {
      continue;  // an answer to a command given up on earlier
    }
    if (const Value* e = QmpField(*reply, "error")) {
      std::string error_class = StringField(*e, "class");
      return absl::Status(CodeOfQmpClass(error_class),
                          absl::StrCat("QEMU refused ", command, ": ", StringField(*e, "desc"),
                                       " (", error_class, ")"));
    }
    const Value* ret = QmpField(*reply, "return");
    return ret == nullptr ? Value() : *ret;
  }
}

std::vector<QmpEvent> QmpClient::TakeEvents() {
  absl::MutexLock l(&mu_);
  // Take what has arrived without waiting.
  while (socket_ != platform::kInvalidSocket && buffer_.find('\n') == std::string::npos) {
    absl::Status w = platform::WaitSocket(socket_, false, absl::Now(), "poll");
    if (!w.ok()) break;
    char buf[16384];
    absl::StatusOr<size_t> n = platform::SocketReceive(socket_, buf, sizeof(buf));
    if (!n.ok() || *n == 0) {
      close_reason_ = "QEMU closed it: the process has exited or is exiting";
      CloseLocked();
      break;
    }
    buffer_.append(buf, *n);
  }
  while (buffer_.find('\n') != std::string::npos) {
    if (!ReadMessageLocked(absl::Now()).ok()) break;
  }
  std::vector<QmpEvent> out(events_.begin(), events_.end());
  events_.clear();
  return out;
}

absl::StatusOr<QmpEvent> QmpClient::WaitForEvent(absl::string_view name, absl::Duration timeout) {
  absl::MutexLock l(&mu_);
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    while (!events_.empty()) {
      QmpEvent e = std::move(events_.front());
      events_.pop_front();
      if (e.name == name) return e;
    }
    absl::StatusOr<Value> m = ReadMessageLocked(deadline);
    if (!m.ok()) {
      if (m.status().code() == absl::StatusCode::kDeadlineExceeded) {
        return absl::DeadlineExceededError(absl::StrCat(
            "QEMU at ", path_, " sent no ", name, " event within ", absl::FormatDuration(timeout)));
      }
      return m.status();
    }
  }
}

}  // namespace asr::qemu
