/* FMI 2.0 interface over the shared instance core: the functions common to
 * both interfaces, and those of co-simulation.  The build defines
 * COSIM_FMI2_CS and/or COSIM_FMI2_ME for the interfaces the FMU offers
 * (neither means co-simulation only); fmi2_me.c adds model exchange. */
#include "fmi2Functions.h"
#include "instance.h"

#include <stdlib.h>

#if !defined(COSIM_FMI2_CS) && !defined(COSIM_FMI2_ME)
#define COSIM_FMI2_CS 1
#endif

#if defined(COSIM_FMI2_CS) && defined(COSIM_FMI2_ME)
#define FMU_TYPE_OK(t) ((t) == fmi2CoSimulation || (t) == fmi2ModelExchange)
#define ONLY_TYPE ""
#elif defined(COSIM_FMI2_ME)
#define FMU_TYPE_OK(t) ((t) == fmi2ModelExchange)
#define ONLY_TYPE " supports model exchange only, not co-simulation"
#else
#define FMU_TYPE_OK(t) ((t) == fmi2CoSimulation)
#define ONLY_TYPE " supports co-simulation only, not model exchange"
#endif

#define INST ((Instance *)c)
#define CHECK_INSTANCE() \
    if (!c) return fmi2Error

static void log_fmi2(Instance *inst, int status, const char *category, const char *message) {
    fmi2CallbackLogger logger = (fmi2CallbackLogger)inst->log_callback;
    if (logger) {
        logger(LOG_ENVIRONMENT(inst->environment), inst->name, (fmi2Status)status, category,
               message);
    }
}

const char *fmi2GetTypesPlatform(void) { return fmi2TypesPlatform; }
const char *fmi2GetVersion(void) { return fmi2Version; }

fmi2Status fmi2SetDebugLogging(fmi2Component c, fmi2Boolean loggingOn, size_t nCategories,
                               const fmi2String categories[]) {
    (void)nCategories;
    (void)categories;
    CHECK_INSTANCE();
    INST->logging_on = loggingOn;
    return fmi2OK;
}

fmi2Component fmi2Instantiate(fmi2String instanceName, fmi2Type fmuType, fmi2String fmuGUID,
                              fmi2String fmuResourceLocation,
                              const fmi2CallbackFunctions *functions, fmi2Boolean visible,
                              fmi2Boolean loggingOn) {
    (void)fmuResourceLocation;
    (void)visible;
    fmi2CallbackLogger logger = functions ? functions->logger : NULL;
    void *env = functions ? functions->componentEnvironment : NULL;
    if (!FMU_TYPE_OK(fmuType)) {
        if (logger) {
            logger(env, instanceName, fmi2Error, "logStatusError", MODEL_NAME ONLY_TYPE);
        }
        return NULL;
    }
    return inst_new(instanceName, fmuGUID, log_fmi2, (void *)logger, env, loggingOn);
}

void fmi2FreeInstance(fmi2Component c) { inst_free(INST); }

fmi2Status fmi2SetupExperiment(fmi2Component c, fmi2Boolean toleranceDefined,
                               fmi2Real tolerance, fmi2Real startTime,
                               fmi2Boolean stopTimeDefined, fmi2Real stopTime) {
    (void)stopTimeDefined;
    (void)stopTime;
    CHECK_INSTANCE();
    if (INST->mode != MODE_INSTANTIATED) {
        inst_log(INST, ST_ERROR, "logStatusError", "setup experiment must come before initialization");
        return fmi2Error;
    }
    INST->m.time = startTime;
    INST->m.tolerance = toleranceDefined ? tolerance : NAN;
    return fmi2OK;
}

fmi2Status fmi2EnterInitializationMode(fmi2Component c) {
    CHECK_INSTANCE();
    return (fmi2Status)inst_enter_init(INST, INST->m.time);
}

fmi2Status fmi2ExitInitializationMode(fmi2Component c) {
    CHECK_INSTANCE();
    return (fmi2Status)inst_exit_init(INST);
}

fmi2Status fmi2Terminate(fmi2Component c) {
    CHECK_INSTANCE();
    return (fmi2Status)inst_terminate(INST);
}

fmi2Status fmi2Reset(fmi2Component c) {
    CHECK_INSTANCE();
    return (fmi2Status)inst_reset(INST);
}

fmi2Status fmi2GetReal(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                       fmi2Real value[]) {
    CHECK_INSTANCE();
    return (fmi2Status)inst_get(INST, T_REAL, vr, nvr, value);
}

fmi2Status fmi2GetInteger(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                          fmi2Integer value[]) {
    CHECK_INSTANCE();
    return (fmi2Status)inst_get(INST, T_INTEGER, vr, nvr, value);
}

fmi2Status fmi2GetBoolean(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                          fmi2Boolean value[]) {
    CHECK_INSTANCE();
    for (size_t k = 0; k < nvr; k++) {
        bool b;
        if (inst_get(INST, T_BOOLEAN, &vr[k], 1, &b) != ST_OK) return fmi2Error;
        value[k] = b ? fmi2True : fmi2False;
    }
    return fmi2OK;
}

fmi2Status fmi2GetString(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                         fmi2String value[]) {
    CHECK_INSTANCE();
    return (fmi2Status)inst_get(INST, T_STRING, vr, nvr, value);
}

fmi2Status fmi2SetReal(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                       const fmi2Real value[]) {
    CHECK_INSTANCE();
    return (fmi2Status)inst_set(INST, T_REAL, vr, nvr, value);
}

fmi2Status fmi2SetInteger(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                          const fmi2Integer value[]) {
    CHECK_INSTANCE();
    return (fmi2Status)inst_set(INST, T_INTEGER, vr, nvr, value);
}

