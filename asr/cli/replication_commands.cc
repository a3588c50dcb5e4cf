#include "asr/cli/replication_commands.h"

#include <cmath>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "asr/cli/replica_verify_dir.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/disk/virtual_disk.h"
#include "asr/model/cli.pb.h"
#include "asr/model/json.h"
#include "asr/net/pki.h"
#include "asr/net/tls.h"
#include "asr/platform/signals.h"
#include "asr/replication/change_tracker.h"
#include "asr/replication/manifest.h"
#include "asr/replication/offline_package.h"
#include "asr/replication/receiver.h"
#include "asr/replication/replica_server.h"
#include "asr/replication/replica_store.h"
#include "asr/replication/resume.h"
#include "asr/replication/sender.h"
#include "asr/replication/verifier.h"

namespace asr::cli {
namespace {

using replication::CycleMode;

// "HOST:PORT" (PORT defaults to 8084).
absl::Status ParseEndpoint(const std::string& text, std::string* host, uint16_t* port) {
  size_t colon = text.rfind(':');
  *host = colon == std::string::npos ? text : text.substr(0, colon);
  *port = net::kCertificateAuthPort;
  if (colon != std::string::npos) {
    int p;
    if (!absl::SimpleAtoi(text.substr(colon + 1), &p) || p < 0 || p > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("bad port in '", text, "'"));
    }
    *port = static_cast<uint16_t>(p);
  }
  if (host->empty()) return absl::InvalidArgumentError(absl::StrCat("no host in '", text, "'"));
  return absl::OkStatus();
}

// --authentication, --cert/--key/--ca or --pki DIR (ROLE.pem, ROLE.key,
// ca.pem, and crl.pem when the vault issued one), --crl FILE.
absl::StatusOr<net::TlsConfig> TlsFromArgs(const ParsedArgs& a, const std::string& role) {
  ASR_RETURN_IF_ERROR(net::CheckAuthentication(a.Get("authentication", "certificate")));
  net::TlsConfig c;
  if (a.Has("pki")) c = net::VaultTlsConfig(a.Get("pki"), role);
  c.cert_path = a.Get("cert", c.cert_path);
  c.key_path = a.Get("key", c.key_path);
  c.ca_path = a.Get("ca", c.ca_path);
  if (a.Has("crl")) {
    c.crl_path = a.Get("crl");
    c.crl_required = true;
  }
  if (c.cert_path.empty() || c.key_path.empty() || c.ca_path.empty()) {
    return absl::InvalidArgumentError(
        "replication uses mutual TLS: give --cert, --key and --ca (or --pki DIR from "
        "'asrctl pki init')");
  }
  return c;
}

// "30s", "2m": a positive duration for --NAME.
absl::StatusOr<absl::Duration> PositiveDuration(const ParsedArgs& a, const std::string& name,
                                                absl::Duration def) {
  if (!a.Has(name)) return def;
  absl::Duration d;
  if (!absl::ParseDuration(a.Get(name), &d) || d <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " '", a.Get(name), "' is not a positive duration like 30s or 2m"));
  }
  return d;
}

absl::StatusOr<replication::ReplicaOptions> ReplicaOptionsFromArgs(const ParsedArgs& a) {
  replication::ReplicaOptions o;
  if (a.Has("additional-points")) {
    ASR_ASSIGN_OR_RETURN(int64_t n,
                         ParseInt(a.Get("additional-points"), "--additional-points", 0, 24));
    o.additional_points = static_cast<int>(n);
  }
  if (a.Has("point-interval")) {
    if (!absl::ParseDuration(a.Get("point-interval"), &o.point_interval) ||
        o.point_interval < absl::ZeroDuration()) {
      return absl::InvalidArgumentError(absl::StrCat("--point-interval '", a.Get("point-interval"),
                                                     "' is not a duration like 1h or 30s"));
    }
  }
  if (a.Has("retention-hours")) {
    ASR_ASSIGN_OR_RETURN(int64_t h,
                         ParseInt(a.Get("retention-hours"), "--retention-hours", 1, 24 * 365));
    o.retention = absl::Hours(h);
  }
  if (a.Has("format")) {
    ASR_ASSIGN_OR_RETURN(o.format, disk::ParseDiskFormat(a.Get("format")));
    if (o.format != disk::DiskFormat::kVhdx && o.format != disk::DiskFormat::kVhd) {
      return absl::InvalidArgumentError("--format must be vhdx or vhd");
    }
  }
  if (a.Has("writer")) {
    o.writer = a.Get("writer");
    if (o.writer.empty()) {
      return absl::InvalidArgumentError(
          "--writer needs the common name of the primary host's certificate");
    }
  }
  return o;
}

