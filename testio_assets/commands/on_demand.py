"""`testio-assets features` and `users`: answers from DuckDB, refreshed only when stale.

`features` serves a product's features from DuckDB while they are younger than
`FEATURE_CACHE_TTL_SECONDS` (no API call at all); when they are older, were never synced,
or `--force-refresh` is given, it first materializes the product's `features` partition
through Dagster (recorded in `DAGSTER_HOME` like `sync`, checks included), then answers.
`users` answers from DuckDB only. Both wait for the DuckDB file like every other writer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from testio_assets.settings import Settings, SettingsError
from testio_assets.store.database import DuckDBStore
from testio_assets.store.lookups import (
    ProductState,
    features_of,
    known_product_ids,
    product_state,
    users_of,
)


class UnknownInput(ValueError):
    """The product or section asked for does not exist (exit code 2)."""


class RefreshFailed(RuntimeError):
    """The API refused or failed the refresh (exit code 1); nothing stored was lost."""


@dataclass
class FeaturesAnswer:
    """What `testio-assets features` prints; `to_json` keys are stable for scripts."""

    product_id: int
    product_name: str | None
    section_id: int | None
    source: str  # "cache" or "api"
    synced_at: datetime | None
    age_seconds: float | None
    ttl_seconds: int
    api_requests: int
    features: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> str:
        data = asdict(self)
        data["synced_at"] = self.synced_at.isoformat() if self.synced_at else None
        return json.dumps(data, indent=2, default=str)


Refresher = Callable[[int], int]  # product id -> API requests made


def answer_features(
    store: DuckDBStore,
    settings: Settings,
    product_id: int,
    section_id: int | None,
    force_refresh: bool,
    refresh: Refresher,
) -> FeaturesAnswer:
    """The product's features, refreshed first when stale or forced.

    Raises:
        UnknownInput: no such product in the catalogue, or no such section of it.
        RefreshFailed: the refresh failed; the stored features are unchanged.
    """
    state = _known(store, product_id)
    if section_id is not None and section_id not in state.section_ids:
        sections = ", ".join(map(str, state.section_ids)) or "none: it is not sectioned"
        raise UnknownInput(
            f"product {product_id} has no section {section_id} (its sections: {sections})"
        )
    ttl = timedelta(seconds=settings.feature_ttl_seconds)
    synced = state.features_synced_at
    fresh = synced is not None and datetime.now(UTC) - synced < ttl
    requests = 0
    if force_refresh or not fresh:
        try:
            requests = refresh(product_id)
        except SettingsError:
            raise
        except Exception as exc:
            raise RefreshFailed(f"refresh failed, nothing changed: {exc}") from None
        synced = _known(store, product_id).features_synced_at
    return FeaturesAnswer(
        product_id=product_id,
        product_name=state.name,
        section_id=section_id,
        source="cache" if fresh and not force_refresh else "api",
        synced_at=synced,
        age_seconds=(datetime.now(UTC) - synced).total_seconds() if synced else None,
        ttl_seconds=settings.feature_ttl_seconds,
        api_requests=requests,
        features=store.query(features_of, product_id, section_id),
    )


def dagster_refresher(settings: Settings) -> Refresher:
    """A refresh through a Dagster run recorded in `DAGSTER_HOME`, set up only when one is
    needed (a fresh answer needs neither the instance nor a token)."""

    def refresh(product_id: int) -> int:
        from testio_assets.commands.instance import ensure_dagster_home, open_instance
        from testio_assets.commands.runs import refresh_features
        from testio_assets.defs.pipeline import build_definitions

        settings.require_source()
        ensure_dagster_home()
        defs = build_definitions(settings)
        with open_instance() as instance:
            return refresh_features(defs, instance, product_id)

    return refresh


def answer_users(store: DuckDBStore, product_id: int, role: str | None) -> list[dict[str, Any]]:
    """The product's people from DuckDB (`role`: tester, customer or both).

    Raises:
        UnknownInput: no such product in the catalogue.
    """
    _known(store, product_id)
    return store.query(users_of, product_id, role)


def _known(store: DuckDBStore, product_id: int) -> ProductState:
    if not store.lake_catalog and not Path(store.path).exists():  # nothing to read yet
        raise UnknownInput(f"no database at {store.path} yet: run `testio-assets sync` first")
    state = store.query(product_state, product_id)
    if state is None:
        known = store.query(known_product_ids)
        hint = (
            f"known products: {', '.join(map(str, known))}{' ...' if len(known) == 20 else ''}"
            if known
            else "the catalogue is empty: run `testio-assets sync` first"
        )
        raise UnknownInput(f"product {product_id} is not in the catalogue ({hint})")
    return state


def render_features(answer: FeaturesAnswer) -> str:
    """A header saying where the answer came from and how old it is, then a table."""
    where = f" in section {answer.section_id}" if answer.section_id is not None else ""
    head = (
        f"product {answer.product_id} ({answer.product_name or 'unnamed'}): "
        f"{len(answer.features)} feature(s){where}"
    )
    if answer.source == "cache":
        origin = (
            f"from the cache, synced {_ago(answer.age_seconds)} ago "
            f"(fresh for {_ago(answer.ttl_seconds)}; --force-refresh re-reads the API)"
        )
    else:
        origin = (
            f"refreshed from the API just now ({answer.api_requests} request(s)); "
            f"fresh for {_ago(answer.ttl_seconds)}"
        )
    rows = [
        [str(f["id"]), f["title"] or "", ",".join(map(str, f["section_ids"] or [])),
         str(len(f["user_stories"]))]
        for f in answer.features
    ]  # fmt: skip
    return "\n".join(
        [head, origin, "", table(["id", "title", "sections", "user stories"], rows, {3})]
    )


def render_users(product_id: int, users: list[dict[str, Any]]) -> str:
    header = ["name", "role", "bugs", "comments", "repros", "tests created", "submitted", "last"]
    rows = [
        [u["name"], u["role"], str(u["bugs_reported"]), str(u["comments_written"]),
         str(u["reproductions"]), str(u["tests_created"]), str(u["tests_submitted"]),
         u["last_activity_at"].strftime("%Y-%m-%d") if u["last_activity_at"] else "-"]
        for u in users
    ]  # fmt: skip
    synced = max((u["synced_at"] for u in users if u["synced_at"]), default=None)
    age = f", synced {_ago((datetime.now(UTC) - synced).total_seconds())} ago" if synced else ""
    counts = {2, 3, 4, 5, 6}
    return f"product {product_id}: {len(users)} user(s){age}\n\n" + table(header, rows, counts)


def users_json(product_id: int, role: str | None, users: list[dict[str, Any]]) -> str:
    data = {"product_id": product_id, "role": role, "users": users}
    return json.dumps(data, indent=2, default=_json_value)


def _json_value(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def table(header: list[str], rows: list[list[str]], right: set[int] | None = None) -> str:
    """Columns padded to their widest cell; the columns numbered in `right` right-aligned."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    right = right or set()

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"
