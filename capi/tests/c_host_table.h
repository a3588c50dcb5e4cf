/* c_host_table.h: a VMM host written in plain C99 for the C API tests, as
 * a provider DLL implements it: the host callback table (version 5) over
 * the VMs it keeps (power state, disks, NICs, held points, the sinks asr
 * attached for change tracking, isolated test networks) and the two VMM
 * servers' inventories (New York: GoldCloud1 with VM1 and VM2; Chicago:
 * GoldCloud2), with every disk a real VHDX file (c_vhdx.h). The guest side:
 * guest_write reports a write to asr's sink and writes it into the VM's
 * disk, and keeps a shadow copy of what VM1's two disks must hold wherever
 * VM1 runs, for disk_matches / raw_matches to compare with.
 *
 *   static host_state h;
 *   snprintf(h.root, sizeof h.root, "%s/site", tmp);       then its directories:
 *   host_make_dirs(&h);  add_source_vm(&h, "vm1", "VM1", 2);
 *   asr_host_callbacks_t table = host_table(&h);
 *   asr_engine_set_host_callbacks(engine, &table, 0);
 *   guest_write(&h, "vm1", 0, 1 << 20, 65536, 7);
 *   ... disk_matches(replica_disk_path, 0) ...
 *
 * Single-threaded: drive the site service with asr_site_service_step
 * ("threads": false). Needs _POSIX_C_SOURCE 200809L. */
#ifndef ASR_CAPI_TESTS_C_HOST_TABLE_H_
#define ASR_CAPI_TESTS_C_HOST_TABLE_H_

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "asr.h"
#include "c_json.h"
#include "c_vhdx.h"

/* ---- The host: VMs, power states, points, sinks ------------------------ */

#define MAX_VMS 8
#define MAX_DISKS 2
#define MAX_NICS 2
#define MAX_SINKS 8
#define MAX_NETS 4

typedef struct host_disk {
  char id[64], name[64], path[1024], target[64];
  uint64_t size;
  int os;
} host_disk;

typedef struct host_nic {
  char id[64], network[128], subnet[64], mac[32], ip[32];
} host_nic;

typedef struct host_vm {
  int used, running, point_held;
  char id[128], name[128], server[32], cloud[32], host[64];
  int ndisks, nnics;
  host_disk disks[MAX_DISKS];
  host_nic nics[MAX_NICS];
} host_vm;

typedef struct host_sink {
  char vm[128], disk[64];
  asr_write_sink_t* sink;
} host_sink;

typedef struct host_state {
  char root[512];
  host_vm vms[MAX_VMS];
  host_sink sinks[MAX_SINKS];
  char isolated[MAX_NETS][128]; /* "" = free */
  int inventory_calls, configured_primary, configured_recovery, points, points_released;
  int started, shut_down, deleted, nic_changes;
} host_state;

static inline int fail_with(asr_buffer_t* out, int code, const char* message) {
  asr_buffer_set(out, message, strlen(message));
  return code;
}

static inline int put_text(asr_buffer_t* out, cj_buf* b) {
  int rc = asr_buffer_set(out, b->data == NULL ? "" : b->data, b->size);
  free(b->data);
  return rc;
}

static inline host_vm* find_vm(host_state* h, const char* id) {
  int i;
  for (i = 0; i < MAX_VMS; ++i) {
    if (h->vms[i].used && strcmp(h->vms[i].id, id) == 0) return &h->vms[i];
  }
  return NULL;
}

static inline host_vm* new_vm(host_state* h) {
  int i;
  for (i = 0; i < MAX_VMS; ++i) {
    if (!h->vms[i].used) {
      memset(&h->vms[i], 0, sizeof(host_vm));
      h->vms[i].used = 1;
      return &h->vms[i];
    }
  }
  return NULL;
}

static inline void copy(char* dst, size_t cap, const char* src) { snprintf(dst, cap, "%s", src); }
#define COPY(dst, src) copy((dst), sizeof(dst), (src))

