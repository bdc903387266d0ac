"""Isolated components: an FMU whose instances each run in a worker process.

The native proxy library (``proxy.c``, built as ``libcosimproxy.so``) exports
the FMI co-simulation functions and forwards every call over shared memory to
a worker process (``worker.c``, built as ``cosim-worker``) that holds the real
binary and one instance of it.  cosim's binding loads the proxy in place of
the FMU's binary (:class:`cosim.fmi._binding.Library` with ``isolation=``),
so the step loop is the same for isolated and in-process components.

A worker that crashes, aborts or exits, or a call that outlives the call
timeout, ends in a :class:`~cosim.errors.ComponentCrashedError`; the
simulating process and the other workers go on.  With
``on_crash="restart"`` the run instead starts the worker again
(``cosim_proxy_respawn``, :meth:`cosim.fmi._binding.Instance.respawn`) and
goes back to its last checkpoint (:mod:`cosim.execution.recovery`).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import threading
from pathlib import Path

from cosim.errors import ComponentCrashedError, ModelError

__all__ = ["PROXY", "WORKER", "crash_error", "interruptible", "isolation_of", "probe"]

HERE = Path(__file__).resolve().parent
PROXY = HERE / "libcosimproxy.so"
WORKER = HERE / "cosim-worker"

_VALUE_TYPES = {
    "1.0": ("Real", "Integer", "Boolean", "String"),
    "2.0": ("Real", "Integer", "Boolean", "String"),
    "3.0": ("Float64", "Float32", "Int8", "UInt8", "Int16", "UInt16", "Int32", "UInt32",
            "Int64", "UInt64", "Boolean", "String", "Binary"),
}
_FUNCTIONS = {
    "1.0": ("fmiInstantiateSlave", "fmiInitializeSlave", "fmiTerminateSlave",
            "fmiFreeSlaveInstance", "fmiDoStep", "fmiResetSlave", "fmiSetDebugLogging",
            "fmiGetRealStatus"),
    "2.0": ("fmi2Instantiate", "fmi2FreeInstance", "fmi2SetupExperiment",
            "fmi2EnterInitializationMode", "fmi2ExitInitializationMode", "fmi2Terminate",
            "fmi2DoStep", "fmi2Reset", "fmi2GetFMUstate", "fmi2SetFMUstate", "fmi2FreeFMUstate",
            "fmi2SerializedFMUstateSize", "fmi2SerializeFMUstate", "fmi2DeSerializeFMUstate",
            "fmi2SetDebugLogging", "fmi2SetRealInputDerivatives", "fmi2GetRealOutputDerivatives",
            "fmi2GetRealStatus", "fmi2GetBooleanStatus"),
    "3.0": ("fmi3InstantiateCoSimulation", "fmi3FreeInstance", "fmi3EnterInitializationMode",
            "fmi3ExitInitializationMode", "fmi3Terminate", "fmi3DoStep", "fmi3Reset",
            "fmi3GetFMUState", "fmi3SetFMUState", "fmi3FreeFMUState",
            "fmi3SerializedFMUStateSize", "fmi3SerializeFMUState", "fmi3DeserializeFMUState",
            "fmi3SetDebugLogging", "fmi3GetOutputDerivatives", "fmi3EnterEventMode",
            "fmi3EnterStepMode", "fmi3UpdateDiscreteStates", "fmi3GetClock", "fmi3SetClock",
            "fmi3GetIntervalDecimal", "fmi3GetShiftDecimal", "fmi3EnterConfigurationMode",
            "fmi3ExitConfigurationMode"),
}
# How long loading a binary in a probe may take before it counts as hung.
PROBE_TIMEOUT = 60.0


def _names(fmi_version: str) -> list[str]:
    base = "fmi" if fmi_version == "1.0" else f"fmi{fmi_version[0]}"
    values = [f"{base}{action}{t}" for t in _VALUE_TYPES[fmi_version] for action in ("Get", "Set")]
    return [*_FUNCTIONS[fmi_version], *values]


def _built() -> None:
    for path in (PROXY, WORKER):
        if not path.exists():
            raise ModelError(f"isolated components need {path}, which is built with cosim "
                             "(pip install -e . or python setup.py build_ext --inplace)")


def probe(binary, fmi_version: str, prefix: str = "", *, timeout: float | None = None) -> frozenset:
    """The FMI functions ``binary`` exports, found by loading it in a worker
    process (so that a binary that crashes while loading cannot take the
    caller down).  ``prefix`` is what FMI 1.0 names start with.

    Raises
    ------
    ModelError
        The binary cannot be loaded, or its worker died or hung while loading it.
    """
    _built()
    command = [str(WORKER), "--probe", str(binary), prefix, *_names(fmi_version)]
    try:
        done = subprocess.run(command, check=False, capture_output=True, text=True,
                              timeout=timeout or PROBE_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise ModelError(f"cannot load FMU binary {binary} in a worker process: loading it "
                         f"took longer than {timeout or PROBE_TIMEOUT:g} s") from None
    if done.returncode < 0:
        raise ModelError(f"cannot load FMU binary {binary}: loading it killed its worker "
                         f"process ({_signal_name(-done.returncode)})")
    if done.returncode != 0:
        raise ModelError(f"cannot load FMU binary {binary}: {done.stderr.strip()}")
    return frozenset(done.stdout.split())


def isolation_of(binary, fmi_version: str, prefix: str = "", *,
                 timeout: float | None = None) -> tuple:
    """The ``isolation`` argument of :class:`cosim.fmi._binding.Library` for ``binary``."""
    return (str(PROXY), str(WORKER), probe(binary, fmi_version, prefix, timeout=timeout))


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


# What cosim_proxy_fate answers.
_SIGNAL, _EXIT, _TIMEOUT, _CHANNEL, _INTERRUPTED = 1, 2, 3, 4, 5
# The exit status of a worker past its memory limit (worker.c).
EXIT_MEMORY = 86


def crash_error(kind: int, code: int, function: str, instance: str, fmu, timeout: float,
                time, lines: str) -> ComponentCrashedError:
    """The error for an isolated instance that can no longer be called, from
    what the proxy says about it (``kind`` and ``code`` of cosim_proxy_fate)."""
    log_lines = tuple(line for line in lines.splitlines() if line.strip())
    signal_name = exit_code = None
    if kind == _SIGNAL:
        signal_name = _signal_name(code)
        reason, detail = "crashed", f"its worker process was killed by {signal_name}"
    elif kind == _EXIT and code == EXIT_MEMORY:
        said = [line for line in log_lines if "memory_limit=" in line]
        log_lines = tuple(line for line in log_lines if line not in said)
        reason = "out of memory"
        detail = ("its worker process ended itself: " + said[-1].split("cosim-worker: ")[-1]
                  if said else "its worker process passed its memory_limit")
    elif kind == _EXIT:
        exit_code = code
        reason, detail = "exited", f"its worker process exited with status {code}"
    elif kind == _TIMEOUT:
        reason = "timed out"
        detail = (f"{function} did not return within call_timeout={timeout:g} s; its worker "
                  "process was killed")
    elif kind == _INTERRUPTED:
        reason = "interrupted"
        detail = (f"{function} had not returned when the run was interrupted; its worker "
                  "process was killed")
    else:
        why = os.strerror(code) if code else "the worker process is gone"
        reason, detail = "unreachable", f"its worker process could not be reached: {why}"
    return ComponentCrashedError(function, instance, time, fmu=str(fmu), reason=reason,
                                 detail=detail, signal=signal_name, exit_code=exit_code,
                                 log_lines=log_lines)


@contextlib.contextmanager
def interruptible():
    """While inside, SIGINT and SIGTERM also end an isolated component's call
    that does not return: its worker is killed, the call fails, and the
    signal's own handler (KeyboardInterrupt for SIGINT) runs as soon as the
    simulating thread is back in Python.

    Python runs signal handlers in the main thread between bytecodes, never
    while that thread waits in native code for a worker; here a thread woken
    by the signal (through :func:`signal.set_wakeup_fd`) tells the proxy to
    give up waiting.  Does nothing outside the main thread.
    """
    if threading.current_thread() is not threading.main_thread() or not PROXY.exists():
        yield
        return
    proxy = ctypes.CDLL(str(PROXY))         # the library the binding loaded: one flag
    read, write = os.pipe()
    os.set_blocking(write, False)
    previous = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    # SIGTERM's default ends the process at once: handled, it ends the run like SIGINT.
    terminate = signal.signal(signal.SIGTERM, _raise_interrupt) \
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL else None

    def watch():
        while True:
            got = os.read(read, 64)
            if not got or 0 in got:         # closed, or our own wake-up to stop
                return
            proxy.cosim_proxy_interrupt(1)

    watcher = threading.Thread(target=watch, name="cosim-interrupt", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous)
        if terminate is not None:
            signal.signal(signal.SIGTERM, terminate)
        os.write(write, b"\0")
        watcher.join()
        os.close(read)
        os.close(write)
        proxy.cosim_proxy_interrupt(0)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(signal.Signals(signum).name)
