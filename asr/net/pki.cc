#include "asr/net/pki.h"

#include <openssl/asn1.h>
#include <openssl/base.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/digest.h>
#include <openssl/ec.h>
#include <openssl/ec_key.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/mem.h>
#include <openssl/nid.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/net/x509_util.h"
#include "asr/platform/socket.h"

namespace asr::net {
namespace {

using internal::Asn1TimeToAbsl;
using internal::LastSslError;
using internal::ParseCertificatePem;
using internal::ParsePrivateKeyPem;

bool IsIpAddress(absl::string_view text) { return platform::IsIpAddressLiteral(std::string(text)); }

absl::Status SslError(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", LastSslError()));
}

absl::StatusOr<bssl::UniquePtr<EVP_PKEY>> GenerateP256Key() {
  bssl::UniquePtr<EC_KEY> ec(EC_KEY_new_by_curve_name(NID_X9_62_prime256v1));
  if (!ec || !EC_KEY_generate_key(ec.get())) return SslError("cannot generate a P-256 key");
  bssl::UniquePtr<EVP_PKEY> key(EVP_PKEY_new());
  if (!key || !EVP_PKEY_assign_EC_KEY(key.get(), ec.release())) {
    return SslError("cannot wrap the P-256 key");
  }
  return key;
}

absl::StatusOr<std::string> PemOfCertificate(X509* cert) {
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || !PEM_write_bio_X509(bio.get(), cert)) return SslError("cannot encode certificate");
  const uint8_t* data = nullptr;
  size_t len = 0;
  BIO_mem_contents(bio.get(), &data, &len);
  return std::string(reinterpret_cast<const char*>(data), len);
}

absl::StatusOr<std::string> PemOfPrivateKey(EVP_PKEY* key) {
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  // PKCS#8 ("BEGIN PRIVATE KEY"), unencrypted: the file itself is mode 0600.
  if (!bio ||
      !PEM_write_bio_PKCS8PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr)) {
    return SslError("cannot encode private key");
  }
  const uint8_t* data = nullptr;
  size_t len = 0;
  BIO_mem_contents(bio.get(), &data, &len);
  return std::string(reinterpret_cast<const char*>(data), len);
}

absl::Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  bssl::UniquePtr<X509_EXTENSION> ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || !X509_add_ext(cert, ext.get(), -1)) {
    return SslError(absl::StrCat("cannot add extension ", OBJ_nid2sn(nid), "=", value));
  }
  return absl::OkStatus();
}

absl::Status SetValidity(X509* cert, absl::Time not_before, absl::Time not_after) {
  if (!(not_after > not_before)) {
    return absl::InvalidArgumentError("a certificate's end of validity must follow its start");
  }
  if (!ASN1_TIME_set(X509_getm_notBefore(cert), absl::ToTimeT(not_before)) ||
      !ASN1_TIME_set(X509_getm_notAfter(cert), absl::ToTimeT(not_after))) {
    return SslError("cannot set the certificate's validity");
  }
  return absl::OkStatus();
}

// A new v3 certificate with a random 127-bit positive serial, subject CN and
// public key; not yet signed.
absl::StatusOr<bssl::UniquePtr<X509>> NewCertificate(absl::string_view common_name,
                                                     EVP_PKEY* public_key) {
  bssl::UniquePtr<X509> cert(X509_new());
  bssl::UniquePtr<BIGNUM> serial(BN_new());
  if (!cert || !serial || !X509_set_version(cert.get(), X509_VERSION_3) ||
      !BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
      !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) ||
      !X509_set_pubkey(cert.get(), public_key)) {
    return SslError("cannot create a certificate");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                  reinterpret_cast<const uint8_t*>(common_name.data()),
                                  static_cast<int>(common_name.size()), -1, 0)) {
    return SslError(absl::StrCat("cannot set the certificate's name to \"", common_name, "\""));
  }
  return cert;
}

// The CN is at most 64 characters (RFC 5280 ub-common-name).
absl::Status CheckCommonName(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("a certificate needs a non-empty name");
  if (name.size() > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("certificate name \"", name, "\" is longer than 64 characters"));
  }
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == ',') {
      return absl::InvalidArgumentError(
          absl::StrCat("certificate name \"", name, "\" contains a control character or a comma"));
    }
  }
  return absl::OkStatus();
}

