/* x' = u until end_at, where the model asks to end the simulation: at the
 * end of the step that reaches end_at, or at end_at itself when it falls
 * inside a step (the step then stops short there). */
#include "cosim_model.h"

int model_check(const ModelData *m, char *msg, size_t len) {
    REQUIRE_FINITE(end_at);
    return 0;
}

void model_initialize(ModelData *m) {
    m->st.x = 0.0;
    m->st.steps = 0;
}

void model_outputs(ModelData *m) {
    R(x) = m->st.x;
    I(steps) = m->st.steps;
}

int model_step(ModelData *m, double h, char *msg, size_t len) {
    (void)msg, (void)len;
    double end = m->time + h;
    /* An end_at within rounding of the step's end is the step's end. */
    double tolerance = 1e-9 * fmax(1.0, fabs(end));
    m->st.steps += 1;
    if (end < R(end_at) - tolerance) {
        m->st.x += h * R(u);
        return 0;
    }
    double stop = end > R(end_at) + tolerance ? fmax(R(end_at), m->time) : end;
    m->st.x += (stop - m->time) * R(u);
    m->time = stop;
    m->terminate = true;
    return 0;
}
