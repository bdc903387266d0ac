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
}

void model_outputs(ModelData *m) {
    R(x) = m->st.x;
    R(v) = m->st.v;
}

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
    return 0;
}
