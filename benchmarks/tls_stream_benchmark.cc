// Loopback throughput of asr's TLS 1.3 transport (asr/net/tls.h) with 1 MiB
// writes, next to plain TCP over the same loopback, and the cost of a mutually
// authenticated handshake.
//
//   bazel run -c opt //benchmarks:tls_stream_benchmark
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "asr/net/pki.h"
#include "asr/net/stream.h"
#include "asr/net/tls.h"
#include "asr/platform/socket.h"

namespace {

using asr::net::ByteStream;

constexpr size_t kWrite = 1 << 20;

struct Vault {
  asr::net::TlsConfig server;
  asr::net::TlsConfig client;
};

const Vault& GetVault() {
  static const Vault* vault = [] {
    std::string tmpl = "/tmp/asr_tls_bench.XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) abort();
    auto files = asr::net::InitVaultPki(tmpl + "/pki", {});
    if (!files.ok()) {
      fprintf(stderr, "%s\n", files.status().ToString().c_str());
      abort();
    }
    auto* v = new Vault;
    v->server = asr::net::VaultTlsConfig(tmpl + "/pki", "recovery");
    v->client = asr::net::VaultTlsConfig(tmpl + "/pki", "primary");
    return v;
  }();
  return *vault;
}

// Writes 1 MiB per iteration while another thread reads everything.
void RunThroughput(benchmark::State& state, std::unique_ptr<ByteStream> writer,
                   std::unique_ptr<ByteStream> reader) {
  std::vector<char> buf(kWrite, 'a');
  uint64_t received = 0;
  std::thread drain([&] {
    std::vector<char> in(kWrite);
    for (;;) {
      auto n = reader->ReadSome(in.data(), in.size());
      if (!n.ok() || *n == 0) break;
      received += *n;
    }
  });
  for (auto _ : state) {
    if (!writer->WriteAll(buf.data(), buf.size()).ok()) {
      state.SkipWithError("write failed");
      break;
    }
  }
  (void)writer->Close();
  drain.join();
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * kWrite);
  state.counters["received_MiB"] = static_cast<double>(received) / kWrite;
}

void BM_TlsLoopback1MiBWrites(benchmark::State& state) {
  const Vault& v = GetVault();
  auto listener = asr::net::TlsListener::Listen("127.0.0.1", 0, v.server);
  if (!listener.ok()) {
    state.SkipWithError("listen failed");
    return;
  }
  absl::StatusOr<std::unique_ptr<ByteStream>> server;
  std::thread accept([&] { server = (*listener)->Accept(); });
  auto client = asr::net::TlsConnect("127.0.0.1", (*listener)->port(), v.client, absl::Seconds(10));
  accept.join();
  if (!client.ok() || !server.ok()) {
    state.SkipWithError("handshake failed");
    return;
  }
  RunThroughput(state, std::move(*client), std::move(*server));
}
BENCHMARK(BM_TlsLoopback1MiBWrites)->UseRealTime()->MinTime(3.0);

// The same over plain TCP (no TLS): the ceiling set by the loopback itself.
void BM_PlainTcpLoopback1MiBWrites(benchmark::State& state) {
  namespace platform = asr::platform;
  auto listener = platform::ListenTcp("127.0.0.1", 0);
  if (!listener.ok()) {
    state.SkipWithError("listen failed");
    return;
  }
  auto client = platform::ConnectTcp("127.0.0.1", listener->port, absl::Now() + absl::Seconds(10),
                                     "connect timed out");
  if (!client.ok() || !platform::SetSocketBlocking(client->handle, true).ok()) {
    state.SkipWithError("connect failed");
    return;
  }
  auto server = platform::AcceptSocket(listener->handle);
  platform::CloseSocket(listener->handle);
  if (!server.ok()) {
    state.SkipWithError("accept failed");
    return;
  }
  const int cfd = client->handle;
  const int sfd = server->handle;
  RunThroughput(state, asr::net::MakePlainFdStream(cfd, "client"),
                asr::net::MakePlainFdStream(sfd, "server"));
}
BENCHMARK(BM_PlainTcpLoopback1MiBWrites)->UseRealTime()->MinTime(3.0);

// TCP connect + mutually authenticated TLS 1.3 handshake (P-256) + ready byte.
void BM_TlsHandshake(benchmark::State& state) {
  const Vault& v = GetVault();
  auto listener = asr::net::TlsListener::Listen("127.0.0.1", 0, v.server);
  if (!listener.ok()) {
    state.SkipWithError("listen failed");
    return;
  }
  for (auto _ : state) {
    absl::StatusOr<std::unique_ptr<ByteStream>> server;
    std::thread accept([&] { server = (*listener)->Accept(); });
    auto client =
        asr::net::TlsConnect("127.0.0.1", (*listener)->port(), v.client, absl::Seconds(10));
    accept.join();
    if (!client.ok() || !server.ok()) {
      state.SkipWithError("handshake failed");
      break;
    }
  }
}
BENCHMARK(BM_TlsHandshake)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
