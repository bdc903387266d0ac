/* Continuous heat-treatment furnace: three zones in series (heat-up, soak,
 * cooling).  Each zone is a lumped heat capacity heated by a burner under PI
 * control, losing heat through its wall and to its neighbours, and heating
 * the parts resident in it; the parts move through the zones as a mass flow
 * of well-mixed lumps.  Equations in fmus/README.md. */
#include "cosim_model.h"

static const int CAPACITY[N_ZONES] = {R_heat_zone_capacity, R_soak_zone_capacity, R_cool_zone_capacity};
static const int WALL[N_ZONES] = {R_heat_zone_wall_loss, R_soak_zone_wall_loss, R_cool_zone_wall_loss};
static const int TRANSFER[N_ZONES] = {R_heat_zone_transfer, R_soak_zone_transfer, R_cool_zone_transfer};
static const int MAX_POWER[N_ZONES] = {R_heat_zone_max_power, R_soak_zone_max_power, R_cool_zone_max_power};
static const int SETPOINT[N_ZONES] = {R_heat_zone_setpoint, R_soak_zone_setpoint, R_cool_zone_setpoint};
static const int COMMAND[N_ZONES] = {R_heat_zone_command, R_soak_zone_command, R_cool_zone_command};
static const int TEMPERATURE[N_ZONES] = {R_heat_zone_temperature, R_soak_zone_temperature, R_cool_zone_temperature};
static const int POWER[N_ZONES] = {R_heat_zone_power, R_soak_zone_power, R_cool_zone_power};

int model_check(const ModelData *m, char *msg, size_t len) {
    REQUIRE_POSITIVE(heat_zone_capacity);
    REQUIRE_POSITIVE(soak_zone_capacity);
    REQUIRE_POSITIVE(cool_zone_capacity);
    REQUIRE_NONNEGATIVE(heat_zone_wall_loss);
    REQUIRE_NONNEGATIVE(soak_zone_wall_loss);
    REQUIRE_NONNEGATIVE(cool_zone_wall_loss);
    REQUIRE_NONNEGATIVE(heat_zone_transfer);
    REQUIRE_NONNEGATIVE(soak_zone_transfer);
    REQUIRE_NONNEGATIVE(cool_zone_transfer);
    REQUIRE_NONNEGATIVE(heat_zone_max_power);
    REQUIRE_NONNEGATIVE(soak_zone_max_power);
    REQUIRE_NONNEGATIVE(cool_zone_max_power);
    REQUIRE_POSITIVE(part_load);
    REQUIRE_POSITIVE(part_specific_heat);
    REQUIRE_NONNEGATIVE(interzone_conductance);
    REQUIRE_NONNEGATIVE(kp);
    REQUIRE_NONNEGATIVE(ki);
    REQUIRE_REAL(ambient_temperature, v_ > -273.15, "above absolute zero (degC)");
    REQUIRE_POSITIVE(solver_step);
    return 0;
}

/* Parts flow forward only; a negative flow command means no flow. */
static double mass_flow(const ModelData *m) { return fmax(R(part_mass_flow), 0.0); }

/* Burner power of zone z; *dintegral gets the integrator input, held at zero
 * while the burner limit is active and the error pushes further into it. */
static double burner(const ModelData *m, int z, double temperature, double integral,
                     double *dintegral) {
    double max_power = m->r[MAX_POWER[z]];
    if (!B(closed_loop)) {
        if (dintegral) *dintegral = 0.0;
        return clamp(m->r[COMMAND[z]], 0.0, 1.0) * max_power;
    }
    double error = m->r[SETPOINT[z]] - temperature;
    double u = R(kp) * error + R(ki) * integral;
    bool windup = (u > max_power && error > 0.0) || (u < 0.0 && error < 0.0);
    if (dintegral) *dintegral = windup ? 0.0 : error;
    return clamp(u, 0.0, max_power);
}

