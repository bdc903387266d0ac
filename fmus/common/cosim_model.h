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

enum { T_REAL, T_INTEGER, T_BOOLEAN, T_STRING };
enum { C_PARAMETER, C_INPUT, C_OUTPUT, C_LOCAL, C_INDEPENDENT };
enum { V_CONSTANT, V_FIXED, V_TUNABLE, V_DISCRETE, V_CONTINUOUS };

typedef struct {
    unsigned vr;          /* value reference == index into VARS */
    int type;             /* T_* */
    int slot;             /* index into the array of that type; -1 for time */
    int causality;        /* C_* */
    int variability;      /* V_* */
    const char *name;
    double start;         /* start value of Real, Integer and Boolean variables */
    const char *start_string;
} VarInfo;

#define STRING_CAPACITY 256
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
    ModelState st;
} ModelData;

#define R(name) (m->r[R_##name])
#define I(name) (m->i[I_##name])
#define B(name) (m->b[B_##name])
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
