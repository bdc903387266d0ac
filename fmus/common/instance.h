/* Version-independent FMU instance: mode checks, variable access, stepping
 * and state handling.  fmi2.c and fmi3.c are thin wrappers around it. */
#ifndef COSIM_INSTANCE_H
#define COSIM_INSTANCE_H

#include "cosim_model.h"

/* FMI 2 and FMI 3 share these status values. */
enum { ST_OK = 0, ST_WARNING = 1, ST_DISCARD = 2, ST_ERROR = 3, ST_FATAL = 4 };

typedef enum {
    MODE_INSTANTIATED, MODE_INIT, MODE_STEP, MODE_TERMINATED, MODE_ERROR,
    MODE_EVENT,     /* FMI 3 co-simulation event mode */
    MODE_CONFIG     /* FMI 3 configuration mode; never saved in a state */
} Mode;

/* The environment the FMU hands its logger: the importer's, or with the
 * log_environment quirk a bogus pointer, as exporters that pass their own
 * context do. */
#ifdef QUIRK_LOG_ENVIRONMENT
#define LOG_ENVIRONMENT(env) ((void)(env), QUIRK_LOG_ENVIRONMENT)
#else
#define LOG_ENVIRONMENT(env) (env)
#endif

struct Instance;
typedef void (*LogFn)(struct Instance *inst, int status, const char *category,
                      const char *message);

typedef struct Instance {
    char *name;
    Mode mode;
    bool logging_on;
    bool dirty;             /* inputs or parameters changed since outputs were computed */
    LogFn log;              /* set by the FMI wrapper */
    void *log_callback;     /* the importer's callback, used by the wrapper's LogFn */
    void *environment;      /* the importer's component environment */
    bool event_mode_used;   /* FMI 3: the importer handles the model's events in event mode */
    bool early_return_allowed;  /* FMI 3: fmi3DoStep may end at an event */
    ModelData m;
} Instance;

/* Instance state as stored by get/set FMU state: the model data and the mode. */
typedef struct {
    Mode mode;
    ModelData m;
} Snapshot;

Instance *inst_new(const char *name, const char *token, LogFn log, void *callback,
                   void *environment, bool logging_on);
void inst_free(Instance *inst);
void inst_log(Instance *inst, int status, const char *category, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

int inst_enter_config(Instance *inst);
int inst_exit_config(Instance *inst);
int inst_enter_init(Instance *inst, double start_time);
int inst_exit_init(Instance *inst);
/* Advance from t by h; hybrid models may end the step early at an event
 * (m.returned_early, m.time the event time). */
int inst_do_step(Instance *inst, double t, double h);

#ifdef MODEL_EXCHANGE
/* In event mode: handle the events due now (model_event_update).  Sets
 * *again if another event is due at once, *states_changed if continuous
 * states were reset. */
int inst_update_discrete_states(Instance *inst, bool *again, bool *states_changed);
#endif
int inst_terminate(Instance *inst);
int inst_reset(Instance *inst);

int inst_get(Instance *inst, int type, const unsigned vr[], size_t n, void *values);
int inst_set(Instance *inst, int type, const unsigned vr[], size_t n, const void *values);

/* FMI 3 Binary values: sizes[k] bytes at values[k]; got ones point into the instance. */
int inst_set_binary(Instance *inst, const unsigned vr[], size_t n, const size_t sizes[],
                    const uint8_t *const values[]);
int inst_get_binary(Instance *inst, const unsigned vr[], size_t n, size_t sizes[],
                    const uint8_t *values[]);

/* Values that value references vr[0..n) hold: arrays count one per element. */
size_t inst_count_values(const unsigned vr[], size_t n);

/* First derivatives of Real outputs at the current point (models with
 * MODEL_PROVIDES_OUTPUT_DERIVATIVES; order must be 1); `function` names the
 * FMI function in messages. */
int inst_get_output_derivatives(Instance *inst, const unsigned vr[], size_t n, const int order[],
                                double values[], size_t n_values, const char *function);

int inst_set_input_derivatives(Instance *inst, const unsigned vr[], size_t n, const int order[],
                                const double values[]);

/* Bring outputs up to date with inputs, parameters (and, for model exchange,
 * time and states) set since they were last computed. */
int inst_refresh(Instance *inst);

int inst_get_state(Instance *inst, void **state);
int inst_set_state(Instance *inst, const void *state);
int inst_free_state(Instance *inst, void **state);
size_t inst_serialized_size(void);
int inst_serialize(Instance *inst, const void *state, char *out, size_t size);
int inst_deserialize(Instance *inst, const char *in, size_t size, void **state);

/* FMI 3 clocks: activate input clocks (event mode), read any clock's
 * activity (event mode), the intervals and the qualifiers (1 unchanged,
 * 2 changed) and the shifts; every clock goes inactive on leaving event mode. */
int inst_set_clocks(Instance *inst, const unsigned vr[], size_t n, const bool values[]);
int inst_get_clocks(Instance *inst, const unsigned vr[], size_t n, bool values[]);
int inst_get_intervals(Instance *inst, const unsigned vr[], size_t n, double intervals[],
                       int qualifiers[]);
int inst_get_shifts(Instance *inst, const unsigned vr[], size_t n, double shifts[]);
void inst_deactivate_clocks(Instance *inst);

/* Log and return ST_ERROR for a function this FMU does not implement. */
int inst_unsupported(Instance *inst, const char *function);

#endif
