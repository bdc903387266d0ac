/* FMI 1.0 co-simulation (stand-alone) interface over the shared instance core.
 *
 * FMI 1.0 names every function after the model identifier
 * (<modelIdentifier>_fmiDoStep, ...) so that several FMUs can be linked into
 * one program; the build passes MODEL_IDENTIFIER.  The types come from
 * fmi1Functions.h.  FMI 1.0 has no initialization mode: the slave is ready
 * for start values as soon as it is instantiated, so the instance enters the
 * core's initialization mode right away and fmiInitializeSlave leaves it. */
#include <stddef.h>  /* fmi1Functions.h uses size_t without including it */

#include "fmi1Functions.h"
#include "instance.h"

#ifndef MODEL_IDENTIFIER
#error "compile with -DMODEL_IDENTIFIER=<modelIdentifier>"
#endif

#define FMI1_PASTE(id, name) id##_##name
#define FMI1_EXPAND(id, name) FMI1_PASTE(id, name)
#define FMI1(name) FMI1_EXPAND(MODEL_IDENTIFIER, name)
#define FMI1_EXPORT __attribute__((visibility("default")))

/* Declaring each export with the standard's function type makes the compiler
 * check every signature against fmi1Functions.h. */
FMI1_EXPORT fmi1GetTypesPlatformTYPE FMI1(fmiGetTypesPlatform);
FMI1_EXPORT fmi1GetVersionTYPE FMI1(fmiGetVersion);
FMI1_EXPORT fmi1SetDebugLoggingTYPE FMI1(fmiSetDebugLogging);
FMI1_EXPORT fmi1InstantiateSlaveTYPE FMI1(fmiInstantiateSlave);
FMI1_EXPORT fmi1InitializeSlaveTYPE FMI1(fmiInitializeSlave);
FMI1_EXPORT fmi1TerminateSlaveTYPE FMI1(fmiTerminateSlave);
FMI1_EXPORT fmi1ResetSlaveTYPE FMI1(fmiResetSlave);
FMI1_EXPORT fmi1FreeSlaveInstanceTYPE FMI1(fmiFreeSlaveInstance);
FMI1_EXPORT fmi1GetRealTYPE FMI1(fmiGetReal);
FMI1_EXPORT fmi1GetIntegerTYPE FMI1(fmiGetInteger);
FMI1_EXPORT fmi1GetBooleanTYPE FMI1(fmiGetBoolean);
FMI1_EXPORT fmi1GetStringTYPE FMI1(fmiGetString);
FMI1_EXPORT fmi1SetRealTYPE FMI1(fmiSetReal);
FMI1_EXPORT fmi1SetIntegerTYPE FMI1(fmiSetInteger);
FMI1_EXPORT fmi1SetBooleanTYPE FMI1(fmiSetBoolean);
FMI1_EXPORT fmi1SetStringTYPE FMI1(fmiSetString);
FMI1_EXPORT fmi1SetRealInputDerivativesTYPE FMI1(fmiSetRealInputDerivatives);
FMI1_EXPORT fmi1GetRealOutputDerivativesTYPE FMI1(fmiGetRealOutputDerivatives);
FMI1_EXPORT fmi1CancelStepTYPE FMI1(fmiCancelStep);
FMI1_EXPORT fmi1DoStepTYPE FMI1(fmiDoStep);
FMI1_EXPORT fmi1GetStatusTYPE FMI1(fmiGetStatus);
FMI1_EXPORT fmi1GetRealStatusTYPE FMI1(fmiGetRealStatus);
FMI1_EXPORT fmi1GetIntegerStatusTYPE FMI1(fmiGetIntegerStatus);
FMI1_EXPORT fmi1GetBooleanStatusTYPE FMI1(fmiGetBooleanStatus);
FMI1_EXPORT fmi1GetStringStatusTYPE FMI1(fmiGetStringStatus);

#define INST ((Instance *)c)
#define CHECK_INSTANCE() \
    if (!c) return fmi1Error

/* The FMI 1.0 logger takes a printf format.  The core hands over finished
 * text, which is escaped so that a '%' in it (a value, a unit) is printed
 * rather than read as a conversion; importers that print the format
 * verbatim still show the text. */
