/* The FMI functions of the proxy (see proxy.c): FMI 2 and FMI 3
 * co-simulation under their standard names, FMI 1 under "cosimProxy_". */
#include "proxy.h"

#include <stdio.h>
#include <stdlib.h>

/* -- FMI 2 ------------------------------------------------------------------------ */

typedef struct { void *logger, *allocate, *free, *step_finished, *env; } Callbacks2;

EXPORT void *fmi2Instantiate(const char *name, int type, const char *token, const char *resources,
                             const Callbacks2 *callbacks, int visible, int logging_on) {
    uint32_t flags[4] = {(uint32_t)type, (uint32_t)visible, (uint32_t)logging_on, 0};
    return instantiate(name, callbacks ? callbacks->logger : NULL, callbacks ? callbacks->env : NULL,
                       token, resources, flags, 0, NULL);
}
EXPORT void fmi2FreeInstance(void *c) { free_instance(c, "fmi2FreeInstance"); }

static int times(void *c, uint32_t op, int tolerance_defined, double tolerance, double start,
                 int stop_defined, double stop, const char *name) {
    Proxy *p = c;
    size_t at = begin(p, op);
    put_u32(p, (uint32_t)tolerance_defined);
    put_u32(p, (uint32_t)stop_defined);
    put_f64(p, tolerance);
    put_f64(p, start);
    put_f64(p, stop);
    end(p, at);
    return call(p, name, NULL, 0);
}

EXPORT int fmi2SetupExperiment(void *c, int tolerance_defined, double tolerance, double start,
                               int stop_defined, double stop) {
    return times(c, OP_SETUP_EXPERIMENT, tolerance_defined, tolerance, start, stop_defined, stop,
                 "fmi2SetupExperiment");
}
EXPORT int fmi2EnterInitializationMode(void *c) { return simple(c, OP_ENTER_INIT, "fmi2EnterInitializationMode"); }
EXPORT int fmi2ExitInitializationMode(void *c) { return simple(c, OP_EXIT_INIT, "fmi2ExitInitializationMode"); }
EXPORT int fmi2Terminate(void *c) { return simple(c, OP_TERMINATE, "fmi2Terminate"); }
EXPORT int fmi2Reset(void *c) { return simple(c, OP_RESET, "fmi2Reset"); }

static int step(void *c, double t, double h, uint32_t flag, const char *name, Answer *a) {
    Proxy *p = c;
    size_t at = begin(p, OP_DO_STEP);
    put_f64(p, t);
    put_f64(p, h);
    put_u32(p, flag);
    end(p, at);
    return call(p, name, a, 1);
}

EXPORT int fmi2DoStep(void *c, double t, double h, int no_set_prior) {
    return step(c, t, h, (uint32_t)no_set_prior, "fmi2DoStep", NULL);
}

#define VALUES2(Type, vt, ctype)                                                              \
    EXPORT int fmi2Get##Type(void *c, const uint32_t *vr, size_t n, ctype *v) {                \
        return get_values(c, vt, vr, n, (void *)v, n, NULL);                                   \
    }                                                                                          \
    EXPORT int fmi2Set##Type(void *c, const uint32_t *vr, size_t n, const ctype *v) {          \
        return set_values(c, vt, vr, n, (const void *)v, n, NULL);                             \
    }
VALUES2(Real, VT_FLOAT64, double)
VALUES2(Integer, VT_INT32, int)
VALUES2(Boolean, VT_BOOL, int)
VALUES2(String, VT_STRING, const char *)

/* FMU state handles as the importer sees them carry the worker's generation
 * in their top 16 bits (which user-space addresses leave clear), so that a
 * handle of an earlier worker of the instance, whose states died with it,
 * is told apart (0 in *valid). */
static uint64_t tag_state(const Proxy *p, uint64_t state) {
    return state && !(state >> 48) ? state | (uint64_t)p->generation << 48 : state;
}

static uint64_t untag_state(const Proxy *p, uint64_t handle, int *valid) {
    *valid = !handle || !(handle >> 48) || (handle >> 48) == p->generation;
    return *valid ? handle & ((1ull << 48) - 1) : 0;
}

/* The worker's handle of an FMU state; 0 in *valid (with the reason logged
 * to the importer) for one saved in an earlier worker of the instance. */
