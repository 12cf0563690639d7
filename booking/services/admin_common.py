"""What the admin catalogue services share: a page of rows counted and cut in SQL, sorting by
a named column, the error every refusal raises, and switching many rows of one kind on or off
at once (``preview_active_many`` / ``set_active_many``, over the kinds registered by
admin_routes, admin_buses and admin_promos)."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select

from booking.database import unit_of_work
from booking.extensions import db
from booking.services import audit
from booking.services.errors import Conflict, DomainError

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


# ---- switching many rows on or off ---------------------------------------------------------

ACTIVE_MESSAGES = {
    "unknown_kind": "There is no such list.",
    "none_chosen": "Choose at least one row.",
    "gone": "It no longer exists; reload the list.",
    "refused": "Nothing was changed. {reasons}",
}


@dataclass(frozen=True)
class ActiveChange:
    """What switching one chosen row would do; ``refusal`` says why it may not (else None)."""

    id: uuid.UUID
    label: str
    was_active: bool
    active: bool
    refusal: str | None = None

    @property
    def changes(self) -> bool:
        """Whether the row would change (it is not refused and not already so)."""
        return self.refusal is None and self.was_active != self.active


@dataclass(frozen=True)
class ActiveKind:
    """One kind of row with an active flag: its model, the audit entity, how to name a row,
    the rule a switch must pass (``check(row, active, now)`` raises DomainError when refused)
    and the switch itself run inside the caller's transaction
    (``switch(id, active, *, actor_id, now, **audit_details)``)."""

    model: type
    entity: str
    label: Callable[[Any], str]
    check: Callable[[Any, bool, datetime], None]
    switch: Callable[..., Any]


def _active_changes(
    kind: ActiveKind, ids: Iterable[uuid.UUID], active: bool, now: datetime, *, lock: bool
) -> list[ActiveChange]:
    """What switching each chosen row would do, in the order chosen (duplicates dropped);
    with ``lock`` the rows are locked FOR UPDATE in id order (no deadlock between batches)."""
    chosen = list(dict.fromkeys(ids))
    if not chosen:
        raise CatalogError(ACTIVE_MESSAGES["none_chosen"])
    query = select(kind.model).where(kind.model.id.in_(chosen)).order_by(kind.model.id)
    if lock:
        query = query.with_for_update()
    rows = {row.id: row for row in db.session.scalars(query)}
    result = []
    for ident in chosen:
        row = rows.get(ident)
        if row is None:
            result.append(ActiveChange(ident, str(ident), False, active, ACTIVE_MESSAGES["gone"]))
            continue
        refusal = None
        if row.is_active != active:
            try:
                kind.check(row, active, now)
            except DomainError as error:
                refusal = error.message
        result.append(ActiveChange(row.id, kind.label(row), row.is_active, active, refusal))
    return result


def preview_active(
    spec: ActiveKind, ids: Iterable[uuid.UUID], active: bool, now: datetime
) -> list[ActiveChange]:
    """What ``switch_active`` would do to each chosen row, refusals included; writes nothing.

    :raise CatalogError: nothing chosen.
    """
    return _active_changes(spec, ids, active, now, lock=False)


def _refusal_message(refused: list[ActiveChange]) -> str:
    """One sentence per refused row, each naming the row."""
    reasons = [
        c.refusal if c.label in (c.refusal or "") else f"{c.label}: {c.refusal}" for c in refused
    ]
    return ACTIVE_MESSAGES["refused"].format(reasons=" ".join(reasons))


def switch_active(
    spec: ActiveKind,
    kind: str,
    ids: Iterable[uuid.UUID],
    active: bool,
    *,
    actor_id: uuid.UUID | None,
    now: datetime,
) -> int:
    """Switch every chosen row on (or off) in one transaction, all or nothing: an audit row per
    changed row (carrying the batch id) and one row for the batch. Rows already so are left.
    Returns how many changed.

    :raise Conflict: a row is refused (the message names each and why; nothing changes);
        CatalogError: nothing chosen.
    """
    batch_id = uuid.uuid4()
    with unit_of_work():
        changes = _active_changes(spec, ids, active, now, lock=True)
        refused = [c for c in changes if c.refusal]
        if refused:
            raise Conflict(
                _refusal_message(refused), refused=[(str(c.id), c.refusal) for c in refused]
            )
        changed = [c for c in changes if c.changes]
        for change in changed:
            spec.switch(change.id, active, actor_id=actor_id, now=now, batch=batch_id)
        audit.record(
            "bulk_active",
            batch_id,
            f"{spec.entity}.bulk_{'activated' if active else 'deactivated'}",
            actor_id=actor_id,
            at=now,
            kind=kind,
            chosen=len(changes),
            changed=[str(c.id) for c in changed],
        )
    return len(changed)
