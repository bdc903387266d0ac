/* count = first + number of steps taken. */
#include "cosim_model.h"

int model_check(const ModelData *m, char *msg, size_t len) {
    (void)m, (void)msg, (void)len;
    return 0;
}

void model_initialize(ModelData *m) { m->st.steps = 0; }

void model_outputs(ModelData *m) { I(count) = I(first) + m->st.steps; }

int model_step(ModelData *m, double h, char *msg, size_t len) {
    (void)h, (void)msg, (void)len;
    m->st.steps++;
    return 0;
}
