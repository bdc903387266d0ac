/* FMI 3.0 co-simulation interface over the shared instance core.  Every
 * function of the standard is exported; those outside co-simulation with
 * Float64/Int32/Boolean/String variables report that they are unsupported. */
#include "fmi3Functions.h"
#include "instance.h"

#include <string.h>

#define INST ((Instance *)instance)
#define CHECK_INSTANCE() \
    if (!instance) return fmi3Error

static void log_fmi3(Instance *inst, int status, const char *category, const char *message) {
    fmi3LogMessageCallback logger = (fmi3LogMessageCallback)inst->log_callback;
    if (logger) logger(LOG_ENVIRONMENT(inst->environment), (fmi3Status)status, category, message);
}

/* nValues counts every element of the arrays among the variables. */
static fmi3Status check_sizes(Instance *inst, const char *fn, const fmi3ValueReference vr[],
                              size_t nvr, size_t nValues) {
    size_t expected = inst_count_values(vr, nvr);
    if (nValues != expected) {
        inst_log(inst, ST_ERROR, "logStatusError", "%s: %zu values for %zu variables "
                 "holding %zu elements", fn, nValues, nvr, expected);
        return fmi3Error;
    }
    return fmi3OK;
}

const char *fmi3GetVersion(void) { return fmi3Version; }

fmi3Status fmi3SetDebugLogging(fmi3Instance instance, fmi3Boolean loggingOn, size_t nCategories,
                               const fmi3String categories[]) {
    (void)nCategories, (void)categories;
    CHECK_INSTANCE();
    INST->logging_on = loggingOn;
    return fmi3OK;
}

fmi3Instance fmi3InstantiateModelExchange(fmi3String instanceName, fmi3String instantiationToken,
                                          fmi3String resourcePath, fmi3Boolean visible,
                                          fmi3Boolean loggingOn,
                                          fmi3InstanceEnvironment instanceEnvironment,
                                          fmi3LogMessageCallback logMessage) {
    (void)instanceName, (void)instantiationToken, (void)resourcePath, (void)visible,
        (void)loggingOn;
    if (logMessage) {
        logMessage(instanceEnvironment, fmi3Error, "logStatusError",
                   MODEL_NAME " supports co-simulation only, not model exchange");
    }
    return NULL;
}

fmi3Instance fmi3InstantiateCoSimulation(
    fmi3String instanceName, fmi3String instantiationToken, fmi3String resourcePath,
    fmi3Boolean visible, fmi3Boolean loggingOn, fmi3Boolean eventModeUsed,
    fmi3Boolean earlyReturnAllowed, const fmi3ValueReference requiredIntermediateVariables[],
    size_t nRequiredIntermediateVariables, fmi3InstanceEnvironment instanceEnvironment,
    fmi3LogMessageCallback logMessage, fmi3IntermediateUpdateCallback intermediateUpdate) {
    (void)resourcePath, (void)visible, (void)requiredIntermediateVariables,
        (void)nRequiredIntermediateVariables, (void)intermediateUpdate;
#ifndef MODEL_HAS_EVENT_MODE
    if (eventModeUsed) {
        /* The standard makes this an error: hasEventMode is false. */
        if (logMessage) {
            logMessage(instanceEnvironment, fmi3Error, "logStatusError",
                       MODEL_NAME " has no event mode (hasEventMode is false); "
                       "instantiate it with eventModeUsed = false");
        }
        return NULL;
    }
#endif
    Instance *inst = inst_new(instanceName, instantiationToken, log_fmi3, (void *)logMessage,
                              instanceEnvironment, loggingOn);
    if (!inst) return NULL;
    inst->event_mode_used = eventModeUsed;
#ifdef MODEL_MIGHT_RETURN_EARLY
    inst->early_return_allowed = earlyReturnAllowed;
#else
    (void)earlyReturnAllowed;
#endif
    return inst;
}

fmi3Instance fmi3InstantiateScheduledExecution(
    fmi3String instanceName, fmi3String instantiationToken, fmi3String resourcePath,
    fmi3Boolean visible, fmi3Boolean loggingOn, fmi3InstanceEnvironment instanceEnvironment,
    fmi3LogMessageCallback logMessage, fmi3ClockUpdateCallback clockUpdate,
    fmi3LockPreemptionCallback lockPreemption, fmi3UnlockPreemptionCallback unlockPreemption) {
    (void)instanceName, (void)instantiationToken, (void)resourcePath, (void)visible,
        (void)loggingOn, (void)clockUpdate, (void)lockPreemption, (void)unlockPreemption;
    if (logMessage) {
        logMessage(instanceEnvironment, fmi3Error, "logStatusError",
                   MODEL_NAME " supports co-simulation only, not scheduled execution");
    }
    return NULL;
}

