"""`cosim serve` under load: many clients stepping their own systems at once.

    python benchmarks/server_load.py [--clients 50] [--seconds 20] [--steps 10] [--json FILE]

One `cosim serve` process on 127.0.0.1 (with a token, default quotas but
``--max-systems`` sized to the clients).  Each of N client threads, with its
own channel, creates a system of one spindle twin (FMI 2.0, step 10 ms) from
SSP bytes, initializes it and calls Step (``--steps`` steps a call) until
the time is up, then terminates it.  Meanwhile:

- one StreamOutputs subscriber opens a stream on the first system and never
  reads it (the server must end it, not buffer without bound);
- one client sends garbage: random bytes as SSP, random ids and names, NaN
  times, and raw bytes on a bare TCP connection to the port;
- a probe calls ListSystems every 0.2 s (server calls never queue behind
  systems: its latency is reported apart).

Printed: steps/s over all systems, calls/s, p50/p99/max latency of Step
calls, ListSystems latency, status codes of the garbage calls, and the
server's resident memory (VmRSS) after start, at the peak of the run and
after every system was terminated.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import grpc
import numpy as np

from cosim import System, twins
from cosim.v1 import orchestrator_pb2 as pb
from cosim.v1 import orchestrator_pb2_grpc

TOKEN = "load-test-token"
METADATA = (("authorization", f"Bearer {TOKEN}"),)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_server(root: Path, clients: int, extra: list[str]) -> tuple[subprocess.Popen, str]:
    log = (root / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "cosim", "serve", "--root", str(root),
                             "--port", "0", "--token", TOKEN,
                             "--max-systems", str(clients + 4), *extra],
                            stdout=subprocess.PIPE, stderr=log, text=True)
    line = proc.stdout.readline()
    if " on grpc://" not in line:
        proc.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    return proc, line.split(" on grpc://", 1)[1].split()[0].rstrip(",")


def system_bytes(folder: Path) -> bytes:
    system = System("cell")
    system.add("spindle", twins.path("spindle"))
    system.save(folder / "cell.ssp")
    return (folder / "cell.ssp").read_bytes()


def stepping_client(target: str, ssp: bytes, steps: int, until: float, out: dict) -> None:
    """Create, initialize, step until ``until`` (monotonic), terminate; a
    client that cannot create its system says why in ``out["failed"]``."""
    try:
        _step_one_system(target, ssp, steps, until, out)
    except grpc.RpcError as error:
        out.setdefault("failed", []).append(f"{error.code().name}: {error.details()}")


def _step_one_system(target: str, ssp: bytes, steps: int, until: float, out: dict) -> None:
    latencies, codes = [], Counter()
    with grpc.insecure_channel(target) as channel:
        stub = orchestrator_pb2_grpc.OrchestratorStub(channel)
        system_id = stub.CreateSystem(pb.CreateSystemRequest(ssp=ssp), timeout=60,
                                      metadata=METADATA).system_id
        stub.Initialize(pb.InitializeSystemRequest(system_id=system_id, step_size=0.01),
                        timeout=60, metadata=METADATA)
        out.setdefault("ids", []).append(system_id)
        done = 0
        while time.monotonic() < until:
            began = time.perf_counter()
            try:
                stub.Step(pb.StepSystemRequest(system_id=system_id, steps=steps), timeout=30,
                          metadata=METADATA)
                done += steps
                codes["OK"] += 1
            except grpc.RpcError as error:
                codes[error.code().name] += 1
            latencies.append(time.perf_counter() - began)
        stub.Terminate(pb.SystemRequest(system_id=system_id), timeout=30, metadata=METADATA)
    out.setdefault("latencies", []).extend(latencies)
    out.setdefault("steps", []).append(done)
    out.setdefault("codes", Counter()).update(codes)


def garbage_client(target: str, host_port: tuple[str, int], until: float, out: Counter) -> None:
    """Random and malformed requests, and raw bytes on a TCP connection."""
    rng = random.Random(1)
    with grpc.insecure_channel(target) as channel:
        stub = orchestrator_pb2_grpc.OrchestratorStub(channel)
        calls = [
            lambda: stub.CreateSystem(pb.CreateSystemRequest(ssp=rng.randbytes(rng.randint(0, 4096))),
                                      timeout=5, metadata=METADATA),
            lambda: stub.CreateSystem(pb.CreateSystemRequest(path="../" * rng.randint(1, 5) + "etc/passwd"),
                                      timeout=5, metadata=METADATA),
            lambda: stub.Step(pb.StepSystemRequest(system_id=rng.randbytes(8).hex(),
                                                   steps=rng.randint(-2**62, 2**62)),
                              timeout=5, metadata=METADATA),
            lambda: stub.RunUntil(pb.RunUntilRequest(system_id="x", time=float("nan")),
                                  timeout=5, metadata=METADATA).next(),
            lambda: stub.ListSystems(pb.ListSystemsRequest(), timeout=5),      # no token
        ]
        while time.monotonic() < until:
            try:
                rng.choice(calls)()
                out["OK"] += 1
            except grpc.RpcError as error:
                out[error.code().name] += 1
            if rng.random() < 0.05:
                with socket.create_connection(host_port, timeout=5) as raw:
                    raw.sendall(rng.randbytes(512))
                out["raw TCP"] += 1
            time.sleep(0.01)


def silent_subscriber(target: str, out: dict, ready: threading.Event, until: float) -> None:
    """Open a StreamOutputs call on the first system and never read it."""
    while "ids" not in out:
        if time.monotonic() > until:        # no client created a system
            return
        time.sleep(0.05)
    channel = grpc.insecure_channel(target)
    stub = orchestrator_pb2_grpc.OrchestratorStub(channel)
    out["stalled"] = stub.StreamOutputs(pb.StreamOutputsRequest(system_id=out["ids"][0]),
                                        timeout=3600, metadata=METADATA)
    out["stalled_channel"] = channel
    ready.set()


def probe(target: str, until: float, out: list, pid: int, peak: list) -> None:
    with grpc.insecure_channel(target) as channel:
        stub = orchestrator_pb2_grpc.OrchestratorStub(channel)
        while time.monotonic() < until:
            began = time.perf_counter()
            stub.ListSystems(pb.ListSystemsRequest(), timeout=10, metadata=METADATA)
            out.append(time.perf_counter() - began)
            peak.append(rss_mb(pid))
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0, help="stepping time per client")
    parser.add_argument("--steps", type=int, default=10, help="steps per Step call")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--no-isolate", action="store_true",
                        help="serve with --no-isolate (FMUs in the server process)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="cosim-load-"))
    ssp = system_bytes(folder)
    proc, target = start_server(folder, args.clients, ["--no-isolate"] if args.no_isolate else [])
    host, port = target.rsplit(":", 1)
    try:
        time.sleep(0.5)
        rss_start = rss_mb(proc.pid)
        until = time.monotonic() + args.seconds
        results: dict = {}
        garbage: Counter = Counter()
        probes: list = []
        peak: list = []
        ready = threading.Event()
        threads = [threading.Thread(target=stepping_client,
                                    args=(target, ssp, args.steps, until, results))
                   for _ in range(args.clients)]
        threads += [threading.Thread(target=garbage_client,
                                     args=(target, (host, int(port)), until, garbage)),
                    threading.Thread(target=silent_subscriber, args=(target, results, ready, until)),
                    threading.Thread(target=probe, args=(target, until, probes, proc.pid, peak))]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - began
        time.sleep(1.0)
        rss_end = rss_mb(proc.pid)
        alive = proc.poll() is None
    except BaseException:
        if proc.poll() is not None:
            print(f"the server exited with status {proc.returncode}; its log:", file=sys.stderr)
            print((folder / "server.log").read_text()[-3000:], file=sys.stderr)
        raise
    finally:
        proc.terminate()
        proc.wait(10)
    if results.get("failed"):
        raise SystemExit(f"{len(results['failed'])} of {args.clients} clients could not create "
                         f"their system: {results['failed'][0]}")
    latencies = np.array(results.get("latencies", [0.0])) * 1e3
    steps = sum(results.get("steps", []))
    figures = {
        "clients": args.clients, "seconds": args.seconds, "steps_per_call": args.steps,
        "steps_per_s": steps / elapsed, "calls_per_s": len(latencies) / elapsed,
        "step_call_ms_p50": float(np.percentile(latencies, 50)),
        "step_call_ms_p99": float(np.percentile(latencies, 99)),
        "step_call_ms_max": float(latencies.max()),
        "list_systems_ms_p50": float(np.percentile(np.array(probes) * 1e3, 50)),
        "list_systems_ms_max": float(max(probes) * 1e3),
        "step_codes": dict(results.get("codes", {})), "garbage_codes": dict(garbage),
        "rss_mb_start": rss_start, "rss_mb_peak": max(peak, default=float("nan")),
        "rss_mb_after": rss_end, "server_alive": alive, "cpus": os.cpu_count(),
    }
    print(f"{args.clients} clients x {args.seconds:g} s, {args.steps} steps a call, FMUs "
          f"{'in the server process' if args.no_isolate else 'isolated'} ({os.cpu_count()} CPUs)")
    print(f"  throughput     {figures['steps_per_s']:,.0f} steps/s, "
          f"{figures['calls_per_s']:,.0f} Step calls/s")
    print(f"  Step latency   p50 {figures['step_call_ms_p50']:.1f} ms, "
          f"p99 {figures['step_call_ms_p99']:.1f} ms, max {figures['step_call_ms_max']:.1f} ms")
    print(f"  ListSystems    p50 {figures['list_systems_ms_p50']:.1f} ms, "
          f"max {figures['list_systems_ms_max']:.1f} ms (during the load)")
    print(f"  Step answers   {figures['step_codes']}")
    print(f"  garbage        {figures['garbage_codes']}")
    print(f"  server RSS     {rss_start:.0f} MB at start, {figures['rss_mb_peak']:.0f} MB peak, "
          f"{rss_end:.0f} MB after all systems were terminated; "
          f"{'still serving' if alive else 'DIED'}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
