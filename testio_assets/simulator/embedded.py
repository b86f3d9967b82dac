"""The simulator that runs inside the process when no API token is configured."""

from __future__ import annotations

import logging
import threading

from pydantic import Field

from testio_assets.api.client import TestIOClient
from testio_assets.simulator.server import SimulatorServer

log = logging.getLogger("testio_assets")
_servers: dict[tuple[str, int], SimulatorServer] = {}
_lock = threading.Lock()


def embedded_simulator(profile: str = "demo", seed: int = 7) -> SimulatorServer:
    """The process-wide simulator for (profile, seed), started on first use."""
    with _lock:
        server = _servers.get((profile, seed))
        if server is None:
            server = SimulatorServer(profile, seed).start()
            _servers[(profile, seed)] = server
            log.warning(
                "No TESTIO_API_TOKEN set: using the built-in Test IO simulator "
                "(profile %s, seed %d) at %s",
                profile,
                seed,
                server.base_url,
            )
        return server


class SimulatedTestIOClient(TestIOClient):
    """The client, talking to the built-in simulator, started in-process on 127.0.0.1 the
    first time a session is opened (not when the definitions load)."""

    simulator_profile: str = Field(default="demo", description="simulator data set")
    simulator_seed: int = Field(default=7, description="simulator seed")

    def endpoint(self) -> tuple[str, str]:
        server = embedded_simulator(self.simulator_profile, self.simulator_seed)
        return server.base_url, server.token
