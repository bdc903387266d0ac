#include "instance.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const TYPE_NAMES[] = {"Real", "Integer", "Boolean", "String", "Clock",
                                         "Float32", "Int8", "UInt8", "Int16", "UInt16",
                                         "UInt32", "Int64", "UInt64", "Binary"};
/* Bytes of one value of each type in the FMI calls (T_FLOAT32 .. T_UINT64). */
static const size_t CELL_SIZES[] = {0, 0, 0, 0, 0, 4, 1, 1, 2, 2, 4, 8, 8};

/* An FMI 3 only number from the text it was written as, exactly. */
static Cell parse_cell(int type, const char *text) {
    Cell c;
    memset(&c, 0, sizeof c);
    switch (type) {
    case T_FLOAT32: c.f32 = strtof(text, NULL); break;
    case T_INT8: c.i8 = (int8_t)strtoll(text, NULL, 10); break;
    case T_UINT8: c.u8 = (uint8_t)strtoull(text, NULL, 10); break;
    case T_INT16: c.i16 = (int16_t)strtoll(text, NULL, 10); break;
    case T_UINT16: c.u16 = (uint16_t)strtoull(text, NULL, 10); break;
    case T_UINT32: c.u32 = (uint32_t)strtoull(text, NULL, 10); break;
    case T_INT64: c.i64 = strtoll(text, NULL, 10); break;
    case T_UINT64: c.u64 = strtoull(text, NULL, 10); break;
    }
    return c;
}

/* A Binary start value from its hex digits (FMI 3 writes them so). */
static size_t parse_hex(const char *text, uint8_t *out, size_t capacity) {
    size_t n = 0;
    for (; text[0] && text[1] && n < capacity; text += 2) {
        char pair[3] = {text[0], text[1], 0};
        out[n++] = (uint8_t)strtoul(pair, NULL, 16);
    }
    return n;
}
static const char *const MODE_NAMES[] = {
    "instantiated", "initialization mode", "step mode", "terminated", "error", "event mode",
    "configuration mode"};

void inst_log(Instance *inst, int status, const char *category, const char *fmt, ...) {
    if (!inst->log || (status == ST_OK && !inst->logging_on)) return;
    char message[1024];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    inst->log(inst, status, category, message);
}

