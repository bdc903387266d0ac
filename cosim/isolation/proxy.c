/* The proxy of isolated FMUs: a library exporting the FMI 2 and FMI 3
 * co-simulation functions (and FMI 1 under the prefix "cosimProxy_") whose
 * instances each live in a worker process (worker.c), reached over a shared
 * memory channel (channel.h).  cosim's binding loads it in place of an FMU's
 * binary, so the native step loop calls it exactly as it calls an FMU.
 *
 * One library serves every isolated FMU: all that differs between FMUs is
 * handed over by cosim_proxy_configure just before each instantiate and
 * kept in the instance, whose handle is what the importer passes back.
 *
 * One round trip per step: set calls are kept and sent ahead of the next
 * other call, and after each doStep the worker also returns the values the
 * importer asked for after earlier steps, so that those get calls are
 * answered here.  A set or any other call forgets those values.
 *
 * A worker that dies makes the call return fatal; with a call timeout, a
 * call that does not return in time has its worker killed and returns fatal
 * too.  cosim_proxy_fate tells which, so that cosim can say why, and
 * cosim_proxy_respawn starts a new worker behind the same handle (the
 * native loop keeps the handle), which is why each instance keeps what it
 * was started with. */
#include "proxy.h"

#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#define CHILD_FD 3

extern char **environ;


typedef struct {
    char worker[4096], binary[4096], version[8], model_identifier[256];
    double timeout;
    unsigned long long memory_limit;    /* bytes; 0: none */
    int set;
} Config;

typedef struct {
    int fate, code;
    char call[64], lines[2048];
} Failure;

static __thread Config config;
static _Atomic uint64_t round_trips;     /* requests sent by every instance, for measurements */
static _Atomic int interrupted;          /* calls that wait end now (cosim_proxy_interrupt) */
static __thread Failure failed;     /* the last instantiate that failed on this thread */

void *grow(void *p, size_t *capacity, size_t need, size_t unit) {
    if (need <= *capacity) return p;
    size_t cap = *capacity ? *capacity : 256;
    while (cap < need) cap *= 2;
    void *q = realloc(p, cap * unit);
    if (!q) { fprintf(stderr, "cosim proxy: out of memory\n"); abort(); }
    *capacity = cap;
    return q;
}

/* -- building requests ----------------------------------------------------- */

void *put(Proxy *p, size_t n) {
    n = ch_pad8(n);
    p->req = grow(p->req, &p->req_cap, p->req_len + n, 1);
    void *at = p->req + p->req_len;
    memset(at, 0, n);
    p->req_len += n;
    return at;
}
void put_u32(Proxy *p, uint32_t v) { memcpy(put(p, 4), &v, 4); }
void put_u64(Proxy *p, uint64_t v) { memcpy(put(p, 8), &v, 8); }
void put_f64(Proxy *p, double v) { memcpy(put(p, 8), &v, 8); }
void put_bytes(Proxy *p, const void *data, size_t n) { if (n) memcpy(put(p, n), data, n); }
void put_str(Proxy *p, const char *s) {
    uint32_t n = s ? (uint32_t)strlen(s) + 1 : 0;
    put_u32(p, n);
    put_bytes(p, s, n);
}

size_t begin(Proxy *p, uint32_t op) {
    size_t at = p->req_len;
    ChRecord *r = put(p, sizeof(ChRecord));
    r->op = op;
    return at;
}
void end(Proxy *p, size_t at) {
    ((ChRecord *)(p->req + at))->length = (uint32_t)(p->req_len - at - sizeof(ChRecord));
}

/* -- the worker's log, forwarded to the importer's logger -------------------- */

void emit(Proxy *p, int status, const char *category, const char *text) {
    if (!p->logger) return;
    if (p->version == 3)
        ((void (*)(void *, int, const char *, const char *))p->logger)(p->log_env, status, category, text);
    else
        ((void (*)(void *, const char *, int, const char *, const char *, ...))p->logger)(
            p->version == 1 ? (void *)p : p->log_env, p->name, status, category, "%s", text);
}

