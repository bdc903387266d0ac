/* Element-wise feedthrough on arrays, and an integral of the held input
 * (which shows what value the importer set over each step). */
#include "cosim_model.h"

int model_check(const ModelData *m, char *msg, size_t len) {
    for (int i = 0; i < LEN_k; i++) {
        if (!isfinite(RA(k)[i]) || !isfinite(RA(b)[i])) {
            return model_fail(msg, len, "k[%d] and b[%d] must be finite", i, i);
        }
    }
    return 0;
}

void model_initialize(ModelData *m) {
    for (int i = 0; i < LEN_integral; i++) m->st.integral[i] = 0.0;
}

void model_outputs(ModelData *m) {
    for (int i = 0; i < LEN_y; i++) {
        RA(y)[i] = RA(k)[i] * RA(u)[i] + RA(b)[i];
        IA(yi)[i] = 2 * IA(ui)[i];
        RA(integral)[i] = m->st.integral[i];
    }
    double total = 0.0;
    for (int r = 0; r < 2; r++) {
        for (int c = 0; c < 3; c++) total += (r + 1) * (c + 1) * RA(w)[r * 3 + c];
    }
    R(w_total) = total;
    int count = 0;
    for (int i = 0; i < LEN_flags; i++) count += BA(flags)[i] ? 1 : 0;
    I(count) = count;
}

int model_step(ModelData *m, double h, char *msg, size_t len) {
    (void)msg, (void)len;
    for (int i = 0; i < LEN_u; i++) m->st.integral[i] += RA(u)[i] * h;
    return 0;
}
