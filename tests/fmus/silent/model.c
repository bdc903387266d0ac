/* Locals only: level = gain * time, count = steps taken while on, spare = level / 2. */
#include "cosim_model.h"

int model_check(const ModelData *m, char *msg, size_t len) {
    REQUIRE_FINITE(gain);
    return 0;
}

void model_initialize(ModelData *m) { m->st.steps = 0; }

void model_outputs(ModelData *m) {
    R(level) = R(gain) * m->time;
    I(count) = m->st.steps;
    R(spare) = 0.5 * R(level);
}

int model_step(ModelData *m, double h, char *msg, size_t len) {
    (void)h, (void)msg, (void)len;
    if (B(on)) m->st.steps += 1;
    return 0;
}
