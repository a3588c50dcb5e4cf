#include "asr/cli/pki_commands.h"

#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "asr/cli/engine_options.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/fabric/crypto.h"
#include "asr/fabric/key_provider.h"
#include "asr/model/cli.pb.h"
#include "asr/model/json.h"
#include "asr/net/pki.h"

namespace asr::cli {
namespace {

// Wraps the CA's private key with the key-encryption key of the command
// line's key provider (--key-file, ASR_KEY_FILE, ASR_KEY_ENCRYPTION_KEY):
// the wrapped bytes are the key id's length (one byte), the key id, and the
// PEM sealed with AES-256-GCM under the KEK, the key id in its context.
class KeyProviderCaProtector final : public net::CaKeyProtector {
 public:
  explicit KeyProviderCaProtector(std::shared_ptr<fabric::KeyProvider> keys)
      : keys_(std::move(keys)) {}

  absl::StatusOr<std::string> Wrap(absl::string_view pem) override {
    ASR_ASSIGN_OR_RETURN(fabric::KeyEncryptionKey kek, keys_->GetKey(kPurpose));
    if (kek.key_id.size() > 255) return absl::InvalidArgumentError("key id over 255 bytes");
    ASR_ASSIGN_OR_RETURN(std::string sealed, fabric::Seal(kek.key, pem, Context(kek.key_id)));
    return absl::StrCat(std::string(1, static_cast<char>(kek.key_id.size())), kek.key_id, sealed);
  }

  absl::StatusOr<std::string> Unwrap(absl::string_view wrapped) override {
    if (wrapped.empty() || wrapped.size() < size_t{1} + static_cast<uint8_t>(wrapped[0])) {
      return absl::DataLossError("the wrapped key is truncated");
    }
    size_t n = static_cast<uint8_t>(wrapped[0]);
    std::string key_id(wrapped.substr(1, n));
    ASR_ASSIGN_OR_RETURN(fabric::KeyEncryptionKey kek, keys_->GetKey(kPurpose));
    if (kek.key_id != key_id) {
      return absl::PermissionDeniedError(
          absl::StrCat("the CA key was wrapped with key ", key_id, ", but ", keys_->Describe(),
                       " gives key ", kek.key_id, ": use the key file that wrapped it"));
    }
    absl::StatusOr<std::string> pem =
        fabric::Unseal(kek.key, wrapped.substr(1 + n), Context(key_id));
    if (!pem.ok()) {
      return absl::PermissionDeniedError(absl::StrCat(
          "the key-encryption key does not open the CA key (", pem.status().message(), ")"));
    }
    return pem;
  }

  std::string Describe() const override { return keys_->Describe(); }

