// asr/net/pki.h: the vault's certificate authority and the host certificates
// it issues, used for mutual TLS authentication between the primary and the
// recovery host (Site Recovery's "certificate authentication", port 8084).
//
// Keys are ECDSA P-256 (TLS 1.3 signature scheme ecdsa_secp256r1_sha256);
// certificates are X.509 v3, signed with SHA-256, written as PEM. Private key
// files are created with mode 0600.
//
//   // One-time setup of a vault directory (what `asrctl pki init` does):
//   ASR_ASSIGN_OR_RETURN(VaultPkiFiles files, InitVaultPki("/etc/asr/pki", {}));
//   // Later, a certificate for another host (`asrctl pki issue`):
//   ASR_ASSIGN_OR_RETURN(HostCertificateFiles host,
//                        IssueVaultHostCertificate("/etc/asr/pki", "hv-03", 365, {}));
//
//   // Revoke a host's certificate; DIR/crl.pem is re-issued, signed by the CA
//   // (what `asrctl pki revoke` does). Copy crl.pem to both hosts:
//   RevokeRequest rr;
//   rr.name = "hv-03";                       // or certificate_path / serial_hex
//   rr.reason = "keyCompromise";
//   ASR_ASSIGN_OR_RETURN(CrlInfo crl, RevokeVaultCertificate("/etc/asr/pki", rr));
//
//   // In memory, e.g. in tests:
//   ASR_ASSIGN_OR_RETURN(PemKeyPair ca, CreateCertificateAuthority("vault CA", now, now + year));
//   ASR_ASSIGN_OR_RETURN(PemKeyPair host, IssueHostCertificate(ca, HostRequest("hv-01", now, 30)));
//   ASR_RETURN_IF_ERROR(VerifyCertificateChain(host.certificate_pem, ca.certificate_pem, now));
//
// All functions are thread-safe (they share no state).
#ifndef ASR_NET_PKI_H_
#define ASR_NET_PKI_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace asr::net {

// Default validity, in days, of a vault CA and of a host certificate.
inline constexpr int kDefaultCaDays = 3650;
inline constexpr int kDefaultHostCertificateDays = 365;

// File names inside a vault PKI directory.
inline constexpr char kCaCertificateFile[] = "ca.pem";
inline constexpr char kCaKeyFile[] = "ca.key";
// The certificate revocation list the CA issues (`asrctl pki revoke|crl`).
inline constexpr char kCrlFile[] = "crl.pem";
// Default days from a CRL's issue (lastUpdate) to its nextUpdate, after
// which hosts refuse every peer until a fresh one is issued.
inline constexpr int kDefaultCrlDays = 30;

// A certificate and its private key, both PEM text.
struct PemKeyPair {
  std::string certificate_pem;
  std::string private_key_pem;
};

// What a host certificate says about its host.
struct CertificateRequest {
  std::string common_name;                // subject CN, the host name
  std::vector<std::string> dns_names;     // subjectAltName DNS entries
  std::vector<std::string> ip_addresses;  // subjectAltName IP entries (v4 or v6 text)
  absl::Time not_before;
  absl::Time not_after;
};

// A request for host `name` valid from one hour before `now` (clock skew)
// until `now + days`. `name` goes into the CN and into subjectAltName (as an
// IP entry when it is an IP address, as a DNS entry otherwise); each of
// `extra_names` is added the same way. A negative `days` gives a certificate
// that has already expired (tests).
CertificateRequest HostRequest(absl::string_view name, absl::Time now, int days,
                               const std::vector<std::string>& extra_names = {});

// Creates a self-signed CA (basicConstraints CA:TRUE, pathlen 0; keyCertSign).
// InvalidArgument when the name is empty or not_after <= not_before.
absl::StatusOr<PemKeyPair> CreateCertificateAuthority(absl::string_view common_name,
                                                      absl::Time not_before, absl::Time not_after);

// Issues a host certificate signed by `ca` with extended key usage serverAuth
// and clientAuth, so the same certificate serves as TLS server and client.
// InvalidArgument for a bad request or an unreadable CA pair.
absl::StatusOr<PemKeyPair> IssueHostCertificate(const PemKeyPair& ca,
                                                const CertificateRequest& request);

