/* c_json.h: the little JSON a plain-C host table needs: a parser into a
 * tree (to read what asr hands the host: a ReplicaVmSpec, a NIC, a job)
 * and a growable string to write JSON back (a VirtualMachine, an
 * Inventory). For the C99 tests; not a general library (numbers are kept
 * as their text, \u escapes outside the BMP become U+FFFD).
 *
 *   cj_value* v = cj_parse(json);             NULL: not JSON
 *   const char* id = cj_str(cj_get(v, "replicaVmId"), "");
 *   cj_free(v);
 *
 *   cj_buf b = {0};
 *   cj_printf(&b, "{\"id\":");
 *   cj_quote(&b, id);
 *   cj_printf(&b, "}");
 *   ... b.data ...
 *   free(b.data);
 */
#ifndef ASR_CAPI_TESTS_C_JSON_H_
#define ASR_CAPI_TESTS_C_JSON_H_

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CJ_NULL, CJ_BOOL, CJ_NUMBER, CJ_STRING, CJ_ARRAY, CJ_OBJECT };

typedef struct cj_value {
  int type;
  char* text;              /* string (unescaped), number or literal text */
  size_t count;            /* array items / object members */
  char** keys;             /* object member names */
  struct cj_value** items; /* array items / object member values */
} cj_value;

static inline void cj_free(cj_value* v) {
  size_t i;
  if (v == NULL) return;
  for (i = 0; i < v->count; ++i) {
    if (v->keys != NULL) free(v->keys[i]);
    cj_free(v->items[i]);
  }
  free(v->keys);
  free(v->items);
  free(v->text);
  free(v);
}

static inline void cj_ws(const char** p) {
  while (**p == ' ' || **p == '\n' || **p == '\r' || **p == '\t') ++*p;
}

/* Appends code point `c` to out as UTF-8; returns the bytes written. */
static inline size_t cj_utf8(unsigned long c, char* out) {
  if (c < 0x80) {
    out[0] = (char)c;
    return 1;
  }
  if (c < 0x800) {
    out[0] = (char)(0xC0 | (c >> 6));
    out[1] = (char)(0x80 | (c & 0x3F));
    return 2;
  }
  out[0] = (char)(0xE0 | (c >> 12));
  out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
  out[2] = (char)(0x80 | (c & 0x3F));
  return 3;
}

static inline char* cj_parse_string(const char** p) {
  const char* s = *p + 1;
  char* out = (char*)malloc(strlen(s) + 1);
  size_t n = 0;
  if (out == NULL) return NULL;
  while (*s != '"') {
    if (*s == '\0') {
      free(out);
      return NULL;
    }
    if (*s != '\\') {
      out[n++] = *s++;
      continue;
    }
    ++s;
    switch (*s) {
      case 'b':
        out[n++] = '\b';
        break;
      case 'f':
        out[n++] = '\f';
        break;
      case 'n':
        out[n++] = '\n';
        break;
      case 'r':
        out[n++] = '\r';
        break;
      case 't':
        out[n++] = '\t';
        break;
      case 'u': {
        char hex[5];
        unsigned long c;
        memcpy(hex, s + 1, 4);
        hex[4] = '\0';
        if (strlen(hex) != 4) {
          free(out);
          return NULL;
        }
        c = strtoul(hex, NULL, 16);
        if (c >= 0xD800 && c <= 0xDFFF) c = 0xFFFD;
        n += cj_utf8(c, out + n);
        s += 4;
        break;
      }
      case '\0':
        free(out);
        return NULL;
      default:
        out[n++] = *s;
        break;
    }
    ++s;
  }
  out[n] = '\0';
  *p = s + 1;
  return out;
}

static inline cj_value* cj_parse_value(const char** p, int depth);

static inline int cj_push(cj_value* v, char* key, cj_value* item) {
  char** keys = v->keys;
  cj_value** items = (cj_value**)realloc(v->items, (v->count + 1) * sizeof(cj_value*));
  if (items == NULL) return 0;
  v->items = items;
  if (v->type == CJ_OBJECT) {
    keys = (char**)realloc(v->keys, (v->count + 1) * sizeof(char*));
    if (keys == NULL) return 0;
    v->keys = keys;
    v->keys[v->count] = key;
  }
  v->items[v->count++] = item;
  return 1;
}