std::string HexFingerprint(const X509* cert) {
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  if (!X509_digest(cert, EVP_sha256(), md, &len)) return "";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    if (i > 0) out += ':';
    out += absl::StrCat(absl::Hex(md[i], absl::kZeroPad2));
  }
  return absl::AsciiStrToUpper(out);
}

bool IsPlainFileName(const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name == "ca") return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') {
      return false;
    }
  }
  return true;
}

absl::StatusOr<HostCertificateFiles> WriteHost(const std::string& dir, const std::string& base,
                                               const PemKeyPair& pair) {
  ASR_RETURN_IF_ERROR(WritePemKeyPair(dir, base, pair));
  HostCertificateFiles files;
  files.certificate_path = JoinPath(dir, base + ".pem");
  files.key_path = JoinPath(dir, base + ".key");
  ASR_ASSIGN_OR_RETURN(files.info, DescribeCertificate(pair.certificate_pem));
  return files;
}

}  // namespace

CertificateRequest HostRequest(absl::string_view name, absl::Time now, int days,
                               const std::vector<std::string>& extra_names) {
  CertificateRequest r;
  r.common_name = std::string(name);
  std::vector<std::string> names = {std::string(name)};
  names.insert(names.end(), extra_names.begin(), extra_names.end());
  for (const std::string& n : names) {
    if (n.empty()) continue;
    (IsIpAddress(n) ? r.ip_addresses : r.dns_names).push_back(n);
  }
  if (days >= 0) {
    r.not_before = now - absl::Hours(1);
    r.not_after = now + absl::Hours(24) * days;
  } else {
    r.not_before = now + absl::Hours(24) * days - absl::Hours(24);
    r.not_after = now + absl::Hours(24) * days;
  }
  return r;
}