// The common name of this host's own certificate; empty when it cannot be
// read (the listener reports that when it loads the file).
std::string OwnCommonName(const net::TlsConfig& tls) {
  absl::StatusOr<std::string> pem = ReadFileToString(tls.cert_path);
  if (!pem.ok()) return "";
  absl::StatusOr<net::CertificateInfo> own = net::DescribeCertificate(*pem);
  return own.ok() ? own->common_name : "";
}

// --writer must name another host than this receiver's own certificate.
absl::Status CheckWriterIsNotSelf(const replication::ReplicaOptions& o, const net::TlsConfig& tls) {
  if (o.writer.empty()) return absl::OkStatus();
  if (OwnCommonName(tls) == o.writer) {
    return absl::InvalidArgumentError(
        absl::StrCat("--writer ", o.writer,
                     " is this receiver's own certificate; name the primary host "
                     "whose disk is replicated here (e.g. primary-host from 'asrctl pki init')"));
  }
  return absl::OkStatus();
}

absl::Status ReplicaServe(const CommandContext& ctx, const ParsedArgs& a) {
  auto tls = TlsFromArgs(a, "recovery");
  if (!tls.ok()) return tls.status();
  std::string host;
  uint16_t port;
  absl::Status s = ParseEndpoint(a.Get("listen", "127.0.0.1:8084"), &host, &port);
  if (!s.ok()) return s;
  auto dir = a.Require("dir");
  if (!dir.ok()) return dir.status();
  auto options = ReplicaOptionsFromArgs(a);
  if (!options.ok()) return options.status();
  s = CheckWriterIsNotSelf(*options, *tls);
  if (!s.ok()) return s;
  replication::ReplicaServerOptions so;
  ASR_ASSIGN_OR_RETURN(so.idle_timeout, PositiveDuration(a, "idle-timeout", so.idle_timeout));
  ASR_ASSIGN_OR_RETURN(so.handshake_timeout,
                       PositiveDuration(a, "handshake-timeout", so.handshake_timeout));
  if (a.Has("max-connections")) {
    ASR_ASSIGN_OR_RETURN(int64_t n,
                         ParseInt(a.Get("max-connections"), "--max-connections", 1, 100000));
    so.max_connections = static_cast<int>(n);
  }
  if (a.Has("max-connections-per-address")) {
    ASR_ASSIGN_OR_RETURN(int64_t n, ParseInt(a.Get("max-connections-per-address"),
                                             "--max-connections-per-address", 1, 100000));
    so.max_connections_per_address = static_cast<int>(n);
  }
  so.once = a.Has("once");
  auto store = replication::ReplicaStore::Open(*dir, *options);
  if (!store.ok()) return store.status();
  if ((*store)->info().writer.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        *dir,
        " records no writer: give --writer HOST, the common name of the certificate of "
        "the primary host allowed to replicate into it (primary-host from 'asrctl pki "
        "init')"));
  }
  so.serve.receiver_identity = OwnCommonName(*tls);
  so.serve.on_commit = [&](uint64_t point, const replication::CycleStart& start) {
    *ctx.out << "point " << point << " committed (" << replication::CycleModeName(start.mode)
             << ", " << (start.app_consistent() ? "app" : "crash") << "-consistent)" << std::endl;
  };
  so.log = [&](absl::string_view line) { *ctx.err << "asrctl: " << line << std::endl; };
  // SIGTERM and SIGINT end the receiver cleanly: every session is closed and
  // the replica keeps its last committed point.
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<platform::TerminationSignals> signals,
                       platform::TerminationSignals::Block());
  auto server = replication::ReplicaServer::Start(host, port, *tls, **store, std::move(so));
  if (!server.ok()) return server.status();
  if (a.Has("port-file")) {
    s = WriteFileAtomically(a.Get("port-file"), absl::StrCat((*server)->port(), "\n"));
    if (!s.ok()) return s;
  }
  replication::ReplicaInfo info = (*store)->info();
  *ctx.out << "receiving into " << *dir << " on " << host << ":" << (*server)->port()
           << (info.has_replica ? absl::StrCat(" (replica at point ", info.current_cycle, ")")
                                : " (no replica yet)")
           << std::endl;
  std::thread stopper([&] {
    std::string name = signals->Wait();
    if (name.empty()) return;  // the server ended by itself
    *ctx.err << "asrctl: " << name << ": stopping the receiver" << std::endl;
    (*server)->Stop();
  });
  s = (*server)->Wait();
  signals->Cancel();
  stopper.join();
  if (a.Has("once") && !s.ok()) return QuietFailure(1);  // reported in the log above
  return s;
}