static inline void vm_json(cj_buf* b, const host_vm* vm) {
  int i;
  cj_printf(b, "{\"id\":");
  cj_quote(b, vm->id);
  cj_printf(b, ",\"name\":");
  cj_quote(b, vm->name);
  cj_printf(b, ",\"serverId\":");
  cj_quote(b, vm->server);
  cj_printf(b, ",\"cloudId\":");
  cj_quote(b, vm->cloud);
  cj_printf(b, ",\"hostId\":");
  cj_quote(b, vm->host);
  cj_printf(b, ",\"additionalRecoveryPoints\":4,\"powerState\":\"%s\",\"disks\":[",
            vm->running ? "RUNNING" : "STOPPED");
  for (i = 0; i < vm->ndisks; ++i) {
    const host_disk* d = &vm->disks[i];
    cj_printf(b, "%s{\"id\":", i ? "," : "");
    cj_quote(b, d->id);
    cj_printf(b, ",\"name\":");
    cj_quote(b, d->name);
    cj_printf(b, ",\"path\":");
    cj_quote(b, d->path);
    cj_printf(b, ",\"sizeBytes\":\"%llu\",\"storageTargetId\":", (unsigned long long)d->size);
    cj_quote(b, d->target);
    cj_printf(b, ",\"isOsDisk\":%s}", d->os ? "true" : "false");
  }
  cj_printf(b, "],\"networkAdapters\":[");
  for (i = 0; i < vm->nnics; ++i) {
    const host_nic* n = &vm->nics[i];
    cj_printf(b, "%s{\"id\":", i ? "," : "");
    cj_quote(b, n->id);
    cj_printf(b, ",\"vmNetworkId\":");
    cj_quote(b, n->network);
    cj_printf(b, ",\"subnetName\":");
    cj_quote(b, n->subnet);
    cj_printf(b, ",\"macAddress\":");
    cj_quote(b, n->mac);
    cj_printf(b, ",\"ipAddress\":");
    cj_quote(b, n->ip);
    cj_printf(b, "}");
  }
  cj_printf(b, "]}");
}

/* The fixed parts of the two VMM servers' inventories (paths under the
 * test directory); the VMs come from the table. */
