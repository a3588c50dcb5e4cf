#include "asr/net/pki.h"

#include <openssl/base.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "asr/common/file_util.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/net/x509_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asr::net {
namespace {

using ::asr::testing::StatusIs;

using ::asr::testing::TestDir;
using ::testing::Contains;
using ::testing::HasSubstr;

mode_t FileMode(const std::string& path) {
  struct stat st;
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

// Checks the chain with BoringSSL directly (not through asr's helper).
bool BoringSslVerifies(const std::string& cert_pem, const std::string& ca_pem) {
  bssl::UniquePtr<X509> cert = internal::ParseCertificatePem(cert_pem);
  bssl::UniquePtr<X509> ca = internal::ParseCertificatePem(ca_pem);
  if (!cert || !ca) return false;
  bssl::UniquePtr<X509_STORE> store(X509_STORE_new());
  bssl::UniquePtr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  X509_STORE_add_cert(store.get(), ca.get());
  X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr);
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  bool server_ok = X509_verify_cert(ctx.get()) == 1;
  bssl::UniquePtr<X509_STORE_CTX> ctx2(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx2.get(), store.get(), cert.get(), nullptr);
  X509_STORE_CTX_set_purpose(ctx2.get(), X509_PURPOSE_SSL_CLIENT);
  bool client_ok = X509_verify_cert(ctx2.get()) == 1;
  return server_ok && client_ok;
}

TEST(PkiTest, CaIssuesHostCertificatesThatVerify) {
  absl::Time now = absl::Now();
  auto ca =
      CreateCertificateAuthority("test vault CA", now - absl::Hours(1), now + absl::Hours(48));
  ASSERT_OK(ca);
  EXPECT_THAT(ca->certificate_pem, HasSubstr("BEGIN CERTIFICATE"));
  EXPECT_THAT(ca->private_key_pem, HasSubstr("BEGIN PRIVATE KEY"));

  auto host = IssueHostCertificate(*ca, HostRequest("hv-01", now, 30, {"127.0.0.1", "hv-01.lab"}));
  ASSERT_OK(host);
  EXPECT_OK(VerifyCertificateChain(host->certificate_pem, ca->certificate_pem, now));
  EXPECT_TRUE(BoringSslVerifies(host->certificate_pem, ca->certificate_pem));
  EXPECT_OK(CheckKeyMatchesCertificate(host->certificate_pem, host->private_key_pem));
  EXPECT_FALSE(CheckKeyMatchesCertificate(host->certificate_pem, ca->private_key_pem).ok());

  auto info = DescribeCertificate(host->certificate_pem);
  ASSERT_OK(info);
  EXPECT_EQ(info->common_name, "hv-01");
  EXPECT_EQ(info->subject, "CN=hv-01");
  EXPECT_EQ(info->issuer, "CN=test vault CA");
  EXPECT_FALSE(info->is_ca);
  EXPECT_THAT(info->subject_alt_names, Contains("DNS:hv-01"));
  EXPECT_THAT(info->subject_alt_names, Contains("DNS:hv-01.lab"));
  EXPECT_THAT(info->subject_alt_names, Contains("IP:127.0.0.1"));
  EXPECT_LT(absl::AbsDuration(info->not_after - (now + absl::Hours(24 * 30))), absl::Seconds(5));

  auto ca_info = DescribeCertificate(ca->certificate_pem);
  ASSERT_OK(ca_info);
  EXPECT_TRUE(ca_info->is_ca);
  EXPECT_EQ(ca_info->subject, ca_info->issuer);
}

TEST(PkiTest, ForeignCaIsRefused) {
  absl::Time now = absl::Now();
  auto ca = CreateCertificateAuthority("vault CA", now - absl::Hours(1), now + absl::Hours(48));
  auto other = CreateCertificateAuthority("vault CA", now - absl::Hours(1), now + absl::Hours(48));
  ASSERT_TRUE(ca.ok() && other.ok());
  auto host = IssueHostCertificate(*other, HostRequest("intruder", now, 30));
  ASSERT_OK(host);
  absl::Status s = VerifyCertificateChain(host->certificate_pem, ca->certificate_pem, now);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("certificate of CN=intruder is not issued by this vault's certificate "
                        "authority"));
  EXPECT_FALSE(BoringSslVerifies(host->certificate_pem, ca->certificate_pem));
}

TEST(PkiTest, ExpiredCertificateIsRefused) {
  absl::Time now = absl::Now();
  auto ca =
      CreateCertificateAuthority("vault CA", now - absl::Hours(24 * 10), now + absl::Hours(48));
  ASSERT_OK(ca);
  auto host = IssueHostCertificate(*ca, HostRequest("old-host", now, -2));
  ASSERT_OK(host);
  absl::Status s = VerifyCertificateChain(host->certificate_pem, ca->certificate_pem, now);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(std::string(s.message()), HasSubstr("certificate of CN=old-host expired at "));
  // Valid at a time inside its window.
  EXPECT_OK(
      VerifyCertificateChain(host->certificate_pem, ca->certificate_pem, now - absl::Hours(60)));
}

