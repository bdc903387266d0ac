/* Co-simulation stepping of hybrid models: the same equations a model
 * exchange importer would integrate, solved here with fixed RK4 substeps,
 * state events located by bisection and time events taken exactly. */
#include "cosim_model.h"

#ifdef MODEL_EXCHANGE

#include <string.h>

/* Enough to stop a chattering model without cutting off a real burst of events. */
#define MAX_EVENTS_PER_STEP 10000

static void get_states(const ModelData *m, double x[]) {
    for (int i = 0; i < N_STATES; i++) x[i] = m->r[STATE_SLOTS[i]];
}

static void set_states(ModelData *m, const double x[]) {
    for (int i = 0; i < N_STATES; i++) m->r[STATE_SLOTS[i]] = x[i];
}

/* Derivatives at (t, x) computed on a scratch copy, so that m is untouched. */
static int derivatives_at(const ModelData *m, double t, const double x[], double dx[],
                          char *msg, size_t len) {
    ModelData scratch = *m;
    scratch.time = t;
    set_states(&scratch, x);
    if (model_derivatives(&scratch, msg, len)) return 1;
    for (int i = 0; i < N_STATES; i++) dx[i] = scratch.r[DERIVATIVE_SLOTS[i]];
    return 0;
}

static void indicators_at(const ModelData *m, double t, const double x[], double z[]) {
    ModelData scratch = *m;
    scratch.time = t;
    set_states(&scratch, x);
    model_event_indicators(&scratch, z);
}

/* One RK4 step of length dt from (t, x0) into x1. */
static int rk4_step(const ModelData *m, double t, const double x0[], double dt, double x1[],
                    char *msg, size_t len) {
    double k1[N_STATES], k2[N_STATES], k3[N_STATES], k4[N_STATES], tmp[N_STATES];
    if (derivatives_at(m, t, x0, k1, msg, len)) return 1;
    for (int i = 0; i < N_STATES; i++) tmp[i] = x0[i] + 0.5 * dt * k1[i];
    if (derivatives_at(m, t + 0.5 * dt, tmp, k2, msg, len)) return 1;
    for (int i = 0; i < N_STATES; i++) tmp[i] = x0[i] + 0.5 * dt * k2[i];
    if (derivatives_at(m, t + 0.5 * dt, tmp, k3, msg, len)) return 1;
    for (int i = 0; i < N_STATES; i++) tmp[i] = x0[i] + dt * k3[i];
    if (derivatives_at(m, t + dt, tmp, k4, msg, len)) return 1;
    for (int i = 0; i < N_STATES; i++) {
        x1[i] = x0[i] + dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
    }
    return 0;
}

/* Whether any indicator changed domain (> 0 versus <= 0) between z0 and z1. */
static bool crossed(const double z0[], const double z1[]) {
    for (int i = 0; i < N_EVENT_INDICATORS; i++) {
        if ((z0[i] > 0.0) != (z1[i] > 0.0)) return true;
    }
    return false;
}

int hybrid_step(ModelData *m, double h, double max_substep, char *msg, size_t len) {
    const double t_end = m->time + h;
    double x0[N_STATES], x1[N_STATES];
    double z0[NONEMPTY(N_EVENT_INDICATORS)], z1[NONEMPTY(N_EVENT_INDICATORS)];
    int events = 0;
    /* An event left to the importer for the end of the step: the rest of the
     * step is integrated without looking for more (the importer sees one). */
    bool deferred = false;
    m->event_reached = false;
    m->returned_early = false;
    /* Inputs set since the last step may have made an event due now. */
    bool reset = false;
    if (model_event_update(m, &reset, msg, len)) return 1;
    while (m->time < t_end) {
        const double t0 = m->time;
        double dt = fmin(max_substep, t_end - t0);
        double t1 = dt == t_end - t0 ? t_end : t0 + dt;
        bool time_event = !deferred && m->next_event_time <= t1;
        if (time_event) {
            t1 = fmax(m->next_event_time, t0);
            dt = t1 - t0;
        }
        get_states(m, x0);
        model_event_indicators(m, z0);
        if (dt > 0.0 && rk4_step(m, t0, x0, dt, x1, msg, len)) return 1;
        if (dt <= 0.0) memcpy(x1, x0, sizeof x0);
        indicators_at(m, t1, x1, z1);
        bool state_event = !deferred && N_EVENT_INDICATORS > 0 && crossed(z0, z1);
        if (state_event) {
            /* The crossing's first point on the far side, to 1e-12 relative:
             * the event is handled there, as an importer would. */
            double lo = 0.0, hi = dt;
            double eps = 1e-12 * fmax(1.0, fabs(t0));
            while (hi - lo > eps) {
                double mid = 0.5 * (lo + hi);
                if (rk4_step(m, t0, x0, mid, x1, msg, len)) return 1;
                indicators_at(m, t0 + mid, x1, z1);
                if (crossed(z0, z1)) hi = mid; else lo = mid;
            }
            if (rk4_step(m, t0, x0, hi, x1, msg, len)) return 1;
            t1 = t0 + hi;
            time_event = m->next_event_time <= t1;
        }
        set_states(m, x1);
        m->time = t1;
        if (!(state_event || time_event)) continue;
        m->event_reached = true;
        if (m->events_to_importer) {
            if (m->may_return_early) {
                m->returned_early = t1 < t_end;
                return 0;
            }
            deferred = true;
            continue;
        }
        if (++events > MAX_EVENTS_PER_STEP) {
            return model_fail(msg, len, "more than %d events in one step at t=%.9g "
                              "(the model chatters)", MAX_EVENTS_PER_STEP, t1);
        }
        bool states_changed = false;
        if (model_event_update(m, &states_changed, msg, len)) return 1;
        if (m->may_return_early && t1 < t_end) {
            m->returned_early = true;
            return 0;
        }
    }
    m->time = t_end;
    return 0;
}

#endif