static inline void inventory_json(cj_buf* b, host_state* h, const char* server) {
  int i, first = 1;
  if (strcmp(server, "vmm-ny") == 0) {
    cj_printf(b,
              "{\"serverId\":\"vmm-ny\","
              "\"logicalNetworks\":[{\"id\":\"ln1-ny\",\"name\":\"LogicalNetwork1-NewYork\"}],"
              "\"vmNetworks\":[{\"id\":\"vmn1-ny\",\"name\":\"VMNetwork1-NewYork\","
              "\"logicalNetworkId\":\"ln1-ny\",\"subnets\":[{\"name\":\"Subnet1\","
              "\"addressPrefix\":\"10.1.1.0/24\"}]}],"
              "\"storageClassifications\":[{\"id\":\"sc-gold\",\"name\":\"GOLD\",\"targets\":[{"
              "\"id\":\"SourceVolume1\",\"name\":\"SourceVolume1\",\"path\":\"%s/ny/Volume1\","
              "\"type\":\"CLUSTER_SHARED_VOLUME\",\"capacityBytes\":\"2199023255552\","
              "\"freeBytes\":\"1099511627776\"}]}],"
              "\"hostGroups\":[{\"id\":\"hg-ny-gold\",\"name\":\"NewYork-Gold\","
              "\"hostIds\":[\"hv-ny-01\"]}],"
              "\"hosts\":[{\"id\":\"hv-ny-01\",\"name\":\"hv-ny-01.contoso.com\","
              "\"hostGroupId\":\"hg-ny-gold\",\"osVersion\":\"WINDOWS_SERVER_2012_R2\","
              "\"defaultStoragePath\":\"%s/ny/Hyper-V\",\"defaultStorageFreeBytes\":"
              "\"536870912000\",\"logicalNetworkIds\":[\"ln1-ny\"],"
              "\"storageTargetIds\":[\"SourceVolume1\"]}],"
              "\"clouds\":[{\"id\":\"gold1\",\"name\":\"GoldCloud1\",\"capabilityProfiles\":"
              "[\"Hyper-V\"],\"hostGroupIds\":[\"hg-ny-gold\"],\"logicalNetworkIds\":[\"ln1-ny\"],"
              "\"storageClassificationIds\":[\"sc-gold\"]}],",
              h->root, h->root);
  } else {
    cj_printf(b,
              "{\"serverId\":\"vmm-chi\","
              "\"logicalNetworks\":[{\"id\":\"ln1-chi\",\"name\":\"LogicalNetwork1-Chicago\"}],"
              "\"vmNetworks\":[{\"id\":\"vmn1-chi\",\"name\":\"VMNetwork1-Chicago\","
              "\"logicalNetworkId\":\"ln1-chi\",\"subnets\":[{\"name\":\"Subnet1\","
              "\"addressPrefix\":\"172.16.1.0/24\"}]}],"
              "\"storageClassifications\":[{\"id\":\"sc-gold-t\",\"name\":\"GOLD_TARGET\","
              "\"targets\":[{\"id\":\"TargetVolume1\",\"name\":\"TargetVolume1\","
              "\"path\":\"%s/chi/Volume1\",\"type\":\"CLUSTER_SHARED_VOLUME\","
              "\"capacityBytes\":\"2199023255552\",\"freeBytes\":\"1649267441664\"}]}],"
              "\"hostGroups\":[{\"id\":\"hg-chi-gold\",\"name\":\"Chicago-Gold\","
              "\"hostIds\":[\"hv-chi-01\"]}],"
              "\"hosts\":[{\"id\":\"hv-chi-01\",\"name\":\"hv-chi-01.contoso.com\","
              "\"hostGroupId\":\"hg-chi-gold\",\"osVersion\":\"WINDOWS_SERVER_2012_R2\","
              "\"defaultStoragePath\":\"%s/chi/Replicas\",\"defaultStorageFreeBytes\":"
              "\"1073741824000\",\"logicalNetworkIds\":[\"ln1-chi\"],"
              "\"storageTargetIds\":[\"TargetVolume1\"]}],"
              "\"clouds\":[{\"id\":\"gold2\",\"name\":\"GoldCloud2\",\"capabilityProfiles\":"
              "[\"Hyper-V\"],\"hostGroupIds\":[\"hg-chi-gold\"],\"logicalNetworkIds\":"
              "[\"ln1-chi\"],\"storageClassificationIds\":[\"sc-gold-t\"]}],",
              h->root, h->root);
  }
  cj_printf(b, "\"virtualMachines\":[");
  for (i = 0; i < MAX_VMS; ++i) {
    if (!h->vms[i].used || strcmp(h->vms[i].server, server) != 0) continue;
    if (!first) cj_printf(b, ",");
    vm_json(b, &h->vms[i]);
    first = 0;
  }
  cj_printf(b, "]}");
}

static inline int host_get_inventory(asr_buffer_t* out, const char* server_json, void* payload) {
  host_state* h = (host_state*)payload;
  cj_value* server = cj_parse(server_json);
  const char* name = cj_str(cj_get(server, "friendlyName"), "");
  cj_buf b = {0, 0, 0};
  int rc;
  if (strcmp(name, "vmm-ny") != 0 && strcmp(name, "vmm-chi") != 0) {
    cj_free(server);
    return fail_with(out, ASR_UNAVAILABLE, "this VMM server did not answer");
  }
  ++h->inventory_calls;
  inventory_json(&b, h, name);
  cj_free(server);
  rc = put_text(out, &b);
  return rc;
}

static inline int host_configure_host(asr_buffer_t* out, const char* host_json,
                                      const char* policy_json, const char* role, void* payload) {
  host_state* h = (host_state*)payload;
  cj_value* host = cj_parse(host_json);
  cj_value* policy = cj_parse(policy_json);
  int rc = ASR_OK;
  if (host == NULL || policy == NULL || cj_get(host, "id") == NULL) {
    rc = fail_with(out, ASR_INVALID_ARGUMENT, "configure_host: bad host or policy JSON");
  } else if (strcmp(role, "Primary") == 0) {
    ++h->configured_primary;
  } else if (strcmp(role, "Recovery") == 0) {
    ++h->configured_recovery;
  } else {
    rc = fail_with(out, ASR_INVALID_ARGUMENT, "configure_host: unknown role");
  }
  cj_free(host);
  cj_free(policy);
  return rc;
}

