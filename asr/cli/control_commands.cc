#include "asr/cli/control_commands.h"

#include <istream>
#include <ostream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "asr/cli/engine_options.h"
#include "asr/common/clock.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/fabric/vault.h"
#include "asr/jobs/job_manager.h"
#include "asr/model/cli.pb.h"
#include "asr/model/json.h"
#include "asr/platform/env.h"
#include "asr/protection/item_resync.h"
#include "asr/site_recovery/site_recovery.h"

namespace asr::cli {
namespace {

// The facade over --state-dir for one command, with the host of --fabric
// (or ASR_FABRIC) attached when one is named.
absl::StatusOr<std::unique_ptr<SiteRecovery>> Open(const CommandContext& ctx) {
  absl::StatusOr<SiteRecoveryOptions> hosted = EngineOptionsWithHost(ctx);
  if (!hosted.ok()) return hosted.status();
  SiteRecoveryOptions options = *hosted;
  options.create_if_missing = false;
  return SiteRecovery::Open(ctx.state_dir, options);
}

template <typename Fn>
absl::Status WithSiteRecovery(const CommandContext& ctx, Fn&& fn) {
  auto s = Open(ctx);
  if (!s.ok()) return s.status();
  return fn(**s);
}

absl::Status PrintJson(const CommandContext& ctx, const absl::StatusOr<std::string>& json) {
  if (!json.ok()) return json.status();
  *ctx.out << *json << "\n";
  return absl::OkStatus();
}

// ---- vault, key -----------------------------------------------------------------

absl::Status VaultCreate(const CommandContext& ctx, const ParsedArgs& a) {
  return WithSiteRecovery(ctx, [&](SiteRecovery& p) {
    return ReportJob(ctx, p.fabric().CreateVault(a.Get("name"), a.Get("region")));
  });
}

absl::Status VaultShow(const CommandContext& ctx, const ParsedArgs&) {
  return WithSiteRecovery(ctx, [&](SiteRecovery& p) {
    auto v = p.fabric().vault().Get();
    if (!v.ok()) return v.status();
    if (ctx.json) {
      *ctx.out << model::ToJson(*v) << "\n";
    } else {
      *ctx.out << "vault " << v->name() << " (" << v->id() << ") in " << v->region() << ", created "
               << fabric::FormatUnixTime(v->created_time_unix()) << "\n";
    }
    return absl::OkStatus();
  });
}

absl::Status KeyGenerate(const CommandContext& ctx, const ParsedArgs& a) {
  return WithSiteRecovery(ctx, [&](SiteRecovery& p) {
    auto key = p.fabric().GenerateRegistrationKey();
    if (!key.ok()) return key.status();
    std::string file = a.Get("output");
    if (file.empty()) {
      *ctx.out << *key << "\n";
      return absl::OkStatus();
    }
    // The key lets its holder register a server with the vault: the file is
    // its owner's alone (created 0600, never through a planted link).
    absl::Status s = WriteFileAtomically(file, *key, kSecretFileMode);
    if (!s.ok()) return s;
    model::RegistrationKey k;
    (void)model::FromJson(*key, &k);
    if (ctx.json) {
      model::KeyFileOutput o;
      o.set_file(file);
      o.set_expiry_time_unix(k.expiry_time_unix());
      *ctx.out << model::ToJson(o) << "\n";
    } else {
      *ctx.out << "registration key written to " << file << "; valid until "
               << fabric::FormatUnixTime(k.expiry_time_unix()) << " (5 days)\n";
    }
    return absl::OkStatus();
  });
}

absl::Status KeyVerify(const CommandContext& ctx, const ParsedArgs& a) {
  return WithSiteRecovery(ctx, [&](SiteRecovery& p) {
    auto text = ReadFileToString(a.positional[0]);
    if (!text.ok()) return text.status();
    auto key = p.fabric().vault().VerifyRegistrationKey(*text);
    if (!key.ok()) return key.status();
    if (ctx.json) {
      *ctx.out << model::ToJson(*key) << "\n";
    } else {
      *ctx.out << "registration key " << key->key_id() << " of vault " << key->vault_name()
               << " is valid until " << fabric::FormatUnixTime(key->expiry_time_unix()) << "\n";
    }
    return absl::OkStatus();
  });
}

// ---- server -------------------------------------------------------------------

// The proxy password from --proxy-password-file FILE (its first line),
// --proxy-password-stdin (the first line of standard input) or, visible to
// every user in the process list, --proxy-password PW (with a warning).
absl::StatusOr<std::string> ProxyPassword(const CommandContext& ctx, const ParsedArgs& a) {
  int given = 0;
  for (const char* flag : {"proxy-password", "proxy-password-file", "proxy-password-stdin"}) {
    given += a.Has(flag) ? 1 : 0;
  }
  if (given > 1) {
    return absl::InvalidArgumentError(
        "give the proxy password one way only: --proxy-password-file FILE, "
        "--proxy-password-stdin or --proxy-password PW");
  }
  if (a.Has("proxy-password")) {
    *ctx.err << "warning: --proxy-password is visible to other users of this machine (ps, "
                "/proc/PID/cmdline); use --proxy-password-file FILE or --proxy-password-stdin\n";
    return a.Get("proxy-password");
  }
  std::string text, source;
  if (a.Has("proxy-password-file")) {
    source = a.Get("proxy-password-file");
    ASR_ASSIGN_OR_RETURN(text, ReadFileToString(source));
    absl::StatusOr<platform::FileInfo> info = platform::Env::Default()->Stat(source);
    if (info.ok() && (info->permissions & 077) != 0) {
      *ctx.err << "warning: the proxy password file " << source
               << " is readable by other users; chmod 600 it\n";
    }
  } else if (a.Has("proxy-password-stdin")) {
    source = "standard input";
    if (ctx.in == nullptr || !std::getline(*ctx.in, text)) {
      return absl::InvalidArgumentError(
          "--proxy-password-stdin: no password on standard input (one line expected)");
    }
  } else {
    return std::string();
  }
  // One line: the newline that ends it is not part of the password.
  text = text.substr(0, text.find('\n'));
  if (!text.empty() && text.back() == '\r') text.pop_back();
  if (text.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("the proxy password in ", source, " is empty"));
  }
  return text;
}

absl::Status ServerRegister(const CommandContext& ctx, const ParsedArgs& a) {
  model::ServerRegistrationRequest req;
  if (!a.Has("credentials")) {
    return absl::InvalidArgumentError(
        "--credentials FILE is mandatory (/Credentials: the registration key file)");
  }
  if (!a.Has("friendly-name")) {
    return absl::InvalidArgumentError(
        "--friendly-name NAME is mandatory (/FriendlyName; a VMM cluster registers under its "
        "cluster role name)");
  }
  auto key = ReadFileToString(a.Get("credentials"));
  if (!key.ok()) return key.status();
  req.set_credentials(*key);
  req.set_friendly_name(a.Get("friendly-name"));
  req.set_site_id(a.Get("site"));
  req.set_provider_version(a.Get("provider-version"));
  req.set_proxy_address(a.Get("proxy-address"));
  if (a.Has("proxy-port")) {
    auto port = ParseInt(a.Get("proxy-port"), "--proxy-port", 1, 65535);
    if (!port.ok()) return port.status();
    req.set_proxy_port(static_cast<int32_t>(*port));
  }
  req.set_proxy_user_name(a.Get("proxy-user"));
  auto password = ProxyPassword(ctx, a);
  if (!password.ok()) return password.status();
  req.set_proxy_password(*password);
  req.set_sync_all_cloud_metadata(a.Has("sync-all-clouds"));
  req.set_encryption_certificate(a.Get("encryption-enabled"));
  if (a.Has("cluster-node")) {
    req.set_is_cluster(true);
    req.set_node_name(a.Get("cluster-node"));
    req.set_is_active_node(a.Has("active-node"));
  }
  if (!req.encryption_certificate().empty() && !ctx.json) {
    *ctx.err << "note: --encryption-enabled (/EncryptionEnabled) applies only to replication to "
                "Azure; accepted and ignored for a secondary site\n";
  }
  return WithSiteRecovery(
      ctx, [&](SiteRecovery& p) { return ReportJob(ctx, p.fabric().RegisterServer(req)); });
}

absl::Status ServerUnregister(const CommandContext& ctx, const ParsedArgs& a) {
  return WithSiteRecovery(ctx, [&](SiteRecovery& p) {
    return ReportJob(ctx, p.fabric().UnregisterServer(a.positional[0]));
  });
}

absl::Status ServerList(const CommandContext& ctx, const ParsedArgs&) {
  return WithSiteRecovery(ctx, [&](SiteRecovery& p) {
    auto servers = p.repository().List<model::VmmServer>();
    if (!servers.ok()) return servers.status();
    if (ctx.json) return PrintJson(ctx, p.repository().ListObjectsJson("server"));
    for (const auto& s : *servers) {
      *ctx.out << s.friendly_name() << " (" << s.id() << ") site " << s.site_id() << ", provider "
               << s.provider_version() << (s.is_cluster() ? ", cluster of " : "")
               << (s.is_cluster() ? std::to_string(s.cluster_nodes_size()) + " nodes" : "") << "\n";
    }
    return absl::OkStatus();
  });
}

// ---- inventory, cloud --------------------------------------------------------

absl::Status InventorySync(const CommandContext& ctx, const ParsedArgs& a) {
  // Without --file the host reports the inventory (--fabric / ASR_FABRIC,
  // --qemu-host / ASR_QEMU_HOST).
  bool from_host = !a.Has("file") && (!FabricDirFor(ctx).empty() || !QemuHostDirFor(ctx).empty());
  if (!a.Has("file") && !from_host) {
    return absl::InvalidArgumentError(
        "--file inventory.json is required: asrctl has no VMM host attached (--fabric DIR, "
        "ASR_FABRIC, --qemu-host DIR or ASR_QEMU_HOST names one), so the inventory comes as a "
        "document");
  }
  model::Inventory inventory;
  if (!from_host) {
    auto text = ReadFileToString(a.Get("file"));
    if (!text.ok()) return text.status();
    absl::Status parsed = model::FromJson(*text, &inventory);
    if (!parsed.ok()) return parsed;
  }
  return WithSiteRecovery(ctx, [&](SiteRecovery& p) {
    auto job =
        p.fabric().SyncInventory(a.Get("server"), from_host ? nullptr : &inventory, a.Get("cloud"));
    if (!job.ok() || ctx.json) return ReportJob(ctx, job);
    PrintJob(ctx, *job);
    auto report = jobs::ResultOf<model::InventoryChangeReport>(*job);
    if (report.ok()) {
      for (const auto& [label, list] : {std::make_pair("added", &report->added()),
                                        std::make_pair("updated", &report->updated()),
                                        std::make_pair("removed", &report->removed())}) {
        for (const auto& c : *list) {
          *ctx.out << "  " << label << " " << c.kind() << " " << c.name() << " (" << c.id()
                   << ")\n";
        }
      }
      *ctx.out << "  " << report->added_size() << " added, " << report->updated_size()
               << " updated, " << report->removed_size() << " removed, " << report->unchanged()
               << " unchanged\n";
    }
    return absl::OkStatus();
  });
}

absl::Status CloudPair(const CommandContext& ctx, const ParsedArgs& a) {
  return WithSiteRecovery(ctx, [&](SiteRecovery& p) {
    return ReportJob(ctx, p.fabric().PairClouds(a.Get("primary"), a.Get("recovery")));
  });
}

absl::Status CloudUnpair(const CommandContext& ctx, const ParsedArgs& a) {
  std::string ref = a.positional.empty() ? a.Get("pairing") : a.positional[0];
  return WithSiteRecovery(
      ctx, [&](SiteRecovery& p) { return ReportJob(ctx, p.fabric().UnpairClouds(ref)); });
}

// ---- policy -----------------------------------------------------------------

absl::StatusOr<int64_t> ParseTimeArg(const std::string& flag, const std::string& text) {
  int64_t unix = 0;
  if (absl::SimpleAtoi(text, &unix)) return unix;
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, text, &t, &err)) return absl::ToUnixSeconds(t);
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag, ": '", text,
                   "' is not a time; use RFC 3339 (2026-11-21T23:00:00Z) or Unix "
                   "seconds"));
}

