"""Seed loaders: reference territories (official code lists) and the deterministic demo."""

from core.seed.demo import DemoAlreadyLoaded, load_demo, reset_demo
from core.seed.reference import ReferenceDataMissing, cog_data_dir, load_reference_territories

__all__ = [
    "DemoAlreadyLoaded", "ReferenceDataMissing", "cog_data_dir", "load_demo",
    "load_reference_territories", "reset_demo",
]
