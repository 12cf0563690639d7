"""The bulk CSV engine: read a file safely, hand its rows to a kind, report or apply the result.

A kind (``booking.services.bulk.<kind>``) knows its columns and natural key, how to export its
rows, and how to check a whole batch of rows against the current data in a few queries
(``check``) and write the planned changes set-based (``write``). The engine owns everything a
file can get wrong before any row is read: size, encoding, delimiter, header, row count and
duplicate keys, and the transaction of an apply.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from flask import current_app
from sqlalchemy import insert, update

from booking.database import unit_of_work
from booking.extensions import db
from booking.services import audit
from booking.services.errors import Conflict, DomainError

MESSAGES = {
    "too_big": "The file is {size} bytes; the limit is {limit} bytes. "
    "Split it and upload the parts.",
    "empty": "The file is empty.",
    "no_rows": "The file has a header but no rows.",
    "encoding": "The file is not UTF-8 text (byte {position} cannot be read). Save it as "
    "'CSV UTF-8' and upload it again.",
    "delimiter": "The columns are separated by {name}, not commas. Save the file as "
    "comma-separated CSV and upload it again.",
    "missing": "The header lacks the column(s) {columns}.",
    "unknown": "The header has unknown column(s) {columns}. The columns are: {expected}.",
    "repeated": "The header names the column(s) {columns} more than once.",
    "too_many": "The file has {count} rows; the limit is {limit}. Split it and upload the parts.",
    "width": "This line has {count} cells; the header has {expected}.",
    "duplicate": "The same {key} is also on line {other}: each item may appear once.",
    "unparsable": "The file cannot be read as CSV: {detail}",
    "rejected": "Nothing was changed: {errors} row(s) have errors. Preview the file to see them.",
    "file_rejected": "Nothing was changed: {message}",
}

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CREATE, UPDATE, UNCHANGED, DELETE, ERROR = "create", "update", "unchanged", "delete", "error"
ACTION_WORDS = {CREATE: "created", UPDATE: "updated", DELETE: "deleted"}


class BulkRejected(Conflict):
    """The file (or some of its rows) failed the checks at apply time; nothing was written."""


@dataclass(frozen=True)
class Change:
    """One field an update changes."""

    field: str
    old: str
    new: str


@dataclass(frozen=True)
class RowError:
    """What is wrong with one row: the file's line number (the header is line 1) and column."""

    line: int
    column: str | None
    message: str


@dataclass
class Row:
    """One data row as read (cells stripped, keyed by column) and what the check made of it."""

    line: int
    cells: dict[str, str]
    action: str = UNCHANGED
    label: str = ""
    changes: list[Change] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    current: Any = None  # the row in the database, when there is one
    values: dict[str, Any] = field(default_factory=dict)  # parsed, ready to write

    def error(self, column: str | None, message: str) -> None:
        """Mark the row wrong."""
        self.errors.append(RowError(self.line, column, message))
        self.action = ERROR