absl::StatusOr<PemKeyPair> CreateCertificateAuthority(absl::string_view common_name,
                                                      absl::Time not_before, absl::Time not_after) {
  ASR_RETURN_IF_ERROR(CheckCommonName(common_name));
  ASR_ASSIGN_OR_RETURN(bssl::UniquePtr<EVP_PKEY> key, GenerateP256Key());
  ASR_ASSIGN_OR_RETURN(bssl::UniquePtr<X509> cert, NewCertificate(common_name, key.get()));
  if (!X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()))) {
    return SslError("cannot set the CA's issuer name");
  }
  ASR_RETURN_IF_ERROR(SetValidity(cert.get(), not_before, not_after));
  ASR_RETURN_IF_ERROR(
      AddExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
  ASR_RETURN_IF_ERROR(
      AddExtension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign"));
  ASR_RETURN_IF_ERROR(AddExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  if (!X509_sign(cert.get(), key.get(), EVP_sha256())) return SslError("cannot sign the CA");
  PemKeyPair out;
  ASR_ASSIGN_OR_RETURN(out.certificate_pem, PemOfCertificate(cert.get()));
  ASR_ASSIGN_OR_RETURN(out.private_key_pem, PemOfPrivateKey(key.get()));
  return out;
}

absl::StatusOr<PemKeyPair> IssueHostCertificate(const PemKeyPair& ca,
                                                const CertificateRequest& request) {
  ASR_RETURN_IF_ERROR(CheckCommonName(request.common_name));
  bssl::UniquePtr<X509> ca_cert = ParseCertificatePem(ca.certificate_pem);
  if (!ca_cert) return absl::InvalidArgumentError("the CA certificate is not a PEM certificate");
  bssl::UniquePtr<EVP_PKEY> ca_key = ParsePrivateKeyPem(ca.private_key_pem);
  if (!ca_key) return absl::InvalidArgumentError("the CA key is not a PEM private key");
  if (!X509_check_private_key(ca_cert.get(), ca_key.get())) {
    ERR_clear_error();
    return absl::InvalidArgumentError("the CA key does not belong to the CA certificate");
  }
  ASR_ASSIGN_OR_RETURN(bssl::UniquePtr<EVP_PKEY> key, GenerateP256Key());
  ASR_ASSIGN_OR_RETURN(bssl::UniquePtr<X509> cert, NewCertificate(request.common_name, key.get()));
  if (!X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get()))) {
    return SslError("cannot set the certificate's issuer");
  }
  ASR_RETURN_IF_ERROR(SetValidity(cert.get(), request.not_before, request.not_after));
  ASR_RETURN_IF_ERROR(
      AddExtension(cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE"));
  ASR_RETURN_IF_ERROR(
      AddExtension(cert.get(), ca_cert.get(), NID_key_usage, "critical,digitalSignature"));
  ASR_RETURN_IF_ERROR(
      AddExtension(cert.get(), ca_cert.get(), NID_ext_key_usage, "serverAuth,clientAuth"));
  ASR_RETURN_IF_ERROR(AddExtension(cert.get(), ca_cert.get(), NID_subject_key_identifier, "hash"));
  ASR_RETURN_IF_ERROR(
      AddExtension(cert.get(), ca_cert.get(), NID_authority_key_identifier, "keyid:always"));
  std::vector<std::string> sans;
  for (const std::string& d : request.dns_names) {
    if (d.empty() || d.find_first_of(",: ") != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("\"", d, "\" is not a valid DNS name"));
    }
    sans.push_back("DNS:" + d);
  }
  for (const std::string& ip : request.ip_addresses) {
    if (!IsIpAddress(ip)) {
      return absl::InvalidArgumentError(absl::StrCat("\"", ip, "\" is not an IP address"));
    }
    sans.push_back("IP:" + ip);
  }
  if (!sans.empty()) {
    ASR_RETURN_IF_ERROR(
        AddExtension(cert.get(), ca_cert.get(), NID_subject_alt_name, absl::StrJoin(sans, ",")));
  }
  if (!X509_sign(cert.get(), ca_key.get(), EVP_sha256())) {
    return SslError("cannot sign the host certificate");
  }
  PemKeyPair out;
  ASR_ASSIGN_OR_RETURN(out.certificate_pem, PemOfCertificate(cert.get()));
  ASR_ASSIGN_OR_RETURN(out.private_key_pem, PemOfPrivateKey(key.get()));
  return out;
}

absl::StatusOr<CertificateInfo> DescribeCertificate(absl::string_view pem) {
  bssl::UniquePtr<X509> cert = ParseCertificatePem(pem);
  if (!cert) return absl::InvalidArgumentError("not a PEM certificate");
  CertificateInfo info;
  info.subject = internal::SubjectString(cert.get());
  info.common_name = internal::CommonName(cert.get());
  info.issuer = internal::NameString(X509_get_issuer_name(cert.get()));
  info.not_before = Asn1TimeToAbsl(X509_get0_notBefore(cert.get()));
  info.not_after = Asn1TimeToAbsl(X509_get0_notAfter(cert.get()));
  info.sha256_fingerprint = HexFingerprint(cert.get());
  info.serial = internal::SerialHex(cert.get());
  bssl::UniquePtr<BASIC_CONSTRAINTS> bc(static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(cert.get(), NID_basic_constraints, nullptr, nullptr)));
  info.is_ca = bc && bc->ca;
  bssl::UniquePtr<GENERAL_NAMES> names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  if (names) {
    for (size_t i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
      if (gn->type == GEN_DNS) {
        const ASN1_STRING* s = gn->d.dNSName;
        info.subject_alt_names.push_back(absl::StrCat(
            "DNS:", absl::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                      static_cast<size_t>(ASN1_STRING_length(s)))));
      } else if (gn->type == GEN_IPADD) {
        const ASN1_STRING* s = gn->d.iPAddress;
        const std::string text = platform::IpAddressToString(
            ASN1_STRING_get0_data(s), static_cast<size_t>(ASN1_STRING_length(s)));
        if (!text.empty()) info.subject_alt_names.push_back(absl::StrCat("IP:", text));
      }
    }
  }
  ERR_clear_error();
  return info;
}

std::string FormatCertificateTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", t, absl::UTCTimeZone());
}

absl::Status VerifyCertificateChain(absl::string_view certificate_pem, absl::string_view ca_pem,
                                    absl::Time at) {
  bssl::UniquePtr<X509> cert = ParseCertificatePem(certificate_pem);
  if (!cert) return absl::InvalidArgumentError("the certificate to verify is not PEM");
  bssl::UniquePtr<X509> ca = ParseCertificatePem(ca_pem);
  if (!ca) return absl::InvalidArgumentError("the CA certificate is not PEM");
  bssl::UniquePtr<X509_STORE> store(X509_STORE_new());
  bssl::UniquePtr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  if (!store || !ctx || !X509_STORE_add_cert(store.get(), ca.get()) ||
      !X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr)) {
    return SslError("cannot set up certificate verification");
  }
  X509_STORE_CTX_set_time(ctx.get(), 0, absl::ToTimeT(at));
  if (X509_verify_cert(ctx.get()) == 1) return absl::OkStatus();
  ERR_clear_error();
  long err = X509_STORE_CTX_get_error(ctx.get());
  X509* failing = X509_STORE_CTX_get_current_cert(ctx.get());
  return absl::UnauthenticatedError(
      internal::VerifyFailureMessage("", err, failing != nullptr ? failing : cert.get()));
}

