/* Machining spindle: PI speed controller with anti-windup, rotor dynamics,
 * bearing heating, bearing damage by ISO 281 rating life and Miner's rule,
 * and vibration growing with damage.  Equations in fmus/README.md. */
#include <stdio.h>

#include "cosim_model.h"

#define RPM (M_PI / 30.0)      /* rad/s per rpm */
#define OMEGA_SMOOTH 1.0       /* rad/s: the load fades in over this speed so it never drives the rotor backwards */
#define MAX_LIFE_HOURS 1e6

int model_check(const ModelData *m, char *msg, size_t len) {
    REQUIRE_POSITIVE(inertia);
    REQUIRE_NONNEGATIVE(viscous_friction);
    REQUIRE_NONNEGATIVE(kp);
    REQUIRE_NONNEGATIVE(ki);
    REQUIRE_POSITIVE(max_torque);
    REQUIRE_POSITIVE(thermal_capacity);
    REQUIRE_POSITIVE(thermal_resistance);
    REQUIRE_REAL(ambient_temperature, v_ > -273.15, "above absolute zero (degC)");
    REQUIRE_NONNEGATIVE(wear_heating);
    REQUIRE_POSITIVE(load_rating);
    REQUIRE_NONNEGATIVE(preload);
    REQUIRE_POSITIVE(tool_radius);
    REQUIRE_NONNEGATIVE(wear_rate);
    REQUIRE_REAL(initial_wear, v_ >= 0.0 && v_ <= 1.0, "in [0, 1]");
    REQUIRE_REAL(wear_reset, v_ <= 1.0, "<= 1 (negative: no reset)");
    REQUIRE_NONNEGATIVE(base_vibration);
    REQUIRE_NONNEGATIVE(wear_vibration);
    REQUIRE_POSITIVE(rated_speed);
    REQUIRE_POSITIVE(solver_step);
    return 0;
}

/* Controller torque; *dintegral gets the integrator input, zero while the
 * torque limit is active and the error pushes further into it. */
static double controller(const ModelData *m, double omega, double integral, double *dintegral) {
    double error = R(speed_setpoint) * RPM - omega;
    double u = R(kp) * error + R(ki) * integral;
    double limit = R(max_torque);
    bool windup = (u > limit && error > 0.0) || (u < -limit && error < 0.0);
    if (dintegral) *dintegral = windup ? 0.0 : error;
    return clamp(u, -limit, limit);
}

static double load(const ModelData *m, double omega) {
    return R(load_torque) * tanh(omega / OMEGA_SMOOTH);
}

static double friction_coefficient(const ModelData *m, double wear) {
    return R(viscous_friction) * (1.0 + R(wear_heating) * wear);
}

/* Damage rate (1/s): revolutions per second over the ISO 281 rating life
 * L10 = (C/P)^3 * 1e6 revolutions at equivalent bearing load P. */
static double damage_rate(const ModelData *m, double omega, double load_torque) {
    double bearing_load = R(preload) + fabs(load_torque) / R(tool_radius);
    double ratio = bearing_load / R(load_rating);
    return R(wear_rate) * fabs(omega) / (2.0 * M_PI) * ratio * ratio * ratio / 1e6;
}

static void derivatives(const ModelData *m, const double *x, double *dx) {
    double omega = x[X_OMEGA];
    double torque = controller(m, omega, x[X_INTEGRAL], &dx[X_INTEGRAL]);
    double b = friction_coefficient(m, x[X_WEAR]);
    dx[X_OMEGA] = (torque - b * omega - load(m, omega)) / R(inertia);
    double heat = b * omega * omega;
    double cooling = (x[X_TEMPERATURE] - R(ambient_temperature)) / R(thermal_resistance);
    dx[X_TEMPERATURE] = (heat - cooling) / R(thermal_capacity);
    dx[X_WEAR] = damage_rate(m, omega, load(m, omega));
}

void model_initialize(ModelData *m) {
    double *x = m->st.x;
    x[X_OMEGA] = 0.0;
    x[X_INTEGRAL] = 0.0;
    x[X_TEMPERATURE] = R(ambient_temperature);
    x[X_WEAR] = R(initial_wear);
    m->st.applied_wear_reset = -1.0;
}

void model_outputs(ModelData *m) {
    const double *x = m->st.x;
    double omega = x[X_OMEGA];
    double wear = x[X_WEAR];
    double torque = controller(m, omega, x[X_INTEGRAL], NULL);
    R(speed) = omega / RPM;
    R(motor_torque) = torque;
    R(motor_power) = torque * omega;
    R(vibration) = fabs(omega) / (R(rated_speed) * RPM) * (R(base_vibration) + R(wear_vibration) * wear);
    R(bearing_temperature) = x[X_TEMPERATURE];
    R(wear) = wear;
    double rate = damage_rate(m, omega, load(m, omega));
    if (wear >= 1.0) {
        R(remaining_life) = 0.0;
    } else {
        double hours = rate > 0.0 ? (1.0 - wear) / rate / 3600.0 : MAX_LIFE_HOURS;
        R(remaining_life) = fmin(hours, MAX_LIFE_HOURS);
    }
}

int model_step(ModelData *m, double h, char *msg, size_t len) {
    /* A new wear_reset puts the damage state at the value a twin estimated
     * from measurements; it is applied once, at the start of this step. */
    double reset = R(wear_reset);
    if (reset >= 0.0 && reset != m->st.applied_wear_reset) {
        if (reset > 1.0) {
            snprintf(msg, len, "wear_reset must be <= 1, got %g", reset);
            return 1;
        }
        m->st.x[X_WEAR] = reset;
        m->st.applied_wear_reset = reset;
    }
    rk4_integrate(m, derivatives, N_STATES, m->st.x, h, R(solver_step));
    return 0;
}