static void forward_log(Proxy *p) {
    if (!p->ch) return;
    uint32_t count = atomic_load(&p->ch->log_count);
    if (count - p->log_seen > CH_LOG_SLOTS) {
        char text[96];
        snprintf(text, sizeof text, "%u log messages of the isolated FMU were lost",
                 count - p->log_seen - CH_LOG_SLOTS);
        emit(p, 1, "cosim", text);
        p->log_seen = count - CH_LOG_SLOTS;
    }
    for (; p->log_seen != count; p->log_seen++) {
        ChLog *entry = &p->ch->log[p->log_seen % CH_LOG_SLOTS];
        emit(p, entry->status, entry->category, entry->text);
    }
}

static void last_lines(Proxy *p, char *out, size_t size, int lines) {
    out[0] = 0;
    if (!p->ch || !size) return;
    uint32_t count = atomic_load(&p->ch->log_count);
    uint32_t first = count > (uint32_t)lines ? count - (uint32_t)lines : 0;
    size_t used = 0;
    for (uint32_t k = first; k < count && used + 1 < size; k++) {
        int n = snprintf(out + used, size - used, "%s%s", used ? "\n" : "",
                         p->ch->log[k % CH_LOG_SLOTS].text);
        if (n < 0) break;
        used += (size_t)n;
    }
}

/* -- the worker's life ---------------------------------------------------------- */

static void note_exit(Proxy *p, int status) {
    if (WIFSIGNALED(status)) { p->fate = FATE_SIGNAL; p->fate_code = WTERMSIG(status); }
    else { p->fate = FATE_EXIT; p->fate_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1; }
}

/* Whether the worker has died (noting how). */
static int died(Proxy *p) {
    int status;
    pid_t r = waitpid(p->pid, &status, WNOHANG);
    if (r == p->pid) { note_exit(p, status); p->pid = 0; return 1; }
    if (r < 0 && kill(p->pid, 0) != 0) {     /* reaped by someone else */
        p->fate = FATE_CHANNEL; p->fate_code = 0; p->pid = 0; return 1;
    }
    return 0;
}

static void stop_worker(Proxy *p) {
    if (p->pid > 0) {
        int status;
        kill(p->pid, SIGKILL);
        while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR) {}
        p->pid = 0;
    }
}

/* What an instance was started with, kept to start it again. */
struct Origin {
    Config config;
    char *name, *token, *resources, *mime;
    uint32_t flags[4];
    double timeout;
};

static char *copy_text(const char *s) { return s ? strdup(s) : NULL; }

static void free_origin(struct Origin *o) {
    if (!o) return;
    free(o->name); free(o->token); free(o->resources); free(o->mime);
    free(o);
}

static void release(Proxy *p) {
    stop_worker(p);
    if (p->ch) munmap(p->ch, p->mapped);
    if (p->fd >= 0) close(p->fd);
    for (int i = 0; i < p->nwatch; i++) { free(p->watch[i].vrs); free(p->watch[i].data); }
    free(p->req); free(p->pending); free(p->hold); free(p->pointers);
    free_origin(p->origin);
    free(p);
}

/* Send the request built so far and wait for the answer; FATAL (and a fate)
 * when the worker dies or the call outlives the timeout. */