// Applies the Az-named options onto `p`.
absl::Status ApplyPolicyOptions(const ParsedArgs& a, model::ReplicationPolicy* p) {
  if (a.Has("replication-provider")) {
    model::ReplicationProvider provider;
    if (!model::ReplicationProvider_Parse(a.Get("replication-provider"), &provider) ||
        provider == model::REPLICATION_PROVIDER_UNSPECIFIED) {
      return absl::InvalidArgumentError(
          absl::StrCat("--replication-provider: '", a.Get("replication-provider"),
                       "' is not a provider; use HyperVReplica2012 or HyperVReplica2012R2"));
    }
    p->set_replication_provider(provider);
  }
  if (a.Has("replication-frequency-in-seconds")) {
    if (p->replication_provider() == model::HyperVReplica2012) {
      return absl::InvalidArgumentError(
          "--replication-frequency-in-seconds is refused for HyperVReplica2012: Windows Server "
          "2012 hosts always copy every 300 seconds (rule CopyFrequencyFixedOn2012)");
    }
    ASR_ASSIGN_OR_RETURN(int64_t v, ParseInt(a.Get("replication-frequency-in-seconds"),
                                             "--replication-frequency-in-seconds", 0, 86400));
    p->set_replication_frequency_in_seconds(static_cast<int32_t>(v));
  }
  if (a.Has("number-of-recovery-points-to-retain")) {
    ASR_ASSIGN_OR_RETURN(int64_t v, ParseInt(a.Get("number-of-recovery-points-to-retain"),
                                             "--number-of-recovery-points-to-retain", 0, 1000));
    p->set_number_of_recovery_points_to_retain(static_cast<int32_t>(v));
  }
  if (a.Has("application-consistent-snapshot-frequency-in-hours")) {
    ASR_ASSIGN_OR_RETURN(int64_t v,
                         ParseInt(a.Get("application-consistent-snapshot-frequency-in-hours"),
                                  "--application-consistent-snapshot-frequency-in-hours", 0, 1000));
    p->set_application_consistent_snapshot_frequency_in_hours(static_cast<int32_t>(v));
  }
  // Verification and resynchronization (asr/protection/item_resync.h).
  if (a.Has("auto-resynchronize")) {
    std::string c = a.Get("auto-resynchronize");
    if (c != "Enable" && c != "Disable") {
      return absl::InvalidArgumentError("--auto-resynchronize: use Enable or Disable");
    }
    p->set_auto_resynchronize_enabled(c == "Enable");
  }
  if (a.Has("auto-resynchronize-interval-start")) {
    p->set_auto_resynchronize_interval_start(a.Get("auto-resynchronize-interval-start"));
  }
  if (a.Has("auto-resynchronize-interval-end")) {
    p->set_auto_resynchronize_interval_end(a.Get("auto-resynchronize-interval-end"));
  }
  ASR_RETURN_IF_ERROR(protection::CheckAutoResyncWindow(*p));
  if (a.Has("verification-frequency-in-hours")) {
    ASR_ASSIGN_OR_RETURN(int64_t v, ParseInt(a.Get("verification-frequency-in-hours"),
                                             "--verification-frequency-in-hours", 0, 8760));
    p->set_verification_frequency_in_hours(static_cast<int32_t>(v));
  }
  if (a.Has("compression")) {
    std::string c = a.Get("compression");
    if (c != "Enable" && c != "Disable") {
      return absl::InvalidArgumentError("--compression: use Enable or Disable");
    }
    p->set_compression_enabled(c == "Enable");
  }
  if (a.Has("authentication")) {
    std::string v = a.Get("authentication");
    if (v == "Certificate") {
      p->set_authentication(model::Certificate);
    } else if (v == "Kerberos") {
      p->set_authentication(model::Kerberos);
    } else {
      return absl::InvalidArgumentError("--authentication: use Certificate or Kerberos");
    }
    if (!a.Has("replication-port")) p->set_replication_port(0);  // the new default
  }
  if (a.Has("replication-port")) {
    ASR_ASSIGN_OR_RETURN(int64_t v,
                         ParseInt(a.Get("replication-port"), "--replication-port", 1, 65535));
    p->set_replication_port(static_cast<int32_t>(v));
  }
  if (a.Has("replication-method")) {
    std::string v = a.Get("replication-method");
    if (v == "Online") {
      p->set_replication_method(model::OverNetwork);
      p->clear_offline_export_path();
      p->clear_offline_import_path();
    } else if (v == "Offline") {
      p->set_replication_method(model::Offline);
      p->set_replication_start_time_unix(0);
    } else {
      return absl::InvalidArgumentError("--replication-method: use Online or Offline");
    }
  }
  if (a.Has("replication-start-time")) {
    ASR_ASSIGN_OR_RETURN(int64_t t,
                         ParseTimeArg("replication-start-time", a.Get("replication-start-time")));
    p->set_replication_start_time_unix(t);
  }
  if (a.Has("offline-export-path")) p->set_offline_export_path(a.Get("offline-export-path"));
  if (a.Has("offline-import-path")) p->set_offline_import_path(a.Get("offline-import-path"));
  if (a.Has("replica-deletion")) {
    std::string v = a.Get("replica-deletion");
    if (v == "Required") {
      p->set_replica_deletion(model::Required);
    } else if (v == "NotRequired") {
      p->set_replica_deletion(model::NotRequired);
    } else {
      return absl::InvalidArgumentError("--replica-deletion: use Required or NotRequired");
    }
  }
  return absl::OkStatus();
}