// What a certificate says, for messages and `asrctl pki` output.
struct CertificateInfo {
  std::string subject;                         // "CN=hv-01"
  std::string common_name;                     // "hv-01"
  std::string issuer;                          // "CN=asr vault CA"
  std::vector<std::string> subject_alt_names;  // "DNS:hv-01", "IP:127.0.0.1"
  absl::Time not_before;
  absl::Time not_after;
  bool is_ca = false;
  std::string sha256_fingerprint;  // hex, colon-separated
  std::string serial;              // hex, as in revocation lists
};

// Parses the first certificate of `pem`. InvalidArgument when it is not one.
absl::StatusOr<CertificateInfo> DescribeCertificate(absl::string_view pem);

// Formats a certificate time for messages: "2025-01-31 12:00:00 UTC".
std::string FormatCertificateTime(absl::Time t);

// Verifies that `certificate_pem` chains to the CA in `ca_pem` and is valid at
// `at`. Unauthenticated with a message saying why ("certificate of CN=hv-01
// expired at ...", "... is not issued by this vault's certificate authority
// ..."); InvalidArgument when either input is not a certificate.
absl::Status VerifyCertificateChain(absl::string_view certificate_pem, absl::string_view ca_pem,
                                    absl::Time at);

// Checks that `private_key_pem` is the key of `certificate_pem`.
// InvalidArgument otherwise.
absl::Status CheckKeyMatchesCertificate(absl::string_view certificate_pem,
                                        absl::string_view private_key_pem);

// Writes `pair` as DIR/BASE.pem (mode 0644) and DIR/BASE.key (mode 0600),
// each atomically (temporary file, fsync, rename).
absl::Status WritePemKeyPair(const std::string& dir, const std::string& base,
                             const PemKeyPair& pair);

// Reads a certificate file and a key file (NotFound names the missing file).
absl::StatusOr<PemKeyPair> ReadPemKeyPair(const std::string& certificate_path,
                                          const std::string& key_path);

// How the CA's private key is kept in DIR/ca.key. Without a protector it is
// a PEM file readable by its owner only (0600). With one, ca.key holds
// "-----BEGIN ASR WRAPPED PRIVATE KEY-----", the protector's wrapping of the
// PEM in base64, and the END line: asrctl wraps it with the key-encryption
// key of its key provider (the one that wraps the vault's keys), so that a
// copy of the PKI directory signs nothing. A wrapped ca.key read without a
// protector is FailedPrecondition saying so; a clear one is read either way.
class CaKeyProtector {
 public:
  virtual ~CaKeyProtector() = default;
  virtual absl::StatusOr<std::string> Wrap(absl::string_view private_key_pem) = 0;
  // FailedPrecondition/PermissionDenied saying why it cannot (wrong key...).
  virtual absl::StatusOr<std::string> Unwrap(absl::string_view wrapped) = 0;
  // For messages: "the key file /etc/asr/kek".
  virtual std::string Describe() const = 0;
};

// True when `key_file_text` is a wrapped CA key (see CaKeyProtector).
bool IsWrappedPrivateKey(absl::string_view key_file_text);

// The CA pair of DIR (ca.pem, ca.key unwrapped by `protector` when it is
// wrapped). NotFound with how to create one.
absl::StatusOr<PemKeyPair> ReadVaultCa(const std::string& dir, CaKeyProtector* protector);

// Files of a vault PKI directory created by InitVaultPki.
struct VaultPkiOptions {
  std::string ca_name = "asr vault CA";
  std::string primary_name = "primary-host";
  std::string recovery_name = "recovery-host";
  int ca_days = kDefaultCaDays;
  int host_days = kDefaultHostCertificateDays;
  // Extra subjectAltName entries (DNS names or IP addresses) of each host's
  // certificate, e.g. the address a sender connects to. The two lists must
  // not share an entry: a name must identify one host, so that a primary's
  // certificate never passes a sender's check for the recovery host.
  std::vector<std::string> primary_extra_names;
  std::vector<std::string> recovery_extra_names;
  // Wraps ca.key when set (see CaKeyProtector); not owned.
  CaKeyProtector* ca_key_protector = nullptr;
};

struct HostCertificateFiles {
  std::string certificate_path;
  std::string key_path;
  CertificateInfo info;
};

struct VaultPkiFiles {
  std::string ca_certificate_path;  // DIR/ca.pem
  std::string ca_key_path;          // DIR/ca.key
  HostCertificateFiles primary;     // DIR/primary.pem, DIR/primary.key
  HostCertificateFiles recovery;    // DIR/recovery.pem, DIR/recovery.key
  CertificateInfo ca_info;
};

