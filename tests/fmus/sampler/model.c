/* Sample and hold on a period that need not match the communication step:
 * x integrates the input u continuously, and at every multiple of period
 * (a time event) the discrete output y takes x's value.  For tests of event
 * handling: stop_after asks the importer to end the simulation at that
 * sample, and from stuck_time on the sampler reschedules each sample at the
 * time it happens, so its events never settle. */
#include "cosim_model.h"

int model_check(const ModelData *m, char *msg, size_t len) {
    REQUIRE_POSITIVE(period);
    REQUIRE_FINITE(x0);
    REQUIRE_NONNEGATIVE(stop_after);
    REQUIRE_FINITE(stuck_time);
    return 0;
}

void model_initialize(ModelData *m) {
    R(x) = R(x0);
    R(y) = R(x0);
    I(samples) = 0;
    m->terminate = false;
    /* k * period rather than a running sum: sample times do not drift. */
    m->next_event_time = R(period);
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
    if (m->time < m->next_event_time) return 0;
    R(y) = R(x);
    I(samples) += 1;
    m->next_event_time = m->time >= R(stuck_time) ? m->time : (I(samples) + 1) * R(period);
    if (R(stop_after) > 0.0 && I(samples) >= R(stop_after)) m->terminate = true;
    return 0;
}

int model_step(ModelData *m, double h, char *msg, size_t len) {
    return hybrid_step(m, h, 0.01, msg, len);
}
