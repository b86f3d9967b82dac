"""Serving the simulator on loopback: in a background thread, or in the foreground (CLI)."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections import Counter

import uvicorn

from testio_assets.simulator.app import BASE_PATH, SimulatorApp
from testio_assets.simulator.data import SimulatedAccount
from testio_assets.simulator.faults import Fault, FaultPlan
from testio_assets.simulator.profiles import Profile

DEFAULT_TOKEN = "simulator-token"
TRUNCATED = "Response content shorter than Content-Length"


class _QuietTruncation(logging.Filter):
    """Uvicorn logs a traceback for every body the simulator cuts short on purpose (the
    `truncate` fault, a dropped connection): keep its log for real errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (isinstance(error, RuntimeError) and str(error) == TRUNCATED)


logging.getLogger("uvicorn.error").addFilter(_QuietTruncation())


class SimulatorServer:
    """A simulated Test IO API on 127.0.0.1.

    Use as a context manager (tests) or call `start()`/`stop()`. `account`, `faults` and
    `requests` are live: a test can advance time, arm faults and read request counts
    while the server runs.
    """

    def __init__(
        self,
        profile: Profile | str = "demo",
        seed: int = 7,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: float = 0.0,
        token: str = DEFAULT_TOKEN,
    ) -> None:
        self.account = SimulatedAccount(profile, seed)
        self.faults = FaultPlan()
        self.token = token
        self.app = SimulatorApp(self.account, token, latency_ms / 1000, self.faults)
        self.host = host
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Uvicorn writes headers and body separately; without TCP_NODELAY (inherited by
        # accepted sockets) Nagle + delayed ACK stall every response by ~40 ms.
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket.bind((host, port))
        self.port: int = self._socket.getsockname()[1]
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.app,
                lifespan="off",
                log_level="warning",
                access_log=False,
                timeout_keep_alive=30,
                backlog=2048,
            )
        )
        self._thread: threading.Thread | None = None
        self._clock: threading.Thread | None = None
        self._clock_stop = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}{BASE_PATH}"

    @property
    def requests(self) -> Counter[str]:
        return self.app.requests

    def arm(self, *faults: Fault) -> None:
        self.faults.add(*faults)

    def advance(self, steps: int = 1) -> None:
        """Move simulated time forward (thread-safe against requests being served)."""
        with self.app.lock:
            self.account.advance(steps)

    def start_clock(self, seconds_per_day: float) -> None:
        """Advance simulated time one day every `seconds_per_day` real seconds, in a
        background thread, until `stop_clock()` (the soak's fast clock)."""
        if seconds_per_day <= 0:
            raise ValueError(f"seconds_per_day must be positive, got {seconds_per_day}")
        self.stop_clock()
        self._clock_stop.clear()

        def tick() -> None:
            while not self._clock_stop.wait(seconds_per_day):
                self.advance(1)

        self._clock = threading.Thread(target=tick, name="testio-simulator-clock", daemon=True)
        self._clock.start()

    def stop_clock(self) -> None:
        """Stop the clock started by `start_clock()`; the account changes no more."""
        self._clock_stop.set()
        if self._clock is not None:
            self._clock.join(30)
            self._clock = None

    def add_product(self) -> int:
        with self.app.lock:
            return self.account.add_product().id

    def remove_product(self, product_id: int) -> None:
        with self.app.lock:
            self.account.remove_product(product_id)

    def start(self) -> SimulatorServer:
        started = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            task = loop.create_task(self._server.serve(sockets=[self._socket]))
            loop.call_soon(started.set)
            loop.run_until_complete(task)
            loop.close()

        self._thread = threading.Thread(target=run, name="testio-simulator", daemon=True)
        self._thread.start()
        started.wait(10)
        while not self._server.started and self._thread.is_alive():
            threading.Event().wait(0.01)
        return self

    def serve_forever(self) -> None:
        """Serve in the foreground until interrupted (the CLI's `simulator` command)."""
        asyncio.run(self._server.serve(sockets=[self._socket]))

    def stop(self) -> None:
        self.stop_clock()
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self._socket.close()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
