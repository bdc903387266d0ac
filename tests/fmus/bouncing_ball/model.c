/* Bouncing ball with drag, a kick at a given time, and rest below a
 * rebound speed.  Hybrid: built as model exchange and as co-simulation
 * (hybrid_step with fine RK4 substeps) from these equations. */
#include "cosim_model.h"

/* Fine enough that the co-simulation build agrees with a tight ODE solver. */
#define MAX_SUBSTEP 1e-3

int model_check(const ModelData *m, char *msg, size_t len) {
    REQUIRE_POSITIVE(g);
    REQUIRE_REAL(e, v_ >= 0.0 && v_ <= 1.0, "in [0, 1]");
    REQUIRE_NONNEGATIVE(d);
    REQUIRE_NONNEGATIVE(h0);
    REQUIRE_FINITE(v0);
    REQUIRE_NONNEGATIVE(v_min);
    REQUIRE_FINITE(kick_time);
    REQUIRE_FINITE(kick);
    return 0;
}

void model_initialize(ModelData *m) {
    R(h) = R(h0);
    R(v) = R(v0);
    I(bounces) = 0;
    m->st.resting = false;
    m->next_event_time = R(kick_time) >= m->time ? R(kick_time) : INFINITY;
}

static void derivatives(ModelData *m) {
    R(der_h) = m->st.resting ? 0.0 : R(v);
    R(der_v) = m->st.resting ? 0.0 : -R(g) - R(d) * R(v) + R(u);
}

void model_outputs(ModelData *m) { derivatives(m); }

int model_derivatives(ModelData *m, char *msg, size_t len) {
    if (m->time > R(fail_time)) {
        return model_fail(msg, len, "failing on purpose: t=%g is after fail_time=%g", m->time,
                          R(fail_time));
    }
    derivatives(m);
    return 0;
}

void model_event_indicators(const ModelData *m, double z[]) {
    /* Contact: only a falling ball can reach the floor, so the indicator
     * stays positive while rising and right after a rebound from h = 0. */
    z[0] = m->st.resting || R(v) > 0.0 ? 1.0 : R(h);
    /* Lift-off: a resting ball leaves the floor when u outweighs gravity. */
    z[1] = m->st.resting ? R(g) - R(u) : 1.0;
}

int model_event_update(ModelData *m, bool *states_changed, char *msg, size_t len) {
    (void)msg, (void)len;
    *states_changed = false;
    if (m->time >= m->next_event_time) {
        R(v) += R(kick);
        m->next_event_time = INFINITY;
        if (m->st.resting && R(v) > 0.0) m->st.resting = false;
        *states_changed = true;
    }
    if (!m->st.resting && R(h) <= 0.0 && R(v) < 0.0) {
        I(bounces) += 1;
        R(h) = 0.0;
        R(v) = -R(e) * R(v);
        if (R(v) < R(v_min)) {
            R(v) = 0.0;
            m->st.resting = true;
        }
        *states_changed = true;
    }
    if (m->st.resting && R(u) > R(g)) m->st.resting = false;
    derivatives(m);
    return 0;
}

int model_step(ModelData *m, double h, char *msg, size_t len) {
    return hybrid_step(m, h, MAX_SUBSTEP, msg, len);
}
