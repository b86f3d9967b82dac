"""The simulator's HTTP face: a small ASGI app with the Test IO API's paths and quirks.

A plain ASGI callable rather than a framework: the per-request overhead on loopback
must stay at a few milliseconds so that benchmarks measure the pipeline, not this.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from testio_assets.simulator.asgi import (
    Receive,
    Send,
    dump,
    product_label,
    query_int,
    read_body,
    respond,
)
from testio_assets.simulator.data import SimProduct, SimulatedAccount
from testio_assets.simulator.faults import FaultPlan

BASE_PATH = "/customer/v2"
DEFAULT_PER_PAGE = 25
UNPAGED_LIMIT = 150


@dataclass
class Answer:
    status: int
    body: Any
    label: str
    product_id: int | None = None
    page: int | None = None


class SimulatorApp:
    """ASGI app serving a `SimulatedAccount` under `/customer/v2`, plus `/_simulator/` admin."""

    def __init__(
        self,
        account: SimulatedAccount,
        token: str,
        latency_seconds: float = 0.0,
        faults: FaultPlan | None = None,
    ) -> None:
        self.account = account
        self.token = token
        self.latency_seconds = latency_seconds
        self.faults = faults or FaultPlan()
        self.requests: Counter[str] = Counter()
        self.requests_by_product: Counter[tuple[str, int]] = Counter()
        self.tests_read_by_id: set[int] = set()
        # The account is mutated from other threads (tests call advance()).
        self.lock = threading.Lock()

    def reset_counts(self) -> None:
        self.requests.clear()
        self.requests_by_product.clear()
        self.tests_read_by_id.clear()

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        query = {k: v[-1] for k, v in parse_qs(scope["query_string"].decode()).items()}
        if path.startswith("/_simulator/"):
            body = await read_body(receive)
            status, payload = self._admin(scope["method"], path, query, body)
            await respond(send, status, json.dumps(payload).encode())
            return
        if not path.startswith(BASE_PATH):
            await respond(send, 404, b'{"error":"Not found"}')
            return
        with self.lock:
            answer = self._route(path[len(BASE_PATH) :], query)
        self.requests[answer.label] += 1
        if answer.product_id is not None:
            self.requests_by_product[(answer.label, answer.product_id)] += 1
        headers = dict(scope["headers"])
        if headers.get(b"authorization", b"").decode() != f"Token {self.token}":
            await respond(send, 401, b'{"error":"Unauthorized"}')
            return
        if self.latency_seconds:
            await asyncio.sleep(self.latency_seconds)
        fault = self.faults.take(answer.label, answer.product_id, answer.page)
        if fault is None:
            await respond(send, answer.status, dump(answer.body))
            return
        if fault.delay_seconds:
            await asyncio.sleep(fault.delay_seconds)
        if fault.answer_normally:
            await respond(send, answer.status, dump(answer.body))
            return
        extra = [(b"retry-after", fault.retry_after.encode())] if fault.retry_after else []
        if fault.truncate:
            full = dump(answer.body)
            await respond(send, answer.status, full[: len(full) // 2], content_length=len(full))
            return
        body = (
            fault.body.encode()
            if fault.body is not None
            else json.dumps({"error": f"injected {fault.status}"}).encode()
        )
        await respond(send, fault.status, body, extra, fault.content_type)

    # -- API routes ------------------------------------------------------------------------

    def _route(self, path: str, query: dict[str, str]) -> Answer:
        account = self.account
        if path in ("/products", "/products/"):
            return Answer(
                200,
                {"products": [account.product_json(p) for p in account.active_products()]},
                "products",
            )
        if match := re.fullmatch(r"/products/(\d+)(/.*)?", path):
            return self._product_route(int(match.group(1)), match.group(2) or "", query)
        if match := re.fullmatch(r"/exploratory_tests/(\d+)", path):
            test = account.tests.get(int(match.group(1)))
            product = account.products.get(test.product_id) if test else None
            if test is None or product is None or not product.active:
                return Answer(404, {"error": "Not found"}, "exploratory_test")
            self.tests_read_by_id.add(test.id)
            return Answer(
                200, {"exploratory_test": self._test_record(test)}, "exploratory_test", product.id
            )
        if path == "/bugs/reject_reasons":
            return Answer(
                200,
                {
                    "reject_reasons": [
                        {"key": "known_bug", "name": "Known bug", "default_comment": "Rejected"}
                    ]
                },
                "reject_reasons",
            )
        if path in ("/bugs", "/bugs/"):
            return self._bugs(query)
        if match := re.fullmatch(r"/bugs/(\d+)", path):
            bug_id = int(match.group(1))
            for bugs in account.bugs_by_test.values():
                for bug in bugs:
                    if bug.id == bug_id:
                        return Answer(200, {"bug": account.bug_json(bug)}, "bug", bug.product_id)
            return Answer(404, {"error": "Not found"}, "bug")
        return Answer(404, {"error": "Not found"}, "unknown")

    def _product_route(self, product_id: int, rest: str, query: dict[str, str]) -> Answer:
        account = self.account
        product = account.products.get(product_id)
        label = product_label(rest)
        if product is None or not product.active:
            return Answer(404, {"error": "Not found"}, label, product_id)
        with_stories = query.get("includes[]") == "user_stories"
        if rest == "":
            return Answer(200, {"product": account.product_json(product)}, label, product_id)
        if rest == "/features":
            if product.is_sectioned:
                return Answer(
                    422, {"error": "Product has sections; use section features"}, label, product_id
                )
            return Answer(
                200,
                {
                    "features": [
                        account.feature_json(f, with_stories) for f in product.features.values()
                    ]
                },
                label,
                product_id,
            )
        if match := re.fullmatch(r"/sections/(\d+)/features", rest):
            section_id = int(match.group(1))
            known = {sid for sid, _ in product.sections} | {product.default_section_id}
            if section_id not in known:
                return Answer(404, {"error": "Not found"}, label, product_id)
            features = [f for f in product.features.values() if section_id in f.section_ids]
            return Answer(
                200,
                {"features": [account.feature_json(f, with_stories) for f in features]},
                label,
                product_id,
            )
        if rest == "/user_stories":
            return self._user_stories(product, query, label)
        if rest == "/exploratory_tests":
            return self._test_page(product, query, label)
        if rest == "/test_environments":
            return Answer(
                200,
                {
                    "test_environments": [
                        {
                            "id": product.id * 10,
                            "title": "Staging",
                            "url": f"https://staging-{product.id}.example.com",
                            "username": f"qa-{product.id}",
                            "password": f"s3cret-{product.id}",
                            "access": "Log in with the shared account",
                        }
                    ]
                },
                label,
                product_id,
            )
        return Answer(404, {"error": "Not found"}, label, product_id)

    def _user_stories(self, product: SimProduct, query: dict[str, str], label: str) -> Answer:
        section = query.get("section_id")
        if product.is_sectioned and not section:
            return Answer(500, {"error": "Internal Server Error"}, label, product.id)
        stories = [
            {"id": sid, "path": f"/stories/{sid}", "title": title}
            for f in product.features.values()
            if not section or int(section) in f.section_ids
            for sid, title in f.stories
        ]
        return Answer(200, {"user_stories": stories}, label, product.id)

    def _test_page(self, product: SimProduct, query: dict[str, str], label: str) -> Answer:
        newest_first = product.tests[::-1]
        if "page" not in query:
            # The real API's quirk: without `page` only the newest 150 come back.
            chosen = newest_first[:UNPAGED_LIMIT]
            page = None
        else:
            page = max(1, query_int(query.get("page"), 1))
            per_page = max(1, query_int(query.get("per_page"), DEFAULT_PER_PAGE))
            first = (page - 1) * per_page
            if self.faults.shift_pages and page > 1:
                first -= 1
            chosen = newest_first[first : first + per_page]
        if any(t.id in self.faults.poisoned_test_ids for t in chosen):
            return Answer(500, {"error": "Internal Server Error"}, label, product.id, page)
        return Answer(
            200,
            {"exploratory_tests": [self._test_record(t) for t in chosen]},
            label,
            product.id,
            page,
        )

    def _test_record(self, test: Any) -> dict[str, Any]:
        record = self.account.test_json(test)
        if test.id in self.faults.malformed_test_ids:
            record["id"] = f"broken-{test.id}"
            record["start_at"] = "the day after tomorrow"
        if test.id in self.faults.drifted_test_ids:
            for key in (
                "goal",
                "instructions",
                "out_of_scope",
                "features",
                "test_environment",
                "requirements",
                "review_status",
            ):
                record.pop(key, None)
            for key in (
                "title",
                "testing_type",
                "created_by",
                "submitted_by",
                "section",
                "start_at",
                "end_at",
                "product",
            ):
                record[key] = None
            record["status"] = "paused_by_customer"
            record["ai_summary"] = {"model": "v9", "text": "a field nobody announced"}
        return record

    def _bugs(self, query: dict[str, str]) -> Answer:
        account = self.account
        ids = [int(i) for i in query.get("filter_test_cycle_ids", "").split(",") if i.strip()]
        product_filter = query.get("filter_product_ids")
        if ids:
            tests = [account.tests[i] for i in ids if i in account.tests]
        elif product_filter:
            product = account.products.get(int(product_filter))
            tests = product.tests if product else []
        else:
            tests = [t for p in account.active_products() for t in p.tests]
        tests = [t for t in tests if account.products[t.product_id].active]
        product_id = tests[0].product_id if tests else None
        bugs = [account.encoded_bug(b) for t in tests for b in account.bugs_by_test[t.id]]
        return Answer(200, b'{"bugs":[' + b",".join(bugs) + b"]}", "bugs", product_id)

    # -- admin -----------------------------------------------------------------------------

    def _admin(self, method: str, path: str, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        action = path[len("/_simulator/") :]
        if action == "stats":
            return 200, {"requests": dict(self.requests), "total": sum(self.requests.values())}
        if action == "stats/reset" and method == "POST":
            self.reset_counts()
            return 200, {"ok": True}
        if action == "advance" and method == "POST":
            with self.lock:
                self.account.advance(query_int(query.get("steps"), 1))
            return 200, {"step": self.account.step, "now": self.account.now.isoformat()}
        if action == "latency" and method == "POST":
            self.latency_seconds = max(0.0, float(query.get("ms", "0")) / 1000)
            return 200, {"latency_ms": self.latency_seconds * 1000}
        if action == "faults":
            if method == "POST":
                self.faults.load_json(json.loads(body or b"{}"))
            elif method == "DELETE":
                self.faults.clear()
            return 200, self.faults.to_json()
        if action == "counts":
            with self.lock:
                return 200, self.account.counts()
        return 404, {"error": f"unknown admin action {action!r}"}