// What a primary-side command needs to reach a receiver: this host's TLS
// files, the receiver's --to HOST:PORT and the source --disk.
struct SenderArgs {
  net::TlsConfig tls;
  std::string host;
  uint16_t port = 0;
  std::string disk;
  bool name_from_to = false;  // no --receiver-name: the host of --to is checked
};

absl::StatusOr<SenderArgs> ParseSenderArgs(const ParsedArgs& a) {
  SenderArgs out;
  ASR_ASSIGN_OR_RETURN(out.tls, TlsFromArgs(a, "primary"));
  ASR_ASSIGN_OR_RETURN(std::string to, a.Require("to"));
  ASR_RETURN_IF_ERROR(ParseEndpoint(to, &out.host, &out.port));
  ASR_ASSIGN_OR_RETURN(out.disk, a.Require("disk"));
  // The receiver must prove it is the recovery host: its certificate must
  // name it. Any host of the vault holds a certificate from the same CA.
  out.name_from_to = !a.Has("receiver-name");
  out.tls.expected_peer_name = a.Get("receiver-name", out.host);
  if (out.tls.expected_peer_name.empty()) {
    return absl::InvalidArgumentError(
        "--receiver-name is empty; give the recovery host's name as its certificate carries it");
  }
  return out;
}

// Connects to the receiver; a certificate that does not name the expected
// host says where that name came from.
absl::StatusOr<std::unique_ptr<net::ByteStream>> ConnectToReceiver(const SenderArgs& sa) {
  auto stream = net::TlsConnect(sa.host, sa.port, sa.tls, absl::Seconds(30));
  if (!stream.ok() && absl::IsUnauthenticated(stream.status()) &&
      absl::StrContains(stream.status().message(), "which does not name")) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the receiver at ", sa.host, ":", sa.port, " is not the expected recovery host \"",
        sa.tls.expected_peer_name, "\" (",
        sa.name_from_to ? "the host of --to; give the recovery host's certificate name with "
                          "--receiver-name NAME"
                        : "--receiver-name",
        "): ", stream.status().message()));
  }
  return stream;
}

// --mode offline-export: the initial copy into a package directory
// (asr/replication/offline_package.h) instead of over the network.
absl::Status OfflineExport(const CommandContext& ctx, const ParsedArgs& a) {
  ASR_ASSIGN_OR_RETURN(std::string disk, a.Require("disk"));
  ASR_ASSIGN_OR_RETURN(std::string dir, a.Require("export"));
  replication::ExportOptions eo;
  if (a.Has("compression-level")) {
    ASR_ASSIGN_OR_RETURN(int64_t lvl,
                         ParseInt(a.Get("compression-level"), "--compression-level", 0, 19));
    eo.compression_level = static_cast<int>(lvl);
  }
  if (a.Has("block-size")) {
    ASR_ASSIGN_OR_RETURN(uint64_t bs, ParseSize(a.Get("block-size")));
    eo.block_size = static_cast<uint32_t>(bs);
  }
  if (a.Has("part-size")) {
    ASR_ASSIGN_OR_RETURN(eo.part_bytes, ParseSize(a.Get("part-size")));
  }
  eo.source_name = "asrctl";
  ASR_ASSIGN_OR_RETURN(replication::ExportResult r,
                       replication::ExportInitialPackage(disk, dir, eo));
  const replication::CycleStats& st = r.stats;
  const double ratio = std::round(st.compression_ratio() * 1000) / 1000;
  const double secs = std::round(absl::ToDoubleMilliseconds(st.elapsed)) / 1000;
  if (ctx.json) {
    model::OfflinePackageResult o;
    o.set_disk(disk);
    o.set_package(dir);
    o.set_replication_id(r.replication_id);
    o.set_point_id(r.point_id);
    for (const std::string& f : r.files) o.add_files(f);
    o.set_bytes(r.bytes);
    o.set_blocks(r.blocks);
    o.set_bytes_read(st.bytes_read);
    o.set_compression_ratio(ratio);
    o.set_seconds(secs);
    *ctx.out << model::ToJson(o) << "\n";
  } else {
    *ctx.out << "exported the initial copy (point " << r.point_id << ") of " << disk << " to "
             << dir << ": " << r.files.size() << " files, " << r.bytes << " bytes, " << r.blocks
             << " blocks\n"
             << absl::StrFormat("  bytes read %d, compression ratio %.2f, time %.3f s\n",
                                st.bytes_read, ratio, secs)
             << "  import it on the recovery host with 'asrctl replica import --package DIR "
                "--dir REPLICA_DIR --writer HOST'\n";
  }
  return absl::OkStatus();
}

