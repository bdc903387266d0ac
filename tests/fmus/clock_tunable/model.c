/* A tunable periodic clock whose interval is the tunable parameter period:
 * the model reports it through fmi3GetIntervalDecimal (qualifier changed
 * whenever period took a new value), and counts the ticks it is given. */
#include "cosim_model.h"

int model_check(const ModelData *m, char *msg, size_t len) {
    REQUIRE_POSITIVE(period);
    return 0;
}

void model_initialize(ModelData *m) {
    R(x) = 0.0;
    I(ticks) = 0;
    R(last_tick) = -1.0;
    m->st.tick_at = -INFINITY;
    m->next_event_time = INFINITY;
}

void model_outputs(ModelData *m) {
    R(der_x) = 1.0;
    if (m->k_interval[K_tick] != R(period)) {
        m->k_interval[K_tick] = R(period);
        m->k_interval_changed[K_tick] = true;
    }
}

int model_derivatives(ModelData *m, char *msg, size_t len) {
    (void)msg, (void)len;
    R(der_x) = 1.0;
    return 0;
}

void model_event_indicators(const ModelData *m, double z[]) { (void)m, (void)z; }

int model_event_update(ModelData *m, bool *states_changed, char *msg, size_t len) {
    (void)msg, (void)len;
    *states_changed = false;
    if (K(tick) && m->st.tick_at != m->time) {
        m->st.tick_at = m->time;
        R(last_tick) = m->time;
        I(ticks) += 1;
    }
    return 0;
}

int model_step(ModelData *m, double h, char *msg, size_t len) {
    return hybrid_step(m, h, 0.01, msg, len);
}
