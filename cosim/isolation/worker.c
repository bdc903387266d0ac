/* The worker process of an isolated FMU: it loads the real FMU binary, holds
 * one instance of it and runs the calls its proxy sends over the channel
 * (see channel.h).  Whatever the FMU does to this process (a crash, an
 * abort, exit, an endless loop) leaves the simulating process standing.
 *
 * Usage: cosim-worker FD BINARY VERSION MODEL_IDENTIFIER PARENT_PID [MEMORY_LIMIT]
 *        cosim-worker --probe BINARY PREFIX NAME...   (prints the NAMEs the binary exports)
 *
 * With MEMORY_LIMIT (bytes), the worker ends itself with status
 * EXIT_MEMORY, after saying so in the log ring, once its resident memory
 * is past the limit at the end of a call; an allocation far past the
 * limit within one call fails (the data segment is capped at twice the
 * limit plus 64 MiB). */
#include "channel.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

typedef int (*fn_c)(void *);

static int fd, version;
static ChHeader *ch;
static uint64_t mapped;
static void *lib, *comp;
static char prefix[256];
static const char *load_error;
static uint64_t memory_limit;      /* bytes of resident memory; 0: no limit */
static int statm = -1;             /* /proc/self/statm, with a memory limit */

#define EXIT_MEMORY 86             /* the status of a worker past its memory limit */

static unsigned char *out;
static size_t out_len, out_cap;

static void *out_put(size_t n) {
    n = ch_pad8(n);
    if (out_len + n > out_cap) {
        size_t cap = out_cap ? out_cap : 65536;
        while (cap < out_len + n) cap *= 2;
        unsigned char *grown = realloc(out, cap);
        if (!grown) { fprintf(stderr, "cosim-worker: out of memory\n"); _exit(70); }
        out = grown;
        out_cap = cap;
    }
    void *p = out + out_len;
    memset(p, 0, n);
    out_len += n;
    return p;
}

typedef struct { const unsigned char *p; size_t n, at; } Rd;

static const void *rd(Rd *r, size_t n) {
    const void *p = r->p + r->at;
    r->at += ch_pad8(n);
    return p;
}
static uint32_t rd_u32(Rd *r) { uint32_t v; memcpy(&v, rd(r, 4), 4); return v; }
static uint64_t rd_u64(Rd *r) { uint64_t v; memcpy(&v, rd(r, 8), 8); return v; }
static double rd_f64(Rd *r) { double v; memcpy(&v, rd(r, 8), 8); return v; }
static const char *rd_str(Rd *r) { uint32_t n = rd_u32(r); return n ? (const char *)rd(r, n) : NULL; }

/* -- the FMU's log, written straight into the shared ring so that the last
 *    lines survive the process ---------------------------------------------- */

static void log_text(int status, const char *category, const char *text) {
    uint32_t k = atomic_load(&ch->log_count);
    ChLog *slot = &ch->log[k % CH_LOG_SLOTS];
    slot->status = status;
    snprintf(slot->category, sizeof slot->category, "%s", category ? category : "");
    snprintf(slot->text, sizeof slot->text, "%s", text ? text : "");
    atomic_store(&ch->log_count, k + 1);
}

static void log_format(int status, const char *category, const char *format, va_list args) {
    char text[CH_LOG_TEXT];
    vsnprintf(text, sizeof text, format ? format : "", args);
    log_text(status, category, text);
}

static void logger2(void *env, const char *instance, int status, const char *category,
                    const char *message, ...) {
    (void)env; (void)instance;
    va_list args;
    va_start(args, message);
    log_format(status, category, message, args);
    va_end(args);
}

static void logger3(void *env, int status, const char *category, const char *message) {
    (void)env;
    log_text(status, category, message);
}

/* -- functions of the real binary ------------------------------------------- */

static void *sym(const char *name) {
    char full[512];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    return lib ? dlsym(lib, full) : NULL;
}

