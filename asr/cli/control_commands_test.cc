// asrctl's control-plane verbs, run in-process over one state directory:
// init leaves a vault ready; the documents' New York / Chicago example goes
// through registration, inventory, pairing, policies and jobs.
#include "asr/cli/control_commands.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "asr/cli/core_commands.h"
#include "asr/cli/engine_options.h"
#include "asr/common/file_util.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/fabric/key_provider.h"
#include "asr/fabric/simulated_host.h"
#include "asr/model/json.h"
#include "asr/store/journal_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asr::cli {
namespace {

using ::testing::HasSubstr;

mode_t ModeOf(const std::string& path);

struct Result {
  int code;
  std::string out, err;
};

class ControlCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = asr::testing::TestDir("cli");
    dir_ = JoinPath(root_, "state");
    // The key-encryption key beside the state directory, never inside it.
    kek_ = JoinPath(root_, "kek");
    ASSERT_OK(fabric::CreateKeyFile(kek_));
    RegisterCoreCommands(registry_);
    RegisterControlCommands(registry_);
    RegisterKeyProviderCommands(registry_);
  }
  Result Run(const std::string& line, const std::string& input = "") {
    std::vector<std::string> args = {"--key-file", kek_};
    for (absl::string_view w : absl::StrSplit(line, ' ', absl::SkipEmpty())) {
      args.emplace_back(w);
    }
    return RunArgs(args, input);
  }
  // Without --key-file; `args` as given.
  Result RunArgs(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {"--state-dir", dir_});
    std::istringstream in(input);
    std::ostringstream out, err;
    int code = registry_.Run(args, in, out, err);
    return {code, out.str(), err.str()};
  }
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = JoinPath(root_, name);
    EXPECT_OK(WriteFileAtomically(path, text));
    return path;
  }
  void Prepare() {
    ASSERT_EQ(Run("init").code, 0);
    auto k = Run("key generate --output " + JoinPath(root_, "vault.key"));
    ASSERT_EQ(k.code, 0) << k.err;
    key_ = JoinPath(root_, "vault.key");
    auto ny = Run("server register --credentials " + key_ + " --friendly-name vmm-ny");
    ASSERT_EQ(ny.code, 0) << ny.err;
    auto chi = Run("server register --credentials " + key_ +
                   " --friendly-name vmm-chi --site recovery --sync-all-clouds");
    ASSERT_EQ(chi.code, 0) << chi.err;
    std::string nyf = Write("ny.json", model::ToJson(fabric::NewYorkInventory()));
    std::string chif = Write("chi.json", model::ToJson(fabric::ChicagoInventory()));
    auto s1 = Run("inventory sync --server vmm-ny --file " + nyf);
    ASSERT_EQ(s1.code, 0) << s1.err;
    auto s2 = Run("inventory sync --server vmm-ny --file " + nyf + " --cloud GoldCloud1");
    ASSERT_EQ(s2.code, 0) << s2.err;
    auto s3 = Run("inventory sync --server vmm-chi --file " + chif);
    ASSERT_EQ(s3.code, 0) << s3.err;
  }

  std::string root_, dir_, key_, kek_;
  CommandRegistry registry_;
};

TEST_F(ControlCommandsTest, InitLeavesAVaultReadyIdempotently) {
  ASSERT_EQ(Run("init").code, 0);
  auto again = Run("init");
  ASSERT_EQ(again.code, 0) << again.err;
  auto v = Run("vault show --json");
  ASSERT_EQ(v.code, 0) << v.err;
  EXPECT_THAT(v.out, HasSubstr("\"name\":\"default\""));
  auto create = Run("vault create --name x --region y");
  EXPECT_EQ(create.code, 1);
  EXPECT_THAT(create.err, HasSubstr("already holds vault 'default'"));
  EXPECT_THAT(create.err, HasSubstr("asrctl job show job-"));
}

