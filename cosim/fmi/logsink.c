#include "logsink.h"

#include "fmi2FunctionTypes.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cosim_log_init(CosimLogSink *sink) {
    sink->head = sink->count = sink->has_error = 0;
    sink->dropped = 0;
    sink->last_error[0] = '\0';
    sink->entries = NULL;
    pthread_mutex_init(&sink->lock, NULL);
}

void cosim_log_destroy(CosimLogSink *sink) {
    free(sink->entries);
    sink->entries = NULL;
    pthread_mutex_destroy(&sink->lock);
}

static void push(CosimLogSink *sink, int status, const char *category, const char *text) {
    pthread_mutex_lock(&sink->lock);
    if (status >= 3) {  /* error or fatal */
        snprintf(sink->last_error, sizeof sink->last_error, "%s", text);
        sink->has_error = 1;
    }
    if (!sink->entries) sink->entries = malloc(COSIM_LOG_CAPACITY * sizeof(CosimLogEntry));
    if (!sink->entries || sink->count == COSIM_LOG_CAPACITY) {
        sink->dropped++;
    } else {
        CosimLogEntry *e = &sink->entries[(sink->head + sink->count) % COSIM_LOG_CAPACITY];
        e->status = status;
        snprintf(e->category, sizeof e->category, "%s", category ? category : "");
        snprintf(e->message, sizeof e->message, "%s", text);
        sink->count++;
    }
    pthread_mutex_unlock(&sink->lock);
}

void cosim_log_fmi2(void *env, const char *instance, int status, const char *category,
                    const char *message, ...) {
    (void)instance;
    if (!env) return;
    char text[COSIM_LOG_MESSAGE];
    va_list args;
    va_start(args, message);
    vsnprintf(text, sizeof text, message ? message : "", args);
    va_end(args);
    push((CosimLogSink *)env, status, category, text);
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
    (void)instance;
    CosimLogSink *sink = fmi1_sink(component);
    if (!sink) return;
    char text[COSIM_LOG_MESSAGE];
    va_list args;
    va_start(args, message);
    vsnprintf(text, sizeof text, message ? message : "", args);
    va_end(args);
    push(sink, status, category, text);
}

void cosim_log_fmi3(void *env, int status, const char *category, const char *message) {
    if (!env) return;
    push((CosimLogSink *)env, status, category, message ? message : "");
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

unsigned long long cosim_log_take_dropped(CosimLogSink *sink) {
    pthread_mutex_lock(&sink->lock);
    unsigned long long dropped = sink->dropped;
    sink->dropped = 0;
    pthread_mutex_unlock(&sink->lock);
    return dropped;
}

int cosim_log_take_error(CosimLogSink *sink, char *out, size_t size) {
    pthread_mutex_lock(&sink->lock);
    int had = sink->has_error;
    if (had) snprintf(out, size, "%s", sink->last_error);
    sink->has_error = 0;
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
