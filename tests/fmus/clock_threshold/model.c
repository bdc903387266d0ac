/* An output clock on a threshold crossing: x integrates rate, and when it
 * reaches the next multiple of threshold (event indicator x - next level)
 * the FMU ends fmi3DoStep there; in event mode it raises the output clock
 * crossed and counts the level in the clocked output level. */
#include "cosim_model.h"

int model_check(const ModelData *m, char *msg, size_t len) {
    REQUIRE_POSITIVE(threshold);
    return 0;
}

void model_initialize(ModelData *m) {
    R(x) = 0.0;
    I(level) = 0;
    m->st.next_level = R(threshold);
    m->next_event_time = INFINITY;
}

void model_outputs(ModelData *m) { R(der_x) = R(rate); }

int model_derivatives(ModelData *m, char *msg, size_t len) {
    (void)msg, (void)len;
    R(der_x) = R(rate);
    return 0;
}

void model_event_indicators(const ModelData *m, double z[]) { z[0] = m->st.next_level - R(x); }

int model_event_update(ModelData *m, bool *states_changed, char *msg, size_t len) {
    (void)msg, (void)len;
    *states_changed = false;
    /* Only the importer's event mode raises the clock (the bisection leaves
     * x just past the level). */
    if (!m->events_to_importer || R(x) < m->st.next_level) return 0;
    K(crossed) = true;
    I(level) += 1;
    m->st.next_level = (I(level) + 1) * R(threshold);
    return 0;
}

int model_step(ModelData *m, double h, char *msg, size_t len) {
    return hybrid_step(m, h, 0.01, msg, len);
}
