/* The contract between a component model and the shared FMI glue.
 *
 * A model provides model.h (a ModelState struct with no pointers, so that a
 * whole instance can be copied and serialized byte for byte) and model.c
 * implementing the four functions at the end of this file.  Variables are
 * reached with R(name), I(name), B(name) on a ModelData *m in scope; their
 * slots come from model_vars.h, generated from model.toml.
 */
#ifndef COSIM_MODEL_H
#define COSIM_MODEL_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* T_CLOCK: FMI 3 clocks (model.toml type "Clock"), one bool slot each: active or not.
 * T_FLOAT32 .. T_UINT64: FMI 3 only numbers, one Cell each; T_BINARY: FMI 3 byte strings. */
enum { T_REAL, T_INTEGER, T_BOOLEAN, T_STRING, T_CLOCK, T_FLOAT32, T_INT8, T_UINT8, T_INT16,
       T_UINT16, T_UINT32, T_INT64, T_UINT64, T_BINARY };
/* C_STRUCTURALPARAMETER: FMI 3 only, set in configuration mode only. */
enum { C_PARAMETER, C_INPUT, C_OUTPUT, C_LOCAL, C_INDEPENDENT, C_STRUCTURALPARAMETER };
enum { V_CONSTANT, V_FIXED, V_TUNABLE, V_DISCRETE, V_CONTINUOUS };

typedef struct {
    unsigned vr;          /* value reference == index into VARS */
    int type;             /* T_* */
    int slot;             /* index into the array of that type; -1 for time */
    int causality;        /* C_* */
    int variability;      /* V_* */
    const char *name;
    double start;         /* start value of Real, Integer and Boolean variables */
    const char *start_string;   /* of String variables; FMI 3 numbers as written; Binary in hex */
    int count;            /* elements: 1, or the size of an FMI 3 array (slots slot..slot+count-1) */
    const double *starts; /* an array's start value per element; NULL: start for every element */
    int clock;            /* clocked variables: the K slot of their clock; -1 otherwise */
    double shift;         /* clocks: shiftDecimal (their interval is in start) */
} VarInfo;

#define STRING_CAPACITY 256
#define BINARY_CAPACITY 4096

/* One value of an FMI 3 only numeric type, in the member its type names. */
typedef union {
    float f32;
    int8_t i8;
    uint8_t u8;
    int16_t i16;
    uint16_t u16;
    uint32_t u32;
    int64_t i64;
    uint64_t u64;
} Cell;
#define NONEMPTY(n) ((n) > 0 ? (n) : 1)

#include "model_vars.h"
#include "model.h"

extern const VarInfo VARS[N_VARS];

typedef struct {
    double time;
    double r[NONEMPTY(N_R)];
    double dr[NONEMPTY(N_R)];   /* first derivatives of Real inputs over the step (0 unless set) */
    int32_t i[NONEMPTY(N_I)];
    bool b[NONEMPTY(N_B)];
    char s[NONEMPTY(N_S)][STRING_CAPACITY];
    Cell x[NONEMPTY(N_X)];
    uint8_t y[NONEMPTY(N_Y)][N_Y ? BINARY_CAPACITY : 1];     /* no room taken without Binary */
    size_t y_size[NONEMPTY(N_Y)];
    double tolerance;         /* the importer's relative tolerance; NAN when it gave none */
    /* Set by the model: it asks to end the simulation.  Hybrid models set it
     * in model_event_update; others in model_step, which then leaves m->time
     * where it stopped (at most the step's end) instead of the glue moving it
     * to the step's end. */
    bool terminate;
    /* Clocks: whether each is active (from fmi3SetClock, or raised by the
     * model for output clocks) until the importer leaves event mode; the
     * interval fmi3GetIntervalDecimal reports, and whether the model changed
     * it since the importer last asked (the qualifier). */
    bool k[NONEMPTY(N_K)];
    double k_interval[NONEMPTY(N_K)];
    bool k_interval_changed[NONEMPTY(N_K)];
#ifdef MODEL_EXCHANGE
    double next_event_time;   /* the next time event; INFINITY when none is scheduled */
    /* How hybrid_step treats events, set by the FMI glue before each step
     * (FMI 3 co-simulation; both false elsewhere): */
    bool events_to_importer;  /* leave events to the importer's event mode, unhandled */
    bool may_return_early;    /* end the step at the first event */
    /* What hybrid_step found, read by the glue after the step: */
    bool event_reached;       /* an event happened in the step (handled here or left) */
    bool returned_early;      /* the step ended at an event, before its end (m->time) */
#endif
    ModelState st;
} ModelData;

