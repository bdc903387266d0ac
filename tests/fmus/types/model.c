/* Feeds every scalar type through: y = gain*x, m = offset + n, both = flag && enabled. */
#include "cosim_model.h"

int model_check(const ModelData *m, char *msg, size_t len) {
    REQUIRE_FINITE(gain);
    return 0;
}

void model_initialize(ModelData *m) { m->st.steps = 0; }

void model_outputs(ModelData *m) {
    R(y) = R(gain) * R(x);
    I(m) = I(offset) + I(n);
    B(both) = B(flag) && B(enabled);
    I(steps) = m->st.steps;
}

int model_step(ModelData *m, double h, char *msg, size_t len) {
    (void)h, (void)msg, (void)len;
    m->st.steps++;
    return 0;
}