/* Functions looked up once: a step calls a few of them, and dlsym costs
 * more than the rest of a round trip. */
#define CACHE_SLOTS 256
static struct { char name[64]; void *f; } cache[CACHE_SLOTS];

static void *need(const char *name) {
    unsigned h = 2166136261u;
    for (const char *c = name; *c; c++) h = (h ^ (unsigned char)*c) * 16777619u;
    for (unsigned k = 0; k < CACHE_SLOTS; k++) {
        unsigned slot = (h + k) % CACHE_SLOTS;
        if (!cache[slot].name[0]) {
            void *f = sym(name);
            if (f && strlen(name) < sizeof cache[slot].name) {
                strcpy(cache[slot].name, name);
                cache[slot].f = f;
            }
            if (f) return f;
            break;
        }
        if (strcmp(cache[slot].name, name) == 0)
            return cache[slot].f;
    }
    void *f = sym(name);
    if (!f) {
        char text[600];
        snprintf(text, sizeof text, "the FMU binary does not export %s%s", prefix, name);
        log_text(3, "cosim", text);
    }
    return f;
}

static const char *const TYPES2[VT_COUNT] = {
    [VT_FLOAT64] = "Real", [VT_INT32] = "Integer", [VT_BOOL] = "Boolean", [VT_STRING] = "String"};
static const char *const TYPES3[VT_COUNT] = {
    "Float64", "Float32", "Int8", "UInt8", "Int16", "UInt16", "Int32", "UInt32", "Int64",
    "UInt64", "Boolean", "String", "Binary"};

static void *value_function(const char *action, uint32_t vt) {
    static void *found[2][VT_COUNT];
    char name[64];
    if (vt >= VT_COUNT) return NULL;
    void **slot = &found[action[0] == 'S'][vt];
    if (*slot) return *slot;
    if (version == 3)
        snprintf(name, sizeof name, "fmi3%s%s", action, TYPES3[vt]);
    else if (TYPES2[vt])
        snprintf(name, sizeof name, version == 2 ? "fmi2%s%s" : "fmi%s%s", action, TYPES2[vt]);
    else
        return NULL;
    return *slot = need(name);
}

static const char *fname(const char *fmi1, const char *fmi2, const char *fmi3) {
    return version == 1 ? fmi1 : version == 2 ? fmi2 : fmi3;
}

/* -- one record each ---------------------------------------------------------- */

static int do_instantiate(Rd *r) {
    const char *name = rd_str(r), *token = rd_str(r), *resources = rd_str(r);
    uint32_t a = rd_u32(r), b = rd_u32(r), c = rd_u32(r), d = rd_u32(r);
    if (!lib) { log_text(3, "cosim", load_error); return 3; }
    if (version == 2) {
        static struct { void *logger, *allocate, *free, *step_finished, *env; } callbacks;
        callbacks.logger = (void *)logger2;
        callbacks.allocate = (void *)calloc;
        callbacks.free = (void *)free;
        void *(*f)(const char *, int, const char *, const char *, const void *, int, int) =
            need("fmi2Instantiate");
        if (f) comp = f(name, (int)a, token, resources, &callbacks, (int)b, (int)c);
    } else if (version == 3) {
        void *(*f)(const char *, const char *, const char *, bool, bool, bool, bool,
                   const uint32_t *, size_t, void *, void *, void *) =
            need("fmi3InstantiateCoSimulation");
        if (f) comp = f(name, token, resources, a, b, c, d, NULL, 0, NULL, (void *)logger3, NULL);
    } else {
        struct { void *logger, *allocate, *free, *step_finished; } callbacks1 = {
            (void *)logger2, (void *)calloc, (void *)free, NULL};
        double timeout = rd_f64(r);
        const char *mime = rd_str(r);
        void *(*f)(const char *, const char *, const char *, const char *, double, char, char,
                   typeof(callbacks1), char) = need("fmiInstantiateSlave");
        if (f) comp = f(name, token, resources, mime, timeout, (char)a, (char)b, callbacks1, (char)c);
    }
    return comp ? 0 : 3;
}

