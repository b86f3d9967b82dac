"""The account as the API shows it: the JSON bodies the simulator serves.

Quirks the real API has are reproduced here: timestamps with mixed UTC offsets, `steps`
as one string or a list, user stories as strings or objects, test environments that
carry credentials (which the client must drop).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from testio_assets.simulator.entities import SimBug, SimFeature, SimProduct, SimTest

OFFSETS = [
    timezone(timedelta(hours=2)),
    timezone(timedelta(hours=-5)),
    UTC,
    timezone(timedelta(hours=5, minutes=30)),
]

DEVICES = [
    ("Google", "Pixel 8", "Android", "14"),
    ("Apple", "iPhone 15", "iOS", "17.2"),
    ("Samsung", "Galaxy S23", "Android", "13"),
    ("Microsoft", "Surface", "Windows", "11"),
]
CATEGORIES = {"Android": "Smartphones", "iOS": "Smartphones", "Windows": "Computers"}
BROWSERS = {"Android": ["Chrome"], "iOS": ["Safari"], "Windows": ["Edge", "Chrome"]}


def bug_devices(bug: SimBug) -> list[dict[str, Any]]:
    """The devices a bug was reported on: its own, and for every third bug one more
    (derived from the id: the account's random stream stays as it was)."""
    chosen = [bug.device] + ([(bug.device + 1) % len(DEVICES)] if bug.id % 3 == 0 else [])
    devices = []
    for index in chosen:
        vendor, device, os_name, os_version = DEVICES[index]
        devices.append(
            {
                "id": index + 1,
                "category": {"name": CATEGORIES[os_name]},
                "vendor": {"name": vendor},
                "device": {"name": device},
                "operating_system": {"name": os_name},
                "operating_system_version": {"name": os_version},
                "browsers": [{"name": name} for name in BROWSERS[os_name]],
            }
        )
    return devices


class AccountPayloads:
    """JSON views of a `SimulatedAccount` (mixed into it)."""

    products: dict[int, SimProduct]
    tests: dict[int, SimTest]
    bugs_by_test: dict[int, list[SimBug]]
    _encoded_bugs: dict[int, bytes]

    def product_json(self, product: SimProduct) -> dict[str, Any]:
        default = {"id": product.default_section_id, "name": "Default"}
        sections = [{"id": sid, "name": name} for sid, name in product.sections]
        return {
            "id": product.id,
            "name": product.name,
            "description": product.description,
            "type": product.type,
            "default_section_id": product.default_section_id,
            "sections": sections,
            "sections_with_default": [default, *sections],
            "connection": None,
        }

    def test_json(self, test: SimTest) -> dict[str, Any]:
        product = self.products[test.product_id]
        section = dict(product.sections).get(test.section_id) if test.section_id else None
        offset = OFFSETS[test.id % len(OFFSETS)]
        return {
            "id": test.id,
            "title": test.title,
            "test_title": test.title,
            "status": test.status,
            "review_status": test.review_status,
            "testing_type": test.testing_type,
            "goal": f"Find functional bugs in {product.name}",
            "instructions": "Follow the features listed below.",
            "out_of_scope": None,
            "report_language": "en",
            "start_at": _stamp(test.start_at, offset),
            "end_at": _stamp(test.end_at, offset),
            "created_by": test.created_by,
            "submitted_by": test.submitted_by,
            "section": {"id": test.section_id, "name": section} if test.section_id else None,
            "product": {"id": product.id, "name": product.name},
            "features": [
                {
                    "id": test.id * 10 + n,
                    "feature_id": fid,
                    "title": product.features[fid].title if fid in product.features else None,
                }
                for n, fid in enumerate(test.feature_ids)
            ],
            "requirements": [],
            "test_environment": {
                "id": test.product_id * 10,
                "title": "Staging",
                "url": f"https://staging-{test.product_id}.example.com",
                "username": f"qa-{test.product_id}",
                "password": f"s3cret-{test.product_id}",
                "access": "Log in with the shared account",
                "proxy": False,
                "allow_orders": False,
            },
        }

    def encoded_bug(self, bug: SimBug) -> bytes:
        """`bug_json(bug)` as compact JSON, encoded once until the account changes."""
        encoded = self._encoded_bugs.get(bug.id)
        if encoded is None:
            encoded = json.dumps(self.bug_json(bug), separators=(",", ":")).encode()
            self._encoded_bugs[bug.id] = encoded
        return encoded

    def encode_all(self) -> None:
        """Encode every bug now (a served simulator does this before it answers)."""
        for bugs in self.bugs_by_test.values():
            for bug in bugs:
                self.encoded_bug(bug)

    def bug_json(self, bug: SimBug) -> dict[str, Any]:
        test = self.tests[bug.test_id]
        product = self.products[bug.product_id]
        offset = OFFSETS[bug.id % len(OFFSETS)]
        environment = bug.product_id * 10 + bug.id % 2
        return {
            "id": bug.id,
            "title": bug.title,
            "severity": bug.severity,
            "status": bug.status,
            "language": bug.language,
            "location": f"https://staging-{bug.product_id}.example.com/page",
            "expected_result": "It works",
            "actual_result": "It does not work",
            "steps": "\n".join(bug.steps) if bug.steps_as_text else bug.steps,
            "known": bug.known,
            "auto_accepted": bug.auto_accepted,
            "exported_at": None,
            "reported_at": _stamp(bug.reported_at, offset),
            "external_idx": None,
            "author": {"name": bug.author},
            "comments": [
                {
                    "id": cid,
                    "body": body,
                    "author": {"name": author},
                    "created_at": _stamp(at, offset),
                }
                for cid, body, author, at in bug.comments
            ],
            "reproductions": [{"author": {"name": name}} for name in bug.reproducers],
            "devices": bug_devices(bug),
            "test": {"id": test.id, "title": test.title},
            "feature": _feature_ref(bug, product),
            "test_feature": None,
            "product": {"id": product.id, "name": product.name},
            "section": None,
            "attachments": [
                {"id": bug.id * 10 + n, "url": f"https://files.example.com/{bug.id}/{n}.png"}
                for n in range(bug.id % 3)
            ],
            "test_environment": {
                "id": environment,
                "title": "Staging" if environment % 2 == 0 else "Production",
                "url": f"https://staging-{bug.product_id}.example.com",
                "username": f"qa-{bug.product_id}",
                "password": f"s3cret-{bug.product_id}",
                "access": "vpn",
            },
        }

    def feature_json(self, feature: SimFeature, with_stories: bool) -> dict[str, Any]:
        stories: list[Any] = (
            [
                {"id": sid, "path": f"/stories/{sid}", "title": title, "feature_id": feature.id}
                for sid, title in feature.stories
            ]
            if with_stories
            else [title for _, title in feature.stories]
        )
        return {
            "id": feature.id,
            "title": feature.title,
            "description": feature.description,
            "howtofind": feature.howtofind,
            "location": None,
            "target_idx": None,
            "user_stories": stories,
        }


def _stamp(value: datetime | None, offset: timezone) -> str | None:
    if value is None:
        return None
    text = value.astimezone(offset).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def _feature_ref(bug: SimBug, product: SimProduct) -> dict[str, Any] | None:
    """A bug keeps its feature reference when the feature is later removed from the
    catalogue: a final test's bugs never change (what the pipeline relies on, and what the
    API documentation says of final tests). Serving `null` instead made final bugs change
    under the pipeline's feet; the soak found it."""
    if not bug.feature_id:
        return None
    feature = product.features.get(bug.feature_id)
    return {"id": bug.feature_id, "title": feature.title if feature else None}
