/* The floor: a bare C master calling the FMI 2.0 functions of the benchmark's
 * FMUs with no overhead beyond the calls themselves and a copy of each value.
 *
 *     floor PLAN.txt
 *
 * PLAN.txt is written by floor_runner.py (whitespace-separated tokens; the
 * three path-like fields of an FMU are whole lines):
 *
 *     fmus F
 *       binary path \n guid \n resource URI \n        (F times)
 *     slots NREAL NINT NBOOL
 *     components C
 *       component FMU_INDEX NAME
 *       starts S    then S lines: TYPE VR VALUE
 *       in TYPE N VR SLOT ...       (TYPE = 0, 1, 2: Real, Integer, Boolean)
 *       out TYPE N VR SLOT ...
 *     order C K0 K1 ...
 *     report R    then R lines: COMPONENT TYPE VR
 *     run ALGORITHM STEPS STEP_SIZE       (ALGORITHM: 0 Jacobi, 1 Gauss-Seidel)
 *
 * Prints "setup_s X", "run_s Y" and one "final V" line per reported value.
 * Time is t = n * STEP_SIZE from the integer step count n, and the
 * step size h = t(n+1) - t(n), as cosim computes them.
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The FMI 2.0 types this program uses (FMI 2.0 standard, section 2.1). */
typedef void *fmi2Component;
typedef void *fmi2ComponentEnvironment;
typedef unsigned int fmi2ValueReference;
typedef double fmi2Real;
typedef int fmi2Integer;
typedef int fmi2Boolean;
typedef int fmi2Status; /* fmi2OK = 0, fmi2Warning = 1, fmi2Discard = 2, fmi2Error = 3, ... */

typedef struct {
    void (*logger)(fmi2ComponentEnvironment, const char *, fmi2Status, const char *, const char *, ...);
    void *(*allocateMemory)(size_t, size_t);
    void (*freeMemory)(void *);
    void (*stepFinished)(fmi2ComponentEnvironment, fmi2Status);
    fmi2ComponentEnvironment componentEnvironment;
} Callbacks;

typedef fmi2Component (*InstantiateFn)(const char *, int, const char *, const char *, const Callbacks *,
                                       fmi2Boolean, fmi2Boolean);
typedef void (*FreeFn)(fmi2Component);
typedef fmi2Status (*SetupFn)(fmi2Component, fmi2Boolean, fmi2Real, fmi2Real, fmi2Boolean, fmi2Real);
typedef fmi2Status (*ModeFn)(fmi2Component);
typedef fmi2Status (*AccessFn)(fmi2Component, const fmi2ValueReference *, size_t, void *);
typedef fmi2Status (*StepFn)(fmi2Component, fmi2Real, fmi2Real, fmi2Boolean);

enum { T_REAL = 0, T_INT = 1, T_BOOL = 2, N_TYPES = 3 };

typedef struct {
    void *handle;
    char path[4096], guid[512], uri[4096];
    InstantiateFn instantiate;
    FreeFn free_instance;
    SetupFn setup;
    ModeFn enter_init, exit_init, terminate;
    AccessFn set[N_TYPES], get[N_TYPES];
    StepFn do_step;
} Fmu;

typedef struct {
    int n;
    fmi2ValueReference *vr;
    int *slot;
    void *values; /* n fmi2Real or fmi2Integer/fmi2Boolean (both int) */
} Port;

typedef struct {
    Fmu *fmu;
    char name[256];
    fmi2Component c;
    Port in[N_TYPES], out[N_TYPES];
} Unit;

static double *real_slots;
static int *int_slots[N_TYPES]; /* [T_INT] and [T_BOOL] */

static void logger(fmi2ComponentEnvironment env, const char *name, fmi2Status status, const char *category,
                   const char *message, ...) {
    (void)env, (void)name, (void)status, (void)category, (void)message;
}

