// The vault's private keys at rest, attacked as a local user who can read
// every file of the state directory: neither the signing key nor the sealing
// key is in any of them, in any form; without the key-encryption key no
// registration key is minted and no proxy password unsealed; and a state
// directory written by an older version (keys in the clear) is wrapped on
// the first writable open with a key provider, leaving no clear copy in the
// journal or the snapshot.
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "asr/common/file_util.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/fabric/crypto.h"
#include "asr/fabric/key_provider.h"
#include "asr/fabric/vault.h"
#include "asr/jobs/test_util.h"
#include "asr/model/json.h"
#include "asr/platform/env.h"
#include "asr/repository/object_repository.h"
#include "asr/site_recovery/site_recovery.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asr {
namespace {

using ::asr::testing::TestDir;
using ::asr::testing::TestPath;
using ::testing::HasSubstr;

// Every file of `dir`, raw, as a local user would read them.
std::vector<std::pair<std::string, std::string>> ReadAllFiles(const std::string& dir) {
  std::vector<std::pair<std::string, std::string>> out;
  auto names = platform::Env::Default()->ListDirectory(dir);
  EXPECT_OK(names);
  for (const std::string& name : *names) {
    std::string path = JoinPath(dir, name);
    auto info = platform::Env::Default()->Stat(path);
    if (!info.ok() || info->type != platform::FileType::kRegular) continue;
    auto bytes = ReadFileToString(path);
    EXPECT_OK(bytes);
    out.emplace_back(path, *bytes);
  }
  return out;
}

// The ways a key could sit in a file: raw, hex, base64 (the JSON mapping).
std::vector<std::string> Forms(const std::string& key) {
  return {key, absl::BytesToHexString(key), absl::Base64Escape(key),
          key.substr(0, 32)};  // an Ed25519 seed alone
}

void ExpectNoFileHolds(const std::string& dir, const std::string& what, const std::string& key) {
  ASSERT_GE(key.size(), 32u);
  auto files = ReadAllFiles(dir);
  ASSERT_FALSE(files.empty());
  for (const auto& [path, bytes] : files) {
    for (const std::string& form : Forms(key)) {
      EXPECT_EQ(bytes.find(form), std::string::npos) << path << " holds the " << what;
    }
  }
}

class SecretsAtRestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestPath("state");
    kek_path_ = JoinPath(TestDir("kek"), "kek");  // a sibling, never inside the state
    ASSERT_OK(fabric::CreateKeyFile(kek_path_));
    keys_ = std::make_shared<fabric::KeyFileProvider>(kek_path_);
  }
  std::unique_ptr<SiteRecovery> Open(std::shared_ptr<fabric::KeyProvider> keys,
                                     bool read_only = false) {
    SiteRecoveryOptions o;
    o.clock = &clock_;
    o.read_only = read_only;
    o.key_provider = std::move(keys);
    auto sr = SiteRecovery::Open(dir_, o);
    EXPECT_OK(sr);
    return sr.ok() ? std::move(*sr) : nullptr;
  }
  // The signing and sealing key, unwrapped with the right KEK.
  model::VaultSecrets Unwrapped(SiteRecovery& sr) {
    model::Vault vault = *sr.fabric().vault().Get();
    model::VaultSecrets record;
    EXPECT_TRUE(
        record.ParseFromString(*sr.repository().store().Get(fabric::VaultSecretsKey(vault.id()))));
    EXPECT_FALSE(record.wrapped_secrets().empty());
    EXPECT_TRUE(record.signing_private_key().empty());
    EXPECT_TRUE(record.sealing_key().empty());
    auto kek = keys_->GetKey(fabric::kVaultSecretsPurpose);
    EXPECT_OK(kek);
    auto secrets = fabric::UnwrapVaultSecrets(record, *kek, keys_->Describe());
    EXPECT_OK(secrets);
    return *secrets;
  }
  absl::StatusOr<model::Job> RegisterWithProxy(SiteRecovery& sr, const std::string& name) {
    absl::StatusOr<std::string> key = sr.fabric().GenerateRegistrationKey();
    if (!key.ok()) return key.status();
    model::ServerRegistrationRequest r;
    r.set_credentials(*key);
    r.set_friendly_name(name);
    r.set_proxy_address("proxy.contoso.com");
    r.set_proxy_port(8080);
    r.set_proxy_user_name("svc");
    r.set_proxy_password("P@ssw0rd!");
    return sr.fabric().RegisterServer(r);
  }

  FakeClock clock_{absl::FromUnixSeconds(1700000000)};
  std::string dir_, kek_path_;
  std::shared_ptr<fabric::KeyProvider> keys_;
};

