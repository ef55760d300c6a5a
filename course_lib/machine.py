"""The machine a measurement ran on: its processor, cores and load."""

from __future__ import annotations

import os
import platform

__all__ = ["cpu_model", "describe", "load_average"]


def cpu_model() -> str:
    """The processor's name (``/proc/cpuinfo``'s model name where there is
    one)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (empty where the OS has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return []


def describe() -> str:
    """One line for a page beside its timings: processor, cores, load."""
    line = f"measured on {cpu_model()}, {os.cpu_count()} CPU cores"
    load = load_average()
    return line + (f", load average {load[0]:.1f}" if load else "")