 private:
  static constexpr char kPurpose[] = "pki-ca-key";
  static std::string Context(absl::string_view key_id) {
    return absl::StrCat("pki-ca-key:", key_id);
  }
  std::shared_ptr<fabric::KeyProvider> keys_;
};

// The protector of this command line's key provider; null without one.
std::unique_ptr<net::CaKeyProtector> CaProtectorFor(const CommandContext& ctx) {
  std::shared_ptr<fabric::KeyProvider> keys = KeyProviderFor(ctx);
  if (keys == nullptr || !keys->configured()) return nullptr;
  return std::make_unique<KeyProviderCaProtector>(std::move(keys));
}

using net::CertificateInfo;
using net::HostCertificateFiles;

model::CertificateOutput InfoOutput(const CertificateInfo& info) {
  model::CertificateOutput o;
  o.set_subject(info.subject);
  o.set_issuer(info.issuer);
  o.set_not_before(net::FormatCertificateTime(info.not_before));
  o.set_not_after(net::FormatCertificateTime(info.not_after));
  o.set_is_ca(info.is_ca);
  for (const std::string& s : info.subject_alt_names) o.add_subject_alt_names(s);
  o.set_sha256(info.sha256_fingerprint);
  o.set_serial(info.serial);
  return o;
}

model::CertificateFilesOutput FilesOutput(const std::string& certificate, const std::string& key,
                                          const CertificateInfo& info) {
  model::CertificateFilesOutput o;
  o.set_certificate(certificate);
  o.set_key(key);
  *o.mutable_info() = InfoOutput(info);
  return o;
}

std::string InfoText(const CertificateInfo& info) {
  return absl::StrCat(info.subject, ", valid until ", net::FormatCertificateTime(info.not_after),
                      info.subject_alt_names.empty()
                          ? ""
                          : absl::StrCat(", ", absl::StrJoin(info.subject_alt_names, " ")));
}

absl::StatusOr<int> Days(const ParsedArgs& a, const std::string& flag, int def) {
  if (!a.Has(flag)) return def;
  auto v = ParseInt(a.Get(flag), "--" + flag, 1, 36500);
  if (!v.ok()) return v.status();
  return static_cast<int>(*v);
}

std::vector<std::string> SanList(const ParsedArgs& a, const std::string& flag = "san") {
  if (!a.Has(flag)) return {};
  return absl::StrSplit(a.Get(flag), ',', absl::SkipWhitespace());
}

// --dir DIR, or --pki DIR as the replication commands spell it.
absl::StatusOr<std::string> PkiDir(const ParsedArgs& a) {
  if (a.Has("dir") && a.Has("pki") && a.Get("dir") != a.Get("pki")) {
    return absl::InvalidArgumentError("give the vault's PKI directory once: --dir or --pki");
  }
  if (a.Has("pki")) return a.Get("pki");
  return a.Require("dir");
}

absl::Status PkiInit(const CommandContext& ctx, const ParsedArgs& a) {
  auto dir = a.Require("dir");
  if (!dir.ok()) return dir.status();
  net::VaultPkiOptions options;
  options.primary_name = a.Get("primary-name", options.primary_name);
  options.recovery_name = a.Get("recovery-name", options.recovery_name);
  options.ca_name = a.Get("ca-name", options.ca_name);
  if (a.Has("days") && a.Has("host-days") && a.Get("days") != a.Get("host-days")) {
    return absl::InvalidArgumentError("--days and --host-days are the same option: give one");
  }
  auto days = Days(a, a.Has("host-days") ? "host-days" : "days", net::kDefaultHostCertificateDays);
  if (!days.ok()) return days.status();
  auto ca_days = Days(a, "ca-days", net::kDefaultCaDays);
  if (!ca_days.ok()) return ca_days.status();
  options.host_days = *days;
  options.ca_days = *ca_days;
  options.primary_extra_names = SanList(a, "primary-san");
  options.recovery_extra_names = SanList(a, "recovery-san");
  std::unique_ptr<net::CaKeyProtector> protector = CaProtectorFor(ctx);
  options.ca_key_protector = protector.get();
  if (protector == nullptr) {
    *ctx.err << "asrctl: warning: no key-encryption key is configured, so ca.key holds the CA's "
                "private key in the clear (mode 0600); give --key-file PATH (asrctl key-provider "
                "init) to wrap it\n";
  }
  auto files = net::InitVaultPki(*dir, options);
  if (!files.ok()) return files.status();
  if (ctx.json) {
    model::PkiInitOutput o;
    o.set_dir(*dir);
    *o.mutable_ca() = FilesOutput(files->ca_certificate_path, files->ca_key_path, files->ca_info);
    *o.mutable_primary() =
        FilesOutput(files->primary.certificate_path, files->primary.key_path, files->primary.info);
    *o.mutable_recovery() = FilesOutput(files->recovery.certificate_path, files->recovery.key_path,
                                        files->recovery.info);
    *ctx.out << model::ToJson(o) << "\n";
    return absl::OkStatus();
  }
  *ctx.out << "created the vault certificate authority in " << *dir << "\n"
           << "  CA:       " << files->ca_certificate_path << " (key " << files->ca_key_path
           << (protector != nullptr ? ", wrapped by " + protector->Describe() : ", mode 0600")
           << "; keep it offline)\n    " << InfoText(files->ca_info) << "\n"
           << "  primary:  " << files->primary.certificate_path << " + " << files->primary.key_path
           << "\n    " << InfoText(files->primary.info) << "\n"
           << "  recovery: " << files->recovery.certificate_path << " + "
           << files->recovery.key_path << "\n    " << InfoText(files->recovery.info) << "\n"
           << "copy ca.pem and each host's .pem/.key to that host; replication uses TLS 1.3 "
              "with certificate authentication on port 8084\n";
  return absl::OkStatus();
}

absl::Status PkiIssue(const CommandContext& ctx, const ParsedArgs& a) {
  auto dir = a.Require("dir");
  if (!dir.ok()) return dir.status();
  auto name = a.Require("name");
  if (!name.ok()) return name.status();
  auto days = Days(a, "days", net::kDefaultHostCertificateDays);
  if (!days.ok()) return days.status();
  std::unique_ptr<net::CaKeyProtector> protector = CaProtectorFor(ctx);
  auto files = net::IssueVaultHostCertificate(*dir, *name, *days, SanList(a), protector.get());
  if (!files.ok()) return files.status();
  if (ctx.json) {
    *ctx.out << model::ToJson(FilesOutput(files->certificate_path, files->key_path, files->info))
             << "\n";
    return absl::OkStatus();
  }
  *ctx.out << "issued " << files->certificate_path << " + " << files->key_path << " (mode 0600)\n  "
           << InfoText(files->info) << "\n";
  return absl::OkStatus();
}

absl::Status PkiShow(const CommandContext& ctx, const ParsedArgs& a) {
  const std::string& path = a.positional[0];
  auto pem = ReadFileToString(path);
  if (!pem.ok()) return pem.status();
  auto info = net::DescribeCertificate(*pem);
  if (!info.ok())
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", info.status().message()));
  absl::Status verified = absl::OkStatus();
  if (a.Has("ca")) {
    auto ca = ReadFileToString(a.Get("ca"));
    if (!ca.ok()) return ca.status();
    verified = net::VerifyCertificateChain(*pem, *ca, absl::Now());
  }
  if (ctx.json) {
    model::PkiShowOutput o;
    o.set_file(path);
    *o.mutable_info() = InfoOutput(*info);
    if (a.Has("ca")) {
      o.set_verified(verified.ok());
      if (!verified.ok()) o.set_error(std::string(verified.message()));
    }
    *ctx.out << model::ToJson(o) << "\n";
  } else {
    *ctx.out << path << ": " << InfoText(*info) << "\n  issuer " << info->issuer << ", valid from "
             << net::FormatCertificateTime(info->not_before)
             << (info->is_ca ? ", certificate authority" : "") << "\n  sha256 "
             << info->sha256_fingerprint << "\n";
    if (a.Has("ca") && verified.ok()) *ctx.out << "  verified against " << a.Get("ca") << "\n";
  }
  if (!verified.ok()) return verified;
  return absl::OkStatus();
}

model::CrlOutput CrlToProto(const net::CrlInfo& crl) {
  model::CrlOutput o;
  o.set_file(crl.path);
  o.set_issuer(crl.issuer);
  o.set_last_update(net::FormatCertificateTime(crl.last_update));
  o.set_next_update(net::FormatCertificateTime(crl.next_update));
  for (const net::RevokedCertificate& r : crl.revoked) {
    model::CrlOutput::Revoked* e = o.add_revoked();
    e->set_serial(r.serial);
    e->set_revoked_at(net::FormatCertificateTime(r.revoked_at));
    e->set_reason(r.reason);
  }
  return o;
}

void PrintCrl(const CommandContext& ctx, const net::CrlInfo& crl) {
  if (ctx.json) {
    *ctx.out << model::ToJson(CrlToProto(crl)) << "\n";
    return;
  }
  *ctx.out << crl.path << ": revocation list of " << crl.issuer << ", issued "
           << net::FormatCertificateTime(crl.last_update) << ", next update due "
           << net::FormatCertificateTime(crl.next_update) << "\n";
  if (crl.revoked.empty()) *ctx.out << "  no revoked certificates\n";
  for (const net::RevokedCertificate& r : crl.revoked) {
    *ctx.out << "  serial " << r.serial << " revoked " << net::FormatCertificateTime(r.revoked_at)
             << " (" << r.reason << ")\n";
  }
  *ctx.out << "copy " << crl.path
           << " to every host (replica serve and replicate use DIR/crl.pem with --pki DIR, "
              "or --crl FILE) and re-issue it with `asrctl pki crl` before its next update\n";
}

absl::StatusOr<int> CrlDays(const ParsedArgs& a) {
  return Days(a, "crl-days", net::kDefaultCrlDays);
}

absl::Status PkiRevoke(const CommandContext& ctx, const ParsedArgs& a) {
  auto dir = PkiDir(a);
  if (!dir.ok()) return dir.status();
  net::RevokeRequest r;
  r.name = a.Get("name");
  r.certificate_path = a.Get("cert");
  r.serial_hex = a.Get("serial");
  if ((!r.name.empty()) + (!r.certificate_path.empty()) + (!r.serial_hex.empty()) != 1) {
    return absl::InvalidArgumentError(
        "name the certificate to revoke with exactly one of --name HOST, --cert FILE or "
        "--serial HEX");
  }
  r.reason = a.Get("reason", "unspecified");
  auto days = CrlDays(a);
  if (!days.ok()) return days.status();
  r.crl_days = *days;
  std::unique_ptr<net::CaKeyProtector> protector = CaProtectorFor(ctx);
  r.ca_key_protector = protector.get();
  auto crl = net::RevokeVaultCertificate(*dir, r);
  if (!crl.ok()) return crl.status();
  if (!ctx.json) {
    *ctx.out << "revoked "
             << (!r.name.empty()               ? absl::StrCat("the certificate of ", r.name)
                 : !r.certificate_path.empty() ? r.certificate_path
                                               : absl::StrCat("serial ", r.serial_hex))
             << "\n";
  }
  PrintCrl(ctx, *crl);
  return absl::OkStatus();
}

absl::Status PkiCrl(const CommandContext& ctx, const ParsedArgs& a) {
  auto dir = PkiDir(a);
  if (!dir.ok()) return dir.status();
  auto days = CrlDays(a);
  if (!days.ok()) return days.status();
  std::unique_ptr<net::CaKeyProtector> protector = CaProtectorFor(ctx);
  auto crl = net::IssueVaultCrl(*dir, *days, protector.get());
  if (!crl.ok()) return crl.status();
  PrintCrl(ctx, *crl);
  return absl::OkStatus();
}

}  // namespace

void RegisterPkiCommands(CommandRegistry& r) {
  r.Add({"pki init",
         "pki init --dir DIR [--primary-name NAME] [--recovery-name NAME] [--host-days N] "
         "[--ca-days N] [--ca-name NAME] [--primary-san NAME,IP,...] [--recovery-san NAME,IP,...]",
         "Create the vault's certificate authority (ca.pem, ca.key) and certificates for a "
         "primary and a recovery host (primary.pem/.key, recovery.pem/.key) in DIR. Each host's "
         "certificate names only that host (its name, plus the --primary-san / --recovery-san "
         "entries, which may not overlap): a sender checks that the receiver's certificate names "
         "the recovery host. --host-days (or --days) and --ca-days set the lifetimes",
         {"dir", "primary-name", "recovery-name", "days", "host-days", "ca-days", "ca-name",
          "primary-san", "recovery-san"},
         {},
         0,
         0,
         PkiInit});
  r.Add({"pki issue",
         "pki issue --dir DIR --name NAME [--days N] [--san NAME,IP,...]",
         "Issue (or renew) DIR/NAME.pem and DIR/NAME.key from the vault CA in DIR",
         {"dir", "name", "days", "san"},
         {},
         0,
         0,
         PkiIssue});
  r.Add({"pki revoke",
         "pki revoke --dir DIR (--name HOST | --cert FILE | --serial HEX) [--reason REASON] "
         "[--crl-days N]",
         "Revoke a host certificate: adds it to DIR/crl.pem and re-issues that list, signed by "
         "the vault CA and valid for --crl-days (30); hosts given the list refuse the "
         "certificate. REASON: unspecified, keyCompromise, cACompromise, affiliationChanged, "
         "superseded, cessationOfOperation (--pki DIR works as --dir DIR)",
         {"dir", "pki", "name", "cert", "serial", "reason", "crl-days"},
         {},
         0,
         0,
         PkiRevoke});
  r.Add({"pki crl",
         "pki crl --dir DIR [--crl-days N]",
         "Re-issue DIR/crl.pem (the vault CA's revocation list) with its entries and a new "
         "next update in --crl-days (30), and show it; hosts refuse every peer once the list "
         "they hold is past its next update (--pki DIR works as --dir DIR)",
         {"dir", "pki", "crl-days"},
         {},
         0,
         0,
         PkiCrl});
  r.Add({"pki show",
         "pki show CERT.pem [--ca CA.pem]",
         "Describe a certificate; with --ca, verify it against the vault CA",
         {"ca"},
         {},
         1,
         1,
         PkiShow});
}

}  // namespace asr::cli