static uint64_t state_of(Proxy *p, void *state, const char *name, int *valid) {
    uint64_t s = untag_state(p, (uint64_t)(uintptr_t)state, valid);
    if (!*valid) {
        char text[160];
        snprintf(text, sizeof text, "%s: the FMU state was saved in a worker process that has "
                 "since been replaced", name);
        emit(p, ERROR, "cosim", text);
    }
    return s;
}

static int state_call(void *c, uint32_t op, void **state, const char *name) {
    Proxy *p = c;
    int valid;
    uint64_t handle = untag_state(p, (uint64_t)(uintptr_t)*state, &valid);
    if (!valid && op == OP_FREE_STATE) {    /* it died with its worker */
        *state = NULL;
        return 0;
    }
    if (!valid && op == OP_SET_STATE) {
        state_of(p, *state, name, &valid);
        return ERROR;
    }
    size_t at = begin(p, op);
    put_u64(p, handle);                     /* a stale one to get into: a new state */
    end(p, at);
    Answer a;
    int status = call(p, name, &a, 0);
    if (status <= 1 && op != OP_SET_STATE && a.length >= 8) {
        uint64_t v;
        memcpy(&v, a.data, 8);
        *state = (void *)(uintptr_t)tag_state(p, v);
    }
    return status;
}

static int state_size(void *c, void *state, size_t *size, const char *name) {
    Proxy *p = c;
    int valid;
    uint64_t s = state_of(p, state, name, &valid);
    if (!valid) return ERROR;
    size_t at = begin(p, OP_STATE_SIZE);
    put_u64(p, s);
    end(p, at);
    Answer a;
    int status = call(p, name, &a, 0);
    if (status <= 1) { uint64_t v; memcpy(&v, a.data, 8); *size = v; }
    return status;
}

static int serialize(void *c, void *state, char *data, size_t size, const char *name) {
    Proxy *p = c;
    int valid;
    uint64_t s = state_of(p, state, name, &valid);
    if (!valid) return ERROR;
    size_t at = begin(p, OP_SERIALIZE);
    put_u64(p, s);
    put_u64(p, size);
    end(p, at);
    Answer a;
    int status = call(p, name, &a, 0);
    if (status <= 1) memcpy(data, a.data, size < a.length ? size : a.length);
    return status;
}

static int deserialize(void *c, const char *data, size_t size, void **state, const char *name) {
    Proxy *p = c;
    size_t at = begin(p, OP_DESERIALIZE);
    put_u64(p, size);
    put_bytes(p, data, size);
    end(p, at);
    Answer a;
    int status = call(p, name, &a, 0);
    if (status <= 1) { uint64_t v; memcpy(&v, a.data, 8); *state = (void *)(uintptr_t)tag_state(p, v); }
    return status;
}

EXPORT int fmi2GetFMUstate(void *c, void **s) { return state_call(c, OP_GET_STATE, s, "fmi2GetFMUstate"); }
EXPORT int fmi2SetFMUstate(void *c, void *s) { return state_call(c, OP_SET_STATE, &s, "fmi2SetFMUstate"); }
EXPORT int fmi2FreeFMUstate(void *c, void **s) { return state_call(c, OP_FREE_STATE, s, "fmi2FreeFMUstate"); }
EXPORT int fmi2SerializedFMUstateSize(void *c, void *s, size_t *n) { return state_size(c, s, n, "fmi2SerializedFMUstateSize"); }
EXPORT int fmi2SerializeFMUstate(void *c, void *s, char *d, size_t n) { return serialize(c, s, d, n, "fmi2SerializeFMUstate"); }
EXPORT int fmi2DeSerializeFMUstate(void *c, const char *d, size_t n, void **s) { return deserialize(c, d, n, s, "fmi2DeSerializeFMUstate"); }

static int debug_logging(void *c, int on, size_t n, const char *const *categories, const char *name) {
    Proxy *p = c;
    size_t at = begin(p, OP_DEBUG_LOGGING);
    put_u32(p, (uint32_t)on);
    put_u32(p, (uint32_t)n);
    for (size_t i = 0; i < n; i++) put_str(p, categories[i]);
    end(p, at);
    return call(p, name, NULL, 0);
}

EXPORT int fmi2SetDebugLogging(void *c, int on, size_t n, const char *const *categories) {
    return debug_logging(c, on, n, categories, "fmi2SetDebugLogging");
}

