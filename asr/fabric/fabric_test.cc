// Rules of the fabric: vault and keys, registration, inventory, pairing.
// Every rule has a passing and a refusing case; the repo is reopened
// between steps to prove that state lives in the store.
#include <sys/stat.h>

#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "asr/common/file_util.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/fabric/fabric_service.h"
#include "asr/fabric/simulated_host.h"
#include "asr/jobs/test_util.h"
#include "asr/model/json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asr::fabric {
namespace {

using ::asr::testing::TestDir;
using ::asr::testing::TestPath;
using ::testing::HasSubstr;

class Plane {
 public:
  Plane(const std::string& dir, const Clock* clock, HostCallbacks* host, KeyProvider* keys) {
    auto e = repository::ObjectRepository::Open(dir, {});
    if (!e.ok()) abort();
    repo = std::move(*e);
    if (!repo->Initialize().ok()) abort();
    jobs = std::make_unique<jobs::JobManager>(repo.get(), clock);
    fabric = std::make_unique<FabricService>(repo.get(), jobs.get(), clock, host, keys);
    if (!fabric->RegisterScenarios().ok()) abort();
  }
  std::unique_ptr<repository::ObjectRepository> repo;
  std::unique_ptr<jobs::JobManager> jobs;
  std::unique_ptr<FabricService> fabric;
};

class FabricTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestPath("fabric");
    // The key-encryption key lives outside the state directory.
    ASSERT_OK(CreateKeyFile(keys_.path()));
    Reopen();
    ASSERT_OK(f().CreateVault("contoso-dr", "westeurope"));
    host_.SetInventory("vmm-ny", NewYorkInventory());
    host_.SetInventory("vmm-chi", ChicagoInventory());
  }
  void Reopen() {
    plane_.reset();
    plane_ = std::make_unique<Plane>(dir_, &clock_, &host_, &keys_);
  }
  FabricService& f() { return *plane_->fabric; }
  repository::ObjectRepository& e() { return *plane_->repo; }

  model::ServerRegistrationRequest Request(const std::string& name) {
    model::ServerRegistrationRequest r;
    auto key = f().GenerateRegistrationKey();
    EXPECT_OK(key);
    r.set_credentials(*key);
    r.set_friendly_name(name);
    r.set_sync_all_cloud_metadata(true);
    return r;
  }
  void RegisterBoth() {
    auto ny = f().RegisterServer(Request("vmm-ny"));
    ASSERT_OK(ny);
    auto r = Request("vmm-chi");
    r.set_site_id("recovery");
    auto chi = f().RegisterServer(r);
    ASSERT_OK(chi);
  }

  std::string dir_;
  FakeClock clock_{absl::FromUnixSeconds(1700000000)};
  SimulatedHost host_;
  KeyFileProvider keys_{TestPath("kek")};
  std::unique_ptr<Plane> plane_;
};

// ---- Vault and registration keys ---------------------------------------------

TEST_F(FabricTest, OneVaultPerStateDirectory) {
  auto again = f().CreateVault("other", "eastus");
  EXPECT_STATUS(again, kAlreadyExists, "already holds vault 'contoso-dr'");
  EXPECT_STATUS(f().CreateVault("", "eastus"), kInvalidArgument, "needs a name");
  Reopen();
  auto v = f().vault().Get();
  ASSERT_OK(v);
  EXPECT_EQ(v->name(), "contoso-dr");
  EXPECT_EQ(v->signing_public_key().size(), 32u);
  // The private keys are not a listable object.
  auto listed = e().ListObjectsJson("vault");
  EXPECT_THAT(*listed, Not(HasSubstr("sealing")));
}

TEST_F(FabricTest, RegistrationKeyValidForFiveDays) {
  auto key = f().GenerateRegistrationKey();
  ASSERT_OK(key);
  clock_.Advance(absl::Hours(24 * 5) - absl::Seconds(1));
  auto ok = f().vault().VerifyRegistrationKey(*key);
  ASSERT_OK(ok);
  EXPECT_EQ(ok->expiry_time_unix() - ok->issued_time_unix(), 5 * 24 * 3600);
  clock_.Advance(absl::Seconds(1));
  EXPECT_STATUS(f().vault().VerifyRegistrationKey(*key), kUnauthenticated,
                "the registration key expired at 2023-11-19T22:13:20Z");
}

