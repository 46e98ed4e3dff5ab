"""The machine a measurement ran on: processor, cores, memory, operating system and software.

A latency or a training time means little without the hardware behind it: 80 ms on a laptop
and 80 ms on a server core are different findings. :func:`describe_environment` collects what a
reader of performance evidence needs to judge and repeat it, from ``/proc/cpuinfo`` and
``/proc/meminfo`` where Linux has them, ``os`` and ``platform`` elsewhere, with no extra
dependency.

It never collects the host name, a user name, an address or any other identifier of the machine
or of a person: the evidence is stored and shown in reports, and those would add nothing to it.
"""

from __future__ import annotations

import logging
import os
import platform
from importlib import metadata
from pathlib import Path

logger = logging.getLogger(__name__)

CPUINFO = Path("/proc/cpuinfo")
MEMINFO = Path("/proc/meminfo")
SOFTWARE = ("numpy", "scikit-learn", "pandas", "scipy")
# /proc/cpuinfo names the processor differently per architecture; the first key found wins.
CPU_KEYS = ("model name", "hardware", "processor", "cpu model", "cpu")


def describe_environment() -> dict[str, str | int | None]:
    """Return the hardware and software this process runs on, one plain value per key.

    Keys: ``cpu_model``, ``architecture``, ``logical_cores`` (all the machine has),
    ``usable_cores`` (those this process may use, which a container or ``taskset`` limits),
    ``memory_total_bytes``, ``os``, ``python``, ``python_implementation``, and the version of
    each package in :data:`SOFTWARE`. A value that cannot be found is ``None``.
    """
    environment: dict[str, str | int | None] = {
        "cpu_model": cpu_model(),
        "architecture": platform.machine() or None,
        "logical_cores": os.cpu_count(),
        "usable_cores": _usable_cores(),
        "memory_total_bytes": memory_total_bytes(),
        "os": f"{platform.system()} {platform.release()}".strip() or None,
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
    }
    for package in SOFTWARE:
        environment[package] = _version(package)
    logger.debug("environment: %s", environment)
    return environment


def cpu_model(cpuinfo: str | None = None) -> str | None:
    """Return the processor's model name, from ``cpuinfo`` text or the running machine."""
    text = _read(CPUINFO) if cpuinfo is None else cpuinfo
    fields: dict[str, str] = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition(":")
        key = key.strip().lower()
        if sep and value.strip() and key not in fields:
            fields[key] = value.strip()
    for key in CPU_KEYS:
        value = fields.get(key)
        if value and not value.isdigit():
            return value
    return (platform.processor() or None) if cpuinfo is None else None


def memory_total_bytes(meminfo: str | None = None) -> int | None:
    """Return the machine's total memory in bytes, from ``meminfo`` text or the machine."""
    text = _read(MEMINFO) if meminfo is None else meminfo
    for line in (text or "").splitlines():
        key, _, value = line.partition(":")
        parts = value.split()
        if key.strip() == "MemTotal" and parts and parts[0].isdigit():
            unit = parts[1].lower() if len(parts) > 1 else "b"
            return int(parts[0]) * {"kb": 1024, "mb": 1024**2, "gb": 1024**3}.get(unit, 1)
    if meminfo is not None:
        return None
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _usable_cores() -> int | None:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count()


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None