static int transact(Proxy *p, const char *call) {
    if (p->fate != FATE_ALIVE) {
        p->req_len = 0;
        p->npending = 0;
        return FATAL;
    }
    if (ch_reserve(p->fd, &p->ch, &p->mapped, p->req_len) != 0) {
        p->fate = FATE_CHANNEL; p->fate_code = errno;
        return FATAL;
    }
    memcpy(ch_data(p->ch), p->req, p->req_len);
    p->ch->length = p->req_len;
    p->req_len = 0;
    p->npending = 0;
    p->seq++;
    atomic_fetch_add_explicit(&round_trips, 1, memory_order_relaxed);
    ch_post(&p->ch->req, p->seq, &p->ch->worker_sleeps);
    uint64_t deadline = p->timeout > 0 ? ch_now_ns() + (uint64_t)(p->timeout * 1e9) : 0;
    while (ch_wait(&p->ch->rep, p->seq, &p->ch->proxy_sleeps, p->ch->spin_ns, 10000000ull)) {
        if (died(p)) break;
        if (deadline && ch_now_ns() > deadline) {
            stop_worker(p);
            p->fate = FATE_TIMEOUT;
            snprintf(p->fate_call, sizeof p->fate_call, "%s", call);
            break;
        }
        if (atomic_load(&interrupted)) {    /* a call that waits this long is given up */
            stop_worker(p);
            p->fate = FATE_INTERRUPTED;
            snprintf(p->fate_call, sizeof p->fate_call, "%s", call);
            break;
        }
    }
    if (p->fate != FATE_ALIVE) {
        if (!p->fate_call[0]) snprintf(p->fate_call, sizeof p->fate_call, "%s", call);
        forward_log(p);
        return FATAL;
    }
    if (ch_follow(p->fd, &p->ch, &p->mapped) != 0) {
        p->fate = FATE_CHANNEL; p->fate_code = errno;
        return FATAL;
    }
    forward_log(p);
    return 0;
}

static void watch_records(Proxy *p);
static void watch_answers(Proxy *p, const unsigned char *at, const unsigned char *end);

/* Send the kept sets and the call just built; the call's status, its payload
 * in *a.  A kept set that fails stops there: its status is the answer. */
int call(Proxy *p, const char *name, Answer *a, int step) {
    size_t npending = p->npending;
    p->cached = 0;
    p->after_step = 0;
    p->deferred[0] = 0;
    if (step) watch_records(p);
    int status = transact(p, name);
    if (status) return status;
    const unsigned char *at = ch_data(p->ch), *stop = at + p->ch->length;
    for (size_t k = 0; k <= npending; k++) {
        if (at + sizeof(ChReply) > stop) return ERROR;
        ChReply reply;
        memcpy(&reply, at, sizeof reply);
        at += sizeof reply;
        if (k < npending && reply.status > 1) {
            char text[160];
            snprintf(text, sizeof text, "%s, sent with %s, returned status %d",
                     p->pending[k], name, reply.status);
            emit(p, reply.status, "cosim", text);
            snprintf(p->deferred, sizeof p->deferred, "%s", p->pending[k]);
            return reply.status;
        }
        if (k == npending) {
            if (a) { a->data = at; a->length = reply.length; }
            status = reply.status;
        }
        at += ch_pad8(reply.length);
    }
    if (step && status <= 1) {
        p->steps++;
        watch_answers(p, at, stop);
        p->after_step = 1;
    }
    return status;
}

int simple(void *c, uint32_t op, const char *name) {
    Proxy *p = c;
    end(p, begin(p, op));
    return call(p, name, NULL, 0);
}

/* -- values ----------------------------------------------------------------------- */