/* Heat flowing out of zone z into its neighbours, walls and parts (W). */
static double zone_losses(const ModelData *m, int z, const double *zone, const double *part) {
    double g = R(interzone_conductance);
    double loss = m->r[TRANSFER[z]] * (zone[z] - part[z]) + m->r[WALL[z]] * (zone[z] - R(ambient_temperature));
    if (z > 0) loss += g * (zone[z] - zone[z - 1]);
    if (z < N_ZONES - 1) loss += g * (zone[z] - zone[z + 1]);
    return loss;
}

static void derivatives(const ModelData *m, const double *x, double *dx) {
    const double *zone = x + X_ZONE, *part = x + X_PART;
    double flow_capacity = mass_flow(m) * R(part_specific_heat);   /* W/K carried by the parts */
    double part_capacity = R(part_load) * R(part_specific_heat);    /* J/K of parts per zone */
    double upstream = R(part_entry_temperature);
    dx[X_ENERGY] = 0.0;
    for (int z = 0; z < N_ZONES; z++) {
        double power = burner(m, z, zone[z], x[X_INTEGRAL + z], &dx[X_INTEGRAL + z]);
        dx[X_ZONE + z] = (power - zone_losses(m, z, zone, part)) / m->r[CAPACITY[z]];
        double heating = m->r[TRANSFER[z]] * (zone[z] - part[z]);
        dx[X_PART + z] = (flow_capacity * (upstream - part[z]) + heating) / part_capacity;
        dx[X_ENERGY] += power;
        upstream = part[z];
    }
}

void model_initialize(ModelData *m) {
    double *x = m->st.x;
    double *zone = x + X_ZONE, *part = x + X_PART;
    for (int z = 0; z < N_ZONES; z++) {
        zone[z] = B(start_hot) ? m->r[SETPOINT[z]] : R(ambient_temperature);
        x[X_INTEGRAL + z] = 0.0;
    }
    x[X_ENERGY] = 0.0;
    if (!B(start_hot)) {
        for (int z = 0; z < N_ZONES; z++) part[z] = R(ambient_temperature);
        return;
    }
    /* Hot start: parts at their steady-state temperatures and each burner
     * integral at the power that holds its zone at the setpoint. */
    double flow_capacity = mass_flow(m) * R(part_specific_heat);
    double upstream = R(part_entry_temperature);
    for (int z = 0; z < N_ZONES; z++) {
        double hA = m->r[TRANSFER[z]];
        /* Isolated parts (no flow, no transfer) keep the temperature they came with. */
        if (flow_capacity + hA > 0.0) {
            part[z] = (flow_capacity * upstream + hA * zone[z]) / (flow_capacity + hA);
        } else {
            part[z] = upstream;
        }
        upstream = part[z];
    }
    if (R(ki) > 0.0) {
        for (int z = 0; z < N_ZONES; z++) {
            double power = clamp(zone_losses(m, z, zone, part), 0.0, m->r[MAX_POWER[z]]);
            x[X_INTEGRAL + z] = power / R(ki);
        }
    }
}

void model_outputs(ModelData *m) {
    const double *x = m->st.x;
    double total = 0.0;
    for (int z = 0; z < N_ZONES; z++) {
        double power = burner(m, z, x[X_ZONE + z], x[X_INTEGRAL + z], NULL);
        m->r[TEMPERATURE[z]] = x[X_ZONE + z];
        m->r[POWER[z]] = power;
        total += power;
    }
    R(part_exit_temperature) = x[X_PART + N_ZONES - 1];
    R(burner_power) = total;
    R(energy) = x[X_ENERGY];
    R(soak_deviation) = x[X_ZONE + 1] - R(soak_zone_setpoint);
}

int model_step(ModelData *m, double h, char *msg, size_t len) {
    (void)msg, (void)len;
    rk4_integrate(m, derivatives, N_STATES, m->st.x, h, R(solver_step));
    return 0;
}
