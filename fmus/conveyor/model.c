/* Belt conveyor.  The belt speed follows its command with a first-order lag
 * (integrated exactly); parts are tracked as a cumulative count against belt
 * travel, so the discharge delivers exactly what entered `length` metres of
 * travel earlier, whatever the speed profile, and parts are conserved.
 * Equations in fmus/README.md. */
#include "cosim_model.h"

#define GRAVITY 9.81

int model_check(const ModelData *m, char *msg, size_t len) {
    REQUIRE_POSITIVE(length);
    REQUIRE_POSITIVE(capacity);
    REQUIRE_POSITIVE(motor_time_constant);
    REQUIRE_NONNEGATIVE(friction_coefficient);
    REQUIRE_NONNEGATIVE(belt_mass);
    REQUIRE_NONNEGATIVE(part_mass);
    REQUIRE_REAL(drive_efficiency, v_ > 0.0 && v_ <= 1.0, "in (0, 1]");
    REQUIRE_POSITIVE(max_speed);
    REQUIRE_POSITIVE(solver_step);
    return 0;
}

static double speed_command(const ModelData *m) {
    return clamp(R(belt_speed_command), 0.0, R(max_speed));
}

static int slot(const ModelState *s, int k) { return (s->head + k) % HISTORY; }

static void push(ModelState *s, double position, double cumulative) {
    if (s->count == HISTORY) {  /* cannot happen with the spacing rule; keep the newest data */
        s->head = slot(s, 1);
        s->count--;
    }
    int k = slot(s, s->count++);
    s->position[k] = position;
    s->cumulative[k] = cumulative;
}

/* Record the current (travel, parts_in): extend the newest segment while it
 * is shorter than the spacing, otherwise start a new one. */
static void record(ModelState *s, double spacing) {
    if (s->count >= 2) {
        int newest = slot(s, s->count - 1), previous = slot(s, s->count - 2);
        if (s->position[newest] - s->position[previous] < spacing) {
            s->position[newest] = s->travel;
            s->cumulative[newest] = s->parts_in;
            return;
        }
    }
    push(s, s->travel, s->parts_in);
}

/* Cumulative count placed at belt position x; drops history no longer needed. */
static double count_at(ModelState *s, double x) {
    while (s->count >= 2 && s->position[slot(s, 1)] <= x) {
        s->head = slot(s, 1);
        s->count--;
    }
    int a = slot(s, 0);
    if (s->count < 2 || x <= s->position[a]) return s->cumulative[a];
    int b = slot(s, 1);
    double w = (x - s->position[a]) / (s->position[b] - s->position[a]);
    return s->cumulative[a] + w * (s->cumulative[b] - s->cumulative[a]);
}

void model_initialize(ModelData *m) {
    ModelState *s = &m->st;
    s->speed = speed_command(m);
    s->travel = 0.0;
    s->parts_out = s->parts_out_before = 0.0;
    s->last_step = 0.0;
    s->head = s->count = 0;
    /* A loaded belt carries the density part_flow_in/speed over its length. */
    double loaded = 0.0;
    if (B(start_loaded) && s->speed > 0.0) {
        loaded = fmax(R(part_flow_in), 0.0) / s->speed * R(length);
    }
    push(s, -R(length), 0.0);
    push(s, 0.0, loaded);
    s->parts_in = loaded;
    s->initial_flow_out = loaded > 0.0 ? fmax(R(part_flow_in), 0.0) : 0.0;
}

void model_outputs(ModelData *m) {
    const ModelState *s = &m->st;
    double on_belt = s->parts_in - s->parts_out;
    double moving_mass = R(belt_mass) + R(part_mass) * on_belt;
    double acceleration = (speed_command(m) - s->speed) / R(motor_time_constant);
    double force = moving_mass * (R(friction_coefficient) * GRAVITY + acceleration);
    R(belt_speed) = s->speed;
    R(part_flow_out) = s->last_step > 0.0 ? (s->parts_out - s->parts_out_before) / s->last_step
                                          : s->initial_flow_out;
    R(parts_on_belt) = on_belt;
    R(parts_delivered) = s->parts_out;
    R(motor_power) = fmax(force * s->speed, 0.0) / R(drive_efficiency);
    B(jam) = on_belt > R(capacity);
}

int model_step(ModelData *m, double h, char *msg, size_t len) {
    (void)msg, (void)len;
    ModelState *s = &m->st;
    double command = speed_command(m);
    double inflow = fmax(R(part_flow_in), 0.0);
    double tau = R(motor_time_constant);
    double spacing = R(length) / HISTORY_SPACING;
    int steps = (int)ceil(h / R(solver_step) * (1.0 - 1e-12));
    if (steps < 1) steps = 1;
    double dt = h / steps;
    double decay = exp(-dt / tau);
    s->parts_out_before = s->parts_out;
    for (int k = 0; k < steps; k++) {
        double gap = s->speed - command;
        s->travel += command * dt + gap * tau * (1.0 - decay);
        s->speed = command + gap * decay;
        s->parts_in += inflow * dt;
        record(s, spacing);
        s->parts_out = count_at(s, s->travel - R(length));
    }
    s->last_step = h;
    return 0;
}