EXPORT int fmi2SetRealInputDerivatives(void *c, const uint32_t *vr, size_t n, const int *order,
                                       const double *v) {
    Proxy *p = c;
    if (p->fate != FATE_ALIVE) return FATAL;
    p->cached = 0;
    p->after_step = 0;
    size_t at = begin(p, OP_INPUT_DERIVATIVES);
    put_u32(p, (uint32_t)n);
    put_u64(p, n);
    put_bytes(p, vr, 4 * n);
    put_bytes(p, order, 4 * n);
    put_bytes(p, v, 8 * n);
    end(p, at);
    p->pending = grow(p->pending, &p->pending_cap, p->npending + 1, sizeof *p->pending);
    p->pending[p->npending++] = "fmi2SetRealInputDerivatives";
    return 0;
}

static int output_derivatives(void *c, const uint32_t *vr, size_t n, const int *order, double *v,
                              size_t nvalues, const char *name) {
    Proxy *p = c;
    size_t at = begin(p, OP_OUTPUT_DERIVATIVES);
    put_u32(p, (uint32_t)n);
    put_u64(p, nvalues);
    put_bytes(p, vr, 4 * n);
    put_bytes(p, order, 4 * n);
    end(p, at);
    Answer a;
    int status = call(p, name, &a, 0);
    if (status <= 1) memcpy(v, a.data, 8 * nvalues);
    return status;
}

EXPORT int fmi2GetRealOutputDerivatives(void *c, const uint32_t *vr, size_t n, const int *order,
                                        double *v) {
    return output_derivatives(c, vr, n, order, v, n, "fmi2GetRealOutputDerivatives");
}

static int status_query(void *c, uint32_t op, int kind, void *value, size_t size, const char *name) {
    Proxy *p = c;
    size_t at = begin(p, op);
    put_u32(p, (uint32_t)kind);
    end(p, at);
    Answer a;
    int status = call(p, name, &a, 0);
    if (status <= 1) memcpy(value, a.data, size);
    return status;
}

EXPORT int fmi2GetRealStatus(void *c, int kind, double *v) {
    return status_query(c, OP_REAL_STATUS, kind, v, 8, "fmi2GetRealStatus");
}
EXPORT int fmi2GetBooleanStatus(void *c, int kind, int *v) {
    return status_query(c, OP_BOOLEAN_STATUS, kind, v, 4, "fmi2GetBooleanStatus");
}

/* -- FMI 3 ------------------------------------------------------------------------ */

EXPORT void *fmi3InstantiateCoSimulation(const char *name, const char *token, const char *resources,
                                         bool visible, bool logging_on, bool event_mode,
                                         bool early_return, const uint32_t *required,
                                         size_t nrequired, void *env, void *log_message,
                                         void *intermediate_update) {
    (void)required; (void)nrequired; (void)intermediate_update;   /* cosim asks for neither */
    uint32_t flags[4] = {visible, logging_on, event_mode, early_return};
    return instantiate(name, log_message, env, token, resources, flags, 0, NULL);
}
EXPORT void fmi3FreeInstance(void *c) { free_instance(c, "fmi3FreeInstance"); }
EXPORT int fmi3EnterInitializationMode(void *c, bool tolerance_defined, double tolerance,
                                       double start, bool stop_defined, double stop) {
    return times(c, OP_ENTER_INIT, tolerance_defined, tolerance, start, stop_defined, stop,
                 "fmi3EnterInitializationMode");
}
EXPORT int fmi3ExitInitializationMode(void *c) { return simple(c, OP_EXIT_INIT, "fmi3ExitInitializationMode"); }
EXPORT int fmi3Terminate(void *c) { return simple(c, OP_TERMINATE, "fmi3Terminate"); }
EXPORT int fmi3Reset(void *c) { return simple(c, OP_RESET, "fmi3Reset"); }
EXPORT int fmi3EnterEventMode(void *c) { return simple(c, OP_ENTER_EVENT_MODE, "fmi3EnterEventMode"); }
EXPORT int fmi3EnterStepMode(void *c) { return simple(c, OP_ENTER_STEP_MODE, "fmi3EnterStepMode"); }
EXPORT int fmi3EnterConfigurationMode(void *c) { return simple(c, OP_ENTER_CONFIGURATION, "fmi3EnterConfigurationMode"); }
EXPORT int fmi3ExitConfigurationMode(void *c) { return simple(c, OP_EXIT_CONFIGURATION, "fmi3ExitConfigurationMode"); }

