/* FMI 2.0 model exchange functions over the shared instance core, for
 * hybrid models (see MODEL_EXCHANGE in cosim_model.h).  The importer owns
 * time and the continuous states; the model computes derivatives and event
 * indicators and handles events in model_event_update.  Built together
 * with fmi2.c, which supplies instantiation, variable access and state. */
#include "fmi2Functions.h"
#include "instance.h"

#include <stdio.h>

#ifndef MODEL_EXCHANGE
#error "fmi2_me.c needs a model built with model_exchange = true"
#endif

#define INST ((Instance *)c)

static const char *const MODE_TEXT[] = {
    "instantiated", "initialization mode", "an initialized mode", "terminated", "error"};

/* The instance must have left initialization mode (init_ok: or be in it). */
static int require_mode(Instance *inst, const char *function, bool init_ok) {
    if (inst->mode == MODE_STEP || (init_ok && inst->mode == MODE_INIT)) return ST_OK;
    inst_log(inst, ST_ERROR, "logStatusError", "%s called in %s", function,
             MODE_TEXT[inst->mode]);
    return ST_ERROR;
}

static int check_size(Instance *inst, const char *function, size_t n, size_t expected,
                      const char *what) {
    if (n == expected) return ST_OK;
    inst_log(inst, ST_ERROR, "logStatusError", "%s: %zu %s given, this model has %zu",
             function, n, what, expected);
    return ST_ERROR;
}

fmi2Status fmi2EnterEventMode(fmi2Component c) {
    if (!c) return fmi2Error;
    return (fmi2Status)require_mode(INST, "fmi2EnterEventMode", false);
}

fmi2Status fmi2NewDiscreteStates(fmi2Component c, fmi2EventInfo *info) {
    if (!c || !info) return fmi2Error;
    if (require_mode(INST, "fmi2NewDiscreteStates", false) != ST_OK) return fmi2Error;
    ModelData *m = &INST->m;
    char msg[512];
    bool states_changed = false;
    if (model_event_update(m, &states_changed, msg, sizeof msg)) {
        INST->mode = MODE_ERROR;
        inst_log(INST, ST_ERROR, "logStatusError", "event at t=%.9g failed: %s", m->time, msg);
        return fmi2Error;
    }
    model_outputs(m);
    INST->dirty = false;
    inst_log(INST, ST_OK, "logEvents", "event at t=%.9g%s", m->time,
             states_changed ? ", states reset" : "");
    info->newDiscreteStatesNeeded = fmi2False;
    info->terminateSimulation = m->terminate ? fmi2True : fmi2False;
    info->nominalsOfContinuousStatesChanged = fmi2False;
    info->valuesOfContinuousStatesChanged = states_changed ? fmi2True : fmi2False;
    info->nextEventTimeDefined = isfinite(m->next_event_time) ? fmi2True : fmi2False;
    info->nextEventTime = isfinite(m->next_event_time) ? m->next_event_time : 0.0;
    return fmi2OK;
}

fmi2Status fmi2EnterContinuousTimeMode(fmi2Component c) {
    if (!c) return fmi2Error;
    return (fmi2Status)require_mode(INST, "fmi2EnterContinuousTimeMode", false);
}

fmi2Status fmi2CompletedIntegratorStep(fmi2Component c, fmi2Boolean noSetFMUStatePriorToCurrentPoint,
                                       fmi2Boolean *enterEventMode,
                                       fmi2Boolean *terminateSimulation) {
    (void)noSetFMUStatePriorToCurrentPoint;
    if (!c || !enterEventMode || !terminateSimulation) return fmi2Error;
    if (require_mode(INST, "fmi2CompletedIntegratorStep", false) != ST_OK) return fmi2Error;
    /* These models have no step events: every event shows in an indicator
     * or in the next event time. */
    *enterEventMode = fmi2False;
    *terminateSimulation = fmi2False;
    return fmi2OK;
}

fmi2Status fmi2SetTime(fmi2Component c, fmi2Real time) {
    if (!c) return fmi2Error;
    if (INST->mode == MODE_ERROR || INST->mode == MODE_TERMINATED) {
        return (fmi2Status)require_mode(INST, "fmi2SetTime", true);
    }
    if (!isfinite(time)) {
        inst_log(INST, ST_ERROR, "logStatusError", "fmi2SetTime: time must be finite, got %g", time);
        return fmi2Error;
    }
    INST->m.time = time;
    INST->dirty = true;
    return fmi2OK;
}

fmi2Status fmi2SetContinuousStates(fmi2Component c, const fmi2Real x[], size_t nx) {
    if (!c) return fmi2Error;
    if (require_mode(INST, "fmi2SetContinuousStates", false) != ST_OK ||
        check_size(INST, "fmi2SetContinuousStates", nx, N_STATES, "states") != ST_OK) {
        return fmi2Error;
    }
    for (int i = 0; i < N_STATES; i++) INST->m.r[STATE_SLOTS[i]] = x[i];
    INST->dirty = true;
    return fmi2OK;
}

fmi2Status fmi2GetDerivatives(fmi2Component c, fmi2Real derivatives[], size_t nx) {
    if (!c) return fmi2Error;
    if (require_mode(INST, "fmi2GetDerivatives", true) != ST_OK ||
        check_size(INST, "fmi2GetDerivatives", nx, N_STATES, "derivatives") != ST_OK ||
        inst_refresh(INST) != ST_OK) {
        return fmi2Error;
    }
    char msg[512];
    if (model_derivatives(&INST->m, msg, sizeof msg)) {
        INST->mode = MODE_ERROR;
        inst_log(INST, ST_ERROR, "logStatusError", "derivatives at t=%.9g failed: %s",
                 INST->m.time, msg);
        return fmi2Error;
    }
    for (int i = 0; i < N_STATES; i++) derivatives[i] = INST->m.r[DERIVATIVE_SLOTS[i]];
    return fmi2OK;
}

fmi2Status fmi2GetEventIndicators(fmi2Component c, fmi2Real eventIndicators[], size_t ni) {
    if (!c) return fmi2Error;
    if (require_mode(INST, "fmi2GetEventIndicators", true) != ST_OK ||
        check_size(INST, "fmi2GetEventIndicators", ni, N_EVENT_INDICATORS,
                   "event indicators") != ST_OK ||
        inst_refresh(INST) != ST_OK) {
        return fmi2Error;
    }
    if (N_EVENT_INDICATORS > 0) model_event_indicators(&INST->m, eventIndicators);
    return fmi2OK;
}

fmi2Status fmi2GetContinuousStates(fmi2Component c, fmi2Real x[], size_t nx) {
    if (!c) return fmi2Error;
    if (require_mode(INST, "fmi2GetContinuousStates", true) != ST_OK ||
        check_size(INST, "fmi2GetContinuousStates", nx, N_STATES, "states") != ST_OK ||
        inst_refresh(INST) != ST_OK) {
        return fmi2Error;
    }
    for (int i = 0; i < N_STATES; i++) x[i] = INST->m.r[STATE_SLOTS[i]];
    return fmi2OK;
}

fmi2Status fmi2GetNominalsOfContinuousStates(fmi2Component c, fmi2Real x_nominal[], size_t nx) {
    if (!c) return fmi2Error;
    if (check_size(INST, "fmi2GetNominalsOfContinuousStates", nx, N_STATES, "nominals") != ST_OK) {
        return fmi2Error;
    }
    for (int i = 0; i < N_STATES; i++) x_nominal[i] = 1.0;
    return fmi2OK;
}
