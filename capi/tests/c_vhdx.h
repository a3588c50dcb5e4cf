/* c_vhdx.h: the guest's view of a VM's disk for the plain-C host table of
 * the C99 tests: creates a fixed VHDX (MS-VHDX: file identifier, two
 * headers, two region tables, metadata, every block allocated) and reads
 * and writes a VHDX's virtual bytes through its BAT, allocating a block at
 * the end of the file for a write to a dynamic disk's absent block, as a
 * host's storage stack does for the VM; a differencing disk (what a
 * failover leaves a VM on) reads through to its parent, found by its
 * parent locator. A file with a dirty log (open in a writer) is refused.
 *
 *   if (vhdx_create_fixed("vm1.vhdx", 8 << 20, msg, sizeof msg) != 0) ...   (disk id: from the
 * path) vhdx_io("vm1.vhdx", 1 << 20, data, 65536, 1, msg, sizeof msg);   write vhdx_io("vm1.vhdx",
 * 1 << 20, back, 65536, 0, msg, sizeof msg);   read
 *
 * Needs POSIX (open, pread, pwrite, ftruncate). */
#ifndef ASR_CAPI_TESTS_C_VHDX_H_
#define ASR_CAPI_TESTS_C_VHDX_H_

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VHDX_MIB (1024u * 1024u)
#define VHDX_BLOCK_SIZE VHDX_MIB
#define VHDX_HEADER_SIZE 4096u
#define VHDX_REGION_TABLE_SIZE 65536u

