#include "asr/cli/pki_commands.h"

#include <sys/stat.h>

#include <sstream>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "asr/common/file_util.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/fabric/key_provider.h"
#include "asr/net/pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asr::cli {
namespace {

using ::asr::testing::TestDir;
using ::testing::HasSubstr;

struct Result {
  int code;
  std::string out;
  std::string err;
};

Result Asrctl(const std::vector<std::string>& args) {
  CommandRegistry registry;
  RegisterPkiCommands(registry);
  std::ostringstream out, err;
  int code = registry.Run(args, out, err);
  return {code, out.str(), err.str()};
}

mode_t Mode(const std::string& path) {
  struct stat st;
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

TEST(PkiCommandsTest, InitCreatesVerifiableCertificatesWithPrivateKeys) {
  std::string dir = TestDir("pki_cli") + "/vault";
  Result r = Asrctl({"pki", "init", "--dir", dir, "--primary-name", "hv-01", "--recovery-name",
                     "hv-02", "--days", "30"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("CN=hv-01"));
  for (const char* f :
       {"ca.pem", "ca.key", "primary.pem", "primary.key", "recovery.pem", "recovery.key"}) {
    EXPECT_TRUE(PathExists(dir + "/" + f)) << f;
  }
  for (const char* key : {"ca.key", "primary.key", "recovery.key"}) {
    EXPECT_EQ(Mode(dir + "/" + key), 0600u) << key;
  }
  auto ca = ReadFileToString(dir + "/ca.pem");
  ASSERT_OK(ca);
  for (const char* host : {"primary", "recovery"}) {
    auto cert = ReadFileToString(dir + "/" + host + ".pem");
    auto key = ReadFileToString(dir + "/" + host + ".key");
    ASSERT_TRUE(cert.ok() && key.ok());
    EXPECT_OK(net::VerifyCertificateChain(*cert, *ca, absl::Now())) << host;
    EXPECT_OK(net::CheckKeyMatchesCertificate(*cert, *key)) << host;
    auto info = net::DescribeCertificate(*cert);
    ASSERT_OK(info);
    EXPECT_EQ(info->common_name, std::string(host) == "primary" ? "hv-01" : "hv-02");
    EXPECT_LT(info->not_after, absl::Now() + absl::Hours(24 * 31));
  }

  // Never overwrites an existing CA.
  Result again = Asrctl({"pki", "init", "--dir", dir});
  EXPECT_EQ(again.code, 1);
  EXPECT_THAT(again.err, HasSubstr("already holds a certificate authority"));

  Result issue = Asrctl(
      {"--json", "pki", "issue", "--dir", dir, "--name", "hv-03", "--san", "10.1.2.3,hv-03.lab"});
  ASSERT_EQ(issue.code, 0) << issue.err;
  EXPECT_THAT(issue.out, HasSubstr("\"IP:10.1.2.3\""));
  EXPECT_EQ(Mode(dir + "/hv-03.key"), 0600u);

  Result show = Asrctl({"pki", "show", dir + "/hv-03.pem", "--ca", dir + "/ca.pem"});
  EXPECT_EQ(show.code, 0) << show.err;
  EXPECT_THAT(show.out, HasSubstr("verified against"));

  std::string other = TestDir("pki_cli") + "/other";
  ASSERT_EQ(Asrctl({"pki", "init", "--dir", other}).code, 0);
  Result foreign = Asrctl({"pki", "show", dir + "/hv-03.pem", "--ca", other + "/ca.pem"});
  EXPECT_EQ(foreign.code, 1);
  EXPECT_THAT(foreign.err, HasSubstr("not issued by this vault's certificate authority"));
}

TEST(PkiCommandsTest, UsageErrors) {
  EXPECT_EQ(Asrctl({"pki", "init"}).code, 2);  // --dir is required
  EXPECT_EQ(Asrctl({"pki", "init", "--dir", TestDir("pki_cli"), "--days", "0"}).code, 2);
  Result no_ca = Asrctl({"pki", "issue", "--dir", TestDir("pki_cli"), "--name", "h"});
  EXPECT_EQ(no_ca.code, 1);
  EXPECT_THAT(no_ca.err, HasSubstr("asrctl pki init"));
}

// A copy of the PKI directory signs nothing: with a key-encryption key the
// CA's private key is stored only wrapped, and issuing or revoking needs the
// key file that wrapped it.
TEST(PkiCommandsTest, CaKeyIsWrappedByTheKeyEncryptionKey) {
  std::string root = TestDir("pki_cli_wrapped");
  std::string dir = root + "/vault";
  std::string kek = root + "/kek";
  std::string other = root + "/other-kek";
  ASSERT_OK(fabric::CreateKeyFile(kek));
  ASSERT_OK(fabric::CreateKeyFile(other));
  Result r = Asrctl({"--key-file", kek, "pki", "init", "--dir", dir});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("wrapped by"));
  ASSERT_OK_AND_ASSIGN(std::string stored, ReadFileToString(dir + "/ca.key"));
  EXPECT_TRUE(net::IsWrappedPrivateKey(stored));
  EXPECT_THAT(stored, ::testing::Not(HasSubstr("-----BEGIN PRIVATE KEY")));
  EXPECT_THAT(stored, ::testing::Not(HasSubstr("-----BEGIN EC PRIVATE KEY")));
  EXPECT_EQ(Mode(dir + "/ca.key"), 0600u);

  // Without the key file, or with another one: refused, saying what to do.
  Result bare = Asrctl({"pki", "issue", "--dir", dir, "--name", "hv-05"});
  EXPECT_NE(bare.code, 0);
  EXPECT_THAT(bare.err, HasSubstr("is wrapped by a key-encryption key"));
  EXPECT_THAT(bare.err, HasSubstr("--key-file"));
  EXPECT_FALSE(PathExists(dir + "/hv-05.pem"));
  Result wrong = Asrctl({"--key-file", other, "pki", "revoke", "--dir", dir, "--name", "primary"});
  EXPECT_NE(wrong.code, 0);
  EXPECT_THAT(wrong.err, HasSubstr("use the key file that wrapped it"));
  EXPECT_FALSE(PathExists(dir + "/crl.pem"));

  // With it: the CA signs as before.
  Result issue = Asrctl({"--key-file", kek, "pki", "issue", "--dir", dir, "--name", "hv-05"});
  ASSERT_EQ(issue.code, 0) << issue.err;
  ASSERT_OK_AND_ASSIGN(std::string ca, ReadFileToString(dir + "/ca.pem"));
  ASSERT_OK_AND_ASSIGN(std::string cert, ReadFileToString(dir + "/hv-05.pem"));
  EXPECT_OK(net::VerifyCertificateChain(cert, ca, absl::Now()));
  Result revoke = Asrctl({"--key-file", kek, "pki", "revoke", "--dir", dir, "--name", "hv-05"});
  ASSERT_EQ(revoke.code, 0) << revoke.err;
  ASSERT_OK_AND_ASSIGN(std::string crl, ReadFileToString(dir + "/crl.pem"));
  EXPECT_OK(net::VerifyCrl(crl, ca, absl::Now()));
  EXPECT_THAT(net::CheckNotRevoked(cert, crl, ca, absl::Now()),
              ::asr::testing::StatusIs(absl::StatusCode::kUnauthenticated));
}

}  // namespace
}  // namespace asr::cli
