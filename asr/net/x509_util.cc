#include "asr/net/x509_util.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/mem.h>
#include <openssl/pem.h>

#include "absl/strings/str_cat.h"

namespace asr::net::internal {

bssl::UniquePtr<X509> ParseCertificatePem(absl::string_view pem) {
  bssl::UniquePtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  bssl::UniquePtr<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  return cert;
}

bssl::UniquePtr<EVP_PKEY> ParsePrivateKeyPem(absl::string_view pem) {
  bssl::UniquePtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  bssl::UniquePtr<EVP_PKEY> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  return key;
}

std::string NameString(const X509_NAME* name) {
  if (name == nullptr) return "(no name)";
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return "(bad name)";
  const uint8_t* data = nullptr;
  size_t len = 0;
  if (!BIO_mem_contents(bio.get(), &data, &len)) return "(bad name)";
  std::string out(reinterpret_cast<const char*>(data), len);
  return out.empty() ? "(empty name)" : out;
}

std::string SubjectString(const X509* cert) {
  return cert == nullptr ? "(no certificate)" : NameString(X509_get_subject_name(cert));
}

std::string CommonName(const X509* cert) {
  if (cert == nullptr) return "";
  char buf[256];
  int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf,
                                    static_cast<int>(sizeof(buf)));
  return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
}

absl::Time Asn1TimeToAbsl(const ASN1_TIME* t) {
  if (t == nullptr) return absl::InfinitePast();
  bssl::UniquePtr<ASN1_TIME> epoch(ASN1_TIME_set(nullptr, 0));
  int days = 0;
  int seconds = 0;
  if (!epoch || !ASN1_TIME_diff(&days, &seconds, epoch.get(), t)) {
    ERR_clear_error();
    return absl::InfinitePast();
  }
  return absl::UnixEpoch() + absl::Hours(24) * days + absl::Seconds(seconds);
}

std::string LastSslError() {
  uint32_t err = ERR_get_error();
  ERR_clear_error();
  if (err == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(err, buf, sizeof(buf));
  return buf;
}

std::string VerifyFailureMessage(absl::string_view who, long err, X509* cert) {
  std::string subject = SubjectString(cert);
  constexpr char kRenew[] =
      "; issue a new one from the vault's certificate authority with `asrctl pki issue`";
  switch (err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return absl::StrCat("certificate of ", subject, " expired at ",
                          absl::FormatTime("%Y-%m-%d %H:%M:%S UTC",
                                           Asn1TimeToAbsl(X509_get0_notAfter(cert)),
                                           absl::UTCTimeZone()),
                          kRenew);
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return absl::StrCat("certificate of ", subject, " is not valid before ",
                          absl::FormatTime("%Y-%m-%d %H:%M:%S UTC",
                                           Asn1TimeToAbsl(X509_get0_notBefore(cert)),
                                           absl::UTCTimeZone()),
                          "; check both hosts' clocks");
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return absl::StrCat("certificate of ", subject,
                          " is not for the expected host name or address (",
                          X509_verify_cert_error_string(err),
                          "); issue the host a certificate naming it with `asrctl pki issue`");
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_INVALID_CA:
      return absl::StrCat(
          who.empty() ? absl::StrCat("certificate of ", subject, " is not issued")
                      : absl::StrCat(std::string(who), " a certificate not issued"),
          " by this vault's certificate authority (subject ", subject,
          ", issuer ", cert == nullptr ? "(none)" : NameString(X509_get_issuer_name(cert)),
          ": ", X509_verify_cert_error_string(err),
          "); both hosts need certificates from the same vault CA (asrctl pki init / "
          "asrctl pki issue) and that CA's ca.pem");
    default:
      return absl::StrCat("certificate of ", subject, " failed verification: ",
                          X509_verify_cert_error_string(err), kRenew);
  }
}

}  // namespace asr::net::internal
