"""Build the component twin FMUs from their C sources and model specs.

Each model lives in a folder holding ``model.toml`` (variables, units,
dependencies, default experiment), ``model.h`` (the model's internal state
struct) and ``model.c`` (its equations).  From the spec this script generates
a C variable table and the FMI 2.0 and FMI 3.0 ``modelDescription.xml`` (and,
where asked, FMI 1.0 co-simulation), so value references are defined in
exactly one place.  The shared FMI glue in ``fmus/common`` is compiled with
every model.

Hybrid models (``model_exchange = true`` in ``model.toml``: continuous
states with ``derivative_of``, ``event_indicators``) are also built as FMI 2.0
model exchange FMUs from the same equations.

FMI 3.0 array variables: a variable with ``dimensions = [3]`` (or ``[2, 3]``)
holds that many elements, stored row-major in consecutive slots (``R_name``
is the first, ``LEN_name`` the count); its ``start`` is one value for every
element or a list of them.  A model with arrays lists ``fmi_versions =
["3.0"]``, the only version that has them.

Output derivatives: ``provides_output_derivatives = true`` declares
``maxOutputDerivativeOrder="1"`` and exports the output-derivative functions,
which call the model's ``model_output_derivative`` hook.

FMI 3.0 event mode (hybrid models only): ``has_event_mode = true`` declares
``hasEventMode="true"``; an importer that instantiates with ``eventModeUsed``
gets the model's events in event mode instead of having them handled inside
``fmi3DoStep``.  ``might_return_early = true`` declares
``mightReturnEarlyFromDoStep="true"``: with ``earlyReturnAllowed`` the step
ends at each event.

Variants: ``based_on = "other"`` takes the variables, ``model.c`` and
``model.h`` of the sibling folder ``other``; the variant's other keys (name,
description, flags, quirks) replace the base's.  The variant folder holds only
its ``model.toml``.

Usage: ``python fmus/build_fmus.py OUTDIR [MODEL_DIR ...]`` writes
``OUTDIR/fmi2/<name>.fmu`` and ``OUTDIR/fmi3/<name>.fmu``, and for hybrid
models ``OUTDIR/fmi2me/<name>.fmu``.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
import uuid
import zipfile
from pathlib import Path
from xml.sax.saxutils import quoteattr

HERE = Path(__file__).resolve().parent
COMMON = HERE / "common"
MODELS = ("spindle", "furnace", "conveyor", "gain", "source", "pi_controller", "energy_meter")

# Unit catalogue: name -> (base-unit exponents, factor, offset).  Only the
# units a model uses are written into its modelDescription.
UNITS: dict[str, tuple[dict[str, int], float, float]] = {
    "s": ({"s": 1}, 1.0, 0.0),
    "h": ({"s": 1}, 3600.0, 0.0),
    "1/s": ({"s": -1}, 1.0, 0.0),
    "m": ({"m": 1}, 1.0, 0.0),
    "m/s": ({"m": 1, "s": -1}, 1.0, 0.0),
    "m/s2": ({"m": 1, "s": -2}, 1.0, 0.0),
    "mm/s": ({"m": 1, "s": -1}, 0.001, 0.0),
    "kg": ({"kg": 1}, 1.0, 0.0),
    "kg/s": ({"kg": 1, "s": -1}, 1.0, 0.0),
    "kg.m2": ({"kg": 1, "m": 2}, 1.0, 0.0),
    "N": ({"kg": 1, "m": 1, "s": -2}, 1.0, 0.0),
    "N.m": ({"kg": 1, "m": 2, "s": -2}, 1.0, 0.0),
    "N.m/rad": ({"kg": 1, "m": 2, "s": -2, "rad": -1}, 1.0, 0.0),
    "N.m.s/rad": ({"kg": 1, "m": 2, "s": -1, "rad": -1}, 1.0, 0.0),
    "rad/s": ({"rad": 1, "s": -1}, 1.0, 0.0),
    "rpm": ({"rad": 1, "s": -1}, 0.10471975511965977, 0.0),
    "K": ({"K": 1}, 1.0, 0.0),
    "degC": ({"K": 1}, 1.0, 273.15),
    "W": ({"kg": 1, "m": 2, "s": -3}, 1.0, 0.0),
    "J": ({"kg": 1, "m": 2, "s": -2}, 1.0, 0.0),
    "J/K": ({"kg": 1, "m": 2, "s": -2, "K": -1}, 1.0, 0.0),
    "W/K": ({"kg": 1, "m": 2, "s": -3, "K": -1}, 1.0, 0.0),
    "W/(K.s)": ({"kg": 1, "m": 2, "s": -4, "K": -1}, 1.0, 0.0),
    "K/W": ({"kg": -1, "m": -2, "s": 3, "K": 1}, 1.0, 0.0),
    "J/(kg.K)": ({"m": 2, "s": -2, "K": -1}, 1.0, 0.0),
}
BASE_UNIT_ORDER = ("kg", "m", "s", "A", "K", "mol", "cd", "rad")

# structuralParameter: FMI 3 only, set by the importer in configuration mode only
CAUSALITIES = ("parameter", "input", "output", "local", "structuralParameter")
VARIABILITIES = ("constant", "fixed", "tunable", "discrete", "continuous")
TYPES = {"Real": ("T_REAL", "Float64"), "Integer": ("T_INTEGER", "Int32"),
         "Boolean": ("T_BOOLEAN", "Boolean"), "String": ("T_STRING", "String"),
         "Clock": ("T_CLOCK", "Clock")}
# FMI 3.0 only types: the numeric ones share one array of 8-byte cells (X_name,
# read with F32(name), I8(name) ... U64(name)); Binary values are byte strings
# (Y_name, read with Y(name) and YSIZE(name)).
FMI3_TYPES = {"Float32": "T_FLOAT32", "Int8": "T_INT8", "UInt8": "T_UINT8", "Int16": "T_INT16",
              "UInt16": "T_UINT16", "UInt32": "T_UINT32", "Int64": "T_INT64", "UInt64": "T_UINT64",
              "Binary": "T_BINARY"}
TYPES.update({name: (code, name) for name, code in FMI3_TYPES.items()})
# Slot arrays of ModelData, by type: which array a variable's slot indexes.
SLOT_PREFIX = {"Real": "R", "Integer": "I", "Boolean": "B", "String": "S", "Clock": "K",
               **{name: "X" for name in FMI3_TYPES}, "Binary": "Y"}
# FMI 3 clocks: intervalVariability of a Clock variable (interval_variability in model.toml)
INTERVAL_VARIABILITIES = ("constant", "fixed", "tunable", "changing", "countdown", "triggered")
PLATFORM = {"1.0": "linux64", "2.0": "linux64", "3.0": "x86_64-linux"}
GLUE = {"1.0": "fmi1.c", "2.0": "fmi2.c", "3.0": "fmi3.c"}
FOLDERS = {"1.0": "fmi1", "2.0": "fmi2", "3.0": "fmi3"}
# FMI 2.0 model exchange builds of hybrid models
ME_FOLDER = "fmi2me"
CO_SIMULATION, MODEL_EXCHANGE = "co-simulation", "model-exchange"

# Defects that a model.toml can ask for in an optional [quirks] table, so that
# test FMUs reproduce what real exporters get wrong.  The twins use none.
QUIRKS = {
    # variable -> name written in modelDescription.xml (e.g. to duplicate a name)
    "description_names": dict,
    # variable -> variability written in modelDescription.xml
    "description_variability": dict,
    # clock -> intervalVariability written in modelDescription.xml (FMI 3)
    "description_interval_variability": dict,
    # variable -> start value written in modelDescription.xml (even where none is allowed)
    "description_start": dict,
    # the modelIdentifier written; the binary keeps the model's (and the file's) name
    "model_identifier": str,
    # FMI functions, without the "fmi2"/"fmi3" prefix, that the binary does not export
    # (FMI 1.0 builds hide the FMI 1.0 counterparts: Reset is fmiResetSlave)
    "hide_functions": list,
    # the binary leaves parameters and inputs unset (NaN, 0, "") until the importer sets them
    "binary_ignores_start": bool,
    # FMI 3 hybrid models: fmi3DoStep sets eventHandlingNeeded after a step with an
    # event even though the importer did not use event mode (it handled the event)
    "events_without_event_mode": bool,
    # "bogus": the FMU's log calls pass (void *)0x1 as the logger's environment
    # (FMI 1: the component) instead of the one the importer gave, as code
    # generators that pass their own context do
    "log_environment": str,
    # every set of an input calls the model's model_input_set hook, as FMUs with their
    # own variable-step integrator restart it on every set (the model counts or restarts)
    "restarts_on_set": bool,
}
# The values a string quirk may take.
QUIRK_CHOICES = {"log_environment": ("bogus",)}
# Hybrid-model flags of model.toml, each a boolean; see the module docstring.
EVENT_FLAGS = ("has_event_mode", "might_return_early")


class SpecError(ValueError):
    """A model.toml that cannot be turned into an FMU."""


def load_spec(model_dir: Path) -> dict:
    """Read and check ``model.toml``; value references are assigned here.

    The independent variable ``time`` gets value reference 0; the spec's
    variables follow in file order from 1.
    """
    path = model_dir / "model.toml"
    with open(path, "rb") as f:
        spec = tomllib.load(f)
    identity = path.read_bytes()
    spec["source_dir"] = model_dir
    if "based_on" in spec:
        spec, base_bytes = _based_on(path, spec)
        identity += base_bytes
    variables = spec.get("variable", [])
    versions = spec.setdefault("fmi_versions", list(FOLDERS))
    if not isinstance(versions, list) or not versions or set(versions) - set(FOLDERS):
        raise SpecError(f"{path}: fmi_versions must be a non-empty list among {sorted(FOLDERS)}")
    spec.setdefault("provides_output_derivatives", False)
    names = set()
    for vr, var in enumerate(variables, start=1):
        where = f"{path}: variable {var.get('name', '#' + str(vr))!r}"
        for key in ("name", "type", "causality", "description"):
            if key not in var:
                raise SpecError(f"{where}: missing key {key!r}")
        if var["name"] in names or var["name"] == "time":
            raise SpecError(f"{where}: duplicate name")
        names.add(var["name"])
        if var["type"] not in TYPES:
            raise SpecError(f"{where}: type must be one of {sorted(TYPES)}")
        if var["causality"] not in CAUSALITIES:
            raise SpecError(f"{where}: causality must be one of {CAUSALITIES}")
        default_variability = {"parameter": "fixed", "structuralParameter": "fixed",
                               "output": "continuous",
                               "input": "continuous", "local": "continuous"}[var["causality"]]
        if var["type"] != "Real" and default_variability == "continuous":
            default_variability = "discrete"
        var.setdefault("variability", default_variability)
        if var["variability"] not in VARIABILITIES:
            raise SpecError(f"{where}: variability must be one of {VARIABILITIES}")
        if var.get("unit") is not None and var["unit"] not in UNITS:
            raise SpecError(f"{where}: unit {var['unit']!r} is not in the unit catalogue")
        if var["causality"] in ("parameter", "structuralParameter", "input") \
                and "start" not in var and var["type"] != "Clock":
            raise SpecError(f"{where}: parameters and inputs need a start value")
        if var["type"] in FMI3_TYPES and versions != ["3.0"]:
            raise SpecError(f"{where}: {var['type']} exists in FMI 3.0 only; "
                            'add fmi_versions = ["3.0"] to the model')
        if var["causality"] == "structuralParameter" and versions != ["3.0"]:
            raise SpecError(f"{where}: structural parameters exist in FMI 3.0 only; "
                            'add fmi_versions = ["3.0"] to the model')
        _load_dimensions(where, var, versions)
        _load_clock(where, var, versions)
        if var["causality"] == "output":
            if "start" in var:
                raise SpecError(f"{where}: outputs are calculated and take no start value")
            if "depends" not in var:
                raise SpecError(f"{where}: outputs must list 'depends' (the inputs they feed through from)")
        var["vr"] = vr
    clocks = {v["name"]: v for v in variables if v["type"] == "Clock"}
    for var in variables:
        for clock in var.get("clocks", []):
            if clock not in clocks:
                raise SpecError(f"{path}: variable {var['name']!r} is clocked by {clock!r}, "
                                "which is not a Clock variable of the model")
        for dep in var.get("depends", []):
            source = next((v for v in variables if v["name"] == dep), None)
            if source is None or source["causality"] != "input":
                raise SpecError(f"{path}: output {var['name']!r} depends on {dep!r}, which is not an input")
    spec["variable"] = variables
    spec["quirks"] = _check_quirks(path, spec.get("quirks", {}), names)
    _load_hybrid(path, spec)
    spec["guid"] = "{" + str(uuid.UUID(hashlib.md5(identity).hexdigest())) + "}"
    return spec


def _based_on(path: Path, spec: dict) -> tuple[dict, bytes]:
    """Merge a variant's spec over its base's; returns it and the base's file bytes."""
    base_name = spec.pop("based_on")
    base_dir = path.parent.parent / str(base_name)
    base_path = base_dir / "model.toml"
    if not isinstance(base_name, str) or "/" in base_name or not base_path.is_file():
        raise SpecError(f"{path}: based_on must name a sibling model folder, got {base_name!r}")
    if "variable" in spec:
        raise SpecError(f"{path}: a variant takes its variables from {base_name}; remove them")
    with open(base_path, "rb") as f:
        base = tomllib.load(f)
    if "based_on" in base:
        raise SpecError(f"{path}: {base_name} is itself a variant; base variants on a full model")
    merged = {**base, **spec, "source_dir": base_dir}
    return merged, base_path.read_bytes()

