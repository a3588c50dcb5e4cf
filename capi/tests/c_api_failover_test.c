/* Failover from plain C99: bad arguments and input refused with a message
 * that says what was wrong, an operation the item's state does not allow
 * refused naming what is allowed, and a commit of a failed-over item run as
 * a job whose item then allows reverse replication. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asr.h"
#include "c_check.h"

static const char* message_has(const char* needle) {
  return strstr(asr_last_error_message(), needle);
}

static int buffer_has(const asr_buffer_t* b, const char* needle) {
  return b != NULL && strstr(asr_buffer_data(b), needle) != NULL;
}

int main(void) {
  char dir[512];
  const char* tmp = getenv("TEST_TMPDIR");
  asr_engine_t* engine = NULL;
  asr_buffer_t* buf = NULL;

  snprintf(dir, sizeof dir, "%s/failover-%ld", tmp ? tmp : "/tmp", (long)getpid());
  CHECK(asr_engine_open(&engine, dir, NULL, 0) == ASR_OK);
  CHECK(asr_engine_initialize(engine, 0) == ASR_OK);

  /* Arguments. */
  CHECK(asr_failover_start(NULL, engine, "Commit", "{\"itemId\":\"VM1\"}", 0) ==
        ASR_INVALID_ARGUMENT);
  CHECK(message_has("out must not be NULL") != NULL);
  CHECK(asr_failover_start(&buf, NULL, "Commit", "{\"itemId\":\"VM1\"}", 0) ==
        ASR_INVALID_ARGUMENT);
  CHECK(asr_failover_start(&buf, engine, NULL, "{\"itemId\":\"VM1\"}", 0) == ASR_INVALID_ARGUMENT);
  CHECK(asr_failover_start(&buf, engine, "Commit", NULL, 0) == ASR_INVALID_ARGUMENT);
  CHECK(message_has("input_json") != NULL);
  CHECK(asr_failover_start(&buf, engine, "Commit", "{\"itemId\":", 0) == ASR_INVALID_ARGUMENT);
  CHECK(asr_failover_start(&buf, engine, "Commit", "{}", 0) == ASR_INVALID_ARGUMENT);
  CHECK(message_has("itemId") != NULL);
  CHECK(asr_failover_start(&buf, engine, "Commit", "{\"itemId\":\"VM1\"}", 0x4) ==
        ASR_INVALID_ARGUMENT);
  CHECK(buf == NULL);

  /* No such item; an unknown operation. */
  CHECK(asr_failover_start(&buf, engine, "Commit", "{\"itemId\":\"VM1\"}", 0) == ASR_NOT_FOUND);
  CHECK(message_has("VM1") != NULL);
  CHECK(asr_object_put(engine, "vm", "{\"id\":\"vm1\",\"name\":\"VM1\"}", 0) == ASR_OK);
  CHECK(asr_object_put(engine, "protected-item",
                       "{\"id\":\"pi-vm1\",\"vmId\":\"vm1\",\"vmName\":\"VM1\","
                       "\"protectionState\":\"FailedOver\",\"activeLocation\":\"Recovery\"}",
                       0) == ASR_OK);
  CHECK(asr_failover_start(&buf, engine, "Teleport", "{\"itemId\":\"VM1\"}", 0) ==
        ASR_INVALID_ARGUMENT);
  CHECK(message_has("unknown failover operation") != NULL);
  CHECK(asr_failover_start(&buf, engine, "UnplannedFailover",
                           "{\"itemId\":\"VM1\",\"recoveryTag\":\"Newest\"}",
                           0) == ASR_FAILED_PRECONDITION);
  CHECK(message_has("allowed now: Commit, ChangePit, CancelFailover") != NULL);
  CHECK(asr_failover_start(&buf, engine, "ChangePit",
                           "{\"itemId\":\"VM1\",\"recoveryTag\":\"Newest\"}",
                           0) == ASR_INVALID_ARGUMENT);
  CHECK(message_has("recovery tag 'Newest'") != NULL);

  /* Commit: a job; then reverse replication is what the item allows. */
  CHECK(asr_failover_start(&buf, engine, "Commit", "{\"itemId\":\"VM1\"}", 0) == ASR_OK);
  CHECK(buffer_has(buf, "\"scenarioName\":\"CommitFailover\""));
  CHECK(buffer_has(buf, "\"state\":\"Succeeded\""));
  asr_buffer_dispose(buf);
  buf = NULL;
  CHECK(asr_item_get(&buf, engine, "VM1", 0) == ASR_OK);
  CHECK(buffer_has(buf, "\"protectionState\":\"Committed\""));
  CHECK(buffer_has(buf, "\"ReverseReplicate\""));
  asr_buffer_dispose(buf);
  buf = NULL;
  CHECK(asr_failover_start(&buf, engine, "CancelFailover", "{\"itemId\":\"pi-vm1\"}", 0) ==
        ASR_FAILED_PRECONDITION);
  CHECK(message_has("CancelFailover is not allowed") != NULL);

  asr_engine_close(engine);
  printf("c_api_failover_test: OK\n");
  return 0;
}
