/* Replica verification through the C API from plain C99: a receiver
 * (asrctl replica serve, path in argv[1]) on loopback mutual TLS; an initial
 * cycle; asr_replica_verify on the untouched replica, after a bit flipped in
 * the replica's data file (resynchronization required, not an error), and
 * after the scan cycle that repairs it; argument and state errors. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "asr.h"
#include "c_check.h"

static int contains(const asr_buffer_t* b, const char* text) {
  return b != NULL && strstr(asr_buffer_data(b), text) != NULL;
}

static int run(const char* cmd) {
  int rc = system(cmd);
  if (rc != 0) fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
  return rc;
}

/* Flips a bit in every copy, in file `path`, of the first 16 KiB that
 * `asrctl tracker write --seed SEED` writes; returns the copies changed. */
static int flip_written_block(const char* path, uint64_t seed) {
  enum { kNeedle = 16384 };
  static char needle[kNeedle];
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  char* data;
  long size, at;
  int copies = 0;
  FILE* f;
  int i;
  for (i = 0; i < kNeedle; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    needle[i] = (char)('a' + (x & 15));
  }
  f = fopen(path, "r+b");
  if (f == NULL) return 0;
  fseek(f, 0, SEEK_END);
  size = ftell(f);
  fseek(f, 0, SEEK_SET);
  data = (char*)malloc((size_t)size);
  if (data == NULL || fread(data, 1, (size_t)size, f) != (size_t)size) {
    free(data);
    fclose(f);
    return 0;
  }
  for (at = 0; at + kNeedle <= size; ++at) {
    if (data[at] == needle[0] && memcmp(data + at, needle, kNeedle) == 0) {
      char c = (char)(data[at + 100] ^ 0x10);
      fseek(f, at + 100, SEEK_SET);
      fwrite(&c, 1, 1, f);
      ++copies;
    }
  }
  free(data);
  fclose(f);
  return copies;
}

