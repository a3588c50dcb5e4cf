// The C API of the control plane: host callbacks, jobs, vault and keys,
// server registration, inventory, cloud pairing, replication policies.
// Objects cross as JSON; every state-changing call returns its finished job.
#include <cstddef>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "asr.h"
#include "asr/common/clock.h"
#include "asr/common/identifier.h"
#include "asr/common/status_macros.h"
#include "asr/fabric/host_callbacks.h"
#include "asr/fabric/key_provider.h"
#include "asr/jobs/job_manager.h"
#include "asr/model/json.h"
#include "capi/capi_internal.h"

namespace asr::capi {
namespace {

// The common prologue: *out cleared, flags checked, facade found.
absl::StatusOr<SiteRecovery*> Begin(asr_buffer_t** out, asr_engine_t* engine, uint32_t flags) {
  ASR_RETURN_IF_ERROR(CheckNotNull(out, "out"));
  *out = nullptr;
  ASR_RETURN_IF_ERROR(CheckFlags(flags, 0));
  return SiteRecoveryOf(engine);
}

std::string Opt(const char* s) { return s == nullptr ? "" : s; }

// An object reference argument: the identifier rules when given (NULL and ""
// are left to the operation, which says what is missing).
absl::StatusOr<std::string> Ref(const char* s, const char* what) {
  std::string v = Opt(s);
  ASR_RETURN_IF_ERROR(ValidateOptionalIdentifier(what, v));
  return v;
}

}  // namespace
}  // namespace asr::capi

using asr::capi::Begin;
using asr::capi::CheckNotNull;
using asr::capi::Guard;
using asr::capi::ReturnJob;
namespace model = asr::model;

extern "C" {

int asr_engine_set_host_callbacks(asr_engine_t* engine, const asr_host_callbacks_t* callbacks,
                                  uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(asr::capi::CheckFlags(flags, 0));
    asr_host_callbacks_t table;
    if (callbacks != nullptr) {
      ASR_RETURN_IF_ERROR(asr::capi::ReadVersionedStruct(
          callbacks, ASR_CAPI_STRUCT_END(asr_host_callbacks_t, payload), "asr_host_callbacks_t",
          &table));
    }
    ASR_RETURN_IF_ERROR(asr::capi::SiteRecoveryOf(engine).status());
    engine->host->Set(callbacks != nullptr ? &table : nullptr);
    // A table with a key callback may make a key provider available.
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr, asr::capi::SiteRecoveryOf(engine));
    return sr->SetKeyProvider(sr->key_provider());
  });
}

int asr_engine_set_key_file(asr_engine_t* engine, const char* path, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(asr::capi::CheckFlags(flags, ASR_KEY_FROM_ENVIRONMENT));
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr, asr::capi::SiteRecoveryOf(engine));
    std::shared_ptr<asr::fabric::KeyProvider> source;
    if ((flags & ASR_KEY_FROM_ENVIRONMENT) != 0) {
      std::string variable =
          path == nullptr ? asr::fabric::kKeyEncryptionKeyVariable : std::string(path);
      ASR_RETURN_IF_ERROR(asr::ValidateIdentifier("variable", variable));
      source = std::make_shared<asr::fabric::EnvironmentKeyProvider>(variable);
    } else if (path != nullptr) {
      ASR_RETURN_IF_ERROR(asr::capi::CheckPath(path, "path"));
      source = std::make_shared<asr::fabric::KeyFileProvider>(path);
    }
    engine->keys->SetSource(std::move(source));
    // Wraps keys an older version left in the clear, now that there is a key.
    return sr->SetKeyProvider(sr->key_provider());
  });
}

int asr_buffer_set(asr_buffer_t* buffer, const char* data, size_t size) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(CheckNotNull(buffer, "buffer"));
    if (data == nullptr && size != 0) return absl::InvalidArgumentError("data must not be NULL");
    buffer->bytes.assign(data == nullptr ? "" : data, size);
    return absl::OkStatus();
  });
}

