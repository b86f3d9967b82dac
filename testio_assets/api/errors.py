"""Errors the API client raises. Each message names the full URL it called and what
happened, says which setting to check where one is to blame, and never contains the token."""

from __future__ import annotations


class TestIOApiError(Exception):
    """Base of every error raised by the Test IO client."""

    __test__ = False  # not a pytest test class


class TokenRefusedError(TestIOApiError):
    """401: the API refused the token. Never retried: every further call would fail too."""


class ProductUnavailableError(TestIOApiError):
    """403/404 for one product: the token may not read it, or it is gone."""

    def __init__(self, product_id: int, status_code: int, endpoint: str) -> None:
        self.product_id = product_id
        self.status_code = status_code
        self.endpoint = endpoint
        reason = "access forbidden" if status_code == 403 else "not found"
        super().__init__(
            f"product {product_id} skipped: GET {endpoint} answered {status_code} ({reason})"
        )


class ApiRequestError(TestIOApiError):
    """A request failed for good: retries exhausted, time cap reached, or a client error.
    `endpoint` is the full URL; `hint` says what to check, if anything."""

    def __init__(
        self, endpoint: str, detail: str, status_code: int | None = None, hint: str = ""
    ) -> None:
        self.endpoint = endpoint
        self.status_code = status_code
        self.detail = detail
        super().__init__(f"GET {endpoint} failed: {detail}" + (f". {hint}" if hint else ""))


class SectionedProductError(ApiRequestError):
    """422 from /products/{id}/features: the product has sections; ask per section."""


BASE_URL_HINT = "Check TESTIO_BASE_URL: the API root ends in /customer/v2"
NETWORK_HINT = "Check TESTIO_BASE_URL and this machine's network"
