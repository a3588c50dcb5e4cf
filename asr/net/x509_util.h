// asr/net/x509_util.h: BoringSSL X.509 helpers shared by pki.cc and tls.cc —
// names, times and verification-failure messages. Internal to asr/net.
//
//   bssl::UniquePtr<X509> cert = ParseCertificatePem(pem);
//   std::string who = SubjectString(cert.get());  // "CN=hv-01"
//
//   // The vault's revocation list, checked before it is trusted:
//   ASR_ASSIGN_OR_RETURN(bssl::UniquePtr<X509_CRL> crl,
//                        ParseCheckedCrl(crl_pem, "crl.pem", cas, absl::Now()));
//   std::string why = RevocationMessage(crl.get(), cert.get());  // "" unless revoked
//
// All functions are thread-safe.
#ifndef ASR_NET_X509_UTIL_H_
#define ASR_NET_X509_UTIL_H_

#include <openssl/base.h>
#include <openssl/x509.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace asr::net::internal {

// The first certificate in `pem`, or null.
bssl::UniquePtr<X509> ParseCertificatePem(absl::string_view pem);

// The private key in `pem`, or null.
bssl::UniquePtr<EVP_PKEY> ParsePrivateKeyPem(absl::string_view pem);

// "CN=hv-01" (one-line RFC 2253 form of the whole name).
std::string NameString(const X509_NAME* name);
std::string SubjectString(const X509* cert);
std::string CommonName(const X509* cert);

absl::Time Asn1TimeToAbsl(const ASN1_TIME* t);

// The certificate's subjectAltName entries: "DNS:hv-01", "IP:127.0.0.1".
std::vector<std::string> SubjectAltNames(const X509* cert);

// A serial number in upper-case hex without leading zeros ("1F03...").
std::string SerialHex(const ASN1_INTEGER* serial);
std::string SerialHex(const X509* cert);

// Every certificate in `pem` (a CA file may hold more than one).
std::vector<bssl::UniquePtr<X509>> ParseCertificatesPem(absl::string_view pem);

// The CRL in `pem` (`source` names it in messages, e.g. its path), checked
// before anything trusts it: signed by one of `cas` (the vault CA), and
// current at `at` (lastUpdate not in the future beyond an hour of clock
// skew, nextUpdate present and after `at`). FailedPrecondition saying what
// is wrong and how to re-issue it; InvalidArgument when it is not a CRL.
// `at` absl::InfinitePast() checks the signature only.
absl::StatusOr<bssl::UniquePtr<X509_CRL>> ParseCheckedCrl(
    absl::string_view pem, absl::string_view source, const std::vector<bssl::UniquePtr<X509>>& cas,
    absl::Time at);

// The CRL without any check (to re-issue or describe it), or null.
bssl::UniquePtr<X509_CRL> ParseCrlPem(absl::string_view pem);

// The reason code of a revoked entry as text ("keyCompromise"), or
// "unspecified" when it carries none.
std::string RevocationReason(const X509_REVOKED* entry);

// "" when `cert` is not on `crl`; otherwise why it is refused:
// "certificate of CN=hv-01 (serial 1F03...) was revoked by the vault CA at
// 2025-01-31 12:00:00 UTC (reason keyCompromise)".
std::string RevocationMessage(X509_CRL* crl, X509* cert);

// The text of the most recent BoringSSL error on this thread (and clears the
// queue), or "unknown error".
std::string LastSslError();

// Why chain verification failed, for code `err` (X509_V_ERR_*) on `cert` (the
// certificate being checked, may be null). `who` prefixes the "not issued"
// sentence, e.g. "peer 127.0.0.1:8084 presented" → "peer 127.0.0.1:8084
// presented a certificate not issued by this vault's certificate authority
// (...)" (empty `who`: "certificate of CN=x is not issued by ..."); expiry reads "certificate of
// CN=hv-01 expired at ...". The message ends with what to do.
std::string VerifyFailureMessage(absl::string_view who, long err, X509* cert);

}  // namespace asr::net::internal

#endif  // ASR_NET_X509_UTIL_H_