static inline uint32_t vhdx_crc32c(const uint8_t* p, size_t n) {
  uint32_t crc = 0xFFFFFFFFu;
  size_t i;
  int k;
  for (i = 0; i < n; ++i) {
    crc ^= p[i];
    for (k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

static inline void vhdx_le16(uint8_t* p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static inline void vhdx_le32(uint8_t* p, uint32_t v) {
  int i;
  for (i = 0; i < 4; ++i) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void vhdx_le64(uint8_t* p, uint64_t v) {
  int i;
  for (i = 0; i < 8; ++i) p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint32_t vhdx_get32(const uint8_t* p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t vhdx_get64(const uint8_t* p) {
  return (uint64_t)vhdx_get32(p) | (uint64_t)vhdx_get32(p + 4) << 32;
}

/* Writes GUID `text` ("8B7CA206-4790-4B9A-B8FE-575F050F886E") in its
 * on-disk byte order (Data1..3 little-endian). */
static inline void vhdx_guid(uint8_t* out, const char* text) {
  static const int order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
  uint8_t v[16];
  int k = 0;
  for (; *text != '\0' && k < 16; ++text) {
    char hex[3];
    if (*text == '-') continue;
    hex[0] = text[0];
    hex[1] = text[1];
    hex[2] = '\0';
    v[k++] = (uint8_t)strtoul(hex, NULL, 16);
    ++text;
  }
  for (k = 0; k < 16; ++k) out[k] = v[order[k]];
}

#define VHDX_BAT_GUID "2DC27766-F623-4200-9D64-115E9BFD4A08"
#define VHDX_METADATA_GUID "8B7CA206-4790-4B9A-B8FE-575F050F886E"
#define VHDX_FILE_PARAMETERS_GUID "CAA16737-FA36-4D43-B3B6-33F0AA44E76B"
#define VHDX_DISK_SIZE_GUID "2FA54224-CD1B-4876-B211-5DBED83BF4B8"
#define VHDX_DISK_ID_GUID "BECA12AB-B2E6-4523-93EF-C309E000C746"
#define VHDX_LOGICAL_SECTOR_GUID "8141BF1D-A96F-4709-BA47-F233A8FAAB5F"
#define VHDX_PHYSICAL_SECTOR_GUID "CDA348C7-445D-4471-9CC9-E9885251C556"
#define VHDX_PARENT_LOCATOR_GUID "A8D35F2D-B30B-454D-ABF7-D3D84834AB0C"

static inline int vhdx_fail(char* msg, size_t cap, const char* path, const char* what) {
  snprintf(msg, cap, "%s: %s", path, what);
  return -1;
}

static inline int vhdx_pwrite_all(int fd, const void* data, size_t n, uint64_t at) {
  const char* p = (const char*)data;
  while (n > 0) {
    ssize_t w = pwrite(fd, p, n, (off_t)at);
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
    at += (uint64_t)w;
  }
  return 0;
}

static inline int vhdx_pread_all(int fd, void* data, size_t n, uint64_t at) {
  char* p = (char*)data;
  while (n > 0) {
    ssize_t r = pread(fd, p, n, (off_t)at);
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
    at += (uint64_t)r;
  }
  return 0;
}

/* Creates a fixed VHDX of `size` bytes (a multiple of 1 MiB) at `path`
 * (replacing a file there): 1 MiB blocks, all allocated and zero, 512-byte
 * logical sectors. Returns 0, or -1 with a message in `msg`. */
static inline int vhdx_create_fixed(const char* path, uint64_t size, char* msg, size_t cap) {
  const uint64_t log_at = 1 * VHDX_MIB, meta_at = 2 * VHDX_MIB, bat_at = 3 * VHDX_MIB;
  const uint64_t data_at = 4 * VHDX_MIB, blocks = size / VHDX_BLOCK_SIZE;
  uint8_t* buf;
  uint64_t i;
  int fd, k, rc = 0;
  if (size == 0 || size % VHDX_MIB != 0) return vhdx_fail(msg, cap, path, "size not 1 MiB aligned");
  buf = (uint8_t*)calloc(1, VHDX_MIB);
  if (buf == NULL) return vhdx_fail(msg, cap, path, "out of memory");
  fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    free(buf);
    return vhdx_fail(msg, cap, path, "cannot create");
  }
  /* File identifier. */
  memcpy(buf, "vhdxfile", 8);
  rc |= vhdx_pwrite_all(fd, buf, 65536, 0);
  /* Two headers (sequence 1 and 2), no log entries. */
  for (k = 0; k < 2; ++k) {
    memset(buf, 0, VHDX_HEADER_SIZE);
    memcpy(buf, "head", 4);
    vhdx_le64(buf + 8, (uint64_t)k + 1);
    vhdx_guid(buf + 16, "5E1F0A4C-0D2B-4C61-9A57-2C3E4F506172"); /* FileWriteGuid */
    vhdx_guid(buf + 32, "6A2B1C3D-4E5F-4061-8273-94A5B6C7D8E9"); /* DataWriteGuid */
    vhdx_le16(buf + 64, 0);
    vhdx_le16(buf + 66, 1);
    vhdx_le32(buf + 68, VHDX_MIB);
    vhdx_le64(buf + 72, log_at);
    vhdx_le32(buf + 4, vhdx_crc32c(buf, VHDX_HEADER_SIZE));
    rc |= vhdx_pwrite_all(fd, buf, VHDX_HEADER_SIZE, 65536u * (uint64_t)(k + 1));
  }
  /* Two identical region tables: BAT and metadata, both required. */
  memset(buf, 0, VHDX_REGION_TABLE_SIZE);
  memcpy(buf, "regi", 4);
  vhdx_le32(buf + 8, 2);
  vhdx_guid(buf + 16, VHDX_BAT_GUID);
  vhdx_le64(buf + 32, bat_at);
  vhdx_le32(buf + 40, VHDX_MIB);
  vhdx_le32(buf + 44, 1);
  vhdx_guid(buf + 48, VHDX_METADATA_GUID);
  vhdx_le64(buf + 64, meta_at);
  vhdx_le32(buf + 72, VHDX_MIB);
  vhdx_le32(buf + 76, 1);
  vhdx_le32(buf + 4, vhdx_crc32c(buf, VHDX_REGION_TABLE_SIZE));
  rc |= vhdx_pwrite_all(fd, buf, VHDX_REGION_TABLE_SIZE, 192 * 1024);
  rc |= vhdx_pwrite_all(fd, buf, VHDX_REGION_TABLE_SIZE, 256 * 1024);
  /* Metadata: the table, then the items from 64 KiB on. */
  memset(buf, 0, VHDX_MIB);
  memcpy(buf, "metadata", 8);
  vhdx_le16(buf + 10, 5);
  {
    static const char* const ids[5] = {VHDX_FILE_PARAMETERS_GUID, VHDX_DISK_SIZE_GUID,
                                       VHDX_DISK_ID_GUID, VHDX_LOGICAL_SECTOR_GUID,
                                       VHDX_PHYSICAL_SECTOR_GUID};
    static const uint32_t lengths[5] = {8, 8, 16, 4, 4};
    static const uint32_t flags[5] = {4, 6, 6, 6, 6}; /* IsRequired (| IsVirtualDisk) */
    uint32_t at = 65536;
    for (k = 0; k < 5; ++k) {
      uint8_t* e = buf + 32 + 32 * k;
      vhdx_guid(e, ids[k]);
      vhdx_le32(e + 16, at);
      vhdx_le32(e + 20, lengths[k]);
      vhdx_le32(e + 24, flags[k]);
      at += 64;
    }
    vhdx_le32(buf + 65536, VHDX_BLOCK_SIZE);
    vhdx_le32(buf + 65536 + 4, 1); /* LeaveBlocksAllocated */
    vhdx_le64(buf + 65536 + 64, size);
    /* The virtual disk id: unique per path (FNV-1a of it). */
    {
      uint64_t fnv = 14695981039346656037ull;
      const char* c;
      for (c = path; *c != '\0'; ++c) fnv = (fnv ^ (uint8_t)*c) * 1099511628211ull;
      vhdx_guid(buf + 65536 + 128, "0C9D8E7F-6A5B-4C3D-8E1F-203142536475");
      vhdx_le64(buf + 65536 + 128, fnv);
    }
    vhdx_le32(buf + 65536 + 192, 512);
    vhdx_le32(buf + 65536 + 256, 4096);
  }
  rc |= vhdx_pwrite_all(fd, buf, VHDX_MIB, meta_at);
  /* BAT: block i at data_at + i MiB, fully present (fewer blocks than one
   * chunk, so no sector bitmap entries). */
  memset(buf, 0, VHDX_MIB);
  for (i = 0; i < blocks && i < VHDX_MIB / 8; ++i) {
    vhdx_le64(buf + 8 * i, (data_at + i * VHDX_BLOCK_SIZE) | 6u);
  }
  rc |= vhdx_pwrite_all(fd, buf, VHDX_MIB, bat_at);
  if (rc == 0 && ftruncate(fd, (off_t)(data_at + blocks * VHDX_BLOCK_SIZE)) != 0) rc = -1;
  if (close(fd) != 0) rc = -1;
  free(buf);
  if (blocks > 4096) return vhdx_fail(msg, cap, path, "more than one chunk of blocks");
  return rc == 0 ? 0 : vhdx_fail(msg, cap, path, "write failed");
}

/* An open VHDX: where its BAT lies and how blocks map, and its parent's
 * path when it is a differencing disk. */
typedef struct vhdx_file {
  int fd;
  uint64_t bat_at, disk_size, chunk_ratio;
  uint32_t block_size, sector;
  int has_parent;
  char path[1024], parent[1024];
} vhdx_file;

/* The parent's path from the parent locator at file offset `at` (`length`
 * bytes): relative_path (to the child's directory), else
 * absolute_win32_path, whichever exists. Returns 0, or -1. */
static inline int vhdx_parent_path(vhdx_file* f, uint64_t at, uint32_t length) {
  uint8_t* loc;
  uint32_t n, i, j;
  if (length < 20 || length > VHDX_MIB || (loc = (uint8_t*)malloc(length)) == NULL) return -1;
  if (vhdx_pread_all(f->fd, loc, length, at) != 0) {
    free(loc);
    return -1;
  }
  n = (uint32_t)loc[18] | (uint32_t)loc[19] << 8;
  for (i = 0; i < n && 20 + 12 * (i + 1) <= length; ++i) {
    const uint8_t* e = loc + 20 + 12 * i;
    uint32_t ko = vhdx_get32(e), vo = vhdx_get32(e + 4);
    uint32_t kl = (uint32_t)e[8] | (uint32_t)e[9] << 8, vl = (uint32_t)e[10] | (uint32_t)e[11] << 8;
    char key[64], value[1024], candidate[2100];
    struct stat st;
    if ((uint64_t)ko + kl > length || (uint64_t)vo + vl > length || kl / 2 >= sizeof key ||
        vl / 2 >= sizeof value) {
      continue;
    }
    for (j = 0; j < kl / 2; ++j) key[j] = loc[ko + 2 * j + 1] ? '?' : (char)loc[ko + 2 * j];
    key[kl / 2] = '\0';
    for (j = 0; j < vl / 2; ++j) {
      char c = loc[vo + 2 * j + 1] ? '?' : (char)loc[vo + 2 * j];
      value[j] = c == '\\' ? '/' : c;
    }
    value[vl / 2] = '\0';
    if (strcmp(key, "relative_path") == 0) {
      char dir[1024];
      char* slash;
      const char* rel = strncmp(value, "./", 2) == 0 ? value + 2 : value;
      snprintf(dir, sizeof dir, "%s", f->path);
      slash = strrchr(dir, '/');
      if (slash != NULL) *slash = '\0';
      if (rel[0] == '/') {
        snprintf(candidate, sizeof candidate, "%s", rel);
      } else {
        snprintf(candidate, sizeof candidate, "%s/%s", slash != NULL ? dir : ".", rel);
      }
    } else if (strcmp(key, "absolute_win32_path") == 0) {
      snprintf(candidate, sizeof candidate, "%s",
               strncmp(value, "//?/", 4) == 0 ? value + 4 : value);
    } else {
      continue;
    }
    if (stat(candidate, &st) == 0 && strlen(candidate) < sizeof f->parent) {
      memcpy(f->parent, candidate, strlen(candidate) + 1);
      free(loc);
      return 0;
    }
  }
  free(loc);
  return -1;
}

static inline int vhdx_open(vhdx_file* f, const char* path, int write, char* msg, size_t cap) {
  uint8_t head[VHDX_HEADER_SIZE], best[VHDX_HEADER_SIZE], regions[VHDX_REGION_TABLE_SIZE];
  uint8_t table[65536], guid[16];
  uint64_t meta_at = 0, seq = 0, locator_at = 0;
  uint32_t n, i, k, locator_length = 0;
  int found = 0;
  const char* why = NULL;
  memset(f, 0, sizeof *f);
  snprintf(f->path, sizeof f->path, "%s", path);
  f->fd = open(path, write ? O_RDWR : O_RDONLY);
  if (f->fd < 0) return vhdx_fail(msg, cap, path, "cannot open");
  for (k = 1; k <= 2; ++k) {
    uint32_t stored;
    if (vhdx_pread_all(f->fd, head, sizeof head, 65536u * k) != 0) continue;
    stored = vhdx_get32(head + 4);
    memset(head + 4, 0, 4);
    if (memcmp(head, "head", 4) != 0 || vhdx_crc32c(head, sizeof head) != stored) continue;
    if (!found || vhdx_get64(head + 8) > seq) {
      memcpy(best, head, sizeof head);
      seq = vhdx_get64(head + 8);
      found = 1;
    }
  }
  if (!found) why = "no valid VHDX header";
  for (k = 0; why == NULL && k < 16; ++k) {
    if (best[48 + k] != 0) why = "the log is dirty (the file is open in a writer)";
  }
  if (why == NULL && (vhdx_pread_all(f->fd, regions, sizeof regions, 192 * 1024) != 0 ||
                      memcmp(regions, "regi", 4) != 0)) {
    why = "no region table";
  }
  n = why == NULL ? vhdx_get32(regions + 8) : 0;
  for (i = 0; i < n && i < 2047; ++i) {
    const uint8_t* e = regions + 16 + 32 * i;
    vhdx_guid(guid, VHDX_BAT_GUID);
    if (memcmp(e, guid, 16) == 0) f->bat_at = vhdx_get64(e + 16);
    vhdx_guid(guid, VHDX_METADATA_GUID);
    if (memcmp(e, guid, 16) == 0) meta_at = vhdx_get64(e + 16);
  }
  if (why == NULL && (f->bat_at == 0 || meta_at == 0 ||
                      vhdx_pread_all(f->fd, table, sizeof table, meta_at) != 0)) {
    why = "no BAT or metadata region";
  }
  n = why == NULL ? ((uint32_t)table[10] | (uint32_t)table[11] << 8) : 0;
  for (i = 0; i < n && i < 2047; ++i) {
    uint8_t item[8];
    const uint8_t* e = table + 32 + 32 * i;
    uint64_t at = meta_at + vhdx_get32(e + 16);
    vhdx_guid(guid, VHDX_PARENT_LOCATOR_GUID);
    if (memcmp(e, guid, 16) == 0) {
      locator_at = at;
      locator_length = vhdx_get32(e + 20);
    }
    if (vhdx_pread_all(f->fd, item, sizeof item, at) != 0) continue;
    vhdx_guid(guid, VHDX_FILE_PARAMETERS_GUID);
    if (memcmp(e, guid, 16) == 0) {
      f->block_size = vhdx_get32(item);
      f->has_parent = (vhdx_get32(item + 4) & 2u) != 0;
    }
    vhdx_guid(guid, VHDX_DISK_SIZE_GUID);
    if (memcmp(e, guid, 16) == 0) f->disk_size = vhdx_get64(item);
    vhdx_guid(guid, VHDX_LOGICAL_SECTOR_GUID);
    if (memcmp(e, guid, 16) == 0) f->sector = vhdx_get32(item);
  }
  if (why == NULL && (f->block_size == 0 || f->sector == 0)) why = "bad metadata";
  if (why == NULL && f->has_parent && vhdx_parent_path(f, locator_at, locator_length) != 0) {
    why = "the parent disk is not found (parent locator)";
  }
  if (why != NULL) {
    close(f->fd);
    return vhdx_fail(msg, cap, path, why);
  }
  f->chunk_ratio = ((uint64_t)1 << 23) * f->sector / f->block_size;
  return 0;
}

static inline int vhdx_read(vhdx_file* f, uint64_t offset, uint8_t* p, size_t length, int depth,
                            char* msg, size_t cap);

/* Reads [offset, offset+length) of the parent of `f` (zeros without one). */
static inline int vhdx_read_parent(vhdx_file* f, uint64_t offset, uint8_t* p, size_t length,
                                   int depth, char* msg, size_t cap) {
  vhdx_file parent;
  int rc;
  if (!f->has_parent) {
    memset(p, 0, length);
    return 0;
  }
  if (depth > 16) return vhdx_fail(msg, cap, f->path, "parent chain too deep");
  if (vhdx_open(&parent, f->parent, 0, msg, cap) != 0) return -1;
  rc = vhdx_read(&parent, offset, p, length, depth + 1, msg, cap);
  close(parent.fd);
  return rc;
}

/* The BAT entry of payload block `block`, or of the sector bitmap of chunk
 * `block` when `bitmap` is 1. */
static inline int vhdx_entry(vhdx_file* f, uint64_t block, int bitmap, uint64_t* entry) {
  uint8_t e[8];
  uint64_t index =
      bitmap ? block * (f->chunk_ratio + 1) + f->chunk_ratio : block + block / f->chunk_ratio;
  if (vhdx_pread_all(f->fd, e, 8, f->bat_at + 8 * index) != 0) return -1;
  *entry = vhdx_get64(e);
  return 0;
}

static inline int vhdx_read(vhdx_file* f, uint64_t offset, uint8_t* p, size_t length, int depth,
                            char* msg, size_t cap) {
  if (offset + length > f->disk_size) return vhdx_fail(msg, cap, f->path, "read past the end");
  while (length > 0) {
    uint64_t block = offset / f->block_size, within = offset % f->block_size, entry, at;
    size_t part = length < f->block_size - within ? length : (size_t)(f->block_size - within);
    uint8_t state;
    if (vhdx_entry(f, block, 0, &entry) != 0) return vhdx_fail(msg, cap, f->path, "bad BAT");
    state = (uint8_t)(entry & 7u);
    at = entry & ~(uint64_t)0xFFFFF;
    if (state == 6) {
      if (vhdx_pread_all(f->fd, p, part, at + within) != 0) {
        return vhdx_fail(msg, cap, f->path, "read failed");
      }
    } else if (state == 7) { /* sector by sector: the bitmap says whose */
      uint64_t sb, s;
      if (vhdx_entry(f, block / f->chunk_ratio, 1, &sb) != 0 || (sb & 7u) != 6u) {
        return vhdx_fail(msg, cap, f->path, "a partial block without a sector bitmap");
      }
      for (s = 0; s < part; s += f->sector) {
        uint64_t sector_in_chunk =
            (block % f->chunk_ratio) * (f->block_size / f->sector) + (within + s) / f->sector;
        uint8_t bits;
        if (vhdx_pread_all(f->fd, &bits, 1, (sb & ~(uint64_t)0xFFFFF) + sector_in_chunk / 8)) {
          return vhdx_fail(msg, cap, f->path, "cannot read a sector bitmap");
        }
        if ((bits >> (sector_in_chunk % 8)) & 1u) {
          if (vhdx_pread_all(f->fd, p + s, f->sector, at + within + s) != 0) {
            return vhdx_fail(msg, cap, f->path, "read failed");
          }
        } else if (vhdx_read_parent(f, offset + s, p + s, f->sector, depth, msg, cap) != 0) {
          return -1;
        }
      }
    } else if (state == 0 && f->has_parent) {
      if (vhdx_read_parent(f, offset, p, part, depth, msg, cap) != 0) return -1;
    } else {
      memset(p, 0, part);
    }
    p += part;
    offset += part;
    length -= part;
  }
  return 0;
}

/* Writes through `f`: a block that is not fully present in this file is
 * made so first (its current bytes, from the parent or the sector bitmap,
 * copied in; a new block at the end of the file when it had none). */
static inline int vhdx_write(vhdx_file* f, uint64_t offset, const uint8_t* p, size_t length,
                             char* msg, size_t cap) {
  if (offset + length > f->disk_size) return vhdx_fail(msg, cap, f->path, "write past the end");
  while (length > 0) {
    uint64_t block = offset / f->block_size, within = offset % f->block_size, entry, at;
    size_t part = length < f->block_size - within ? length : (size_t)(f->block_size - within);
    if (vhdx_entry(f, block, 0, &entry) != 0) return vhdx_fail(msg, cap, f->path, "bad BAT");
    at = entry & ~(uint64_t)0xFFFFF;
    if ((entry & 7u) != 6u) {
      uint8_t* whole = (uint8_t*)malloc(f->block_size);
      uint8_t e[8];
      int rc;
      if (whole == NULL) return vhdx_fail(msg, cap, f->path, "out of memory");
      rc = vhdx_read(f, block * f->block_size, whole, f->block_size, 0, msg, cap);
      if (rc == 0 && (entry & 7u) != 7u) {
        struct stat st;
        memset(&st, 0, sizeof st);
        if (fstat(f->fd, &st) != 0) rc = -1;
        at = ((uint64_t)st.st_size + VHDX_MIB - 1) / VHDX_MIB * VHDX_MIB;
        if (rc == 0 && ftruncate(f->fd, (off_t)(at + f->block_size)) != 0) rc = -1;
      }
      if (rc == 0) rc = vhdx_pwrite_all(f->fd, whole, f->block_size, at);
      vhdx_le64(e, at | 6u);
      if (rc == 0) {
        rc = vhdx_pwrite_all(f->fd, e, 8, f->bat_at + 8 * (block + block / f->chunk_ratio));
      }
      free(whole);
      if (rc != 0) return vhdx_fail(msg, cap, f->path, "cannot allocate a block");
    }
    if (vhdx_pwrite_all(f->fd, p, part, at + within) != 0) {
      return vhdx_fail(msg, cap, f->path, "write failed");
    }
    p += part;
    offset += part;
    length -= part;
  }
  return fsync(f->fd) == 0 ? 0 : vhdx_fail(msg, cap, f->path, "fsync failed");
}

/* Reads (`write` 0) or writes `length` bytes at virtual `offset` of the
 * VHDX at `path` (reads of a differencing disk fall through to its
 * parents). Returns 0, or -1 with a message in `msg`. */
static inline int vhdx_io(const char* path, uint64_t offset, void* data, size_t length, int write,
                          char* msg, size_t cap) {
  vhdx_file f;
  int rc;
  if (vhdx_open(&f, path, write, msg, cap) != 0) return -1;
  rc = write ? vhdx_write(&f, offset, (const uint8_t*)data, length, msg, cap)
             : vhdx_read(&f, offset, (uint8_t*)data, length, 0, msg, cap);
  if (close(f.fd) != 0 && rc == 0) rc = vhdx_fail(msg, cap, path, "close failed");
  return rc;
}

#endif /* ASR_CAPI_TESTS_C_VHDX_H_ */
