/* What the two parts of the proxy share: proxy.c (the channel, the kept
 * sets and watched gets, the worker's life) and proxy_fmi.c (the FMI
 * functions the importer calls, each a request built with these). */
#ifndef COSIM_PROXY_H
#define COSIM_PROXY_H

#include "channel.h"

#include <stdbool.h>
#include <sys/types.h>

#define EXPORT __attribute__((visibility("default")))
#define FATAL 4
#define ERROR 3
#define MAX_WATCH 64
#define WATCH_IDLE_STEPS 1000      /* steps a watched get may go unasked before it is dropped */

enum { FATE_ALIVE, FATE_SIGNAL, FATE_EXIT, FATE_TIMEOUT, FATE_CHANNEL, FATE_INTERRUPTED };

typedef struct {
    uint32_t vt, nvr;
    uint64_t nvalues;
    uint32_t *vrs;
    unsigned char *data;
    size_t length, capacity;
    int status, valid, failed;
    uint64_t used;                  /* the step it was last asked at */
} Watch;

struct Origin;                      /* what started an instance: proxy.c */

typedef struct {
    int version, fd;
    pid_t pid;
    ChHeader *ch;
    uint64_t mapped;
    uint32_t seq, log_seen;
    double timeout;
    char name[128];
    void *logger, *log_env;
    int fate, fate_code;
    char fate_call[64];
    /* the request being built: kept sets first, then one call */
    unsigned char *req;
    size_t req_len, req_cap;
    const char **pending;           /* names of the kept set calls */
    size_t npending, pending_cap;
    Watch watch[MAX_WATCH];
    int nwatch, cached;
    int after_step;                 /* nothing but gets since a step that succeeded */
    char deferred[96];              /* the kept set that failed the last call, as "fmi2SetReal" */
    uint64_t steps;
    /* what get string/binary answers point into, until the next call */
    unsigned char *hold;
    size_t hold_cap;
    void **pointers;
    size_t pointers_cap;
    /* to start the worker again after it died (cosim_proxy_respawn) */
    struct Origin *origin;
    uint16_t generation;            /* of the worker: tags the FMU state handles it gave */
} Proxy;

typedef struct { const unsigned char *data; uint32_t length; } Answer;

void *grow(void *p, size_t *capacity, size_t need, size_t unit);
void *put(Proxy *p, size_t n);
void put_u32(Proxy *p, uint32_t v);
void put_u64(Proxy *p, uint64_t v);
void put_f64(Proxy *p, double v);
void put_bytes(Proxy *p, const void *data, size_t n);
void put_str(Proxy *p, const char *s);
/* Start a request record of `op`; end() it once its payload is put. */
size_t begin(Proxy *p, uint32_t op);
void end(Proxy *p, size_t at);
/* Send the kept sets and the record just built (with the watched gets after
 * a step): the call's status, its answer in *a. */
int call(Proxy *p, const char *name, Answer *a, int step);
/* A call with no payload and no answer. */
int simple(void *c, uint32_t op, const char *name);
int get_values(void *c, uint32_t vt, const uint32_t *vrs, size_t nvr, void *values,
               size_t nvalues, size_t *sizes);
int set_values(void *c, uint32_t vt, const uint32_t *vrs, size_t nvr, const void *values,
               size_t nvalues, const size_t *sizes);
void *instantiate(const char *name, void *logger, void *log_env, const char *token,
                  const char *resources, const uint32_t flags[4], double timeout,
                  const char *mime);
void free_instance(void *c, const char *name);
/* Hand a message to the importer's logger. */
void emit(Proxy *p, int status, const char *category, const char *text);

#endif