absl::Status PolicyCreate(const CommandContext& ctx, const ParsedArgs& a) {
  model::ReplicationPolicy p;
  p.set_name(a.Get("name"));
  absl::Status s = ApplyPolicyOptions(a, &p);
  if (!s.ok()) return s;
  return WithSiteRecovery(
      ctx, [&](SiteRecovery& plane) { return ReportJob(ctx, plane.policies().CreatePolicy(p)); });
}

absl::Status PolicyUpdate(const CommandContext& ctx, const ParsedArgs& a) {
  return WithSiteRecovery(ctx, [&](SiteRecovery& plane) {
    auto p = plane.policies().FindPolicy(a.Get("name"));
    if (!p.ok()) return p.status();
    model::ReplicationPolicy next = *p;
    if (next.replication_provider() == model::HyperVReplica2012 && !a.Has("replication-provider")) {
      next.clear_replication_frequency_in_seconds();
    }
    absl::Status s = ApplyPolicyOptions(a, &next);
    if (!s.ok()) return s;
    return ReportJob(ctx, plane.policies().UpdatePolicy(next));
  });
}

absl::Status PolicyDelete(const CommandContext& ctx, const ParsedArgs& a) {
  std::string ref = a.positional.empty() ? a.Get("name") : a.positional[0];
  return WithSiteRecovery(
      ctx, [&](SiteRecovery& p) { return ReportJob(ctx, p.policies().DeletePolicy(ref)); });
}