static inline int host_get_vm(asr_buffer_t* out, const char* vm_id, void* payload) {
  host_vm* vm = find_vm((host_state*)payload, vm_id);
  cj_buf b = {0, 0, 0};
  if (vm == NULL) return fail_with(out, ASR_NOT_FOUND, "the host has no such VM");
  vm_json(&b, vm);
  return put_text(out, &b);
}

static inline int host_create_replica_vm(asr_buffer_t* out, const char* spec_json, void* payload) {
  host_state* h = (host_state*)payload;
  cj_value* spec = cj_parse(spec_json);
  const char* id = cj_str(cj_get(spec, "replicaVmId"), "");
  const char* host_id = cj_str(cj_get(spec, "hostId"), "");
  cj_value* disks = cj_get(spec, "disks");
  cj_value* nics = cj_get(spec, "networkAdapters");
  host_vm* vm;
  size_t i;
  cj_buf b = {0, 0, 0};
  if (spec == NULL || id[0] == '\0') {
    cj_free(spec);
    return fail_with(out, ASR_INVALID_ARGUMENT, "a replica VM needs an id (replicaVmId)");
  }
  if (strcmp(host_id, "hv-chi-01") != 0 && strcmp(host_id, "hv-ny-01") != 0) {
    cj_free(spec);
    return fail_with(out, ASR_NOT_FOUND, "no such host for the replica VM");
  }
  vm = find_vm(h, id);
  if (vm != NULL) { /* the same spec again succeeds */
    int same = strcmp(vm->host, host_id) == 0 && (size_t)vm->ndisks == cj_len(disks);
    for (i = 0; same && i < cj_len(disks); ++i) {
      same = strcmp(vm->disks[i].path, cj_str(cj_get(cj_at(disks, i), "path"), "")) == 0;
    }
    cj_free(spec);
    if (!same) return fail_with(out, ASR_ALREADY_EXISTS, "a VM with this id has other disks");
    vm_json(&b, vm);
    return put_text(out, &b);
  }
  if (cj_len(disks) > MAX_DISKS || cj_len(nics) > MAX_NICS || (vm = new_vm(h)) == NULL) {
    cj_free(spec);
    return fail_with(out, ASR_RESOURCE_EXHAUSTED, "the test host holds no more VMs or disks");
  }
  COPY(vm->id, id);
  COPY(vm->name, cj_str(cj_get(spec, "name"), id));
  COPY(vm->host, host_id);
  COPY(vm->server, strcmp(host_id, "hv-chi-01") == 0 ? "vmm-chi" : "vmm-ny");
  COPY(vm->cloud, strcmp(host_id, "hv-chi-01") == 0 ? "gold2" : "gold1");
  vm->ndisks = (int)cj_len(disks);
  for (i = 0; i < cj_len(disks); ++i) {
    cj_value* d = cj_at(disks, i);
    host_disk* hd = &vm->disks[i];
    char dir[1024];
    struct stat st;
    char* slash;
    COPY(hd->id, cj_str(cj_get(d, "id"), ""));
    COPY(hd->name, cj_str(cj_get(d, "name"), ""));
    COPY(hd->path, cj_str(cj_get(d, "path"), ""));
    COPY(hd->target, cj_str(cj_get(d, "storageTargetId"), ""));
    hd->size = strtoull(cj_str(cj_get(d, "sizeBytes"), "0"), NULL, 10);
    hd->os = strcmp(cj_str(cj_get(d, "isOsDisk"), "false"), "true") == 0;
    COPY(dir, hd->path);
    slash = strrchr(dir, '/');
    if (slash != NULL) *slash = '\0';
    if (hd->path[0] == '\0' || stat(dir, &st) != 0) {
      vm->used = 0;
      cj_free(spec);
      return fail_with(out, ASR_NOT_FOUND, "the directory of a replica disk does not exist");
    }
  }
  vm->nnics = (int)cj_len(nics);
  for (i = 0; i < cj_len(nics); ++i) {
    cj_value* n = cj_at(nics, i);
    COPY(vm->nics[i].id, cj_str(cj_get(n, "id"), ""));
    COPY(vm->nics[i].network, cj_str(cj_get(n, "vmNetworkId"), ""));
    COPY(vm->nics[i].subnet, cj_str(cj_get(n, "subnetName"), ""));
    COPY(vm->nics[i].mac, cj_str(cj_get(n, "macAddress"), ""));
  }
  cj_free(spec);
  vm_json(&b, vm);
  return put_text(out, &b);
}

