"""The REST server's counters, exported in the Prometheus text format.

Kept by hand rather than through a client library: a handful of counters and one histogram,
updated from the event loop only (so no locks), and rendered when ``/metrics`` is read. With
several workers each process keeps and exports its own numbers; a Prometheus scrape reaches
one worker at a time, so sum over the ``instance`` or scrape each worker's port.
"""

from __future__ import annotations

import bisect
import logging
from collections import Counter
from collections.abc import Callable

logger = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """Request counts by route and status, a latency histogram, rows scored, model switches."""

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, int]] = Counter()
        self.bucket_counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self.latency_sum = 0.0
        self.latency_count = 0
        self.rows_scored = 0
        self.switches = 0

    def observe(self, route: str, status: int, seconds: float, rows: int = 0) -> None:
        """Count one answered request of ``route`` and how long it took."""
        self.requests[(route, status)] += 1
        self.bucket_counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.latency_sum += seconds
        self.latency_count += 1
        self.rows_scored += rows

    def render(self, version: int, sha256: str, dropped: int) -> str:
        """Return every metric as Prometheus exposition text."""
        lines = _family(
            "mlgate_requests_total", "counter", "Scoring requests answered, by route and status."
        )
        for (route, status), count in sorted(self.requests.items()):
            lines.append(f'mlgate_requests_total{{route="{route}",status="{status}"}} {count}')

        lines += _family(
            "mlgate_request_duration_seconds",
            "histogram",
            "Time from reading a scoring request to its answer.",
        )
        cumulative = 0
        for bound, count in zip(LATENCY_BUCKETS, self.bucket_counts, strict=False):
            cumulative += count
            lines.append(f'mlgate_request_duration_seconds_bucket{{le="{bound}"}} {cumulative}')
        lines.append(f'mlgate_request_duration_seconds_bucket{{le="+Inf"}} {self.latency_count}')
        lines.append(f"mlgate_request_duration_seconds_sum {self.latency_sum:.6f}")
        lines.append(f"mlgate_request_duration_seconds_count {self.latency_count}")

        add = _adder(lines)
        add("mlgate_rows_scored_total", "counter", "Rows scored.", self.rows_scored)
        add(
            "mlgate_prediction_log_dropped_total",
            "counter",
            "Predictions the log could not keep up with and dropped.",
            dropped,
        )
        add(
            "mlgate_model_switches_total",
            "counter",
            "Hot switches to another model version.",
            self.switches,
        )
        lines += _family("mlgate_model_info", "gauge", "The model version being served.")
        lines.append(f'mlgate_model_info{{version="{version}",sha256="{sha256}"}} 1')
        return "\n".join(lines) + "\n"


def _family(name: str, kind: str, text: str) -> list[str]:
    return [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]


def _adder(lines: list[str]) -> Callable[[str, str, str, int], None]:
    def add(name: str, kind: str, text: str, value: int) -> None:
        lines.extend([*_family(name, kind, text), f"{name} {value}"])

    return add