void fmi3FreeInstance(fmi3Instance instance) { inst_free(INST); }

fmi3Status fmi3EnterInitializationMode(fmi3Instance instance, fmi3Boolean toleranceDefined,
                                       fmi3Float64 tolerance, fmi3Float64 startTime,
                                       fmi3Boolean stopTimeDefined, fmi3Float64 stopTime) {
    (void)stopTimeDefined, (void)stopTime;
    CHECK_INSTANCE();
    INST->m.tolerance = toleranceDefined ? tolerance : NAN;
    return (fmi3Status)inst_enter_init(INST, startTime);
}

fmi3Status fmi3ExitInitializationMode(fmi3Instance instance) {
    CHECK_INSTANCE();
    int status = inst_exit_init(INST);
    /* With event mode the importer settles the discrete states first. */
    if (status == ST_OK && INST->event_mode_used) INST->mode = MODE_EVENT;
    return (fmi3Status)status;
}

fmi3Status fmi3EnterEventMode(fmi3Instance instance) {
#ifdef MODEL_HAS_EVENT_MODE
    CHECK_INSTANCE();
    if (!INST->event_mode_used || INST->mode != MODE_STEP) {
        inst_log(INST, ST_ERROR, "logStatusError", "fmi3EnterEventMode: only valid in step mode "
                 "of an instance created with eventModeUsed = true");
        return fmi3Error;
    }
    INST->mode = MODE_EVENT;
    return fmi3OK;
#else
    return (fmi3Status)inst_unsupported(INST, "fmi3EnterEventMode (hasEventMode is false)");
#endif
}

fmi3Status fmi3Terminate(fmi3Instance instance) {
    CHECK_INSTANCE();
    return (fmi3Status)inst_terminate(INST);
}

fmi3Status fmi3Reset(fmi3Instance instance) {
    CHECK_INSTANCE();
    return (fmi3Status)inst_reset(INST);
}

/* Supported scalar types. */

fmi3Status fmi3GetFloat64(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr,
                          fmi3Float64 values[], size_t nValues) {
    CHECK_INSTANCE();
    if (check_sizes(INST, "fmi3GetFloat64", vr, nvr, nValues)) return fmi3Error;
    return (fmi3Status)inst_get(INST, T_REAL, vr, nvr, values);
}

fmi3Status fmi3SetFloat64(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr,
                          const fmi3Float64 values[], size_t nValues) {
    CHECK_INSTANCE();
    if (check_sizes(INST, "fmi3SetFloat64", vr, nvr, nValues)) return fmi3Error;
    return (fmi3Status)inst_set(INST, T_REAL, vr, nvr, values);
}

fmi3Status fmi3GetInt32(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr,
                        fmi3Int32 values[], size_t nValues) {
    CHECK_INSTANCE();
    if (check_sizes(INST, "fmi3GetInt32", vr, nvr, nValues)) return fmi3Error;
    return (fmi3Status)inst_get(INST, T_INTEGER, vr, nvr, values);
}

fmi3Status fmi3SetInt32(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr,
                        const fmi3Int32 values[], size_t nValues) {
    CHECK_INSTANCE();
    if (check_sizes(INST, "fmi3SetInt32", vr, nvr, nValues)) return fmi3Error;
    return (fmi3Status)inst_set(INST, T_INTEGER, vr, nvr, values);
}

fmi3Status fmi3GetBoolean(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr,
                          fmi3Boolean values[], size_t nValues) {
    CHECK_INSTANCE();
    if (check_sizes(INST, "fmi3GetBoolean", vr, nvr, nValues)) return fmi3Error;
    return (fmi3Status)inst_get(INST, T_BOOLEAN, vr, nvr, values);
}

fmi3Status fmi3SetBoolean(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr,
                          const fmi3Boolean values[], size_t nValues) {
    CHECK_INSTANCE();
    if (check_sizes(INST, "fmi3SetBoolean", vr, nvr, nValues)) return fmi3Error;
    return (fmi3Status)inst_set(INST, T_BOOLEAN, vr, nvr, values);
}