absl::Status PolicyAssociate(const CommandContext& ctx, const ParsedArgs& a) {
  return WithSiteRecovery(ctx, [&](SiteRecovery& p) {
    return ReportJob(ctx, p.policies().AssociatePolicy(a.Get("policy"), a.Get("pairing")));
  });
}

absl::Status PolicyDissociate(const CommandContext& ctx, const ParsedArgs& a) {
  return WithSiteRecovery(ctx, [&](SiteRecovery& p) {
    return ReportJob(ctx, p.policies().DissociatePolicy(a.Get("pairing")));
  });
}

absl::Status PolicyList(const CommandContext& ctx, const ParsedArgs&) {
  return WithSiteRecovery(ctx, [&](SiteRecovery& p) {
    if (ctx.json) return PrintJson(ctx, p.repository().ListObjectsJson("policy"));
    auto all = p.repository().List<model::ReplicationPolicy>();
    if (!all.ok()) return all.status();
    for (const auto& pol : *all) {
      *ctx.out << pol.name() << ": " << model::ReplicationProvider_Name(pol.replication_provider())
               << ", every " << pol.replication_frequency_in_seconds() << " s, "
               << pol.number_of_recovery_points_to_retain() << " recovery points, port "
               << pol.replication_port() << "\n";
    }
    return absl::OkStatus();
  });
}