static inline cj_value* cj_parse_value(const char** p, int depth) {
  cj_value* v;
  if (depth > 64) return NULL;
  cj_ws(p);
  v = (cj_value*)calloc(1, sizeof(cj_value));
  if (v == NULL) return NULL;
  if (**p == '{' || **p == '[') {
    char close = **p == '{' ? '}' : ']';
    v->type = **p == '{' ? CJ_OBJECT : CJ_ARRAY;
    ++*p;
    cj_ws(p);
    if (**p == close) {
      ++*p;
      return v;
    }
    for (;;) {
      char* key = NULL;
      cj_value* item;
      cj_ws(p);
      if (v->type == CJ_OBJECT) {
        if (**p != '"' || (key = cj_parse_string(p)) == NULL) break;
        cj_ws(p);
        if (**p != ':') {
          free(key);
          break;
        }
        ++*p;
      }
      item = cj_parse_value(p, depth + 1);
      if (item == NULL || !cj_push(v, key, item)) {
        free(key);
        cj_free(item);
        break;
      }
      cj_ws(p);
      if (**p == ',') {
        ++*p;
        continue;
      }
      if (**p == close) {
        ++*p;
        return v;
      }
      break;
    }
    cj_free(v);
    return NULL;
  }
  if (**p == '"') {
    v->type = CJ_STRING;
    v->text = cj_parse_string(p);
  } else {
    const char* start = *p;
    size_t n;
    while (**p != '\0' && strchr(",]} \n\r\t", **p) == NULL) ++*p;
    n = (size_t)(*p - start);
    if (n == 0) {
      free(v);
      return NULL;
    }
    v->type = (*start == 't' || *start == 'f') ? CJ_BOOL : *start == 'n' ? CJ_NULL : CJ_NUMBER;
    v->text = (char*)malloc(n + 1);
    if (v->text != NULL) {
      memcpy(v->text, start, n);
      v->text[n] = '\0';
    }
  }
  if (v->text == NULL) {
    free(v);
    return NULL;
  }
  return v;
}

/* The tree of `json`, or NULL when it is not one JSON value. */
static inline cj_value* cj_parse(const char* json) {
  const char* p = json;
  cj_value* v;
  if (json == NULL) return NULL;
  v = cj_parse_value(&p, 0);
  if (v == NULL) return NULL;
  cj_ws(&p);
  if (*p != '\0') {
    cj_free(v);
    return NULL;
  }
  return v;
}

/* Member `key` of object `v`; NULL when absent or `v` is not an object. */
static inline cj_value* cj_get(const cj_value* v, const char* key) {
  size_t i;
  if (v == NULL || v->type != CJ_OBJECT) return NULL;
  for (i = 0; i < v->count; ++i) {
    if (strcmp(v->keys[i], key) == 0) return v->items[i];
  }
  return NULL;
}

/* Item `i` of array `v`; NULL past the end. */
static inline cj_value* cj_at(const cj_value* v, size_t i) {
  if (v == NULL || v->type != CJ_ARRAY || i >= v->count) return NULL;
  return v->items[i];
}

static inline size_t cj_len(const cj_value* v) {
  return v != NULL && v->type == CJ_ARRAY ? v->count : 0;
}

/* The text of a string, number or literal; `fallback` for anything else. */
static inline const char* cj_str(const cj_value* v, const char* fallback) {
  return v != NULL && v->text != NULL ? v->text : fallback;
}

/* A growable string. */
typedef struct cj_buf {
  char* data;
  size_t size, cap;
} cj_buf;

static inline void cj_printf(cj_buf* b, const char* format, ...) {
  va_list args;
  int n;
  va_start(args, format);
  n = vsnprintf(NULL, 0, format, args);
  va_end(args);
  if (n < 0) return;
  if (b->size + (size_t)n + 1 > b->cap) {
    size_t cap = (b->size + (size_t)n + 1) * 2;
    char* data = (char*)realloc(b->data, cap);
    if (data == NULL) return;
    b->data = data;
    b->cap = cap;
  }
  va_start(args, format);
  vsnprintf(b->data + b->size, (size_t)n + 1, format, args);
  va_end(args);
  b->size += (size_t)n;
}

/* Appends `s` as a JSON string. */
static inline void cj_quote(cj_buf* b, const char* s) {
  cj_printf(b, "\"");
  for (; *s != '\0'; ++s) {
    if (*s == '"' || *s == '\\') {
      cj_printf(b, "\\%c", *s);
    } else if ((unsigned char)*s < 0x20) {
      cj_printf(b, "\\u%04x", (unsigned)(unsigned char)*s);
    } else {
      cj_printf(b, "%c", *s);
    }
  }
  cj_printf(b, "\"");
}

#endif /* ASR_CAPI_TESTS_C_JSON_H_ */
