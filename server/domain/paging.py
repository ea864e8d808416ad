"""Lists shown a page at a time: the one page model of every list (tickets, search, accounts)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


def page_count(total: int, size: int) -> int:
    """Pages of `size` items for `total` items; one, empty, when there are none."""
    return max(1, -(-total // size))


def clamp_page(number: int, total: int, size: int) -> int:
    """Page `number`, or the nearest that exists: a page past the end (items deleted
    meanwhile) gives the last one."""
    return max(1, min(number, page_count(total, size)))


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list, its number (from 1), and how many items the list has in all."""

    items: tuple[T, ...]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return page_count(self.total, self.page_size)

    @property
    def offset(self) -> int:
        """How many items come before this page."""
        return (self.page - 1) * self.page_size
