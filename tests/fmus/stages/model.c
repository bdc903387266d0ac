/* y = k^stages * u, where stages is a structural parameter (set in configuration mode). */
#include "cosim_model.h"

int model_check(const ModelData *m, char *msg, size_t len) {
    REQUIRE_FINITE(k);
    if (I(stages) < 1 || I(stages) > 8) {
        return model_fail(msg, len, "stages must be between 1 and 8, got %d", (int)I(stages));
    }
    return 0;
}

void model_initialize(ModelData *m) { (void)m; }

void model_outputs(ModelData *m) {
    double y = R(u);
    for (int i = 0; i < I(stages); i++) y *= R(k);
    R(y) = y;
}

int model_step(ModelData *m, double h, char *msg, size_t len) {
    (void)m, (void)h, (void)msg, (void)len;
    return 0;
}
