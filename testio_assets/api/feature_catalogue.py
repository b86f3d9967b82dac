"""Reading a product's feature catalogue, per section where the product has sections.

A product known to be sectioned is asked per section directly; otherwise the product
endpoint is tried first, and its 422 ("the product has sections") switches to the section
endpoints. The same feature can come back from several sections: it is kept once, with
the ids of every section that listed it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from testio_assets.api.errors import SectionedProductError
from testio_assets.api.models import Feature, Product

if TYPE_CHECKING:
    from testio_assets.api.session import ApiSession

log = logging.getLogger("testio_assets.api")
WITH_STORIES = {"includes[]": "user_stories"}


@dataclass(frozen=True)
class ProductFeatures:
    """The feature catalogue of one product; sectioned features carry their section ids."""

    features: list[Feature]
    section_ids: dict[int, list[int]]
    sectioned: bool


async def read_catalogue(session: ApiSession, product: Product) -> ProductFeatures:
    """The product's features with their user stories."""
    if not product.is_sectioned:
        try:
            parsed = await session.get_records(
                f"/products/{product.id}/features",
                WITH_STORIES,
                "features",
                Feature,
                product_id=product.id,
            )
        except SectionedProductError:
            log.info("product %d answered 422 for its features: reading per section", product.id)
            if not product.section_ids:
                product = await session.get_product(product.id)
        else:
            unique = list({feature.id: feature for feature in parsed.result}.values())
            return ProductFeatures(unique, {}, sectioned=False)
    return await _per_section(session, product)


async def _per_section(session: ApiSession, product: Product) -> ProductFeatures:
    section_ids = product.section_ids
    per_section = await asyncio.gather(
        *(
            session.get_records(
                f"/products/{product.id}/sections/{section_id}/features",
                WITH_STORIES,
                "features",
                Feature,
                product_id=product.id,
            )
            for section_id in section_ids
        )
    )
    merged: dict[int, Feature] = {}
    sections: dict[int, list[int]] = {}
    for section_id, parsed in zip(section_ids, per_section, strict=True):
        for feature in parsed.result:
            merged.setdefault(feature.id, feature)
            sections.setdefault(feature.id, []).append(section_id)
    return ProductFeatures(list(merged.values()), sections, sectioned=True)