static const char *value_name(int version, int set, uint32_t vt) {
    static const char *const v3[2][VT_COUNT] = {
        {"fmi3GetFloat64", "fmi3GetFloat32", "fmi3GetInt8", "fmi3GetUInt8", "fmi3GetInt16",
         "fmi3GetUInt16", "fmi3GetInt32", "fmi3GetUInt32", "fmi3GetInt64", "fmi3GetUInt64",
         "fmi3GetBoolean", "fmi3GetString", "fmi3GetBinary"},
        {"fmi3SetFloat64", "fmi3SetFloat32", "fmi3SetInt8", "fmi3SetUInt8", "fmi3SetInt16",
         "fmi3SetUInt16", "fmi3SetInt32", "fmi3SetUInt32", "fmi3SetInt64", "fmi3SetUInt64",
         "fmi3SetBoolean", "fmi3SetString", "fmi3SetBinary"}};
    static const char *const v2[2][VT_COUNT] = {
        {[VT_FLOAT64] = "fmi2GetReal", [VT_INT32] = "fmi2GetInteger", [VT_BOOL] = "fmi2GetBoolean",
         [VT_STRING] = "fmi2GetString"},
        {[VT_FLOAT64] = "fmi2SetReal", [VT_INT32] = "fmi2SetInteger", [VT_BOOL] = "fmi2SetBoolean",
         [VT_STRING] = "fmi2SetString"}};
    static const char *const v1[2][VT_COUNT] = {
        {[VT_FLOAT64] = "fmiGetReal", [VT_INT32] = "fmiGetInteger", [VT_BOOL] = "fmiGetBoolean",
         [VT_STRING] = "fmiGetString"},
        {[VT_FLOAT64] = "fmiSetReal", [VT_INT32] = "fmiSetInteger", [VT_BOOL] = "fmiSetBoolean",
         [VT_STRING] = "fmiSetString"}};
    const char *name = (version == 3 ? v3 : version == 2 ? v2 : v1)[set][vt];
    return name ? name : "?";
}

/* Copy an answer to a get into the caller's arrays; strings and binaries
 * point into memory held until the next call. */
static void decode(Proxy *p, uint32_t vt, const unsigned char *data, size_t length,
                   size_t nvalues, void *values, size_t *sizes) {
    if (vt != VT_STRING && vt != VT_BINARY) {
        memcpy(values, data, nvalues * ch_value_size(p->version, vt));
        return;
    }
    p->hold = grow(p->hold, &p->hold_cap, length + 1, 1);
    memcpy(p->hold, data, length);
    const unsigned char *at = p->hold;
    void **out = values;
    if (vt == VT_STRING) {
        for (size_t i = 0; i < nvalues; i++) {
            uint32_t n;
            memcpy(&n, at, 4);
            at += 8;
            out[i] = n ? (void *)at : NULL;
            at += ch_pad8(n);
        }
        return;
    }
    const unsigned char *bytes = at + 8 * nvalues;
    for (size_t i = 0; i < nvalues; i++) {
        memcpy(&sizes[i], at + 8 * i, 8);
        out[i] = (void *)bytes;
        bytes += ch_pad8(sizes[i]);
    }
}

/* The watched get of these values; a new one only for gets right after a
 * step (what the master reads every step), not those of initialization or
 * event mode, which may not be allowed in step mode. */
static Watch *find_watch(Proxy *p, uint32_t vt, const uint32_t *vrs, size_t nvr, size_t nvalues) {
    for (int i = 0; i < p->nwatch; i++) {
        Watch *w = &p->watch[i];
        if (w->vt == vt && w->nvr == nvr && w->nvalues == nvalues &&
                memcmp(w->vrs, vrs, 4 * nvr) == 0)
            return w;
    }
    if (!p->after_step || p->nwatch == MAX_WATCH || vt == VT_BINARY) return NULL;
    Watch *w = &p->watch[p->nwatch++];
    memset(w, 0, sizeof *w);
    w->vt = vt; w->nvr = (uint32_t)nvr; w->nvalues = nvalues;
    w->vrs = malloc(4 * (nvr ? nvr : 1));
    memcpy(w->vrs, vrs, 4 * nvr);
    return w;
}

static void put_get(Proxy *p, uint32_t vt, const uint32_t *vrs, size_t nvr, size_t nvalues) {
    size_t at = begin(p, OP_GET);
    put_u32(p, vt);
    put_u32(p, (uint32_t)nvr);
    put_u64(p, nvalues);
    put_bytes(p, vrs, 4 * nvr);
    end(p, at);
}

static void watch_records(Proxy *p) {
    int kept = 0;
    for (int i = 0; i < p->nwatch; i++) {
        Watch *w = &p->watch[i];
        w->valid = 0;
        if (w->failed || p->steps - w->used > WATCH_IDLE_STEPS) {
            free(w->vrs);
            free(w->data);
            continue;
        }
        p->watch[kept++] = *w;
    }
    p->nwatch = kept;
    for (int i = 0; i < p->nwatch; i++)
        put_get(p, p->watch[i].vt, p->watch[i].vrs, p->watch[i].nvr, p->watch[i].nvalues);
}

