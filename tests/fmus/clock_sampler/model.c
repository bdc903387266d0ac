/* Sample and hold on FMI 3 clocks: at each tick of the input clock `tick`
 * the clocked output y takes the input u and `ticks` counts; each tick of
 * the triggered clock `trigger` counts in `hits` and stamps `hit_time`.
 * The clocks are the importer's: the model has no time events of its own,
 * and x (the integral of u) is there only because the event-mode glue runs
 * hybrid models. */
#include "cosim_model.h"

int model_check(const ModelData *m, char *msg, size_t len) {
    (void)m, (void)msg, (void)len;
    return 0;
}

void model_initialize(ModelData *m) {
    R(x) = 0.0;
    R(y) = R(u);
    I(ticks) = 0;
    I(hits) = 0;
    R(hit_time) = -1.0;
    m->st.tick_at = m->st.trigger_at = -INFINITY;
    m->next_event_time = INFINITY;
}

void model_outputs(ModelData *m) { R(der_x) = R(u); }

int model_derivatives(ModelData *m, char *msg, size_t len) {
    (void)msg, (void)len;
    R(der_x) = R(u);
    return 0;
}

void model_event_indicators(const ModelData *m, double z[]) { (void)m, (void)z; }

int model_event_update(ModelData *m, bool *states_changed, char *msg, size_t len) {
    (void)msg, (void)len;
    *states_changed = false;
    if (K(tick) && m->st.tick_at != m->time) {
        m->st.tick_at = m->time;
        R(y) = R(u);
        I(ticks) += 1;
    }
    if (K(trigger) && m->st.trigger_at != m->time) {
        m->st.trigger_at = m->time;
        R(hit_time) = m->time;
        I(hits) += 1;
    }
    return 0;
}

int model_step(ModelData *m, double h, char *msg, size_t len) {
    return hybrid_step(m, h, 0.01, msg, len);
}
