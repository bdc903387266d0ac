"""What an FMU's binary can do, against what its model description claims.

Exporters set capability flags (canGetAndSetFMUstate, hasEventMode, ...) that
their binaries do not back with the functions; :func:`with_binary_functions`
lowers the flags to what the binary exports, with a warning naming the
functions, so that cosim never calls a function that is not there.
"""

from __future__ import annotations

import dataclasses
from typing import TypedDict

from cosim.fmi.model import CANONICAL_TYPES, ModelInfo

__all__ = ["EVENT_MODE_FUNCTIONS", "INPUT_DERIVATIVES_FUNCTION", "OUTPUT_DERIVATIVES_FUNCTIONS",
           "SERIALIZE_FUNCTIONS", "STATE_FUNCTIONS", "with_binary_functions"]

STATE_FUNCTIONS = {
    "1.0": (),          # FMI 1.0 has no FMU state
    "2.0": ("fmi2GetFMUstate", "fmi2SetFMUstate", "fmi2FreeFMUstate"),
    "3.0": ("fmi3GetFMUState", "fmi3SetFMUState", "fmi3FreeFMUState"),
}
SERIALIZE_FUNCTIONS = {
    "1.0": (),
    "2.0": ("fmi2SerializedFMUstateSize", "fmi2SerializeFMUstate", "fmi2DeSerializeFMUstate"),
    "3.0": ("fmi3SerializedFMUStateSize", "fmi3SerializeFMUState", "fmi3DeserializeFMUState"),
}
# Behind hasEventMode (FMI 3 co-simulation).
EVENT_MODE_FUNCTIONS = ("fmi3EnterEventMode", "fmi3UpdateDiscreteStates", "fmi3EnterStepMode")
# Behind canInterpolateInputs (cosim sets input derivatives of FMI 2.0 co-simulation units only).
INPUT_DERIVATIVES_FUNCTION = "fmi2SetRealInputDerivatives"
# Behind maxOutputDerivativeOrder >= 1, per FMI version.
OUTPUT_DERIVATIVES_FUNCTIONS = {"2.0": "fmi2GetRealOutputDerivatives",
                                "3.0": "fmi3GetOutputDerivatives"}


class _CapabilityChanges(TypedDict, total=False):
    """The capability fields of a ModelInfo that :func:`with_binary_functions` may lower."""

    can_get_and_set_state: bool
    can_serialize_state: bool
    can_interpolate_inputs: bool
    max_output_derivative_order: int
    has_event_mode: bool


def with_binary_functions(model: ModelInfo, missing) -> tuple[ModelInfo, list[str]]:
    """``model`` with its capability flags reduced to what its binary exports.

    ``missing`` holds the FMI function names the binary lacks (see
    ``Library.missing``).  Returns the corrected model (``model`` itself if
    nothing changes) and one warning per problem, naming the functions.
    """
    missing = set(missing)
    changes: _CapabilityChanges = {}
    warnings: list[str] = []
    state = [f for f in STATE_FUNCTIONS[model.fmi_version] if f in missing]
    serialize = [f for f in SERIALIZE_FUNCTIONS[model.fmi_version] if f in missing]
    flag = "canGetAndSetFMUstate" if model.fmi_version == "2.0" else "canGetAndSetFMUState"
    if model.can_get_and_set_state and state:
        changes["can_get_and_set_state"] = changes["can_serialize_state"] = False
        warnings.append(f"{flag} is true but the binary does not export {', '.join(state)}; "
                        "saving and restoring its state is disabled")
    elif model.can_serialize_state and serialize:
        changes["can_serialize_state"] = False
        warnings.append(f"{flag.replace('GetAndSet', 'Serialize')} is true but the binary does "
                        f"not export {', '.join(serialize)}; serializing its state is disabled")
    if model.can_interpolate_inputs and INPUT_DERIVATIVES_FUNCTION in missing:
        changes["can_interpolate_inputs"] = False
        warnings.append(f"canInterpolateInputs is true but the binary does not export "
                        f"{INPUT_DERIVATIVES_FUNCTION}; first-order holds set extrapolated "
                        "input values instead")
    output_derivatives = OUTPUT_DERIVATIVES_FUNCTIONS.get(model.fmi_version)
    if model.max_output_derivative_order >= 1 and output_derivatives in missing:
        changes["max_output_derivative_order"] = 0
        warnings.append(f"maxOutputDerivativeOrder is {model.max_output_derivative_order} but "
                        f"the binary does not export {output_derivatives}; first-order holds "
                        "take the slope from the last two communication points instead")
    events = [f for f in EVENT_MODE_FUNCTIONS if f in missing]
    if model.has_event_mode and events:
        changes["has_event_mode"] = False
        warnings.append(f"hasEventMode is true but the binary does not export "
                        f"{', '.join(events)}; it runs without event mode")
    used = {v.type for v in model.variables.values()}
    other = sorted(f for f in missing
                   if f not in STATE_FUNCTIONS[model.fmi_version]
                   and f not in SERIALIZE_FUNCTIONS[model.fmi_version]
                   and f != INPUT_DERIVATIVES_FUNCTION      # only used where the flag allows
                   and f != output_derivatives
                   and f not in EVENT_MODE_FUNCTIONS     # only used with hasEventMode
                   and (_accessor_type(f) is None or _accessor_type(f) in used))
    if other:
        warnings.append(f"the binary does not export {', '.join(other)}; "
                        "calls that need them raise ModelError")
    return (dataclasses.replace(model, **changes) if changes else model), warnings


def _accessor_type(function: str) -> str | None:
    """The canonical value type of an FMI get/set function ("fmi3GetInt8" -> "int8"), else None."""
    for prefix in ("fmiGet", "fmiSet", "fmi2Get", "fmi2Set", "fmi3Get", "fmi3Set"):
        if function.startswith(prefix):
            return CANONICAL_TYPES.get(function[len(prefix):])
    return None
