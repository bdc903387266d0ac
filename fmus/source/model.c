/* Signal source: y(t) for the chosen waveform; exact at every communication point. */
#include "cosim_model.h"

enum { CONSTANT, STEP, RAMP, SINE };

int model_check(const ModelData *m, char *msg, size_t len) {
    if (I(waveform) < CONSTANT || I(waveform) > SINE) {
        return model_fail(msg, len, "waveform must be 0 (constant), 1 (step), 2 (ramp) or 3 (sine), got %d",
                          (int)I(waveform));
    }
    REQUIRE_FINITE(amplitude);
    REQUIRE_FINITE(offset);
    REQUIRE_FINITE(start_time);
    REQUIRE_POSITIVE(duration);
    REQUIRE_NONNEGATIVE(frequency);
    return 0;
}

void model_initialize(ModelData *m) { (void)m; }

void model_outputs(ModelData *m) {
    double elapsed = m->time - R(start_time);
    double shape = 0.0;
    switch (I(waveform)) {
    case CONSTANT: shape = 1.0; break;
    case STEP: shape = elapsed >= 0.0 ? 1.0 : 0.0; break;
    case RAMP: shape = clamp(elapsed / R(duration), 0.0, 1.0); break;
    case SINE: shape = elapsed >= 0.0 ? sin(2.0 * M_PI * R(frequency) * elapsed) : 0.0; break;
    }
    R(y) = R(offset) + R(amplitude) * shape;
}

int model_step(ModelData *m, double h, char *msg, size_t len) {
    (void)m, (void)h, (void)msg, (void)len;
    return 0;
}