// Creates DIR (if missing) with a new CA and certificates for a primary and a
// recovery host. AlreadyExists when DIR already holds a CA (a CA is never
// overwritten: that would orphan every certificate it issued).
absl::StatusOr<VaultPkiFiles> InitVaultPki(const std::string& dir, const VaultPkiOptions& options);

// Issues DIR/NAME.pem and DIR/NAME.key from the CA in DIR (replacing an
// existing certificate of that name, e.g. to renew it). `name` is the host
// name (CN); it must be a plain file name ([A-Za-z0-9._-], not "ca").
// NotFound when DIR holds no CA; InvalidArgument for a bad name or days <= 0.
// `protector` opens a wrapped ca.key (may be null for a clear one).
absl::StatusOr<HostCertificateFiles> IssueVaultHostCertificate(
    const std::string& dir, const std::string& name, int days,
    const std::vector<std::string>& extra_names, CaKeyProtector* protector = nullptr);

// A certificate on a revocation list.
struct RevokedCertificate {
  std::string serial;  // hex
  absl::Time revoked_at;
  // RFC 5280 reason: "unspecified", "keyCompromise", "cACompromise",
  // "affiliationChanged", "superseded", "cessationOfOperation".
  std::string reason = "unspecified";
};

// What a revocation list says.
struct CrlInfo {
  std::string path;    // DIR/crl.pem for the vault functions below
  std::string issuer;  // "CN=asr vault CA"
  absl::Time last_update;
  absl::Time next_update;
  std::vector<RevokedCertificate> revoked;
};

// Signs a CRL (v2, SHA-256) listing `revoked` with the CA's key, issued at
// `this_update` and valid until `next_update`. InvalidArgument for an
// unreadable CA pair, a bad serial or reason, or next_update <= this_update.
absl::StatusOr<std::string> CreateCrl(const PemKeyPair& ca,
                                      const std::vector<RevokedCertificate>& revoked,
                                      absl::Time this_update, absl::Time next_update);

// Parses a CRL without trusting it. InvalidArgument when `pem` is not one.
absl::StatusOr<CrlInfo> DescribeCrl(absl::string_view pem);

// Checks `crl_pem` as a host does before trusting it: signed by the CA in
// `ca_pem` and not past its nextUpdate at `at` (FailedPrecondition saying
// which and how to re-issue it).
absl::Status VerifyCrl(absl::string_view crl_pem, absl::string_view ca_pem, absl::Time at);

// Checks a certificate against a checked CRL (VerifyCrl): Unauthenticated
// "certificate of CN=hv-01 (serial ...) was revoked by the vault CA at ..."
// when it is listed.
absl::Status CheckNotRevoked(absl::string_view certificate_pem, absl::string_view crl_pem,
                             absl::string_view ca_pem, absl::Time at);

// Parses an RFC 5280 reason name (case-insensitive; "key-compromise" also
// works) into its canonical spelling. InvalidArgument lists the names.
absl::StatusOr<std::string> ParseRevocationReason(absl::string_view reason);

// Which certificate to revoke: exactly one of the three.
struct RevokeRequest {
  std::string name;              // DIR/NAME.pem (as `pki issue --name`, or "primary")
  std::string certificate_path;  // any certificate file the CA issued
  std::string serial_hex;        // a serial number (hex, colons allowed)
  std::string reason = "unspecified";
  int crl_days = kDefaultCrlDays;
  CaKeyProtector* ca_key_protector = nullptr;  // opens a wrapped ca.key
};

// Adds the certificate to DIR/crl.pem and re-issues it (lastUpdate now,
// nextUpdate in crl_days), keeping the entries already there. NotFound when
// DIR holds no CA or the named certificate; InvalidArgument for a bad
// request, a certificate the CA did not issue, or the CA itself;
// AlreadyExists when it is already revoked (the list is left as it was);
// FailedPrecondition when an existing crl.pem is not signed by the CA.
absl::StatusOr<CrlInfo> RevokeVaultCertificate(const std::string& dir,
                                               const RevokeRequest& request);

// Re-issues DIR/crl.pem with its current entries (an empty list when there is
// none yet), valid for `days`: run it before the nextUpdate of the one hosts
// hold. Errors as RevokeVaultCertificate.
absl::StatusOr<CrlInfo> IssueVaultCrl(const std::string& dir, int days,
                                      CaKeyProtector* protector = nullptr);

}  // namespace asr::net

#endif  // ASR_NET_PKI_H_
