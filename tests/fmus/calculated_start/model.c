/* y = k*u. */
#include "cosim_model.h"

int model_check(const ModelData *m, char *msg, size_t len) {
    REQUIRE_FINITE(k);
    return 0;
}

void model_initialize(ModelData *m) { (void)m; }

void model_outputs(ModelData *m) { R(y) = R(k) * R(u); }

int model_step(ModelData *m, double h, char *msg, size_t len) {
    (void)m, (void)h, (void)msg, (void)len;
    return 0;
}