absl::Status CheckKeyMatchesCertificate(absl::string_view certificate_pem,
                                        absl::string_view private_key_pem) {
  bssl::UniquePtr<X509> cert = ParseCertificatePem(certificate_pem);
  if (!cert) return absl::InvalidArgumentError("not a PEM certificate");
  bssl::UniquePtr<EVP_PKEY> key = ParsePrivateKeyPem(private_key_pem);
  if (!key) return absl::InvalidArgumentError("not a PEM private key");
  if (!X509_check_private_key(cert.get(), key.get())) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("the private key does not belong to the certificate of ",
                     internal::SubjectString(cert.get())));
  }
  return absl::OkStatus();
}

absl::Status WritePemKeyPair(const std::string& dir, const std::string& base,
                             const PemKeyPair& pair) {
  ASR_RETURN_IF_ERROR(MakeDirectories(dir));
  // The key first: a certificate without its key is useless, the reverse is
  // merely incomplete.
  ASR_RETURN_IF_ERROR(
      WriteFileAtomically(JoinPath(dir, base + ".key"), pair.private_key_pem, kSecretFileMode));
  return WriteFileAtomically(JoinPath(dir, base + ".pem"), pair.certificate_pem, 0644);
}

absl::StatusOr<PemKeyPair> ReadPemKeyPair(const std::string& certificate_path,
                                          const std::string& key_path) {
  PemKeyPair pair;
  ASR_ASSIGN_OR_RETURN(pair.certificate_pem, ReadFileToString(certificate_path));
  ASR_ASSIGN_OR_RETURN(pair.private_key_pem, ReadFileToString(key_path));
  return pair;
}

namespace {

constexpr absl::string_view kWrappedKeyBegin = "-----BEGIN ASR WRAPPED PRIVATE KEY-----";
constexpr absl::string_view kWrappedKeyEnd = "-----END ASR WRAPPED PRIVATE KEY-----";

// Base64 in lines of 64 characters, each ending in a newline.
std::string Base64WithLines(absl::string_view bytes) {
  std::string b64 = absl::Base64Escape(bytes);
  std::string out;
  for (size_t i = 0; i < b64.size(); i += 64) absl::StrAppend(&out, b64.substr(i, 64), "\n");
  return out;
}

}  // namespace

bool IsWrappedPrivateKey(absl::string_view text) {
  return absl::StartsWith(absl::StripLeadingAsciiWhitespace(text), kWrappedKeyBegin);
}

absl::StatusOr<PemKeyPair> ReadVaultCa(const std::string& dir, CaKeyProtector* protector) {
  std::string ca_cert = JoinPath(dir, kCaCertificateFile);
  std::string ca_key = JoinPath(dir, kCaKeyFile);
  if (!PathExists(ca_cert) || !PathExists(ca_key)) {
    return absl::NotFoundError(
        absl::StrCat(dir, " holds no certificate authority (", ca_cert, " and ", ca_key,
                     "); create one with `asrctl pki init --dir ", dir, "`"));
  }
  ASR_ASSIGN_OR_RETURN(PemKeyPair pair, ReadPemKeyPair(ca_cert, ca_key));
  if (!IsWrappedPrivateKey(pair.private_key_pem)) return pair;
  if (protector == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        ca_key,
        " is wrapped by a key-encryption key: give the key file that wrapped it (asrctl "
        "--key-file PATH, or ASR_KEY_FILE / ASR_KEY_ENCRYPTION_KEY)"));
  }
  absl::string_view text = absl::StripAsciiWhitespace(pair.private_key_pem);
  if (!absl::ConsumePrefix(&text, kWrappedKeyBegin) ||
      !absl::ConsumeSuffix(&text, kWrappedKeyEnd)) {
    return absl::DataLossError(absl::StrCat(ca_key, ": the wrapped key has no END line"));
  }
  std::string b64 = absl::StrReplaceAll(text, {{"\n", ""}, {"\r", ""}, {" ", ""}});
  std::string wrapped;
  if (!absl::Base64Unescape(b64, &wrapped)) {
    return absl::DataLossError(absl::StrCat(ca_key, ": the wrapped key is not base64"));
  }
  absl::StatusOr<std::string> pem = protector->Unwrap(wrapped);
  if (!pem.ok()) {
    return absl::Status(pem.status().code(),
                        absl::StrCat("cannot open ", ca_key, " with ", protector->Describe(), ": ",
                                     pem.status().message()));
  }
  pair.private_key_pem = *std::move(pem);
  return pair;
}