static int do_values(Rd *r, int get) {
    uint32_t vt = rd_u32(r), nvr = rd_u32(r);
    uint64_t nvalues = rd_u64(r);
    const uint32_t *vrs = rd(r, 4ull * nvr);
    void *f = value_function(get ? "Get" : "Set", vt);
    if (!f) return 3;
    size_t size = ch_value_size(version, vt);
    if (vt == VT_STRING) {
        const char **values = calloc(nvalues ? nvalues : 1, sizeof *values);
        int status;
        if (!get)
            for (uint64_t i = 0; i < nvalues; i++) values[i] = rd_str(r);
        if (version == 3)
            status = ((int (*)(void *, const uint32_t *, size_t, const char **, size_t))f)(
                comp, vrs, nvr, values, nvalues);
        else
            status = ((int (*)(void *, const uint32_t *, size_t, const char **))f)(comp, vrs, nvr, values);
        if (get && status <= 1)
            for (uint64_t i = 0; i < nvalues; i++) {
                size_t n = values[i] ? strlen(values[i]) + 1 : 0;
                *(uint32_t *)out_put(4) = (uint32_t)n;
                if (n) memcpy(out_put(n), values[i], n);
            }
        free(values);
        return status;
    }
    if (vt == VT_BINARY) {
        size_t *sizes = calloc(nvalues ? nvalues : 1, sizeof *sizes);
        const unsigned char **values = calloc(nvalues ? nvalues : 1, sizeof *values);
        int status;
        if (!get) {
            for (uint64_t i = 0; i < nvalues; i++) sizes[i] = rd_u64(r);
            for (uint64_t i = 0; i < nvalues; i++) values[i] = rd(r, sizes[i]);
        }
        status = ((int (*)(void *, const uint32_t *, size_t, size_t *, const unsigned char **,
                           size_t))f)(comp, vrs, nvr, sizes, values, nvalues);
        if (get && status <= 1) {
            for (uint64_t i = 0; i < nvalues; i++) *(uint64_t *)out_put(8) = sizes[i];
            for (uint64_t i = 0; i < nvalues; i++)
                if (sizes[i]) memcpy(out_put(sizes[i]), values[i], sizes[i]);
        }
        free(sizes);
        free(values);
        return status;
    }
    if (get) {
        size_t at = out_len;
        out_put(nvalues * size);
        void *values = out + at;
        int status = version == 3
            ? ((int (*)(void *, const uint32_t *, size_t, void *, size_t))f)(comp, vrs, nvr, values, nvalues)
            : ((int (*)(void *, const uint32_t *, size_t, void *))f)(comp, vrs, nvr, values);
        if (status > 1) out_len = at;
        return status;
    }
    const void *values = rd(r, nvalues * size);
    return version == 3
        ? ((int (*)(void *, const uint32_t *, size_t, const void *, size_t))f)(comp, vrs, nvr, values, nvalues)
        : ((int (*)(void *, const uint32_t *, size_t, const void *))f)(comp, vrs, nvr, values);
}

static int do_step(Rd *r) {
    double t = rd_f64(r), h = rd_f64(r);
    uint32_t flag = rd_u32(r);
    static void *found;
    if (!found) found = need(fname("fmiDoStep", "fmi2DoStep", "fmi3DoStep"));
    if (version == 3) {
        int (*f)(void *, double, double, bool, bool *, bool *, bool *, double *) = found;
        bool event = false, terminate = false, early = false;
        double last = t + h;
        int status = f ? f(comp, t, h, flag, &event, &terminate, &early, &last) : 3;
        uint32_t *flags = out_put(16);
        flags[0] = event; flags[1] = terminate; flags[2] = early;
        memcpy(out_put(8), &last, 8);
        return status;
    }
    if (version == 2) {
        int (*f)(void *, double, double, int) = found;
        return f ? f(comp, t, h, (int)flag) : 3;
    }
    int (*f)(void *, double, double, char) = found;
    return f ? f(comp, t, h, (char)flag) : 3;
}

