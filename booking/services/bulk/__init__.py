"""Bulk CSV edit of routes, buses, schedules and promo codes: export, preview, apply.

``export(kind, filters)`` writes the CSV text of a kind's items; ``preview(kind, bytes, now)``
says what a file would do, row by row, writing nothing; ``apply(kind, bytes, now, admin_id)``
checks it again and writes all of it in one transaction, or nothing. The engine
(``bulk.engine``) reads files and runs the transaction; each kind has a module of its own.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from booking.services.bulk import engine
from booking.services.bulk.buses import Buses
from booking.services.bulk.engine import (
    Applied,
    BulkRejected,
    Change,
    Kind,
    Preview,
    Row,
    RowError,
)
from booking.services.bulk.promos import PromoCodes
from booking.services.bulk.routes import Routes
from booking.services.bulk.schedules import Schedules
from booking.services.errors import NotFound

MESSAGES = {"unknown_kind": "There is no bulk edit for {kind}."}

KINDS: dict[str, Kind] = {
    kind.name: kind for kind in (Schedules(), Routes(), Buses(), PromoCodes())
}

__all__ = [
    "KINDS",
    "Applied",
    "BulkRejected",
    "Change",
    "Kind",
    "Preview",
    "Row",
    "RowError",
    "apply",
    "export",
    "get_kind",
    "preview",
]


def get_kind(name: str) -> Kind:
    """The kind called ``name``.

    :raise NotFound: for a kind with no bulk edit.
    """
    kind = KINDS.get(name)
    if kind is None:
        raise NotFound(MESSAGES["unknown_kind"].format(kind=name))
    return kind


def export(kind: str, filters: dict | None = None) -> str:
    """The CSV text of every item of ``kind`` (``filters={"q": ...}`` as its list filters them);
    cells a spreadsheet would run as formulas start with an apostrophe."""
    spec = get_kind(kind)
    return engine.to_csv(spec, spec.export_rows((filters or {}).get("q")))


def preview(kind: str, file_bytes: bytes, now: datetime) -> Preview:
    """What applying the file would do, row by row; writes nothing."""
    return engine.preview(get_kind(kind), file_bytes, now)


def apply(kind: str, file_bytes: bytes, now: datetime, admin_id: uuid.UUID | None) -> Applied:
    """Apply the file all-or-nothing, checked again against the data as it is now.

    :raise BulkRejected: when the file or any row fails (nothing written).
    """
    return engine.apply(get_kind(kind), file_bytes, now, admin_id)
