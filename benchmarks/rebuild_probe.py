"""Rebuilds every projection from position zero, in this (child) process, and reports as JSON.

Run by the suite as ``python -m benchmarks.rebuild_probe`` with the ``RODEDRAAD_*`` variables of
the benchmark database, so its peak memory is its own. For each projection it prints the events
processed, the time, the rate and the peak resident memory while that projection was rebuilt
(sampled every 20 ms), then the same for plan state, timeline and deadlines together and for
all projections together: each in one pass over the log where the worker can
(``rebuild_many``), with this process's CPU per event and its share of the wall time, else all
one after the other. ``--one-pass-only`` skips the single ones, ``--core-only`` the pass of all
six; ``--processes N`` sets how many
processes a one pass splits its work over (PostgreSQL; 1: this process alone). The CPU per event
counts this process and its children (the shares of a split pass), the peak memory of the
largest child (sampled from ``/proc`` during each pass) is reported beside this process's.
"""

import json
import os
import resource
import sys
import threading
import time
from typing import Any

from benchmarks.processes import ChildrenPeak, memory_mib
from rodedraad.settings import Settings
from rodedraad.wiring import build_care_record, build_projection_worker

#: The projections of issue #22's target, rebuilt together in one pass (the others beside it).
CORE = ("plan_state", "timeline", "deadlines")
CORE_PHASE = "+".join(CORE)


class RssSampler(threading.Thread):
    """Samples this process's VmRSS; keeps the peak per phase."""

    def __init__(self, interval: float = 0.02) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.interval = interval
        self.phase = "start"
        self.peaks: dict[str, float] = {}
        self.samples: list[tuple[float, float]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            rss = memory_mib(os.getpid())["rss"]
            self.peaks[self.phase] = max(self.peaks.get(self.phase, 0.0), rss)
            self.samples.append((time.perf_counter(), rss))
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=2)


def _children_cpu() -> float:
    """CPU seconds of this process's ended children (user and system)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def main() -> int:
    pid = os.getpid()
    settings = Settings.from_env()
    care_record = build_care_record(settings)
    worker = build_projection_worker(settings, care_record)
    head = worker.head()
    if "--processes" in sys.argv:
        worker.rebuild_processes = int(sys.argv[sys.argv.index("--processes") + 1])
    sampler = RssSampler()
    sampler.start()
    time.sleep(0.05)
    before = memory_mib(pid)["rss"]
    found: dict[str, Any] = {"events": head, "rss_before_mib": before, "projections": {}}
    total = 0.0
    singles = [] if "--one-pass-only" in sys.argv else worker.projections
    for projection in singles:
        sampler.phase = projection.name
        started = time.perf_counter()
        worker.rebuild(projection.name)
        seconds = time.perf_counter() - started
        total += seconds
        found["projections"][projection.name] = {
            "seconds": round(seconds, 3),
            "events_per_second": round(head / seconds, 1) if seconds else 0.0,
            "peak_rss_mib": sampler.peaks.get(projection.name, 0.0),
        }
    rebuild_many = getattr(worker, "rebuild_many", None)
    if rebuild_many is not None:  # the first three, then all, each in one pass over the log
        core = [p.name for p in worker.projections if p.name in CORE]
        phases = [(CORE_PHASE, core), ("all", [p.name for p in worker.projections])]
        for phase, names in phases[:1] if "--core-only" in sys.argv else phases:
            sampler.phase = phase
            started, cpu_started = time.perf_counter(), time.process_time()
            children_started = _children_cpu()
            # (Sampled from /proc while the phase runs: ``getrusage``'s peak of the children
            # counts, for each, the parent's memory at the fork it was spawned from.)
            with ChildrenPeak(every=0.2) as children:
                rebuild_many(names)
            seconds = time.perf_counter() - started
            # (Less the sampler's own, a thread of this process.)
            own_cpu = time.process_time() - cpu_started - children.cpu_seconds
            children_cpu = _children_cpu() - children_started
            cpu = own_cpu + children_cpu
            found[phase] = {
                "seconds": round(seconds, 3),
                "events_per_second": round(head / seconds, 1) if seconds else 0.0,
                "peak_rss_mib": sampler.peaks.get(phase, 0.0),
                "method": "one pass",
                # This process's CPU (every thread): per event, and as a share of the wall
                # time (below 1: waiting on PostgreSQL, or on the shared cores).
                "cpu_us_per_event": round(cpu / head * 1e6, 1) if head else 0.0,
                "cpu_share": round(cpu / seconds, 2) if seconds else 0.0,
                "processes": 1 + (getattr(worker, "rebuild_processes", 1) if children_cpu else 0),
                "children_cpu_us_per_event": round(children_cpu / head * 1e6, 1) if head else 0.0,
                # The largest child's peak during this phase (0.0: no child).
                "children_peak_rss_mib": children.peak_mib,
                "load_average": [round(x, 2) for x in os.getloadavg()],
            }
        if "all" in found:
            found["all"]["peak_rss_mib"] = max(sampler.peaks.values())
    else:
        found["all"] = {
            "seconds": round(total, 3),
            "events_per_second": round(head / total, 1) if total else 0.0,
            "peak_rss_mib": max(sampler.peaks.values()),
            "method": "one after the other",
        }
    sampler.stop()
    found["peak_rss_mib"] = memory_mib(pid)["hwm"]
    worker.database.close()
    care_record.close()
    print(json.dumps(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
