// asr/net/x509_util.h: BoringSSL X.509 helpers shared by pki.cc and tls.cc —
// names, times and verification-failure messages. Internal to asr/net.
//
//   bssl::UniquePtr<X509> cert = ParseCertificatePem(pem);
//   std::string who = SubjectString(cert.get());  // "CN=hv-01"
//
// All functions are thread-safe.
#ifndef ASR_NET_X509_UTIL_H_
#define ASR_NET_X509_UTIL_H_

#include <openssl/base.h>
#include <openssl/x509.h>

#include <string>
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

// The text of the most recent BoringSSL error on this thread (and clears the
// queue), or "unknown error".
std::string LastSslError();

// Why chain verification failed, for code `err` (X509_V_ERR_*) on `cert` (the
// certificate being checked, may be null). `who` prefixes the "not issued"
// sentence, e.g. "peer 127.0.0.1:8084 presented" → "peer 127.0.0.1:8084
// presented a certificate not issued by this vault's certificate authority
// (...)" (empty `who`: "certificate of CN=x is not issued by ..."); expiry reads "certificate of CN=hv-01 expired at ...". The message
// ends with what to do.
std::string VerifyFailureMessage(absl::string_view who, long err, X509* cert);

}  // namespace asr::net::internal

#endif  // ASR_NET_X509_UTIL_H_
