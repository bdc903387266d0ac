/* Discrete-time PI controller.  The error is constant over a communication
 * step (inputs are held), so the integral is exact; it stops growing while
 * the output is limited and the error pushes further into the limit. */
#include "cosim_model.h"

int model_check(const ModelData *m, char *msg, size_t len) {
    REQUIRE_FINITE(kp);
    REQUIRE_FINITE(ki);
    REQUIRE_FINITE(u_min);
    REQUIRE_REAL(u_max, v_ >= R(u_min), ">= u_min");
    return 0;
}

void model_initialize(ModelData *m) { m->st.integral = 0.0; }

static double unlimited(const ModelData *m, double error) {
    return R(kp) * error + R(ki) * m->st.integral;
}

void model_outputs(ModelData *m) {
    double error = R(setpoint) - R(measurement);
    R(error) = error;
    R(u) = clamp(unlimited(m, error), R(u_min), R(u_max));
}

int model_step(ModelData *m, double h, char *msg, size_t len) {
    (void)msg, (void)len;
    double error = R(setpoint) - R(measurement);
    double u = unlimited(m, error);
    bool windup = (u > R(u_max) && R(ki) * error > 0.0) || (u < R(u_min) && R(ki) * error < 0.0);
    if (!windup) m->st.integral += error * h;
    return 0;
}
