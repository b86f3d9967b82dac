"""A backfill launched the way the UI launches one (the webserver's GraphQL API), which
the daemon then runs: the soak's fourth scripted event."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx

LAUNCH = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}"""

STATUS = """
query($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    ... on PartitionBackfill { status runs: runs(limit: 10) { runId status tags { key value } } }
  }
}"""

RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
UNFINISHED = ("REQUESTED", "CANCELING", "FAILING")


def graphql(port: int, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    answer = httpx.post(
        f"http://127.0.0.1:{port}/graphql",
        json={"query": query, "variables": variables},
        timeout=30,
    )
    answer.raise_for_status()
    body = answer.json()
    if "errors" in body:
        raise RuntimeError(f"GraphQL errors: {body['errors']}")
    return body["data"]


@dataclass
class UiBackfill:
    """One backfill of `tests` and `bugs` over consecutive product partitions (one run
    under the single-run backfill policy). `status` and `runs` are read by `finish`."""

    partitions: list[str]
    backfill_id: str = ""
    status: str = "NOT LAUNCHED"
    runs: list[dict[str, str]] = field(default_factory=list)

    def launch(self, port: int) -> None:
        params = {
            "partitionNames": self.partitions,
            "assetSelection": [{"path": ["tests"]}, {"path": ["bugs"]}],
        }
        launched = graphql(port, LAUNCH, {"params": params})["launchPartitionBackfill"]
        if launched["__typename"] != "LaunchBackfillSuccess":
            self.status = f"not launched: {launched.get('message', launched['__typename'])}"
            return
        self.backfill_id = launched["backfillId"]
        self.status = "REQUESTED"

    def finish(self, port: int, timeout: float) -> None:
        """Wait up to `timeout` seconds for the daemon to finish it."""
        if not self.backfill_id:
            return
        deadline = time.monotonic() + timeout
        while True:
            found = graphql(port, STATUS, {"id": self.backfill_id})["partitionBackfillOrError"]
            self.status = found["status"]
            self.runs = [
                {"status": run["status"]} | {t["key"]: t["value"] for t in run["tags"]}
                for run in found["runs"]
            ]
            if self.status not in UNFINISHED or time.monotonic() >= deadline:
                return
            time.sleep(2)

    def problems(self) -> list[str]:
        """Why it is not what the UI promises: completed, in one run over its range."""
        if self.status != "COMPLETED_SUCCESS":
            return [f"the UI's backfill of {self.label} ended {self.status}"]
        ranges = [tuple(run.get(tag) for tag in RANGE_TAGS) for run in self.runs]
        if ranges != [(self.partitions[0], self.partitions[-1])]:
            return [f"the UI's backfill of {self.label} made runs over {ranges}, not one"]
        return []

    @property
    def label(self) -> str:
        return f"products {', '.join(self.partitions)}"
