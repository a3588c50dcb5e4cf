#include "asr/fabric/fabric_service.h"

#include <cctype>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "asr/common/identifier.h"
#include "asr/common/status_macros.h"
#include "asr/fabric/inventory_sync.h"
#include "asr/fabric/operations.pb.h"
#include "asr/fabric/protection_queries.h"
#include "asr/fabric/registration.h"
#include "asr/model/json.h"
#include "google/protobuf/descriptor.h"

namespace asr::fabric {

using jobs::RuleError;

std::string ServerIdFor(absl::string_view friendly_name) {
  std::string id;
  for (char c : friendly_name) {
    char l = absl::ascii_tolower(static_cast<unsigned char>(c));
    id += (absl::ascii_isalnum(static_cast<unsigned char>(l)) || l == '.' || l == '_' || l == '-')
              ? l
              : '-';
  }
  return id;
}

FabricService::FabricService(repository::ObjectRepository* repo, jobs::JobManager* jobs,
                             const Clock* clock, HostCallbacks* host, KeyProvider* keys)
    : repo_(repo), jobs_(jobs), clock_(clock), host_(host), vault_(repo, clock, keys) {}

namespace {

template <typename P>
absl::StatusOr<P> Params(const jobs::JobContext& ctx) {
  P p;
  ASR_RETURN_IF_ERROR(model::FromJson(ctx.parameters(), &p));
  return p;
}

template <typename T>
absl::StatusOr<T> FindByIdOrName(const repository::ObjectRepository& repo, absl::string_view what,
                                 absl::string_view ref) {
  if (ref.empty()) return absl::InvalidArgumentError(absl::StrCat("name the ", what));
  auto by_id = repo.Get<T>(ref);
  if (by_id.ok()) return by_id;
  ASR_ASSIGN_OR_RETURN(std::vector<T> all, repo.List<T>());
  std::vector<T> named;
  for (T& t : all) {
    if (t.name() == ref) named.push_back(std::move(t));
  }
  if (named.size() == 1) return named[0];
  if (named.empty()) {
    return absl::NotFoundError(absl::StrCat("no ", what, " with id or name '", ref, "'"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(named.size(), " ", what, "s are named '", ref, "'; name one by its id"));
}

bool HasHyperVProfile(const model::Cloud& c) {
  for (const std::string& p : c.capability_profiles()) {
    if (absl::AsciiStrToLower(p) == "hyper-v") return true;
  }
  return false;
}

}  // namespace

absl::Status FabricService::RegisterScenarios() {
  ASR_RETURN_IF_ERROR(jobs_->RegisterScenario(
      "CreateVault", [this](jobs::JobContext& ctx) { return RunCreateVault(ctx); }));
  ASR_RETURN_IF_ERROR(
      jobs_->RegisterScenario("RegisterServer", [this](jobs::JobContext& ctx) -> absl::Status {
        ASR_ASSIGN_OR_RETURN(RegisterServerParams p, Params<RegisterServerParams>(ctx));
        return ServerRegistration(this, &ctx, std::move(p)).Run();
      }));
  ASR_RETURN_IF_ERROR(jobs_->RegisterScenario(
      "UnregisterServer", [this](jobs::JobContext& ctx) { return RunUnregister(ctx); }));
  ASR_RETURN_IF_ERROR(
      jobs_->RegisterScenario("SyncInventory", [this](jobs::JobContext& ctx) -> absl::Status {
        ASR_ASSIGN_OR_RETURN(SyncInventoryParams p, Params<SyncInventoryParams>(ctx));
        ASR_ASSIGN_OR_RETURN(model::VmmServer server, repo_->Get<model::VmmServer>(p.server_id()));
        model::Inventory inventory = p.inventory();
        if (p.from_host()) {
          ASR_RETURN_IF_ERROR(ctx.RunTask("get-inventory", "Get the inventory from VMM", [&] {
            if (host() == nullptr) {
              return absl::FailedPreconditionError(
                  "no host callback is installed to ask VMM for the inventory; supply it as a "
                  "document ('asrctl inventory sync --server NAME --file inventory.json')");
            }
            ASR_ASSIGN_OR_RETURN(inventory, host()->GetInventory(server));
            return absl::OkStatus();
          }));
        }
        model::InventoryChangeReport report;
        ASR_RETURN_IF_ERROR(ctx.RunTask(
            "apply-inventory",
            p.cloud_id().empty() ? "Sync the metadata of all clouds"
                                 : absl::StrCat("Sync the metadata of cloud ", p.cloud_id()),
            [&] {
              InventorySync sync(this, server, inventory, p.cloud_id());
              ASR_ASSIGN_OR_RETURN(report, sync.Run());
              return absl::OkStatus();
            }));
        if (report.added_size() + report.updated_size() + report.removed_size() == 0) {
          ctx.MarkSkipped("the inventory had not changed");
        }
        ctx.SetResult(model::ToJson(report));
        return absl::OkStatus();
      }));
  ASR_RETURN_IF_ERROR(jobs_->RegisterScenario(
      "PairClouds", [this](jobs::JobContext& ctx) { return RunPair(ctx); }));
  ASR_RETURN_IF_ERROR(jobs_->RegisterScenario(
      "UnpairClouds", [this](jobs::JobContext& ctx) { return RunUnpair(ctx); }));
  return absl::OkStatus();
}

// ---- Vault ------------------------------------------------------------------

absl::StatusOr<model::Job> FabricService::CreateVault(absl::string_view name,
                                                      absl::string_view region) {
  if (name.empty()) return absl::InvalidArgumentError("a vault needs a name (--name)");
  if (region.empty()) return absl::InvalidArgumentError("a vault needs a region (--region)");
  ASR_RETURN_IF_ERROR(ValidateIdentifier("the vault name", name));
  ASR_RETURN_IF_ERROR(ValidateIdentifier("the vault region", region));
  // No job for a vault that cannot get its keys wrapped.
  if (!vault_.Get().ok()) ASR_RETURN_IF_ERROR(vault_.CheckKeyProvider());
  absl::MutexLock l(&op_mu_);
  CreateVaultParams p;
  p.set_name(std::string(name));
  p.set_region(std::string(region));
  jobs::JobSpec spec;
  spec.scenario = "CreateVault";
  spec.display_name = absl::StrCat("Create vault ", name);
  spec.target_object_name = std::string(name);
  spec.target_object_type = "vault";
  spec.parameters_json = model::ToJson(p);
  return jobs_->Run(spec);
}

absl::Status FabricService::RunCreateVault(jobs::JobContext& ctx) {
  ASR_ASSIGN_OR_RETURN(CreateVaultParams p, Params<CreateVaultParams>(ctx));
  model::Vault vault;
  ASR_RETURN_IF_ERROR(ctx.RunTask("create-vault", "Create the vault and its keys", [&] {
    ASR_ASSIGN_OR_RETURN(vault, vault_.Create(p.name(), p.region()));
    return absl::OkStatus();
  }));
  ASR_ASSIGN_OR_RETURN(vault, vault_.Get());
  ctx.SetResult(model::ToJson(vault));
  return absl::OkStatus();
}

absl::StatusOr<std::string> FabricService::GenerateRegistrationKey() {
  return vault_.GenerateRegistrationKey();
}

// ---- Registration -----------------------------------------------------------

absl::StatusOr<model::Job> FabricService::RegisterServer(
    const model::ServerRegistrationRequest& request) {
  ASR_RETURN_IF_ERROR(ValidateOptionalIdentifier("friendlyName", request.friendly_name()));
  ASR_RETURN_IF_ERROR(ValidateOptionalIdentifier("siteId", request.site_id()));
  ASR_RETURN_IF_ERROR(ValidateOptionalIdentifier("nodeName", request.node_name()));
  // Mandatory parameters, as the documented command line checks them.
  if (request.credentials().empty()) {
    return absl::InvalidArgumentError(
        "/Credentials is mandatory: give the registration key file (--credentials FILE)");
  }
  if (request.friendly_name().empty()) {
    return absl::InvalidArgumentError(
        "/FriendlyName is mandatory: name the server (--friendly-name NAME); a VMM cluster "
        "registers under its cluster role name");
  }
  if (!request.site_id().empty() && request.site_id() != "primary" &&
      request.site_id() != "recovery") {
    return absl::InvalidArgumentError(absl::StrCat(
        "site '", request.site_id(), "' is not a site; use \"primary\" or \"recovery\""));
  }
  bool proxy = !request.proxy_address().empty();
  if (!proxy && (request.proxy_port() != 0 || !request.proxy_user_name().empty() ||
                 !request.proxy_password().empty())) {
    return absl::InvalidArgumentError(
        "proxy port, user name or password given without a proxy address (/proxyAddress)");
  }
  if (proxy && (request.proxy_port() < 1 || request.proxy_port() > 65535)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "proxy port ", request.proxy_port(), " is out of range; use 1 to 65535 (/proxyPort)"));
  }
  if (request.is_cluster() && request.node_name().empty()) {
    return absl::InvalidArgumentError(
        "a VMM cluster node registers with its node name (--cluster-node NAME)");
  }
  absl::MutexLock l(&op_mu_);
  std::string id = ServerIdFor(request.friendly_name());
  RegisterServerParams params;
  *params.mutable_request() = request;
  params.mutable_request()->clear_proxy_password();
  if (!request.proxy_password().empty()) {
    // The password is sealed before anything (even the job) is stored.
    ASR_ASSIGN_OR_RETURN(std::string sealed, vault_.Seal(request.proxy_password(),
                                                         absl::StrCat("proxy-password:", id)));
    params.set_sealed_proxy_password(sealed);
  }
  jobs::JobSpec spec = jobs::JobSpec::For(
      "RegisterServer", absl::StrCat("Register VMM server ", request.friendly_name()), "server", id,
      request.friendly_name(), model::ToJson(params));
  return jobs_->Run(spec);
}

absl::StatusOr<model::Job> FabricService::UnregisterServer(absl::string_view server_ref) {
  absl::MutexLock l(&op_mu_);
  ASR_ASSIGN_OR_RETURN(model::VmmServer server, FindServer(server_ref));
  ServerParams p;
  p.set_server_id(server.id());
  jobs::JobSpec spec = jobs::JobSpec::For(
      "UnregisterServer", absl::StrCat("Unregister VMM server ", server.friendly_name()), "server",
      server.id(), server.friendly_name(), model::ToJson(p));
  return jobs_->Run(spec);
}

absl::Status FabricService::RunUnregister(jobs::JobContext& ctx) {
  ASR_ASSIGN_OR_RETURN(ServerParams p, Params<ServerParams>(ctx));
  ASR_ASSIGN_OR_RETURN(model::VmmServer server, repo_->Get<model::VmmServer>(p.server_id()));
  const std::string& sid = server.id();
  std::set<std::string> clouds;
  ASR_ASSIGN_OR_RETURN(std::vector<model::Cloud> all_clouds, repo_->List<model::Cloud>());
  for (const auto& c : all_clouds) {
    if (c.server_id() == sid) clouds.insert(c.id());
  }
  ASR_ASSIGN_OR_RETURN(std::vector<model::CloudPairing> pairings,
                       repo_->List<model::CloudPairing>());
  std::set<std::string> pairing_ids;
  for (const auto& pr : pairings) {
    if (clouds.count(pr.primary_cloud_id()) || clouds.count(pr.recovery_cloud_id())) {
      pairing_ids.insert(pr.id());
    }
  }
  ASR_RETURN_IF_ERROR(ctx.RunTask("check-protection", "Check that nothing is protected", [&] {
    ASR_ASSIGN_OR_RETURN(std::vector<std::string> names,
                         ProtectedVmNames(*repo_, [&](const model::ProtectedItem& item,
                                                      const model::VirtualMachine* vm) {
                           return (vm != nullptr && vm->server_id() == sid) ||
                                  pairing_ids.count(item.pairing_id()) > 0;
                         }));
    if (!names.empty()) {
      return RuleError(absl::StatusCode::kFailedPrecondition, "UnregisterNothingProtected",
                       absl::StrCat("VMM server '", server.friendly_name(),
                                    "' still has protected VMs: ", absl::StrJoin(names, ", ")),
                       "disable protection of these VMs first, then unregister the server");
    }
    return absl::OkStatus();
  }));
  ASR_RETURN_IF_ERROR(ctx.RunTask("remove-server", "Remove the server and its objects", [&] {
    store::WriteBatch batch;
    for (const char* kind : {"cloud", "host-group", "host", "vm", "vm-network", "logical-network",
                             "storage-classification"}) {
      ASR_ASSIGN_OR_RETURN(const google::protobuf::Message* proto, model::PrototypeForKind(kind));
      const auto* field = proto->GetDescriptor()->FindFieldByName("server_id");
      for (const auto& [key, value] :
           repo_->store().Scan(repository::ObjectRepository::KeyPrefix(kind))) {
        std::unique_ptr<google::protobuf::Message> m(proto->New());
        if (!m->ParseFromString(value)) continue;
        if (m->GetReflection()->GetString(*m, field) == sid) batch.Delete(key);
      }
    }
    for (const std::string& id : pairing_ids)
      batch.Delete(repository::ObjectRepository::Key("pairing", id));
    ASR_ASSIGN_OR_RETURN(std::vector<model::NetworkMapping> nms,
                         repo_->List<model::NetworkMapping>());
    for (const auto& m : nms) {
      if (m.source_server_id() == sid || m.target_server_id() == sid) {
        batch.Delete(repository::ObjectRepository::Key("network-mapping", m.id()));
      }
    }
    ASR_ASSIGN_OR_RETURN(std::vector<model::StorageMapping> sms,
                         repo_->List<model::StorageMapping>());
    for (const auto& m : sms) {
      if (m.source_server_id() == sid || m.target_server_id() == sid) {
        batch.Delete(repository::ObjectRepository::Key("storage-mapping", m.id()));
      }
    }
    batch.Delete(repository::ObjectRepository::Key("server", sid));
    return repo_->store().Commit(batch);
  }));
  ctx.SetResult(model::ToJson(server));
  return absl::OkStatus();
}

// ---- Inventory --------------------------------------------------------------

absl::StatusOr<model::Job> FabricService::SyncInventory(absl::string_view server_ref,
                                                        const model::Inventory* inventory,
                                                        absl::string_view cloud_ref) {
  ASR_RETURN_IF_ERROR(ValidateOptionalIdentifier("server", server_ref));
  ASR_RETURN_IF_ERROR(ValidateOptionalIdentifier("cloud", cloud_ref));
  // Every id and name a server reports, before any of it is stored.
  if (inventory != nullptr)
    ASR_RETURN_IF_ERROR(ValidateMessageIdentifiers("inventory", *inventory));
  absl::MutexLock l(&op_mu_);
  ASR_ASSIGN_OR_RETURN(model::VmmServer server, FindServer(server_ref));
  SyncInventoryParams p;
  p.set_server_id(server.id());
  if (!cloud_ref.empty()) {
    // The cloud may be new to the vault: look in the supplied inventory too.
    std::string cloud_id;
    auto stored = FindCloud(cloud_ref);
    if (stored.ok() && stored->server_id() == server.id()) cloud_id = stored->id();
    if (cloud_id.empty() && inventory != nullptr) {
      for (const auto& c : inventory->clouds()) {
        if (c.id() == cloud_ref || c.name() == cloud_ref) cloud_id = c.id();
      }
    }
    p.set_cloud_id(cloud_id.empty() ? std::string(cloud_ref) : cloud_id);
  }
  if (inventory != nullptr) {
    *p.mutable_inventory() = *inventory;
  } else {
    p.set_from_host(true);
  }
  jobs::JobSpec spec = jobs::JobSpec::For(
      "SyncInventory",
      p.cloud_id().empty() ? absl::StrCat("Sync inventory of ", server.friendly_name())
                           : absl::StrCat("Sync cloud ", cloud_ref, " of ", server.friendly_name()),
      p.cloud_id().empty() ? "server" : "cloud", p.cloud_id().empty() ? server.id() : p.cloud_id(),
      p.cloud_id().empty() ? server.friendly_name() : std::string(cloud_ref), model::ToJson(p));
  return jobs_->Run(spec);
}

// ---- Pairing ----------------------------------------------------------------

absl::Status FabricService::CheckPairingRules(const model::Cloud& primary,
                                              const model::Cloud& recovery) const {
  if (primary.id() == recovery.id()) {
    return RuleError(absl::StatusCode::kInvalidArgument, "CloudNotPairedWithItself",
                     absl::StrCat("cloud '", primary.name(), "' cannot pair with itself"),
                     "pair it with another cloud; with one VMM server, use two clouds: one "
                     "primary, one recovery");
  }
  for (const model::Cloud* c : {&primary, &recovery}) {
    if (!repo_->Get<model::VmmServer>(c->server_id()).ok()) {
      return absl::NotFoundError(absl::StrCat("cloud '", c->name(), "' belongs to server '",
                                              c->server_id(), "', which is not registered"));
    }
  }
  ASR_ASSIGN_OR_RETURN(std::vector<model::CloudPairing> pairings,
                       repo_->List<model::CloudPairing>());
  for (const auto& p : pairings) {
    if (p.primary_cloud_id() == primary.id() && p.recovery_cloud_id() == recovery.id()) {
      return absl::AlreadyExistsError(absl::StrCat("cloud '", primary.name(),
                                                   "' is already paired with '", recovery.name(),
                                                   "' (pairing ", p.id(), ")"));
    }
  }
  for (const model::Cloud* c : {&primary, &recovery}) {
    for (const auto& p : pairings) {
      bool as_primary = p.primary_cloud_id() == c->id();
      if (!as_primary && p.recovery_cloud_id() != c->id()) continue;
      bool retarget = as_primary && c == &primary;
      return RuleError(
          absl::StatusCode::kFailedPrecondition, "CloudInAtMostOnePairing",
          absl::StrCat("cloud '", c->name(), "' is already the ", as_primary ? "primary" : "target",
                       " cloud of pairing '", p.id(),
                       "'; a cloud belongs to at most one pairing, "
                       "as primary or as target"),
          retarget ? absl::StrCat("to change the target, unpair ('asrctl cloud unpair ", p.id(),
                                  "') and pair again")
                   : "choose a cloud that is not paired");
    }
  }
  ASR_ASSIGN_OR_RETURN(std::vector<model::Cloud> clouds, repo_->List<model::Cloud>());
  if (primary.server_id() == recovery.server_id()) {
    int synced = 0;
    for (const auto& c : clouds)
      synced += c.server_id() == primary.server_id() && c.metadata_synced();
    if (synced < 2) {
      return RuleError(absl::StatusCode::kFailedPrecondition, "OneServerNeedsTwoClouds",
                       absl::StrCat("VMM server '", primary.server_id(), "' has ", synced,
                                    " synced cloud", synced == 1 ? "" : "s",
                                    "; with one VMM server, protection needs at least two clouds "
                                    "(one primary, one recovery)"),
                       "create a second cloud in VMM and sync its metadata, or pair with a cloud "
                       "of another server");
    }
  }
  for (const model::Cloud* c : {&primary, &recovery}) {
    if (!c->metadata_synced()) {
      return RuleError(
          absl::StatusCode::kFailedPrecondition, "CloudMetadataSynced",
          absl::StrCat("the metadata of cloud '", c->name(), "' is not synced to the vault"),
          absl::StrCat("sync it ('asrctl inventory sync --server ", c->server_id(), " --cloud ",
                       c->name(), "'), or register the server with all cloud metadata synced"));
    }
  }
  for (const model::Cloud* c : {&primary, &recovery}) {
    if (!HasHyperVProfile(*c)) {
      return RuleError(absl::StatusCode::kFailedPrecondition, "CloudHasHyperVCapabilityProfile",
                       absl::StrCat("cloud '", c->name(),
                                    "' does not have the Hyper-V capability profile (it has: ",
                                    c->capability_profiles().empty()
                                        ? "none"
                                        : absl::StrJoin(c->capability_profiles(), ", "),
                                    ")"),
                       "add the Hyper-V capability profile to the cloud in VMM and sync again");
    }
  }
  if (primary.host_group_ids().empty()) {
    return RuleError(absl::StatusCode::kFailedPrecondition, "PrimaryCloudHasHostGroup",
                     absl::StrCat("primary cloud '", primary.name(), "' has no host group"),
                     "add a host group with Hyper-V hosts to the cloud in VMM and sync again");
  }
  return absl::OkStatus();
}

absl::StatusOr<model::Job> FabricService::PairClouds(absl::string_view primary_cloud_ref,
                                                     absl::string_view recovery_cloud_ref) {
  absl::MutexLock l(&op_mu_);
  ASR_ASSIGN_OR_RETURN(model::Cloud primary, FindCloud(primary_cloud_ref));
  ASR_ASSIGN_OR_RETURN(model::Cloud recovery, FindCloud(recovery_cloud_ref));
  PairCloudsParams p;
  p.set_primary_cloud_id(primary.id());
  p.set_recovery_cloud_id(recovery.id());
  jobs::JobSpec spec = jobs::JobSpec::For(
      "PairClouds", absl::StrCat("Pair cloud ", primary.name(), " with ", recovery.name()), "cloud",
      primary.id(), primary.name(), model::ToJson(p));
  return jobs_->Run(spec);
}

absl::Status FabricService::RunPair(jobs::JobContext& ctx) {
  ASR_ASSIGN_OR_RETURN(PairCloudsParams p, Params<PairCloudsParams>(ctx));
  model::CloudPairing pairing;
  pairing.set_id(absl::StrCat("pair-", p.primary_cloud_id(), "-", p.recovery_cloud_id()));
  pairing.set_primary_cloud_id(p.primary_cloud_id());
  pairing.set_recovery_cloud_id(p.recovery_cloud_id());
  pairing.set_state(model::PAIRING_STATE_PAIRED);
  ASR_RETURN_IF_ERROR(ctx.RunTask("validate", "Check the pairing rules", [&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(model::Cloud primary, repo_->Get<model::Cloud>(p.primary_cloud_id()));
    ASR_ASSIGN_OR_RETURN(model::Cloud recovery, repo_->Get<model::Cloud>(p.recovery_cloud_id()));
    return CheckPairingRules(primary, recovery);
  }));
  ASR_RETURN_IF_ERROR(ctx.RunTask("pair", "Pair the clouds", [&] { return repo_->Put(pairing); }));
  ctx.SetResult(model::ToJson(pairing));
  return absl::OkStatus();
}

absl::StatusOr<model::Job> FabricService::UnpairClouds(absl::string_view pairing_ref) {
  absl::MutexLock l(&op_mu_);
  ASR_ASSIGN_OR_RETURN(model::CloudPairing pairing, FindPairing(pairing_ref));
  PairingParams p;
  p.set_pairing_id(pairing.id());
  jobs::JobSpec spec = jobs::JobSpec::For("UnpairClouds", absl::StrCat("Unpair ", pairing.id()),
                                          "pairing", pairing.id(), pairing.id(), model::ToJson(p));
  return jobs_->Run(spec);
}

absl::Status FabricService::RunUnpair(jobs::JobContext& ctx) {
  ASR_ASSIGN_OR_RETURN(PairingParams p, Params<PairingParams>(ctx));
  ASR_ASSIGN_OR_RETURN(model::CloudPairing pairing,
                       repo_->Get<model::CloudPairing>(p.pairing_id()));
  ASR_RETURN_IF_ERROR(ctx.RunTask("check-protection", "Check that nothing is protected", [&] {
    ASR_ASSIGN_OR_RETURN(std::vector<std::string> names,
                         ProtectedVmNames(*repo_, [&](const model::ProtectedItem& item,
                                                      const model::VirtualMachine*) {
                           return item.pairing_id() == pairing.id();
                         }));
    if (!names.empty()) {
      return RuleError(absl::StatusCode::kFailedPrecondition, "UnpairNothingProtected",
                       absl::StrCat("pairing '", pairing.id(),
                                    "' still protects VMs: ", absl::StrJoin(names, ", ")),
                       "disable protection of these VMs first, then unpair");
    }
    return absl::OkStatus();
  }));
  ASR_RETURN_IF_ERROR(ctx.RunTask("unpair", "Remove the pairing",
                                  [&] { return repo_->DeleteObject("pairing", pairing.id()); }));
  ctx.SetResult(model::ToJson(pairing));
  return absl::OkStatus();
}

// ---- Lookups ----------------------------------------------------------------

absl::StatusOr<model::VmmServer> FabricService::FindServer(absl::string_view ref) const {
  if (ref.empty()) return absl::InvalidArgumentError("name the VMM server (--server NAME)");
  auto by_id = repo_->Get<model::VmmServer>(ref);
  if (by_id.ok()) return by_id;
  auto derived = repo_->Get<model::VmmServer>(ServerIdFor(ref));
  if (derived.ok()) return derived;
  return absl::NotFoundError(absl::StrCat("no registered VMM server '", ref,
                                          "'; register it first ('asrctl server register')"));
}

absl::StatusOr<model::Cloud> FabricService::FindCloud(absl::string_view ref) const {
  return FindByIdOrName<model::Cloud>(*repo_, "cloud", ref);
}

absl::StatusOr<model::CloudPairing> FabricService::FindPairing(absl::string_view ref) const {
  auto by_id = repo_->Get<model::CloudPairing>(ref);
  if (by_id.ok()) return by_id;
  auto cloud = FindCloud(ref);
  if (cloud.ok()) {
    ASR_ASSIGN_OR_RETURN(std::vector<model::CloudPairing> pairings,
                         repo_->List<model::CloudPairing>());
    for (const auto& p : pairings) {
      if (p.primary_cloud_id() == cloud->id()) return p;
    }
  }
  return absl::NotFoundError(
      absl::StrCat("no cloud pairing '", ref, "' (give a pairing id or its primary cloud)"));
}

}  // namespace asr::fabric
