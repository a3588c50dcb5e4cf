/* Runs the "getting started" code at the top of asr.h, extracted from the
 * header as written (//capi:getting_started_snippet) and compiled as C99,
 * over the plain-C host table of c_host_table.h: afterwards VM1 is
 * stopped in New York, its replica runs in Chicago with every byte VM1's
 * guest wrote, and the item, read from the reopened state, is Committed.
 *
 * argv[1]: asrctl, used once to make the vault PKI the snippet is given. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asr.h"
#include "c_check.h"
#include "c_host_table.h"
#include "c_json.h"

/* The snippet's function. */
int protect_and_fail_over(const char* state_dir, const asr_host_callbacks_t* host,
                          const char* pki_dir);

int main(int argc, char** argv) {
  static host_state h;
  const char* tmp = getenv("TEST_TMPDIR");
  char cmd[4096], state[1200], pki[1200];
  asr_host_callbacks_t table;
  asr_engine_t* engine = NULL;
  asr_buffer_t* b = NULL;
  cj_value* item;
  int k;

  if (argc < 2 || tmp == NULL) {
    fprintf(stderr, "usage: c_api_getting_started_test ASRCTL (under bazel test)\n");
    return 2;
  }
  snprintf(h.root, sizeof h.root, "%s/getting-started", tmp);
  snprintf(state, sizeof state, "%s/state", h.root);
  snprintf(pki, sizeof pki, "%s/pki", h.root);
  snprintf(cmd, sizeof cmd,
           "rm -rf '%s' && mkdir -p '%s' && '%s' pki init --dir '%s' --recovery-san 127.0.0.1 "
           ">/dev/null 2>&1",
           h.root, h.root, argv[1], pki);
  if (run(cmd) != 0) return 1;
  CHECK(host_make_dirs(&h));
  CHECK(add_source_vm(&h, "vm1", "VM1", 2));
  CHECK(add_source_vm(&h, "vm2", "VM2", 1));
  CHECK(guest_write(&h, "vm1", 0, 1u << 20, 256u << 10, 5));
  CHECK(guest_write(&h, "vm1", 1, 2u << 20, 4096, 6));
  CHECK(setenv("ASR_KEY_ENCRYPTION_KEY",
               "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", 1) == 0);
  table = host_table(&h);

  CHECK(protect_and_fail_over(state, &table, pki) == 0);

  {
    host_vm* source = find_vm(&h, "vm1");
    host_vm* replica = NULL;
    int i;
    for (i = 0; i < MAX_VMS; ++i) {
      if (h.vms[i].used && strcmp(h.vms[i].server, "vmm-chi") == 0) replica = &h.vms[i];
    }
    CHECK(source != NULL && !source->running);
    CHECK(replica != NULL && replica->running && replica->ndisks == 2);
    for (k = 0; replica != NULL && k < replica->ndisks; ++k) {
      CHECK(disk_matches(replica->disks[k].path, k));
    }
  }
  CHECK(h.points >= 2 && h.points == h.points_released);

  CHECK(asr_engine_open(&engine, state, NULL, 0) == ASR_OK);
  CHECK(asr_item_get(&b, engine, "VM1", 0) == ASR_OK);
  item = cj_parse(b != NULL ? asr_buffer_data(b) : "");
  CHECK(strcmp(cj_str(cj_get(item, "protectionState"), ""), "Committed") == 0);
  cj_free(item);
  asr_buffer_dispose(b);
  asr_engine_close(engine);
  return check_summary();
}