int asr_job_list(asr_buffer_t** out, asr_engine_t* engine, const char* query_json, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * p, Begin(out, engine, flags));
    asr::jobs::JobFilter filter;
    if (query_json != nullptr) {
      model::JobQuery q;
      ASR_RETURN_IF_ERROR(model::FromJson(query_json, &q));
      if (q.state() != model::JOB_STATE_UNSPECIFIED) filter.state = q.state();
      if (q.started_after_unix() != 0) {
        filter.started_after = absl::FromUnixSeconds(q.started_after_unix());
      }
      if (q.started_before_unix() != 0) {
        filter.started_before = absl::FromUnixSeconds(q.started_before_unix());
      }
      filter.target_object_id = q.target_object_id();
      filter.scenario = q.scenario_name();
    }
    ASR_ASSIGN_OR_RETURN(std::vector<model::Job> jobs, p->jobs().List(filter));
    std::string json = "[";
    for (size_t i = 0; i < jobs.size(); ++i) {
      if (i > 0) json += ",";
      json += model::ToJson(jobs[i]);
    }
    asr::capi::ReturnBuffer(out, json + "]");
    return absl::OkStatus();
  });
}

#define ASR_JOB_CALL(fn, method)                                                         \
  int fn(asr_buffer_t** out, asr_engine_t* engine, const char* job_id, uint32_t flags) { \
    return Guard([&]() -> absl::Status {                                                 \
      ASR_ASSIGN_OR_RETURN(asr::SiteRecovery* p, Begin(out, engine, flags));             \
      ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(job_id, "job_id"));                 \
      return ReturnJob(out, p->jobs().method(job_id));                                   \
    });                                                                                  \
  }

ASR_JOB_CALL(asr_job_get, Get)
ASR_JOB_CALL(asr_job_cancel, Cancel)
ASR_JOB_CALL(asr_job_restart, Restart)
ASR_JOB_CALL(asr_job_resume, Resume)
#undef ASR_JOB_CALL

int asr_vault_create(asr_buffer_t** out, asr_engine_t* engine, const char* name, const char* region,
                     uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * p, Begin(out, engine, flags));
    ASR_ASSIGN_OR_RETURN(std::string n, asr::capi::Ref(name, "name"));
    ASR_ASSIGN_OR_RETURN(std::string r, asr::capi::Ref(region, "region"));
    return ReturnJob(out, p->fabric().CreateVault(n, r));
  });
}

int asr_vault_get(asr_buffer_t** out, asr_engine_t* engine, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * p, Begin(out, engine, flags));
    ASR_ASSIGN_OR_RETURN(model::Vault v, p->fabric().vault().Get());
    asr::capi::ReturnBuffer(out, model::ToJson(v));
    return absl::OkStatus();
  });
}

int asr_key_generate(asr_buffer_t** out, asr_engine_t* engine, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * p, Begin(out, engine, flags));
    ASR_ASSIGN_OR_RETURN(std::string key, p->fabric().GenerateRegistrationKey());
    asr::capi::ReturnBuffer(out, std::move(key));
    return absl::OkStatus();
  });
}

int asr_key_verify(asr_buffer_t** out, asr_engine_t* engine, const char* key_file_json,
                   uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * p, Begin(out, engine, flags));
    ASR_RETURN_IF_ERROR(CheckNotNull(key_file_json, "key_file_json"));
    ASR_ASSIGN_OR_RETURN(model::RegistrationKey key,
                         p->fabric().vault().VerifyRegistrationKey(key_file_json));
    asr::capi::ReturnBuffer(out, model::ToJson(key));
    return absl::OkStatus();
  });
}

int asr_server_register(asr_buffer_t** out, asr_engine_t* engine, const char* request_json,
                        uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * p, Begin(out, engine, flags));
    ASR_RETURN_IF_ERROR(CheckNotNull(request_json, "request_json"));
    model::ServerRegistrationRequest req;
    ASR_RETURN_IF_ERROR(model::FromJson(request_json, &req));
    return ReturnJob(out, p->fabric().RegisterServer(req));
  });
}

int asr_server_unregister(asr_buffer_t** out, asr_engine_t* engine, const char* server,
                          uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * p, Begin(out, engine, flags));
    ASR_ASSIGN_OR_RETURN(std::string ref, asr::capi::Ref(server, "server"));
    return ReturnJob(out, p->fabric().UnregisterServer(ref));
  });
}