def _load_dimensions(where: str, var: dict, versions: list[str]) -> None:
    """Check an array variable's dimensions and start; sets ``count`` (elements)."""
    dims = var.get("dimensions")
    var["count"] = 1
    if dims is None:
        if isinstance(var.get("start"), list):
            raise SpecError(f"{where}: a list of start values needs dimensions")
        return
    if not isinstance(dims, list) or not dims or \
            not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in dims):
        raise SpecError(f"{where}: dimensions must be a list of whole numbers >= 1")
    if versions != ["3.0"]:
        raise SpecError(f"{where}: array variables exist in FMI 3.0 only; "
                        'add fmi_versions = ["3.0"] to the model')
    if var["type"] == "String" or var["type"] in FMI3_TYPES:
        raise SpecError(f"{where}: {var['type']} arrays are not supported")
    count = 1
    for d in dims:
        count *= d
    var["count"] = count
    start = var.get("start")
    if isinstance(start, list) and len(start) != count:
        raise SpecError(f"{where}: {len(start)} start values for {count} elements")


def _load_clock(where: str, var: dict, versions: list[str]) -> None:
    """Check a Clock variable's keys, and the ``clocks`` of a clocked one."""
    clocked = var.get("clocks")
    if clocked is not None:
        if not isinstance(clocked, list) or len(clocked) != 1 or var["type"] == "Clock":
            raise SpecError(f"{where}: clocks must list the one Clock variable that clocks it")
        if versions != ["3.0"]:
            raise SpecError(f"{where}: clocked variables exist in FMI 3.0 only; "
                            'add fmi_versions = ["3.0"] to the model')
    if var["type"] != "Clock":
        for key in ("interval_variability", "interval", "shift"):
            if key in var:
                raise SpecError(f"{where}: {key} belongs to Clock variables")
        return
    if versions != ["3.0"]:
        raise SpecError(f"{where}: clocks exist in FMI 3.0 only; add fmi_versions = [\"3.0\"]")
    if var["causality"] not in ("input", "output"):
        raise SpecError(f"{where}: a clock is an input or an output")
    kind = var.get("interval_variability")
    if kind not in INTERVAL_VARIABILITIES:
        raise SpecError(f"{where}: interval_variability must be one of {INTERVAL_VARIABILITIES}")
    if var["causality"] == "output" and kind != "triggered":
        raise SpecError(f"{where}: output clocks are triggered")
    if "start" in var:
        raise SpecError(f"{where}: clocks take no start value (interval and shift instead)")
    var["variability"] = "discrete"
    for key in ("interval", "shift"):
        if key in var and not (isinstance(var[key], (int, float)) and var[key] >= 0):
            raise SpecError(f"{where}: {key} must be a number of seconds >= 0")


