/* Log callbacks handed to FMUs.  They never touch Python: messages go into a
 * per-instance ring buffer that Python drains between steps.  A token bucket
 * lets at most `rate` messages per second (in bursts of up to `rate`) into
 * the ring; messages over the rate, or arriving when the ring is full, are
 * only counted, before any formatting, so a chatty FMU can neither flood the
 * Python logger nor slow the step loop.  Errors pass the rate limit, and the
 * last error message is always kept for error reports.
 *
 * The environment pointer an FMU hands back to its logger is never trusted:
 * some exporters pass something else than what cosim gave them (their own
 * context, 0x1, NULL).  Every sink is registered while it lives, a message
 * goes to its sink only if the pointer is one of them, and all others go to
 * one process-wide "unrouted" sink, with the instance name the FMU passed,
 * which Python drains as well. */
#ifndef COSIM_LOGSINK_H
#define COSIM_LOGSINK_H

#include <pthread.h>
#include <stddef.h>

#define COSIM_LOG_CAPACITY 64
#define COSIM_LOG_MESSAGE 512
#define COSIM_LOG_INSTANCE 64
/* Messages per second the unrouted sink lets through. */
#define COSIM_LOG_UNROUTED_RATE 100.0

typedef struct {
    int status;
    char category[48];
    char message[COSIM_LOG_MESSAGE];
    /* Unrouted messages only: the instance name the FMU passed ("" if none)
     * and the environment pointer it gave. */
    char instance[COSIM_LOG_INSTANCE];
    unsigned long long environment;
} CosimLogEntry;

typedef struct CosimLogSink {
    pthread_mutex_t lock;
    int head, count;
    unsigned long long suppressed;   /* messages counted but not queued */
    double rate;                     /* messages per second let through; <= 0: no limit */
    double tokens;                   /* messages that may pass now, up to `rate` */
    double refilled_at;              /* monotonic seconds at the last refill */
    int has_error;
    char last_error[COSIM_LOG_MESSAGE];
    char last_error_instance[COSIM_LOG_INSTANCE];   /* unrouted sink: who logged last_error */
    CosimLogEntry *entries;   /* allocated at the first message: most instances never log */
    struct CosimLogSink *live_next;   /* the registry of live sinks */
} CosimLogSink;

/* `rate`: messages per second let into the ring; <= 0 for no limit.  The
 * sink is registered as live: loggers may deliver to it from now on. */
void cosim_log_init(CosimLogSink *sink, double rate);
/* Unregister the sink and free the ring; the sink itself belongs to the caller. */
void cosim_log_destroy(CosimLogSink *sink);
/* FMI 2 logger: componentEnvironment should be the sink. */
void cosim_log_fmi2(void *env, const char *instance, int status, const char *category,
                    const char *message, ...);
/* FMI 3 logger: instanceEnvironment should be the sink. */
void cosim_log_fmi3(void *env, int status, const char *category, const char *message);
/* The process-wide sink of messages whose environment is no live sink. */
CosimLogSink *cosim_log_unrouted(void);
/* Copy and clear the unrouted sink's last error if `instance` logged it;
 * return 0 otherwise. */
int cosim_log_take_unrouted_error(const char *instance, char *out, size_t size);
/* FMI 1 logger.  FMI 1.0 gives the logger no environment pointer, only the
 * component, so the sink is found in a registry of components; messages
 * logged during instantiation, before the component is known, go to the
 * sink set with cosim_fmi1_instantiating on the calling thread, and those of
 * any other component to the unrouted sink.  The message is a printf format
 * with its arguments. */
void cosim_log_fmi1(void *component, const char *instance, int status, const char *category,
                    const char *message, ...);
/* Route this thread's FMI 1 messages of unknown components to `sink` (NULL to stop). */
void cosim_fmi1_instantiating(CosimLogSink *sink);
/* Route messages of `component` to `sink`; return 0 when out of memory. */
int cosim_fmi1_register(void *component, CosimLogSink *sink);
/* Forget `component` if it still routes to `sink`. */
void cosim_fmi1_unregister(void *component, CosimLogSink *sink);
/* Pop the oldest entry into *out; return 0 when the ring is empty. */
int cosim_log_pop(CosimLogSink *sink, CosimLogEntry *out);
/* Return and reset the count of messages suppressed (over the rate or ring full). */
unsigned long long cosim_log_take_suppressed(CosimLogSink *sink);
/* Copy and clear the last error message; return 0 if there was none. */
int cosim_log_take_error(CosimLogSink *sink, char *out, size_t size);

/* Memory functions for FMI 2 callbacks. */
void *cosim_calloc(size_t n, size_t size);
void cosim_free(void *ptr);

/* FMI 2 callback functions routing the log into `sink`; free with cosim_free. */
void *cosim_fmi2_callbacks_new(CosimLogSink *sink);

#endif
