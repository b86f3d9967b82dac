"""The asset names, written once: the multi-asset, the sensors, the schedule, the engine
and the command line all use these."""

from __future__ import annotations

PRODUCTS = "products"
TESTS = "tests"
BUGS = "bugs"
FEATURES = "features"
USERS = "users"

# Per product, each needs the one before it; `features` runs beside them.
CHAIN = (TESTS, BUGS, USERS)
PER_PRODUCT = (*CHAIN, FEATURES)