absl::Status PolicyShow(const CommandContext& ctx, const ParsedArgs& a) {
  return WithSiteRecovery(ctx, [&](SiteRecovery& p) {
    auto pol = p.policies().FindPolicy(a.positional[0]);
    if (!pol.ok()) return pol.status();
    *ctx.out << model::ToJson(*pol, /*pretty=*/!ctx.json) << "\n";
    return absl::OkStatus();
  });
}

// ---- job ----------------------------------------------------------------------

absl::Status JobList(const CommandContext& ctx, const ParsedArgs& a) {
  jobs::JobFilter f;
  if (a.Has("state")) {
    auto st = jobs::ParseJobState(a.Get("state"));
    if (!st.ok()) return st.status();
    f.state = *st;
  }
  if (a.Has("since")) {
    auto t = ParseTimeArg("since", a.Get("since"));
    if (!t.ok()) return t.status();
    f.started_after = absl::FromUnixSeconds(*t);
  }
  if (a.Has("until")) {
    auto t = ParseTimeArg("until", a.Get("until"));
    if (!t.ok()) return t.status();
    f.started_before = absl::FromUnixSeconds(*t);
  }
  f.target_object_id = a.Get("target");
  f.scenario = a.Get("scenario");
  return WithSiteRecovery(ctx, [&](SiteRecovery& p) {
    auto list = p.jobs().List(f);
    if (!list.ok()) return list.status();
    if (ctx.json) {
      std::string out = "[";
      for (size_t i = 0; i < list->size(); ++i) {
        absl::StrAppend(&out, i ? "," : "", model::ToJson((*list)[i]));
      }
      *ctx.out << out << "]\n";
      return absl::OkStatus();
    }
    for (const auto& j : *list) {
      *ctx.out << j.id() << "  " << fabric::FormatUnixTime(j.start_time_unix()) << "  "
               << jobs::JobStateName(j.state()) << " (" << j.state_description() << ")  "
               << j.display_name() << "\n";
    }
    return absl::OkStatus();
  });
}