static int do_times(Rd *r, int op) {
    uint32_t tolerance_defined = rd_u32(r), stop_defined = rd_u32(r);
    double tolerance = rd_f64(r), start = rd_f64(r), stop = rd_f64(r);
    if (op == OP_INITIALIZE) {
        int (*f)(void *, double, char, double) = need("fmiInitializeSlave");
        return f ? f(comp, start, (char)stop_defined, stop) : 3;
    }
    if (version == 2) {
        int (*f)(void *, int, double, double, int, double) = need("fmi2SetupExperiment");
        return f ? f(comp, (int)tolerance_defined, tolerance, start, (int)stop_defined, stop) : 3;
    }
    int (*f)(void *, bool, double, double, bool, double) = need("fmi3EnterInitializationMode");
    return f ? f(comp, tolerance_defined, tolerance, start, stop_defined, stop) : 3;
}

static int do_state(Rd *r, int op) {
    uint64_t state = op == OP_DESERIALIZE ? 0 : rd_u64(r);
    void *s = (void *)(uintptr_t)state;
    const char *v2 = version == 2 ? "fmi2" : "fmi3";
    char name[64];
    int status;
    if (op == OP_GET_STATE || op == OP_FREE_STATE) {
        snprintf(name, sizeof name, "%s%s", v2, op == OP_GET_STATE
                 ? (version == 2 ? "GetFMUstate" : "GetFMUState")
                 : (version == 2 ? "FreeFMUstate" : "FreeFMUState"));
        int (*f)(void *, void **) = need(name);
        status = f ? f(comp, &s) : 3;
        *(uint64_t *)out_put(8) = (uint64_t)(uintptr_t)s;
        return status;
    }
    if (op == OP_SET_STATE) {
        snprintf(name, sizeof name, "%s%s", v2, version == 2 ? "SetFMUstate" : "SetFMUState");
        int (*f)(void *, void *) = need(name);
        return f ? f(comp, s) : 3;
    }
    if (op == OP_STATE_SIZE) {
        snprintf(name, sizeof name, "%s%s", v2, version == 2 ? "SerializedFMUstateSize"
                                                              : "SerializedFMUStateSize");
        int (*f)(void *, void *, size_t *) = need(name);
        size_t size = 0;
        status = f ? f(comp, s, &size) : 3;
        *(uint64_t *)out_put(8) = size;
        return status;
    }
    if (op == OP_SERIALIZE) {
        uint64_t size = rd_u64(r);
        snprintf(name, sizeof name, "%s%s", v2, version == 2 ? "SerializeFMUstate" : "SerializeFMUState");
        int (*f)(void *, void *, char *, size_t) = need(name);
        size_t at = out_len;
        out_put(size);
        status = f ? f(comp, s, (char *)out + at, size) : 3;
        return status;
    }
    uint64_t size = rd_u64(r);
    const char *data = rd(r, size);
    snprintf(name, sizeof name, "%s%s", v2, version == 2 ? "DeSerializeFMUstate" : "DeserializeFMUState");
    int (*f)(void *, const char *, size_t, void **) = need(name);
    s = NULL;
    status = f ? f(comp, data, size, &s) : 3;
    *(uint64_t *)out_put(8) = (uint64_t)(uintptr_t)s;
    return status;
}

