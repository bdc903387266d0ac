/* A binary output that grows a byte every step (NUL bytes included, at the
 * end too), and a binary input echoed back with its size, the sum of its
 * bytes and the number of times it was set. */
#include <string.h>

#include "cosim_model.h"

int model_check(const ModelData *m, char *msg, size_t len) {
    (void)m, (void)msg, (void)len;
    return 0;
}

void model_initialize(ModelData *m) { m->st.steps = 0; }

void model_input_set(ModelData *m, const VarInfo *v) {
    if (strcmp(v->name, "b") == 0) m->st.sets++;
}

void model_outputs(ModelData *m) {
    size_t n = (size_t)m->st.steps + 1 < 300 ? (size_t)m->st.steps + 1 : 300;
    for (size_t i = 0; i < n; i++) Y(counter)[i] = (uint8_t)((size_t)m->st.steps - i);
    YSIZE(counter) = n;
    int32_t sum = 0;
    for (size_t i = 0; i < YSIZE(b); i++) sum += Y(b)[i];
    I(size) = (int32_t)YSIZE(b);
    I(checksum) = sum;
    memcpy(Y(echo), Y(b), YSIZE(b));
    YSIZE(echo) = YSIZE(b);
    I(sets) = m->st.sets;
}

int model_step(ModelData *m, double h, char *msg, size_t len) {
    (void)h, (void)msg, (void)len;
    m->st.steps++;
    return 0;
}