absl::Status JobShow(const CommandContext& ctx, const ParsedArgs& a) {
  return WithSiteRecovery(
      ctx, [&](SiteRecovery& p) { return ReportJob(ctx, p.jobs().Get(a.positional[0])); });
}
absl::Status JobCancel(const CommandContext& ctx, const ParsedArgs& a) {
  return WithSiteRecovery(
      ctx, [&](SiteRecovery& p) { return ReportJob(ctx, p.jobs().Cancel(a.positional[0])); });
}
absl::Status JobResume(const CommandContext& ctx, const ParsedArgs& a) {
  return WithSiteRecovery(
      ctx, [&](SiteRecovery& p) { return ReportJob(ctx, p.jobs().Resume(a.positional[0])); });
}
absl::Status JobRestart(const CommandContext& ctx, const ParsedArgs& a) {
  return WithSiteRecovery(
      ctx, [&](SiteRecovery& p) { return ReportJob(ctx, p.jobs().Restart(a.positional[0])); });
}

const std::set<std::string> kPolicyFlags = {
    "name",
    "replication-provider",
    "replication-frequency-in-seconds",
    "number-of-recovery-points-to-retain",
    "application-consistent-snapshot-frequency-in-hours",
    "compression",
    "authentication",
    "replication-port",
    "replication-method",
    "replication-start-time",
    "offline-export-path",
    "offline-import-path",
    "replica-deletion",
    "auto-resynchronize",
    "auto-resynchronize-interval-start",
    "auto-resynchronize-interval-end",
    "verification-frequency-in-hours",
};