EXPORT int fmi3DoStep(void *c, double t, double h, bool no_set_prior, bool *event, bool *terminate,
                      bool *early, double *last) {
    Answer a = {NULL, 0};
    int status = step(c, t, h, no_set_prior, "fmi3DoStep", &a);
    if (a.length >= 24) {          /* the worker answers these even when the step failed */
        uint32_t flags[4];
        memcpy(flags, a.data, 16);
        *event = flags[0]; *terminate = flags[1]; *early = flags[2];
        memcpy(last, a.data + 16, 8);
    }
    return status;
}

#define VALUES3(Type, vt, ctype)                                                                   \
    EXPORT int fmi3Get##Type(void *c, const uint32_t *vr, size_t n, ctype *v, size_t nv) {          \
        return get_values(c, vt, vr, n, (void *)v, nv, NULL);                                       \
    }                                                                                               \
    EXPORT int fmi3Set##Type(void *c, const uint32_t *vr, size_t n, const ctype *v, size_t nv) {    \
        return set_values(c, vt, vr, n, (const void *)v, nv, NULL);                                 \
    }
VALUES3(Float64, VT_FLOAT64, double)
VALUES3(Float32, VT_FLOAT32, float)
VALUES3(Int8, VT_INT8, int8_t)
VALUES3(UInt8, VT_UINT8, uint8_t)
VALUES3(Int16, VT_INT16, int16_t)
VALUES3(UInt16, VT_UINT16, uint16_t)
VALUES3(Int32, VT_INT32, int32_t)
VALUES3(UInt32, VT_UINT32, uint32_t)
VALUES3(Int64, VT_INT64, int64_t)
VALUES3(UInt64, VT_UINT64, uint64_t)
VALUES3(Boolean, VT_BOOL, bool)
VALUES3(String, VT_STRING, const char *)

EXPORT int fmi3GetBinary(void *c, const uint32_t *vr, size_t n, size_t *sizes,
                         const unsigned char **v, size_t nv) {
    return get_values(c, VT_BINARY, vr, n, (void *)v, nv, sizes);
}
EXPORT int fmi3SetBinary(void *c, const uint32_t *vr, size_t n, const size_t *sizes,
                         const unsigned char *const *v, size_t nv) {
    return set_values(c, VT_BINARY, vr, n, (const void *)v, nv, sizes);
}

EXPORT int fmi3GetFMUState(void *c, void **s) { return state_call(c, OP_GET_STATE, s, "fmi3GetFMUState"); }
EXPORT int fmi3SetFMUState(void *c, void *s) { return state_call(c, OP_SET_STATE, &s, "fmi3SetFMUState"); }
EXPORT int fmi3FreeFMUState(void *c, void **s) { return state_call(c, OP_FREE_STATE, s, "fmi3FreeFMUState"); }
EXPORT int fmi3SerializedFMUStateSize(void *c, void *s, size_t *n) { return state_size(c, s, n, "fmi3SerializedFMUStateSize"); }
EXPORT int fmi3SerializeFMUState(void *c, void *s, char *d, size_t n) { return serialize(c, s, d, n, "fmi3SerializeFMUState"); }
EXPORT int fmi3DeserializeFMUState(void *c, const char *d, size_t n, void **s) { return deserialize(c, d, n, s, "fmi3DeserializeFMUState"); }

EXPORT int fmi3SetDebugLogging(void *c, bool on, size_t n, const char *const *categories) {
    return debug_logging(c, on, n, categories, "fmi3SetDebugLogging");
}

EXPORT int fmi3GetOutputDerivatives(void *c, const uint32_t *vr, size_t n, const int *order,
                                    double *v, size_t nv) {
    return output_derivatives(c, vr, n, order, v, nv, "fmi3GetOutputDerivatives");
}

EXPORT int fmi3UpdateDiscreteStates(void *c, bool *update, bool *terminate, bool *nominals,
                                    bool *values, bool *next_defined, double *next) {
    Proxy *p = c;
    end(p, begin(p, OP_UPDATE_DISCRETE_STATES));
    Answer a;
    int status = call(p, "fmi3UpdateDiscreteStates", &a, 0);
    if (status <= 1) {
        uint32_t flags[6];
        memcpy(flags, a.data, 24);
        *update = flags[0]; *terminate = flags[1]; *nominals = flags[2];
        *values = flags[3]; *next_defined = flags[4];
        memcpy(next, a.data + 24, 8);
    }
    return status;
}

