/* y = k*u; the first step ending after crash_time takes its process down
 * (or never returns), after logging a warning that says how.  With a
 * crash_marker path, only while that file does not exist (it is created
 * first): the process started again after the crash goes past. */
#include "instance.h"

#include <signal.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

int model_check(const ModelData *m, char *msg, size_t len) {
    REQUIRE_FINITE(k);
    if (I(crash_how) < 1 || I(crash_how) > 4)
        return model_fail(msg, len, "crash_how must be 1, 2, 3 or 4, got %d", I(crash_how));
    return 0;
}

void model_initialize(ModelData *m) { (void)m; }

void model_outputs(ModelData *m) { R(y) = R(k) * R(u); }

static volatile int *nowhere;
static volatile int forever = 1;

int model_step(ModelData *m, double h, char *msg, size_t len) {
    (void)msg, (void)len;
    if (m->time + h <= R(crash_time) + 1e-12)
        return 0;
    const char *marker = m->s[S_crash_marker];
    if (marker[0]) {
        int fd = open(marker, O_CREAT | O_EXCL | O_WRONLY, 0600);
        if (fd < 0) return 0;           /* crashed before */
        close(fd);
    }
    static const char *const how[] = {"", "segmentation fault", "abort", "exit(3)", "endless loop"};
    Instance *inst = (Instance *)((char *)m - offsetof(Instance, m));
    inst_log(inst, ST_WARNING, "logStatusWarning", "crashing on purpose at t=%g: %s",
             m->time, how[I(crash_how)]);
    switch (I(crash_how)) {
    case 1: return *nowhere;
    case 2: abort();
    case 3: exit(3);
    default:
        while (forever) pause();
    }
    return 0;
}