int asr_inventory_sync(asr_buffer_t** out, asr_engine_t* engine, const char* server,
                       const char* inventory_json, const char* cloud, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * p, Begin(out, engine, flags));
    ASR_ASSIGN_OR_RETURN(std::string server_ref, asr::capi::Ref(server, "server"));
    ASR_ASSIGN_OR_RETURN(std::string cloud_ref, asr::capi::Ref(cloud, "cloud"));
    model::Inventory inventory;
    if (inventory_json != nullptr) ASR_RETURN_IF_ERROR(model::FromJson(inventory_json, &inventory));
    return ReturnJob(out, p->fabric().SyncInventory(
                              server_ref, inventory_json ? &inventory : nullptr, cloud_ref));
  });
}

int asr_cloud_pair(asr_buffer_t** out, asr_engine_t* engine, const char* primary_cloud,
                   const char* recovery_cloud, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * p, Begin(out, engine, flags));
    ASR_ASSIGN_OR_RETURN(std::string primary, asr::capi::Ref(primary_cloud, "primary_cloud"));
    ASR_ASSIGN_OR_RETURN(std::string recovery, asr::capi::Ref(recovery_cloud, "recovery_cloud"));
    return ReturnJob(out, p->fabric().PairClouds(primary, recovery));
  });
}

int asr_cloud_unpair(asr_buffer_t** out, asr_engine_t* engine, const char* pairing,
                     uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * p, Begin(out, engine, flags));
    ASR_ASSIGN_OR_RETURN(std::string ref, asr::capi::Ref(pairing, "pairing"));
    return ReturnJob(out, p->fabric().UnpairClouds(ref));
  });
}

int asr_policy_create(asr_buffer_t** out, asr_engine_t* engine, const char* policy_json,
                      uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * p, Begin(out, engine, flags));
    ASR_RETURN_IF_ERROR(CheckNotNull(policy_json, "policy_json"));
    model::ReplicationPolicy policy;
    ASR_RETURN_IF_ERROR(model::FromJson(policy_json, &policy));
    ASR_RETURN_IF_ERROR(asr::ValidateMessageIdentifiers("policy", policy));
    return ReturnJob(out, p->policies().CreatePolicy(policy));
  });
}

int asr_policy_update(asr_buffer_t** out, asr_engine_t* engine, const char* policy_json,
                      uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * p, Begin(out, engine, flags));
    ASR_RETURN_IF_ERROR(CheckNotNull(policy_json, "policy_json"));
    model::ReplicationPolicy policy;
    ASR_RETURN_IF_ERROR(model::FromJson(policy_json, &policy));
    ASR_RETURN_IF_ERROR(asr::ValidateMessageIdentifiers("policy", policy));
    return ReturnJob(out, p->policies().UpdatePolicy(policy));
  });
}

int asr_policy_delete(asr_buffer_t** out, asr_engine_t* engine, const char* policy,
                      uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * p, Begin(out, engine, flags));
    ASR_ASSIGN_OR_RETURN(std::string ref, asr::capi::Ref(policy, "policy"));
    return ReturnJob(out, p->policies().DeletePolicy(ref));
  });
}

int asr_policy_associate(asr_buffer_t** out, asr_engine_t* engine, const char* policy,
                         const char* pairing, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * p, Begin(out, engine, flags));
    ASR_ASSIGN_OR_RETURN(std::string policy_ref, asr::capi::Ref(policy, "policy"));
    ASR_ASSIGN_OR_RETURN(std::string pairing_ref, asr::capi::Ref(pairing, "pairing"));
    return ReturnJob(out, p->policies().AssociatePolicy(policy_ref, pairing_ref));
  });
}

int asr_policy_dissociate(asr_buffer_t** out, asr_engine_t* engine, const char* pairing,
                          uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * p, Begin(out, engine, flags));
    ASR_ASSIGN_OR_RETURN(std::string ref, asr::capi::Ref(pairing, "pairing"));
    return ReturnJob(out, p->policies().DissociatePolicy(ref));
  });
}

}  // extern "C"