absl::StatusOr<VaultPkiFiles> InitVaultPki(const std::string& dir, const VaultPkiOptions& options) {
  if (options.ca_days <= 0 || options.host_days <= 0) {
    return absl::InvalidArgumentError("certificate validity (days) must be positive");
  }
  if (options.primary_name == options.recovery_name) {
    return absl::InvalidArgumentError(
        absl::StrCat("the primary and the recovery host need different names (both are \"",
                     options.primary_name, "\")"));
  }
  for (const std::string& n : options.primary_extra_names) {
    if (n == options.recovery_name ||
        std::find(options.recovery_extra_names.begin(), options.recovery_extra_names.end(), n) !=
            options.recovery_extra_names.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", n,
          "\" would name both the primary and the recovery host; a name must identify one host, "
          "or a sender checking for the recovery host would accept the primary's certificate"));
    }
  }
  for (const std::string& n : options.recovery_extra_names) {
    if (n == options.primary_name) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", n, "\" is the primary's name and cannot name the recovery host as well"));
    }
  }
  VaultPkiFiles files;
  files.ca_certificate_path = JoinPath(dir, kCaCertificateFile);
  files.ca_key_path = JoinPath(dir, kCaKeyFile);
  if (PathExists(files.ca_certificate_path) || PathExists(files.ca_key_path)) {
    return absl::AlreadyExistsError(absl::StrCat(
        dir, " already holds a certificate authority (", kCaCertificateFile,
        "); use `asrctl pki issue` to add host certificates, or choose another --dir"));
  }
  absl::Time now = absl::Now();
  ASR_ASSIGN_OR_RETURN(PemKeyPair ca,
                       CreateCertificateAuthority(options.ca_name, now - absl::Hours(1),
                                                  now + absl::Hours(24) * options.ca_days));
  ASR_ASSIGN_OR_RETURN(
      PemKeyPair primary,
      IssueHostCertificate(ca, HostRequest(options.primary_name, now, options.host_days,
                                           options.primary_extra_names)));
  ASR_ASSIGN_OR_RETURN(
      PemKeyPair recovery,
      IssueHostCertificate(ca, HostRequest(options.recovery_name, now, options.host_days,
                                           options.recovery_extra_names)));
  if (options.ca_key_protector != nullptr) {
    ASR_ASSIGN_OR_RETURN(std::string wrapped, options.ca_key_protector->Wrap(ca.private_key_pem));
    PemKeyPair stored = ca;
    stored.private_key_pem =
        absl::StrCat(kWrappedKeyBegin, "\n", Base64WithLines(wrapped), kWrappedKeyEnd, "\n");
    ASR_RETURN_IF_ERROR(WritePemKeyPair(dir, "ca", stored));
  } else {
    ASR_RETURN_IF_ERROR(WritePemKeyPair(dir, "ca", ca));
  }
  ASR_ASSIGN_OR_RETURN(files.primary, WriteHost(dir, "primary", primary));
  ASR_ASSIGN_OR_RETURN(files.recovery, WriteHost(dir, "recovery", recovery));
  ASR_ASSIGN_OR_RETURN(files.ca_info, DescribeCertificate(ca.certificate_pem));
  return files;
}

absl::StatusOr<HostCertificateFiles> IssueVaultHostCertificate(
    const std::string& dir, const std::string& name, int days,
    const std::vector<std::string>& extra_names, CaKeyProtector* protector) {
  if (!IsPlainFileName(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("host name \"", name,
                     "\" must be made of letters, digits, '.', '-' and '_' (and not \"ca\")"));
  }
  if (days <= 0) return absl::InvalidArgumentError("certificate validity (days) must be positive");
  ASR_ASSIGN_OR_RETURN(PemKeyPair ca, ReadVaultCa(dir, protector));
  ASR_ASSIGN_OR_RETURN(PemKeyPair host,
                       IssueHostCertificate(ca, HostRequest(name, absl::Now(), days, extra_names)));
  return WriteHost(dir, name, host);
}

// ---------------------------------------------------------------------------
// Revocation.