// The vault's keys are wrapped by the key file's key: init needs a key
// provider, refuses a key file others can read, and the wrong key file opens
// nothing.
TEST_F(ControlCommandsTest, InitNeedsAPrivateKeyFile) {
  auto bare = RunArgs({"init"});
  EXPECT_EQ(bare.code, 1);
  EXPECT_THAT(bare.err, HasSubstr("no key provider is configured"));
  EXPECT_THAT(bare.err, HasSubstr("asrctl key-provider init --key-file PATH"));
  EXPECT_THAT(RunArgs({"vault", "show"}).err, HasSubstr("no vault yet"));

  const std::string loose = JoinPath(root_, "loose.kek");
  auto made = RunArgs({"key-provider", "init", "--key-file", loose});
  ASSERT_EQ(made.code, 0) << made.err;
  EXPECT_THAT(made.out, HasSubstr("created key file " + loose + " (mode 0600), key id kek-"));
  EXPECT_EQ(ModeOf(loose), 0600u);
  auto again = RunArgs({"key-provider", "init", "--key-file", loose});
  EXPECT_EQ(again.code, 1);
  EXPECT_THAT(again.err, HasSubstr("a key file is never overwritten"));
  ASSERT_EQ(::chmod(loose.c_str(), 0644), 0);
  auto refused = RunArgs({"--key-file", loose, "init"});
  EXPECT_EQ(refused.code, 1);
  EXPECT_THAT(refused.err, HasSubstr("has mode 0644: other users may read it"));
  EXPECT_THAT(refused.err, HasSubstr("chmod 600 " + loose));
  EXPECT_THAT(RunArgs({"vault", "show"}).err, HasSubstr("no vault yet"));

  // ASR_KEY_FILE and ASR_KEY_ENCRYPTION_KEY work as --key-file does.
  ASSERT_EQ(::setenv("ASR_KEY_FILE", kek_.c_str(), 1), 0);
  auto from_env = RunArgs({"init"});
  ::unsetenv("ASR_KEY_FILE");
  ASSERT_EQ(from_env.code, 0) << from_env.err;
  const std::string hex = *ReadFileToString(kek_);
  ASSERT_EQ(::setenv("ASR_KEY_ENCRYPTION_KEY", hex.substr(0, 64).c_str(), 1), 0);
  auto key_from_env = RunArgs({"key", "generate", "--output", JoinPath(root_, "k")});
  ::unsetenv("ASR_KEY_ENCRYPTION_KEY");
  EXPECT_EQ(key_from_env.code, 0) << key_from_env.err;
}

TEST_F(ControlCommandsTest, WithoutTheRightKeyFileNoKeyIsMinted) {
  Prepare();
  const std::string other = JoinPath(root_, "other.kek");
  ASSERT_EQ(RunArgs({"key-provider", "init", "--key-file", other}).code, 0);
  auto wrong = RunArgs({"--key-file", other, "key", "generate", "--output", JoinPath(root_, "x")});
  EXPECT_EQ(wrong.code, 1);
  EXPECT_THAT(wrong.err, HasSubstr("the key-encryption key does not open this vault's secrets"));
  EXPECT_FALSE(PathExists(JoinPath(root_, "x")));
  auto none = RunArgs({"key", "generate", "--output", JoinPath(root_, "x")});
  EXPECT_EQ(none.code, 1);
  EXPECT_THAT(none.err, HasSubstr("no key provider is configured"));
  auto proxy = RunArgs({"--key-file", other, "server", "register", "--credentials", key_,
                        "--friendly-name", "vmm-p", "--proxy-address", "proxy", "--proxy-port",
                        "3128", "--proxy-user", "asr", "--proxy-password-stdin"},
                       "pw\n");
  EXPECT_EQ(proxy.code, 1);
  EXPECT_THAT(proxy.err, HasSubstr("does not open this vault's secrets"));
  // Reads that need no private key work without it.
  EXPECT_EQ(RunArgs({"server", "list"}).code, 0);
}

// Every identifier option and argument is checked before anything runs.
TEST_F(ControlCommandsTest, OverLongAndNonUtf8IdentifiersAreRefused) {
  ASSERT_EQ(Run("init").code, 0);
  auto bad = Run("server unregister vmm\xff");
  EXPECT_EQ(bad.code, 2);
  EXPECT_THAT(bad.err, HasSubstr("argument 1 is not valid UTF-8 (byte 0xff at offset 3)"));
  auto newline = RunArgs(
      {"--key-file", kek_, "cloud", "pair", "--primary", "Gold\npoint 1", "--recovery", "Gold2"});
  EXPECT_EQ(newline.code, 2);
  EXPECT_THAT(newline.err, HasSubstr("--primary contains a control character (U+000a"));
  EXPECT_THAT(newline.err, HasSubstr("\"Gold\\npoint 1\""));
  auto long_name = Run("vault create --region r --name " + std::string(300, 'v'));
  EXPECT_EQ(long_name.code, 2);
  EXPECT_THAT(long_name.err, HasSubstr("--name is 300 bytes long; at most 256 are allowed"));
  auto empty = RunArgs({"--key-file", kek_, "inventory", "sync", "--server", "", "--file", "f"});
  EXPECT_EQ(empty.code, 2);
  EXPECT_THAT(empty.err, HasSubstr("--server must not be empty"));
  auto state = RunArgs({"--state-dir", dir_ + "\x80", "server", "list"});
  EXPECT_EQ(state.code, 2);
  EXPECT_THAT(state.err, HasSubstr("--state-dir is not valid UTF-8"));
  EXPECT_EQ(Run("server list").code, 0);
}

