"""What every experiment script shares: the machine description and a timestamped log line."""
from __future__ import annotations

import platform
import time


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (Linux), else platform.processor()."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def log(message: str) -> None:
    """Progress on stdout (long scripts run under nohup)."""
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)