def _check_quirks(path: Path, quirks: dict, names: set[str]) -> dict:
    for key, value in quirks.items():
        if key not in QUIRKS:
            raise SpecError(f"{path}: unknown quirk {key!r} (known: {', '.join(QUIRKS)})")
        if not isinstance(value, QUIRKS[key]):
            raise SpecError(f"{path}: quirk {key!r} must be a {QUIRKS[key].__name__}")
        if key in QUIRK_CHOICES and value not in QUIRK_CHOICES[key]:
            raise SpecError(f"{path}: quirk {key!r} must be one of "
                            f"{', '.join(map(repr, QUIRK_CHOICES[key]))}, got {value!r}")
        if isinstance(value, dict):
            for name in value:
                if name not in names:
                    raise SpecError(f"{path}: quirk {key!r} names unknown variable {name!r}")
    return quirks


def _fmi_function(version: str, name: str, model_identifier: str) -> str | None:
    """The exported name of FMI function ``name`` ("GetFMUstate") in FMI ``version``;
    None where FMI 1.0 has no such function (FMU state)."""
    if version == "1.0":
        fmi1 = {"Reset": "ResetSlave"}.get(name, name)
        return None if "FMUstate" in name else f"{model_identifier}_fmi{fmi1}"
    if version == "2.0":
        return "fmi2" + name
    return "fmi3" + name.replace("FMUstate", "FMUState").replace("DeSerialize", "Deserialize")


