"""The native core frees its memory safely however it is collected: also when
the garbage collector breaks a reference cycle through it (a failed run's
error kept with its traceback), which clears its Python attributes first."""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import gc, sys
    from cosim import System, Simulation, twins
    system = System("failing")
    system.add("src", twins.path("source"))
    system.add("bad", sys.argv[1], parameters={"crash_how": 0})   # refused in initialization
    system.connect("src.y", "bad.u")

    def attempt():
        try:
            Simulation(system, stop_time=1.0, step_size=0.1)
        except Exception as exc:       # the error, its traceback and its frames: a cycle
            return exc

    for _ in range(3):
        error = attempt()
        del error
        gc.collect()
    print("collected")
""")


def test_a_core_collected_in_a_cycle_frees_its_memory_safely(test_fmus):
    # Freed blocks of this size go back to the system at once, so that reading
    # one after it was freed crashes instead of passing unnoticed.
    env = {"MALLOC_MMAP_THRESHOLD_": "131072"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(test_fmus("crashing_gain"))],
                          capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, **env})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "collected"