namespace {

struct ReasonName {
  const char* name;
  long code;
};
constexpr ReasonName kReasons[] = {
    {"unspecified", 0},        {"keyCompromise", 1}, {"cACompromise", 2},
    {"affiliationChanged", 3}, {"superseded", 4},    {"cessationOfOperation", 5},
};

long ReasonCode(const std::string& reason) {
  for (const ReasonName& r : kReasons) {
    if (reason == r.name) return r.code;
  }
  return -1;
}

// "1f:03:AB" -> "1F03AB"; empty when not hex.
std::string NormalizeSerial(absl::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == ':' || c == ' ') continue;
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return "";
    out += absl::ascii_toupper(static_cast<unsigned char>(c));
  }
  size_t nz = out.find_first_not_of('0');
  return nz == std::string::npos ? (out.empty() ? "" : "0") : out.substr(nz);
}

bssl::UniquePtr<ASN1_TIME> AsnTime(absl::Time t) {
  return bssl::UniquePtr<ASN1_TIME>(ASN1_TIME_set(nullptr, absl::ToTimeT(t)));
}

std::string CrlPath(const std::string& dir) { return JoinPath(dir, kCrlFile); }

// The entries of DIR/crl.pem (none when there is no such file). Its
// signature must be the CA's; its age does not matter (it is re-issued).
absl::StatusOr<std::vector<RevokedCertificate>> ExistingEntries(const std::string& dir,
                                                                const PemKeyPair& ca) {
  std::string path = CrlPath(dir);
  if (!PathExists(path)) return std::vector<RevokedCertificate>();
  ASR_ASSIGN_OR_RETURN(std::string pem, ReadFileToString(path));
  std::vector<bssl::UniquePtr<X509>> cas = internal::ParseCertificatesPem(ca.certificate_pem);
  absl::StatusOr<bssl::UniquePtr<X509_CRL>> checked =
      internal::ParseCheckedCrl(pem, path, cas, absl::InfinitePast());
  if (!checked.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(checked.status().message(), "; ", path,
                     " was not issued by this vault CA: move it away and revoke again"));
  }
  ASR_ASSIGN_OR_RETURN(CrlInfo info, DescribeCrl(pem));
  return info.revoked;
}

absl::StatusOr<CrlInfo> WriteVaultCrl(const std::string& dir, const PemKeyPair& ca,
                                      const std::vector<RevokedCertificate>& revoked, int days) {
  if (days <= 0 || days > 36500) {
    return absl::InvalidArgumentError("revocation list validity (days) must be 1 to 36500");
  }
  absl::Time now = absl::Now();
  ASR_ASSIGN_OR_RETURN(std::string pem, CreateCrl(ca, revoked, now, now + absl::Hours(24) * days));
  ASR_RETURN_IF_ERROR(WriteFileAtomically(CrlPath(dir), pem, 0644));
  ASR_ASSIGN_OR_RETURN(CrlInfo info, DescribeCrl(pem));
  info.path = CrlPath(dir);
  return info;
}

}  // namespace

absl::StatusOr<std::string> ParseRevocationReason(absl::string_view reason) {
  std::string want = absl::AsciiStrToLower(absl::StrReplaceAll(reason, {{"-", ""}, {"_", ""}}));
  for (const ReasonName& r : kReasons) {
    if (absl::AsciiStrToLower(r.name) == want) return std::string(r.name);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown revocation reason \"", reason,
      "\"; use one of unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, "
      "cessationOfOperation"));
}

