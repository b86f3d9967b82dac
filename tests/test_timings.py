"""A process's peak memory is its own, whoever started it."""

from __future__ import annotations

import subprocess
import sys

from testio_assets.timings import own_peak_rss_mib

REPORT = (
    "import resource; from testio_assets.timings import own_peak_rss_mib; "
    "print(own_peak_rss_mib(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
)


def test_a_child_of_a_large_process_reports_its_own_peak() -> None:
    """The benchmark serves the simulator's account from its own memory and starts the
    sync as a child: the sync's figure must not include its parent's size."""
    ballast = bytearray(400 * 1024 * 1024)  # touched: zeroed pages count once written
    for offset in range(0, len(ballast), 4096):
        ballast[offset] = 1
    assert own_peak_rss_mib() > 400
    output = subprocess.run(
        [sys.executable, "-c", REPORT], capture_output=True, text=True, check=True
    ).stdout
    own, inherited = (float(value) for value in output.split())
    assert own < 200, own
    assert inherited > 400  # what `ru_maxrss` says in the child on Linux: the parent's size
    del ballast