static void watch_answers(Proxy *p, const unsigned char *at, const unsigned char *stop) {
    for (int i = 0; i < p->nwatch && at + sizeof(ChReply) <= stop; i++) {
        Watch *w = &p->watch[i];
        ChReply reply;
        memcpy(&reply, at, sizeof reply);
        at += sizeof reply;
        w->data = grow(w->data, &w->capacity, reply.length ? reply.length : 1, 1);
        memcpy(w->data, at, reply.length);
        w->length = reply.length;
        w->status = reply.status;
        w->valid = reply.status <= 1;
        w->failed = !w->valid;          /* not asked again */
        at += ch_pad8(reply.length);
    }
    p->cached = 1;
}

int get_values(void *c, uint32_t vt, const uint32_t *vrs, size_t nvr, void *values,
                      size_t nvalues, size_t *sizes) {
    Proxy *p = c;
    Watch *w = find_watch(p, vt, vrs, nvr, nvalues);
    if (w) w->used = p->steps;
    if (w && p->cached && w->valid) {
        decode(p, vt, w->data, w->length, nvalues, values, sizes);
        return w->status;
    }
    put_get(p, vt, vrs, nvr, nvalues);
    Answer a;
    int status = call(p, value_name(p->version, 0, vt), &a, 0);
    if (status <= 1) decode(p, vt, a.data, a.length, nvalues, values, sizes);
    return status;
}

/* Kept until the next other call: FMI lets a set fail only on bad input, and
 * a failure then shows as that call's status, named in the log. */
int set_values(void *c, uint32_t vt, const uint32_t *vrs, size_t nvr, const void *values,
                      size_t nvalues, const size_t *sizes) {
    Proxy *p = c;
    if (p->fate != FATE_ALIVE) return FATAL;
    p->cached = 0;
    p->after_step = 0;
    size_t at = begin(p, OP_SET);
    put_u32(p, vt);
    put_u32(p, (uint32_t)nvr);
    put_u64(p, nvalues);
    put_bytes(p, vrs, 4 * nvr);
    if (vt == VT_STRING) {
        for (size_t i = 0; i < nvalues; i++) put_str(p, ((const char *const *)values)[i]);
    } else if (vt == VT_BINARY) {
        for (size_t i = 0; i < nvalues; i++) put_u64(p, sizes[i]);
        for (size_t i = 0; i < nvalues; i++) put_bytes(p, ((const void *const *)values)[i], sizes[i]);
    } else {
        put_bytes(p, values, nvalues * ch_value_size(p->version, vt));
    }
    end(p, at);
    p->pending = grow(p->pending, &p->pending_cap, p->npending + 1, sizeof *p->pending);
    p->pending[p->npending++] = value_name(p->version, 1, vt);
    return 0;
}

/* -- instantiate and free ------------------------------------------------------------ */

/* Start a worker for `p` (whose channel and process are unset) as `cfg` says;
 * a failure is noted as its fate. */