static int do_clocks(Rd *r, int op) {
    uint32_t nvr = rd_u32(r);
    const uint32_t *vrs = rd(r, 4ull * nvr);
    if (op == OP_SET_CLOCK) {
        int (*f)(void *, const uint32_t *, size_t, const bool *) = need("fmi3SetClock");
        return f ? f(comp, vrs, nvr, rd(r, nvr)) : 3;
    }
    if (op == OP_GET_CLOCK) {
        int (*f)(void *, const uint32_t *, size_t, bool *) = need("fmi3GetClock");
        return f ? f(comp, vrs, nvr, out_put(nvr)) : 3;
    }
    double *values = out_put(8ull * nvr);
    if (op == OP_GET_SHIFT) {
        int (*f)(void *, const uint32_t *, size_t, double *) = need("fmi3GetShiftDecimal");
        return f ? f(comp, vrs, nvr, values) : 3;
    }
    int (*f)(void *, const uint32_t *, size_t, double *, int *) = need("fmi3GetIntervalDecimal");
    return f ? f(comp, vrs, nvr, values, out_put(4ull * nvr)) : 3;
}

static int do_derivatives(Rd *r, int op) {
    uint32_t nvr = rd_u32(r);
    uint64_t nvalues = rd_u64(r);
    const uint32_t *vrs = rd(r, 4ull * nvr);
    const int *orders = rd(r, 4ull * nvr);
    if (op == OP_INPUT_DERIVATIVES) {
        int (*f)(void *, const uint32_t *, size_t, const int *, const double *) =
            need("fmi2SetRealInputDerivatives");
        return f ? f(comp, vrs, nvr, orders, rd(r, 8ull * nvr)) : 3;
    }
    double *values = out_put(8ull * nvalues);
    if (version == 2) {
        int (*f)(void *, const uint32_t *, size_t, const int *, double *) =
            need("fmi2GetRealOutputDerivatives");
        return f ? f(comp, vrs, nvr, orders, values) : 3;
    }
    int (*f)(void *, const uint32_t *, size_t, const int *, double *, size_t) =
        need("fmi3GetOutputDerivatives");
    return f ? f(comp, vrs, nvr, orders, values, nvalues) : 3;
}

static int do_misc(Rd *r, int op) {
    if (op == OP_REAL_STATUS) {
        int (*f)(void *, int, double *) = need(fname("fmiGetRealStatus", "fmi2GetRealStatus", ""));
        return f ? f(comp, (int)rd_u32(r), out_put(8)) : 3;
    }
    if (op == OP_BOOLEAN_STATUS) {
        int (*f)(void *, int, int *) = need("fmi2GetBooleanStatus");
        return f ? f(comp, (int)rd_u32(r), out_put(8)) : 3;
    }
    if (op == OP_UPDATE_DISCRETE_STATES) {
        int (*f)(void *, bool *, bool *, bool *, bool *, bool *, double *) =
            need("fmi3UpdateDiscreteStates");
        bool b[5] = {0};
        double next = 0.0;
        int status = f ? f(comp, &b[0], &b[1], &b[2], &b[3], &b[4], &next) : 3;
        uint32_t *flags = out_put(24);
        for (int i = 0; i < 5; i++) flags[i] = b[i];
        memcpy(out_put(8), &next, 8);
        return status;
    }
    /* OP_DEBUG_LOGGING */
    uint32_t on = rd_u32(r), n = rd_u32(r);
    if (version == 1) {
        int (*f)(void *, char) = need("fmiSetDebugLogging");
        return f ? f(comp, (char)on) : 3;
    }
    const char **categories = calloc(n ? n : 1, sizeof *categories);
    for (uint32_t i = 0; i < n; i++) categories[i] = rd_str(r);
    int (*f)(void *, int, size_t, const char **) = need(fname("", "fmi2SetDebugLogging",
                                                              "fmi3SetDebugLogging"));
    int status = f ? (version == 3
        ? ((int (*)(void *, bool, size_t, const char **))(void *)f)(comp, on, n, n ? categories : NULL)
        : f(comp, (int)on, n, n ? categories : NULL)) : 3;
    free(categories);
    return status;
}