TEST_F(FabricTest, TamperedRegistrationKeyRefused) {
  auto key = f().GenerateRegistrationKey();
  ASSERT_OK(key);
  model::RegistrationKey k;
  ASSERT_OK(model::FromJson(*key, &k));
  k.set_expiry_time_unix(k.expiry_time_unix() + 365 * 24 * 3600);  // extend it
  EXPECT_STATUS(f().vault().VerifyRegistrationKey(model::ToJson(k)), kUnauthenticated,
                "signature does not verify: the key file was altered");
  EXPECT_STATUS(f().vault().VerifyRegistrationKey("not a key"), kInvalidArgument,
                "not a registration key file");
}

TEST_F(FabricTest, ForeignVaultKeyRefused) {
  Plane other(TestPath("other"), &clock_, nullptr, &keys_);
  ASSERT_OK(other.fabric->CreateVault("contoso-dr", "westeurope"));  // same name!
  auto foreign = other.fabric->GenerateRegistrationKey();
  ASSERT_OK(foreign);
  EXPECT_STATUS(f().vault().VerifyRegistrationKey(*foreign), kPermissionDenied,
                "belongs to vault 'contoso-dr' (vault-");
  // Forging our vault id onto the foreign key breaks its signature.
  model::RegistrationKey k;
  ASSERT_OK(model::FromJson(*foreign, &k));
  k.set_vault_id(f().vault().Get()->id());
  EXPECT_STATUS(f().vault().VerifyRegistrationKey(model::ToJson(k)), kUnauthenticated,
                "does not verify");
}

// ---- The vault's keys: only usable with the key-encryption key ------------------

TEST_F(FabricTest, NoVaultWithoutAKeyProvider) {
  Plane bare(TestPath("bare"), &clock_, nullptr, nullptr);
  EXPECT_STATUS(bare.fabric->CreateVault("contoso-dr", "westeurope"), kFailedPrecondition,
                "no key provider is configured");
  EXPECT_STATUS(bare.fabric->CreateVault("contoso-dr", "westeurope"), kFailedPrecondition,
                "asrctl key-provider init --key-file PATH");
  // Refused before any job or vault was written.
  EXPECT_TRUE(bare.repo->List<model::Job>()->empty());
  EXPECT_STATUS(bare.fabric->vault().Get(), kNotFound, "no vault yet");
  // A key file others can read is refused the same way, naming the fix.
  std::string loose = JoinPath(TestDir("kek"), "kek");
  ASSERT_OK(CreateKeyFile(loose));
  ASSERT_EQ(chmod(loose.c_str(), 0644), 0);
  KeyFileProvider loose_keys(loose);
  Plane open(TestPath("open"), &clock_, nullptr, &loose_keys);
  EXPECT_STATUS(open.fabric->CreateVault("contoso-dr", "westeurope"), kFailedPrecondition,
                "chmod 600");
  EXPECT_STATUS(open.fabric->vault().Get(), kNotFound, "no vault yet");
}

