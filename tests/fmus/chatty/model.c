/* x' = u, logging messages_per_step debug messages per step. */
#include "instance.h"

#include <stddef.h>

int model_check(const ModelData *m, char *msg, size_t len) {
    if (I(messages_per_step) < 0)
        return model_fail(msg, len, "messages_per_step must be >= 0, got %d", I(messages_per_step));
    return 0;
}

void model_initialize(ModelData *m) { m->st.x = 0.0; }

void model_outputs(ModelData *m) { R(x) = m->st.x; }

int model_step(ModelData *m, double h, char *msg, size_t len) {
    (void)msg, (void)len;
    /* Models see only their data; the glue always embeds it in an Instance,
     * which holds the logger. */
    Instance *inst = (Instance *)((char *)m - offsetof(Instance, m));
    for (int k = 0; k < I(messages_per_step); k++) {
        inst_log(inst, ST_OK, "logEvents", "step from t=%g: message %d of %d", m->time, k + 1,
                 I(messages_per_step));
    }
    m->st.x += h * R(u);
    return 0;
}
