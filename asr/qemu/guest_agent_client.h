// asr/qemu/guest_agent_client.h: a client of QEMU's guest agent (qemu-ga),
// the program inside a guest that answers JSON commands on a virtio-serial
// port (org.qemu.guest_agent.0) which QEMU offers on the host as a Unix
// socket (-chardev socket,path=qga.sock,server=on,wait=off).
//
//   GuestAgentClient agent(vm_dir + "/qga.sock", "vm1");
//   ASR_RETURN_IF_ERROR(agent.Ping());
//   ASR_ASSIGN_OR_RETURN(int frozen, agent.Freeze());   // file systems frozen
//   ... cut the point ...
//   ASR_ASSIGN_OR_RETURN(int thawed, agent.Thaw());
//
// Each operation connects, synchronizes and disconnects: the socket serves
// one client at a time, and a guest agent keeps no session. The
// synchronization is guest-sync-delimited with a random id: the agent puts
// a 0xFF byte before its answer, so that whatever an earlier client left
// unread (answers to commands given up on, or to earlier syncs) is skipped
// up to the delimiter and the answer with this id. The client never sends
// 0xFF itself (qemu-ga 7.2 answers it with a JSON parse error).
//
// Every exchange has a time limit: the synchronization `answer_timeout`
// (a guest without a running agent never answers: nothing reads the port;
// that is reported as "no guest agent answers", never waited for), the
// freeze `freeze_timeout` (the agent runs the guest's fsfreeze hook, which
// quiesces applications, before it freezes), the others `answer_timeout`.
//
// Errors: no socket, nothing listening, or no answer to the
// synchronization: Unavailable, the message saying that no guest agent
// answers; a command the agent refuses: FailedPrecondition with the
// agent's description (e.g. "The command guest-fsfreeze-freeze has been
// disabled"); a command not answered in time: DeadlineExceeded.
//
// Thread safety: thread-safe (no shared state between operations).
#ifndef ASR_QEMU_GUEST_AGENT_CLIENT_H_
#define ASR_QEMU_GUEST_AGENT_CLIENT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"

namespace asr::qemu {

struct GuestAgentOptions {
  // Connecting and guest-sync-delimited; also ping, status and thaw.
  absl::Duration answer_timeout = absl::Seconds(4);
  // guest-fsfreeze-freeze (the guest's hook quiesces its applications first).
  absl::Duration freeze_timeout = absl::Seconds(60);
  // guest-fsfreeze-thaw.
  absl::Duration thaw_timeout = absl::Seconds(10);
};

class GuestAgentClient {
 public:
  // `socket_path`: QEMU's end of the VM's agent port; `vm` names the VM in
  // errors.
  GuestAgentClient(std::string socket_path, std::string vm, GuestAgentOptions options = {})
      : path_(std::move(socket_path)), vm_(std::move(vm)), options_(options) {}

  // guest-ping: OK when an agent answers.
  absl::Status Ping();
  // guest-fsfreeze-freeze: the number of file systems frozen.
  absl::StatusOr<int> Freeze();
  // guest-fsfreeze-thaw: the number of file systems thawed (0 when none
  // was frozen).
  absl::StatusOr<int> Thaw();
  // guest-fsfreeze-status: "frozen" or "thawed".
  absl::StatusOr<std::string> FreezeStatus();

  // Runs `command` with `arguments_json` (a JSON object; "" for none) after
  // a synchronization and returns its "return" value. `command_sent`, when
  // given, says whether the command itself reached the agent (false when
  // the synchronization failed: the guest saw nothing).
  absl::StatusOr<google::protobuf::Value> Execute(absl::string_view command,
                                                  absl::string_view arguments_json,
                                                  absl::Duration timeout,
                                                  bool* command_sent = nullptr);

  const std::string& socket_path() const { return path_; }
  const GuestAgentOptions& options() const { return options_; }

 private:
  const std::string path_;
  const std::string vm_;
  const GuestAgentOptions options_;
};

}  // namespace asr::qemu

#endif  // ASR_QEMU_GUEST_AGENT_CLIENT_H_
