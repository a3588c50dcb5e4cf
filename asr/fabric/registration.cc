#include "asr/fabric/registration.h"

#include "absl/strings/str_cat.h"
#include "asr/common/status_macros.h"
#include "asr/fabric/inventory_sync.h"
#include "asr/model/json.h"

namespace asr::fabric {

using jobs::RuleError;

absl::Status ServerRegistration::Run() {
  ASR_RETURN_IF_ERROR(
      ctx_->RunTask("verify-key", "Verify the registration key", [this] { return VerifyKey(); }));
  ASR_RETURN_IF_ERROR(ctx_->RunTask("check-server", "Check the server and cluster rules",
                                    [this] { return CheckServer(); }));
  if (!params_.request().proxy_address().empty()) {
    ASR_RETURN_IF_ERROR(
        ctx_->RunTask("test-proxy", "Test the custom proxy", [this] { return TestProxy(); }));
  }
  ASR_RETURN_IF_ERROR(ctx_->RunTask("record-server", "Register the server with the vault",
                                    [this] { return RecordServer(); }));
  const model::ServerRegistrationRequest& req = params_.request();
  if (!req.encryption_certificate().empty()) {
    ctx_->AddInformation(
        "/EncryptionEnabled applies only to replication to Azure: the setting was accepted and "
        "ignored for replication to a secondary site");
  }
  if (req.sync_all_cloud_metadata()) {
    if (fabric_->host() != nullptr) {
      ASR_RETURN_IF_ERROR(ctx_->RunTask("sync-inventory", "Sync the metadata of all clouds",
                                        [this] { return SyncInventory(); }));
    } else {
      ctx_->AddInformation(
          "cloud metadata is synced when the server's inventory arrives ('asrctl inventory sync "
          "--server NAME --file inventory.json')");
    }
  }
  ASR_ASSIGN_OR_RETURN(model::VmmServer server, fabric_->repository().Get<model::VmmServer>(
                                                    ServerIdFor(req.friendly_name())));
  ctx_->SetResult(model::ToJson(server));
  return absl::OkStatus();
}

absl::Status ServerRegistration::VerifyKey() {
  ASR_ASSIGN_OR_RETURN(key_,
                       fabric_->vault().VerifyRegistrationKey(params_.request().credentials()));
  return absl::OkStatus();
}

absl::Status ServerRegistration::CheckServer() {
  const model::ServerRegistrationRequest& req = params_.request();
  std::string site = req.site_id().empty() ? "primary" : req.site_id();
  if (!fabric_->repository().Get<model::Site>(site).ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "site '", site, "' does not exist; initialize the state directory ('asrctl init')"));
  }
  std::string version =
      req.provider_version().empty() ? kDefaultProviderVersion : req.provider_version();
  auto existing = fabric_->repository().Get<model::VmmServer>(ServerIdFor(req.friendly_name()));
  if (existing.ok()) {
    if (!(req.is_cluster() && existing->is_cluster())) {
      return RuleError(absl::StatusCode::kAlreadyExists, "ServerFriendlyNameUnique",
                       absl::StrCat("a VMM server named '", existing->friendly_name(),
                                    "' is already registered (since ",
                                    FormatUnixTime(existing->registered_time_unix()), ")"),
                       "unregister it first, or register under another friendly name");
    }
    for (const model::ClusterNode& n : existing->cluster_nodes()) {
      if (n.name() == req.node_name()) {
        return RuleError(absl::StatusCode::kAlreadyExists, "ClusterNodeRegisteredOnce",
                         absl::StrCat("node '", n.name(), "' of VMM cluster '",
                                      existing->friendly_name(), "' is already registered"),
                         "register the cluster's other nodes");
      }
    }
    if (version != existing->provider_version()) {
      return RuleError(
          absl::StatusCode::kFailedPrecondition, "ClusterNodesSameProviderVersion",
          absl::StrCat("node '", req.node_name(), "' runs provider version ", version,
                       ", but VMM cluster '", existing->friendly_name(), "' runs provider version ",
                       existing->provider_version(), "; all nodes must run the same version"),
          absl::StrCat("install provider version ", existing->provider_version(), " on node '",
                       req.node_name(), "' and register it again"));
    }
    if (existing->site_id() != site) {
      return absl::FailedPreconditionError(
          absl::StrCat("VMM cluster '", existing->friendly_name(), "' is registered on site '",
                       existing->site_id(), "', not '", site, "'"));
    }
    existing_ = *existing;
    joins_cluster_ = true;
    return absl::OkStatus();
  }
  if (req.is_cluster() && !req.is_active_node()) {
    return RuleError(absl::StatusCode::kFailedPrecondition, "ClusterActiveNodeFirst",
                     absl::StrCat("node '", req.node_name(),
                                  "' is not the active node of VMM "
                                  "cluster '",
                                  req.friendly_name(), "', and the cluster is not registered yet"),
                     "register the active node first, then the other nodes");
  }
  return absl::OkStatus();
}