const char kPolicyUsage[] =
    "--name NAME --replication-provider HyperVReplica2012|HyperVReplica2012R2 "
    "[--replication-frequency-in-seconds 30|300|900] [--number-of-recovery-points-to-retain N] "
    "[--application-consistent-snapshot-frequency-in-hours H] [--compression Enable|Disable] "
    "[--authentication Certificate|Kerberos] [--replication-port PORT] "
    "[--replication-method Online|Offline] [--replication-start-time TIME] "
    "[--offline-export-path PATH] [--offline-import-path PATH] "
    "[--replica-deletion Required|NotRequired] [--auto-resynchronize Enable|Disable] "
    "[--auto-resynchronize-interval-start HH:MM --auto-resynchronize-interval-end HH:MM] "
    "[--verification-frequency-in-hours H] [--json]";

}  // namespace

void PrintJob(const CommandContext& ctx, const model::Job& job) {
  std::ostream& o = *ctx.out;
  o << "job " << job.id() << " " << job.display_name() << ": " << jobs::JobStateName(job.state())
    << " (" << job.state_description() << ")\n";
  for (const model::JobTask& t : job.tasks()) {
    o << "  [" << jobs::JobStateName(t.state()) << "] " << t.friendly_name() << "\n";
    for (const std::string& note : t.information()) o << "      note: " << note << "\n";
    for (const model::JobError& e : t.errors()) {
      o << "      error " << e.error_code() << ": " << e.message() << "\n"
        << "      recommended action: " << e.recommended_action() << "\n";
    }
  }
  for (const model::JobError& e : job.errors()) {
    o << "  error " << e.error_code() << ": " << e.message() << "\n"
      << "  recommended action: " << e.recommended_action() << "\n";
  }
  if (!job.suspend_reason().empty()) o << "  suspended: " << job.suspend_reason() << "\n";
}

absl::Status ReportJob(const CommandContext& ctx, const absl::StatusOr<model::Job>& job) {
  // A failed job's id travels in the status; ExitCodeFor says how to restart it.
  if (!job.ok()) return job.status();
  if (ctx.json) {
    *ctx.out << model::ToJson(*job) << "\n";
  } else {
    PrintJob(ctx, *job);
  }
  return absl::OkStatus();
}