fmi3Status fmi3GetString(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr,
                         fmi3String values[], size_t nValues) {
    CHECK_INSTANCE();
    if (check_sizes(INST, "fmi3GetString", vr, nvr, nValues)) return fmi3Error;
    return (fmi3Status)inst_get(INST, T_STRING, vr, nvr, values);
}

fmi3Status fmi3SetString(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr,
                         const fmi3String values[], size_t nValues) {
    CHECK_INSTANCE();
    if (check_sizes(INST, "fmi3SetString", vr, nvr, nValues)) return fmi3Error;
    return (fmi3Status)inst_set(INST, T_STRING, vr, nvr, values);
}

/* FMI 3 only types; a model without variables of one answers that it has none. */

#define CELL_TYPE(NAME, CTYPE, CODE)                                                        \
    fmi3Status fmi3Get##NAME(fmi3Instance instance, const fmi3ValueReference vr[],          \
                             size_t nvr, CTYPE values[], size_t nValues) {                  \
        CHECK_INSTANCE();                                                                   \
        if (check_sizes(INST, "fmi3Get" #NAME, vr, nvr, nValues)) return fmi3Error;         \
        return (fmi3Status)inst_get(INST, CODE, vr, nvr, values);                           \
    }                                                                                       \
    fmi3Status fmi3Set##NAME(fmi3Instance instance, const fmi3ValueReference vr[],          \
                             size_t nvr, const CTYPE values[], size_t nValues) {            \
        CHECK_INSTANCE();                                                                   \
        if (check_sizes(INST, "fmi3Set" #NAME, vr, nvr, nValues)) return fmi3Error;         \
        return (fmi3Status)inst_set(INST, CODE, vr, nvr, values);                           \
    }

CELL_TYPE(Float32, fmi3Float32, T_FLOAT32)
CELL_TYPE(Int8, fmi3Int8, T_INT8)
CELL_TYPE(UInt8, fmi3UInt8, T_UINT8)
CELL_TYPE(Int16, fmi3Int16, T_INT16)
CELL_TYPE(UInt16, fmi3UInt16, T_UINT16)
CELL_TYPE(UInt32, fmi3UInt32, T_UINT32)
CELL_TYPE(Int64, fmi3Int64, T_INT64)
CELL_TYPE(UInt64, fmi3UInt64, T_UINT64)

fmi3Status fmi3GetBinary(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr,
                         size_t valueSizes[], fmi3Binary values[], size_t nValues) {
    CHECK_INSTANCE();
    if (check_sizes(INST, "fmi3GetBinary", vr, nvr, nValues)) return fmi3Error;
    return (fmi3Status)inst_get_binary(INST, vr, nvr, valueSizes, values);
}

fmi3Status fmi3SetBinary(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr,
                         const size_t valueSizes[], const fmi3Binary values[], size_t nValues) {
    CHECK_INSTANCE();
    if (check_sizes(INST, "fmi3SetBinary", vr, nvr, nValues)) return fmi3Error;
    return (fmi3Status)inst_set_binary(INST, vr, nvr, valueSizes, values);
}

fmi3Status fmi3GetClock(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr,
                        fmi3Clock values[]) {
    CHECK_INSTANCE();
    return (fmi3Status)inst_get_clocks(INST, vr, nvr, values);
}

fmi3Status fmi3SetClock(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr,
                        const fmi3Clock values[]) {
    CHECK_INSTANCE();
    return (fmi3Status)inst_set_clocks(INST, vr, nvr, values);
}

/* FMU state. */

fmi3Status fmi3GetFMUState(fmi3Instance instance, fmi3FMUState *FMUState) {
    CHECK_INSTANCE();
    return (fmi3Status)inst_get_state(INST, FMUState);
}

fmi3Status fmi3SetFMUState(fmi3Instance instance, fmi3FMUState FMUState) {
    CHECK_INSTANCE();
    return (fmi3Status)inst_set_state(INST, FMUState);
}

fmi3Status fmi3FreeFMUState(fmi3Instance instance, fmi3FMUState *FMUState) {
    CHECK_INSTANCE();
    return (fmi3Status)inst_free_state(INST, FMUState);
}

fmi3Status fmi3SerializedFMUStateSize(fmi3Instance instance, fmi3FMUState FMUState, size_t *size) {
    (void)FMUState;
    CHECK_INSTANCE();
    *size = inst_serialized_size();
    return fmi3OK;
}

fmi3Status fmi3SerializeFMUState(fmi3Instance instance, fmi3FMUState FMUState,
                                 fmi3Byte serializedState[], size_t size) {
    CHECK_INSTANCE();
    return (fmi3Status)inst_serialize(INST, FMUState, (char *)serializedState, size);
}

fmi3Status fmi3DeserializeFMUState(fmi3Instance instance, const fmi3Byte serializedState[],
                                   size_t size, fmi3FMUState *FMUState) {
    CHECK_INSTANCE();
    return (fmi3Status)inst_deserialize(INST, (const char *)serializedState, size, FMUState);
}

/* Co-simulation stepping. */

fmi3Status fmi3EnterStepMode(fmi3Instance instance) {
    CHECK_INSTANCE();
    if (INST->mode == MODE_STEP) return fmi3OK;
    if (INST->mode == MODE_EVENT) {
        INST->mode = MODE_STEP;
        inst_deactivate_clocks(INST);   /* clocks tick in one event only */
        return fmi3OK;
    }
    inst_log(INST, ST_ERROR, "logStatusError", "enter step mode is only valid after initialization");
    return fmi3Error;
}

fmi3Status fmi3DoStep(fmi3Instance instance, fmi3Float64 currentCommunicationPoint,
                      fmi3Float64 communicationStepSize, fmi3Boolean noSetFMUStatePriorToCurrentPoint,
                      fmi3Boolean *eventHandlingNeeded, fmi3Boolean *terminateSimulation,
                      fmi3Boolean *earlyReturn, fmi3Float64 *lastSuccessfulTime) {
    (void)noSetFMUStatePriorToCurrentPoint;
    CHECK_INSTANCE();
    bool event = false, terminate = false, early = false;
#ifdef MODEL_EXCHANGE
    ModelData *m = &INST->m;
    m->events_to_importer = INST->event_mode_used;
    m->may_return_early = INST->early_return_allowed;
#endif
    int status = inst_do_step(INST, currentCommunicationPoint, communicationStepSize);
#ifdef MODEL_EXCHANGE
    if (status <= ST_WARNING) {
        event = m->event_reached && INST->event_mode_used;
#ifdef QUIRK_EVENTS_WITHOUT_EVENT_MODE
        event = m->event_reached;
#endif
        early = m->returned_early;
    }
#endif
    if (status <= ST_WARNING) terminate = INST->m.terminate;
    if (eventHandlingNeeded) *eventHandlingNeeded = event;
    if (terminateSimulation) *terminateSimulation = terminate;
    if (earlyReturn) *earlyReturn = early;
    if (lastSuccessfulTime) *lastSuccessfulTime = INST->m.time;
    return (fmi3Status)status;
}

/* Outside co-simulation with scalar variables: reported as unsupported. */

#define UNSUPPORTED(NAME) return (fmi3Status)inst_unsupported(INST, #NAME)

fmi3Status fmi3GetNumberOfVariableDependencies(fmi3Instance instance, fmi3ValueReference vr,
                                               size_t *nDependencies) {
    (void)vr, (void)nDependencies;
    UNSUPPORTED(fmi3GetNumberOfVariableDependencies);
}

fmi3Status fmi3GetVariableDependencies(fmi3Instance instance, fmi3ValueReference dependent,
                                       size_t elementIndicesOfDependent[],
                                       fmi3ValueReference independents[],
                                       size_t elementIndicesOfIndependents[],
                                       fmi3DependencyKind dependencyKinds[], size_t nDependencies) {
    (void)dependent, (void)elementIndicesOfDependent, (void)independents,
        (void)elementIndicesOfIndependents, (void)dependencyKinds, (void)nDependencies;
    UNSUPPORTED(fmi3GetVariableDependencies);
}

fmi3Status fmi3GetDirectionalDerivative(fmi3Instance instance, const fmi3ValueReference unknowns[],
                                        size_t nUnknowns, const fmi3ValueReference knowns[],
                                        size_t nKnowns, const fmi3Float64 seed[], size_t nSeed,
                                        fmi3Float64 sensitivity[], size_t nSensitivity) {
    (void)unknowns, (void)nUnknowns, (void)knowns, (void)nKnowns, (void)seed, (void)nSeed,
        (void)sensitivity, (void)nSensitivity;
    UNSUPPORTED(fmi3GetDirectionalDerivative);
}

fmi3Status fmi3GetAdjointDerivative(fmi3Instance instance, const fmi3ValueReference unknowns[],
                                    size_t nUnknowns, const fmi3ValueReference knowns[],
                                    size_t nKnowns, const fmi3Float64 seed[], size_t nSeed,
                                    fmi3Float64 sensitivity[], size_t nSensitivity) {
    (void)unknowns, (void)nUnknowns, (void)knowns, (void)nKnowns, (void)seed, (void)nSeed,
        (void)sensitivity, (void)nSensitivity;
    UNSUPPORTED(fmi3GetAdjointDerivative);
}

fmi3Status fmi3EnterConfigurationMode(fmi3Instance instance) {
    CHECK_INSTANCE();
    return (fmi3Status)inst_enter_config(INST);
}

fmi3Status fmi3ExitConfigurationMode(fmi3Instance instance) {
    CHECK_INSTANCE();
    return (fmi3Status)inst_exit_config(INST);
}

fmi3Status fmi3GetIntervalDecimal(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr,
                                  fmi3Float64 intervals[], fmi3IntervalQualifier qualifiers[]) {
    CHECK_INSTANCE();
    int codes[nvr > 0 ? nvr : 1];
    int status = inst_get_intervals(INST, vr, nvr, intervals, codes);
    for (size_t k = 0; status == ST_OK && k < nvr; k++) qualifiers[k] = (fmi3IntervalQualifier)codes[k];
    return (fmi3Status)status;
}

fmi3Status fmi3GetIntervalFraction(fmi3Instance instance, const fmi3ValueReference vr[],
                                   size_t nvr, fmi3UInt64 counters[], fmi3UInt64 resolutions[],
                                   fmi3IntervalQualifier qualifiers[]) {
    (void)vr, (void)nvr, (void)counters, (void)resolutions, (void)qualifiers;
    UNSUPPORTED(fmi3GetIntervalFraction);
}

fmi3Status fmi3GetShiftDecimal(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr,
                               fmi3Float64 shifts[]) {
    CHECK_INSTANCE();
    return (fmi3Status)inst_get_shifts(INST, vr, nvr, shifts);
}

fmi3Status fmi3GetShiftFraction(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr,
                                fmi3UInt64 counters[], fmi3UInt64 resolutions[]) {
    (void)vr, (void)nvr, (void)counters, (void)resolutions;
    UNSUPPORTED(fmi3GetShiftFraction);
}

fmi3Status fmi3SetIntervalDecimal(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr,
                                  const fmi3Float64 intervals[]) {
    (void)vr, (void)nvr, (void)intervals;
    UNSUPPORTED(fmi3SetIntervalDecimal);
}

fmi3Status fmi3SetIntervalFraction(fmi3Instance instance, const fmi3ValueReference vr[],
                                   size_t nvr, const fmi3UInt64 counters[],
                                   const fmi3UInt64 resolutions[]) {
    (void)vr, (void)nvr, (void)counters, (void)resolutions;
    UNSUPPORTED(fmi3SetIntervalFraction);
}

fmi3Status fmi3SetShiftDecimal(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr,
                               const fmi3Float64 shifts[]) {
    (void)vr, (void)nvr, (void)shifts;
    UNSUPPORTED(fmi3SetShiftDecimal);
}

fmi3Status fmi3SetShiftFraction(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr,
                                const fmi3UInt64 counters[], const fmi3UInt64 resolutions[]) {
    (void)vr, (void)nvr, (void)counters, (void)resolutions;
    UNSUPPORTED(fmi3SetShiftFraction);
}

fmi3Status fmi3EvaluateDiscreteStates(fmi3Instance instance) {
    UNSUPPORTED(fmi3EvaluateDiscreteStates);
}

fmi3Status fmi3UpdateDiscreteStates(fmi3Instance instance, fmi3Boolean *discreteStatesNeedUpdate,
                                    fmi3Boolean *terminateSimulation,
                                    fmi3Boolean *nominalsOfContinuousStatesChanged,
                                    fmi3Boolean *valuesOfContinuousStatesChanged,
                                    fmi3Boolean *nextEventTimeDefined, fmi3Float64 *nextEventTime) {
#ifdef MODEL_HAS_EVENT_MODE
    CHECK_INSTANCE();
    bool again = false, states_changed = false;
    int status = inst_update_discrete_states(INST, &again, &states_changed);
    if (status > ST_WARNING) return (fmi3Status)status;
    const ModelData *m = &INST->m;
    if (discreteStatesNeedUpdate) *discreteStatesNeedUpdate = again;
    if (terminateSimulation) *terminateSimulation = m->terminate;
    if (nominalsOfContinuousStatesChanged) *nominalsOfContinuousStatesChanged = fmi3False;
    if (valuesOfContinuousStatesChanged) *valuesOfContinuousStatesChanged = states_changed;
    if (nextEventTimeDefined) *nextEventTimeDefined = isfinite(m->next_event_time);
    if (nextEventTime) *nextEventTime = isfinite(m->next_event_time) ? m->next_event_time : 0.0;
    return (fmi3Status)status;
#else
    (void)discreteStatesNeedUpdate, (void)terminateSimulation,
        (void)nominalsOfContinuousStatesChanged, (void)valuesOfContinuousStatesChanged,
        (void)nextEventTimeDefined, (void)nextEventTime;
    UNSUPPORTED(fmi3UpdateDiscreteStates);
#endif
}

fmi3Status fmi3EnterContinuousTimeMode(fmi3Instance instance) {
    UNSUPPORTED(fmi3EnterContinuousTimeMode);
}

fmi3Status fmi3CompletedIntegratorStep(fmi3Instance instance,
                                       fmi3Boolean noSetFMUStatePriorToCurrentPoint,
                                       fmi3Boolean *enterEventMode, fmi3Boolean *terminateSimulation) {
    (void)noSetFMUStatePriorToCurrentPoint, (void)enterEventMode, (void)terminateSimulation;
    UNSUPPORTED(fmi3CompletedIntegratorStep);
}

fmi3Status fmi3SetTime(fmi3Instance instance, fmi3Float64 time) {
    (void)time;
    UNSUPPORTED(fmi3SetTime);
}

fmi3Status fmi3SetContinuousStates(fmi3Instance instance, const fmi3Float64 continuousStates[],
                                   size_t nContinuousStates) {
    (void)continuousStates, (void)nContinuousStates;
    UNSUPPORTED(fmi3SetContinuousStates);
}

fmi3Status fmi3GetContinuousStateDerivatives(fmi3Instance instance, fmi3Float64 derivatives[],
                                             size_t nContinuousStates) {
    (void)derivatives, (void)nContinuousStates;
    UNSUPPORTED(fmi3GetContinuousStateDerivatives);
}

fmi3Status fmi3GetEventIndicators(fmi3Instance instance, fmi3Float64 eventIndicators[],
                                  size_t nEventIndicators) {
    (void)eventIndicators, (void)nEventIndicators;
    UNSUPPORTED(fmi3GetEventIndicators);
}

fmi3Status fmi3GetContinuousStates(fmi3Instance instance, fmi3Float64 continuousStates[],
                                   size_t nContinuousStates) {
    (void)continuousStates, (void)nContinuousStates;
    UNSUPPORTED(fmi3GetContinuousStates);
}

fmi3Status fmi3GetNominalsOfContinuousStates(fmi3Instance instance, fmi3Float64 nominals[],
                                             size_t nContinuousStates) {
    (void)nominals, (void)nContinuousStates;
    UNSUPPORTED(fmi3GetNominalsOfContinuousStates);
}

fmi3Status fmi3GetNumberOfEventIndicators(fmi3Instance instance, size_t *nEventIndicators) {
    CHECK_INSTANCE();
    *nEventIndicators = 0;
    return fmi3OK;
}

fmi3Status fmi3GetNumberOfContinuousStates(fmi3Instance instance, size_t *nContinuousStates) {
    CHECK_INSTANCE();
    *nContinuousStates = 0;
    return fmi3OK;
}

fmi3Status fmi3GetOutputDerivatives(fmi3Instance instance, const fmi3ValueReference vr[],
                                    size_t nvr, const fmi3Int32 orders[], fmi3Float64 values[],
                                    size_t nValues) {
    CHECK_INSTANCE();
    return (fmi3Status)inst_get_output_derivatives(INST, vr, nvr, orders, values, nValues,
                                                   "fmi3GetOutputDerivatives");
}

fmi3Status fmi3ActivateModelPartition(fmi3Instance instance, fmi3ValueReference clockReference,
                                      fmi3Float64 activationTime) {
    (void)clockReference, (void)activationTime;
    UNSUPPORTED(fmi3ActivateModelPartition);
}
