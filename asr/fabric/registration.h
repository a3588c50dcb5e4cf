// asr/fabric/registration.h: registering a VMM server (or one node of a VMM
// cluster, under the cluster role name) with the vault. Runs as the job
// "RegisterServer"; FabricService::RegisterServer starts it.
//
//   ServerRegistration reg(&fabric, &ctx, params);   // inside the job
//   ASR_RETURN_IF_ERROR(reg.Run());
//
// States (each a task of the job; a restarted job skips finished ones):
//
//   VerifyKey --bad/expired/foreign key--> refused
//      |
//   CheckServer --name taken / cluster rules broken--> refused
//      |          (cluster: the active node first, then the other nodes,
//      |           all on the same provider version)
//   TestProxy (only with a proxy; through the host callback)
//      |
//   RecordServer (a new server, or a node added to its cluster)
//      |
//   SyncInventory (only with "sync all cloud metadata" and a host callback)
//      |
//   done: result = the VmmServer; notes (e.g. /EncryptionEnabled ignored
//         for a secondary site) make the job CompletedWithInformation
//
// Thread safety: used on the job's thread only.
#ifndef ASR_FABRIC_REGISTRATION_H_
#define ASR_FABRIC_REGISTRATION_H_

#include "absl/status/status.h"
#include "asr/fabric/fabric_service.h"
#include "asr/fabric/operations.pb.h"

namespace asr::fabric {

class ServerRegistration {
 public:
  ServerRegistration(FabricService* fabric, jobs::JobContext* ctx, RegisterServerParams params)
      : fabric_(fabric), ctx_(ctx), params_(std::move(params)) {}

  absl::Status Run();

 private:
  absl::Status VerifyKey();
  absl::Status CheckServer();
  absl::Status TestProxy();
  absl::Status RecordServer();
  absl::Status SyncInventory();

  FabricService* fabric_;
  jobs::JobContext* ctx_;
  RegisterServerParams params_;
  model::RegistrationKey key_;
  model::VmmServer existing_;  // the cluster being joined, if any
  bool joins_cluster_ = false;
};

}  // namespace asr::fabric

#endif  // ASR_FABRIC_REGISTRATION_H_