TEST_F(FabricTest, WithoutTheKeyEncryptionKeyNoKeyIsMintedAndNoPasswordUnsealed) {
  auto r = Request("vmm-ny");
  r.set_proxy_address("proxy.contoso.com");
  r.set_proxy_port(8080);
  r.set_proxy_user_name("svc");
  r.set_proxy_password("P@ssw0rd!");
  ASSERT_OK(f().RegisterServer(r));
  ASSERT_OK_AND_ASSIGN(model::VmmServer server, f().FindServer("vmm-ny"));
  const std::string sealed = server.proxy().encrypted_password();
  ASSERT_OK_AND_ASSIGN(std::string expected_id, f().vault().WrappingKeyId());
  plane_.reset();  // one writer at a time

  // No provider: nothing that needs the vault's private keys works.
  {
    Plane none(dir_, &clock_, nullptr, nullptr);
    EXPECT_STATUS(none.fabric->GenerateRegistrationKey(), kFailedPrecondition,
                  "no key provider is configured");
    EXPECT_STATUS(none.fabric->vault().Unseal(sealed, "proxy-password:vmm-ny"), kFailedPrecondition,
                  "no key provider is configured");
  }

  // Another key file: the wrong KEK, named with the one expected.
  {
    std::string other_path = JoinPath(TestDir("kek"), "kek");
    ASSERT_OK_AND_ASSIGN(std::string other_id, CreateKeyFile(other_path));
    ASSERT_NE(other_id, expected_id);
    KeyFileProvider other(other_path);
    Plane wrong(dir_, &clock_, nullptr, &other);
    for (const absl::Status& s :
         {wrong.fabric->GenerateRegistrationKey().status(),
          wrong.fabric->vault().Unseal(sealed, "proxy-password:vmm-ny").status(),
          wrong.fabric->vault().Seal("x", "proxy-password:vmm-x").status()}) {
      EXPECT_STATUS(s, kPermissionDenied,
                    "the key-encryption key does not open this vault's secrets");
      EXPECT_THAT(std::string(s.message()),
                  HasSubstr(absl::StrCat("wrapped with key ", expected_id, ", but key file ",
                                         other_path, " gives key ", other_id)));
    }
  }

  // The right key opens both again.
  Reopen();
  EXPECT_OK(f().GenerateRegistrationKey());
  ASSERT_OK_AND_ASSIGN(std::string plain, f().vault().Unseal(sealed, "proxy-password:vmm-ny"));
  EXPECT_EQ(plain, "P@ssw0rd!");
}

TEST_F(FabricTest, InventoryIdsAndNamesAreValidatedBeforeAnythingIsStored) {
  RegisterBoth();
  model::Inventory inv = NewYorkInventory();
  inv.mutable_virtual_machines(0)->set_name("VM1\npoint 9 ../../x");
  EXPECT_STATUS(f().SyncInventory("vmm-ny", &inv, ""), kInvalidArgument,
                "inventory.virtualMachines[0].name contains a control character");
  inv = NewYorkInventory();
  inv.mutable_clouds(0)->set_id(std::string(300, 'c'));
  EXPECT_STATUS(f().SyncInventory("vmm-ny", &inv, ""), kInvalidArgument,
                "inventory.clouds[0].id is 300 bytes long");
  EXPECT_STATUS(f().SyncInventory("vmm\xff", nullptr, ""), kInvalidArgument,
                "server is not valid UTF-8");
  EXPECT_STATUS(f().CreateVault(std::string(257, 'v'), "r"), kInvalidArgument,
                "the vault name is 257 bytes long");
}

// ---- Server registration ------------------------------------------------------

TEST_F(FabricTest, RegisterServerMandatoryParameters) {
  auto r = Request("vmm-ny");
  r.clear_friendly_name();
  EXPECT_STATUS(f().RegisterServer(r), kInvalidArgument, "/FriendlyName is mandatory");
  r = Request("vmm-ny");
  r.clear_credentials();
  EXPECT_STATUS(f().RegisterServer(r), kInvalidArgument, "/Credentials is mandatory");
  r = Request("vmm-ny");
  r.set_proxy_address("proxy.contoso.com");
  r.set_proxy_port(70000);
  EXPECT_STATUS(f().RegisterServer(r), kInvalidArgument, "proxy port 70000 is out of range");
}

TEST_F(FabricTest, RegisterServerWithExpiredKeyFailsItsJob) {
  auto r = Request("vmm-ny");
  clock_.Advance(absl::Hours(24 * 6));
  auto job = f().RegisterServer(r);
  EXPECT_STATUS(job, kUnauthenticated, "expired");
  auto failed = plane_->jobs->Get(jobs::JobIdOf(job.status()));
  ASSERT_OK(failed);
  EXPECT_EQ(failed->state(), model::Failed);
  EXPECT_EQ(failed->errors(0).error_code(), "RegistrationKeyValidFor5Days");
  EXPECT_THAT(failed->errors(0).recommended_action(), HasSubstr("generate a new key"));
  EXPECT_FALSE(e().Get<model::VmmServer>("vmm-ny").ok());
}