static inline int known_network(host_state* h, const char* server, const char* id) {
  int i;
  if (id[0] == '\0') return 1;
  if (strcmp(server, "vmm-ny") == 0 && strcmp(id, "vmn1-ny") == 0) return 1;
  if (strcmp(server, "vmm-chi") == 0 && strcmp(id, "vmn1-chi") == 0) return 1;
  for (i = 0; i < MAX_NETS; ++i) {
    if (strcmp(h->isolated[i], id) == 0) return 1;
  }
  return 0;
}

static inline int host_connect_nic(asr_buffer_t* out, const char* vm_id, const char* nic_json,
                                   void* payload) {
  host_state* h = (host_state*)payload;
  host_vm* vm = find_vm(h, vm_id);
  cj_value* nic = cj_parse(nic_json);
  const char* network = cj_str(cj_get(nic, "vmNetworkId"), "");
  int i, rc = fail_with(out, ASR_NOT_FOUND, "the VM has no such network adapter");
  if (vm == NULL || nic == NULL) {
    cj_free(nic);
    return fail_with(out, ASR_NOT_FOUND, "connect_nic: no such VM, or bad NIC JSON");
  }
  if (!known_network(h, vm->server, network)) {
    cj_free(nic);
    return fail_with(out, ASR_NOT_FOUND, "connect_nic: no such VM network on the VM's server");
  }
  for (i = 0; i < vm->nnics; ++i) {
    if (strcmp(vm->nics[i].id, cj_str(cj_get(nic, "id"), "")) != 0) continue;
    COPY(vm->nics[i].network, network);
    COPY(vm->nics[i].subnet, network[0] ? cj_str(cj_get(nic, "subnetName"), "") : "");
    ++h->nic_changes;
    rc = ASR_OK;
  }
  cj_free(nic);
  return rc;
}

static inline int set_power(asr_buffer_t* out, host_state* h, const char* vm_id, int running) {
  host_vm* vm = find_vm(h, vm_id);
  if (vm == NULL) return fail_with(out, ASR_NOT_FOUND, "the host has no such VM");
  if (running && !vm->running) ++h->started;
  if (!running && vm->running) ++h->shut_down;
  vm->running = running;
  return ASR_OK;
}

static inline int host_start_vm(asr_buffer_t* out, const char* vm_id, void* payload) {
  return set_power(out, (host_state*)payload, vm_id, 1);
}

static inline int host_stop_vm(asr_buffer_t* out, const char* vm_id, void* payload) {
  return set_power(out, (host_state*)payload, vm_id, 0);
}

static inline int host_delete_vm(asr_buffer_t* out, const char* vm_id, uint32_t delete_disks,
                                 void* payload) {
  host_state* h = (host_state*)payload;
  host_vm* vm = find_vm(h, vm_id);
  int i;
  if (vm == NULL) return fail_with(out, ASR_NOT_FOUND, "the host has no such VM");
  if (vm->running) return fail_with(out, ASR_FAILED_PRECONDITION, "the VM runs; stop it first");
  for (i = 0; delete_disks && i < vm->ndisks; ++i) {
    if (remove(vm->disks[i].path) != 0 && errno != ENOENT) {
      return fail_with(out, ASR_INTERNAL, "cannot delete a disk file of the VM");
    }
  }
  vm->used = 0;
  ++h->deleted;
  return ASR_OK;
}

