/* The replication codec through the C API, from plain C99: a receiver
 * (asrctl replica serve, path in argv[1]) on loopback mutual TLS; scan
 * cycles whose changes repeat the same 512 KiB at two places 4 MiB apart,
 * once with ASR_REPLICATION_CODEC_CLASSIC and once with
 * ASR_REPLICATION_CODEC_LONG: the stats say which codec ran, the long one
 * sends fewer bytes, and the replica equals the disk after each. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "asr.h"
#include "c_check.h"

static int contains(const asr_buffer_t* b, const char* text) {
  return b != NULL && strstr(asr_buffer_data(b), text) != NULL;
}

/* The value of "bytesSent" ("N", a string in the proto3 JSON mapping). */
static unsigned long long bytes_sent(const asr_buffer_t* b) {
  const char* p = b == NULL ? NULL : strstr(asr_buffer_data(b), "\"bytesSent\":\"");
  return p == NULL ? 0 : strtoull(p + strlen("\"bytesSent\":\""), NULL, 10);
}

static int run(const char* cmd) {
  int rc = system(cmd);
  if (rc != 0) fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
  return rc;
}

int main(int argc, char** argv) {
  const char* tmp = getenv("TEST_TMPDIR");
  char cmd[16384], dir[1024], disk[1100], replica[1100], cert[1100], key[1100], ca[1100];
  FILE* f;
  int port = 0, i;
  unsigned long long classic_bytes = 0, long_bytes = 0;
  asr_buffer_t* buf = NULL;
  asr_tls_files_t tls = ASR_TLS_FILES_INIT;
  asr_replication_options_t opts = ASR_REPLICATION_OPTIONS_INIT;

  if (argc < 2 || tmp == NULL) {
    fprintf(stderr, "usage: c_api_codec_test ASRCTL (under bazel test)\n");
    return 2;
  }
  snprintf(dir, sizeof(dir), "%s/capi-codec", tmp);
  snprintf(disk, sizeof(disk), "%s/vm.vhdx", dir);
  snprintf(replica, sizeof(replica), "%s/replica", dir);
  snprintf(cert, sizeof(cert), "%s/pki/primary.pem", dir);
  snprintf(key, sizeof(key), "%s/pki/primary.key", dir);
  snprintf(ca, sizeof(ca), "%s/pki/ca.pem", dir);
  snprintf(cmd, sizeof(cmd),
           "rm -rf '%s' && mkdir -p '%s' && '%s' pki init --dir '%s/pki' "
           "--recovery-san 127.0.0.1 >/dev/null && "
           "'%s' disk create --format vhdx --type dynamic --size 8M '%s' >/dev/null && "
           "'%s' tracker write --disk '%s' --offset 0 --length 1M --seed 1 >/dev/null",
           dir, dir, argv[1], dir, argv[1], disk, argv[1], disk);
  if (run(cmd) != 0) return 1;
  snprintf(
      cmd, sizeof(cmd),
      "'%s' replica serve --listen 127.0.0.1:0 --port-file '%s/port' --dir '%s' --pki '%s/pki' "
      "--writer primary-host --point-interval 0s >'%s/serve.log' 2>&1 & echo $! >'%s/pid'",
      argv[1], dir, replica, dir, dir, dir);
  if (run(cmd) != 0) return 1;
  snprintf(cmd, sizeof(cmd), "%s/port", dir);
  for (i = 0; i < 100 && port == 0; ++i) {
    f = fopen(cmd, "r");
    if (f != NULL) {
      if (fscanf(f, "%d", &port) != 1) port = 0;
      fclose(f);
    }
    if (port == 0) {
      struct timespec ts = {0, 100000000L};
      nanosleep(&ts, NULL);
    }
  }
  CHECK(port > 0);
  tls.cert_path = cert;
  tls.key_path = key;
  tls.ca_path = ca;
  opts.expected_receiver_name = "recovery-host";

  /* Both codec flags at once are refused before anything is sent. */
  opts.mode = ASR_REPLICATION_MODE_INITIAL;
  opts.flags = ASR_REPLICATION_CODEC_CLASSIC | ASR_REPLICATION_CODEC_LONG;
  CHECK(asr_replication_run(&buf, disk, "127.0.0.1", (uint16_t)port, &tls, &opts) ==
        ASR_INVALID_ARGUMENT);
  CHECK(buf == NULL);
  CHECK(strstr(asr_last_error_message(), "exclude each other") != NULL);

  /* The initial copy with the default: classic. */
  opts.flags = 0;
  CHECK(asr_replication_run(&buf, disk, "127.0.0.1", (uint16_t)port, &tls, &opts) == ASR_OK);
  CHECK(contains(buf, "\"codec\":\"classic\""));
  asr_buffer_dispose(buf);
  buf = NULL;

  for (i = 0; i < 2; ++i) {
    const int use_long = i == 1;
    /* The same 512 KiB (seeded) at 2 MiB and at 6 MiB, new each round. */
    snprintf(cmd, sizeof(cmd),
             "'%s' tracker write --disk '%s' --offset 2M --length 512K --seed %d >/dev/null && "
             "'%s' tracker write --disk '%s' --offset 6M --length 512K --seed %d >/dev/null",
             argv[1], disk, 10 + i, argv[1], disk, 10 + i);
    CHECK(run(cmd) == 0);
    opts.mode = ASR_REPLICATION_MODE_SCAN;
    opts.flags = use_long ? ASR_REPLICATION_CODEC_LONG : ASR_REPLICATION_CODEC_CLASSIC;
    CHECK(asr_replication_run(&buf, disk, "127.0.0.1", (uint16_t)port, &tls, &opts) == ASR_OK);
    CHECK(contains(buf, use_long ? "\"codec\":\"long\"" : "\"codec\":\"classic\""));
    CHECK(contains(buf, "\"bytesChanged\":\"1048576\""));
    if (use_long) {
      long_bytes = bytes_sent(buf);
    } else {
      classic_bytes = bytes_sent(buf);
    }
    asr_buffer_dispose(buf);
    buf = NULL;
    snprintf(cmd, sizeof(cmd), "'%s' disk compare '%s' '%s/replica.vhdx' >/dev/null", argv[1], disk,
             replica);
    CHECK(run(cmd) == 0);
  }
  fprintf(stderr, "bytes sent: classic %llu, long %llu\n", classic_bytes, long_bytes);
  CHECK(classic_bytes > 0 && long_bytes > 0);
  CHECK(long_bytes * 4 < classic_bytes * 3);

  snprintf(cmd, sizeof(cmd), "kill $(cat '%s/pid') 2>/dev/null", dir);
  run(cmd);
  return check_summary();
}