TEST_F(FabricTest, ProxyPasswordNeverStoredInPlainText) {
  auto r = Request("VMM NY");
  r.set_proxy_address("proxy.contoso.com");
  r.set_proxy_port(8080);
  r.set_proxy_user_name("CONTOSO\\asr");
  r.set_proxy_password("Sup3r-S3cret!");
  auto job = f().RegisterServer(r);
  ASSERT_OK(job);
  EXPECT_EQ(host_.proxy_passwords_seen(), std::vector<std::string>{"Sup3r-S3cret!"});
  Reopen();
  auto server = e().Get<model::VmmServer>("vmm-ny");
  ASSERT_OK(server);
  EXPECT_EQ(server->connection_type(), model::CONNECTION_TYPE_PROXY);
  EXPECT_EQ(server->proxy().user_name(), "CONTOSO\\asr");
  // Nothing in the store holds the password; the vault can unseal it.
  for (const auto& [key, value] : e().store().Scan("")) {
    EXPECT_EQ(value.find("Sup3r-S3cret!"), std::string::npos) << key;
  }
  auto plain = f().vault().Unseal(server->proxy().encrypted_password(), "proxy-password:vmm-ny");
  ASSERT_OK(plain);
  EXPECT_EQ(*plain, "Sup3r-S3cret!");
}

TEST_F(FabricTest, CustomProxyIsTested) {
  host_.FailProxy(absl::UnavailableError("407 Proxy Authentication Required"));
  auto r = Request("vmm-ny");
  r.set_proxy_address("proxy.contoso.com");
  r.set_proxy_port(8080);
  auto job = f().RegisterServer(r);
  EXPECT_STATUS(job, kUnavailable,
                "the custom proxy proxy.contoso.com:8080 did not work: 407 Proxy");
  host_.FailProxy(absl::OkStatus());
  auto restarted = plane_->jobs->Restart(jobs::JobIdOf(job.status()));
  ASSERT_OK(restarted);
  EXPECT_OK(e().Get<model::VmmServer>("vmm-ny"));
}

TEST_F(FabricTest, EncryptionSettingIgnoredForSecondarySite) {
  auto r = Request("vmm-ny");
  r.set_encryption_certificate("C:\\certs\\asr.pfx");
  auto job = f().RegisterServer(r);
  ASSERT_OK(job);
  EXPECT_EQ(job->state_description(), "CompletedWithInformation");
  EXPECT_THAT(model::ToJson(*job), HasSubstr("ignored for replication to a secondary site"));
}

TEST_F(FabricTest, FriendlyNameUnique) {
  ASSERT_OK(f().RegisterServer(Request("vmm-ny")));
  EXPECT_STATUS(f().RegisterServer(Request("vmm-ny")), kAlreadyExists,
                "a VMM server named 'vmm-ny' is already registered");
}

TEST_F(FabricTest, ClusterRegistersActiveNodeFirstAndSameVersion) {
  auto node = [&](const std::string& name, const std::string& version, bool active) {
    auto r = Request("VMMCluster");
    r.set_is_cluster(true);
    r.set_node_name(name);
    r.set_provider_version(version);
    r.set_is_active_node(active);
    r.set_sync_all_cloud_metadata(false);
    return r;
  };
  EXPECT_STATUS(f().RegisterServer(node("vmm-b", "5.1.3", false)), kFailedPrecondition,
                "register the active node first");
  ASSERT_OK(f().RegisterServer(node("vmm-a", "5.1.3", true)));
  Reopen();
  EXPECT_STATUS(f().RegisterServer(node("vmm-b", "5.1.2", false)), kFailedPrecondition,
                "node 'vmm-b' runs provider version 5.1.2, but VMM cluster 'VMMCluster' runs "
                "provider version 5.1.3");
  ASSERT_OK(f().RegisterServer(node("vmm-b", "5.1.3", false)));
  EXPECT_STATUS(f().RegisterServer(node("vmm-b", "5.1.3", false)), kAlreadyExists,
                "already registered");
  auto cluster = e().Get<model::VmmServer>("vmmcluster");
  ASSERT_OK(cluster);
  ASSERT_EQ(cluster->cluster_nodes_size(), 2);
  EXPECT_TRUE(cluster->cluster_nodes(0).is_active());
  EXPECT_EQ(cluster->cluster_nodes(1).name(), "vmm-b");
}

