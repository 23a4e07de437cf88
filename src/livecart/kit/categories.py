"""The category list shared by products and host profiles."""

from __future__ import annotations

from typing import Literal

Category = Literal[
    "beauty",
    "fashion",
    "food",
    "home",
    "electronics",
    "kids",
    "sports",
    "books",
    "jewelry",
    "other",
]
CATEGORIES: tuple[str, ...] = Category.__args__  # type: ignore[attr-defined]