absl::StatusOr<std::string> CreateCrl(const PemKeyPair& ca,
                                      const std::vector<RevokedCertificate>& revoked,
                                      absl::Time this_update, absl::Time next_update) {
  if (!(next_update > this_update)) {
    return absl::InvalidArgumentError("a revocation list's nextUpdate must follow its lastUpdate");
  }
  bssl::UniquePtr<X509> cert = ParseCertificatePem(ca.certificate_pem);
  bssl::UniquePtr<EVP_PKEY> key = ParsePrivateKeyPem(ca.private_key_pem);
  if (!cert || !key) return absl::InvalidArgumentError("the CA certificate or key is not PEM");
  bssl::UniquePtr<X509_CRL> crl(X509_CRL_new());
  bssl::UniquePtr<ASN1_TIME> last = AsnTime(this_update);
  bssl::UniquePtr<ASN1_TIME> next = AsnTime(next_update);
  if (!crl || !last || !next || !X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) ||
      !X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(cert.get())) ||
      !X509_CRL_set1_lastUpdate(crl.get(), last.get()) ||
      !X509_CRL_set1_nextUpdate(crl.get(), next.get())) {
    return SslError("cannot create a revocation list");
  }
  for (const RevokedCertificate& r : revoked) {
    std::string serial = NormalizeSerial(r.serial);
    if (serial.empty() || serial.size() > 40) {
      return absl::InvalidArgumentError(
          absl::StrCat("serial \"", r.serial, "\" is not a certificate serial number in hex"));
    }
    long code = ReasonCode(r.reason);
    if (code < 0) return ParseRevocationReason(r.reason).status();
    BIGNUM* raw = nullptr;
    if (!BN_hex2bn(&raw, serial.c_str())) return SslError("cannot parse a serial number");
    bssl::UniquePtr<BIGNUM> bn(raw);
    bssl::UniquePtr<ASN1_INTEGER> asn_serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
    bssl::UniquePtr<ASN1_TIME> when = AsnTime(r.revoked_at);
    bssl::UniquePtr<X509_REVOKED> entry(X509_REVOKED_new());
    if (!asn_serial || !when || !entry ||
        !X509_REVOKED_set_serialNumber(entry.get(), asn_serial.get()) ||
        !X509_REVOKED_set_revocationDate(entry.get(), when.get())) {
      return SslError("cannot add a revoked certificate");
    }
    if (code != 0) {
      bssl::UniquePtr<ASN1_ENUMERATED> e(ASN1_ENUMERATED_new());
      if (!e || !ASN1_ENUMERATED_set(e.get(), code) ||
          !X509_REVOKED_add1_ext_i2d(entry.get(), NID_crl_reason, e.get(), 0, 0)) {
        return SslError("cannot add a revocation reason");
      }
    }
    if (!X509_CRL_add0_revoked(crl.get(), entry.get())) {
      return SslError("cannot add a revoked certificate");
    }
    entry.release();
  }
  if (!X509_CRL_sort(crl.get()) || !X509_CRL_sign(crl.get(), key.get(), EVP_sha256())) {
    return SslError("cannot sign the revocation list");
  }
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || !PEM_write_bio_X509_CRL(bio.get(), crl.get())) {
    return SslError("cannot encode the revocation list");
  }
  const uint8_t* data = nullptr;
  size_t len = 0;
  BIO_mem_contents(bio.get(), &data, &len);
  return std::string(reinterpret_cast<const char*>(data), len);
}

absl::StatusOr<CrlInfo> DescribeCrl(absl::string_view pem) {
  bssl::UniquePtr<X509_CRL> crl = internal::ParseCrlPem(pem);
  if (!crl) return absl::InvalidArgumentError("not a PEM certificate revocation list");
  CrlInfo info;
  info.issuer = internal::NameString(X509_CRL_get_issuer(crl.get()));
  info.last_update = Asn1TimeToAbsl(X509_CRL_get0_lastUpdate(crl.get()));
  const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl.get());
  info.next_update = next == nullptr ? absl::InfinitePast() : Asn1TimeToAbsl(next);
  STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(crl.get());
  for (size_t i = 0; entries != nullptr && i < sk_X509_REVOKED_num(entries); ++i) {
    const X509_REVOKED* e = sk_X509_REVOKED_value(entries, i);
    RevokedCertificate r;
    r.serial = internal::SerialHex(X509_REVOKED_get0_serialNumber(e));
    r.revoked_at = Asn1TimeToAbsl(X509_REVOKED_get0_revocationDate(e));
    r.reason = internal::RevocationReason(e);
    info.revoked.push_back(std::move(r));
  }
  ERR_clear_error();
  return info;
}

absl::Status VerifyCrl(absl::string_view crl_pem, absl::string_view ca_pem, absl::Time at) {
  std::vector<bssl::UniquePtr<X509>> cas = internal::ParseCertificatesPem(ca_pem);
  if (cas.empty()) return absl::InvalidArgumentError("the CA certificate is not PEM");
  return internal::ParseCheckedCrl(crl_pem, "the revocation list", cas, at).status();
}