// ---- Inventory ------------------------------------------------------------------

TEST_F(FabricTest, RegistrationSyncsAllCloudsThroughTheHost) {
  RegisterBoth();
  auto gold = e().Get<model::Cloud>("gold1");
  ASSERT_OK(gold);
  EXPECT_TRUE(gold->metadata_synced());
  EXPECT_EQ(gold->server_id(), "vmm-ny");
  EXPECT_EQ(e().List<model::VirtualMachine>()->size(), 3u);
  EXPECT_EQ(e().Get<model::HyperVHost>("hv-chi-01")->server_id(), "vmm-chi");
}

TEST_F(FabricTest, ResyncReportsAddedUpdatedRemoved) {
  auto r = Request("vmm-ny");
  r.set_sync_all_cloud_metadata(false);
  ASSERT_OK(f().RegisterServer(r));
  model::Inventory inv = NewYorkInventory();
  auto first = f().SyncInventory("vmm-ny", &inv, "");
  ASSERT_OK(first);
  auto report = jobs::ResultOf<model::InventoryChangeReport>(*first);
  ASSERT_OK(report);
  EXPECT_EQ(report->added_size(), 2 + 2 + 2 + 3 + 2 + 1 + 3);
  EXPECT_EQ(report->removed_size(), 0);
  Reopen();
  // Without "sync all", clouds are known but their metadata is not synced.
  EXPECT_FALSE(e().Get<model::Cloud>("gold1")->metadata_synced());

  inv.mutable_virtual_machines(0)->set_name("VM1-renamed");
  inv.mutable_virtual_machines()->RemoveLast();  // vm3 gone
  auto* vm4 = inv.add_virtual_machines();
  vm4->set_id("vm4");
  vm4->set_name("VM4");
  vm4->set_cloud_id("silver1");
  auto second = f().SyncInventory("vmm-ny", &inv, "");
  ASSERT_OK(second);
  report = jobs::ResultOf<model::InventoryChangeReport>(*second);
  ASSERT_EQ(report->added_size(), 1);
  EXPECT_EQ(report->added(0).id(), "vm4");
  ASSERT_EQ(report->updated_size(), 1);
  EXPECT_EQ(report->updated(0).name(), "VM1-renamed");
  ASSERT_EQ(report->removed_size(), 1);
  EXPECT_EQ(report->removed(0).id(), "vm3");
  EXPECT_FALSE(e().Get<model::VirtualMachine>("vm3").ok());

  auto third = f().SyncInventory("vmm-ny", &inv, "");
  ASSERT_OK(third);
  EXPECT_EQ(third->state_description(), "Skipped");
}

TEST_F(FabricTest, SingleCloudSync) {
  auto r = Request("vmm-ny");
  r.set_sync_all_cloud_metadata(false);
  ASSERT_OK(f().RegisterServer(r));
  auto job = f().SyncInventory("vmm-ny", nullptr, "GoldCloud1");  // from the host
  ASSERT_OK(job);
  Reopen();
  EXPECT_TRUE(e().Get<model::Cloud>("gold1")->metadata_synced());
  EXPECT_OK(e().Get<model::VirtualMachine>("vm1"));
  EXPECT_FALSE(e().Get<model::Cloud>("silver1").ok());  // not in scope
  EXPECT_FALSE(e().Get<model::VirtualMachine>("vm3").ok());
  EXPECT_STATUS(f().SyncInventory("vmm-ny", nullptr, "NoSuchCloud"), kNotFound,
                "cloud 'NoSuchCloud' is not in the inventory of server 'vmm-ny'");
}

TEST_F(FabricTest, InventoryMustBeConsistent) {
  RegisterBoth();
  model::Inventory inv = NewYorkInventory();
  inv.mutable_hosts(0)->set_host_group_id("hg-missing");
  EXPECT_STATUS(f().SyncInventory("vmm-ny", &inv, ""), kInvalidArgument,
                "host 'hv-ny-01.contoso.com' refers to host group 'hg-missing', which the "
                "inventory does not contain");
  model::Inventory wrong = ChicagoInventory();
  wrong.clear_server_id();
  EXPECT_STATUS(f().SyncInventory("vmm-ny", &wrong, ""), kFailedPrecondition,
                "already belongs to server 'vmm-chi'");
  EXPECT_STATUS(f().SyncInventory("vmm-xx", &inv, ""), kNotFound, "no registered VMM server");
}

