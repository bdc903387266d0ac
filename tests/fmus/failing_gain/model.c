/* y = k*u; the step that would end after fail_time fails with a message. */
#include "cosim_model.h"

int model_check(const ModelData *m, char *msg, size_t len) {
    REQUIRE_FINITE(k);
    return 0;
}

void model_initialize(ModelData *m) { (void)m; }

void model_outputs(ModelData *m) { R(y) = R(k) * R(u); }

int model_step(ModelData *m, double h, char *msg, size_t len) {
    if (m->time + h > R(fail_time) + 1e-12) {
        return model_fail(msg, len, "failing on purpose: fail_time=%g", R(fail_time));
    }
    return 0;
}
