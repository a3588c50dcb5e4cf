#include "asr/net/x509_util.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/mem.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "asr/platform/socket.h"

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

std::vector<std::string> SubjectAltNames(const X509* cert) {
  std::vector<std::string> out;
  if (cert == nullptr) return out;
  bssl::UniquePtr<GENERAL_NAMES> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  ERR_clear_error();
  if (!names) return out;
  for (size_t i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    if (gn->type == GEN_DNS) {
      const ASN1_STRING* s = gn->d.dNSName;
      out.push_back(absl::StrCat(
          "DNS:", absl::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                    static_cast<size_t>(ASN1_STRING_length(s)))));
    } else if (gn->type == GEN_IPADD) {
      const ASN1_STRING* s = gn->d.iPAddress;
      const std::string text = platform::IpAddressToString(
          ASN1_STRING_get0_data(s), static_cast<size_t>(ASN1_STRING_length(s)));
      if (!text.empty()) out.push_back(absl::StrCat("IP:", text));
    }
  }
  return out;
}

std::string SerialHex(const ASN1_INTEGER* serial) {
  if (serial == nullptr) return "(none)";
  bssl::UniquePtr<BIGNUM> bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!bn) {
    ERR_clear_error();
    return "(bad serial)";
  }
  char* hex = BN_bn2hex(bn.get());
  if (hex == nullptr) {
    ERR_clear_error();
    return "(bad serial)";
  }
  std::string out = absl::AsciiStrToUpper(hex);
  OPENSSL_free(hex);
  return out;
}

std::string SerialHex(const X509* cert) {
  return cert == nullptr ? "(none)" : SerialHex(X509_get0_serialNumber(cert));
}

std::vector<bssl::UniquePtr<X509>> ParseCertificatesPem(absl::string_view pem) {
  std::vector<bssl::UniquePtr<X509>> out;
  bssl::UniquePtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return out;
  for (;;) {
    bssl::UniquePtr<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    out.push_back(std::move(cert));
  }
  ERR_clear_error();
  return out;
}

bssl::UniquePtr<X509_CRL> ParseCrlPem(absl::string_view pem) {
  bssl::UniquePtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  bssl::UniquePtr<X509_CRL> crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  return crl;
}

absl::StatusOr<bssl::UniquePtr<X509_CRL>> ParseCheckedCrl(
    absl::string_view pem, absl::string_view source, const std::vector<bssl::UniquePtr<X509>>& cas,
    absl::Time at) {
  constexpr char kReissue[] =
      "; re-issue it on the vault with `asrctl pki crl --dir DIR` and copy DIR/crl.pem to this "
      "host";
  bssl::UniquePtr<X509_CRL> crl = ParseCrlPem(pem);
  if (!crl) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, " holds no PEM certificate revocation list (expected the vault's crl.pem)"));
  }
  bool signed_by_ca = false;
  for (const bssl::UniquePtr<X509>& ca : cas) {
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(ca.get())) != 0) {
      continue;
    }
    bssl::UniquePtr<EVP_PKEY> key(X509_get_pubkey(ca.get()));
    if (key && X509_CRL_verify(crl.get(), key.get()) == 1) {
      signed_by_ca = true;
      break;
    }
  }
  ERR_clear_error();
  if (!signed_by_ca) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the revocation list ", source, " (issuer ", NameString(X509_CRL_get_issuer(crl.get())),
        ") is not signed by this vault's certificate authority, so it cannot be trusted and no "
        "peer is accepted",
        kReissue));
  }
  if (at == absl::InfinitePast()) return crl;  // the signature only (to re-issue it)
  absl::Time last = Asn1TimeToAbsl(X509_CRL_get0_lastUpdate(crl.get()));
  const ASN1_TIME* next_asn1 = X509_CRL_get0_nextUpdate(crl.get());
  if (next_asn1 == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("the revocation list ", source, " has no nextUpdate time", kReissue));
  }
  absl::Time next = Asn1TimeToAbsl(next_asn1);
  auto when = [](absl::Time t) {
    return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", t, absl::UTCTimeZone());
  };
  if (last > at + absl::Hours(1)) {
    return absl::FailedPreconditionError(absl::StrCat("the revocation list ", source,
                                                      " is issued in the future (lastUpdate ",
                                                      when(last), "); check this host's clock"));
  }
  if (!(next > at)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the revocation list ", source, " is out of date: its nextUpdate ", when(next),
        " has passed, so revocations since then could be missing and no peer is accepted",
        kReissue));
  }
  return crl;
}

std::string RevocationReason(const X509_REVOKED* entry) {
  bssl::UniquePtr<ASN1_ENUMERATED> code(static_cast<ASN1_ENUMERATED*>(
      X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, nullptr, nullptr)));
  ERR_clear_error();
  if (!code) return "unspecified";
  switch (ASN1_ENUMERATED_get(code.get())) {
    case 1:
      return "keyCompromise";
    case 2:
      return "cACompromise";
    case 3:
      return "affiliationChanged";
    case 4:
      return "superseded";
    case 5:
      return "cessationOfOperation";
    case 6:
      return "certificateHold";
    case 9:
      return "privilegeWithdrawn";
    default:
      return "unspecified";
  }
}

std::string RevocationMessage(X509_CRL* crl, X509* cert) {
  if (crl == nullptr || cert == nullptr) return "";
  X509_REVOKED* entry = nullptr;
  int found =
      X509_CRL_get0_by_serial(crl, &entry, const_cast<ASN1_INTEGER*>(X509_get0_serialNumber(cert)));
  ERR_clear_error();
  if (found != 1 || entry == nullptr) return "";
  return absl::StrCat("certificate of ", SubjectString(cert), " (serial ", SerialHex(cert),
                      ") was revoked by the vault CA at ",
                      absl::FormatTime("%Y-%m-%d %H:%M:%S UTC",
                                       Asn1TimeToAbsl(X509_REVOKED_get0_revocationDate(entry)),
                                       absl::UTCTimeZone()),
                      " (reason ", RevocationReason(entry),
                      "); the host needs a new certificate from the vault (asrctl pki issue)");
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
      return absl::StrCat(
          "certificate of ", subject, " expired at ",
          absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", Asn1TimeToAbsl(X509_get0_notAfter(cert)),
                           absl::UTCTimeZone()),
          kRenew);
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return absl::StrCat(
          "certificate of ", subject, " is not valid before ",
          absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", Asn1TimeToAbsl(X509_get0_notBefore(cert)),
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
          " by this vault's certificate authority (subject ", subject, ", issuer ",
          cert == nullptr ? "(none)" : NameString(X509_get_issuer_name(cert)), ": ",
          X509_verify_cert_error_string(err),
          "); both hosts need certificates from the same vault CA (asrctl pki init / "
          "asrctl pki issue) and that CA's ca.pem");
    default:
      return absl::StrCat("certificate of ", subject,
                          " failed verification: ", X509_verify_cert_error_string(err), kRenew);
  }
}

}  // namespace asr::net::internal
