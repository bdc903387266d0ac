"""Run one FMU in cosim and in fmpy with the same step size and communication points.

``cosim_and_fmpy`` runs both importers in this process.  ``in_fresh_process``
runs them in a new interpreter: FMUs whose binary embeds Python (PythonFMU and
the tools built on it) share that process's ``sys.modules``, so an FMU that
bundles its own copy of a library would otherwise get whichever copy another
FMU or the test itself imported first.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import fmpy
import numpy as np

from cosim import System, simulate


def output_names(path: Path) -> list[str]:
    """Names of the output variables of an FMU, in model-description order."""
    return [v.name for v in fmpy.read_model_description(str(path)).modelVariables
            if v.causality == "output"]


def cosim_and_fmpy(path: Path, *, stop_time: float, step_size: float,
                   parameters: dict | None = None) -> tuple[dict, dict]:
    """Run ``path`` alone in cosim and in fmpy; return ({name: array}, {name: array})
    over ``time`` and every output, cosim's first."""
    names = output_names(path)
    system = System("single")
    system.add("fmu", path, parameters=parameters or {})
    result = simulate(system, stop_time=stop_time, step_size=step_size)
    ours = {"time": np.asarray(result.time)}
    ours.update({name: np.asarray(result[f"fmu.{name}"], dtype=float) for name in names})
    # fmpy unpacks only binaries/ and resources/ of an archive; UniFMU's backend
    # reads the modelDescription.xml beside them, so fmpy gets the whole FMU unpacked
    unpacked = fmpy.extract(str(path))
    try:
        reference = fmpy.simulate_fmu(unpacked, stop_time=stop_time, output_interval=step_size,
                                      start_values=parameters or {}, output=names)
    finally:
        shutil.rmtree(unpacked, ignore_errors=True)
    theirs = {name: np.asarray(reference[name], dtype=float) for name in ["time", *names]}
    return ours, theirs


def in_fresh_process(path: Path, **options) -> tuple[dict, dict]:
    """``cosim_and_fmpy`` in a new interpreter; its error, if any, is raised here
    as a RuntimeError carrying the exception's type and message."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "runs.npz"
        done = subprocess.run([sys.executable, __file__, str(path), json.dumps(options), str(out)],
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(done.stdout.strip() or done.stderr[-3000:])
        data = np.load(out)
        split = lambda prefix: {k[len(prefix):]: data[k] for k in data.files if k.startswith(prefix)}
        return split("cosim:"), split("fmpy:")


if __name__ == "__main__":
    fmu, options, target = Path(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
    try:
        ours, theirs = cosim_and_fmpy(fmu, **options)
    except Exception as error:  # reported to the parent, which raises it
        print(f"{type(error).__name__}: {error}")
        sys.exit(1)
    np.savez(target, **{f"cosim:{k}": v for k, v in ours.items()},
             **{f"fmpy:{k}": v for k, v in theirs.items()})
