/* String outputs that change over time: `state` grows by a character every
 * step (so an importer's buffers for it must grow), `phase` changes every
 * `period` steps (so an importer that sets inputs on change sets it rarely). */
#include <stdio.h>
#include <string.h>

#include "cosim_model.h"

int model_check(const ModelData *m, char *msg, size_t len) {
    if (I(period) < 1) return model_fail(msg, len, "period = %d must be >= 1", (int)I(period));
    return 0;
}

void model_initialize(ModelData *m) { m->st.steps = 0; }

void model_outputs(ModelData *m) {
    int n = m->st.steps;
    int used = snprintf(m->s[S_state], STRING_CAPACITY, "state-%d", n);
    int pad = n < 200 ? n : 200;
    if (used + pad >= STRING_CAPACITY) pad = STRING_CAPACITY - 1 - used;
    memset(m->s[S_state] + used, '+', pad);
    m->s[S_state][used + pad] = '\0';
    snprintf(m->s[S_phase], STRING_CAPACITY, "phase-%d", n / I(period));
    I(steps) = n;
}

int model_step(ModelData *m, double h, char *msg, size_t len) {
    (void)h, (void)msg, (void)len;
    m->st.steps++;
    return 0;
}