absl::Status Replicate(const CommandContext& ctx, const ParsedArgs& a) {
  if (a.Get("mode") == "offline-export") return OfflineExport(ctx, a);
  ASR_ASSIGN_OR_RETURN(SenderArgs sa, ParseSenderArgs(a));
  const std::string& host = sa.host;
  const uint16_t port = sa.port;
  const std::string* disk = &sa.disk;
  auto mode = replication::ParseCycleMode(a.Get("mode", "scan"));
  if (!mode.ok()) return mode.status();
  replication::SendOptions so;
  if (a.Has("compression-level")) {
    auto lvl = ParseInt(a.Get("compression-level"), "--compression-level", 0, 19);
    if (!lvl.ok()) return lvl.status();
    so.compression_level = static_cast<int>(*lvl);
  }
  if (a.Has("block-size")) {
    auto bs = ParseSize(a.Get("block-size"));
    if (!bs.ok()) return bs.status();
    so.block_size = static_cast<uint32_t>(*bs);
  }
  if (a.Has("codec")) {
    ASR_ASSIGN_OR_RETURN(so.codec, replication::ParseReplicationCodec(a.Get("codec")));
  }
  so.app_consistent = a.Has("app-consistent");
  so.tracked_only = a.Has("tracked-only");
  if (so.tracked_only && *mode != replication::CycleMode::kTracked) {
    return absl::InvalidArgumentError("--tracked-only goes with --mode tracked");
  }
  so.source_name = "asrctl";
  if (a.Has("progress")) {
    so.progress = [&](const replication::CycleProgress& p) {
      *ctx.err << absl::StrFormat("\r  read %.1f / %.1f MiB, sent %.1f MiB",
                                  p.bytes_read / 1048576.0, p.planned_read_bytes / 1048576.0,
                                  p.bytes_sent / 1048576.0)
               << std::flush;
    };
  }
  replication::VerifySchedule schedule;
  if (a.Has("verify-every")) {
    auto n = ParseInt(a.Get("verify-every"), "--verify-every", 1, 1000000);
    if (!n.ok()) return n.status();
    schedule.every_cycles = static_cast<uint32_t>(*n);
  }
  if (a.Has("verify-interval")) {
    if (!absl::ParseDuration(a.Get("verify-interval"), &schedule.interval) ||
        schedule.interval <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--verify-interval '", a.Get("verify-interval"),
                       "' is not a positive duration like 24h or 30m"));
    }
  }
  // A broken or stalled connection is resumed (asr/replication/resume.h):
  // up to --retries new connections, each continuing where the receiver's
  // data ends (receivers of protocol 5 and later).
  replication::ResumeOptions ro;
  if (a.Has("retries")) {
    ASR_ASSIGN_OR_RETURN(int64_t n, ParseInt(a.Get("retries"), "--retries", 0, 100));
    ro.max_attempts = static_cast<int>(n) + 1;
  }
  sa.tls.io_timeout = absl::Minutes(10);
  if (a.Has("io-timeout") && (!absl::ParseDuration(a.Get("io-timeout"), &sa.tls.io_timeout) ||
                              sa.tls.io_timeout <= absl::ZeroDuration())) {
    return absl::InvalidArgumentError(absl::StrCat("--io-timeout '", a.Get("io-timeout"),
                                                   "' is not a positive duration like 10m or 30s"));
  }
  std::unique_ptr<net::ByteStream> session;
  auto st = replication::ReplicateDiskResuming(
      *disk, *mode, [&sa] { return ConnectToReceiver(sa); }, so, ro, &session);
  if (a.Has("progress")) *ctx.err << "\n";
  if (!st.ok()) return st.status();
  auto* stream = &session;
  // After the committed cycle, on the same connection, when it is due.
  std::optional<absl::StatusOr<replication::VerifyResult>> verified;
  if (replication::VerificationDue(*disk, schedule, st->cycle, absl::Now())) {
    replication::VerifyOptions vo;
    vo.session = replication::VerifyOptions::Session{st->protocol_version, st->point_id};
    verified = replication::VerifyReplica(*disk, **stream, vo);
  }
  (void)(*stream)->Close();
  double secs = absl::ToDoubleSeconds(st->elapsed);
  // Reported after the cycle's output, as the command's outcome.
  absl::Status outcome;
  if (verified && !verified->ok()) {
    outcome = absl::Status(
        verified->status().code(),
        absl::StrCat("point ", st->point_id, " was committed, but its verification failed: ",
                     verified->status().message()));
    if (outcome.code() == absl::StatusCode::kInvalidArgument) outcome = WithExitCode(outcome, 1);
  } else if (verified && (*verified)->resync_required) {
    outcome = absl::DataLossError(
        absl::StrCat("point ", st->point_id, " was committed, but ", (*verified)->reason));
  }
  if (ctx.json) {
    model::CycleStats out = replication::CycleStatsToProto(*st, *disk);
    if (verified && verified->ok()) {
      *out.mutable_verification() = replication::VerifyResultToProto(**verified, *disk);
    } else if (verified) {
      out.set_verification_error(std::string(verified->status().message()));
    }
    *ctx.out << model::ToJson(out) << "\n";
  } else {
    if (!st->fallback_reason.empty()) {
      *ctx.err << "asrctl: tracked changes cannot be trusted (" << st->fallback_reason
               << "); scanned the disk instead" << std::endl;
    }
    *ctx.out << "point " << st->point_id << " (" << replication::CycleModeName(st->mode_used)
             << " cycle " << st->cycle << " over point " << st->base_cycle << ") of " << *disk
             << " to " << host << ":" << port << "\n"
             << absl::StrFormat(
                    "  bytes read %d, bytes changed %d, bytes sent %d, compression ratio %.2f, "
                    "time %.3f s, codec %s\n",
                    st->bytes_read, st->changed_bytes, st->wire_bytes, st->compression_ratio(),
                    secs, replication::ReplicationCodecName(st->codec_used));
    if (st->attempts > 1) {
      *ctx.out << absl::StrFormat(
          "  resumed after %d interruption(s): %d bytes were held by the receiver, %d sent "
          "again\n",
          st->attempts - 1, st->resumed_bytes, st->resent_bytes);
    }
    if (verified && verified->ok()) {
      *ctx.out << "  verification: " << (*verified)->reason << "\n";
    }
  }
  return outcome;
}

