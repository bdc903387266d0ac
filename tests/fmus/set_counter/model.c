/* Counts input sets; x' = u - x by explicit Euler whose substep restarts at
 * first_substep on every set and doubles up to the communication step. */
#include <string.h>

#include "cosim_model.h"

int model_check(const ModelData *m, char *msg, size_t len) {
    REQUIRE_POSITIVE(first_substep);
    return 0;
}

void model_initialize(ModelData *m) {
    m->st.x = 0.0;
    m->st.substep = 0.0;
}

void model_input_set(ModelData *m, const VarInfo *v) {
    const char *names[] = {"u", "n", "flag", "w"};
    for (int k = 0; k < 4; k++) {
        if (strcmp(v->name, names[k]) == 0) m->st.sets[k]++;
    }
    m->st.substep = 0.0;
}

void model_outputs(ModelData *m) {
    R(x) = m->st.x;
    R(y) = R(u);
    I(sets_u) = m->st.sets[0];
    I(sets_n) = m->st.sets[1];
    I(sets_flag) = m->st.sets[2];
    I(sets_w) = m->st.sets[3];
}

int model_step(ModelData *m, double h, char *msg, size_t len) {
    (void)msg, (void)len;
    double done = 0.0;
    if (m->st.substep <= 0.0) m->st.substep = R(first_substep);
    while (done < h) {
        double dt = fmin(m->st.substep, h - done);
        m->st.x += dt * (R(u) - m->st.x);
        done += dt;
        m->st.substep = fmin(2.0 * m->st.substep, h);
    }
    return 0;
}