static void log_fmi1(Instance *inst, int status, const char *category, const char *message) {
    fmi1CallbackLogger logger = (fmi1CallbackLogger)inst->log_callback;
    if (!logger) return;
    char escaped[2048];
    size_t n = 0;
    for (const char *p = message; *p && n + 2 < sizeof escaped; p++) {
        if (*p == '%') escaped[n++] = '%';
        escaped[n++] = *p;
    }
    escaped[n] = '\0';
    logger((fmi1Component)LOG_ENVIRONMENT(inst), inst->name, (fmi1Status)status, category,
           escaped);
}

const char *FMI1(fmiGetTypesPlatform)(void) { return "standard32"; }
const char *FMI1(fmiGetVersion)(void) { return "1.0"; }

fmi1Status FMI1(fmiSetDebugLogging)(fmi1Component c, fmi1Boolean loggingOn) {
    CHECK_INSTANCE();
    INST->logging_on = loggingOn != fmi1False;
    return fmi1OK;
}

fmi1Component FMI1(fmiInstantiateSlave)(fmi1String instanceName, fmi1String fmuGUID,
                                        fmi1String fmuLocation, fmi1String mimeType,
                                        fmi1Real timeout, fmi1Boolean visible,
                                        fmi1Boolean interactive, fmi1CallbackFunctions functions,
                                        fmi1Boolean loggingOn) {
    (void)fmuLocation, (void)mimeType, (void)timeout, (void)visible;
    if (interactive) {
        if (functions.logger) {
            functions.logger(NULL, instanceName, fmi1Error, "logStatusError",
                             MODEL_NAME " cannot run interactively");
        }
        return NULL;
    }
    Instance *inst = inst_new(instanceName, fmuGUID, log_fmi1, (void *)functions.logger, NULL,
                              loggingOn != fmi1False);
    if (inst && inst_enter_init(inst, 0.0) != ST_OK) {
        inst_free(inst);
        return NULL;
    }
    return inst;
}

fmi1Status FMI1(fmiInitializeSlave)(fmi1Component c, fmi1Real tStart, fmi1Boolean StopTimeDefined,
                                    fmi1Real tStop) {
    (void)StopTimeDefined, (void)tStop;
    CHECK_INSTANCE();
    if (INST->mode != MODE_INIT) {
        inst_log(INST, ST_ERROR, "logStatusError",
                 "fmiInitializeSlave must come once, after instantiation or reset");
        return fmi1Error;
    }
    INST->m.time = tStart;
    return (fmi1Status)inst_exit_init(INST);
}

fmi1Status FMI1(fmiTerminateSlave)(fmi1Component c) {
    CHECK_INSTANCE();
    return (fmi1Status)inst_terminate(INST);
}

fmi1Status FMI1(fmiResetSlave)(fmi1Component c) {
    CHECK_INSTANCE();
    inst_reset(INST);
    return (fmi1Status)inst_enter_init(INST, 0.0);
}

void FMI1(fmiFreeSlaveInstance)(fmi1Component c) { inst_free(INST); }

fmi1Status FMI1(fmiGetReal)(fmi1Component c, const fmi1ValueReference vr[], size_t nvr,
                            fmi1Real value[]) {
    CHECK_INSTANCE();
    return (fmi1Status)inst_get(INST, T_REAL, vr, nvr, value);
}

fmi1Status FMI1(fmiGetInteger)(fmi1Component c, const fmi1ValueReference vr[], size_t nvr,
                               fmi1Integer value[]) {
    CHECK_INSTANCE();
    return (fmi1Status)inst_get(INST, T_INTEGER, vr, nvr, value);
}

fmi1Status FMI1(fmiGetBoolean)(fmi1Component c, const fmi1ValueReference vr[], size_t nvr,
                               fmi1Boolean value[]) {
    CHECK_INSTANCE();
    for (size_t k = 0; k < nvr; k++) {
        bool b;
        if (inst_get(INST, T_BOOLEAN, &vr[k], 1, &b) != ST_OK) return fmi1Error;
        value[k] = b ? fmi1True : fmi1False;
    }
    return fmi1OK;
}

fmi1Status FMI1(fmiGetString)(fmi1Component c, const fmi1ValueReference vr[], size_t nvr,
                              fmi1String value[]) {
    CHECK_INSTANCE();
    return (fmi1Status)inst_get(INST, T_STRING, vr, nvr, value);
}