static inline int host_get_power_state(asr_buffer_t* out, const char* vm_id, void* payload) {
  host_vm* vm = find_vm((host_state*)payload, vm_id);
  const char* state;
  if (vm == NULL) return fail_with(out, ASR_NOT_FOUND, "the host has no such VM");
  state = vm->running ? "RUNNING" : "STOPPED";
  return asr_buffer_set(out, state, strlen(state));
}

/* A point: the guest's writes are held while it is (this test writes only
 * between calls), so each disk is read where it lies. */
static inline int host_create_point(asr_buffer_t* out, const char* vm_id, const char* type,
                                    void* payload) {
  host_state* h = (host_state*)payload;
  host_vm* vm = find_vm(h, vm_id);
  struct timespec now;
  cj_buf b = {0, 0, 0};
  int i;
  if (vm == NULL) return fail_with(out, ASR_NOT_FOUND, "the host has no such VM");
  if (strcmp(type, "CrashConsistent") != 0 && strcmp(type, "AppConsistent") != 0) {
    return fail_with(out, ASR_INVALID_ARGUMENT, "unknown point type");
  }
  if (vm->point_held) return fail_with(out, ASR_FAILED_PRECONDITION, "a point is already held");
  clock_gettime(CLOCK_REALTIME, &now);
  vm->point_held = 1;
  ++h->points;
  cj_printf(&b, "{\"id\":\"%d\",\"vmId\":", h->points);
  cj_quote(&b, vm->id);
  cj_printf(&b, ",\"type\":\"%s\",\"timeUs\":\"%lld\",\"disks\":[", type,
            (long long)now.tv_sec * 1000000 + now.tv_nsec / 1000);
  for (i = 0; i < vm->ndisks; ++i) {
    cj_printf(&b, "%s{\"diskId\":", i ? "," : "");
    cj_quote(&b, vm->disks[i].id);
    cj_printf(&b, ",\"readPath\":");
    cj_quote(&b, vm->disks[i].path);
    cj_printf(&b, "}");
  }
  cj_printf(&b, "]}");
  return put_text(out, &b);
}

static inline int host_release_point(asr_buffer_t* out, const char* point_json, void* payload) {
  host_state* h = (host_state*)payload;
  cj_value* point = cj_parse(point_json);
  host_vm* vm = find_vm(h, cj_str(cj_get(point, "vmId"), ""));
  cj_free(point);
  if (vm == NULL || !vm->point_held) {
    return fail_with(out, ASR_NOT_FOUND, "no point of this VM is held");
  }
  vm->point_held = 0;
  ++h->points_released;
  return ASR_OK;
}

static inline host_sink* find_sink(host_state* h, const char* vm_id, const char* disk_id) {
  int i;
  for (i = 0; i < MAX_SINKS; ++i) {
    if (h->sinks[i].sink != NULL && strcmp(h->sinks[i].vm, vm_id) == 0 &&
        strcmp(h->sinks[i].disk, disk_id) == 0) {
      return &h->sinks[i];
    }
  }
  return NULL;
}

static inline int host_attach(asr_buffer_t* out, const char* vm_id, const char* disk_id,
                              asr_write_sink_t* sink, void* payload) {
  host_state* h = (host_state*)payload;
  host_sink* s = find_sink(h, vm_id, disk_id);
  int i;
  if (find_vm(h, vm_id) == NULL) return fail_with(out, ASR_NOT_FOUND, "the host has no such VM");
  for (i = 0; s == NULL && i < MAX_SINKS; ++i) {
    if (h->sinks[i].sink == NULL) s = &h->sinks[i];
  }
  if (s == NULL) return fail_with(out, ASR_RESOURCE_EXHAUSTED, "no free change-tracking slot");
  COPY(s->vm, vm_id);
  COPY(s->disk, disk_id);
  s->sink = sink;
  return ASR_OK;
}

static inline int host_detach(asr_buffer_t* out, const char* vm_id, const char* disk_id,
                              void* payload) {
  host_sink* s = find_sink((host_state*)payload, vm_id, disk_id);
  (void)out;
  if (s != NULL) s->sink = NULL;
  return ASR_OK;
}