TEST(PkiTest, RejectsBadInput) {
  absl::Time now = absl::Now();
  EXPECT_THAT(CreateCertificateAuthority("", now, now + absl::Hours(1)).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(CreateCertificateAuthority("x", now, now - absl::Hours(1)).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  PemKeyPair junk{"not a cert", "not a key"};
  EXPECT_THAT(IssueHostCertificate(junk, HostRequest("h", now, 1)).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(DescribeCertificate("garbage").status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// A private key is written 0600 through a fresh temporary file: a link
// planted at its name in the PKI directory is replaced, never written through.
TEST(PkiTest, KeyNotWrittenThroughAPlantedLink) {
  std::string dir = TestDir("pki_link") + "/pki";
  VaultPkiOptions options;
  ASSERT_OK(InitVaultPki(dir, options));
  const std::string victim = dir + "/victim";
  ASSERT_OK(WriteFileAtomically(victim, "untouched"));
  const std::string tmp = absl::StrCat(dir, "/hv-04.key.tmp.", ::getpid());
  ASSERT_EQ(::symlink(victim.c_str(), tmp.c_str()), 0);
  auto issued = IssueVaultHostCertificate(dir, "hv-04", 5, {});
  ASSERT_OK(issued);
  EXPECT_EQ(FileMode(dir + "/hv-04.key"), 0600u);
  EXPECT_EQ(*ReadFileToString(victim), "untouched");
  EXPECT_FALSE(PathExists(tmp));
}

TEST(PkiTest, VaultDirectoryRoundTrip) {
  std::string dir = TestDir("pki_test") + "/pki";
  VaultPkiOptions options;
  options.primary_name = "hv-primary";
  options.recovery_name = "hv-recovery";
  options.host_days = 10;
  auto files = InitVaultPki(dir, options);
  ASSERT_OK(files);
  EXPECT_EQ(files->ca_certificate_path, dir + "/ca.pem");
  EXPECT_EQ(files->primary.certificate_path, dir + "/primary.pem");
  EXPECT_EQ(files->recovery.key_path, dir + "/recovery.key");
  EXPECT_EQ(files->primary.info.common_name, "hv-primary");
  EXPECT_EQ(files->recovery.info.common_name, "hv-recovery");
  for (const char* key : {"ca.key", "primary.key", "recovery.key"}) {
    EXPECT_EQ(FileMode(dir + "/" + key), 0600u) << key;
  }
  for (const char* cert : {"ca.pem", "primary.pem", "recovery.pem"}) {
    EXPECT_EQ(FileMode(dir + "/" + cert), 0644u) << cert;
  }
  auto ca_pem = ReadFileToString(dir + "/ca.pem");
  ASSERT_OK(ca_pem);
  for (const char* host : {"primary", "recovery"}) {
    auto pair = ReadPemKeyPair(dir + "/" + host + ".pem", dir + "/" + host + ".key");
    ASSERT_OK(pair);
    EXPECT_OK(VerifyCertificateChain(pair->certificate_pem, *ca_pem, absl::Now()));
    EXPECT_TRUE(BoringSslVerifies(pair->certificate_pem, *ca_pem));
    EXPECT_OK(CheckKeyMatchesCertificate(pair->certificate_pem, pair->private_key_pem));
  }

  // A second init never overwrites the CA.
  auto again = InitVaultPki(dir, options);
  EXPECT_THAT(again.status(), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(std::string(again.status().message()), HasSubstr("asrctl pki issue"));

  auto issued = IssueVaultHostCertificate(dir, "hv-03", 5, {"10.0.0.3"});
  ASSERT_OK(issued);
  EXPECT_EQ(issued->certificate_path, dir + "/hv-03.pem");
  EXPECT_EQ(FileMode(dir + "/hv-03.key"), 0600u);
  EXPECT_THAT(issued->info.subject_alt_names, Contains("IP:10.0.0.3"));
  auto hv3 = ReadFileToString(dir + "/hv-03.pem");
  ASSERT_OK(hv3);
  EXPECT_OK(VerifyCertificateChain(*hv3, *ca_pem, absl::Now()));

  EXPECT_THAT(IssueVaultHostCertificate(dir, "../evil", 5, {}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(IssueVaultHostCertificate(dir, "ca", 5, {}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(IssueVaultHostCertificate(dir, "h", 0, {}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  auto no_ca = IssueVaultHostCertificate(TestDir("pki_test"), "h", 5, {});
  EXPECT_THAT(no_ca.status(), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(std::string(no_ca.status().message()), HasSubstr("asrctl pki init"));
}

}  // namespace
}  // namespace asr::net
