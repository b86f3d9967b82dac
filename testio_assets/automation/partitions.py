"""The dynamic partitions: one partition per Test IO product id."""

from __future__ import annotations

from dagster import DynamicPartitionsDefinition

product_partitions = DynamicPartitionsDefinition(name="products")
