/* Helpers shared by the models: error messages and the RK4 integrator. */
#include "cosim_model.h"

#include <stdarg.h>
#include <stdio.h>

int model_fail(char *msg, size_t len, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    vsnprintf(msg, len, fmt, args);
    va_end(args);
    return 1;
}

void rk4_integrate(const ModelData *m, DerivativeFn f, int n, double *x, double h,
                   double max_substep) {
    enum { MAX_STATES = 32 };
    double k1[MAX_STATES], k2[MAX_STATES], k3[MAX_STATES], k4[MAX_STATES], tmp[MAX_STATES];
    /* The shrink factor keeps h = 2 * max_substep from rounding up to 3 substeps. */
    int steps = (int)ceil(h / max_substep * (1.0 - 1e-12));
    if (steps < 1) steps = 1;
    double dt = h / steps;
    for (int s = 0; s < steps; s++) {
        f(m, x, k1);
        for (int i = 0; i < n; i++) tmp[i] = x[i] + 0.5 * dt * k1[i];
        f(m, tmp, k2);
        for (int i = 0; i < n; i++) tmp[i] = x[i] + 0.5 * dt * k2[i];
        f(m, tmp, k3);
        for (int i = 0; i < n; i++) tmp[i] = x[i] + dt * k3[i];
        f(m, tmp, k4);
        for (int i = 0; i < n; i++) x[i] += dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
    }
}