static void die(const char *what, const char *detail) {
    fprintf(stderr, "floor: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

static void expect(FILE *f, const char *keyword) {
    char word[64];
    if (fscanf(f, "%63s", word) != 1 || strcmp(word, keyword) != 0) die("plan: expected", keyword);
}

static int read_int(FILE *f) {
    int v;
    if (fscanf(f, "%d", &v) != 1) die("plan: expected an integer", NULL);
    return v;
}

static void read_line(FILE *f, char *buf, size_t size) {
    int ch;
    while ((ch = fgetc(f)) == '\n' || ch == ' ') {
    }
    if (ch == EOF) die("plan: unexpected end", NULL);
    ungetc(ch, f);
    if (!fgets(buf, (int)size, f)) die("plan: unexpected end", NULL);
    buf[strcspn(buf, "\n")] = 0;
}

static void *symbol(Fmu *m, const char *name) {
    void *p = dlsym(m->handle, name);
    if (!p) die("missing symbol", name);
    return p;
}

static void read_port(FILE *f, Port *p, const char *keyword, int type) {
    expect(f, keyword);
    if (read_int(f) != type) die("plan: port types out of order", keyword);
    p->n = read_int(f);
    size_t n = p->n ? (size_t)p->n : 1;
    p->vr = calloc(n, sizeof *p->vr);
    p->slot = calloc(n, sizeof *p->slot);
    p->values = calloc(n, type == T_REAL ? sizeof(fmi2Real) : sizeof(int));
    for (int i = 0; i < p->n; i++) {
        p->vr[i] = (fmi2ValueReference)read_int(f);
        p->slot[i] = read_int(f);
    }
}

static void check(fmi2Status s, const char *what, const Unit *u) {
    if (s > 1) die(what, u->name);
}

/* Gather a unit's connected inputs from the slots and set them, one call per type. */
static inline void push(Unit *u) {
    Port *p = &u->in[T_REAL];
    if (p->n) {
        fmi2Real *v = p->values;
        for (int i = 0; i < p->n; i++) v[i] = real_slots[p->slot[i]];
        check(u->fmu->set[T_REAL](u->c, p->vr, p->n, v), "fmi2SetReal", u);
    }
    for (int t = T_INT; t <= T_BOOL; t++) {
        p = &u->in[t];
        if (!p->n) continue;
        int *v = p->values;
        for (int i = 0; i < p->n; i++) v[i] = int_slots[t][p->slot[i]];
        check(u->fmu->set[t](u->c, p->vr, p->n, v), t == T_INT ? "fmi2SetInteger" : "fmi2SetBoolean", u);
    }
}

/* Get a unit's connected outputs, one call per type, into the slots. */
static inline void pull(Unit *u) {
    Port *p = &u->out[T_REAL];
    if (p->n) {
        fmi2Real *v = p->values;
        check(u->fmu->get[T_REAL](u->c, p->vr, p->n, v), "fmi2GetReal", u);
        for (int i = 0; i < p->n; i++) real_slots[p->slot[i]] = v[i];
    }
    for (int t = T_INT; t <= T_BOOL; t++) {
        p = &u->out[t];
        if (!p->n) continue;
        int *v = p->values;
        check(u->fmu->get[t](u->c, p->vr, p->n, v), t == T_INT ? "fmi2GetInteger" : "fmi2GetBoolean", u);
        for (int i = 0; i < p->n; i++) int_slots[t][p->slot[i]] = v[i];
    }
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc != 2) die("usage: floor PLAN.txt", NULL);
    FILE *f = fopen(argv[1], "r");
    if (!f) die("cannot open", argv[1]);
    double started = now();

    expect(f, "fmus");
    int n_fmus = read_int(f);
    Fmu *fmus = calloc(n_fmus ? n_fmus : 1, sizeof *fmus);
    for (int i = 0; i < n_fmus; i++) {
        Fmu *m = &fmus[i];
        read_line(f, m->path, sizeof m->path);
        read_line(f, m->guid, sizeof m->guid);
        read_line(f, m->uri, sizeof m->uri);
        m->handle = dlopen(m->path, RTLD_NOW | RTLD_LOCAL);
        if (!m->handle) die("dlopen", dlerror());
        m->instantiate = (InstantiateFn)symbol(m, "fmi2Instantiate");
        m->free_instance = (FreeFn)symbol(m, "fmi2FreeInstance");
        m->setup = (SetupFn)symbol(m, "fmi2SetupExperiment");
        m->enter_init = (ModeFn)symbol(m, "fmi2EnterInitializationMode");
        m->exit_init = (ModeFn)symbol(m, "fmi2ExitInitializationMode");
        m->terminate = (ModeFn)symbol(m, "fmi2Terminate");
        m->set[T_REAL] = (AccessFn)symbol(m, "fmi2SetReal");
        m->set[T_INT] = (AccessFn)symbol(m, "fmi2SetInteger");
        m->set[T_BOOL] = (AccessFn)symbol(m, "fmi2SetBoolean");
        m->get[T_REAL] = (AccessFn)symbol(m, "fmi2GetReal");
        m->get[T_INT] = (AccessFn)symbol(m, "fmi2GetInteger");
        m->get[T_BOOL] = (AccessFn)symbol(m, "fmi2GetBoolean");
        m->do_step = (StepFn)symbol(m, "fmi2DoStep");
    }

    expect(f, "slots");
    int n_slots[N_TYPES];
    for (int t = 0; t < N_TYPES; t++) n_slots[t] = read_int(f);
    real_slots = calloc(n_slots[T_REAL] + 1, sizeof(double));
    int_slots[T_INT] = calloc(n_slots[T_INT] + 1, sizeof(int));
    int_slots[T_BOOL] = calloc(n_slots[T_BOOL] + 1, sizeof(int));

    static const Callbacks callbacks = {logger, calloc, free, NULL, NULL};
    expect(f, "components");
    int n_units = read_int(f);
    Unit *units = calloc(n_units ? n_units : 1, sizeof *units);
    for (int k = 0; k < n_units; k++) {
        Unit *u = &units[k];
        expect(f, "component");
        u->fmu = &fmus[read_int(f)];
        if (fscanf(f, "%255s", u->name) != 1) die("plan: expected a component name", NULL);
        u->c = u->fmu->instantiate(u->name, 1 /* fmi2CoSimulation */, u->fmu->guid, u->fmu->uri, &callbacks,
                                   0, 0);
        if (!u->c) die("fmi2Instantiate failed", u->name);
        check(u->fmu->setup(u->c, 0, 0.0, 0.0, 0, 0.0), "fmi2SetupExperiment", u);
        expect(f, "starts");
        int n_starts = read_int(f);
        for (int i = 0; i < n_starts; i++) {
            int type = read_int(f);
            fmi2ValueReference vr = (fmi2ValueReference)read_int(f);
            if (type == T_REAL) {
                fmi2Real value;
                if (fscanf(f, "%lf", &value) != 1) die("plan: expected a number", u->name);
                check(u->fmu->set[T_REAL](u->c, &vr, 1, &value), "fmi2SetReal (start)", u);
            } else {
                int value = read_int(f);
                check(u->fmu->set[type](u->c, &vr, 1, &value), "fmi2Set (start)", u);
            }
        }
        for (int t = 0; t < N_TYPES; t++) read_port(f, &u->in[t], "in", t);
        for (int t = 0; t < N_TYPES; t++) read_port(f, &u->out[t], "out", t);
    }
    expect(f, "order");
    if (read_int(f) != n_units) die("plan: order length", NULL);
    int *order = calloc(n_units ? n_units : 1, sizeof(int));
    for (int j = 0; j < n_units; j++) order[j] = read_int(f);
    expect(f, "report");
    int n_report = read_int(f);
    int *report = calloc(3 * (n_report ? n_report : 1), sizeof(int));
    for (int r = 0; r < 3 * n_report; r++) report[r] = read_int(f);
    expect(f, "run");
    int algorithm = read_int(f);
    long long steps;
    double step_size;
    if (fscanf(f, "%lld %lf", &steps, &step_size) != 2) die("plan: run line", NULL);
    fclose(f);

    /* Initialization: every connected output once, then two passes in plan order
     * (set connected inputs from the latest values, get connected outputs). */
    for (int k = 0; k < n_units; k++) check(units[k].fmu->enter_init(units[k].c), "enterInit", &units[k]);
    for (int j = 0; j < n_units; j++) pull(&units[order[j]]);
    for (int pass = 0; pass < 2; pass++) {
        for (int j = 0; j < n_units; j++) {
            push(&units[order[j]]);
            pull(&units[order[j]]);
        }
    }
    for (int k = 0; k < n_units; k++) check(units[k].fmu->exit_init(units[k].c), "exitInit", &units[k]);
    for (int j = 0; j < n_units; j++) pull(&units[order[j]]);
    double ready = now();

    for (long long n = 0; n < steps; n++) {
        double t = (double)n * step_size;
        double h = (double)(n + 1) * step_size - t;
        if (algorithm == 1) {
            for (int j = 0; j < n_units; j++) {
                Unit *u = &units[order[j]];
                push(u);
                check(u->fmu->do_step(u->c, t, h, 1), "fmi2DoStep", u);
                pull(u);
            }
        } else {
            for (int k = 0; k < n_units; k++) {
                Unit *u = &units[k];
                push(u);
                check(u->fmu->do_step(u->c, t, h, 1), "fmi2DoStep", u);
            }
            for (int k = 0; k < n_units; k++) pull(&units[k]);
        }
    }
    double done = now();

    printf("setup_s %.9f\nrun_s %.9f\n", ready - started, done - ready);
    for (int r = 0; r < n_report; r++) {
        Unit *u = &units[report[3 * r]];
        int type = report[3 * r + 1];
        fmi2ValueReference vr = (fmi2ValueReference)report[3 * r + 2];
        double value;
        if (type == T_REAL) {
            check(u->fmu->get[T_REAL](u->c, &vr, 1, &value), "fmi2GetReal (report)", u);
        } else {
            int v;
            check(u->fmu->get[type](u->c, &vr, 1, &v), "fmi2Get (report)", u);
            value = v;
        }
        printf("final %.17g\n", value);
    }
    for (int k = 0; k < n_units; k++) {
        units[k].fmu->terminate(units[k].c);
        units[k].fmu->free_instance(units[k].c);
    }
    return 0;
}
