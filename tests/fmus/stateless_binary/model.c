/* x' = u from x(0) = x0; exact for inputs held over a step. */
#include "cosim_model.h"

int model_check(const ModelData *m, char *msg, size_t len) {
    REQUIRE_FINITE(x0);
    return 0;
}

void model_initialize(ModelData *m) { m->st.x = R(x0); }

void model_outputs(ModelData *m) { R(x) = m->st.x; }

int model_step(ModelData *m, double h, char *msg, size_t len) {
    (void)msg, (void)len;
    m->st.x += h * R(u);
    return 0;
}