static inline int host_create_isolated_network(asr_buffer_t* out, const char* host_id,
                                               const char* name, void* payload) {
  host_state* h = (host_state*)payload;
  char id[128];
  int i, free_slot = -1;
  (void)host_id;
  snprintf(id, sizeof id, "isolated-%s", name);
  for (i = 0; i < MAX_NETS; ++i) {
    if (strcmp(h->isolated[i], id) == 0) return asr_buffer_set(out, id, strlen(id));
    if (h->isolated[i][0] == '\0' && free_slot < 0) free_slot = i;
  }
  if (free_slot < 0) return fail_with(out, ASR_RESOURCE_EXHAUSTED, "no more isolated networks");
  COPY(h->isolated[free_slot], id);
  return asr_buffer_set(out, id, strlen(id));
}

static inline int host_delete_isolated_network(asr_buffer_t* out, const char* host_id,
                                               const char* network_id, void* payload) {
  host_state* h = (host_state*)payload;
  int i, j;
  (void)host_id;
  for (i = 0; i < MAX_VMS; ++i) {
    for (j = 0; h->vms[i].used && j < h->vms[i].nnics; ++j) {
      if (strcmp(h->vms[i].nics[j].network, network_id) == 0) {
        return fail_with(out, ASR_FAILED_PRECONDITION, "a NIC is connected to the network");
      }
    }
  }
  for (i = 0; i < MAX_NETS; ++i) {
    if (strcmp(h->isolated[i], network_id) == 0) h->isolated[i][0] = '\0';
  }
  return ASR_OK;
}

static inline asr_host_callbacks_t host_table(host_state* h) {
  asr_host_callbacks_t t = ASR_HOST_CALLBACKS_INIT;
  t.payload = h;
  t.get_inventory = host_get_inventory;
  t.configure_host = host_configure_host;
  t.get_vm = host_get_vm;
  t.create_replica_vm = host_create_replica_vm;
  t.connect_nic = host_connect_nic;
  t.start_vm = host_start_vm;
  t.shutdown_vm = host_stop_vm;
  t.turn_off_vm = host_stop_vm;
  t.delete_vm = host_delete_vm;
  t.get_power_state = host_get_power_state;
  t.create_point = host_create_point;
  t.release_point = host_release_point;
  t.attach_change_tracking = host_attach;
  t.detach_change_tracking = host_detach;
  t.create_isolated_network = host_create_isolated_network;
  t.delete_isolated_network = host_delete_isolated_network;
  return t;
}

/* ---- The guest: writes into the running VM's disks ----------------------- */

/* What the guest has written to each of VM1's two disks, wherever VM1 runs. */
static uint8_t* g_shadow[MAX_DISKS];
static const uint64_t g_disk_size[MAX_DISKS] = {8u << 20, 4u << 20};
static int g_sink_records = 0;

/* A guest write of `length` bytes (seeded data) at `offset` of disk `k` of
 * the running VM `vm_id`: reported to asr's sink first, then written. */
static inline int guest_write(host_state* h, const char* vm_id, int k, uint64_t offset,
                              size_t length, unsigned seed) {
  host_vm* vm = find_vm(h, vm_id);
  host_sink* s;
  uint8_t* data;
  char msg[1200];
  size_t i;
  int rc;
  if (vm == NULL || !vm->running || k >= vm->ndisks || vm->point_held) {
    fprintf(stderr, "guest_write: %s is not a running VM with disk %d\n", vm_id, k);
    return 0;
  }
  data = (uint8_t*)malloc(length);
  if (data == NULL) return 0;
  for (i = 0; i < length; ++i) data[i] = (uint8_t)((seed * 131u + (unsigned)(i * 7u)) >> 1);
  s = find_sink(h, vm_id, vm->disks[k].id);
  if (s != NULL) {
    if (asr_write_sink_record(s->sink, offset, length) != ASR_OK) {
      free(data);
      return 0;
    }
    ++g_sink_records;
  }
  rc = vhdx_io(vm->disks[k].path, offset, data, length, 1, msg, sizeof msg);
  if (rc != 0) fprintf(stderr, "guest_write: %s\n", msg);
  if (rc == 0) memcpy(g_shadow[k] + offset, data, length);
  free(data);
  return rc == 0;
}

