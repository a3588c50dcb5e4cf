/* The replication part of the C API exercised from plain C99: a receiver
 * (asrctl replica serve, path in argv[1]) on loopback mutual TLS; an
 * initial and a tracked cycle through asr_replication_run with a progress
 * callback and the host's tracker in the options; the older
 * asr_replication_cycle; a caller built against the first, smaller version
 * of asr_replication_options_t; tracker status; the points list and a
 * restore. */
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

struct progress_count {
  int calls;
  uint64_t last_sent;
};

static void on_progress(const asr_replication_progress_t* p, void* payload) {
  struct progress_count* c = (struct progress_count*)payload;
  c->calls++;
  c->last_sent = p->bytes_sent;
}

static int run(const char* cmd) {
  int rc = system(cmd);
  if (rc != 0) fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
  return rc;
}

int main(int argc, char** argv) {
  const char* tmp = getenv("TEST_TMPDIR");
  char cmd[16384], dir[1024], disk[1100], replica[1100], out[1100], cert[1100], key[1100], ca[1100];
  FILE* f;
  int port = 0, i;
  asr_tracker_t* tracker = NULL;
  asr_buffer_t* buf = NULL;
  asr_tls_files_t tls = ASR_TLS_FILES_INIT;
  asr_replication_options_t opts = ASR_REPLICATION_OPTIONS_INIT;
  struct progress_count progress = {0, 0};

  if (argc < 2 || tmp == NULL) {
    fprintf(stderr, "usage: c_api_replication_test ASRCTL (under bazel test)\n");
    return 2;
  }
  snprintf(dir, sizeof(dir), "%s/capi-repl", tmp);
  snprintf(disk, sizeof(disk), "%s/vm.vhdx", dir);
  snprintf(replica, sizeof(replica), "%s/replica", dir);
  snprintf(out, sizeof(out), "%s/restored.vhdx", dir);
  snprintf(cert, sizeof(cert), "%s/pki/primary.pem", dir);
  snprintf(key, sizeof(key), "%s/pki/primary.key", dir);
  snprintf(ca, sizeof(ca), "%s/pki/ca.pem", dir);
  snprintf(cmd, sizeof(cmd),
           "rm -rf '%s' && mkdir -p '%s' && '%s' pki init --dir '%s/pki' "
           "--recovery-san 127.0.0.1 >/dev/null",
           dir, dir, argv[1], dir);
  if (run(cmd) != 0) return 1;
  snprintf(cmd, sizeof(cmd),
           "'%s' disk create --format vhdx --type dynamic --size 8M '%s' >/dev/null", argv[1],
           disk);
  if (run(cmd) != 0) return 1;
  snprintf(cmd, sizeof(cmd),
           "'%s' tracker write --disk '%s' --offset 0 --length 2M --seed 1 >/dev/null", argv[1],
           disk);
  if (run(cmd) != 0) return 1;
  snprintf(
      cmd, sizeof(cmd),
      "'%s' replica serve --listen 127.0.0.1:0 --port-file '%s/port' --dir '%s' --pki '%s/pki' "
      "--writer primary-host --additional-points 2 --point-interval 0s "
      ">'%s/serve.log' 2>&1 & echo $! >'%s/pid'",
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

  /* Argument errors. */
  CHECK(asr_replication_cycle(NULL, disk, "127.0.0.1", (uint16_t)port, &tls, &opts, NULL, NULL,
                              NULL, 0) == ASR_INVALID_ARGUMENT);
  CHECK(asr_replica_points(&buf, "/nonexistent/replica", 0) == ASR_NOT_FOUND);
  CHECK(buf == NULL);

  CHECK(asr_replication_run(NULL, disk, "127.0.0.1", (uint16_t)port, &tls, &opts) ==
        ASR_INVALID_ARGUMENT);
  CHECK(asr_replication_run(&buf, disk, "127.0.0.1", (uint16_t)port, &tls, NULL) ==
        ASR_INVALID_ARGUMENT);

  /* The receiver must be the expected recovery host: its certificate names
   * recovery-host and 127.0.0.1 (the default check, by the host argument),
   * not primary-host. */
  opts.expected_receiver_name = "primary-host";
  CHECK(asr_replication_run(&buf, disk, "127.0.0.1", (uint16_t)port, &tls, &opts) ==
        ASR_UNAUTHENTICATED);
  CHECK(strstr(asr_last_error_message(), "does not name \"primary-host\"") != NULL);
  CHECK(strstr(asr_last_error_message(), "CN=recovery-host") != NULL);
  opts.expected_receiver_name = "";
  CHECK(asr_replication_run(&buf, disk, "127.0.0.1", (uint16_t)port, &tls, &opts) ==
        ASR_INVALID_ARGUMENT);
  opts.expected_receiver_name = "recovery-host";

  /* Initial replication with progress. */
  opts.mode = ASR_REPLICATION_MODE_INITIAL;
  opts.progress = on_progress;
  opts.payload = &progress;
  CHECK(asr_replication_run(&buf, disk, "127.0.0.1", (uint16_t)port, &tls, &opts) == ASR_OK);
  CHECK(contains(buf, "\"pointId\":\"1\""));
  CHECK(contains(buf, "\"attempts\":1")); /* not interrupted: one connection */
  CHECK(progress.calls > 0 && progress.last_sent > 0);
  asr_buffer_dispose(buf);
  buf = NULL;

  /* The host reports writes; a tracked cycle reads only those. */
  CHECK(asr_tracker_open(&tracker, disk, 0, 0) == ASR_OK);
  CHECK(asr_tracker_record_write(tracker, 4u << 20, 100, 0) == ASR_OK);
  CHECK(asr_tracker_record_write(tracker, 9u << 20, 1, 0) == ASR_INVALID_ARGUMENT);
  CHECK(asr_tracker_status(&buf, tracker, 0) == ASR_OK);
  CHECK(contains(buf, "\"needsScan\":false") && contains(buf, "\"changedBlocks\":\"1\""));
  asr_buffer_dispose(buf);
  buf = NULL;
  opts.mode = ASR_REPLICATION_MODE_TRACKED;
  opts.app_consistent = 1;
  opts.progress = NULL;
  opts.payload = NULL;
  opts.tracker = tracker;
  CHECK(asr_replication_run(&buf, disk, "127.0.0.1", (uint16_t)port, &tls, &opts) == ASR_OK);
  CHECK(contains(buf, "\"modeUsed\":\"tracked\"") && contains(buf, "\"bytesRead\":\"65536\""));
  asr_buffer_dispose(buf);
  buf = NULL;
  opts.tracker = NULL;
  CHECK(asr_tracker_close(tracker) == ASR_OK);
  CHECK(asr_tracker_close(NULL) == ASR_OK);

  /* Somebody else touches the disk file (here: bytes appended to the VHDX,
   * which no guest sees): the tracker cannot vouch for the disk any more.
   * TRACKED_ONLY refuses and says why; otherwise the cycle scans. */
  {
    FILE* f = fopen(disk, "ab");
    CHECK(f != NULL);
    if (f != NULL) {
      char junk[4096];
      memset(junk, 0x7f, sizeof(junk));
      CHECK(fwrite(junk, 1, sizeof(junk), f) == sizeof(junk));
      fclose(f);
    }
  }
  opts.app_consistent = 0;
  opts.flags = ASR_REPLICATION_TRACKED_ONLY;
  CHECK(asr_replication_run(&buf, disk, "127.0.0.1", (uint16_t)port, &tls, &opts) ==
        ASR_FAILED_PRECONDITION);
  CHECK(buf == NULL);
  CHECK(strstr(asr_last_error_message(), "grew from") != NULL);
  opts.mode = ASR_REPLICATION_MODE_SCAN;
  CHECK(asr_replication_run(&buf, disk, "127.0.0.1", (uint16_t)port, &tls, &opts) ==
        ASR_INVALID_ARGUMENT);
  opts.flags = 0;
  /* The older form: tracker, progress, payload and flags as parameters. */
  opts.mode = ASR_REPLICATION_MODE_TRACKED;
  CHECK(asr_replication_cycle(&buf, disk, "127.0.0.1", (uint16_t)port, &tls, &opts, NULL, NULL,
                              NULL, ASR_REPLICATION_TRACKED_ONLY) == ASR_FAILED_PRECONDITION);
  CHECK(asr_replication_cycle(&buf, disk, "127.0.0.1", (uint16_t)port, &tls, &opts, NULL, NULL,
                              NULL, 0) == ASR_OK);
  CHECK(contains(buf, "\"modeUsed\":\"scan\"") && contains(buf, "grew from"));
  asr_buffer_dispose(buf);
  buf = NULL;

  /* Points and restore. */
  CHECK(asr_replica_points(&buf, replica, 0) == ASR_OK);
  CHECK(contains(buf, "\"id\":\"1\"") && contains(buf, "\"id\":\"2\"") &&
        contains(buf, "\"consistency\":\"app\""));
  asr_buffer_dispose(buf);
  buf = NULL;
  CHECK(asr_replica_restore(replica, 1, out, 0) == ASR_OK);
  CHECK(asr_replica_restore(replica, 1, out, 0) == ASR_ALREADY_EXISTS);
  CHECK(asr_replica_restore(replica, 2, out, ASR_RESTORE_OVERWRITE) == ASR_OK);
  CHECK(asr_replica_restore(replica, 77, out, ASR_RESTORE_OVERWRITE) == ASR_NOT_FOUND);
  snprintf(cmd, sizeof(cmd), "'%s' disk compare '%s' '%s' >/dev/null", argv[1], out, disk);
  CHECK(run(cmd) == 0);

  /* A caller compiled against version 1 of asr_replication_options_t (the
   * first five fields, 20 bytes), in a heap block of exactly that size so
   * that a sanitizer sees any read past it. */
  {
    typedef struct {
      uint32_t struct_size;
      uint32_t mode;
      int32_t compression_level;
      uint32_t block_size;
      uint32_t app_consistent;
    } options_v1_t;
    options_v1_t* v1 = (options_v1_t*)malloc(sizeof(options_v1_t));
    CHECK(v1 != NULL && sizeof(options_v1_t) == 20);
    if (v1 != NULL) {
      v1->struct_size = sizeof(options_v1_t);
      v1->mode = ASR_REPLICATION_MODE_SCAN;
      v1->compression_level = 1;
      v1->block_size = 0;
      v1->app_consistent = 0;
      CHECK(asr_replication_run(&buf, disk, "127.0.0.1", (uint16_t)port, &tls,
                                (const asr_replication_options_t*)v1) == ASR_OK);
      CHECK(contains(buf, "\"modeUsed\":\"scan\""));
      asr_buffer_dispose(buf);
      buf = NULL;
      CHECK(asr_replication_cycle(&buf, disk, "127.0.0.1", (uint16_t)port, &tls,
                                  (const asr_replication_options_t*)v1, NULL, NULL, NULL,
                                  0) == ASR_OK);
      asr_buffer_dispose(buf);
      buf = NULL;
      /* Smaller than the first version: refused, naming the struct. */
      v1->struct_size = 19;
      CHECK(asr_replication_run(&buf, disk, "127.0.0.1", (uint16_t)port, &tls,
                                (const asr_replication_options_t*)v1) == ASR_INVALID_ARGUMENT);
      CHECK(strstr(asr_last_error_message(), "asr_replication_options_t") != NULL);
      free(v1);
    }
  }

  /* A wrong CA is refused. */
  snprintf(cmd, sizeof(cmd), "'%s' pki init --dir '%s/other' >/dev/null", argv[1], dir);
  CHECK(run(cmd) == 0);
  snprintf(cert, sizeof(cert), "%s/other/primary.pem", dir);
  snprintf(key, sizeof(key), "%s/other/primary.key", dir);
  opts.mode = ASR_REPLICATION_MODE_SCAN;
  CHECK(asr_replication_run(&buf, disk, "127.0.0.1", (uint16_t)port, &tls, &opts) ==
        ASR_UNAUTHENTICATED);

  snprintf(cmd, sizeof(cmd), "kill $(cat '%s/pid') 2>/dev/null", dir);
  run(cmd);
  return check_summary();
}