static void spawn_into(Proxy *p, Config *cfg) {
    p->version = cfg->version[0] - '0';
    p->timeout = cfg->timeout;
    p->fd = memfd_create("cosim-channel", MFD_CLOEXEC);
    p->mapped = CH_INITIAL_SIZE;
    if (p->fd < 0 || ftruncate(p->fd, CH_INITIAL_SIZE) != 0 ||
            !(p->ch = ch_map(p->fd, CH_INITIAL_SIZE, NULL, 0))) {
        p->fate = FATE_CHANNEL; p->fate_code = errno;
        return;
    }
    atomic_store(&p->ch->size, CH_INITIAL_SIZE);
    const char *spin = getenv("COSIM_ISOLATION_SPIN_US");
    /* Short: on a machine with few cores, a process that spins long keeps
     * the one it waits for from running. */
    p->ch->spin_ns = spin ? (uint32_t)(atof(spin) * 1000) : 5000;
    char fd_text[16], parent[24], memory[24];
    snprintf(fd_text, sizeof fd_text, "%d", CHILD_FD);
    snprintf(parent, sizeof parent, "%ld", (long)getpid());
    snprintf(memory, sizeof memory, "%llu", cfg->memory_limit);
    char *argv[] = {cfg->worker, fd_text, cfg->binary, cfg->version,
                    cfg->model_identifier, parent, memory, NULL};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, p->fd, CHILD_FD);
    /* A process group of its own: Ctrl-C at the terminal is for the
     * simulating process to handle, not a crash of every worker. */
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attributes, 0);
    int error = posix_spawn(&p->pid, cfg->worker, &actions, &attributes, argv, environ);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    if (error) { p->pid = 0; p->fate = FATE_CHANNEL; p->fate_code = error; }
}

/* Ask the worker to instantiate the FMU as its origin says; the status. */
static int send_instantiate(Proxy *p) {
    struct Origin *o = p->origin;
    size_t at = begin(p, OP_INSTANTIATE);
    put_str(p, o->name);
    put_str(p, o->token);
    put_str(p, o->resources);
    for (int i = 0; i < 4; i++) put_u32(p, o->flags[i]);
    if (p->version == 1) { put_f64(p, o->timeout); put_str(p, o->mime); }
    end(p, at);
    return call(p, p->version == 3 ? "fmi3InstantiateCoSimulation" : p->version == 2
                ? "fmi2Instantiate" : "fmiInstantiateSlave", NULL, 0);
}

/* Start the worker and instantiate in it; NULL (the reason in `failed`) if either fails. */
void *instantiate(const char *name, void *logger, void *log_env, const char *token,
                         const char *resources, const uint32_t flags[4], double timeout,
                         const char *mime) {
    memset(&failed, 0, sizeof failed);
    if (!config.set) {
        failed.fate = FATE_CHANNEL;
        snprintf(failed.lines, sizeof failed.lines, "the proxy was not configured");
        return NULL;
    }
    config.set = 0;
    Proxy *p = calloc(1, sizeof *p);
    struct Origin *o = calloc(1, sizeof *o);
    if (!p || !o) { free(p); free(o); return NULL; }
    p->fd = -1;
    p->generation = 1;
    p->origin = o;
    o->config = config;
    o->name = copy_text(name); o->token = copy_text(token);
    o->resources = copy_text(resources); o->mime = copy_text(mime);
    memcpy(o->flags, flags, sizeof o->flags);
    o->timeout = timeout;
    snprintf(p->name, sizeof p->name, "%s", name ? name : "");
    p->logger = logger;
    p->log_env = log_env;
    spawn_into(p, &o->config);
    int status = send_instantiate(p);
    if (status == 0) return p;
    failed.fate = p->fate;
    failed.code = p->fate_code;
    snprintf(failed.call, sizeof failed.call, "%s", p->fate_call);
    last_lines(p, failed.lines, sizeof failed.lines, 5);
    release(p);
    return NULL;
}

void free_instance(void *c, const char *name) {
    Proxy *p = c;
    if (!p) return;
    if (p->fate == FATE_ALIVE) {
        p->req_len = 0;                  /* kept sets have no use now */
        p->npending = 0;
        end(p, begin(p, OP_FREE));
        if (call(p, name, NULL, 0) == 0 && p->pid > 0) {
            int status;
            while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR) {}
            p->pid = 0;
        }
    }
    release(p);
}

/* Forget everything of the worker that died: its channel, what was kept
 * for it, the values it answered. */
