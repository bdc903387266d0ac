/* A countdown clock the model winds itself: the first countdown (parameter
 * first) is set in initialization mode, and each alarm sets the next one,
 * `increase` longer than the last.  The importer learns of each countdown
 * from fmi3GetIntervalDecimal (qualifier changed) and ticks the clock when it
 * runs out.  `first` and `increase` are deliberately not checked, so that
 * tests can hand the importer a countdown that is not > 0. */
#include "cosim_model.h"

static void set_countdown(ModelData *m, double interval) {
    m->k_interval[K_alarm] = interval;
    m->k_interval_changed[K_alarm] = true;
}

int model_check(const ModelData *m, char *msg, size_t len) {
    (void)m, (void)msg, (void)len;
    return 0;
}

void model_initialize(ModelData *m) {
    R(x) = 0.0;
    I(alarms) = 0;
    R(alarm_time) = -1.0;
    m->st.alarm_at = -INFINITY;
    m->next_event_time = INFINITY;
    if (!m->st.wound) {
        m->st.wound = true;
        set_countdown(m, R(first));
    }
}

void model_outputs(ModelData *m) { R(der_x) = 1.0; }

int model_derivatives(ModelData *m, char *msg, size_t len) {
    (void)msg, (void)len;
    R(der_x) = 1.0;
    return 0;
}

void model_event_indicators(const ModelData *m, double z[]) { (void)m, (void)z; }

int model_event_update(ModelData *m, bool *states_changed, char *msg, size_t len) {
    (void)msg, (void)len;
    *states_changed = false;
    if (K(alarm) && m->st.alarm_at != m->time) {
        m->st.alarm_at = m->time;
        R(alarm_time) = m->time;
        I(alarms) += 1;
        set_countdown(m, R(first) + I(alarms) * R(increase));
    }
    return 0;
}

int model_step(ModelData *m, double h, char *msg, size_t len) {
    return hybrid_step(m, h, 0.01, msg, len);
}