// Every inventory object belongs to the server that reported it. A second
// server whose inventory reuses the first one's ids (VM networks, logical
// networks, host groups, storage classifications as well as clouds, hosts and
// VMs) is refused and changes nothing; its syncs never delete the first
// server's objects.
TEST_F(FabricTest, ServerCannotTakeOverAnotherServersObjects) {
  RegisterBoth();  // both inventories synced through the host
  auto snapshot = [&] {
    std::string all;
    for (const char* kind : {"cloud", "host-group", "host", "vm", "vm-network", "logical-network",
                             "storage-classification"}) {
      auto json = e().ListObjectsJson(kind);
      EXPECT_OK(json);
      absl::StrAppend(&all, kind, ": ", json.ok() ? *json : "", "\n");
    }
    return all;
  };
  const std::string before = snapshot();
  ASSERT_THAT(before, HasSubstr("vmn1-ny"));

  struct Attack {
    const char* what;
    std::function<void(model::Inventory*)> add;
    const char* message;
  };
  const std::vector<Attack> attacks = {
      {"VM network",
       [](model::Inventory* inv) {
         auto* n = inv->add_vm_networks();
         n->set_id("vmn1-ny");
         n->set_name("Stolen");
         n->set_logical_network_id("ln1-chi");
       },
       "VM network 'vmn1-ny' (Stolen) already belongs to server 'vmm-ny', not to 'vmm-chi'"},
      {"logical network",
       [](model::Inventory* inv) {
         auto* l = inv->add_logical_networks();
         l->set_id("ln1-ny");
         l->set_name("Stolen");
       },
       "logical network 'ln1-ny' (Stolen) already belongs to server 'vmm-ny', not to "
       "'vmm-chi'"},
      {"host group",
       [](model::Inventory* inv) {
         auto* g = inv->add_host_groups();
         g->set_id("hg-ny-gold");
         g->set_name("Stolen");
       },
       "host group 'hg-ny-gold' (Stolen) already belongs to server 'vmm-ny', not to "
       "'vmm-chi'"},
      {"storage classification",
       [](model::Inventory* inv) {
         auto* c = inv->add_storage_classifications();
         c->set_id("sc-gold");
         c->set_name("Stolen");
       },
       "storage classification 'sc-gold' (Stolen) already belongs to server 'vmm-ny', not to "
       "'vmm-chi'"},
  };
  for (const Attack& attack : attacks) {
    SCOPED_TRACE(attack.what);
    model::Inventory chi = ChicagoInventory();
    attack.add(&chi);
    EXPECT_STATUS(f().SyncInventory("vmm-chi", &chi, ""), kFailedPrecondition, attack.message);
    // A single-cloud sync validates the whole document too.
    EXPECT_STATUS(f().SyncInventory("vmm-chi", &chi, "GoldCloud2"), kFailedPrecondition,
                  attack.message);
    Reopen();
    EXPECT_EQ(snapshot(), before);
  }

  // All of them at once: every conflict is named.
  model::Inventory chi = ChicagoInventory();
  for (const Attack& attack : attacks) attack.add(&chi);
  auto all = f().SyncInventory("vmm-chi", &chi, "");
  for (const Attack& attack : attacks) EXPECT_STATUS(all, kFailedPrecondition, attack.message);
  Reopen();
  EXPECT_EQ(snapshot(), before);

  // A sync by the second server that omits the first one's objects (its own
  // inventory, then an empty one) never deletes them.
  model::Inventory own = ChicagoInventory();
  ASSERT_OK(f().SyncInventory("vmm-chi", &own, ""));
  model::Inventory empty;
  auto emptied = f().SyncInventory("vmm-chi", &empty, "");
  ASSERT_OK(emptied);
  Reopen();
  EXPECT_EQ(e().Get<model::VmNetwork>("vmn1-ny")->server_id(), "vmm-ny");
  EXPECT_EQ(e().Get<model::VmNetwork>("vmn1-ny")->name(), "VMNetwork1-NewYork");
  EXPECT_EQ(e().Get<model::LogicalNetwork>("ln1-ny")->server_id(), "vmm-ny");
  EXPECT_EQ(e().Get<model::HostGroup>("hg-ny-gold")->server_id(), "vmm-ny");
  EXPECT_EQ(e().Get<model::StorageClassification>("sc-gold")->server_id(), "vmm-ny");
  EXPECT_EQ(e().Get<model::Cloud>("gold1")->server_id(), "vmm-ny");
  EXPECT_EQ(e().Get<model::VirtualMachine>("vm1")->server_id(), "vmm-ny");
  EXPECT_FALSE(e().Get<model::VmNetwork>("vmn1-chi").ok());  // its own did go
  // The first server's own sync still works and changes nothing.
  model::Inventory ny = NewYorkInventory();
  auto resync = f().SyncInventory("vmm-ny", &ny, "");
  ASSERT_OK(resync);
  EXPECT_EQ(resync->state_description(), "Skipped");
}

