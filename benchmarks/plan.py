"""Systems measured by the benchmarks, exported as runner-neutral JSON plans.

A plan lists the FMUs, every start value to set, the connections, the
Gauss-Seidel order and the variables whose final values the runners report,
so that cosim, the bare C loop, libcosim and fmpy run exactly the same
system and can be checked against each other.

    {"name": ..., "step_size": s,
     "components": [{"name", "fmu", "fmi_version", "model_identifier", "token",
                     "start_values": [{"name", "vr", "type", "value"}]}],
     "connections": [{"source", "source_vr", "target", "target_vr", "type", "from", "to"}],
     "order": [component index, ...],
     "report": [{"component", "vr", "name"}]}
"""

from __future__ import annotations

import json
import runpy
from pathlib import Path

from cosim import System, execution_order, twins

ROOT = Path(__file__).resolve().parents[1]


def gain_chain(n: int, fmi_version: str = "2.0") -> System:
    """n gains, each output feeding the next input (y = u + 1e-6)."""
    system = System(f"chain{n}")
    path = twins.path("gain", fmi_version)
    for i in range(n):
        system.add(f"g{i}", path, parameters={"k": 1.0, "b": 1e-6})
        if i:
            system.connect(f"g{i - 1}.y", f"g{i}.u")
    return system


def line_twin() -> System:
    """The line twin of examples/line_twin."""
    return runpy.run_path(str(ROOT / "examples" / "line_twin" / "line_twin.py"),
                          run_name="benchmark")["build_line"]()


def export(system: System, report: list[str], *, step_size: float) -> dict:
    """The plan of ``system`` (see the module docstring)."""
    names = list(system.components)
    index = {name: i for i, name in enumerate(names)}
    components = []
    for name in names:
        model = system.model(name)
        user = system.parameters(name)
        starts = []
        for var in model.variables.values():
            if var.causality in ("parameter", "input") and var.variability != "constant":
                value = user.get(var.name, var.start)
                if value is not None and var.type in ("float64", "int32", "bool"):
                    starts.append({"name": var.name, "vr": var.value_reference, "type": var.type,
                                   "value": value})
        components.append({"name": name, "fmu": str(system.source(name)),
                           "fmi_version": model.fmi_version,
                           "model_identifier": model.model_identifier, "token": model.token,
                           "start_values": starts})
    connections = []
    for source, target in system.connections:
        (a, y), (b, u) = source.split(".", 1), target.split(".", 1)
        var = system.model(a).variables[y]
        connections.append({"source": index[a], "source_vr": var.value_reference,
                            "target": index[b], "target_vr": system.model(b).variables[u].value_reference,
                            "type": var.type, "from": source, "to": target})
    reported = []
    for item in report:
        c, v = item.split(".", 1)
        reported.append({"component": index[c], "vr": system.model(c).variables[v].value_reference,
                         "name": item})
    return {"name": system.name, "step_size": step_size, "components": components,
            "connections": connections, "order": [index[n] for n in execution_order(system)],
            "report": reported}


def write(plan: dict, path: Path) -> Path:
    path.write_text(json.dumps(plan, indent=1))
    return path
