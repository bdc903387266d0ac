#include "logsink.h"

#include "fmi2FunctionTypes.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double monotonic_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The registry of live sinks: a chained hash table of sink addresses, linked
 * through the sinks themselves.  Loggers take the read lock for as long as
 * they write into a sink, so a sink is never destroyed under them. */
#define LIVE_BUCKETS 1024
static CosimLogSink *live_sinks[LIVE_BUCKETS];
static pthread_rwlock_t live_lock = PTHREAD_RWLOCK_INITIALIZER;

static size_t live_bucket(const void *sink) { return ((size_t)sink >> 4) % LIVE_BUCKETS; }

/* Whether `env` is a live sink; compares addresses only, never dereferences
 * `env`.  The read lock is held. */
static int is_live(const void *env) {
    if (!env) return 0;
    for (CosimLogSink *s = live_sinks[live_bucket(env)]; s; s = s->live_next) {
        if (s == env) return 1;
    }
    return 0;
}

static void init_sink(CosimLogSink *sink, double rate) {
    sink->head = sink->count = sink->has_error = 0;
    sink->suppressed = 0;
    sink->rate = rate;
    sink->tokens = rate;
    sink->refilled_at = monotonic_seconds();
    sink->last_error[0] = '\0';
    sink->last_error_instance[0] = '\0';
    sink->entries = NULL;
    sink->live_next = NULL;
    pthread_mutex_init(&sink->lock, NULL);
}

void cosim_log_init(CosimLogSink *sink, double rate) {
    init_sink(sink, rate);
    size_t b = live_bucket(sink);
    pthread_rwlock_wrlock(&live_lock);
    sink->live_next = live_sinks[b];
    live_sinks[b] = sink;
    pthread_rwlock_unlock(&live_lock);
}

void cosim_log_destroy(CosimLogSink *sink) {
    pthread_rwlock_wrlock(&live_lock);
    for (CosimLogSink **link = &live_sinks[live_bucket(sink)]; *link; link = &(*link)->live_next) {
        if (*link == sink) {
            *link = sink->live_next;
            break;
        }
    }
    pthread_rwlock_unlock(&live_lock);
    free(sink->entries);
    sink->entries = NULL;
    pthread_mutex_destroy(&sink->lock);
}

static CosimLogSink unrouted;
static pthread_once_t unrouted_once = PTHREAD_ONCE_INIT;

static void init_unrouted(void) { init_sink(&unrouted, COSIM_LOG_UNROUTED_RATE); }

CosimLogSink *cosim_log_unrouted(void) {
    pthread_once(&unrouted_once, init_unrouted);
    return &unrouted;
}

/* Whether a message of `status` may be queued now; the lock is held. */
static int admit(CosimLogSink *sink, int status) {
    if (sink->rate > 0.0) {
        double now = monotonic_seconds();
        sink->tokens += (now - sink->refilled_at) * sink->rate;
        if (sink->tokens > sink->rate) sink->tokens = sink->rate;
        sink->refilled_at = now;
        if (sink->tokens < 1.0 && status < 3) return 0;
        if (sink->tokens >= 1.0) sink->tokens -= 1.0;
    }
    if (!sink->entries) sink->entries = malloc(COSIM_LOG_CAPACITY * sizeof(CosimLogEntry));
    return sink->entries && sink->count < COSIM_LOG_CAPACITY;
}

/* Format and queue one message; it is formatted only if it is kept.
 * `instance` and `env` are recorded for the unrouted sink (NULL otherwise). */
static void push(CosimLogSink *sink, const char *instance, void *env, int status,
                 const char *category, const char *format, va_list args) {
    pthread_mutex_lock(&sink->lock);
    if (status >= 3) {  /* error or fatal */
        va_list copy;
        va_copy(copy, args);
        vsnprintf(sink->last_error, sizeof sink->last_error, format, copy);
        va_end(copy);
        snprintf(sink->last_error_instance, sizeof sink->last_error_instance, "%s",
                 instance ? instance : "");
        sink->has_error = 1;
    }
    if (!admit(sink, status)) {
        sink->suppressed++;
    } else {
        CosimLogEntry *e = &sink->entries[(sink->head + sink->count) % COSIM_LOG_CAPACITY];
        e->status = status;
        snprintf(e->category, sizeof e->category, "%s", category ? category : "");
        vsnprintf(e->message, sizeof e->message, format, args);
        snprintf(e->instance, sizeof e->instance, "%s", instance ? instance : "");
        e->environment = (unsigned long long)(size_t)env;
        sink->count++;
    }
    pthread_mutex_unlock(&sink->lock);
}

/* Queue a message into `env` if it is a live sink, else into the unrouted
 * sink with the instance name the FMU passed. */
static void deliver(void *env, const char *instance, int status, const char *category,
                    const char *format, va_list args) {
    CosimLogSink *other = cosim_log_unrouted();
    pthread_rwlock_rdlock(&live_lock);
    if (is_live(env)) {
        push((CosimLogSink *)env, NULL, NULL, status, category, format, args);
    } else {
        push(other, instance, env, status, category, format, args);
    }
    pthread_rwlock_unlock(&live_lock);
}

void cosim_log_fmi2(void *env, const char *instance, int status, const char *category,
                    const char *message, ...) {
    va_list args;
    va_start(args, message);
    deliver(env, instance, status, category, message ? message : "", args);
    va_end(args);
}