static int clocks(void *c, uint32_t op, const uint32_t *vr, size_t n, const void *in,
                  void *out, size_t out_size, void *out2, const char *name) {
    Proxy *p = c;
    size_t at = begin(p, op);
    put_u32(p, (uint32_t)n);
    put_bytes(p, vr, 4 * n);
    if (in) put_bytes(p, in, n);
    end(p, at);
    Answer a;
    int status = call(p, name, &a, 0);
    if (status <= 1 && out) {
        memcpy(out, a.data, n * out_size);
        if (out2) memcpy(out2, a.data + ch_pad8(n * out_size), 4 * n);
    }
    return status;
}

EXPORT int fmi3GetClock(void *c, const uint32_t *vr, size_t n, bool *v) {
    return clocks(c, OP_GET_CLOCK, vr, n, NULL, v, 1, NULL, "fmi3GetClock");
}
EXPORT int fmi3SetClock(void *c, const uint32_t *vr, size_t n, const bool *v) {
    return clocks(c, OP_SET_CLOCK, vr, n, v, NULL, 0, NULL, "fmi3SetClock");
}
EXPORT int fmi3GetIntervalDecimal(void *c, const uint32_t *vr, size_t n, double *v, int *q) {
    return clocks(c, OP_GET_INTERVAL, vr, n, NULL, v, 8, q, "fmi3GetIntervalDecimal");
}
EXPORT int fmi3GetShiftDecimal(void *c, const uint32_t *vr, size_t n, double *v) {
    return clocks(c, OP_GET_SHIFT, vr, n, NULL, v, 8, NULL, "fmi3GetShiftDecimal");
}

/* -- FMI 1 (names prefixed, as FMI 1 binaries prefix theirs) -------------------------- */

typedef struct { void *logger, *allocate, *free, *step_finished; } Callbacks1;

EXPORT void *cosimProxy_fmiInstantiateSlave(const char *name, const char *guid, const char *location,
                                            const char *mime, double timeout, char visible,
                                            char interactive, Callbacks1 callbacks, char logging_on) {
    uint32_t flags[4] = {(uint32_t)visible, (uint32_t)interactive, (uint32_t)logging_on, 0};
    return instantiate(name, callbacks.logger, NULL, guid, location, flags, timeout, mime);
}
EXPORT void cosimProxy_fmiFreeSlaveInstance(void *c) { free_instance(c, "fmiFreeSlaveInstance"); }
EXPORT int cosimProxy_fmiInitializeSlave(void *c, double start, char stop_defined, double stop) {
    return times(c, OP_INITIALIZE, 0, 0.0, start, stop_defined, stop, "fmiInitializeSlave");
}
EXPORT int cosimProxy_fmiTerminateSlave(void *c) { return simple(c, OP_TERMINATE, "fmiTerminateSlave"); }
EXPORT int cosimProxy_fmiResetSlave(void *c) { return simple(c, OP_RESET, "fmiResetSlave"); }
EXPORT int cosimProxy_fmiDoStep(void *c, double t, double h, char new_step) {
    return step(c, t, h, (uint32_t)new_step, "fmiDoStep", NULL);
}
EXPORT int cosimProxy_fmiSetDebugLogging(void *c, char on) {
    return debug_logging(c, on, 0, NULL, "fmiSetDebugLogging");
}
EXPORT int cosimProxy_fmiGetRealStatus(void *c, int kind, double *v) {
    return status_query(c, OP_REAL_STATUS, kind, v, 8, "fmiGetRealStatus");
}

#define VALUES1(Type, vt, ctype)                                                              \
    EXPORT int cosimProxy_fmiGet##Type(void *c, const uint32_t *vr, size_t n, ctype *v) {      \
        return get_values(c, vt, vr, n, (void *)v, n, NULL);                                   \
    }                                                                                          \
    EXPORT int cosimProxy_fmiSet##Type(void *c, const uint32_t *vr, size_t n, const ctype *v) { \
        return set_values(c, vt, vr, n, (const void *)v, n, NULL);                             \
    }
VALUES1(Real, VT_FLOAT64, double)
VALUES1(Integer, VT_INT32, int)
VALUES1(Boolean, VT_BOOL, char)
VALUES1(String, VT_STRING, const char *)
