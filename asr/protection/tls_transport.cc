#include "asr/protection/tls_transport.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/net/pki.h"
#include "asr/net/tls.h"
#include "asr/replication/recovery_endpoint.h"

namespace asr::protection {
namespace {

absl::StatusOr<std::string> CertificateName(const std::string& path) {
  absl::StatusOr<std::string> pem = ReadFileToString(path);
  if (!pem.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read the certificate ", path, " (", pem.status().message(),
                     "); create the vault's certificates with `asrctl pki init --dir DIR`"));
  }
  ASR_ASSIGN_OR_RETURN(net::CertificateInfo info, net::DescribeCertificate(*pem));
  if (info.common_name.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(path, " has no common name (CN)"));
  }
  return info.common_name;
}

// "host[:port]" -> host, port (0 when absent).
absl::Status SplitAddress(const std::string& address, std::string* host, int* port) {
  const size_t colon = address.rfind(':');
  *port = 0;
  if (colon == std::string::npos) {
    *host = address;
    return absl::OkStatus();
  }
  *host = address.substr(0, colon);
  if (!absl::SimpleAtoi(address.substr(colon + 1), port) || *port < 1 || *port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("recovery endpoint address '", address, "' has a bad port; use HOST:PORT"));
  }
  return absl::OkStatus();
}

class TlsTransport : public Transport {
 public:
  TlsTransport(TransportOptions options, std::string writer, std::string receiver_name)
      : options_(std::move(options)),
        writer_(std::move(writer)),
        receiver_name_(std::move(receiver_name)) {}

  std::string writer_identity() const override { return writer_; }

  absl::Status BindReplica(const model::ProtectedItem& item, const model::ProtectedDisk& disk,
                           const ReplicaRetention& retention) override {
    if (options_.endpoint == nullptr) return absl::OkStatus();
    replication::ReplicaBinding b;
    b.source_disk_id = disk.source_disk_guid();
    b.dir = disk.replica_dir();
    b.writer = item.writer_identity().empty() ? writer_ : item.writer_identity();
    b.tag = absl::StrCat(item.id(), "/", disk.disk_id());
    b.options.additional_points = retention.additional_points;
    b.options.point_interval = options_.point_interval > absl::ZeroDuration()
                                   ? options_.point_interval
                                   : retention.point_interval;
    b.options.retention = retention.retention;
    b.options.writer = b.writer;
    return options_.endpoint->Bind(b);
  }

  absl::Status UnbindReplica(const model::ProtectedDisk& disk) override {
    if (options_.endpoint == nullptr) return absl::OkStatus();
    absl::Status s = options_.endpoint->Unbind(disk.source_disk_guid());
    return absl::IsNotFound(s) ? absl::OkStatus() : s;
  }

  absl::StatusOr<std::unique_ptr<net::ByteStream>> Connect(const model::ProtectedItem& item,
                                                           int port) override {
    std::string host;
    int p = 0;
    ASR_RETURN_IF_ERROR(Target(item, port, &host, &p));
    net::TlsConfig cfg = net::VaultTlsConfig(options_.pki_dir, options_.sender_certificate);
    cfg.expected_peer_name = receiver_name_.empty() ? item.replica_host_name() : receiver_name_;
    cfg.io_timeout = options_.io_timeout;
    return net::TlsConnect(host, static_cast<uint16_t>(p), cfg, options_.connect_timeout);
  }

  std::string Describe(const model::ProtectedItem& item, int port) const override {
    std::string host;
    int p = 0;
    if (!Target(item, port, &host, &p).ok()) return options_.address;
    return absl::StrCat(host, ":", p);
  }

 private:
  absl::Status Target(const model::ProtectedItem& item, int policy_port, std::string* host,
                      int* port) const {
    if (options_.endpoint != nullptr) {
      *host = "127.0.0.1";
      *port = options_.endpoint->port();
      return absl::OkStatus();
    }
    ASR_RETURN_IF_ERROR(SplitAddress(options_.address, host, port));
    if (host->empty()) *host = item.replica_host_name();
    if (*port == 0) *port = policy_port > 0 ? policy_port : net::kCertificateAuthPort;
    return absl::OkStatus();
  }

  const TransportOptions options_;
  const std::string writer_;
  const std::string receiver_name_;
};

}  // namespace

absl::StatusOr<std::shared_ptr<Transport>> MakeTlsTransport(const TransportOptions& options) {
  if (options.pki_dir.empty()) {
    return absl::InvalidArgumentError(
        "the transport needs the vault's PKI directory (ca.pem and the hosts' certificates from "
        "`asrctl pki init --dir DIR`)");
  }
  ASR_ASSIGN_OR_RETURN(
      std::string writer,
      CertificateName(JoinPath(options.pki_dir, options.sender_certificate + ".pem")));
  std::string receiver = options.receiver_name;
  if (receiver.empty() && options.endpoint != nullptr) {
    ASR_ASSIGN_OR_RETURN(receiver, CertificateName(JoinPath(
                                       options.pki_dir, options.receiver_certificate + ".pem")));
  }
  if (!options.address.empty()) {
    std::string h;
    int p;
    ASR_RETURN_IF_ERROR(SplitAddress(options.address, &h, &p));
  }
  return std::shared_ptr<Transport>(
      std::make_shared<TlsTransport>(options, std::move(writer), std::move(receiver)));
}

}  // namespace asr::protection