static int fail(Instance *inst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(Instance *inst, const char *fmt, ...) {
    char message[1024];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    inst_log(inst, ST_ERROR, "logStatusError", "%s", message);
    return ST_ERROR;
}

static void set_start_values(ModelData *m) {
    memset(m, 0, sizeof *m);
    m->tolerance = NAN;
    for (int k = 1; k < N_VARS; k++) {
        const VarInfo *v = &VARS[k];
        for (int e = 0; e < v->count; e++) {
            double start = v->starts ? v->starts[e] : v->start;
            switch (v->type) {
            case T_REAL: m->r[v->slot + e] = start; break;
            case T_INTEGER: m->i[v->slot + e] = (int32_t)start; break;
            case T_BOOLEAN: m->b[v->slot + e] = start != 0.0; break;
            case T_STRING:
                snprintf(m->s[v->slot], STRING_CAPACITY, "%s", v->start_string);
                break;
            case T_CLOCK: m->k_interval[v->slot] = v->start; break;   /* intervalDecimal */
            case T_BINARY:
                m->y_size[v->slot] = parse_hex(v->start_string, m->y[v->slot], sizeof m->y[0]);
                break;
            default: m->x[v->slot + e] = parse_cell(v->type, v->start_string); break;
            }
        }
    }
}

Instance *inst_new(const char *name, const char *token, LogFn log, void *callback,
                   void *environment, bool logging_on) {
    Instance *inst = calloc(1, sizeof *inst);
    if (!inst) return NULL;
    inst->name = strdup(name ? name : MODEL_NAME);
    inst->log = log;
    inst->log_callback = callback;
    inst->environment = environment;
    inst->logging_on = logging_on;
    if (!inst->name) {
        free(inst);
        return NULL;
    }
    if (!token || strcmp(token, MODEL_GUID) != 0) {
        fail(inst, "instantiation token %s does not match this FMU's %s (wrong modelDescription.xml?)",
             token ? token : "(null)", MODEL_GUID);
        inst_free(inst);
        return NULL;
    }
    set_start_values(&inst->m);
    inst->mode = MODE_INSTANTIATED;
    return inst;
}

void inst_free(Instance *inst) {
    if (!inst) return;
    free(inst->name);
    free(inst);
}

/* Check parameters, then derive state and outputs from them. */
static int initialize_model(Instance *inst) {
    char msg[512];
    if (model_check(&inst->m, msg, sizeof msg)) {
        return fail(inst, "invalid parameter: %s", msg);
    }
    model_initialize(&inst->m);
    model_outputs(&inst->m);
    inst->dirty = false;
    return ST_OK;
}

static int check_outputs_finite(Instance *inst) {
    const ModelData *m = &inst->m;
    for (int k = 1; k < N_VARS; k++) {
        const VarInfo *v = &VARS[k];
        for (int e = 0; v->type == T_REAL && e < v->count; e++) {
            if (!isfinite(m->r[v->slot + e])) {
                return fail(inst, "variable %s%s became %g at t=%.9g; check the parameters and "
                            "inputs", v->name, v->count > 1 ? " (an element)" : "",
                            m->r[v->slot + e], m->time);
            }
        }
    }
    return ST_OK;
}

int inst_enter_config(Instance *inst) {
    if (inst->mode != MODE_INSTANTIATED) {
        return fail(inst, "enter configuration mode called in %s", MODE_NAMES[inst->mode]);
    }
    inst->mode = MODE_CONFIG;
    return ST_OK;
}

int inst_exit_config(Instance *inst) {
    if (inst->mode != MODE_CONFIG) {
        return fail(inst, "exit configuration mode called in %s", MODE_NAMES[inst->mode]);
    }
    inst->mode = MODE_INSTANTIATED;
    return ST_OK;
}

int inst_enter_init(Instance *inst, double start_time) {
    if (inst->mode != MODE_INSTANTIATED) {
        return fail(inst, "enter initialization mode called in %s", MODE_NAMES[inst->mode]);
    }
    inst->m.time = start_time;
    inst->mode = MODE_INIT;
    inst->dirty = true;
    inst_log(inst, ST_OK, "logEvents", "entered initialization mode at t=%g", start_time);
    return ST_OK;
}

int inst_exit_init(Instance *inst) {
    if (inst->mode != MODE_INIT) {
        return fail(inst, "exit initialization mode called in %s", MODE_NAMES[inst->mode]);
    }
    if (initialize_model(inst) != ST_OK || check_outputs_finite(inst) != ST_OK) {
        inst->mode = MODE_ERROR;
        return ST_ERROR;
    }
    inst->mode = MODE_STEP;
    inst_log(inst, ST_OK, "logEvents", "initialized at t=%g", inst->m.time);
    return ST_OK;
}

int inst_do_step(Instance *inst, double t, double h) {
    if (inst->mode != MODE_STEP) {
        return fail(inst, "do step called in %s", MODE_NAMES[inst->mode]);
    }
    if (!(h >= 0.0) || !isfinite(h)) {
        return fail(inst, "communication step size must be >= 0, got %g", h);
    }
    double tolerance = 1e-9 * fmax(1.0, fabs(t));
    if (fabs(t - inst->m.time) > tolerance) {
        return fail(inst, "communication point t=%.17g does not match the FMU time %.17g",
                    t, inst->m.time);
    }
    inst->m.time = t;
    char msg[512];
    if (h > 0.0 && model_step(&inst->m, h, msg, sizeof msg)) {
        inst->mode = MODE_ERROR;
        return fail(inst, "step from t=%.9g failed: %s", t, msg);
    }
#ifdef MODEL_EXCHANGE
    if (!inst->m.returned_early) inst->m.time = t + h;
#else
    if (!inst->m.terminate) inst->m.time = t + h;
#endif
    model_outputs(&inst->m);
    inst->dirty = false;
    if (check_outputs_finite(inst) != ST_OK) {
        inst->mode = MODE_ERROR;
        return ST_ERROR;
    }
    return ST_OK;
}

#ifdef MODEL_EXCHANGE
int inst_update_discrete_states(Instance *inst, bool *again, bool *states_changed) {
    if (inst->mode != MODE_EVENT) {
        return fail(inst, "update discrete states called in %s", MODE_NAMES[inst->mode]);
    }
    ModelData *m = &inst->m;
    char msg[512];
    *states_changed = false;
    if (model_event_update(m, states_changed, msg, sizeof msg)) {
        inst->mode = MODE_ERROR;
        return fail(inst, "event at t=%.9g failed: %s", m->time, msg);
    }
    m->event_reached = false;
    model_outputs(m);
    inst->dirty = false;
    /* A time event rescheduled at (or before) now is due at once: another
     * iteration at the same time. */
    *again = m->next_event_time <= m->time;
    inst_log(inst, ST_OK, "logEvents", "event at t=%.9g%s", m->time,
             *states_changed ? ", states reset" : "");
    return check_outputs_finite(inst);
}
#endif

int inst_terminate(Instance *inst) {
    if (inst->mode != MODE_STEP && inst->mode != MODE_INIT && inst->mode != MODE_EVENT) {
        return fail(inst, "terminate called in %s", MODE_NAMES[inst->mode]);
    }
    inst->mode = MODE_TERMINATED;
    return ST_OK;
}

int inst_reset(Instance *inst) {
    set_start_values(&inst->m);
    inst->mode = MODE_INSTANTIATED;
    inst->dirty = false;
    return ST_OK;
}

static int lookup(Instance *inst, unsigned vr, int type, const VarInfo **out) {
    if (vr >= N_VARS) {
        return fail(inst, "unknown value reference %u (this FMU has 0..%d)", vr, N_VARS - 1);
    }
    const VarInfo *v = &VARS[vr];
    if (v->type != type) {
        return fail(inst, "variable %s (value reference %u) is %s, not %s",
                    v->name, vr, TYPE_NAMES[v->type], TYPE_NAMES[type]);
    }
    *out = v;
    return ST_OK;
}

static int check_settable(Instance *inst, const VarInfo *v) {
    if (inst->mode == MODE_ERROR || inst->mode == MODE_TERMINATED) {
        return fail(inst, "cannot set %s in %s", v->name, MODE_NAMES[inst->mode]);
    }
    /* Structural parameters change the model's structure: the standard lets
     * them change in configuration mode only, and only them. */
    if ((v->causality == C_STRUCTURALPARAMETER) != (inst->mode == MODE_CONFIG)) {
        return fail(inst, v->causality == C_STRUCTURALPARAMETER
                              ? "structural parameter %s can only be set in configuration mode"
                              : "%s is not a structural parameter and cannot be set in "
                                "configuration mode", v->name);
    }
    if (v->causality != C_PARAMETER && v->causality != C_INPUT
            && v->causality != C_STRUCTURALPARAMETER) {
        return fail(inst, "%s is not an input or parameter and cannot be set", v->name);
    }
    if (v->variability == V_FIXED && (inst->mode == MODE_STEP || inst->mode == MODE_EVENT)) {
        return fail(inst, "fixed parameter %s cannot be changed after initialization", v->name);
    }
    return ST_OK;
}

/* Clocked variables can be set and read only while their clock is active
 * (in event mode), and in initialization mode, as FMI 3 says. */
static int check_clocked(Instance *inst, const VarInfo *v) {
    if (v->clock < 0 || inst->mode == MODE_INIT || inst->mode == MODE_INSTANTIATED) return ST_OK;
    if (inst->mode == MODE_EVENT && inst->m.k[v->clock]) return ST_OK;
    const char *clock = "its clock";
    for (int k = 1; k < N_VARS; k++) {
        if (VARS[k].type == T_CLOCK && VARS[k].slot == v->clock) clock = VARS[k].name;
    }
    return fail(inst, "%s is clocked by %s, which is not active (%s)", v->name, clock,
                MODE_NAMES[inst->mode]);
}

size_t inst_count_values(const unsigned vr[], size_t n) {
    size_t count = 0;
    for (size_t k = 0; k < n; k++) count += vr[k] < N_VARS ? (size_t)VARS[vr[k]].count : 1;
    return count;
}

int inst_set(Instance *inst, int type, const unsigned vr[], size_t n, const void *values) {
    ModelData *m = &inst->m;
    size_t j = 0;       /* the first value of variable k: arrays take one per element */
    for (size_t k = 0; k < n; k++) {
        const VarInfo *v = NULL;
        if (lookup(inst, vr[k], type, &v) != ST_OK || check_settable(inst, v) != ST_OK
                || check_clocked(inst, v) != ST_OK) {
            return ST_ERROR;
        }
        for (int e = 0; e < v->count; e++, j++) {
            switch (type) {
            case T_REAL:
                m->r[v->slot + e] = ((const double *)values)[j];
                m->dr[v->slot + e] = 0.0;       /* a new value starts without a slope */
                break;
            case T_INTEGER: m->i[v->slot + e] = ((const int32_t *)values)[j]; break;
            case T_BOOLEAN: m->b[v->slot + e] = ((const bool *)values)[j]; break;
            case T_STRING: break;
            default:
                memcpy(&m->x[v->slot + e], (const char *)values + j * CELL_SIZES[type],
                       CELL_SIZES[type]);
            }
        }
        if (type == T_STRING) {
            const char *s = ((const char *const *)values)[k];
            if (!s || strlen(s) >= STRING_CAPACITY) {
                return fail(inst, "string for %s is missing or longer than %d bytes", v->name,
                            STRING_CAPACITY - 1);
            }
            strcpy(m->s[v->slot], s);
        }
#ifdef QUIRK_RESTARTS_ON_SET
        if (v->causality == C_INPUT) model_input_set(m, v);
#endif
    }
    if (n > 0) inst->dirty = true;
    return ST_OK;
}

int inst_set_input_derivatives(Instance *inst, const unsigned vr[], size_t n, const int order[],
                                const double values[]) {
#ifdef MODEL_CAN_INTERPOLATE_INPUTS
    for (size_t k = 0; k < n; k++) {
        const VarInfo *v = NULL;
        if (lookup(inst, vr[k], T_REAL, &v) != ST_OK) return ST_ERROR;
        if (v->causality != C_INPUT) {
            return fail(inst, "input derivatives: %s is not an input", v->name);
        }
        if (order[k] != 1) {
            return fail(inst, "input derivatives: %s: only order 1 is supported, got %d", v->name,
                        order[k]);
        }
        inst->m.dr[v->slot] = values[k];
    }
    return ST_OK;
#else
    (void)vr, (void)n, (void)order, (void)values;
    return inst_unsupported(inst, "fmi2SetRealInputDerivatives");
#endif
}

/* Bring outputs up to date with inputs and parameters set since the last step. */
static int refresh(Instance *inst) {
    if (!inst->dirty) return ST_OK;
    if (inst->mode == MODE_INIT) return initialize_model(inst);
    if (inst->mode == MODE_STEP || inst->mode == MODE_EVENT) {
        model_outputs(&inst->m);
        inst->dirty = false;
    }
    return ST_OK;
}

int inst_refresh(Instance *inst) { return refresh(inst); }

int inst_get(Instance *inst, int type, const unsigned vr[], size_t n, void *values) {
    /* Parameters and inputs hold what was set: only other values need the
     * outputs brought up to date (and the parameters checked) first. */
    bool computed = false;
    for (size_t k = 0; k < n; k++) {
        const VarInfo *v = NULL;
        if (lookup(inst, vr[k], type, &v) != ST_OK) return ST_ERROR;
        computed = computed || (v->causality != C_PARAMETER && v->causality != C_INPUT &&
                                v->causality != C_STRUCTURALPARAMETER);
    }
    if (computed && refresh(inst) != ST_OK) return ST_ERROR;
    ModelData *m = &inst->m;
    size_t j = 0;
    for (size_t k = 0; k < n; k++) {
        const VarInfo *v = NULL;
        if (lookup(inst, vr[k], type, &v) != ST_OK || check_clocked(inst, v) != ST_OK) {
            return ST_ERROR;
        }
        for (int e = 0; e < v->count; e++, j++) {
            switch (type) {
            case T_REAL: ((double *)values)[j] = v->slot < 0 ? m->time : m->r[v->slot + e]; break;
            case T_INTEGER: ((int32_t *)values)[j] = m->i[v->slot + e]; break;
            case T_BOOLEAN: ((bool *)values)[j] = m->b[v->slot + e]; break;
            case T_STRING: ((const char **)values)[j] = m->s[v->slot]; break;
            default:
                memcpy((char *)values + j * CELL_SIZES[type], &m->x[v->slot + e],
                       CELL_SIZES[type]);
            }
        }
    }
    return ST_OK;
}

int inst_set_binary(Instance *inst, const unsigned vr[], size_t n, const size_t sizes[],
                    const uint8_t *const values[]) {
    ModelData *m = &inst->m;
    for (size_t k = 0; k < n; k++) {
        const VarInfo *v = NULL;
        if (lookup(inst, vr[k], T_BINARY, &v) != ST_OK || check_settable(inst, v) != ST_OK
                || check_clocked(inst, v) != ST_OK) {
            return ST_ERROR;
        }
        if (sizes[k] > sizeof m->y[0] || (sizes[k] > 0 && !values[k])) {
            return fail(inst, "binary value for %s is missing or longer than %zu bytes", v->name,
                        sizeof m->y[0]);
        }
        if (sizes[k] > 0) memcpy(m->y[v->slot], values[k], sizes[k]);
        m->y_size[v->slot] = sizes[k];
#ifdef QUIRK_RESTARTS_ON_SET
        if (v->causality == C_INPUT) model_input_set(m, v);
#endif
    }
    if (n > 0) inst->dirty = true;
    return ST_OK;
}

int inst_get_binary(Instance *inst, const unsigned vr[], size_t n, size_t sizes[],
                    const uint8_t *values[]) {
    if (refresh(inst) != ST_OK) return ST_ERROR;
    for (size_t k = 0; k < n; k++) {
        const VarInfo *v = NULL;
        if (lookup(inst, vr[k], T_BINARY, &v) != ST_OK || check_clocked(inst, v) != ST_OK) {
            return ST_ERROR;
        }
        sizes[k] = inst->m.y_size[v->slot];
        values[k] = inst->m.y[v->slot];
    }
    return ST_OK;
}

int inst_get_output_derivatives(Instance *inst, const unsigned vr[], size_t n, const int order[],
                                double values[], size_t n_values, const char *function) {
#ifdef MODEL_PROVIDES_OUTPUT_DERIVATIVES
    if (inst->mode != MODE_STEP) {
        return fail(inst, "%s called in %s", function, MODE_NAMES[inst->mode]);
    }
    if (n_values != inst_count_values(vr, n)) {
        return fail(inst, "%s: %zu values for %zu variables holding %zu elements", function,
                    n_values, n, inst_count_values(vr, n));
    }
    if (refresh(inst) != ST_OK) return ST_ERROR;
    char msg[512];
    size_t j = 0;
    for (size_t k = 0; k < n; k++) {
        const VarInfo *v = NULL;
        if (lookup(inst, vr[k], T_REAL, &v) != ST_OK) return ST_ERROR;
        if (v->causality != C_OUTPUT) return fail(inst, "%s: %s is not an output", function, v->name);
        if (order[k] != 1) {
            return fail(inst, "%s: %s: only order 1 is provided (maxOutputDerivativeOrder), got %d",
                        function, v->name, order[k]);
        }
        for (int e = 0; e < v->count; e++, j++) {
            if (model_output_derivative(&inst->m, v->slot + e, &values[j], msg, sizeof msg)) {
                return fail(inst, "%s: %s: %s", function, v->name, msg);
            }
        }
    }
    return ST_OK;
#else
    (void)vr, (void)n, (void)order, (void)values, (void)n_values;
    return inst_unsupported(inst, function);
#endif
}

int inst_get_state(Instance *inst, void **state) {
    if (refresh(inst) != ST_OK) return ST_ERROR;
    Snapshot *snap = *state ? *state : malloc(sizeof *snap);
    if (!snap) return fail(inst, "out of memory while saving the FMU state");
    snap->mode = inst->mode;
    snap->m = inst->m;
    *state = snap;
    return ST_OK;
}

int inst_set_state(Instance *inst, const void *state) {
    if (!state) return fail(inst, "set FMU state called with a null state");
    const Snapshot *snap = state;
    inst->mode = snap->mode;
    inst->m = snap->m;
    inst->dirty = false;
    return ST_OK;
}

int inst_free_state(Instance *inst, void **state) {
    (void)inst;
    if (state) {
        free(*state);
        *state = NULL;
    }
    return ST_OK;
}

/* Serialized layout: a fixed header naming the model, then the snapshot. */
typedef struct {
    char magic[8];
    uint32_t format;
    uint32_t size;
    char guid[40];
} SerialHeader;

static const char MAGIC[8] = "COSIMFMU";

size_t inst_serialized_size(void) { return sizeof(SerialHeader) + sizeof(Snapshot); }

int inst_serialize(Instance *inst, const void *state, char *out, size_t size) {
    if (!state) return fail(inst, "serialize called with a null state");
    if (size < inst_serialized_size()) {
        return fail(inst, "serialization buffer has %zu bytes, %zu needed", size,
                    inst_serialized_size());
    }
    SerialHeader header = {0};
    memcpy(header.magic, MAGIC, sizeof MAGIC);
    header.format = 1;
    header.size = (uint32_t)sizeof(Snapshot);
    snprintf(header.guid, sizeof header.guid, "%s", MODEL_GUID);
    memcpy(out, &header, sizeof header);
    memcpy(out + sizeof header, state, sizeof(Snapshot));
    return ST_OK;
}

int inst_deserialize(Instance *inst, const char *in, size_t size, void **state) {
    SerialHeader header;
    if (!in || size != inst_serialized_size()) {
        return fail(inst, "serialized state has %zu bytes, expected %zu for %s", size,
                    inst_serialized_size(), MODEL_NAME);
    }
    memcpy(&header, in, sizeof header);
    if (memcmp(header.magic, MAGIC, sizeof MAGIC) != 0 || header.format != 1 ||
        header.size != sizeof(Snapshot)) {
        return fail(inst, "serialized state is not a %s state of this build", MODEL_NAME);
    }
    if (strncmp(header.guid, MODEL_GUID, sizeof header.guid) != 0) {
        return fail(inst, "serialized state belongs to model %.40s, not %s", header.guid,
                    MODEL_GUID);
    }
    Snapshot *snap = *state ? *state : malloc(sizeof *snap);
    if (!snap) return fail(inst, "out of memory while restoring the FMU state");
    memcpy(snap, in + sizeof header, sizeof *snap);
    if (snap->mode < MODE_INSTANTIATED || snap->mode > MODE_EVENT) {
        if (!*state) free(snap);
        return fail(inst, "serialized state has an invalid mode");
    }
    *state = snap;
    return ST_OK;
}

int inst_unsupported(Instance *inst, const char *function) {
    if (!inst) return ST_ERROR;
    return fail(inst, "%s is not supported by %s", function, MODEL_NAME);
}

/* FMI 3 clocks.  Input clocks are activated by the importer in event mode;
 * output clocks by the model (model_event_update sets K(name)); every clock
 * goes inactive when the importer leaves event mode. */

static int lookup_clock(Instance *inst, unsigned vr, const char *function, const VarInfo **out) {
    if (lookup(inst, vr, T_CLOCK, out) != ST_OK) {
        return fail(inst, "%s: value reference %u is not a clock", function, vr);
    }
    return ST_OK;
}

int inst_set_clocks(Instance *inst, const unsigned vr[], size_t n, const bool values[]) {
    if (inst->mode != MODE_EVENT) {
        return fail(inst, "fmi3SetClock called in %s (only in event mode)", MODE_NAMES[inst->mode]);
    }
    for (size_t k = 0; k < n; k++) {
        const VarInfo *v = NULL;
        if (lookup_clock(inst, vr[k], "fmi3SetClock", &v) != ST_OK) return ST_ERROR;
        if (v->causality != C_INPUT) {
            return fail(inst, "fmi3SetClock: %s is an output clock; only input clocks can be set",
                        v->name);
        }
        inst->m.k[v->slot] = values[k];
    }
    if (n > 0) inst->dirty = true;
    return ST_OK;
}

int inst_get_clocks(Instance *inst, const unsigned vr[], size_t n, bool values[]) {
    if (inst->mode != MODE_EVENT) {
        return fail(inst, "fmi3GetClock called in %s (only in event mode)", MODE_NAMES[inst->mode]);
    }
    for (size_t k = 0; k < n; k++) {
        const VarInfo *v = NULL;
        if (lookup_clock(inst, vr[k], "fmi3GetClock", &v) != ST_OK) return ST_ERROR;
        values[k] = inst->m.k[v->slot];
    }
    return ST_OK;
}

int inst_get_intervals(Instance *inst, const unsigned vr[], size_t n, double intervals[],
                       int qualifiers[]) {
    if (inst->mode != MODE_INIT && inst->mode != MODE_EVENT) {
        return fail(inst, "fmi3GetIntervalDecimal called in %s (only in initialization and "
                    "event mode)", MODE_NAMES[inst->mode]);
    }
    /* The model derives intervals from its parameters (in initialization
     * mode from those set since it last initialized) in model_outputs. */
    if (refresh(inst) != ST_OK) return ST_ERROR;
    model_outputs(&inst->m);
    for (size_t k = 0; k < n; k++) {
        const VarInfo *v = NULL;
        if (lookup_clock(inst, vr[k], "fmi3GetIntervalDecimal", &v) != ST_OK) return ST_ERROR;
        intervals[k] = inst->m.k_interval[v->slot];
        /* fmi3IntervalUnchanged = 1, fmi3IntervalChanged = 2 */
        qualifiers[k] = inst->m.k_interval_changed[v->slot] ? 2 : 1;
        inst->m.k_interval_changed[v->slot] = false;
    }
    return ST_OK;
}

int inst_get_shifts(Instance *inst, const unsigned vr[], size_t n, double shifts[]) {
    for (size_t k = 0; k < n; k++) {
        const VarInfo *v = NULL;
        if (lookup_clock(inst, vr[k], "fmi3GetShiftDecimal", &v) != ST_OK) return ST_ERROR;
        shifts[k] = v->shift;
    }
    return ST_OK;
}

void inst_deactivate_clocks(Instance *inst) {
    memset(inst->m.k, 0, sizeof inst->m.k);
}