static void deliver_text(void *env, int status, const char *category, const char *format, ...) {
    va_list args;
    va_start(args, format);
    deliver(env, NULL, status, category, format, args);
    va_end(args);
}

/* FMI 1 components -> sinks: a chained hash table under one lock.  Logging
 * is rare next to stepping, so one lock for every instance is enough. */
typedef struct Fmi1Route {
    void *component;
    CosimLogSink *sink;
    struct Fmi1Route *next;
} Fmi1Route;

#define FMI1_BUCKETS 1024
static Fmi1Route *fmi1_routes[FMI1_BUCKETS];
static pthread_mutex_t fmi1_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread CosimLogSink *fmi1_instantiating;

static size_t fmi1_bucket(void *component) {
    return ((size_t)component >> 4) % FMI1_BUCKETS;
}

void cosim_fmi1_instantiating(CosimLogSink *sink) { fmi1_instantiating = sink; }

int cosim_fmi1_register(void *component, CosimLogSink *sink) {
    size_t b = fmi1_bucket(component);
    pthread_mutex_lock(&fmi1_lock);
    Fmi1Route *route = fmi1_routes[b];
    while (route && route->component != component) route = route->next;
    /* An address freed by another instance may come back: the newest owner wins. */
    if (!route) {
        route = malloc(sizeof *route);
        if (route) {
            route->component = component;
            route->next = fmi1_routes[b];
            fmi1_routes[b] = route;
        }
    }
    if (route) route->sink = sink;
    pthread_mutex_unlock(&fmi1_lock);
    return route != NULL;
}

void cosim_fmi1_unregister(void *component, CosimLogSink *sink) {
    size_t b = fmi1_bucket(component);
    pthread_mutex_lock(&fmi1_lock);
    for (Fmi1Route **link = &fmi1_routes[b]; *link; link = &(*link)->next) {
        Fmi1Route *route = *link;
        if (route->component == component) {
            if (route->sink == sink) {
                *link = route->next;
                free(route);
            }
            break;
        }
    }
    pthread_mutex_unlock(&fmi1_lock);
}

static CosimLogSink *fmi1_sink(void *component) {
    CosimLogSink *sink = NULL;
    if (component) {
        pthread_mutex_lock(&fmi1_lock);
        for (Fmi1Route *r = fmi1_routes[fmi1_bucket(component)]; r; r = r->next) {
            if (r->component == component) {
                sink = r->sink;
                break;
            }
        }
        pthread_mutex_unlock(&fmi1_lock);
    }
    return sink ? sink : fmi1_instantiating;
}

void cosim_log_fmi1(void *component, const char *instance, int status, const char *category,
                    const char *message, ...) {
    va_list args;
    va_start(args, message);
    /* An unknown component is recorded as the environment the FMU gave. */
    CosimLogSink *sink = fmi1_sink(component);
    deliver(sink ? (void *)sink : component, instance, status, category,
            message ? message : "", args);
    va_end(args);
}

void cosim_log_fmi3(void *env, int status, const char *category, const char *message) {
    deliver_text(env, status, category, "%s", message ? message : "");
}

int cosim_log_pop(CosimLogSink *sink, CosimLogEntry *out) {
    int popped = 0;
    pthread_mutex_lock(&sink->lock);
    if (sink->count > 0) {
        *out = sink->entries[sink->head];
        sink->head = (sink->head + 1) % COSIM_LOG_CAPACITY;
        sink->count--;
        popped = 1;
    }
    pthread_mutex_unlock(&sink->lock);
    return popped;
}

unsigned long long cosim_log_take_suppressed(CosimLogSink *sink) {
    pthread_mutex_lock(&sink->lock);
    unsigned long long suppressed = sink->suppressed;
    sink->suppressed = 0;
    pthread_mutex_unlock(&sink->lock);
    return suppressed;
}

int cosim_log_take_error(CosimLogSink *sink, char *out, size_t size) {
    pthread_mutex_lock(&sink->lock);
    int had = sink->has_error;
    if (had) snprintf(out, size, "%s", sink->last_error);
    sink->has_error = 0;
    pthread_mutex_unlock(&sink->lock);
    return had;
}

int cosim_log_take_unrouted_error(const char *instance, char *out, size_t size) {
    CosimLogSink *sink = cosim_log_unrouted();
    pthread_mutex_lock(&sink->lock);
    int had = sink->has_error && instance && instance[0] &&
              strncmp(sink->last_error_instance, instance, sizeof sink->last_error_instance - 1) == 0;
    if (had) {
        snprintf(out, size, "%s", sink->last_error);
        sink->has_error = 0;
    }
    pthread_mutex_unlock(&sink->lock);
    return had;
}

void *cosim_calloc(size_t n, size_t size) { return calloc(n, size); }
void cosim_free(void *ptr) { free(ptr); }

void *cosim_fmi2_callbacks_new(CosimLogSink *sink) {
    /* The header declares the fields const: build the struct, then copy it. */
    fmi2CallbackFunctions init = {
        (fmi2CallbackLogger)cosim_log_fmi2, cosim_calloc, cosim_free, NULL, sink};
    fmi2CallbackFunctions *callbacks = malloc(sizeof *callbacks);
    if (callbacks) memcpy(callbacks, &init, sizeof init);
    return callbacks;
}
