/* m x'' = -k x - d x' - kc (x - x_other(t)), with x_other following the
 * input's first-order hold (value plus derivative times the time into the
 * step) when the importer gives a derivative.  Integrated by RK4 in fine
 * substeps, so the integration error stays far below the coupling error the
 * tests measure. */
#include "cosim_model.h"

int model_check(const ModelData *m, char *msg, size_t len) {
    REQUIRE_POSITIVE(m);
    REQUIRE_NONNEGATIVE(k);
    REQUIRE_NONNEGATIVE(d);
    REQUIRE_NONNEGATIVE(kc);
    REQUIRE_FINITE(x0);
    REQUIRE_FINITE(v0);
    return 0;
}

void model_initialize(ModelData *m) {
    m->st.x = R(x0);
    m->st.v = R(v0);
    m->st.step_start = m->time;
}

void model_outputs(ModelData *m) {
    R(x) = m->st.x;
    R(v) = m->st.v;
}

#ifdef MODEL_PROVIDES_OUTPUT_DERIVATIVES
/* x' = v exactly; v' from the equation of motion with the other mass where
 * the input's hold has taken it by now. */
int model_output_derivative(const ModelData *m, int slot, double *value, char *msg, size_t len) {
    if (slot == R_x) {
        *value = m->st.v;
        return 0;
    }
    if (slot == R_v) {
        double other = R(x_other) + DER(x_other) * (m->time - m->st.step_start);
        *value = (-R(k) * m->st.x - R(d) * m->st.v - R(kc) * (m->st.x - other)) / R(m);
        return 0;
    }
    return model_fail(msg, len, "no derivative of slot %d", slot);
}
#endif

/* State: position, velocity, and the time since the step's start. */
static void derivatives(const ModelData *m, const double *s, double *ds) {
    double other = R(x_other) + DER(x_other) * s[2];
    ds[0] = s[1];
    ds[1] = (-R(k) * s[0] - R(d) * s[1] - R(kc) * (s[0] - other)) / R(m);
    ds[2] = 1.0;
}

int model_step(ModelData *m, double h, char *msg, size_t len) {
    (void)msg, (void)len;
    double s[3] = {m->st.x, m->st.v, 0.0};
    rk4_integrate(m, derivatives, 3, s, h, 1e-4);
    m->st.x = s[0];
    m->st.v = s[1];
    m->st.step_start = m->time;
    return 0;
}
