"""Where in a command's run its memory peaks: run COMMAND, print its output with the RSS.

    .venv/bin/python -m tools.memory_timeline [--every 0.2] -- testio-assets sync ...

Each output line of COMMAND is printed after `[  rss / peak since the last line ]` in
MiB, read from /proc (VmRSS, VmHWM: the kernel's high-water mark, so no spike between
two samples is missed; it is reset after each line). A line `.. rss ..` is also printed
when RSS moved by 32 MiB or more between output lines, so quiet phases show up too. At
the end: the peak, and the heap (anonymous) and file-backed parts at that moment, each
descendant's own peak (the sync's parse worker) and the largest sampled sum of the tree.
Resetting the mark also resets what the process reports as its own peak (VmHWM).
Linux only. A diagnosis tool for docs/benchmarks.md ("Where the memory goes").
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path


def _status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM, RssAnon, RssFile in KiB."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            fields[name] = int(value.split()[0])
    if "VmHWM" not in fields:  # ended: a zombie has no memory left to read
        raise ProcessLookupError(pid)
    return fields


def _descendants(pid: int) -> list[int]:
    """The processes below `pid` (the sync's parse worker, say)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS


class Sampler:
    def __init__(self, pid: int, every: float) -> None:
        self.pid = pid
        self.every = every
        self.lock = threading.Lock()
        self.window_peak = 0
        self.last_printed = 0
        self.peak: dict[str, int] = {}
        self.tree_peak = 0  # KiB: the largest sampled sum of the process's and descendants' RSS
        self.child_peaks: dict[int, int] = {}  # descendant pid -> its own high-water mark
        self.stopped = threading.Event()

    def sample(self) -> dict[str, int] | None:
        try:
            now = _status(self.pid)
        except (FileNotFoundError, ProcessLookupError):
            return None
        below = {}
        for child in _descendants(self.pid):
            try:
                below[child] = _status(child)
            except (OSError, ProcessLookupError):
                pass
        with self.lock:
            self.window_peak = max(self.window_peak, now["VmHWM"])
            if now["VmHWM"] > self.peak.get("VmHWM", 0):
                self.peak = now
            tree = now["VmRSS"] + sum(child["VmRSS"] for child in below.values())
            self.tree_peak = max(self.tree_peak, tree)
            for child, status in below.items():
                self.child_peaks[child] = max(self.child_peaks.get(child, 0), status["VmHWM"])
        return now

    def line(self, text: str) -> None:
        now = self.sample()
        with self.lock:
            rss = now["VmRSS"] if now else 0
            print(f"[{rss / 1024:6.0f} / {self.window_peak / 1024:6.0f}] {text}", flush=True)
            self.window_peak, self.last_printed = rss, rss
        if now:
            try:
                _reset_peak(self.pid)
            except OSError:
                pass

    def watch(self) -> None:
        while not self.stopped.wait(self.every):
            now = self.sample()
            if now and abs(now["VmRSS"] - self.last_printed) >= 32 * 1024:
                self.line(".. rss ..")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=float, default=0.2, help="seconds between samples")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no COMMAND given")
    started = time.monotonic()
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ
    )
    sampler = Sampler(child.pid, args.every)
    threading.Thread(target=sampler.watch, daemon=True).start()
    assert child.stdout is not None
    for text in child.stdout:
        sampler.line(text.rstrip())
    sampler.stopped.set()
    code = child.wait()
    peak = sampler.peak
    children = ", ".join(f"{kib / 1024:.0f}" for kib in sampler.child_peaks.values()) or "none"
    print(
        f"exit {code} after {time.monotonic() - started:.0f} s; peak RSS "
        f"{peak.get('VmHWM', 0) / 1024:.0f} MiB (at its largest sample: heap "
        f"{peak.get('RssAnon', 0) / 1024:.0f} MiB, files {peak.get('RssFile', 0) / 1024:.0f} MiB); "
        f"descendants' peaks {children} MiB; the tree's largest sample "
        f"{sampler.tree_peak / 1024:.0f} MiB"
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