@dataclass
class Preview:
    """What applying a file would do, row by row, with counts; ``problems`` are file-level."""

    kind: str
    rows: list[Row]
    problems: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Rows per action."""
        counted = Counter(row.action for row in self.rows)
        return {
            action: counted.get(action, 0) for action in (CREATE, UPDATE, DELETE, UNCHANGED, ERROR)
        }

    @property
    def errors(self) -> list[RowError]:
        """Every row error, in file order."""
        return [error for row in self.rows for error in row.errors]

    @property
    def ok(self) -> bool:
        """Whether the file can be applied."""
        return not self.problems and not any(row.errors for row in self.rows)

    @property
    def changed(self) -> list[Row]:
        """Rows that would write something."""
        return [row for row in self.rows if row.action in (CREATE, UPDATE, DELETE)]


@dataclass(frozen=True)
class Applied:
    """What an apply wrote."""

    kind: str
    batch_id: uuid.UUID
    created: int
    updated: int
    deleted: int
    unchanged: int


class Kind:
    """One kind of item edited in bulk; subclasses fill in the columns and the four steps."""

    name: ClassVar[str]
    label: ClassVar[str]
    entity: ClassVar[str]  # activity_logs.entity_type
    columns: ClassVar[tuple[str, ...]]
    required: ClassVar[tuple[str, ...]]  # columns the header must have
    key_columns: ClassVar[tuple[str, ...]]

    def key(self, cells: dict[str, str]) -> tuple:
        """The natural key of a row as read (normalised so duplicates are found)."""
        return tuple(cells.get(column, "").casefold() for column in self.key_columns)

    def export_rows(self, q: str | None) -> list[dict[str, str]]:  # pragma: no cover - abstract
        """Every item (matching ``q``) as a row of cells."""
        raise NotImplementedError

    def check(self, rows: list[Row], now: datetime, lock: bool) -> None:  # pragma: no cover
        """Read the current items of all rows in a few queries, parse and validate each row, and
        set its action, changes, current item and values (``lock``: FOR UPDATE, at apply)."""
        raise NotImplementedError

    def write(self, rows: list[Row], now: datetime, admin_id: uuid.UUID | None) -> None:
        """Write the changed rows set-based (creates, updates, deletes)."""
        raise NotImplementedError  # pragma: no cover

    def entity_id(self, row: Row) -> Any:
        """The id of the item a written row changed."""
        return row.values.get("id") or getattr(row.current, "id", None)


def insert_and_update(model, rows: list[Row], now: datetime) -> None:
    """The plain write of a kind: its new items in one INSERT, its changed ones in one UPDATE."""
    creates = [
        {**r.values, "created_at": now, "updated_at": now} for r in rows if r.action == CREATE
    ]
    if creates:
        db.session.execute(insert(model), creates)
    updates = [
        {**r.values, "id": r.current.id, "updated_at": now} for r in rows if r.action == UPDATE
    ]
    if updates:
        db.session.execute(update(model), updates)


# ---- writing ------------------------------------------------------------------------------------


def neutralise(value: str) -> str:
    """A cell that a spreadsheet would run as a formula gets a leading apostrophe."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def unneutralise(value: str) -> str:
    """Undo ``neutralise`` on import, so an exported file round-trips; the rest stays text."""
    if value.startswith("'") and value[1:].startswith(FORMULA_PREFIXES):
        return value[1:]
    return value


def to_csv(kind: Kind, rows: list[dict[str, str]]) -> str:
    """The CSV text of rows (header first), every cell neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(kind.columns)
    for row in rows:
        writer.writerow([neutralise(str(row.get(column, ""))) for column in kind.columns])
    return out.getvalue()


# ---- reading ------------------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    """UTF-8 text, without a BOM.

    :raise DomainError: when the bytes are not UTF-8.
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DomainError(MESSAGES["encoding"].format(position=error.start + 1)) from error


def _join(items) -> str:
    return ", ".join(sorted(items))


def read(kind: Kind, data: bytes) -> tuple[list[Row], list[str]]:
    """Parse a file into rows, or say what is wrong with it as a whole (rows then empty)."""
    limit = current_app.config["BULK_MAX_BYTES"]
    if len(data) > limit:
        return [], [MESSAGES["too_big"].format(size=len(data), limit=limit)]
    if not data.strip():
        return [], [MESSAGES["empty"]]
    try:
        text = _decode(data)
    except DomainError as error:
        return [], [error.message]
    first_line = text.splitlines()[0] if text.strip() else ""
    if "," not in first_line:
        for delimiter, name in ((";", "semicolons"), ("\t", "tabs")):
            if delimiter in first_line:
                return [], [MESSAGES["delimiter"].format(name=name)]
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as error:
        return [], [MESSAGES["unparsable"].format(detail=error)]
    header = [cell.strip().lstrip("\ufeff").casefold() for cell in records[0]]
    problems = []
    repeated = {c for c, n in Counter(header).items() if n > 1}
    if repeated:
        problems.append(MESSAGES["repeated"].format(columns=_join(repeated)))
    missing = set(kind.required) - set(header)
    if missing:
        problems.append(MESSAGES["missing"].format(columns=_join(missing)))
    unknown = set(header) - set(kind.columns)
    if unknown:
        problems.append(
            MESSAGES["unknown"].format(columns=_join(unknown), expected=", ".join(kind.columns))
        )
    if problems:
        return [], problems
    body = [
        (number, cells)
        for number, cells in enumerate(records[1:], start=2)
        if any(c.strip() for c in cells)
    ]
    if not body:
        return [], [MESSAGES["no_rows"]]
    max_rows = current_app.config["BULK_MAX_ROWS"]
    if len(body) > max_rows:
        return [], [MESSAGES["too_many"].format(count=len(body), limit=max_rows)]
    rows = []
    seen: dict[tuple, int] = {}
    for line, cells in body:
        row = Row(
            line,
            {name: unneutralise(cell.strip()) for name, cell in zip(header, cells, strict=False)},
        )
        if len(cells) != len(header):
            row.error(None, MESSAGES["width"].format(count=len(cells), expected=len(header)))
        key = kind.key(row.cells)
        if key in seen:
            names = " + ".join(kind.key_columns)
            row.error(kind.key_columns[0], MESSAGES["duplicate"].format(key=names, other=seen[key]))
        else:
            seen[key] = line
        rows.append(row)
    return rows, []