absl::Status CheckNotRevoked(absl::string_view certificate_pem, absl::string_view crl_pem,
                             absl::string_view ca_pem, absl::Time at) {
  bssl::UniquePtr<X509> cert = ParseCertificatePem(certificate_pem);
  if (!cert) return absl::InvalidArgumentError("the certificate to check is not PEM");
  std::vector<bssl::UniquePtr<X509>> cas = internal::ParseCertificatesPem(ca_pem);
  if (cas.empty()) return absl::InvalidArgumentError("the CA certificate is not PEM");
  ASR_ASSIGN_OR_RETURN(bssl::UniquePtr<X509_CRL> crl,
                       internal::ParseCheckedCrl(crl_pem, "the revocation list", cas, at));
  std::string why = internal::RevocationMessage(crl.get(), cert.get());
  if (!why.empty()) return absl::UnauthenticatedError(why);
  return absl::OkStatus();
}

absl::StatusOr<CrlInfo> RevokeVaultCertificate(const std::string& dir,
                                               const RevokeRequest& request) {
  int given =
      !request.name.empty() + !request.certificate_path.empty() + !request.serial_hex.empty();
  if (given != 1) {
    return absl::InvalidArgumentError(
        "name exactly one certificate to revoke: a host name, a certificate file or a serial "
        "number");
  }
  ASR_ASSIGN_OR_RETURN(std::string reason, ParseRevocationReason(request.reason));
  ASR_ASSIGN_OR_RETURN(PemKeyPair ca, ReadVaultCa(dir, request.ca_key_protector));
  std::string serial;
  if (!request.serial_hex.empty()) {
    serial = NormalizeSerial(request.serial_hex);
    if (serial.empty() || serial.size() > 40) {
      return absl::InvalidArgumentError(absl::StrCat(
          "serial \"", request.serial_hex,
          "\" is not a certificate serial number in hex (see `asrctl pki show CERT.pem`)"));
    }
  } else {
    std::string path = request.certificate_path;
    if (!request.name.empty()) {
      if (!IsPlainFileName(request.name)) {
        return absl::InvalidArgumentError(
            absl::StrCat("host name \"", request.name,
                         "\" must be made of letters, digits, '.', '-' and '_' (and not \"ca\")"));
      }
      path = JoinPath(dir, request.name + ".pem");
      if (!PathExists(path)) {
        return absl::NotFoundError(
            absl::StrCat("no certificate ", path, " for host \"", request.name,
                         "\"; give the certificate file with --cert or its serial with --serial"));
      }
    }
    ASR_ASSIGN_OR_RETURN(std::string pem, ReadFileToString(path));
    bssl::UniquePtr<X509> cert = ParseCertificatePem(pem);
    if (!cert) return absl::InvalidArgumentError(absl::StrCat(path, " holds no PEM certificate"));
    ASR_ASSIGN_OR_RETURN(CertificateInfo info, DescribeCertificate(pem));
    if (info.is_ca) {
      return absl::InvalidArgumentError(absl::StrCat(
          path,
          " is a certificate authority; a CA cannot revoke itself (create a new vault CA "
          "with `asrctl pki init` in another directory instead)"));
    }
    // Issued by this CA? (Its age does not matter: an expired certificate
    // may still be revoked.)
    absl::Time at = info.not_before + (info.not_after - info.not_before) / 2;
    absl::Status chain = VerifyCertificateChain(pem, ca.certificate_pem, at);
    if (!chain.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, " was not issued by the CA in ", dir, ": ", chain.message()));
    }
    serial = NormalizeSerial(info.serial);
  }
  ASR_ASSIGN_OR_RETURN(std::vector<RevokedCertificate> entries, ExistingEntries(dir, ca));
  for (const RevokedCertificate& e : entries) {
    if (NormalizeSerial(e.serial) == serial) {
      return absl::AlreadyExistsError(
          absl::StrCat("the certificate with serial ", serial, " is already revoked (since ",
                       FormatCertificateTime(e.revoked_at), ") in ", CrlPath(dir)));
    }
  }
  RevokedCertificate r;
  r.serial = serial;
  r.revoked_at = absl::Now();
  r.reason = reason;
  entries.push_back(r);
  return WriteVaultCrl(dir, ca, entries, request.crl_days);
}

absl::StatusOr<CrlInfo> IssueVaultCrl(const std::string& dir, int days, CaKeyProtector* protector) {
  ASR_ASSIGN_OR_RETURN(PemKeyPair ca, ReadVaultCa(dir, protector));
  ASR_ASSIGN_OR_RETURN(std::vector<RevokedCertificate> entries, ExistingEntries(dir, ca));
  return WriteVaultCrl(dir, ca, entries, days);
}

}  // namespace asr::net