int main(int argc, char** argv) {
  const char* tmp = getenv("TEST_TMPDIR");
  char cmd[16384], dir[1024], disk[1100], fresh[1100], replica[1100], cert[1100], key[1100],
      ca[1100];
  FILE* f;
  int port = 0, i;
  asr_buffer_t* buf = NULL;
  asr_tls_files_t tls = ASR_TLS_FILES_INIT;
  asr_replication_options_t opts = ASR_REPLICATION_OPTIONS_INIT;

  if (argc < 2 || tmp == NULL) {
    fprintf(stderr, "usage: c_api_verify_test ASRCTL (under bazel test)\n");
    return 2;
  }
  snprintf(dir, sizeof(dir), "%s/capi-verify", tmp);
  snprintf(disk, sizeof(disk), "%s/vm.vhdx", dir);
  snprintf(fresh, sizeof(fresh), "%s/fresh.vhdx", dir);
  snprintf(replica, sizeof(replica), "%s/replica", dir);
  snprintf(cert, sizeof(cert), "%s/pki/primary.pem", dir);
  snprintf(key, sizeof(key), "%s/pki/primary.key", dir);
  snprintf(ca, sizeof(ca), "%s/pki/ca.pem", dir);
  snprintf(cmd, sizeof(cmd),
           "rm -rf '%s' && mkdir -p '%s' && '%s' pki init --dir '%s/pki' "
           "--recovery-san 127.0.0.1 >/dev/null",
           dir, dir, argv[1], dir);
  if (run(cmd) != 0) return 1;
  snprintf(cmd, sizeof(cmd),
           "'%s' disk create --format vhdx --type dynamic --size 8M '%s' >/dev/null && "
           "'%s' disk create --format vhdx --type dynamic --size 8M '%s' >/dev/null",
           argv[1], disk, argv[1], fresh);
  if (run(cmd) != 0) return 1;
  snprintf(cmd, sizeof(cmd),
           "'%s' tracker write --disk '%s' --offset 1M --length 64K --seed 5 >/dev/null", argv[1],
           disk);
  if (run(cmd) != 0) return 1;
  snprintf(
      cmd, sizeof(cmd),
      "'%s' replica serve --listen 127.0.0.1:0 --port-file '%s/port' --dir '%s' --pki '%s/pki' "
      "--writer primary-host >'%s/serve.log' 2>&1 & echo $! >'%s/pid'",
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

  /* Argument and state errors. */
  CHECK(asr_replica_verify(NULL, disk, "127.0.0.1", (uint16_t)port, &tls, 0) ==
        ASR_INVALID_ARGUMENT);
  CHECK(asr_replica_verify(&buf, disk, "127.0.0.1", (uint16_t)port, &tls, 0x80) ==
        ASR_INVALID_ARGUMENT);
  CHECK(buf == NULL);
  CHECK(asr_replica_verify(&buf, fresh, "127.0.0.1", (uint16_t)port, &tls, 0) ==
        ASR_FAILED_PRECONDITION);
  CHECK(strstr(asr_last_error_message(), "initial replication") != NULL);

  opts.mode = ASR_REPLICATION_MODE_INITIAL;
  CHECK(asr_replication_cycle(&buf, disk, "127.0.0.1", (uint16_t)port, &tls, &opts, NULL, NULL,
                              NULL, 0) == ASR_OK);
  asr_buffer_dispose(buf);
  buf = NULL;

  /* Untouched. */
  CHECK(asr_replica_verify(&buf, disk, "127.0.0.1", (uint16_t)port, &tls, 0) == ASR_OK);
  CHECK(contains(buf, "\"pointId\":\"1\",") && contains(buf, "\"blocksChecked\":\"128\",") &&
        contains(buf, "\"replicaMismatches\":\"0\",") &&
        contains(buf, "\"sourceMismatches\":\"0\",") && contains(buf, "\"resyncRequired\":false"));
  asr_buffer_dispose(buf);
  buf = NULL;

  /* The local form against the replica's own manifest, the receiver running. */
  CHECK(asr_replica_verify_dir(NULL, replica, 0, 0) == ASR_INVALID_ARGUMENT);
  CHECK(asr_replica_verify_dir(&buf, NULL, 0, 0) == ASR_INVALID_ARGUMENT);
  CHECK(asr_replica_verify_dir(&buf, dir, 0, 0) == ASR_NOT_FOUND);
  CHECK(asr_replica_verify_dir(&buf, replica, 7, 0) == ASR_NOT_FOUND);
  CHECK(buf == NULL);
  CHECK(asr_replica_verify_dir(&buf, replica, 0, 0) == ASR_OK);
  CHECK(contains(buf, "\"point\":\"1\",") && contains(buf, "\"blocks\":\"128\",") &&
        contains(buf, "\"mismatchedBlocks\":\"0\",") && contains(buf, "\"ok\":true"));
  asr_buffer_dispose(buf);
  buf = NULL;

  /* Bit rot in block 16 of the replica's data file. */
  snprintf(cmd, sizeof(cmd), "%s/replica.vhdx", replica);
  CHECK(flip_written_block(cmd, 5) > 0);
  CHECK(asr_replica_verify_dir(&buf, replica, 1, 0) == ASR_OK);
  CHECK(contains(buf, "\"mismatchedBlocks\":\"1\",") &&
        contains(buf, "\"firstMismatches\":[\"1048576\"]") && contains(buf, "\"ok\":false"));
  asr_buffer_dispose(buf);
  buf = NULL;
  CHECK(asr_replica_verify(&buf, disk, "127.0.0.1", (uint16_t)port, &tls,
                           ASR_VERIFY_REPLICA_ONLY) == ASR_OK);
  CHECK(contains(buf, "\"replicaMismatches\":\"1\",") &&
        contains(buf, "\"replicaMismatchBlocks\":[\"16\"]") &&
        contains(buf, "\"sourceChecked\":false") && contains(buf, "\"resyncRequired\":true") &&
        contains(buf, "resynchronization required"));
  asr_buffer_dispose(buf);
  buf = NULL;
  snprintf(cmd, sizeof(cmd), "%s.asrresync", disk);
  f = fopen(cmd, "r");
  CHECK(f != NULL);
  if (f != NULL) fclose(f);

  /* The next scan resends it; verification is clean again. */
  opts.mode = ASR_REPLICATION_MODE_SCAN;
  CHECK(asr_replication_cycle(&buf, disk, "127.0.0.1", (uint16_t)port, &tls, &opts, NULL, NULL,
                              NULL, 0) == ASR_OK);
  CHECK(contains(buf, "\"blocksSent\":\"1\","));
  asr_buffer_dispose(buf);
  buf = NULL;
  CHECK(asr_replica_verify(&buf, disk, "127.0.0.1", (uint16_t)port, &tls, 0) == ASR_OK);
  CHECK(contains(buf, "\"pointId\":\"2\",") && contains(buf, "\"resyncRequired\":false"));
  asr_buffer_dispose(buf);
  buf = NULL;

  snprintf(cmd, sizeof(cmd), "kill $(cat '%s/pid') 2>/dev/null", dir);
  run(cmd);
  return check_summary();
}