TEST_F(SecretsAtRestTest, ALocalUserReadingEveryStateFileFindsNoPrivateKey) {
  model::VaultSecrets secrets;
  std::string sealed;
  {
    auto sr = Open(keys_);
    ASSERT_OK(sr->Initialize());
    ASSERT_OK(sr->EnsureDefaultVault());
    ASSERT_OK(RegisterWithProxy(*sr, "vmm-ny"));
    secrets = Unwrapped(*sr);
    sealed = sr->fabric().FindServer("vmm-ny")->proxy().encrypted_password();
  }
  ASSERT_EQ(secrets.signing_private_key().size(), 64u);
  ASSERT_EQ(secrets.sealing_key().size(), 32u);
  // In the journal, before any compaction...
  ExpectNoFileHolds(dir_, "signing key", secrets.signing_private_key());
  ExpectNoFileHolds(dir_, "sealing key", secrets.sealing_key());
  // ...and in the snapshot after one.
  {
    auto sr = Open(keys_);
    ASSERT_OK(sr->repository().store().Compact());
  }
  ExpectNoFileHolds(dir_, "signing key", secrets.signing_private_key());
  ExpectNoFileHolds(dir_, "sealing key", secrets.sealing_key());
  // What the files do hold does not open the proxy password without the KEK:
  // the attacker's copy of the state, opened with no key provider...
  auto sr = Open(nullptr, /*read_only=*/true);
  EXPECT_STATUS(sr->fabric().vault().Unseal(sealed, "proxy-password:vmm-ny"), kFailedPrecondition,
                "no key provider is configured");
  EXPECT_STATUS(sr->fabric().GenerateRegistrationKey(), kFailedPrecondition,
                "no key provider is configured");
  sr.reset();
  // ...or with a key of their own.
  std::string mine = JoinPath(TestDir("attacker"), "kek");
  ASSERT_OK(fabric::CreateKeyFile(mine));
  sr = Open(std::make_shared<fabric::KeyFileProvider>(mine), /*read_only=*/true);
  EXPECT_STATUS(sr->fabric().GenerateRegistrationKey(), kPermissionDenied,
                "the key-encryption key does not open this vault's secrets");
  EXPECT_STATUS(sr->fabric().vault().Unseal(sealed, "proxy-password:vmm-ny"), kPermissionDenied,
                "does not open this vault's secrets");
  sr.reset();
  // The owner, with the key file, still can.
  sr = Open(keys_, /*read_only=*/true);
  EXPECT_EQ(*sr->fabric().vault().Unseal(sealed, "proxy-password:vmm-ny"), "P@ssw0rd!");
}

TEST_F(SecretsAtRestTest, AKeyFileOthersCanReadIsRefused) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<platform::File> f,
                       platform::Env::Default()->Open(kek_path_, platform::OpenOptions()));
  ASSERT_OK(f->SetPermissions(0644));
  auto sr = Open(keys_);
  EXPECT_STATUS(sr->EnsureDefaultVault(), kFailedPrecondition,
                "has mode 0644: other users may read it");
  EXPECT_STATUS(sr->fabric().vault().Get(), kNotFound, "no vault yet");
}

TEST_F(SecretsAtRestTest, ClearKeysOfAnOlderVersionAreWrappedAndTheClearCopyIsGone) {
  // The state an older version wrote: the vault's keys in the clear, in the
  // snapshot and in the journal.
  fabric::SigningKeyPair pair = fabric::NewSigningKeyPair();
  const std::string sealing = fabric::RandomBytes(fabric::kSealingKeySize);
  std::string old_sealed;
  {
    auto repo = std::move(*repository::ObjectRepository::Open(dir_, {}));
    ASSERT_OK(repo->Initialize());
    model::Vault vault;
    vault.set_id("vault-0123456789abcdef");
    vault.set_name("default");
    vault.set_region("on-premises");
    vault.set_signing_public_key(pair.public_key);
    vault.set_signing_algorithm("Ed25519");
    model::VaultSecrets clear;
    clear.set_vault_id(vault.id());
    clear.set_signing_private_key(pair.private_key);
    clear.set_sealing_key(sealing);
    store::WriteBatch batch;
    batch.Put(repository::ObjectRepository::Key("vault", vault.id()), vault.SerializeAsString());
    batch.Put(fabric::VaultSecretsKey(vault.id()), clear.SerializeAsString());
    ASSERT_OK(repo->store().Commit(batch));
    ASSERT_OK(repo->store().Compact());      // into the snapshot
    ASSERT_OK(repo->store().Commit(batch));  // and the journal
    old_sealed = *fabric::Seal(sealing, "P@ssw0rd!", "proxy-password:vmm-old");
  }
  bool clear_somewhere = false;
  for (const auto& [path, bytes] : ReadAllFiles(dir_)) {
    clear_somewhere |= bytes.find(pair.private_key) != std::string::npos;
  }
  ASSERT_TRUE(clear_somewhere);

  // Without a provider the clear keys are not used, and nothing changes.
  {
    auto sr = Open(nullptr);
    EXPECT_STATUS(sr->fabric().GenerateRegistrationKey(), kFailedPrecondition,
                  "still stored in the clear by an older version");
  }
  // A read-only open with a provider does not (cannot) wrap them.
  { auto sr = Open(keys_, /*read_only=*/true); }
  // The first writable open with a provider wraps them.
  {
    auto sr = Open(keys_);
    ASSERT_OK_AND_ASSIGN(std::string key_id, sr->fabric().vault().WrappingKeyId());
    EXPECT_EQ(key_id, keys_->GetKey(fabric::kVaultSecretsPurpose)->key_id);
    model::VaultSecrets secrets = Unwrapped(*sr);
    EXPECT_EQ(secrets.signing_private_key(), pair.private_key);
    EXPECT_EQ(secrets.sealing_key(), sealing);
    // The same keys: keys issued before still verify, passwords still open.
    ASSERT_OK_AND_ASSIGN(std::string key_file, sr->fabric().GenerateRegistrationKey());
    EXPECT_OK(sr->fabric().vault().VerifyRegistrationKey(key_file));
    EXPECT_EQ(*sr->fabric().vault().Unseal(old_sealed, "proxy-password:vmm-old"), "P@ssw0rd!");
  }
  // No file of the state directory keeps the clear copy.
  ExpectNoFileHolds(dir_, "signing key", pair.private_key);
  ExpectNoFileHolds(dir_, "sealing key", sealing);
  // And a second open has nothing left to wrap.
  auto sr = Open(keys_);
  EXPECT_OK(sr->fabric().GenerateRegistrationKey());
}

}  // namespace
}  // namespace asr
