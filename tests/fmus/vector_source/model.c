/* Array outputs as explicit functions of time, so tests can compute every
 * element by hand at every communication point. */
#include "cosim_model.h"

int model_check(const ModelData *m, char *msg, size_t len) {
    for (int i = 0; i < LEN_amplitude; i++) {
        if (!isfinite(RA(amplitude)[i]) || !isfinite(RA(omega)[i])) {
            return model_fail(msg, len, "amplitude[%d] and omega[%d] must be finite", i, i);
        }
    }
    REQUIRE_FINITE(offset);
    return 0;
}

void model_initialize(ModelData *m) { (void)m; }

void model_outputs(ModelData *m) {
    double *y = RA(y), total = 0.0;
    for (int i = 0; i < LEN_y; i++) {
        y[i] = R(offset) + RA(amplitude)[i] * sin(RA(omega)[i] * m->time);
        total += y[i];
        for (int r = 0; r < 2; r++) RA(grid)[r * LEN_y + i] = (r + 1) * y[i];
        IA(ticks)[i] = (int32_t)floor((i + 1) * m->time + 1e-9);
        BA(positive)[i] = y[i] > 0.0;
    }
    R(total) = total;
}

int model_step(ModelData *m, double h, char *msg, size_t len) {
    (void)m, (void)h, (void)msg, (void)len;
    return 0;
}
