/* Energy meter: total_power = sum of power_1..power_8; energy = its integral.
 * Inputs are held over a communication step, so the integral is exact. */
#include "cosim_model.h"

static const int POWER[8] = {R_power_1, R_power_2, R_power_3, R_power_4,
                             R_power_5, R_power_6, R_power_7, R_power_8};

int model_check(const ModelData *m, char *msg, size_t len) {
    (void)m, (void)msg, (void)len;
    return 0;
}

static double total(const ModelData *m) {
    double sum = 0.0;
    for (int i = 0; i < 8; i++) sum += m->r[POWER[i]];
    return sum;
}

void model_initialize(ModelData *m) { m->st.energy = 0.0; }

void model_outputs(ModelData *m) {
    R(total_power) = total(m);
    R(energy) = m->st.energy;
}

int model_step(ModelData *m, double h, char *msg, size_t len) {
    (void)msg, (void)len;
    m->st.energy += total(m) * h;
    return 0;
}