static int do_simple(int op) {
    const char *name = NULL;
    switch (op) {
    case OP_ENTER_INIT: name = "fmi2EnterInitializationMode"; break;
    case OP_EXIT_INIT: name = fname("", "fmi2ExitInitializationMode", "fmi3ExitInitializationMode"); break;
    case OP_TERMINATE: name = fname("fmiTerminateSlave", "fmi2Terminate", "fmi3Terminate"); break;
    case OP_RESET: name = fname("fmiResetSlave", "fmi2Reset", "fmi3Reset"); break;
    case OP_ENTER_EVENT_MODE: name = "fmi3EnterEventMode"; break;
    case OP_ENTER_STEP_MODE: name = "fmi3EnterStepMode"; break;
    case OP_ENTER_CONFIGURATION: name = "fmi3EnterConfigurationMode"; break;
    case OP_EXIT_CONFIGURATION: name = "fmi3ExitConfigurationMode"; break;
    default: log_text(3, "cosim", "unknown request"); return 3;
    }
    fn_c f = need(name);
    return f ? f(comp) : 3;
}

static int run_record(uint32_t op, Rd *r) {
    switch (op) {
    case OP_INSTANTIATE: return do_instantiate(r);
    case OP_GET: return do_values(r, 1);
    case OP_SET: return do_values(r, 0);
    case OP_DO_STEP: return do_step(r);
    case OP_SETUP_EXPERIMENT: case OP_INITIALIZE: return do_times(r, op);
    case OP_ENTER_INIT:
        if (version == 3) return do_times(r, op);
        return do_simple(op);
    case OP_GET_STATE: case OP_SET_STATE: case OP_FREE_STATE: case OP_STATE_SIZE:
    case OP_SERIALIZE: case OP_DESERIALIZE: return do_state(r, op);
    case OP_GET_CLOCK: case OP_SET_CLOCK: case OP_GET_INTERVAL: case OP_GET_SHIFT:
        return do_clocks(r, op);
    case OP_INPUT_DERIVATIVES: case OP_OUTPUT_DERIVATIVES: return do_derivatives(r, op);
    case OP_REAL_STATUS: case OP_BOOLEAN_STATUS: case OP_UPDATE_DISCRETE_STATES:
    case OP_DEBUG_LOGGING: return do_misc(r, op);
    default: return do_simple(op);
    }
}

/* Run the records of one request; stop after the first that fails (above
 * warning): the records after it were sent on the assumption it would not. */
static int serve(void) {
    Rd all = {ch_data(ch), ch->length, 0};
    int freed = 0;
    out_len = 0;
    while (all.at + sizeof(ChRecord) <= all.n) {
        ChRecord record;
        memcpy(&record, all.p + all.at, sizeof record);
        all.at += sizeof record;
        Rd r = {all.p + all.at, record.length, 0};
        all.at += ch_pad8(record.length);
        size_t at = out_len;
        out_put(sizeof(ChReply));
        int status;
        if (record.op == OP_FREE) {
            void (*f)(void *) = need(fname("fmiFreeSlaveInstance", "fmi2FreeInstance", "fmi3FreeInstance"));
            if (f && comp) f(comp);
            comp = NULL;
            status = 0;
            freed = 1;
        } else {
            status = run_record(record.op, &r);
        }
        ChReply reply = {record.op, status, (uint32_t)(out_len - at - sizeof(ChReply)), 0};
        memcpy(out + at, &reply, sizeof reply);
        if (status > 1 || freed)
            break;
    }
    if (ch_reserve(fd, &ch, &mapped, out_len) != 0) {
        fprintf(stderr, "cosim-worker: cannot grow the channel to %zu bytes\n", out_len);
        _exit(71);
    }
    memcpy(ch_data(ch), out, out_len);
    ch->length = out_len;
    return freed;
}