absl::Status ReplicaVerify(const CommandContext& ctx, const ParsedArgs& a) {
  if (a.Has("dir")) return ReplicaVerifyDir(ctx, a);  // the local form
  ASR_ASSIGN_OR_RETURN(SenderArgs sa, ParseSenderArgs(a));
  const std::string& host = sa.host;
  const uint16_t port = sa.port;
  const std::string* disk = &sa.disk;
  replication::VerifyOptions vo;
  vo.source_name = "asrctl";
  vo.check_source = !a.Has("replica-only");
  auto stream = ConnectToReceiver(sa);
  if (!stream.ok()) return stream.status();
  auto r = replication::VerifyReplica(*disk, **stream, vo);
  (void)(*stream)->Close();
  if (!r.ok()) return r.status();
  if (ctx.json) {
    *ctx.out << replication::VerifyResultToJson(*r, *disk) << "\n";
  } else {
    *ctx.out << "point " << r->point_id << " of " << *disk << " at " << host << ":" << port << ": "
             << r->reason << "\n"
             << absl::StrFormat(
                    "  blocks checked %d, replica mismatches %d, source mismatches %d, "
                    "bytes read %d, time %.3f s\n",
                    r->blocks_checked, r->replica_mismatches, r->source_mismatches, r->bytes_read,
                    absl::ToDoubleSeconds(r->elapsed));
    if (!r->tracker_note.empty()) *ctx.out << "  note: " << r->tracker_note << "\n";
  }
  if (r->resync_required) return absl::DataLossError(r->reason);
  return absl::OkStatus();
}

absl::Status ReplicaPoints(const CommandContext& ctx, const ParsedArgs& a) {
  auto dir = a.Require("dir");
  if (!dir.ok()) return dir.status();
  auto points = replication::ListRecoveryPoints(*dir);
  if (!points.ok()) return points.status();
  if (ctx.json) {
    *ctx.out << replication::PointsToJson(*points) << "\n";
    return absl::OkStatus();
  }
  if (points->empty()) *ctx.out << "no recovery points\n";
  for (const replication::RecoveryPoint& p : *points) {
    *ctx.out << absl::StrFormat(
        "%6d  %s  %-5s  %-12s%s\n", p.id,
        absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", p.time, absl::UTCTimeZone()),
        p.app_consistent ? "app" : "crash", replication::CycleModeName(p.mode),
        p.latest ? "  latest" : "");
  }
  return absl::OkStatus();
}

absl::Status ReplicaRestore(const CommandContext& ctx, const ParsedArgs& a) {
  auto dir = a.Require("dir");
  if (!dir.ok()) return dir.status();
  auto out = a.Require("out");
  if (!out.ok()) return out.status();
  auto point = ParseInt(a.Get("point"), "--point", 1, INT64_MAX);
  if (!point.ok()) return point.status();
  replication::RestoreOptions o;
  o.overwrite = a.Has("overwrite");
  absl::Time start = absl::Now();
  absl::Status s = replication::RestorePoint(*dir, *point, *out, o);
  if (!s.ok()) return s;
  double secs = absl::ToDoubleSeconds(absl::Now() - start);
  if (ctx.json) {
    model::RestoreOutput o;
    o.set_point(*point);
    o.set_out(*out);
    o.set_seconds(std::round(secs * 1000) / 1000);  // milliseconds, as the text form
    *ctx.out << model::ToJson(o) << "\n";
  } else {
    *ctx.out << "restored point " << *point << " to " << *out
             << absl::StrFormat(" in %.3f s\n", secs);
  }
  return absl::OkStatus();
}

