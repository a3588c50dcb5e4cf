/* Bandwidth throttles from plain C99: a site-wide and a per-VM weekly
 * schedule set in the human form and as structured JSON, read back, listed,
 * kept across closing and reopening the engine, cleared; bad input refused
 * with a message that says what was wrong; and a protected item that shows
 * the throttle in force, its expected RPO and the ThrottleLimitsRpo
 * warning. */
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

static void release(asr_buffer_t** b) {
  asr_buffer_dispose(*b);
  *b = NULL;
}

int main(void) {
  char dir[512];
  const char* tmp = getenv("TEST_TMPDIR");
  asr_engine_t* engine = NULL;
  asr_buffer_t* buf = NULL;
  char policy_id[64];
  char item_json[512];

  snprintf(dir, sizeof dir, "%s/throttle-%ld", tmp ? tmp : "/tmp", (long)getpid());
  CHECK(asr_engine_open(&engine, dir, NULL, 0) == ASR_OK);
  CHECK(asr_engine_initialize(engine, 0) == ASR_OK);
  CHECK(asr_object_put(engine, "vm", "{\"id\":\"vm1\",\"name\":\"VM1\"}", 0) == ASR_OK);

  /* Nothing set: unlimited. */
  CHECK(asr_throttle_list(&buf, engine, 0) == ASR_OK);
  CHECK(buf != NULL && strcmp(asr_buffer_data(buf), "[]") == 0);
  release(&buf);
  CHECK(asr_throttle_get(&buf, engine, NULL, 0) == ASR_NOT_FOUND);
  CHECK(message_has("unlimited") != NULL);
  CHECK(buf == NULL);

  /* Arguments and bad input. */
  CHECK(asr_throttle_set(NULL, engine, "{}", 0) == ASR_INVALID_ARGUMENT);
  CHECK(message_has("out must not be NULL") != NULL);
  CHECK(asr_throttle_set(&buf, NULL, "{}", 0) == ASR_INVALID_ARGUMENT);
  CHECK(asr_throttle_set(&buf, engine, NULL, 0) == ASR_INVALID_ARGUMENT);
  CHECK(message_has("request_json must not be NULL") != NULL);
  CHECK(asr_throttle_set(&buf, engine, "{\"limits\": ", 0) == ASR_INVALID_ARGUMENT);
  CHECK(message_has("request_json") != NULL);
  CHECK(asr_throttle_set(&buf, engine, "{\"defaultLimit\":\"5Mbit/s\"}", 0x1) ==
        ASR_INVALID_ARGUMENT);
  CHECK(message_has("unknown flags") != NULL);
  CHECK(asr_throttle_set(&buf, engine, "{\"limits\":[\"Mon-Fri 08:00-18:00 50 parsecs\"]}", 0) ==
        ASR_INVALID_ARGUMENT);
  CHECK(message_has("not 3") != NULL);
  CHECK(asr_throttle_set(&buf, engine, "{\"limits\":[\"Mon-Fri 08:00-18:00 50parsecs\"]}", 0) ==
        ASR_INVALID_ARGUMENT);
  CHECK(message_has("unknown unit 'parsecs'") != NULL);
  CHECK(asr_throttle_set(&buf, engine, "{\"limits\":[\"Mon 12:00-09:00 5Mbit/s\"]}", 0) ==
        ASR_INVALID_ARGUMENT);
  CHECK(message_has("not after the start") != NULL);
  CHECK(asr_throttle_set(&buf, engine,
                         "{\"limits\":[\"Mon-Fri 08:00-18:00 50Mbit/s\",\"Fri 17:00-19:00 "
                         "10Mbit/s\"]}",
                         0) == ASR_INVALID_ARGUMENT);
  CHECK(message_has("overlap on Fri") != NULL);
  CHECK(asr_throttle_set(&buf, engine,
                         "{\"schedule\":{\"windows\":[{\"days\":[\"Mon\"],\"start\":\"08:00\","
                         "\"end\":\"07:00\",\"bitsPerSecond\":\"1000000\"}]}}",
                         0) == ASR_INVALID_ARGUMENT);
  CHECK(message_has("not after the start") != NULL);
  CHECK(asr_throttle_set(&buf, engine, "{\"vm\":\"VM7\",\"defaultLimit\":\"5Mbit/s\"}", 0) ==
        ASR_NOT_FOUND);
  CHECK(message_has("VM7") != NULL);
  CHECK(asr_throttle_set(&buf, engine, "{\"defaultLimit\":\"5Mbit/s\",\"utcOffset\":\"+25:00\"}",
                         0) == ASR_INVALID_ARGUMENT);
  CHECK(message_has("UTC offset") != NULL);
  CHECK(buf == NULL);

  /* The site in the human form, VM1 as structured JSON. */
  CHECK(asr_throttle_set(&buf, engine,
                         "{\"limits\":[\"Mon-Fri 08:00-18:00 50Mbit/s\"],\"defaultLimit\":"
                         "\"unlimited\",\"utcOffset\":\"-05:00\"}",
                         0) == ASR_OK);
  CHECK(buffer_has(buf, "\"id\":\"site\""));
  CHECK(buffer_has(buf, "\"bitsPerSecond\":\"50000000\""));
  CHECK(buffer_has(buf, "\"utcOffsetMinutes\":-300"));
  release(&buf);
  CHECK(asr_throttle_set(&buf, engine,
                         "{\"vm\":\"VM1\",\"schedule\":{\"windows\":[{\"days\":[\"Mon\",\"Tue\","
                         "\"Wed\",\"Thu\",\"Fri\",\"Sat\",\"Sun\"],\"start\":\"00:00\",\"end\":"
                         "\"24:00\",\"bitsPerSecond\":\"8000000\"}]}}",
                         0) == ASR_OK);
  CHECK(buffer_has(buf, "\"id\":\"vm-vm1\""));
  CHECK(buffer_has(buf, "\"vmName\":\"VM1\""));
  release(&buf);

  /* A protected VM1 whose last cycle sent 100 MB: at 8 Mbit/s that is
   * 100 s, beyond 2x its policy's 30 s copy frequency. */
  CHECK(asr_policy_create(&buf, engine,
                          "{\"name\":\"gold\",\"replicationProvider\":\"HyperVReplica2012R2\","
                          "\"replicationFrequencyInSeconds\":30}",
                          0) == ASR_OK);
  release(&buf);
  /* The policy's id, from the stored policies. */
  CHECK(asr_object_list(&buf, engine, "policy", 0) == ASR_OK);
  policy_id[0] = '\0';
  if (buf != NULL) {
    const char* id = strstr(asr_buffer_data(buf), "\"id\":\"");
    if (id != NULL) sscanf(id + 6, "%63[^\"]", policy_id);
  }
  CHECK(policy_id[0] != '\0');
  release(&buf);
  snprintf(item_json, sizeof item_json,
           "{\"id\":\"pi-vm1\",\"vmId\":\"vm1\",\"vmName\":\"VM1\",\"policyId\":\"%s\","
           "\"protectionState\":\"Protected\",\"recentCycles\":[{\"ok\":true,"
           "\"bytesSent\":\"100000000\",\"seconds\":3}]}",
           policy_id);
  CHECK(asr_object_put(engine, "protected-item", item_json, 0) == ASR_OK);
  /* Throttles are written through their own calls only (validated). */
  CHECK(asr_object_put(engine, "throttle", "{\"id\":\"site\"}", 0) == ASR_FAILED_PRECONDITION);
  CHECK(message_has("asr_throttle_set") != NULL);

  /* Closed and reopened: the throttles are kept with the site. */
  asr_engine_close(engine);
  engine = NULL;
  CHECK(asr_engine_open(&engine, dir, NULL, 0) == ASR_OK);
  CHECK(asr_throttle_list(&buf, engine, 0) == ASR_OK);
  CHECK(buffer_has(buf, "\"id\":\"site\""));
  CHECK(buffer_has(buf, "\"id\":\"vm-vm1\""));
  CHECK(buf != NULL &&
        strstr(asr_buffer_data(buf), "site") < strstr(asr_buffer_data(buf), "vm-vm1"));
  release(&buf);
  CHECK(asr_throttle_get(&buf, engine, "vm1", 0) == ASR_OK);
  CHECK(buffer_has(buf, "\"bitsPerSecond\":\"8000000\""));
  release(&buf);

  CHECK(asr_item_get(&buf, engine, "VM1", 0) == ASR_OK);
  CHECK(buffer_has(buf, "\"throttleInForce\":{\"bitsPerSecond\":\"8000000\",\"source\":\"vm\""));
  CHECK(buffer_has(buf, "\"rule\":\"daily 00:00-24:00 8Mbit/s\""));
  CHECK(buffer_has(buf, "\"expectedRpoSeconds\":\"130\""));
  CHECK(buffer_has(buf, "\"code\":\"ThrottleLimitsRpo\""));
  CHECK(buffer_has(buf, "\"replicationHealth\":\"Warning\""));
  release(&buf);

  /* Cleared: VM1 falls back to the site's schedule. */
  CHECK(asr_throttle_clear(engine, "VM1", 0) == ASR_OK);
  CHECK(asr_throttle_clear(engine, "VM1", 0) == ASR_NOT_FOUND);
  CHECK(asr_throttle_clear(NULL, "VM1", 0) == ASR_INVALID_ARGUMENT);
  CHECK(asr_throttle_clear(engine, "bad\nname", 0) == ASR_INVALID_ARGUMENT);
  CHECK(asr_item_get(&buf, engine, "VM1", 0) == ASR_OK);
  CHECK(!buffer_has(buf, "ThrottleLimitsRpo"));
  CHECK(!buffer_has(buf, "\"source\":\"vm\""));
  release(&buf);
  CHECK(asr_throttle_clear(engine, "site", 0) == ASR_OK);
  CHECK(asr_throttle_list(&buf, engine, 0) == ASR_OK);
  CHECK(buf != NULL && strcmp(asr_buffer_data(buf), "[]") == 0);
  release(&buf);

  asr_engine_close(engine);
  return check_summary();
}