TEST_F(ControlCommandsTest, RegisterMirrorsTheDocumentedTool) {
  ASSERT_EQ(Run("init").code, 0);
  ASSERT_EQ(Run("key generate --output " + JoinPath(root_, "k")).code, 0);
  auto missing = Run("server register --credentials " + JoinPath(root_, "k"));
  EXPECT_EQ(missing.code, 2);
  EXPECT_THAT(missing.err, HasSubstr("--friendly-name NAME is mandatory"));
  auto no_key = Run("server register --friendly-name vmm-ny");
  EXPECT_EQ(no_key.code, 2);
  EXPECT_THAT(no_key.err, HasSubstr("--credentials FILE is mandatory"));
  auto ok = Run("server register --credentials " + JoinPath(root_, "k") +
                " --friendly-name vmm-ny --encryption-enabled C:\\asr.pfx --proxy-address proxy "
                "--proxy-port 3128 --proxy-user asr --proxy-password pw");
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_THAT(ok.err, HasSubstr("ignored for a secondary site"));
  EXPECT_THAT(ok.out, HasSubstr("Succeeded (CompletedWithInformation)"));
  EXPECT_THAT(ok.out, HasSubstr("the custom proxy was not tested"));
  auto list = Run("server list --json");
  EXPECT_THAT(list.out, HasSubstr("\"connectionType\":\"CONNECTION_TYPE_PROXY\""));
  EXPECT_THAT(list.out, Not(HasSubstr("\"pw\"")));
  auto bad = Write("bad.key", "{\"vaultId\":\"vault-x\",\"signature\":\"AAAA\"}");
  auto foreign = Run("key verify " + bad);
  EXPECT_EQ(foreign.code, 1);
  EXPECT_THAT(foreign.err, HasSubstr("belongs to vault"));
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// Every entry of the state directory, with its mode; the directory itself
// under ".".
std::map<std::string, mode_t> StateModes(const std::string& dir) {
  std::map<std::string, mode_t> out = {{".", ModeOf(dir)}};
  DIR* d = ::opendir(dir.c_str());
  EXPECT_NE(d, nullptr) << dir;
  if (d == nullptr) return out;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") out[name] = ModeOf(JoinPath(dir, name));
  }
  ::closedir(d);
  return out;
}

void ExpectPrivate(const std::string& dir) {
  for (const auto& [name, mode] : StateModes(dir)) {
    struct stat st;
    ASSERT_EQ(::lstat(JoinPath(dir, name).c_str(), &st), 0);
    EXPECT_EQ(mode, S_ISDIR(st.st_mode) ? 0700u : 0600u) << name;
  }
}

// The state directory holds the vault's keys: 0700, its files 0600, after
// init, after commits and after a compaction; a directory loosened by hand
// is tightened by the next command.
TEST_F(ControlCommandsTest, StateDirectoryIsPrivate) {
  auto init = Run("init");
  ASSERT_EQ(init.code, 0) << init.err;
  ASSERT_GE(StateModes(dir_).size(), 3u);  // ".", SNAPSHOT, a journal at least
  ExpectPrivate(dir_);
  Prepare();  // commits: keys, registrations, inventories
  ExpectPrivate(dir_);
  {
    auto store = store::OpenJournalStore(dir_, {});
    ASSERT_OK(store);
    ASSERT_OK((*store)->Compact());
  }
  ExpectPrivate(dir_);
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(store::SnapshotPath(dir_).c_str(), 0644), 0);
  auto list = Run("server list");
  ASSERT_EQ(list.code, 0) << list.err;
  ExpectPrivate(dir_);
  EXPECT_THAT(list.out, HasSubstr("vmm-chi"));  // nothing lost
}