fmi1Status FMI1(fmiSetReal)(fmi1Component c, const fmi1ValueReference vr[], size_t nvr,
                            const fmi1Real value[]) {
    CHECK_INSTANCE();
    return (fmi1Status)inst_set(INST, T_REAL, vr, nvr, value);
}

fmi1Status FMI1(fmiSetInteger)(fmi1Component c, const fmi1ValueReference vr[], size_t nvr,
                               const fmi1Integer value[]) {
    CHECK_INSTANCE();
    return (fmi1Status)inst_set(INST, T_INTEGER, vr, nvr, value);
}

fmi1Status FMI1(fmiSetBoolean)(fmi1Component c, const fmi1ValueReference vr[], size_t nvr,
                               const fmi1Boolean value[]) {
    CHECK_INSTANCE();
    for (size_t k = 0; k < nvr; k++) {
        bool b = value[k] != fmi1False;
        if (inst_set(INST, T_BOOLEAN, &vr[k], 1, &b) != ST_OK) return fmi1Error;
    }
    return fmi1OK;
}

fmi1Status FMI1(fmiSetString)(fmi1Component c, const fmi1ValueReference vr[], size_t nvr,
                              const fmi1String value[]) {
    CHECK_INSTANCE();
    return (fmi1Status)inst_set(INST, T_STRING, vr, nvr, value);
}

fmi1Status FMI1(fmiSetRealInputDerivatives)(fmi1Component c, const fmi1ValueReference vr[],
                                            size_t nvr, const fmi1Integer order[],
                                            const fmi1Real value[]) {
    (void)vr, (void)nvr, (void)order, (void)value;
    return (fmi1Status)inst_unsupported(INST, "fmiSetRealInputDerivatives");
}

fmi1Status FMI1(fmiGetRealOutputDerivatives)(fmi1Component c, const fmi1ValueReference vr[],
                                             size_t nvr, const fmi1Integer order[],
                                             fmi1Real value[]) {
    (void)vr, (void)nvr, (void)order, (void)value;
    return (fmi1Status)inst_unsupported(INST, "fmiGetRealOutputDerivatives");
}

fmi1Status FMI1(fmiCancelStep)(fmi1Component c) {
    return (fmi1Status)inst_unsupported(INST, "fmiCancelStep (steps are never asynchronous)");
}

fmi1Status FMI1(fmiDoStep)(fmi1Component c, fmi1Real currentCommunicationPoint,
                           fmi1Real communicationStepSize, fmi1Boolean newStep) {
    CHECK_INSTANCE();
    /* newStep false asks to redo the last step, which needs the state before it. */
    if (!newStep) return (fmi1Status)inst_unsupported(INST, "fmiDoStep with newStep=false");
    return (fmi1Status)inst_do_step(INST, currentCommunicationPoint, communicationStepSize);
}

fmi1Status FMI1(fmiGetStatus)(fmi1Component c, const fmi1StatusKind s, fmi1Status *value) {
    (void)s, (void)value;
    return (fmi1Status)inst_unsupported(INST, "fmiGetStatus (steps are never asynchronous)");
}

fmi1Status FMI1(fmiGetRealStatus)(fmi1Component c, const fmi1StatusKind s, fmi1Real *value) {
    CHECK_INSTANCE();
    if (s != fmi1LastSuccessfulTime) return (fmi1Status)inst_unsupported(INST, "fmiGetRealStatus");
    *value = INST->m.time;
    return fmi1OK;
}

fmi1Status FMI1(fmiGetIntegerStatus)(fmi1Component c, const fmi1StatusKind s, fmi1Integer *value) {
    (void)s, (void)value;
    return (fmi1Status)inst_unsupported(INST, "fmiGetIntegerStatus");
}

fmi1Status FMI1(fmiGetBooleanStatus)(fmi1Component c, const fmi1StatusKind s, fmi1Boolean *value) {
    (void)s, (void)value;
    return (fmi1Status)inst_unsupported(INST, "fmiGetBooleanStatus");
}

fmi1Status FMI1(fmiGetStringStatus)(fmi1Component c, const fmi1StatusKind s, fmi1String *value) {
    (void)s, (void)value;
    return (fmi1Status)inst_unsupported(INST, "fmiGetStringStatus");
}
