/* Static gain: y = k*u + b.  Direct feedthrough, no state. */
#include "cosim_model.h"

int model_check(const ModelData *m, char *msg, size_t len) {
    if (!isfinite(R(k))) return model_fail(msg, len, "k must be finite, got %g", R(k));
    if (!isfinite(R(b))) return model_fail(msg, len, "b must be finite, got %g", R(b));
    return 0;
}

void model_initialize(ModelData *m) { (void)m; }

void model_outputs(ModelData *m) { R(y) = R(k) * R(u) + R(b); }

int model_step(ModelData *m, double h, char *msg, size_t len) {
    (void)m, (void)h, (void)msg, (void)len;
    return 0;
}
