/* x' = q - k*x from x0, with no outputs: only locals to record. */
#include "cosim_model.h"

int model_check(const ModelData *m, char *msg, size_t len) {
    REQUIRE_NONNEGATIVE(k);
    REQUIRE_FINITE(q);
    REQUIRE_FINITE(x0);
    return 0;
}

void model_initialize(ModelData *m) {
    R(x) = R(x0);
    m->next_event_time = INFINITY;
}

void model_outputs(ModelData *m) { R(der_x) = R(q) - R(k) * R(x); }

int model_derivatives(ModelData *m, char *msg, size_t len) {
    (void)msg, (void)len;
    R(der_x) = R(q) - R(k) * R(x);
    return 0;
}

void model_event_indicators(const ModelData *m, double z[]) { (void)m, (void)z; }

int model_event_update(ModelData *m, bool *states_changed, char *msg, size_t len) {
    (void)m, (void)msg, (void)len;
    *states_changed = false;
    return 0;
}

int model_step(ModelData *m, double h, char *msg, size_t len) {
    return hybrid_step(m, h, 0.01, msg, len);
}