absl::Status ReplicaImport(const CommandContext& ctx, const ParsedArgs& a) {
  ASR_ASSIGN_OR_RETURN(std::string dir, a.Require("dir"));
  ASR_ASSIGN_OR_RETURN(std::string package, a.Require("package"));
  ASR_ASSIGN_OR_RETURN(replication::ReplicaOptions options, ReplicaOptionsFromArgs(a));
  if (options.writer.empty()) {
    return absl::InvalidArgumentError(
        "give --writer HOST, the common name of the certificate of the primary host that will "
        "replicate into the replica (primary-host from 'asrctl pki init')");
  }
  absl::Time start = absl::Now();
  ASR_ASSIGN_OR_RETURN(uint64_t point, replication::ImportInitialPackage(package, dir, options));
  const double secs = std::round(absl::ToDoubleSeconds(absl::Now() - start) * 1000) / 1000;
  ASR_ASSIGN_OR_RETURN(replication::ReplicaInfo info, replication::ReadReplicaInfo(dir));
  if (ctx.json) {
    ASR_ASSIGN_OR_RETURN(model::OfflinePackageManifest m,
                         replication::ReadPackageManifest(package));
    model::OfflinePackageResult o;
    o.set_package(package);
    o.set_replica(dir);
    o.set_replication_id(info.replication_id);
    o.set_point_id(point);
    for (const model::OfflinePackagePart& p : m.parts()) o.add_files(p.file());
    o.add_files(replication::kPackageManifestFile);
    o.set_bytes(m.totals().bytes());
    o.set_blocks(m.totals().blocks());
    o.set_seconds(secs);
    *ctx.out << model::ToJson(o) << "\n";
  } else {
    *ctx.out << "imported point " << point << " (replication " << info.replication_id << ") from "
             << package << " into " << dir << absl::StrFormat(" in %.3f s\n", secs)
             << "  serve it with 'asrctl replica serve --dir " << dir
             << "'; the primary host's next cycles send only changes\n";
  }
  return absl::OkStatus();
}

// The tracker of `disk`, with the replication block size of its manifest.
absl::StatusOr<std::unique_ptr<replication::ChangeTracker>> OpenTracker(const ParsedArgs& a,
                                                                        const std::string& disk,
                                                                        uint64_t size) {
  uint32_t bs = 64 << 10;
  ASR_ASSIGN_OR_RETURN(auto m, replication::LoadManifest(replication::ManifestPath(disk)));
  if (m) bs = m->block_size;
  if (a.Has("block-size")) {
    ASR_ASSIGN_OR_RETURN(uint64_t v, ParseSize(a.Get("block-size")));
    bs = static_cast<uint32_t>(v);
  }
  return replication::ChangeTracker::Open(disk, size, bs);
}

absl::Status TrackerRecordOrWrite(const CommandContext& ctx, const ParsedArgs& a, bool write) {
  auto disk_path = a.Require("disk");
  if (!disk_path.ok()) return disk_path.status();
  auto offset = ParseSize(a.Get("offset"));
  if (!offset.ok()) return offset.status();
  auto length = ParseSize(a.Get("length"));
  if (!length.ok()) return length.status();
  auto d = disk::OpenDisk(*disk_path, disk::OpenMode::kReadOnly);
  if (!d.ok()) return d.status();
  // The tracker first, the disk for writing after it: the tracker vouches
  // for the disk as it finds it, and for every write from then on.
  auto tracker = OpenTracker(a, *disk_path, (*d)->virtual_size());
  if (!tracker.ok()) return tracker.status();
  if (write) {
    d = disk::OpenDisk(*disk_path, disk::OpenMode::kReadWrite);
    if (!d.ok()) return d.status();
  }
  // Record before writing, as a host's filter does: a crash in between
  // costs a resend, never a missed change.
  absl::Status s = (*tracker)->RecordWrite(*offset, *length);
  if (s.ok() && write) {
    uint64_t seed = 1;
    if (a.Has("seed")) {
      auto v = ParseInt(a.Get("seed"), "--seed", 0, INT64_MAX);
      if (!v.ok()) return v.status();
      seed = *v;
    }
    // Deterministic, moderately compressible data (about 4 bits of entropy
    // per byte, like text): letters from a 16-symbol alphabet.
    std::vector<uint8_t> data(*length);
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < data.size(); ++i) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      data[i] = static_cast<uint8_t>('a' + (x & 15));
    }
    s = (*d)->WriteAt(*offset, absl::MakeConstSpan(data));
    if (s.ok()) s = (*d)->Close();
  }
  if (s.ok()) s = (*tracker)->Close();
  if (!s.ok()) return s;
  if (ctx.json) {
    model::TrackerRecordOutput o;
    o.set_disk(*disk_path);
    o.set_offset(*offset);
    o.set_length(*length);
    o.set_written(write);
    *ctx.out << model::ToJson(o) << "\n";
  } else {
    *ctx.out << (write ? "wrote and recorded " : "recorded ") << *length << " bytes at " << *offset
             << " of " << *disk_path << "\n";
  }
  return absl::OkStatus();
}