static void forget_worker(Proxy *p) {
    stop_worker(p);
    if (p->ch) munmap(p->ch, p->mapped);
    if (p->fd >= 0) close(p->fd);
    p->ch = NULL;
    p->fd = -1;
    p->mapped = 0;
    for (int i = 0; i < p->nwatch; i++) { free(p->watch[i].vrs); free(p->watch[i].data); }
    p->nwatch = 0;
    p->cached = p->after_step = 0;
    p->req_len = p->npending = 0;
    p->deferred[0] = 0;
    p->seq = p->log_seen = 0;
    p->fate = FATE_ALIVE;
    p->fate_code = 0;
    p->fate_call[0] = 0;
    p->generation = p->generation == UINT16_MAX ? 1 : p->generation + 1;
}

/* -- cosim's own entry points ----------------------------------------------------------- */

/* Say which FMU the next instantiate on this thread is of: the worker
 * executable, the real binary, the FMI version ("2.0"), the model identifier
 * (the prefix of FMI 1 names), the call timeout in seconds (0: none) and the
 * worker's memory limit in bytes (0: none). */
EXPORT int cosim_proxy_configure(const char *worker, const char *binary, const char *version,
                                 const char *model_identifier, double timeout,
                                 unsigned long long memory_limit) {
    snprintf(config.worker, sizeof config.worker, "%s", worker);
    snprintf(config.binary, sizeof config.binary, "%s", binary);
    snprintf(config.version, sizeof config.version, "%s", version);
    snprintf(config.model_identifier, sizeof config.model_identifier, "%s", model_identifier);
    config.timeout = timeout;
    config.memory_limit = memory_limit;
    config.set = 1;
    return 0;
}

/* Why an instance (NULL: the last failed instantiate on this thread) can no
 * longer be called: 0 it can; 1 its worker was killed by signal *code; 2 it
 * exited with status *code; 3 `call` outlived the timeout; 4 the channel or
 * the process could not be set up (*code an errno); 5 `call` was interrupted
 * (cosim_proxy_interrupt).  `lines` receives the FMU's last log lines. */
EXPORT int cosim_proxy_fate(void *c, int *code, char *call_name, size_t call_size, char *lines,
                            size_t lines_size) {
    Proxy *p = c;
    if (!p) {
        *code = failed.code;
        snprintf(call_name, call_size, "%s", failed.call);
        snprintf(lines, lines_size, "%s", failed.lines);
        return failed.fate;
    }
    *code = p->fate_code;
    snprintf(call_name, call_size, "%s", p->fate_call);
    last_lines(p, lines, lines_size, 5);
    return p->fate;
}

/* The set function whose failure the last call of an instance returned
 * (sets are sent with the next other call); 0 if that call failed itself. */
EXPORT int cosim_proxy_deferred(void *c, char *out, size_t size) {
    Proxy *p = c;
    if (!p || !p->deferred[0]) return 0;
    snprintf(out, size, "%s", p->deferred);
    return 1;
}

/* Drop an instance without calling the FMU again: its worker is killed. */
EXPORT void cosim_proxy_discard(void *c) {
    if (c) release(c);
}

/* Start a new worker for an instance whose worker died (or kill a live one
 * first) and instantiate the FMU in it again, as it was first: the handle
 * stays the same, the FMU is in the instantiated state, and FMU states of
 * the earlier worker are refused.  0 on success; else the status, with the
 * reason in cosim_proxy_fate. */
EXPORT int cosim_proxy_respawn(void *c) {
    Proxy *p = c;
    if (!p || !p->origin) return FATAL;
    forget_worker(p);
    spawn_into(p, &p->origin->config);
    return send_instantiate(p);
}

/* While `on`, a call that has waited 10 ms or more for its worker, or that
 * starts waiting, has its worker killed and returns fatal (fate 5): a
 * signal handler's thread ends a call the simulating thread is stuck in. */
EXPORT void cosim_proxy_interrupt(int on) { atomic_store(&interrupted, on); }

/* Requests sent to workers by every instance of this process so far. */
EXPORT uint64_t cosim_proxy_round_trips(void) { return atomic_load(&round_trips); }

/* The process id of an instance's worker (0 once it is gone). */
EXPORT long cosim_proxy_pid(void *c) { return c ? (long)((Proxy *)c)->pid : 0; }