def _load_hybrid(path: Path, spec: dict) -> None:
    """Check the model exchange part of a spec: states, derivatives, indicators."""
    spec.setdefault("model_exchange", False)
    by_name = {v["name"]: v for v in spec["variable"]}
    derivatives = [v for v in spec["variable"] if "derivative_of" in v]
    for flag in EVENT_FLAGS:
        if not isinstance(spec.setdefault(flag, False), bool):
            raise SpecError(f"{path}: {flag} must be true or false")
    if not spec["model_exchange"]:
        if derivatives or "event_indicators" in spec:
            raise SpecError(f"{path}: derivative_of and event_indicators need model_exchange = true")
        hybrid_only = [f for f in (*EVENT_FLAGS, "events_without_event_mode")
                       if spec.get(f) or spec["quirks"].get(f)]
        if hybrid_only:
            raise SpecError(f"{path}: {', '.join(hybrid_only)} need a hybrid model "
                            "(model_exchange = true), whose events the FMU glue can stop at")
        return
    indicators = spec.setdefault("event_indicators", 0)
    if not isinstance(indicators, int) or indicators < 0:
        raise SpecError(f"{path}: event_indicators must be a whole number >= 0")
    if not derivatives:
        raise SpecError(f"{path}: a model_exchange model needs continuous states "
                        "(variables with derivative_of)")
    for der in derivatives:
        state = by_name.get(der["derivative_of"])
        where = f"{path}: variable {der['name']!r}"
        if state is None:
            raise SpecError(f"{where}: derivative_of names no variable: {der['derivative_of']!r}")
        for var in (der, state):
            if var["type"] != "Real" or var["variability"] != "continuous" \
                    or var["causality"] not in ("output", "local"):
                raise SpecError(f"{where}: states and derivatives must be continuous Real "
                                f"outputs or locals ({var['name']!r} is not)")
    spec["states"] = [(by_name[d["derivative_of"]], d) for d in derivatives]


def _slot_names(spec: dict) -> dict[str, list[dict]]:
    """The variables of each slot array (SLOT_PREFIX), in file order."""
    slots: dict[str, list[dict]] = {p: [] for p in dict.fromkeys(SLOT_PREFIX.values())}
    for var in spec["variable"]:
        slots[SLOT_PREFIX[var["type"]]].append(var)
    return slots


def _start_text(var: dict) -> str:
    """The start value the binary parses from text: a string, a Binary's hex
    digits, or an FMI 3 number exactly as written (64-bit integers do not
    survive a double)."""
    start = var.get("start", "")
    if var["type"] in FMI3_TYPES and var["type"] != "Binary":
        return str(start)
    return start if var["type"] in ("String", "Binary") else ""


def generate_c(spec: dict) -> tuple[str, str]:
    """Return (model_vars.h, model_vars.c) for a spec."""
    slots = _slot_names(spec)
    prefix = SLOT_PREFIX
    h = ["/* Generated from model.toml by fmus/build_fmus.py; do not edit. */",
         "#ifndef MODEL_VARS_H", "#define MODEL_VARS_H",
         f'#define MODEL_NAME "{spec["name"]}"',
         f'#define MODEL_GUID "{spec["guid"]}"']
    for p, variables in slots.items():
        members, slot = [], 0
        for v in variables:
            members.append(f"{p}_{v['name']} = {slot}")
            slot += v["count"]
        members.append(f"N_{p} = {slot}")
        h.append("enum { " + ", ".join(members) + " };")
    for var in spec["variable"]:
        if "dimensions" in var:
            h.append(f"#define LEN_{var['name']} {var['count']}")
    h.append(f"#define N_VARS {len(spec['variable']) + 1}")
    if spec.get("can_interpolate_inputs"):
        h.append("#define MODEL_CAN_INTERPOLATE_INPUTS 1")
    if spec["provides_output_derivatives"]:
        h.append("#define MODEL_PROVIDES_OUTPUT_DERIVATIVES 1")
    if spec["model_exchange"]:
        h.append("#define MODEL_EXCHANGE 1")
        h.append(f"#define N_STATES {len(spec['states'])}")
        h.append(f"#define N_EVENT_INDICATORS {spec['event_indicators']}")
    if spec["has_event_mode"]:
        h.append("#define MODEL_HAS_EVENT_MODE 1")
    if spec["might_return_early"]:
        h.append("#define MODEL_MIGHT_RETURN_EARLY 1")
    if slots["K"]:
        h.append("#define MODEL_HAS_CLOCKS 1")
    if spec["quirks"].get("events_without_event_mode"):
        h.append("#define QUIRK_EVENTS_WITHOUT_EVENT_MODE 1")
    if spec["quirks"].get("log_environment") == "bogus":
        h.append("#define QUIRK_LOG_ENVIRONMENT ((void *)0x1)")
    if spec["quirks"].get("restarts_on_set"):
        h.append("#define QUIRK_RESTARTS_ON_SET 1")
    h.append("#endif")

    rows = ['    {0, T_REAL, -1, C_INDEPENDENT, V_CONTINUOUS, "time", 0.0, "", 1, NULL, -1, 0.0}']
    starts = []
    unset = spec["quirks"].get("binary_ignores_start", False)
    for var in spec["variable"]:
        p = prefix[var["type"]]
        start = var.get("interval", 0) if var["type"] == "Clock" else var.get("start", 0)
        element_starts = "NULL"
        clock = f"K_{var['clocks'][0]}" if var.get("clocks") else "-1"
        if isinstance(start, list):
            element_starts = f"START_{var['name']}"
            starts.append(f"static const double {element_starts}[{var['count']}] = {{"
                          + ", ".join(repr(float(x)) for x in start) + "};")
            start = 0
        if var["type"] == "Boolean":
            start = 1.0 if start else 0.0
        start_str = _start_text(var)
        textual = var["type"] == "String" or var["type"] in FMI3_TYPES
        start_num = repr(0.0 if textual else float(start))
        if unset and var["causality"] in ("parameter", "structuralParameter", "input"):
            start_str = ""
            start_num = "NAN" if var["type"] == "Real" else "0.0"
        rows.append(
            f'    {{{var["vr"]}, {TYPES[var["type"]][0]}, {p}_{var["name"]}, '
            f'C_{var["causality"].upper()}, V_{var["variability"].upper()}, '
            f'"{var["name"]}", {start_num}, "{start_str}", {var["count"]}, {element_starts}, '
            f'{clock}, {float(var.get("shift", 0.0))!r}}}')
    c = ["/* Generated from model.toml by fmus/build_fmus.py; do not edit. */",
         '#include "cosim_model.h"', *starts,
         "const VarInfo VARS[N_VARS] = {", ",\n".join(rows), "};"]
    if spec["model_exchange"]:
        c.append("const int STATE_SLOTS[N_STATES] = {"
                 + ", ".join(f"R_{x['name']}" for x, _ in spec["states"]) + "};")
        c.append("const int DERIVATIVE_SLOTS[N_STATES] = {"
                 + ", ".join(f"R_{d['name']}" for _, d in spec["states"]) + "};")
    return "\n".join(h) + "\n", "\n".join(c) + "\n"