// The registration key lets its holder register a server: `key generate
// --output` writes it 0600, replacing a looser file, and a link planted at
// the temporary file's name is replaced, not written through.
TEST_F(ControlCommandsTest, KeyFileIsPrivateAndNotWrittenThroughALink) {
  ASSERT_EQ(Run("init").code, 0);
  const std::string key = JoinPath(root_, "reg.key");
  const std::string victim = Write("victim", "do not overwrite");
  ASSERT_EQ(::chmod(victim.c_str(), 0644), 0);
  Write("reg.key", "an older, public file");
  ASSERT_EQ(::chmod(key.c_str(), 0644), 0);
  const std::string tmp = absl::StrCat(key, ".tmp.", ::getpid());
  ASSERT_EQ(::symlink(victim.c_str(), tmp.c_str()), 0);

  auto gen = Run("key generate --output " + key);
  ASSERT_EQ(gen.code, 0) << gen.err;
  EXPECT_EQ(ModeOf(key), 0600u);
  auto verify = Run("key verify " + key);
  EXPECT_EQ(verify.code, 0) << verify.err;
  EXPECT_EQ(*ReadFileToString(victim), "do not overwrite");
  EXPECT_EQ(ModeOf(victim), 0644u);
  EXPECT_FALSE(PathExists(tmp));
}

// The proxy password can come from a file or standard input, out of the
// process list; --proxy-password still works but warns that it is visible.
TEST_F(ControlCommandsTest, ProxyPasswordOutOfTheProcessList) {
  ASSERT_EQ(Run("init").code, 0);
  ASSERT_EQ(Run("key generate --output " + JoinPath(root_, "k")).code, 0);
  const std::string reg = "server register --credentials " + JoinPath(root_, "k") +
                          " --proxy-address proxy --proxy-port 3128 --proxy-user asr";
  auto registered = [&](const std::string& name) {
    auto list = Run("server list --json");
    EXPECT_EQ(list.code, 0) << list.err;
    // Never stored in plain text.
    EXPECT_THAT(list.out, Not(HasSubstr("s3cret")));
    return list.out.find(name) != std::string::npos;
  };

  const std::string pwfile = Write("proxy.pw", "s3cret-file\n");
  ASSERT_EQ(::chmod(pwfile.c_str(), 0600), 0);
  auto from_file = Run(reg + " --friendly-name vmm-a --proxy-password-file " + pwfile);
  ASSERT_EQ(from_file.code, 0) << from_file.err;
  EXPECT_THAT(from_file.err, Not(HasSubstr("warning")));
  EXPECT_TRUE(registered("vmm-a"));

  auto from_stdin = Run(reg + " --friendly-name vmm-b --proxy-password-stdin", "s3cret-in\n");
  ASSERT_EQ(from_stdin.code, 0) << from_stdin.err;
  EXPECT_THAT(from_stdin.err, Not(HasSubstr("warning")));
  EXPECT_TRUE(registered("vmm-b"));

  auto old_flag = Run(reg + " --friendly-name vmm-c --proxy-password s3cret-argv");
  ASSERT_EQ(old_flag.code, 0) << old_flag.err;
  EXPECT_THAT(old_flag.err, HasSubstr("warning: --proxy-password is visible to other users"));
  EXPECT_TRUE(registered("vmm-c"));

  ASSERT_EQ(::chmod(pwfile.c_str(), 0644), 0);
  auto loose = Run(reg + " --friendly-name vmm-d --proxy-password-file " + pwfile);
  ASSERT_EQ(loose.code, 0) << loose.err;
  EXPECT_THAT(loose.err, HasSubstr("is readable by other users"));

  auto empty = Run(reg + " --friendly-name vmm-e --proxy-password-stdin", "");
  EXPECT_EQ(empty.code, 2);
  EXPECT_THAT(empty.err, HasSubstr("no password on standard input"));
  auto both = Run(reg + " --friendly-name vmm-f --proxy-password x --proxy-password-stdin", "y\n");
  EXPECT_EQ(both.code, 2);
  EXPECT_THAT(both.err, HasSubstr("one way only"));
  auto missing =
      Run(reg + " --friendly-name vmm-g --proxy-password-file " + JoinPath(root_, "nope"));
  EXPECT_EQ(missing.code, 1);
  EXPECT_THAT(missing.err, HasSubstr("nope"));
  EXPECT_FALSE(registered("vmm-e"));
  EXPECT_FALSE(registered("vmm-f"));
  EXPECT_FALSE(registered("vmm-g"));
}

