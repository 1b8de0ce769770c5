"""Which search processes are alive on a study: each marks itself in the study every few seconds (a
heartbeat), so a worker may re-queue the trials of one that is gone, and never those of one that runs."""
from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any

import optuna

WORKER = "worker"  # trial user attribute: the search process (host:pid) that runs the trial


HEARTBEAT_S = 10.0  # how often a search process marks itself alive in the study


STALE_S = 60.0  # a search process silent this long is gone: its running trials can be re-queued


def worker_id() -> str:
    """This search process, as recorded with its trials: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def live_workers(study: optuna.Study) -> set[str]:
    """Search processes on this study with a fresh heartbeat (and, on this host, a live process)."""
    now, host, live = time.time(), socket.gethostname(), set()
    for key, beat in study.user_attrs.items():
        if not key.startswith("heartbeat:") or now - float(beat) > STALE_S:
            continue
        worker = key[len("heartbeat:"):]
        where, _, pid = worker.rpartition(":")
        if where != host or _pid_alive(int(pid)):
            live.add(worker)
    return live


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Heartbeat:
    """Context manager: while a search runs, a thread records its worker as alive in the study every
    HEARTBEAT_S seconds; on exit the record is cleared, so another worker may re-queue what it left."""

    def __init__(self, study: optuna.Study, worker: str):
        self.study, self.key = study, f"heartbeat:{worker}"
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="nas-heartbeat", daemon=True)

    def _beat(self) -> None:
        while not self.stop.wait(HEARTBEAT_S):
            try:
                self.study.set_user_attr(self.key, time.time())
            except Exception:  # a busy database: the next beat tries again
                pass

    def __enter__(self) -> "Heartbeat":
        self.study.set_user_attr(self.key, time.time())
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.thread.join()
        self.study.set_user_attr(self.key, 0.0)