def _fmt(value) -> str:
    if isinstance(value, list):         # FMI 3 array start values: one space-separated list
        return " ".join(_fmt(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _unit_definitions(spec: dict) -> list[str]:
    used = sorted({"s"} | {v["unit"] for v in spec["variable"] if v.get("unit")})
    lines = ["  <UnitDefinitions>"]
    for name in used:
        exponents, factor, offset = UNITS[name]
        attrs = " ".join(f'{k}="{exponents[k]}"' for k in BASE_UNIT_ORDER if k in exponents)
        if factor != 1.0:
            attrs += f' factor="{factor!r}"'
        if offset != 0.0:
            attrs += f' offset="{offset!r}"'
        lines.append(f'    <Unit name={quoteattr(name)}><BaseUnit {attrs}/></Unit>')
    lines.append("  </UnitDefinitions>")
    return lines


def _initial(var: dict) -> str | None:
    if var["causality"] in ("parameter", "structuralParameter", "input"):
        return "exact"
    if var["causality"] == "output":
        return "calculated"
    return var.get("initial", "calculated")


def _common_attrs(var: dict, *, initial: bool = True) -> str:
    attrs = f'name={quoteattr(var["name"])} valueReference="{var["vr"]}"'
    attrs += f' description={quoteattr(var["description"])}'
    attrs += f' causality="{var["causality"]}" variability="{var["variability"]}"'
    initial = _initial(var) if initial else None
    if initial and var["causality"] != "input":
        attrs += f' initial="{initial}"'
    return attrs


def _clock_attrs(var: dict) -> str:
    attrs = f'intervalVariability="{var["interval_variability"]}"'
    if "interval" in var:
        attrs += f' intervalDecimal="{_fmt(float(var["interval"]))}"'
    if "shift" in var:
        attrs += f' shiftDecimal="{_fmt(float(var["shift"]))}"'
    return attrs


def _clocked(spec: dict, var: dict) -> str:
    """The clocks attribute of a clocked variable: its clocks' value references."""
    if not var.get("clocks"):
        return ""
    vrs = {v["name"]: v["vr"] for v in spec["variable"]}
    return f' clocks="{" ".join(str(vrs[c]) for c in var["clocks"])}"'


def _type_attrs(var: dict) -> str:
    attrs = []
    for key in ("unit", "min", "max", "nominal"):
        if key in var:
            attrs.append(f"{key}={quoteattr(_fmt(var[key]))}")
    if "start" in var:
        attrs.append(f"start={quoteattr(_fmt(var['start']))}")
    return " ".join(attrs)


def _described(spec: dict) -> list[dict]:
    """The variables as modelDescription.xml declares them: the spec's, with the
    description_* quirks applied (the binary keeps the spec's own)."""
    quirks = spec["quirks"]
    described = []
    for var in spec["variable"]:
        name = var["name"]
        var = dict(var)
        var["name"] = quirks.get("description_names", {}).get(name, name)
        var["variability"] = quirks.get("description_variability", {}).get(name, var["variability"])
        if name in quirks.get("description_interval_variability", {}):
            var["interval_variability"] = quirks["description_interval_variability"][name]
        if name in quirks.get("description_start", {}):
            var["start"] = quirks["description_start"][name]
        described.append(var)
    return described


def _model_identifier(spec: dict) -> str:
    return spec["quirks"].get("model_identifier", spec["name"])


def _header(spec: dict, version: str) -> list[str]:
    token = "guid" if version == "2.0" else "instantiationToken"
    indicators = ""
    if spec["model_exchange"] and version == "2.0":
        indicators = f' numberOfEventIndicators="{spec["event_indicators"]}"'
    return ['<?xml version="1.0" encoding="UTF-8"?>',
            f'<fmiModelDescription fmiVersion="{version}" modelName={quoteattr(spec["name"])} '
            f'{token}="{spec["guid"]}" description={quoteattr(spec["description"])} '
            f'author="cosim" version={quoteattr(spec.get("version", "1.0"))} '
            f'generationTool="cosim fmus/build_fmus.py" variableNamingConvention="flat"'
            f'{indicators}>']


def _tail(spec: dict) -> list[str]:
    lines = ["  <LogCategories>",
             '    <Category name="logStatusError" description="Errors"/>',
             '    <Category name="logStatusWarning" description="Warnings"/>',
             '    <Category name="logEvents" description="Initialization and mode changes"/>',
             "  </LogCategories>"]
    exp = spec.get("default_experiment", {})
    if exp:
        attrs = " ".join(f'{key}="{_fmt(float(exp[name]))}"' for name, key in
                         (("start_time", "startTime"), ("stop_time", "stopTime"),
                          ("tolerance", "tolerance"), ("step_size", "stepSize")) if name in exp)
        lines.append(f"  <DefaultExperiment {attrs}/>")
    return lines


def _derivative_order(spec: dict) -> int:
    return 1 if spec["provides_output_derivatives"] else 0


def model_description_fmi2(spec: dict, interfaces=(CO_SIMULATION,)) -> str:
    """The FMI 2.0 modelDescription.xml of a spec, for co-simulation and/or model exchange."""
    if MODEL_EXCHANGE in interfaces and not spec["model_exchange"]:
        raise SpecError(f"{spec['name']}: model exchange needs model_exchange = true in model.toml")
    lines = _header(spec, "2.0")
    if MODEL_EXCHANGE in interfaces:
        lines.append(f'  <ModelExchange modelIdentifier={quoteattr(_model_identifier(spec))} '
                     'canGetAndSetFMUstate="true" canSerializeFMUstate="true" '
                     'canNotUseMemoryManagementFunctions="true" '
                     'completedIntegratorStepNotNeeded="false"/>')
    if CO_SIMULATION in interfaces:
        lines.append(f'  <CoSimulation modelIdentifier={quoteattr(_model_identifier(spec))} '
                     'canHandleVariableCommunicationStepSize="true" canGetAndSetFMUstate="true" '
                     'canSerializeFMUstate="true" canNotUseMemoryManagementFunctions="true" '
                     f'canInterpolateInputs="{_fmt(bool(spec.get("can_interpolate_inputs")))}" '
                     f'maxOutputDerivativeOrder="{_derivative_order(spec)}"/>')
    lines += _unit_definitions(spec)
    lines += _tail(spec)
    # FMI 2.0 makes the independent variable optional; it is left out because
    # some importers (FMI Library) demand a start value for it.
    lines.append("  <ModelVariables>")
    index = {var["name"]: i for i, var in enumerate(spec["variable"], start=1)}
    derivative_of = {d["name"]: index[x["name"]] for x, d in spec.get("states", ())}
    for var, shown in zip(spec["variable"], _described(spec)):
        attrs = _type_attrs(shown)
        if var["name"] in derivative_of:
            attrs += f' derivative="{derivative_of[var["name"]]}"'
        lines.append(f'    <ScalarVariable {_common_attrs(shown)}>'
                     f'<{shown["type"]} {attrs}/></ScalarVariable>')
    lines.append("  </ModelVariables>")
    outputs = [v for v in spec["variable"] if v["causality"] == "output"]
    derivatives = [d for _, d in spec.get("states", ())]
    lines.append("  <ModelStructure>")
    if outputs:
        lines.append("    <Outputs>")
        for var in outputs:
            deps = " ".join(str(index[d]) for d in var["depends"])
            lines.append(f'      <Unknown index="{index[var["name"]]}" dependencies="{deps}"/>')
        lines.append("    </Outputs>")
    if derivatives:
        lines.append("    <Derivatives>")
        for var in sorted(derivatives, key=lambda v: index[v["name"]]):
            lines.append(f'      <Unknown index="{index[var["name"]]}"/>')
        lines.append("    </Derivatives>")
    initial = {v["name"]: v for v in outputs + derivatives}
    initial.update({x["name"]: x for x, _ in spec.get("states", ()) if _initial(x) == "calculated"})
    if initial:
        lines.append("    <InitialUnknowns>")
        for name in sorted(initial, key=index.get):
            lines.append(f'      <Unknown index="{index[name]}"/>')
        lines.append("    </InitialUnknowns>")
    lines.append("  </ModelStructure>")
    lines.append("</fmiModelDescription>")
    return "\n".join(lines) + "\n"


def model_description_fmi3(spec: dict) -> str:
    """The FMI 3.0 co-simulation modelDescription.xml of a spec."""
    lines = _header(spec, "3.0")
    lines.append(f'  <CoSimulation modelIdentifier={quoteattr(_model_identifier(spec))} '
                 'canHandleVariableCommunicationStepSize="true" canGetAndSetFMUState="true" '
                 'canSerializeFMUState="true" providesIntermediateUpdate="false" '
                 f'mightReturnEarlyFromDoStep="{_fmt(spec["might_return_early"])}" '
                 'canReturnEarlyAfterIntermediateUpdate="false" '
                 f'hasEventMode="{_fmt(spec["has_event_mode"])}" '
                 f'maxOutputDerivativeOrder="{_derivative_order(spec)}"/>')
    lines += _unit_definitions(spec)
    lines += _tail(spec)
    lines.append("  <ModelVariables>")
    lines.append('    <Float64 name="time" valueReference="0" causality="independent" '
                 'variability="continuous" description="Simulation time" unit="s"/>')
    for var in _described(spec):
        tag = TYPES[var["type"]][1]
        if var["type"] in ("String", "Binary"):
            # FMI 3 gives String and Binary start values as child elements.
            body = f'<Start value={quoteattr(var["start"])}/>' if "start" in var else ""
            lines.append(f'    <{tag} {_common_attrs(var)}>{body}</{tag}>')
        elif "dimensions" in var:
            if "start" in var and not isinstance(var["start"], list):
                var = {**var, "start": [var["start"]] * var["count"]}    # FMI 3 lists every element
            body = "".join(f'<Dimension start="{d}"/>' for d in var["dimensions"])
            lines.append(f'    <{tag} {_common_attrs(var)} {_type_attrs(var)}>{body}</{tag}>')
        elif var["type"] == "Clock":
            lines.append(f'    <Clock {_common_attrs(var, initial=False)} {_clock_attrs(var)}/>')
        else:
            lines.append(f'    <{tag} {_common_attrs(var)} {_type_attrs(var)}{_clocked(spec, var)}/>')
    lines.append("  </ModelVariables>")
    by_name = {v["name"]: v for v in spec["variable"]}
    outputs = [v for v in spec["variable"] if v["causality"] == "output"]
    lines.append("  <ModelStructure>")
    for var in outputs:
        deps = " ".join(str(by_name[d]["vr"]) for d in var["depends"])
        lines.append(f'    <Output valueReference="{var["vr"]}" dependencies="{deps}"/>')
    for var in outputs:
        if var["type"] != "Clock" and not var.get("clocks"):
            lines.append(f'    <InitialUnknown valueReference="{var["vr"]}"/>')
    lines.append("  </ModelStructure>")
    lines.append("</fmiModelDescription>")
    return "\n".join(lines) + "\n"


FMI1_TYPE_ATTRIBUTES = {"Real": ("unit", "min", "max", "nominal", "start"),
                        "Integer": ("min", "max", "start"), "Boolean": ("start",),
                        "String": ("start",)}


def _fmi1_variability_causality(var: dict) -> tuple[str, str]:
    # FMI 1.0 has neither a parameter causality nor tunable parameters: a
    # parameter is an internal variable of variability "parameter", settable
    # before fmiInitializeSlave only.  Other fixed or tunable variables are
    # calculated from parameters; "discrete" keeps importers from setting them.
    if var["causality"] == "parameter":
        return "parameter", "internal"
    causality = "internal" if var["causality"] == "local" else var["causality"]
    variability = "discrete" if var["variability"] in ("fixed", "tunable") else var["variability"]
    return variability, causality


def model_description_fmi1(spec: dict) -> str:
    """The FMI 1.0 co-simulation (stand-alone) modelDescription.xml of a spec.

    Outputs list the inputs they feed through from in ``DirectDependency``
    (an empty element when they depend on none).
    """
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             f'<fmiModelDescription fmiVersion="1.0" modelName={quoteattr(spec["name"])} '
             f'modelIdentifier={quoteattr(_model_identifier(spec))} guid="{spec["guid"]}" '
             f'description={quoteattr(spec["description"])} author="cosim" '
             f'version={quoteattr(spec.get("version", "1.0"))} '
             'generationTool="cosim fmus/build_fmus.py" variableNamingConvention="flat" '
             'numberOfContinuousStates="0" numberOfEventIndicators="0">']
    exp = spec.get("default_experiment", {})
    # FMI 1.0 has no default step size.
    attrs = " ".join(f'{key}="{_fmt(float(exp[name]))}"' for name, key in
                     (("start_time", "startTime"), ("stop_time", "stopTime"),
                      ("tolerance", "tolerance")) if name in exp)
    if attrs:
        lines.append(f"  <DefaultExperiment {attrs}/>")
    lines.append("  <ModelVariables>")
    for var in _described(spec):
        variability, causality = _fmi1_variability_causality(var)
        attrs = (f'name={quoteattr(var["name"])} valueReference="{var["vr"]}" '
                 f'description={quoteattr(var["description"])} variability="{variability}" '
                 f'causality="{causality}"')
        type_attrs = " ".join(f"{key}={quoteattr(_fmt(var[key]))}"
                              for key in FMI1_TYPE_ATTRIBUTES[var["type"]] if key in var)
        body = f'<{var["type"]}{" " + type_attrs if type_attrs else ""}/>'
        if var["causality"] == "output":
            names = "".join(f"<Name>{d}</Name>" for d in var["depends"])
            body += f"<DirectDependency>{names}</DirectDependency>"
        lines.append(f"    <ScalarVariable {attrs}>{body}</ScalarVariable>")
    lines.append("  </ModelVariables>")
    lines.append("  <Implementation>")
    lines.append("    <CoSimulation_StandAlone>")
    lines.append('      <Capabilities canHandleVariableCommunicationStepSize="true" '
                 'canHandleEvents="false" canRejectSteps="false" canInterpolateInputs="false" '
                 'maxOutputDerivativeOrder="0" canRunAsynchronuously="false" '
                 'canSignalEvents="false" canBeInstantiatedOnlyOncePerProcess="false" '
                 'canNotUseMemoryManagementFunctions="true"/>')
    lines.append("    </CoSimulation_StandAlone>")
    lines.append("  </Implementation>")
    lines.append("</fmiModelDescription>")
    return "\n".join(lines) + "\n"


MODEL_DESCRIPTIONS = {"1.0": model_description_fmi1, "2.0": model_description_fmi2,
                      "3.0": model_description_fmi3}


def fmi_include_dir() -> Path:
    """Folder holding the FMI C headers (shipped with fmpy)."""
    import fmpy
    return Path(fmpy.__file__).resolve().parent / "c-code"


def compile_binary(model_dir: Path, spec: dict, version: str, workdir: Path,
                   interfaces=(CO_SIMULATION,)) -> Path:
    """Compile the model and the FMI glue for ``interfaces`` into one shared library."""
    gen = workdir / "gen"
    gen.mkdir(parents=True, exist_ok=True)
    header, table = generate_c(spec)
    (gen / "model_vars.h").write_text(header)
    (gen / "model_vars.c").write_text(table)
    out = workdir / f"{spec['name']}.so"
    glue = [COMMON / GLUE[version]]
    defines = []
    if version == "2.0":
        defines = [f"-DCOSIM_FMI2_{'CS' if i == CO_SIMULATION else 'ME'}" for i in interfaces]
        if MODEL_EXCHANGE in interfaces:
            glue.append(COMMON / "fmi2_me.c")
    elif MODEL_EXCHANGE in interfaces:
        raise SpecError(f"{spec['name']}: model exchange FMUs are built for FMI 2.0 only")
    if spec["model_exchange"]:
        glue.append(COMMON / "hybrid.c")
    source_dir = spec["source_dir"]      # the base's folder for a variant
    sources = [*glue, COMMON / "instance.c", COMMON / "support.c", source_dir / "model.c",
               gen / "model_vars.c"]
    cc = shlex.split(os.environ.get("CC", "gcc"))
    flags = ["-std=gnu11", "-O2", "-fPIC", "-shared", "-fvisibility=hidden",
             "-Wall", "-Wextra", "-Werror=implicit-function-declaration"]
    includes = [f"-I{p}" for p in (gen, source_dir, COMMON, fmi_include_dir())]
    if version == "1.0":
        # FMI 1.0 function names carry the model identifier as a prefix.
        flags.append(f"-DMODEL_IDENTIFIER={spec['name']}")
    hidden = [f for f in (_fmi_function(version, name, spec["name"])
                          for name in spec["quirks"].get("hide_functions", [])) if f]
    if hidden:
        script = workdir / "hidden.map"
        script.write_text("{ local: " + " ".join(f"{f};" for f in hidden) + " };\n")
        flags.append(f"-Wl,--version-script={script}")
    cmd = [*cc, *flags, *defines, *includes, *map(str, sources), "-o", str(out), "-lm"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"compiling {model_dir.name} for FMI {version} ({', '.join(interfaces)}) "
                           "failed:\n"
                           f"{' '.join(cmd)}\n{result.stderr}")
    return out


def build_fmu(model_dir: Path, version: str, out_path: Path, *,
              interfaces=(CO_SIMULATION,)) -> Path:
    """Build one FMU archive (FMI ``version`` "1.0", "2.0" or "3.0") at ``out_path``.

    ``interfaces`` holds "co-simulation" and/or "model-exchange" (FMI 2.0 and
    hybrid models only); the FMU offers each of them from one binary.  FMI 1.0
    builds are co-simulation stand-alone FMUs.
    """
    if version not in MODEL_DESCRIPTIONS:
        raise SpecError(f"FMI version must be one of {sorted(MODEL_DESCRIPTIONS)}, got {version!r}")
    model_dir = Path(model_dir).resolve()
    out_path = Path(out_path)
    spec = load_spec(model_dir)
    if version not in spec["fmi_versions"]:
        raise SpecError(f"{spec['name']}: model.toml builds FMI {', '.join(spec['fmi_versions'])} "
                        f"only, not {version}")
    interfaces = tuple(interfaces)
    if not interfaces or set(interfaces) - {CO_SIMULATION, MODEL_EXCHANGE}:
        raise SpecError(f"interfaces must be {CO_SIMULATION!r} and/or {MODEL_EXCHANGE!r}, "
                        f"got {interfaces!r}")
    xml = (model_description_fmi2(spec, interfaces) if version == "2.0"
           else MODEL_DESCRIPTIONS[version](spec))
    with tempfile.TemporaryDirectory(prefix=f"fmu-{spec['name']}-") as tmp:
        binary = compile_binary(model_dir, spec, version, Path(tmp), interfaces)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        partial = out_path.with_suffix(".fmu.part")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("modelDescription.xml", xml)
            zf.write(binary, f"binaries/{PLATFORM[version]}/{spec['name']}.so")
            readme = model_dir.parent / "README.md"
            if readme.is_file():
                zf.write(readme, "documentation/README.md")
        os.replace(partial, out_path)
    return out_path


def build_all(out_root: Path, model_dirs=None, *, versions=("2.0", "3.0")) -> list[Path]:
    """Build co-simulation FMUs of every model for each of ``versions`` into
    ``out_root/fmi1``, ``fmi2`` and ``fmi3`` (by default FMI 2.0 and 3.0 only),
    and with FMI 2.0 the model exchange FMUs of hybrid models into ``fmi2me``.
    A model is built only for the versions its ``fmi_versions`` lists."""
    out_root = Path(out_root)
    model_dirs = [Path(d) for d in model_dirs] if model_dirs else [HERE / m for m in MODELS]
    unknown = [v for v in versions if v not in FOLDERS]
    if unknown:
        raise SpecError(f"FMI versions must be among {sorted(FOLDERS)}, got {unknown}")
    built = []
    for model_dir in model_dirs:
        spec = load_spec(model_dir)
        name = spec["name"]
        for version in versions:
            if version in spec["fmi_versions"]:
                built.append(build_fmu(model_dir, version,
                                       out_root / FOLDERS[version] / f"{name}.fmu"))
        if spec["model_exchange"] and "2.0" in versions and "2.0" in spec["fmi_versions"]:
            built.append(build_fmu(model_dir, "2.0", out_root / ME_FOLDER / f"{name}.fmu",
                                   interfaces=(MODEL_EXCHANGE,)))
    return built


def main(argv: list[str]) -> None:
    import argparse
    parser = argparse.ArgumentParser(
        description="Build the component twins (or the given model folders) into FMUs.",
        epilog="Writes OUTDIR/fmi2/<name>.fmu and OUTDIR/fmi3/<name>.fmu, and for hybrid "
               "models OUTDIR/fmi2me/<name>.fmu.")
    parser.add_argument("outdir", type=Path, help="folder the FMUs are written to")
    parser.add_argument("models", nargs="*", help="model folders (default: every twin in fmus/)")
    args = parser.parse_args(argv)
    for path in build_all(args.outdir, args.models or None):
        print(path)
    shutil.rmtree(HERE / "__pycache__", ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
