#include "asr/cli/pki_commands.h"

#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "asr/common/file_util.h"
#include "asr/net/pki.h"

namespace asr::cli {
namespace {

using net::CertificateInfo;
using net::HostCertificateFiles;

std::string InfoJson(const CertificateInfo& info) {
  std::vector<std::string> sans;
  for (const std::string& s : info.subject_alt_names) sans.push_back(JsonQuote(s));
  return absl::StrCat("{\"subject\":", JsonQuote(info.subject), ",\"issuer\":", JsonQuote(info.issuer),
                      ",\"notBefore\":", JsonQuote(net::FormatCertificateTime(info.not_before)),
                      ",\"notAfter\":", JsonQuote(net::FormatCertificateTime(info.not_after)),
                      ",\"isCa\":", info.is_ca ? "true" : "false", ",\"subjectAltNames\":[",
                      absl::StrJoin(sans, ","), "],\"sha256\":", JsonQuote(info.sha256_fingerprint),
                      "}");
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

std::vector<std::string> SanList(const ParsedArgs& a) {
  if (!a.Has("san")) return {};
  return absl::StrSplit(a.Get("san"), ',', absl::SkipWhitespace());
}

absl::Status PkiInit(const CommandContext& ctx, const ParsedArgs& a) {
  auto dir = a.Require("dir");
  if (!dir.ok()) return dir.status();
  net::VaultPkiOptions options;
  options.primary_name = a.Get("primary-name", options.primary_name);
  options.recovery_name = a.Get("recovery-name", options.recovery_name);
  options.ca_name = a.Get("ca-name", options.ca_name);
  auto days = Days(a, "days", net::kDefaultHostCertificateDays);
  if (!days.ok()) return days.status();
  auto ca_days = Days(a, "ca-days", net::kDefaultCaDays);
  if (!ca_days.ok()) return ca_days.status();
  options.host_days = *days;
  options.ca_days = *ca_days;
  auto files = net::InitVaultPki(*dir, options);
  if (!files.ok()) return files.status();
  if (ctx.json) {
    *ctx.out << "{\"dir\":" << JsonQuote(*dir) << ",\"ca\":{\"certificate\":"
             << JsonQuote(files->ca_certificate_path) << ",\"key\":" << JsonQuote(files->ca_key_path)
             << ",\"info\":" << InfoJson(files->ca_info) << "}";
    for (const auto* h : {&files->primary, &files->recovery}) {
      *ctx.out << ",\"" << (h == &files->primary ? "primary" : "recovery")
               << "\":{\"certificate\":" << JsonQuote(h->certificate_path)
               << ",\"key\":" << JsonQuote(h->key_path) << ",\"info\":" << InfoJson(h->info) << "}";
    }
    *ctx.out << "}\n";
    return absl::OkStatus();
  }
  *ctx.out << "created the vault certificate authority in " << *dir << "\n"
           << "  CA:       " << files->ca_certificate_path << " (key " << files->ca_key_path
           << ", mode 0600; keep it offline)\n    " << InfoText(files->ca_info) << "\n"
           << "  primary:  " << files->primary.certificate_path << " + "
           << files->primary.key_path << "\n    " << InfoText(files->primary.info) << "\n"
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
  auto files = net::IssueVaultHostCertificate(*dir, *name, *days, SanList(a));
  if (!files.ok()) return files.status();
  if (ctx.json) {
    *ctx.out << "{\"certificate\":" << JsonQuote(files->certificate_path)
             << ",\"key\":" << JsonQuote(files->key_path) << ",\"info\":" << InfoJson(files->info)
             << "}\n";
    return absl::OkStatus();
  }
  *ctx.out << "issued " << files->certificate_path << " + " << files->key_path
           << " (mode 0600)\n  " << InfoText(files->info) << "\n";
  return absl::OkStatus();
}

absl::Status PkiShow(const CommandContext& ctx, const ParsedArgs& a) {
  const std::string& path = a.positional[0];
  auto pem = ReadFileToString(path);
  if (!pem.ok()) return pem.status();
  auto info = net::DescribeCertificate(*pem);
  if (!info.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", info.status().message()));
  absl::Status verified = absl::OkStatus();
  if (a.Has("ca")) {
    auto ca = ReadFileToString(a.Get("ca"));
    if (!ca.ok()) return ca.status();
    verified = net::VerifyCertificateChain(*pem, *ca, absl::Now());
  }
  if (ctx.json) {
    *ctx.out << "{\"file\":" << JsonQuote(path) << ",\"info\":" << InfoJson(*info);
    if (a.Has("ca")) {
      *ctx.out << ",\"verified\":" << (verified.ok() ? "true" : "false");
      if (!verified.ok()) *ctx.out << ",\"error\":" << JsonQuote(std::string(verified.message()));
    }
    *ctx.out << "}\n";
  } else {
    *ctx.out << path << ": " << InfoText(*info) << "\n  issuer " << info->issuer
             << ", valid from " << net::FormatCertificateTime(info->not_before)
             << (info->is_ca ? ", certificate authority" : "") << "\n  sha256 "
             << info->sha256_fingerprint << "\n";
    if (a.Has("ca") && verified.ok()) *ctx.out << "  verified against " << a.Get("ca") << "\n";
  }
  if (!verified.ok()) return verified;
  return absl::OkStatus();
}

}  // namespace

void RegisterPkiCommands(CommandRegistry& r) {
  r.Add({"pki init",
         "pki init --dir DIR [--primary-name NAME] [--recovery-name NAME] [--days N] "
         "[--ca-days N] [--ca-name NAME]",
         "Create the vault's certificate authority (ca.pem, ca.key) and certificates for a "
         "primary and a recovery host (primary.pem/.key, recovery.pem/.key) in DIR",
         {"dir", "primary-name", "recovery-name", "days", "ca-days", "ca-name"},
         {},
         0,
         0,
         PkiInit});
  r.Add({"pki issue", "pki issue --dir DIR --name NAME [--days N] [--san NAME,IP,...]",
         "Issue (or renew) DIR/NAME.pem and DIR/NAME.key from the vault CA in DIR",
         {"dir", "name", "days", "san"},
         {},
         0,
         0,
         PkiIssue});
  r.Add({"pki show", "pki show CERT.pem [--ca CA.pem]",
         "Describe a certificate; with --ca, verify it against the vault CA",
         {"ca"},
         {},
         1,
         1,
         PkiShow});
}

}  // namespace asr::cli