// ---- Cloud pairing --------------------------------------------------------------

TEST_F(FabricTest, PairAcrossServers) {
  RegisterBoth();
  Reopen();
  auto job = f().PairClouds("GoldCloud1", "GoldCloud2");
  ASSERT_OK(job);
  auto pairing = jobs::ResultOf<model::CloudPairing>(*job);
  ASSERT_OK(pairing);
  EXPECT_EQ(pairing->id(), "pair-gold1-gold2");
  Reopen();
  EXPECT_EQ(e().Get<model::CloudPairing>("pair-gold1-gold2")->state(), model::PAIRING_STATE_PAIRED);
}

TEST_F(FabricTest, CloudCannotPairWithItself) {
  RegisterBoth();
  EXPECT_STATUS(f().PairClouds("gold1", "gold1"), kInvalidArgument,
                "cloud 'GoldCloud1' cannot pair with itself");
}

TEST_F(FabricTest, CloudInAtMostOnePairing) {
  RegisterBoth();
  ASSERT_OK(f().PairClouds("gold1", "gold2"));
  EXPECT_STATUS(f().PairClouds("gold1", "silver2"), kFailedPrecondition,
                "to change the target, unpair ('asrctl cloud unpair pair-gold1-gold2')");
  EXPECT_STATUS(f().PairClouds("silver1", "gold2"), kFailedPrecondition,
                "cloud 'GoldCloud2' is already the target cloud of pairing 'pair-gold1-gold2'");
  EXPECT_STATUS(f().PairClouds("gold2", "silver1"), kFailedPrecondition,
                "a cloud belongs to at most one pairing, as primary or as target");
  EXPECT_STATUS(f().PairClouds("gold1", "gold2"), kAlreadyExists, "already paired");
  // Changing the target: unpair, then pair again.
  ASSERT_OK(f().UnpairClouds("GoldCloud1"));
  Reopen();
  ASSERT_OK(f().PairClouds("gold1", "silver2"));
}

TEST_F(FabricTest, OneServerNeedsTwoClouds) {
  auto r = Request("vmm-ny");
  r.set_sync_all_cloud_metadata(false);
  ASSERT_OK(f().RegisterServer(r));
  ASSERT_OK(f().SyncInventory("vmm-ny", nullptr, ""));  // known, not synced
  ASSERT_OK(f().SyncInventory("vmm-ny", nullptr, "gold1"));
  EXPECT_STATUS(f().PairClouds("gold1", "silver1"), kFailedPrecondition,
                "with one VMM server, protection needs at least two clouds");
  ASSERT_OK(f().SyncInventory("vmm-ny", nullptr, "silver1"));
  auto job = f().PairClouds("gold1", "silver1");
  ASSERT_OK(job);
}