fmi2Status fmi2SetBoolean(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                          const fmi2Boolean value[]) {
    CHECK_INSTANCE();
    for (size_t k = 0; k < nvr; k++) {
        bool b = value[k] != fmi2False;
        if (inst_set(INST, T_BOOLEAN, &vr[k], 1, &b) != ST_OK) return fmi2Error;
    }
    return fmi2OK;
}

fmi2Status fmi2SetString(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                         const fmi2String value[]) {
    CHECK_INSTANCE();
    return (fmi2Status)inst_set(INST, T_STRING, vr, nvr, value);
}

fmi2Status fmi2GetFMUstate(fmi2Component c, fmi2FMUstate *FMUstate) {
    CHECK_INSTANCE();
    return (fmi2Status)inst_get_state(INST, FMUstate);
}

fmi2Status fmi2SetFMUstate(fmi2Component c, fmi2FMUstate FMUstate) {
    CHECK_INSTANCE();
    return (fmi2Status)inst_set_state(INST, FMUstate);
}

fmi2Status fmi2FreeFMUstate(fmi2Component c, fmi2FMUstate *FMUstate) {
    CHECK_INSTANCE();
    return (fmi2Status)inst_free_state(INST, FMUstate);
}

fmi2Status fmi2SerializedFMUstateSize(fmi2Component c, fmi2FMUstate FMUstate, size_t *size) {
    (void)FMUstate;
    CHECK_INSTANCE();
    *size = inst_serialized_size();
    return fmi2OK;
}

fmi2Status fmi2SerializeFMUstate(fmi2Component c, fmi2FMUstate FMUstate, fmi2Byte serializedState[],
                                 size_t size) {
    CHECK_INSTANCE();
    return (fmi2Status)inst_serialize(INST, FMUstate, serializedState, size);
}

fmi2Status fmi2DeSerializeFMUstate(fmi2Component c, const fmi2Byte serializedState[], size_t size,
                                   fmi2FMUstate *FMUstate) {
    CHECK_INSTANCE();
    return (fmi2Status)inst_deserialize(INST, serializedState, size, FMUstate);
}

fmi2Status fmi2GetDirectionalDerivative(fmi2Component c, const fmi2ValueReference vUnknown_ref[],
                                        size_t nUnknown, const fmi2ValueReference vKnown_ref[],
                                        size_t nKnown, const fmi2Real dvKnown[],
                                        fmi2Real dvUnknown[]) {
    (void)vUnknown_ref, (void)nUnknown, (void)vKnown_ref, (void)nKnown, (void)dvKnown,
        (void)dvUnknown;
    return (fmi2Status)inst_unsupported(INST, "fmi2GetDirectionalDerivative");
}

#ifdef COSIM_FMI2_CS
fmi2Status fmi2SetRealInputDerivatives(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                                       const fmi2Integer order[], const fmi2Real value[]) {
    CHECK_INSTANCE();
    return (fmi2Status)inst_set_input_derivatives(INST, vr, nvr, order, value);
}

fmi2Status fmi2GetRealOutputDerivatives(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                                        const fmi2Integer order[], fmi2Real value[]) {
    CHECK_INSTANCE();
    return (fmi2Status)inst_get_output_derivatives(INST, vr, nvr, order, value, nvr,
                                                   "fmi2GetRealOutputDerivatives");
}

fmi2Status fmi2DoStep(fmi2Component c, fmi2Real currentCommunicationPoint,
                      fmi2Real communicationStepSize, fmi2Boolean noSetFMUStatePriorToCurrentPoint) {
    (void)noSetFMUStatePriorToCurrentPoint;
    CHECK_INSTANCE();
    int status = inst_do_step(INST, currentCommunicationPoint, communicationStepSize);
    /* FMI 2 asks to end the simulation with a discarded step whose
     * fmi2Terminated status is true, at fmi2LastSuccessfulTime. */
    if (status <= ST_WARNING && INST->m.terminate) return fmi2Discard;
    return (fmi2Status)status;
}

fmi2Status fmi2CancelStep(fmi2Component c) {
    return (fmi2Status)inst_unsupported(INST, "fmi2CancelStep (steps are never asynchronous)");
}

fmi2Status fmi2GetStatus(fmi2Component c, const fmi2StatusKind s, fmi2Status *value) {
    (void)s, (void)value;
    return (fmi2Status)inst_unsupported(INST, "fmi2GetStatus (steps are never asynchronous)");
}

fmi2Status fmi2GetRealStatus(fmi2Component c, const fmi2StatusKind s, fmi2Real *value) {
    CHECK_INSTANCE();
    if (s != fmi2LastSuccessfulTime) return (fmi2Status)inst_unsupported(INST, "fmi2GetRealStatus");
    *value = INST->m.time;
    return fmi2OK;
}

fmi2Status fmi2GetIntegerStatus(fmi2Component c, const fmi2StatusKind s, fmi2Integer *value) {
    (void)s, (void)value;
    return (fmi2Status)inst_unsupported(INST, "fmi2GetIntegerStatus");
}

fmi2Status fmi2GetBooleanStatus(fmi2Component c, const fmi2StatusKind s, fmi2Boolean *value) {
    CHECK_INSTANCE();
    if (s != fmi2Terminated) return (fmi2Status)inst_unsupported(INST, "fmi2GetBooleanStatus");
    *value = INST->m.terminate ? fmi2True : fmi2False;
    return fmi2OK;
}

fmi2Status fmi2GetStringStatus(fmi2Component c, const fmi2StatusKind s, fmi2String *value) {
    (void)s, (void)value;
    return (fmi2Status)inst_unsupported(INST, "fmi2GetStringStatus");
}
#endif