void RegisterControlCommands(CommandRegistry& r) {
  r.Add({"vault create",
         "vault create --name NAME --region REGION [--json]",
         "Create the state directory's vault (one per directory) with its keys.",
         {"name", "region"},
         {},
         0,
         0,
         VaultCreate});
  r.Add({"vault show", "vault show [--json]", "Show the vault.", {}, {}, 0, 0, VaultShow});
  r.Add({"key generate",
         "key generate [--output FILE] [--json]",
         "Generate a registration key file, valid for 5 days.",
         {"output"},
         {},
         0,
         0,
         KeyGenerate});
  r.Add({"key verify",
         "key verify FILE [--json]",
         "Check a registration key file against the vault (expiry, signature, vault).",
         {},
         {},
         1,
         1,
         KeyVerify});
  r.Add({"server register",
         "server register --credentials FILE --friendly-name NAME [--proxy-address ADDR "
         "--proxy-port PORT --proxy-user USER --proxy-password-file FILE|"
         "--proxy-password-stdin] [--sync-all-clouds] "
         "[--encryption-enabled PFX] [--site primary|recovery] [--provider-version V] "
         "[--cluster-node NODE [--active-node]] [--json]",
         "Register a VMM server (or a node of a VMM cluster) with the vault.",
         {"credentials", "friendly-name", "proxy-address", "proxy-port", "proxy-user",
          "proxy-password", "proxy-password-file", "encryption-enabled", "site", "provider-version",
          "cluster-node"},
         {"sync-all-clouds", "active-node", "proxy-password-stdin"},
         0,
         0,
         ServerRegister});
  r.Add({"server unregister",
         "server unregister NAME [--json]",
         "Remove a server and everything on it (refused while VMs are protected).",
         {},
         {},
         1,
         1,
         ServerUnregister});
  r.Add({"server list",
         "server list [--json]",
         "List registered VMM servers.",
         {},
         {},
         0,
         0,
         ServerList});
  r.Add({"inventory sync",
         "inventory sync --server NAME [--file inventory.json] [--cloud CLOUD] [--json]   (without "
         "--file: from the --fabric host)",
         "Apply a server's inventory (or one cloud of it) and report what changed.",
         {"server", "file", "cloud"},
         {},
         0,
         0,
         InventorySync});
  r.Add({"cloud pair",
         "cloud pair --primary CLOUD --recovery CLOUD [--json]",
         "Pair a primary cloud with a recovery cloud.",
         {"primary", "recovery"},
         {},
         0,
         0,
         CloudPair});
  r.Add({"cloud unpair",
         "cloud unpair PAIRING|PRIMARY-CLOUD [--json]",
         "Remove a cloud pairing (to change its target, unpair and pair again).",
         {"pairing"},
         {},
         0,
         1,
         CloudUnpair});
  r.Add({"policy create",
         absl::StrCat("policy create ", kPolicyUsage),
         "Create a replication policy (option names follow the Az Site Recovery cmdlets).",
         kPolicyFlags,
         {},
         0,
         0,
         PolicyCreate});
  r.Add({"policy update",
         absl::StrCat("policy update ", kPolicyUsage),
         "Change a replication policy; associated hosts are reconfigured.",
         kPolicyFlags,
         {},
         0,
         0,
         PolicyUpdate});
  r.Add({"policy delete",
         "policy delete NAME [--json]",
         "Delete a policy (refused while in use).",
         {"name"},
         {},
         0,
         1,
         PolicyDelete});
  r.Add({"policy associate",
         "policy associate --policy NAME --pairing PAIRING|PRIMARY-CLOUD [--json]",
         "Associate a policy with a cloud pairing and configure its hosts.",
         {"policy", "pairing"},
         {},
         0,
         0,
         PolicyAssociate});
  r.Add({"policy dissociate",
         "policy dissociate --pairing PAIRING|PRIMARY-CLOUD [--json]",
         "Remove the policy from a cloud pairing.",
         {"pairing"},
         {},
         0,
         0,
         PolicyDissociate});
  r.Add({"policy list",
         "policy list [--json]",
         "List replication policies.",
         {},
         {},
         0,
         0,
         PolicyList});
  r.Add({"policy show",
         "policy show NAME [--json]",
         "Show a replication policy.",
         {},
         {},
         1,
         1,
         PolicyShow});
  r.Add({"job list",
         "job list [--state STATE] [--target ID] [--since TIME] [--until TIME] [--scenario S] "
         "[--json]",
         "List jobs, oldest first, filtered by state, start time, target or scenario.",
         {"state", "target", "since", "until", "scenario"},
         {},
         0,
         0,
         JobList});
  r.Add({"job show",
         "job show JOB [--json]",
         "Show a job with its tasks and errors.",
         {},
         {},
         1,
         1,
         JobShow});
  r.Add({"job cancel",
         "job cancel JOB [--json]",
         "Cancel a NotStarted or Suspended job.",
         {},
         {},
         1,
         1,
         JobCancel});
  r.Add({"job resume",
         "job resume JOB [--json]",
         "Resume a Suspended job.",
         {},
         {},
         1,
         1,
         JobResume});
  r.Add({"job restart",
         "job restart JOB [--json]",
         "Run a Failed job again (finished tasks are skipped).",
         {},
         {},
         1,
         1,
         JobRestart});
}

}  // namespace asr::cli