#define R(name) (m->r[R_##name])
/* The first element of an array variable; LEN_name elements follow (row-major). */
#define RA(name) (&m->r[R_##name])
#define IA(name) (&m->i[I_##name])
#define BA(name) (&m->b[B_##name])
#define I(name) (m->i[I_##name])
/* Whether clock `name` is active (FMI 3 clocks, in event mode). */
#define K(name) (m->k[K_##name])
#define B(name) (m->b[B_##name])
/* FMI 3 only types: numbers by their type, Binary as bytes and their count. */
#define F32(name) (m->x[X_##name].f32)
#define I8(name) (m->x[X_##name].i8)
#define U8(name) (m->x[X_##name].u8)
#define I16(name) (m->x[X_##name].i16)
#define U16(name) (m->x[X_##name].u16)
#define U32(name) (m->x[X_##name].u32)
#define I64(name) (m->x[X_##name].i64)
#define U64(name) (m->x[X_##name].u64)
#define Y(name) (m->y[Y_##name])
#define YSIZE(name) (m->y_size[Y_##name])
/* The derivative the importer gave for a Real input (models that can interpolate inputs). */
#define DER(name) (m->dr[R_##name])

/* Write a message naming the offending parameter into msg and return 1;
 * used by model_check and model_step. */
int model_fail(char *msg, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Return 0 if the parameters are valid; otherwise write a message naming the
 * parameter, its value and the allowed range into msg and return 1. */
int model_check(const ModelData *m, char *msg, size_t len);

/* Set the internal state from the parameters and inputs (start of a run). */
void model_initialize(ModelData *m);

/* Compute every output from state, parameters, inputs and m->time. */
void model_outputs(ModelData *m);

/* Advance the internal state by h seconds from m->time with inputs held.
 * Return 0, or 1 with a message in msg if the step cannot be taken. */
int model_step(ModelData *m, double h, char *msg, size_t len);

#ifdef MODEL_PROVIDES_OUTPUT_DERIVATIVES
/* Models with provides_output_derivatives = true in model.toml: the first time
 * derivative of the Real output element in slot `slot`, at m->time with the
 * inputs as set.  Return 0, or 1 with a message if there is none. */
int model_output_derivative(const ModelData *m, int slot, double *value, char *msg, size_t len);
#endif

#ifdef QUIRK_RESTARTS_ON_SET
/* Models with the restarts_on_set quirk: called after every set of input v
 * (once per variable and call, in any mode), as an FMU whose own integrator
 * restarts on every set would. */
void model_input_set(ModelData *m, const VarInfo *v);
#endif

#ifdef MODEL_EXCHANGE
/* Hybrid models (model.toml: model_exchange = true) are built as model
 * exchange FMUs as well as co-simulation ones, from the same equations.  Their
 * continuous states are Real variables; model.toml names the derivative of
 * each (derivative_of), which gives N_STATES, STATE_SLOTS and
 * DERIVATIVE_SLOTS, and the number of event indicators N_EVENT_INDICATORS.
 * An event happens when an indicator changes between > 0 and <= 0, or at
 * m->next_event_time.  model_initialize schedules the first time event
 * (INFINITY for none); model_outputs must leave the derivative variables up
 * to date too.  The co-simulation build steps with hybrid_step. */
extern const int STATE_SLOTS[N_STATES];
extern const int DERIVATIVE_SLOTS[N_STATES];

/* Compute the derivative variables from states, inputs, parameters and
 * m->time.  Return 0, or 1 with a message in msg if they cannot be computed. */
int model_derivatives(ModelData *m, char *msg, size_t len);

/* The N_EVENT_INDICATORS event indicators at the current time and states. */
void model_event_indicators(const ModelData *m, double z[]);

/* Handle the events due at m->time: update discrete variables, reset states
 * (then set *states_changed) and reschedule m->next_event_time.  Calling it
 * when no event is due must change nothing.  Return 0, or 1 with a message. */
int model_event_update(ModelData *m, bool *states_changed, char *msg, size_t len);

/* Advance a hybrid model by h from m->time with RK4 substeps no longer than
 * max_substep, locating state events by bisection and taking time events
 * exactly; for model_step of the co-simulation build.  Events are handled
 * with model_event_update unless m->events_to_importer; with
 * m->may_return_early the step ends at the first event (m->returned_early,
 * m->time the event time), otherwise an event left to the importer is only
 * flagged and the step goes on to its end without looking for others. */
int hybrid_step(ModelData *m, double h, double max_substep, char *msg, size_t len);
#endif

/* Classic fourth-order Runge-Kutta over [0, h] in substeps no longer than
 * max_substep, for n <= 32 states.  f(m, x, dx) must not modify m. */
typedef void (*DerivativeFn)(const ModelData *m, const double *x, double *dx);
void rk4_integrate(const ModelData *m, DerivativeFn f, int n, double *x, double h,
                   double max_substep);

/* Parameter checks for model_check: return an error naming the parameter. */
#define REQUIRE_REAL(name, cond, what)                                                 \
    do {                                                                               \
        double v_ = R(name);                                                           \
        if (!isfinite(v_) || !(cond))                                                  \
            return model_fail(msg, len, "%s must be %s, got %g", #name, what, v_);     \
    } while (0)
#define REQUIRE_POSITIVE(name) REQUIRE_REAL(name, v_ > 0.0, "> 0")
#define REQUIRE_NONNEGATIVE(name) REQUIRE_REAL(name, v_ >= 0.0, ">= 0")
#define REQUIRE_FINITE(name) REQUIRE_REAL(name, 1, "finite")

static inline double clamp(double x, double lo, double hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

#endif
