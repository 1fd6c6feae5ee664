"""Prometheus text-format metrics (no client library): counters, histograms and gauges.

Updated from the event loop and the planning thread, so every update takes a lock.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Callable

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class Histogram:
    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * len(buckets)
        self.total = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        for i, b in enumerate(self.buckets):
            if value <= b:
                self.counts[i] += 1
        self.total += 1
        self.sum += value

    def lines(self, name: str, labels: str = "") -> list[str]:
        sep = "," if labels else ""
        out = [f'{name}_bucket{{{labels}{sep}le="{_num(b)}"}} {c}' for b, c in zip(self.buckets, self.counts,
                                                                                   strict=True)]  # fmt: skip
        out.append(f'{name}_bucket{{{labels}{sep}le="+Inf"}} {self.total}')
        braces = f"{{{labels}}}" if labels else ""
        out += [f"{name}_sum{braces} {self.sum:.6g}", f"{name}_count{braces} {self.total}"]
        return out


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


class Metrics:
    """What ``GET /metrics`` reports; gauges are read at scrape time from callables."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency: dict[str, Histogram] = {}
        self.batch_rows = Histogram(BATCH_BUCKETS)  # rows per planner call
        self.batch_requests = Histogram(BATCH_BUCKETS)  # requests per worker round
        self.plan_seconds = Histogram(LATENCY_BUCKETS)
        self.rejected: dict[str, int] = defaultdict(int)
        self.gauges: dict[str, tuple[str, str, Callable[[], float]]] = {}

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(method, route, status)] += 1
            self.latency.setdefault(route, Histogram(LATENCY_BUCKETS)).observe(seconds)

    def batch(self, requests: int) -> None:
        with self._lock:
            self.batch_requests.observe(requests)

    def planned(self, rows: int, seconds: float) -> None:
        with self._lock:
            self.batch_rows.observe(rows)
            self.plan_seconds.observe(seconds)

    def reject(self, reason: str) -> None:
        with self._lock:
            self.rejected[reason] += 1

    def gauge(self, name: str, help_text: str, read: Callable[[], float], kind: str = "gauge") -> None:
        """A value read at scrape time (``kind="counter"`` for one that only grows)."""
        self.gauges[name] = (help_text, kind, read)

    def render(self) -> str:
        with self._lock:
            out = ["# HELP jepaworld_requests_total HTTP requests by method, route and status",
                   "# TYPE jepaworld_requests_total counter"]  # fmt: skip
            for (method, route, status), n in sorted(self.requests.items()):
                out.append(f'jepaworld_requests_total{{method="{method}",route="{route}",status="{status}"}} {n}')
            out += ["# HELP jepaworld_request_seconds request latency by route",
                    "# TYPE jepaworld_request_seconds histogram"]  # fmt: skip
            for route, h in sorted(self.latency.items()):
                out += h.lines("jepaworld_request_seconds", f'route="{route}"')
            for name, h, text in (
                ("jepaworld_batch_requests", self.batch_requests, "requests taken by one round of the planning thread"),
                ("jepaworld_batch_size", self.batch_rows, "rows (environments) planned in one planner call"),
                ("jepaworld_plan_seconds", self.plan_seconds, "seconds of one batched planner call"),
            ):
                out += [f"# HELP {name} {text}", f"# TYPE {name} histogram", *h.lines(name)]
            out += ["# HELP jepaworld_rejected_total requests refused before planning, by reason",
                    "# TYPE jepaworld_rejected_total counter"]  # fmt: skip
            for reason, n in sorted(self.rejected.items()):
                out.append(f'jepaworld_rejected_total{{reason="{reason}"}} {n}')
        for name, (text, kind, read) in sorted(self.gauges.items()):
            value = float(read())
            out += [f"# HELP {name} {text}", f"# TYPE {name} {kind}",
                    f"{name} {value if math.isfinite(value) else 0:.6g}"]  # fmt: skip
        return "\n".join(out) + "\n"
