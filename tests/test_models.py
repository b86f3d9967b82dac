"""The payload models parse every real example payload and absorb known drift."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from testio_assets.api.models import Bug, ExploratoryTest, Feature, Product, parse_envelope
from tests.conftest import EXAMPLES, SHARED_EXAMPLES

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.json"))


def test_the_examples_copy_matches_the_shared_payloads() -> None:
    if not SHARED_EXAMPLES.is_dir():
        pytest.skip("../shared is not beside this checkout")
    shared = {p.name: p.read_bytes() for p in SHARED_EXAMPLES.glob("*.json")}
    ours = {p.name: p.read_bytes() for p in EXAMPLE_FILES}
    assert ours == shared


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_every_example_payload_parses(path: Path) -> None:
    parsed = parse_envelope(json.loads(path.read_text()))
    assert parsed  # a model or a non-empty list of models


def test_credentials_are_dropped_at_parse_time() -> None:
    body = json.loads((EXAMPLES / "exploratoryTestResponse.json").read_text())
    test = ExploratoryTest.model_validate(body["exploratory_test"])
    dumped = test.model_dump_json()
    assert "qwerty" not in dumped and "password" not in dumped and "username" not in dumped
    assert test.test_environment is not None and test.test_environment.title == "Staging"


def test_a_bug_keeps_its_devices_environment_and_attachments_without_credentials() -> None:
    from testio_assets.api.bug_parts import device_record

    body = json.loads((EXAMPLES / "bugResponse.json").read_text())
    bug = Bug.model_validate(body["bug"])
    assert [device_record(d) for d in bug.devices] == [
        {
            "id": 43,
            "category": "Smartphones",
            "vendor": "Google",
            "operating_system": "Android",
            "operating_system_version": "10",
            "device": "Nexus 5",
            "browsers": ["Chrome"],
        }
    ]
    assert bug.test_environment == {"id": 9, "title": "new"}
    assert bug.attachment_count == 1
    dumped = bug.model_dump_json()
    assert '"password"' not in dumped and '"username"' not in dumped


def test_timestamps_with_any_offset_become_utc() -> None:
    body = json.loads((EXAMPLES / "exploratoryTestResponse.json").read_text())
    test = ExploratoryTest.model_validate(body["exploratory_test"])
    assert test.start_at == datetime(2022, 5, 9, 9, 22, 55, tzinfo=UTC)
    for raw, expected_hour in (
        ("2022-05-09T11:22:55-05:00", 16),
        ("2022-05-09T11:22:55Z", 11),
        ("2022-05-09T11:22:55", 11),
    ):
        parsed = ExploratoryTest.model_validate({"id": 1, "end_at": raw}).end_at
        assert parsed is not None and parsed.tzinfo == UTC and parsed.hour == expected_hour


def test_steps_arrive_as_a_string_or_a_list() -> None:
    as_text = Bug.model_validate({"id": 1, "steps": "Open the app\n\nTap login\n"})
    as_list = Bug.model_validate({"id": 2, "steps": ["Open the app", "Tap login"]})
    missing = Bug.model_validate({"id": 3, "steps": None})
    assert as_text.steps == as_list.steps == ["Open the app", "Tap login"]
    assert missing.steps == []


def test_unknown_statuses_are_kept_and_count_as_changeable() -> None:
    test = ExploratoryTest.model_validate({"id": 1, "status": "paused_by_customer"})
    assert test.status == "paused_by_customer" and test.can_change
    assert not ExploratoryTest.model_validate({"id": 1, "status": "archived"}).can_change
    assert ExploratoryTest.model_validate({"id": 1, "status": None}).can_change


def test_nulls_and_extra_fields_are_absorbed() -> None:
    product = Product.model_validate(
        {
            "id": 5,
            "name": None,
            "sections": None,
            "sections_with_default": [{"id": 1, "name": "Default"}],
            "brand_new_field": {"x": 1},
        }
    )
    assert not product.is_sectioned  # a lone default section is a legacy product
    feature = Feature.model_validate({"id": 9, "user_stories": ["plain story"], "target_idx": 3})
    assert feature.user_stories[0].title == "plain story" and feature.target_idx == "3"


def test_a_product_with_sections_is_sectioned() -> None:
    two_defaults = Product.model_validate(
        {"id": 5, "sections_with_default": [{"id": 1}, {"id": 2}]}
    )
    with_sections = Product.model_validate({"id": 6, "sections": [{"id": 3, "name": "A"}]})
    assert two_defaults.is_sectioned and with_sections.is_sectioned
