"""Tests for the hardware description and the performance evidence that carries it."""

from __future__ import annotations

import getpass
import json
import os
import platform
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.linear_model import LogisticRegression

from mlgate import hardware
from mlgate.checks import model_quality as mq
from mlgate.checks.base import CheckInput

X86_CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz
cpu MHz\t\t: 2500.000

processor\t: 1
model name\t: Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz
"""
ARM_CPUINFO = """processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41

Hardware\t: BCM2835
Model\t\t: Raspberry Pi 4 Model B Rev 1.4
"""


def test_cpu_model_is_read_per_architecture():
    assert hardware.cpu_model(X86_CPUINFO) == "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz"
    assert hardware.cpu_model(ARM_CPUINFO) == "BCM2835"
    assert hardware.cpu_model("processor\t: 0\n") is None


def test_memory_total_is_read_in_bytes():
    meminfo = "MemTotal:       16318480 kB\nMemFree:         123 kB\n"
    assert hardware.memory_total_bytes(meminfo) == 16318480 * 1024
    assert hardware.memory_total_bytes("MemFree: 1 kB\n") is None


def test_environment_matches_this_machine():
    environment = hardware.describe_environment()

    assert environment["logical_cores"] == os.cpu_count()
    assert 1 <= environment["usable_cores"] <= os.cpu_count()
    assert environment["python"] == platform.python_version()
    assert environment["numpy"] == np.__version__
    assert environment["scikit-learn"] == sklearn.__version__
    assert environment["pandas"] == pd.__version__
    assert environment["os"].startswith(platform.system())

    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        line = next(x for x in meminfo.read_text().splitlines() if x.startswith("MemTotal:"))
        assert environment["memory_total_bytes"] == int(line.split()[1]) * 1024
    else:
        expected = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        assert environment["memory_total_bytes"] == expected

    cpuinfo = Path("/proc/cpuinfo")
    text = cpuinfo.read_text() if cpuinfo.is_file() else ""
    names = [x for x in text.splitlines() if x.startswith("model name")]
    if names:
        assert environment["cpu_model"] == names[0].split(":", 1)[1].strip()


def test_environment_holds_no_host_or_user_name():
    environment = hardware.describe_environment()
    text = json.dumps(environment).lower()

    assert not {"host", "hostname", "node", "user", "login"} & set(environment)
    for private in (socket.gethostname(), platform.node(), getpass.getuser()):
        assert private.lower() not in {str(v).lower() for v in environment.values()}
        if len(private) >= 4:
            assert private.lower() not in text


# --- the performance check carries it -------------------------------------------------------


def frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = (x[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(int)
    return pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "y": y})


def test_performance_reports_p95_both_batch_sizes_and_the_environment():
    data = frame(400)
    inp = CheckInput(data, "y", estimator_factory=LogisticRegression)

    result = mq.check_performance(inp, {"latency_calls": 40})

    m = result.metrics
    assert m["latency_p50_ms"] <= m["latency_p95_ms"] <= m["latency_p99_ms"]
    assert (m["batch_1k_rows"], m["batch_rows"]) == (1000, 400)
    assert m["throughput_1k_rows_per_second"] == pytest.approx(1000 / m["batch_1k_seconds"])
    assert m["throughput_rows_per_second"] == pytest.approx(400 / m["batch_seconds"])
    assert m["training_seconds"] > 0
    environment = hardware.describe_environment()
    assert {k: m[f"environment.{k}"] for k in environment} == environment
    assert result.tables["environment"] == [
        {"item": k, "value": v} for k, v in environment.items()
    ]
    timings = {row["measure"]: row for row in result.tables["timings"]}
    assert timings["single-row latency p95"]["value"] == m["latency_p95_ms"]
    assert timings["throughput, batch of 1000 rows"]["unit"] == "rows/s"
    assert "the data has 400 rows; the 1000-row batch repeats them" in (
        f.message for f in result.findings
    )
    assert "p50/p95/p99" in result.summary
    assert json.loads(json.dumps(result.to_dict()))["tables"]["environment"]


def test_performance_on_more_rows_than_the_fixed_batch_takes_the_first_1000():
    data = frame(1500)
    model = LogisticRegression().fit(data[["a", "b", "c"]], data["y"])

    result = mq.check_performance(CheckInput(data, "y", model=model), {"latency_calls": 10})

    assert (result.metrics["batch_1k_rows"], result.metrics["batch_rows"]) == (1000, 1500)
    assert not any("repeats them" in f.message for f in result.findings)
    assert result.metrics["training_seconds"] is None
    assert result.status == "pass"
