"""Resident memory of cosim with a chain of N gain FMUs (run in a fresh process).

    python cosim_memory.py N

Prints one JSON line with VmRSS (kB, from /proc/self/status) after imports,
after building the System, and after starting it (every instance
instantiated and initialized) and taking 10 steps.
"""

import gc
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import plan


def rss_kb() -> int:
    gc.collect()
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def main():
    n = int(sys.argv[1])
    imported = rss_kb()
    system = plan.gain_chain(n)
    built = rss_kb()
    sim = system.start(step_size=1e-3, stop_time=1.0, algorithm="jacobi", threads=1,
                       record=[f"g{n - 1}.y"], output_interval=1.0)
    sim.step(10)
    started = rss_kb()
    sim.stop()
    print(json.dumps({"n": n, "imported_kb": imported, "built_kb": built, "started_kb": started}))


if __name__ == "__main__":
    main()