TEST_F(ControlCommandsTest, FullScenario) {
  Prepare();
  auto self = Run("cloud pair --primary GoldCloud1 --recovery GoldCloud1");
  EXPECT_EQ(self.code, 2);
  EXPECT_THAT(self.err, HasSubstr("cannot pair with itself"));
  auto pair = Run("cloud pair --primary GoldCloud1 --recovery GoldCloud2 --json");
  ASSERT_EQ(pair.code, 0) << pair.err;
  EXPECT_THAT(pair.out, HasSubstr("pair-gold1-gold2"));

  auto refused =
      Run("policy create --name old --replication-provider HyperVReplica2012 "
          "--replication-frequency-in-seconds 30");
  EXPECT_EQ(refused.code, 2);
  EXPECT_THAT(refused.err, HasSubstr("--replication-frequency-in-seconds is refused"));
  auto app =
      Run("policy create --name p --replication-provider HyperVReplica2012R2 "
          "--number-of-recovery-points-to-retain 2 "
          "--application-consistent-snapshot-frequency-in-hours 2");
  EXPECT_EQ(app.code, 2);
  EXPECT_THAT(app.err, HasSubstr("must be less than the number of additional recovery points"));

  auto create =
      Run("policy create --name gold --replication-provider HyperVReplica2012R2 "
          "--replication-frequency-in-seconds 30 --number-of-recovery-points-to-retain 4 "
          "--application-consistent-snapshot-frequency-in-hours 2 --compression Enable "
          "--authentication Kerberos --replication-method Offline "
          "--offline-export-path \\\\fs-ny\\export --offline-import-path \\\\fs-chi\\import "
          "--replica-deletion Required --json");
  ASSERT_EQ(create.code, 0) << create.err;
  auto show = Run("policy show gold --json");
  EXPECT_THAT(show.out, HasSubstr("\"replicationPort\":8083"));
  EXPECT_THAT(show.out, HasSubstr("\"replicaDeletion\":\"Required\""));
  EXPECT_THAT(show.out, HasSubstr("\"compressionEnabled\":true"));

  auto assoc = Run("policy associate --policy gold --pairing GoldCloud1");
  ASSERT_EQ(assoc.code, 0) << assoc.err;
  EXPECT_THAT(assoc.out, HasSubstr("Configure host hv-ny-01.contoso.com for policy gold"));
  auto update = Run("policy update --name gold --replication-port 9443");
  ASSERT_EQ(update.code, 0) << update.err;
  auto del = Run("policy delete gold");
  EXPECT_EQ(del.code, 1);
  EXPECT_THAT(del.err, HasSubstr("is associated with pairing 'pair-gold1-gold2'"));

  auto failed = Run("job list --state Failed --json");
  ASSERT_EQ(failed.code, 0) << failed.err;
  EXPECT_THAT(failed.out, HasSubstr("\"scenarioName\":\"DeletePolicy\""));
  auto all = Run("job list");
  EXPECT_THAT(all.out, HasSubstr("Register VMM server vmm-ny"));
  auto target = Run("job list --target pair-gold1-gold2 --json");
  EXPECT_THAT(target.out, HasSubstr("AssociatePolicy"));
  EXPECT_THAT(target.out, Not(HasSubstr("RegisterServer")));
  auto show_job = Run("job show job-000001");
  EXPECT_THAT(show_job.out, HasSubstr("Create vault default"));
  auto restart = Run("job restart job-000001");
  EXPECT_EQ(restart.code, 1);
  EXPECT_THAT(restart.err, HasSubstr("is Succeeded, not Failed"));
  auto bad_state = Run("job list --state Done");
  EXPECT_EQ(bad_state.code, 2);

  ASSERT_EQ(Run("policy dissociate --pairing GoldCloud1").code, 0);
  ASSERT_EQ(Run("cloud unpair GoldCloud1").code, 0);
  ASSERT_EQ(Run("policy delete gold").code, 0);
  auto unreg = Run("server unregister vmm-ny --json");
  ASSERT_EQ(unreg.code, 0) << unreg.err;
}

}  // namespace
}  // namespace asr::cli