def preview(kind: Kind, data: bytes, now: datetime) -> Preview:
    """Every row of the file as create / update / delete / unchanged / error; writes nothing."""
    rows, problems = read(kind, data)
    if problems:
        return Preview(kind.name, [], problems)
    kind.check(rows, now, lock=False)
    from booking.extensions import db

    db.session.rollback()  # the checks only read: end their transaction
    return Preview(kind.name, rows, [])


def apply(kind: Kind, data: bytes, now: datetime, admin_id: uuid.UUID | None) -> Applied:
    """Check the file again against the data as it is now and write all of it, or nothing.

    :raise BulkRejected: when the file or any row fails a check (nothing written).
    """
    rows, problems = read(kind, data)
    if problems:
        raise BulkRejected(MESSAGES["file_rejected"].format(message=problems[0]), problems=problems)
    batch_id = uuid.uuid4()
    with unit_of_work():
        kind.check(rows, now, lock=True)
        result = Preview(kind.name, rows, [])
        if not result.ok:
            raise BulkRejected(
                MESSAGES["rejected"].format(errors=len([r for r in rows if r.errors])),
                errors=result.errors,
            )
        changed = result.changed
        kind.write(changed, now, admin_id)
        audit.record_many(
            [
                {
                    "entity_type": kind.entity,
                    "entity_id": kind.entity_id(row),
                    "action_type": f"{kind.entity}.bulk_{ACTION_WORDS[row.action]}",
                    "details": {
                        "batch": batch_id,
                        "line": row.line,
                        "key": row.label,
                        "changes": {c.field: [c.old, c.new] for c in row.changes},
                    },
                }
                for row in changed
            ],
            actor_id=admin_id,
            at=now,
        )
        counts = result.counts
        audit.record(
            "bulk_edit",
            batch_id,
            "bulk_edit.applied",
            actor_id=admin_id,
            at=now,
            kind=kind.name,
            rows=len(rows),
            created=counts[CREATE],
            updated=counts[UPDATE],
            deleted=counts[DELETE],
            unchanged=counts[UNCHANGED],
        )
    return Applied(
        kind.name, batch_id, counts[CREATE], counts[UPDATE], counts[DELETE], counts[UNCHANGED]
    )


_MISSING = object()


def cell(row: Row, column: str, parse, current: Any = _MISSING, **options) -> Any:
    """The parsed value of ``column``, or ``current`` when the file has no such column (an
    update keeps the field); an unreadable or missing value marks the row and gives None."""
    from booking.services.bulk.cells import CellError

    if column not in row.cells:
        if current is _MISSING:
            row.error(column, f"A new item needs a value for {column}.")
            return None
        return current
    try:
        return parse(row.cells[column], **options)
    except CellError as error:
        row.error(column, str(error))
        return None


def diff(row: Row, fields: dict[str, tuple[str, str]]) -> None:
    """Record the fields whose shown value changes (field: (old, new))."""
    row.changes = [Change(name, old, new) for name, (old, new) in fields.items() if old != new]
