/* The C API exercised from plain C99 against the public header only. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asr.h"
#include "c_check.h"

static void make_dir(char* out, size_t size, const char* name) {
  const char* tmp = getenv("TEST_TMPDIR");
  snprintf(out, size, "%s/%s-%ld", tmp ? tmp : "/tmp", name, (long)getpid());
}

static void test_version(void) {
  CHECK(asr_version() == ASR_VERSION_NUMBER);
  CHECK(strcmp(asr_version_string(), "0.1.0") == 0);
  CHECK(strcmp(asr_status_name(ASR_NOT_FOUND), "NOT_FOUND") == 0);
  CHECK(strcmp(asr_status_name(99), "UNKNOWN_CODE") == 0);
}

static void test_round_trip(void) {
  char dir[512];
  asr_engine_t* engine = NULL;
  asr_engine_options_t options = ASR_ENGINE_OPTIONS_INIT;
  asr_buffer_t* buf = NULL;
  make_dir(dir, sizeof dir, "roundtrip");

  CHECK(asr_engine_open(&engine, dir, &options, 0) == ASR_OK);
  CHECK(engine != NULL);
  CHECK(asr_engine_initialize(engine, 0) == ASR_OK);
  CHECK(asr_object_put(engine, "cloud",
                       "{\"id\":\"gold1\",\"name\":\"GoldCloud1\",\"serverId\":\"vmm-ny\"}",
                       0) == ASR_OK);
  CHECK(asr_object_get(&buf, engine, "cloud", "gold1", 0) == ASR_OK);
  CHECK(buf != NULL && strstr(asr_buffer_data(buf), "\"name\":\"GoldCloud1\"") != NULL);
  CHECK(asr_buffer_size(buf) == strlen(asr_buffer_data(buf)));
  asr_buffer_dispose(buf);
  buf = NULL;

  CHECK(asr_object_list(&buf, engine, "site", 0) == ASR_OK);
  CHECK(buf != NULL && strstr(asr_buffer_data(buf), "\"id\":\"primary\"") != NULL);
  CHECK(buf != NULL && strstr(asr_buffer_data(buf), "\"id\":\"recovery\"") != NULL);
  asr_buffer_dispose(buf);
  buf = NULL;
  asr_engine_close(engine);

  /* Reopen: the object was stored durably. */
  engine = NULL;
  CHECK(asr_engine_open(&engine, dir, NULL, 0) == ASR_OK);
  CHECK(asr_object_get(&buf, engine, "cloud", "gold1", 0) == ASR_OK);
  asr_buffer_dispose(buf);
  buf = NULL;
  CHECK(asr_object_delete(engine, "cloud", "gold1", 0) == ASR_OK);
  CHECK(asr_object_get(&buf, engine, "cloud", "gold1", 0) == ASR_NOT_FOUND);
  CHECK(buf == NULL);
  CHECK(strstr(asr_last_error_message(), "no cloud with id 'gold1'") != NULL);
  /* A plain error: no rule, no action, no job. */
  CHECK(strstr(asr_last_error_detail(),
               "{\"code\":5,\"codeName\":\"NOT_FOUND\",\"message\":\"no cloud") != NULL);
  CHECK(strstr(asr_last_error_detail(),
               "\"rule\":\"\",\"recommendedAction\":\"\",\"jobId\":\"\"}") != NULL);
  asr_engine_close(engine);
}

static void test_errors(void) {
  char dir[512];
  asr_engine_t* engine = NULL;
  asr_engine_t* second = NULL;
  asr_buffer_t* buf = NULL;
  asr_engine_options_t bad = ASR_ENGINE_OPTIONS_INIT;
  char pid_text[64];
  make_dir(dir, sizeof dir, "errors");

  CHECK(asr_engine_open(NULL, dir, NULL, 0) == ASR_INVALID_ARGUMENT);
  CHECK(strstr(asr_last_error_message(), "out must not be NULL") != NULL);
  CHECK(asr_engine_open(&engine, NULL, NULL, 0) == ASR_INVALID_ARGUMENT);
  CHECK(asr_engine_open(&engine, dir, NULL, 0x80) == ASR_INVALID_ARGUMENT);
  CHECK(strstr(asr_last_error_message(), "unknown flags") != NULL);
  bad.struct_size = 2;
  CHECK(asr_engine_open(&engine, dir, &bad, 0) == ASR_INVALID_ARGUMENT);
  CHECK(strstr(asr_last_error_message(), "ASR_ENGINE_OPTIONS_INIT") != NULL);

  CHECK(asr_engine_open(&engine, dir, NULL, 0) == ASR_OK);
  CHECK(strcmp(asr_last_error_message(), "") == 0);
  CHECK(asr_engine_open(&second, dir, NULL, 0) == ASR_FAILED_PRECONDITION);
  CHECK(second == NULL);
  snprintf(pid_text, sizeof pid_text, "in use by PID %ld", (long)getpid());
  CHECK(strstr(asr_last_error_message(), pid_text) != NULL);

  CHECK(asr_object_put(engine, "spaceship", "{\"id\":\"x\"}", 0) == ASR_INVALID_ARGUMENT);
  CHECK(strstr(asr_last_error_message(), "unknown object kind 'spaceship'") != NULL);
  CHECK(asr_object_put(engine, "cloud", "{\"id\":", 0) == ASR_INVALID_ARGUMENT);
  CHECK(asr_object_put(engine, "cloud", "{\"name\":\"x\"}", 0) == ASR_INVALID_ARGUMENT);
  CHECK(asr_object_put(NULL, "cloud", "{}", 0) == ASR_INVALID_ARGUMENT);
  CHECK(asr_object_get(NULL, engine, "cloud", "x", 0) == ASR_INVALID_ARGUMENT);
  CHECK(asr_object_get(&buf, engine, NULL, "x", 0) == ASR_INVALID_ARGUMENT);
  CHECK(asr_object_list(&buf, engine, "vm", 1) == ASR_INVALID_ARGUMENT);

  asr_engine_close(engine);
  asr_engine_close(NULL);
  asr_buffer_dispose(NULL);
  CHECK(asr_buffer_data(NULL) == NULL);
  CHECK(asr_buffer_size(NULL) == 0);
}

int main(void) {
  test_version();
  test_round_trip();
  test_errors();
  return check_summary();
}
