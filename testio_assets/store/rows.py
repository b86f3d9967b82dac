"""Turning parsed API models into Arrow tables shaped like the DuckDB tables."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import pyarrow as pa

from testio_assets.api.bug_parts import device_label, device_record, ref_id
from testio_assets.api.models import Bug, ExploratoryTest, Feature, Product
from testio_assets.store.tables import arrow_schema
from testio_assets.timings import timed


def _table(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    with timed("arrow staging"):
        return pa.Table.from_pylist(rows, schema=arrow_schema(name))


def product_rows(products: Iterable[Product], now: datetime) -> pa.Table:
    return _table(
        "products",
        [
            {
                "id": p.id,
                "name": p.name,
                "description": p.description,
                "type": p.type,
                "default_section_id": p.default_section_id,
                # The sections to read features from: `sections`, or for products sectioned
                # only through `sections_with_default`, those.
                "sections": [
                    {"id": s.id, "name": s.name}
                    for s in (p.sections or (p.sections_with_default if p.is_sectioned else []))
                ],
                "is_sectioned": p.is_sectioned,
                "is_active": True,
                "first_seen_at": now,
                "last_seen_at": now,
                "synced_at": now,
                "features_synced_at": None,
            }
            for p in products
        ],
    )


def test_rows(product_id: int, tests: Iterable[ExploratoryTest], now: datetime) -> pa.Table:
    return _table(
        "tests",
        [
            {
                "id": t.id,
                "product_id": product_id,
                "section_id": t.section.id if t.section else None,
                "section_name": t.section.name if t.section else None,
                "title": t.title,
                "test_title": t.test_title,
                "status": t.status,
                "review_status": t.review_status,
                "testing_type": t.testing_type,
                "goal": t.goal,
                "instructions": t.instructions,
                "out_of_scope": t.out_of_scope,
                "report_language": t.report_language,
                "start_at": t.start_at,
                "end_at": t.end_at,
                "created_by": t.created_by,
                "submitted_by": t.submitted_by,
                "feature_ids": [f.feature_id for f in t.features if f.feature_id is not None],
                "test_environment_id": t.test_environment.id if t.test_environment else None,
                "test_environment_title": t.test_environment.title if t.test_environment else None,
                "test_environment_url": t.test_environment.url if t.test_environment else None,
                "is_final": not t.can_change,
                "synced_at": now,
            }
            for t in tests
        ],
    )


def bug_rows(product_id: int, bugs: Iterable[Bug], now: datetime) -> pa.Table:
    return _table(
        "bugs",
        [
            {
                "id": b.id,
                "product_id": product_id,
                "test_id": ref_id(b.test),
                "title": b.title,
                "severity": b.severity,
                "status": b.status,
                "language": b.language,
                "location": b.location,
                "expected_result": b.expected_result,
                "actual_result": b.actual_result,
                "steps": b.steps,
                "known": b.known,
                "auto_accepted": b.auto_accepted,
                "author_name": ref_id(b.author, "name"),
                "feature_id": ref_id(b.feature),
                "test_feature_id": ref_id(b.test_feature),
                "section_id": ref_id(b.section),
                "exported_at": b.exported_at,
                "reported_at": b.reported_at,
                "external_idx": b.external_idx,
                "comments": [
                    {
                        "id": c.get("id"),
                        "body": c.get("body"),
                        "author_name": ref_id(c.get("author"), "name"),
                        "created_at": c.get("created_at"),
                    }
                    for c in b.comments
                ],
                "reproduction_authors": [
                    name for r in b.reproductions if (name := ref_id(r.get("author"), "name"))
                ],
                "device_labels": [device_label(d) for d in b.devices],
                "devices": [device_record(d) for d in b.devices],
                "test_environment_id": ref_id(b.test_environment),
                "test_environment_title": ref_id(b.test_environment, "title"),
                "attachment_count": b.attachment_count,
                "synced_at": now,
            }
            for b in bugs
        ],
    )


def feature_rows(
    product_id: int,
    features: Iterable[Feature],
    section_ids: Mapping[int, list[int]],
    now: datetime,
) -> pa.Table:
    return _table(
        "features",
        [
            {
                "id": f.id,
                "product_id": product_id,
                "title": f.title,
                "description": f.description,
                "howtofind": f.howtofind,
                "location": f.location,
                "target_idx": f.target_idx,
                "section_ids": sorted(set(section_ids.get(f.id, []))),
                "user_story_count": len(_unique_stories(f)),
                "synced_at": now,
            }
            for f in features
        ],
    )


def user_story_rows(product_id: int, features: Iterable[Feature], now: datetime) -> pa.Table:
    return _table(
        "user_stories",
        [
            {
                "feature_id": f.id,
                "ordinal": ordinal,
                "id": story.id,
                "product_id": product_id,
                "title": story.title,
                "path": story.path,
                "synced_at": now,
            }
            for f in features
            for ordinal, story in enumerate(_unique_stories(f))
        ],
    )


def _unique_stories(feature: Feature) -> list[Any]:
    """A feature's stories without repeats (sections may each list the same story)."""
    seen: dict[Any, Any] = {}
    for story in feature.user_stories:
        seen.setdefault(story.id if story.id is not None else ("title", story.title), story)
    return list(seen.values())


def skipped_rows(
    product_id: int, asset: str, skipped: Iterable[tuple[str, str | None, str]], now: datetime
) -> pa.Table:
    """(endpoint, record id, reason) of records left out, as `skipped_records` rows."""
    return _table(
        "skipped_records",
        [
            {
                "product_id": product_id,
                "asset": asset,
                "endpoint": endpoint,
                "record_id": record_id,
                "reason": reason,
                "seen_at": now,
            }
            for endpoint, record_id, reason in skipped
        ],
    )
