"""Serving the simulator on loopback: in a background thread, or in the foreground (CLI)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections import Counter

import uvicorn

from testio_assets.simulator.app import BASE_PATH, SimulatorApp
from testio_assets.simulator.data import SimulatedAccount
from testio_assets.simulator.faults import Fault, FaultPlan
from testio_assets.simulator.profiles import Profile

DEFAULT_TOKEN = "simulator-token"


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
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self._socket.close()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