static int probe(int argc, char **argv) {
    void *handle = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        fprintf(stderr, "%s\n", dlerror());
        return 2;
    }
    for (int i = 4; i < argc; i++) {
        char full[512];
        snprintf(full, sizeof full, "%s%s", argv[3], argv[i]);
        if (dlsym(handle, full))
            printf("%s\n", argv[i]);
    }
    fflush(stdout);
    _exit(0);          /* no destructors of the binary: only its exports were asked */
}

/* The simulating process gone, the worker ends, even while the FMU is inside
 * a call that never returns (the loop in main looks only between calls). */
static pid_t parent;

static void *watch_parent(void *unused) {
    (void)unused;
    for (;;) {
        struct timespec pause = {0, 250000000};
        nanosleep(&pause, NULL);
        if (getppid() != parent) _exit(0);
    }
    return NULL;
}

/* Cap the data segment as a backstop: the check after each call is the limit. */
static void limit_memory(const char *text) {
    memory_limit = strtoull(text, NULL, 10);
    if (!memory_limit) return;
    rlim_t cap = (rlim_t)memory_limit * 2 + ((rlim_t)64 << 20);
    struct rlimit data = {cap, cap};
    setrlimit(RLIMIT_DATA, &data);
    /* Resident memory now, read afresh after each call.  Not getrusage's
     * peak: a spawned process inherits the peak of the process it came from. */
    statm = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
}

static void check_memory(void) {
    char text[160];
    ssize_t n = statm >= 0 ? pread(statm, text, sizeof text - 1, 0) : -1;
    if (n <= 0) return;
    text[n] = 0;
    unsigned long long pages = 0, resident = 0;
    if (sscanf(text, "%llu %llu", &pages, &resident) != 2) return;
    uint64_t bytes = (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
    if (bytes <= memory_limit) return;
    snprintf(text, sizeof text, "cosim-worker: resident memory %.1f MiB is past memory_limit=%.1f MiB",
             bytes / 1048576.0, memory_limit / 1048576.0);
    log_text(4, "cosim", text);
    fflush(NULL);
    _exit(EXIT_MEMORY);
}

int main(int argc, char **argv) {
    if (argc >= 4 && strcmp(argv[1], "--probe") == 0)
        return probe(argc, argv);
    if (argc != 6 && argc != 7) {
        fprintf(stderr, "usage: cosim-worker FD BINARY VERSION MODEL_IDENTIFIER PARENT_PID "
                "[MEMORY_LIMIT]\n");
        return 64;
    }
    if (argc == 7) limit_memory(argv[6]);
    fd = atoi(argv[1]);
    version = argv[3][0] - '0';
    parent = (pid_t)atol(argv[5]);
    pthread_t watcher;
    if (pthread_create(&watcher, NULL, watch_parent, NULL) == 0)
        pthread_detach(watcher);
    if (version == 1)
        snprintf(prefix, sizeof prefix, "%s_", argv[4]);
    mapped = CH_INITIAL_SIZE;
    ch = ch_map(fd, mapped, NULL, 0);
    if (!ch) { perror("cosim-worker: mmap"); return 65; }
    if (ch_follow(fd, &ch, &mapped) != 0) return 65;
    lib = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
    if (!lib) load_error = dlerror();
    uint32_t served = atomic_load(&ch->rep);
    for (;;) {
        while (ch_wait(&ch->req, served + 1, &ch->worker_sleeps, ch->spin_ns, 1000000000ull))
            if (getppid() != parent)
                _exit(0);         /* the simulating process is gone */
        if (ch_follow(fd, &ch, &mapped) != 0) return 66;
        int freed = serve();
        if (memory_limit) check_memory();
        served++;
        ch_post(&ch->rep, served, &ch->proxy_sleeps);
        if (freed) {
            fflush(NULL);         /* what the FMU printed, as at a normal exit */
            _exit(0);             /* the binary's destructors are skipped: the instance is gone */
        }
    }
}
