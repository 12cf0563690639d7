"""What the admin catalogue services share: a page of rows counted and cut in SQL, sorting by
a named column, and the error every refusal raises."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select

from booking.extensions import db
from booking.services.errors import DomainError

T = TypeVar("T")
MAX_PER_PAGE = 100


class CatalogError(DomainError):
    """An admin change was refused; nothing was changed. ``details['field']`` names the field."""


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its rows, how many match in all, this page's number and the count."""

    items: list[T]
    total: int
    page: int
    pages: int
    per_page: int

    @property
    def has_prev(self) -> bool:
        """Whether a page comes before this one."""
        return self.page > 1

    @property
    def has_next(self) -> bool:
        """Whether a page comes after this one."""
        return self.page < self.pages


def clean_page(page: int | None, per_page: int | None, default: int = 25) -> tuple[int, int]:
    """A page number from 1 and a page size between 1 and MAX_PER_PAGE."""
    size = min(max(int(per_page or default), 1), MAX_PER_PAGE)
    return max(int(page or 1), 1), size


def paginate(
    query: Select, page: int | None, per_page: int | None, *, scalars: bool = True
) -> Page:
    """Count the rows of ``query`` and fetch one page of them: two SQL statements."""
    number, size = clean_page(page, per_page)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    pages = max(math.ceil(total / size), 1)
    number = min(number, pages)
    cut = query.limit(size).offset((number - 1) * size)
    items = list(db.session.scalars(cut)) if scalars else list(db.session.execute(cut).all())
    return Page(items, total, number, pages, size)


def ordered(query: Select, sort: str | None, columns: Mapping[str, Any], default: str) -> Select:
    """Order by a named column; a leading '-' sorts descending; unknown names use ``default``."""
    key = (sort or default).strip()
    descending = key.startswith("-")
    name = key.lstrip("-")
    if name not in columns:
        descending, name = default.startswith("-"), default.lstrip("-")
    column = columns[name]
    return query.order_by(column.desc() if descending else column.asc())


def like(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere (its wildcards taken literally)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def flag(value: Any) -> bool | None:
    """A yes/no filter value: True for 'active'/'1'/'yes', False for 'inactive'/'0'/'no'."""
    if isinstance(value, bool) or value is None:
        return value
    text = str(value).strip().lower()
    if text in ("1", "yes", "true", "active", "on"):
        return True
    if text in ("0", "no", "false", "inactive", "off"):
        return False
    return None


def apply_changes(row: Any, values: dict[str, Any]) -> dict[str, Any]:
    """Set the values that differ; return them as {name: [old, new]} for the audit row."""
    changes = {}
    for name, value in values.items():
        old = getattr(row, name)
        if old != value:
            changes[name] = [old, value]
            setattr(row, name, value)
    return changes