/* 1 when the VHDX at `path` holds exactly what the guest wrote to disk `k`. */
static inline int disk_matches(const char* path, int k) {
  uint8_t* bytes = (uint8_t*)malloc(g_disk_size[k]);
  char msg[1200];
  int ok;
  if (bytes == NULL) return 0;
  ok = vhdx_io(path, 0, bytes, g_disk_size[k], 0, msg, sizeof msg) == 0;
  if (!ok) fprintf(stderr, "disk_matches: %s\n", msg);
  ok = ok && memcmp(bytes, g_shadow[k], g_disk_size[k]) == 0;
  if (!ok) fprintf(stderr, "disk_matches: %s differs from the guest's writes\n", path);
  free(bytes);
  return ok;
}

/* 1 when the raw file at `path` holds exactly what the guest wrote to disk `k`. */
static inline int raw_matches(const char* path, int k) {
  FILE* f = fopen(path, "rb");
  uint8_t* bytes = (uint8_t*)malloc(g_disk_size[k]);
  int ok = f != NULL && bytes != NULL && fread(bytes, 1, g_disk_size[k], f) == g_disk_size[k] &&
           memcmp(bytes, g_shadow[k], g_disk_size[k]) == 0;
  if (!ok) fprintf(stderr, "raw_matches: %s differs from the guest's writes\n", path);
  if (f != NULL) fclose(f);
  free(bytes);
  return ok;
}

static inline int run(const char* cmd) {
  int rc = system(cmd);
  if (rc != 0) fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
  return rc;
}

static inline int make_dir(const char* root, const char* sub) {
  char path[1200];
  snprintf(path, sizeof path, "%s/%s", root, sub);
  return mkdir(path, 0755) == 0 || errno == EEXIST;
}

/* A source VM of New York with `ndisks` fixed VHDX disks. */
static inline int add_source_vm(host_state* h, const char* id, const char* name, int ndisks) {
  host_vm* vm = new_vm(h);
  char msg[1200];
  int k;
  if (vm == NULL) return 0;
  COPY(vm->id, id);
  COPY(vm->name, name);
  COPY(vm->server, "vmm-ny");
  COPY(vm->cloud, "gold1");
  COPY(vm->host, "hv-ny-01");
  vm->running = 1;
  vm->ndisks = ndisks;
  for (k = 0; k < ndisks; ++k) {
    host_disk* d = &vm->disks[k];
    snprintf(d->id, sizeof d->id, "%s-d%d", id, k);
    snprintf(d->name, sizeof d->name, "%s-d%d.vhdx", id, k);
    snprintf(d->path, sizeof d->path, "%s/ny/Volume1/%s-d%d.vhdx", h->root, id, k);
    COPY(d->target, "SourceVolume1");
    d->size = g_disk_size[k];
    d->os = k == 0;
    if (vhdx_create_fixed(d->path, d->size, msg, sizeof msg) != 0) {
      fprintf(stderr, "%s\n", msg);
      return 0;
    }
  }
  vm->nnics = 1;
  snprintf(vm->nics[0].id, sizeof vm->nics[0].id, "%s-nic0", id);
  COPY(vm->nics[0].network, "vmn1-ny");
  COPY(vm->nics[0].subnet, "Subnet1");
  COPY(vm->nics[0].mac, "00:15:5D:01:02:01");
  COPY(vm->nics[0].ip, "10.1.1.10");
  return 1;
}

/* The storage directories the inventories name, and the shadow disks. */
static inline int host_make_dirs(host_state* h) {
  int k;
  for (k = 0; k < MAX_DISKS; ++k) {
    if (g_shadow[k] == NULL) g_shadow[k] = (uint8_t*)calloc(1, g_disk_size[k]);
    if (g_shadow[k] == NULL) return 0;
  }
  return make_dir(h->root, "ny") && make_dir(h->root, "ny/Volume1") &&
         make_dir(h->root, "ny/Hyper-V") && make_dir(h->root, "chi") &&
         make_dir(h->root, "chi/Volume1") && make_dir(h->root, "chi/Replicas");
}

#endif /* ASR_CAPI_TESTS_C_HOST_TABLE_H_ */
