/* y = k*u; every step ending after leak_time allocates leak_bytes more, writes
 * to every page of them (so that they are resident) and never frees them. */
#include "instance.h"

#include <stdlib.h>

int model_check(const ModelData *m, char *msg, size_t len) {
    REQUIRE_FINITE(k);
    if (I(leak_bytes) < 0)
        return model_fail(msg, len, "leak_bytes must be >= 0, got %d", I(leak_bytes));
    return 0;
}

void model_initialize(ModelData *m) { (void)m; }

void model_outputs(ModelData *m) { R(y) = R(k) * R(u); }

int model_step(ModelData *m, double h, char *msg, size_t len) {
    if (m->time + h <= R(leak_time) + 1e-12 || I(leak_bytes) == 0)
        return 0;
    volatile char *lost = malloc((size_t)I(leak_bytes));
    if (!lost)
        return model_fail(msg, len, "out of memory at t=%g", m->time);
    for (size_t at = 0; at < (size_t)I(leak_bytes); at += 4096)
        lost[at] = 1;                   /* volatile: the pages are really touched */
    return 0;
}