absl::Status TrackerRecord(const CommandContext& ctx, const ParsedArgs& a) {
  return TrackerRecordOrWrite(ctx, a, false);
}
absl::Status TrackerWrite(const CommandContext& ctx, const ParsedArgs& a) {
  return TrackerRecordOrWrite(ctx, a, true);
}

absl::Status TrackerStatus(const CommandContext& ctx, const ParsedArgs& a) {
  auto disk_path = a.Require("disk");
  if (!disk_path.ok()) return disk_path.status();
  auto d = disk::OpenDisk(*disk_path, disk::OpenMode::kReadOnly);
  if (!d.ok()) return d.status();
  auto tracker = OpenTracker(a, *disk_path, (*d)->virtual_size());
  if (!tracker.ok()) return tracker.status();
  bool needs = (*tracker)->needs_scan();
  std::string reason = (*tracker)->needs_scan_reason();
  uint64_t marked = (*tracker)->marked_blocks();
  uint32_t bs = (*tracker)->block_size();
  absl::Status s = (*tracker)->Close();
  if (!s.ok()) return s;
  if (ctx.json) {
    model::TrackerStatusOutput o;
    o.set_disk(*disk_path);
    o.set_needs_scan(needs);
    o.set_reason(reason);
    o.set_changed_blocks(marked);
    o.set_block_size(bs);
    *ctx.out << model::ToJson(o) << "\n";
  } else {
    *ctx.out << *disk_path << ": " << marked << " changed blocks of " << bs << " bytes"
             << (needs ? absl::StrCat("; NEEDS SCAN: ", reason) : "") << "\n";
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterReplicationCommands(CommandRegistry& r) {
  const std::set<std::string> tls_flags = {"cert", "key", "ca", "crl", "pki", "authentication"};
  auto with = [&](std::set<std::string> flags) {
    flags.insert(tls_flags.begin(), tls_flags.end());
    return flags;
  };
  r.Add(
      {"replica serve",
       "replica serve --listen HOST:PORT --dir REPLICA_DIR (--cert C --key K --ca CA | --pki DIR) "
       "--writer HOST [--crl CRL] [--additional-points N] [--point-interval 1h] "
       "[--retention-hours N] [--format vhdx|vhd] [--port-file FILE] [--idle-timeout 10m] "
       "[--handshake-timeout 10s] [--max-connections 64] [--max-connections-per-address 8] "
       "[--once]",
       "Receive replication cycles over mutual TLS into a replica with recovery points; only "
       "the host whose certificate CN is --writer may write it (recorded with the replica; "
       "optional once recorded). Each connection is served on its own thread; a peer silent "
       "for --idle-timeout (or that does not finish its handshake in --handshake-timeout) is "
       "dropped, and connections over --max-connections, or over --max-connections-per-address "
       "from one address, are closed at once. With --pki DIR, DIR/crl.pem (when present) "
       "refuses revoked senders. SIGTERM or SIGINT stops it cleanly. --once: serve one "
       "connection, then exit",
       with({"listen", "dir", "writer", "additional-points", "point-interval", "retention-hours",
             "format", "port-file", "idle-timeout", "handshake-timeout", "max-connections",
             "max-connections-per-address"}),
       {"once"},
       0,
       0,
       ReplicaServe});
  r.Add({"replicate",
         "replicate --to HOST:PORT --disk FILE --mode initial|tracked|scan|differencing "
         "(--cert C --key K --ca CA | --pki DIR) [--receiver-name NAME] [--crl CRL] "
         "[--compression-level N] [--codec auto|classic|long] [--block-size 64K] "
         "[--app-consistent] [--tracked-only] [--progress] [--verify-every N] "
         "[--verify-interval 24h] [--retries 3] [--io-timeout 10m] [--json]\n"
         "       replicate --mode offline-export --disk FILE --export DIR "
         "[--compression-level N] [--block-size 64K] [--part-size 256M] [--json]",
         "Send one replication cycle of a disk to the recovery host, whose certificate must name "
         "--receiver-name (default: the host of --to); prints the mode used (a tracked cycle whose "
         "change map cannot prove it saw every write scans instead and says why; "
         "--tracked-only refuses instead), bytes read, bytes sent, compression ratio and time "
         "(compression level 0: off) and the codec (--codec long: one zstd stream per cycle that "
         "reaches back to anything the cycle sent before, fewer bytes for data repeated across "
         "blocks; classic: one zstd frame per group of blocks, as receivers before protocol 6 "
         "get; auto, the default: long after the initial copy). With "
         "--verify-every/--verify-interval, also verifies the "
         "replica on the same connection when due (see 'replica verify'; exit code 1 when it "
         "finds that resynchronization is required). --mode offline-export writes the initial "
         "copy as a checksummed package (part files and manifest.json) into --export DIR "
         "instead, for 'replica import' on the recovery host; the disk's replication state is "
         "then as after a network initial cycle, so later cycles send only changes. A "
         "connection that breaks, or stalls for --io-timeout (default 10m, as a receiver's idle "
         "timeout), is resumed "
         "automatically: up to --retries (default 3) new connections, each sending only what "
         "the receiver does not hold yet (receivers of protocol 5 and later; an interrupted "
         "initial replication continues where it stopped); --json reports bytesResumed, "
         "bytesResent and attempts",
         with({"to", "disk", "mode", "compression-level", "codec", "block-size", "verify-every",
               "verify-interval", "receiver-name", "export", "part-size", "retries", "io-timeout"}),
         {"app-consistent", "tracked-only", "progress"},
         0,
         0,
         Replicate});
  r.Add({"replica verify",
         "replica verify --to HOST:PORT --disk FILE (--cert C --key K --ca CA | --pki DIR) "
         "[--receiver-name NAME] [--crl CRL] [--replica-only] [--json] | replica verify --dir "
         "REPLICA_DIR [--point P] [--json]",
         "Verify the replica's latest point against the disk's replication state and the "
         "source disk; exit code 1 (reason on stderr) when resynchronization is required, "
         "which the next scan cycle performs. With --dir, on the recovery host: re-read the "
         "replica and compare it with the block digests recorded at each commit",
         with({"to", "disk", "receiver-name", "dir", "point"}),
         {"replica-only"},
         0,
         0,
         ReplicaVerify});
  r.Add({"replica points",
         "replica points --dir REPLICA_DIR [--json]",
         "List a replica's recovery points",
         {"dir"},
         {},
         0,
         0,
         ReplicaPoints});
  r.Add({"replica restore",
         "replica restore --dir REPLICA_DIR --point ID --out FILE [--overwrite]",
         "Write a recovery point to a standalone disk (.vhdx, .vhd or .raw) without disturbing "
         "replication",
         {"dir", "point", "out"},
         {"overwrite"},
         0,
         0,
         ReplicaRestore});
  r.Add({"replica import",
         "replica import --dir REPLICA_DIR --package DIR --writer HOST [--additional-points N] "
         "[--point-interval 1h] [--retention-hours N] [--format vhdx|vhd] [--json]",
         "Create a replica from an offline package ('replicate --mode offline-export'): the "
         "manifest and every part's size and SHA-256 are checked first, a damaged frame is "
         "refused naming its file and block, and a refused import leaves no replica. Only an "
         "empty replica directory is accepted; --writer as for 'replica serve'",
         {"dir", "package", "writer", "additional-points", "point-interval", "retention-hours",
          "format"},
         {},
         0,
         0,
         ReplicaImport});
  r.Add({"tracker record",
         "tracker record --disk FILE --offset N --length N [--block-size 64K]",
         "Record a guest write in the disk's change tracker (DISK.asrcbt)",
         {"disk", "offset", "length", "block-size"},
         {},
         0,
         0,
         TrackerRecord});
  r.Add({"tracker write",
         "tracker write --disk FILE --offset N --length N [--seed S] [--block-size 64K]",
         "Write deterministic data into a disk as a guest would AND record it in the tracker "
         "(drills and tests)",
         {"disk", "offset", "length", "seed", "block-size"},
         {},
         0,
         0,
         TrackerWrite});
  r.Add({"tracker status",
         "tracker status --disk FILE [--json]",
         "Show the change tracker's changed blocks and whether it needs a scan",
         {"disk", "block-size"},
         {},
         0,
         0,
         TrackerStatus});
}

}  // namespace asr::cli