absl::Status ServerRegistration::TestProxy() {
  if (fabric_->host() == nullptr) {
    ctx_->AddInformation("the custom proxy was not tested: no host callback is installed");
    return absl::OkStatus();
  }
  const model::ServerRegistrationRequest& req = params_.request();
  std::string id = ServerIdFor(req.friendly_name());
  ASR_ASSIGN_OR_RETURN(std::string password,
                       params_.sealed_proxy_password().empty()
                           ? absl::StatusOr<std::string>("")
                           : fabric_->vault().Unseal(params_.sealed_proxy_password(),
                                                     absl::StrCat("proxy-password:", id)));
  model::VmmServer draft;
  draft.set_id(id);
  draft.set_friendly_name(req.friendly_name());
  draft.mutable_proxy()->set_address(req.proxy_address());
  draft.mutable_proxy()->set_port(req.proxy_port());
  draft.mutable_proxy()->set_user_name(req.proxy_user_name());
  absl::Status s = fabric_->host()->TestProxy(draft, password);
  if (!s.ok()) {
    return RuleError(absl::StatusCode::kUnavailable, "CustomProxyTested",
                     absl::StrCat("the custom proxy ", req.proxy_address(), ":", req.proxy_port(),
                                  " did not work: ", s.message()),
                     "check the proxy address, port and credentials, then restart the job");
  }
  return absl::OkStatus();
}

absl::Status ServerRegistration::RecordServer() {
  const model::ServerRegistrationRequest& req = params_.request();
  std::string version =
      req.provider_version().empty() ? kDefaultProviderVersion : req.provider_version();
  int64_t now = absl::ToUnixSeconds(ctx_->Now());
  if (joins_cluster_) {
    model::ClusterNode* node = existing_.add_cluster_nodes();
    node->set_name(req.node_name());
    node->set_provider_version(version);
    node->set_is_active(false);
    return fabric_->repository().Put(existing_);
  }
  model::VmmServer server;
  server.set_id(ServerIdFor(req.friendly_name()));
  server.set_friendly_name(req.friendly_name());
  server.set_site_id(req.site_id().empty() ? "primary" : req.site_id());
  server.set_provider_version(version);
  server.set_sync_all_cloud_metadata(req.sync_all_cloud_metadata());
  server.set_registered_time_unix(now);
  server.set_registration_key_id(key_.key_id());
  if (req.proxy_address().empty()) {
    server.set_connection_type(model::CONNECTION_TYPE_DIRECT);
  } else {
    server.set_connection_type(model::CONNECTION_TYPE_PROXY);
    model::ProxySettings* p = server.mutable_proxy();
    p->set_address(req.proxy_address());
    p->set_port(req.proxy_port());
    p->set_user_name(req.proxy_user_name());
    p->set_encrypted_password(params_.sealed_proxy_password());
  }
  if (req.is_cluster()) {
    server.set_is_cluster(true);
    model::ClusterNode* node = server.add_cluster_nodes();
    node->set_name(req.node_name());
    node->set_provider_version(version);
    node->set_is_active(true);
  }
  return fabric_->repository().Put(server);
}

absl::Status ServerRegistration::SyncInventory() {
  ASR_ASSIGN_OR_RETURN(
      model::VmmServer server,
      fabric_->repository().Get<model::VmmServer>(ServerIdFor(params_.request().friendly_name())));
  ASR_ASSIGN_OR_RETURN(model::Inventory inventory, fabric_->host()->GetInventory(server));
  InventorySync sync(fabric_, server, std::move(inventory), "");
  ASR_ASSIGN_OR_RETURN(model::InventoryChangeReport report, sync.Run());
  ctx_->AddInformation(absl::StrCat("inventory synced: ", report.added_size(), " added, ",
                                    report.updated_size(), " updated, ", report.removed_size(),
                                    " removed"));
  return absl::OkStatus();
}

}  // namespace asr::fabric
