"""`dg dev` for the soak, and the memory of its processes over time (Linux /proc)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
# How `dagster dev` may end on Ctrl-C: its own exit, the signal, or the shell's 128 + 2.
CLEAN_EXITS = (0, -signal.SIGINT, 130)
# In the log: a code location that did not load, the quick start's command deprecated.
LOG_MARKS = ("Error loading repository location", "DeprecationWarning", "SupersessionWarning")

ROLES = (
    ("webserver", ("dagster-webserver", "dagster_webserver")),
    ("daemon", ("dagster-daemon", "dagster_daemon", "_daemon run")),
    # Run workers: the code server starts them with multiprocessing's spawn.
    ("run worker", ("execute_run", "execute_step", "multiprocessing")),
    ("compute log tails", ("poll_compute_logs", "watch_orphans", "tail -F")),
    ("code server", ("grpc", "code-server", "code_server")),
)


def role_of(cmdline: str) -> str:
    """Which part of Dagster a process is, from its command line."""
    for role, marks in ROLES:
        if any(mark in cmdline for mark in marks):
            return role
    return "dagster dev"


def descendants(root: int) -> list[int]:
    """`root` and every process below it."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children[ppid].append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@dataclass
class MemoryTrace:
    """RSS per role (summed over its processes) sampled every `interval` seconds."""

    interval: float = 2.0
    samples: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    def peak(self, role: str) -> float:
        return max((mib for _, mib in self.samples.get(role, [])), default=0.0)

    def growth(self, role: str, warm_up_until: float) -> tuple[float, float]:
        """(peak in the first half after warm-up, peak in the second half) in MiB."""
        after = [(t, mib) for t, mib in self.samples.get(role, []) if t >= warm_up_until]
        if len(after) < 4:
            return 0.0, 0.0
        middle = after[len(after) // 2][0]
        first = max(mib for t, mib in after if t < middle)
        second = max(mib for t, mib in after if t >= middle)
        return first, second


class DagsterDev:
    """`dg dev -w workspace.yaml`, the quick start's command (the project and
    examples/), on 127.0.0.1 in its own process group, its log in a file, its memory
    sampled in a thread; stopped with Ctrl-C, as from a terminal."""

    def __init__(self, workdir: Path, env: dict[str, str], port: int) -> None:
        self.port = port
        self.log_path = workdir / "dagster-dev.log"
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "dg"),
                "dev",
                "-w",
                str(ROOT / "workspace.yaml"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            env=env,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # A soak started in the background (`cmd &` in a script) inherits SIGINT
            # ignored: without this, Ctrl-C would never reach `dagster dev`.
            preexec_fn=_default_sigint,
        )
        self.memory = MemoryTrace()
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, name="soak-rss", daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while not self._stop.wait(self.memory.interval):
            totals: dict[str, float] = defaultdict(float)
            for pid in descendants(self.process.pid):
                mib = rss_mib(pid)
                if mib is not None:
                    totals[role_of(cmdline(pid))] += mib
            now = time.monotonic() - self.started
            for role, mib in totals.items():
                self.memory.samples.setdefault(role, []).append((now, mib))

    def wait_until_serving(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dg dev exited early; see {self.log_path}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/server_info", timeout=2).is_success:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        raise RuntimeError(f"dg dev did not answer within {timeout:.0f} s; see {self.log_path}")

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        """Ctrl-C to the process group; SIGKILL after 90 s (then `problems` says so)."""
        self._stop.set()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self._log.close()

    def problems(self) -> list[str]:
        """What its log and its exit say went wrong: a code location that did not load, a
        deprecation warning of the quick start's command, an unclean stop."""
        log = self.log_path.read_text(errors="replace")
        found = [
            f"dg dev's log says {mark!r} ({self.log_path})" for mark in LOG_MARKS if mark in log
        ]
        code = self.process.returncode
        if code not in CLEAN_EXITS:
            found.append(f"dg dev did not stop cleanly on Ctrl-C (exit {code})")
        return found


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