TEST_F(FabricTest, CloudMetadataMustBeSynced) {
  ASSERT_OK(f().RegisterServer(Request("vmm-ny")));
  auto r = Request("vmm-chi");
  r.set_sync_all_cloud_metadata(false);
  ASSERT_OK(f().RegisterServer(r));
  model::Inventory chi = ChicagoInventory();
  ASSERT_OK(f().SyncInventory("vmm-chi", &chi, ""));
  EXPECT_STATUS(f().PairClouds("gold1", "gold2"), kFailedPrecondition,
                "the metadata of cloud 'GoldCloud2' is not synced");
  ASSERT_OK(f().SyncInventory("vmm-chi", &chi, "GoldCloud2"));
  ASSERT_OK(f().PairClouds("gold1", "gold2"));
}

TEST_F(FabricTest, BothCloudsNeedHyperVProfile) {
  model::Inventory chi = ChicagoInventory();
  chi.mutable_clouds(0)->clear_capability_profiles();
  chi.mutable_clouds(0)->add_capability_profiles("ESX Server");
  host_.SetInventory("vmm-chi", chi);
  RegisterBoth();
  EXPECT_STATUS(f().PairClouds("gold1", "gold2"), kFailedPrecondition,
                "cloud 'GoldCloud2' does not have the Hyper-V capability profile (it has: ESX "
                "Server)");
  ASSERT_OK(f().PairClouds("gold1", "silver2"));
}

TEST_F(FabricTest, PrimaryCloudNeedsHostGroup) {
  model::Inventory ny = NewYorkInventory();
  ny.mutable_clouds(0)->clear_host_group_ids();
  host_.SetInventory("vmm-ny", ny);
  RegisterBoth();
  auto job = f().PairClouds("gold1", "gold2");
  EXPECT_STATUS(job, kFailedPrecondition, "primary cloud 'GoldCloud1' has no host group");
  auto failed = plane_->jobs->Get(jobs::JobIdOf(job.status()));
  EXPECT_EQ(failed->errors(0).error_code(), "PrimaryCloudHasHostGroup");
  // The recovery cloud needs none: silver1 -> gold2 works.
  ASSERT_OK(f().PairClouds("silver1", "gold2"));
}

TEST_F(FabricTest, UnpairAndUnregisterRefusedWhileProtected) {
  RegisterBoth();
  ASSERT_OK(f().PairClouds("gold1", "gold2"));
  model::ProtectedItem item;
  item.set_id("pi-vm1");
  item.set_vm_id("vm1");
  item.set_pairing_id("pair-gold1-gold2");
  ASSERT_OK(e().Put(item));
  Reopen();
  EXPECT_STATUS(f().UnpairClouds("pair-gold1-gold2"), kFailedPrecondition,
                "pairing 'pair-gold1-gold2' still protects VMs: VM1");
  EXPECT_STATUS(f().UnregisterServer("vmm-chi"), kFailedPrecondition,
                "VMM server 'vmm-chi' still has protected VMs: VM1");
  model::Inventory ny = NewYorkInventory();
  ny.mutable_virtual_machines()->DeleteSubrange(0, 1);
  EXPECT_STATUS(f().SyncInventory("vmm-ny", &ny, ""), kFailedPrecondition,
                "the inventory no longer has VM 'VM1', which is protected");
  ASSERT_OK(e().DeleteObject("protected-item", "pi-vm1"));
  Reopen();
  auto job = f().UnregisterServer("vmm-ny");
  ASSERT_OK(job);
  EXPECT_FALSE(e().Get<model::VmmServer>("vmm-ny").ok());
  EXPECT_FALSE(e().Get<model::Cloud>("gold1").ok());
  EXPECT_FALSE(e().Get<model::CloudPairing>("pair-gold1-gold2").ok());
  EXPECT_EQ(e().List<model::VirtualMachine>()->size(), 0u);
  EXPECT_OK(e().Get<model::Cloud>("gold2"));  // the other server's stay
}

TEST_F(FabricTest, PairedCloudCannotVanishFromInventory) {
  RegisterBoth();
  ASSERT_OK(f().PairClouds("gold1", "gold2"));
  model::Inventory chi = ChicagoInventory();
  chi.mutable_clouds()->DeleteSubrange(0, 1);
  EXPECT_STATUS(f().SyncInventory("vmm-chi", &chi, ""), kFailedPrecondition,
                "the inventory no longer has cloud 'GoldCloud2', which is in pairing");
}

}  // namespace
}  // namespace asr::fabric
