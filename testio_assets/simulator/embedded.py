"""The simulator that runs inside the process when it is asked for (`TESTIO_SIMULATOR=1`,
`testio-assets demo`)."""

from __future__ import annotations

import logging
import threading

from pydantic import Field

from testio_assets.api.client import TestIOClient
from testio_assets.settings import SettingsError
from testio_assets.simulator.profiles import PROFILES
from testio_assets.simulator.server import SimulatorServer

log = logging.getLogger("testio_assets")
_servers: dict[tuple[str, int], SimulatorServer] = {}
_lock = threading.Lock()


def check_profile(name: str) -> None:
    """Raises SettingsError naming the variable when `name` is not a profile."""
    if name not in PROFILES:
        raise SettingsError(
            f"TESTIO_SIMULATOR_PROFILE={name!r} is unknown: use one of {sorted(PROFILES)}"
        )


def embedded_simulator(profile: str = "demo", seed: int = 7) -> SimulatorServer:
    """The process-wide simulator for (profile, seed), started on first use."""
    with _lock:
        server = _servers.get((profile, seed))
        if server is None:
            server = SimulatorServer(profile, seed).start()
            _servers[(profile, seed)] = server
            log.warning(
                "TESTIO_SIMULATOR=1: syncing the built-in Test IO simulator's demo account "
                "(profile %s, seed %d) at %s, not a real account",
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
