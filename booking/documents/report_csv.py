"""Admin reports and the audit log as CSV for a spreadsheet: plain numbers (no currency sign, no
digit grouping, so sums work), local times, and every cell formula-safe like the manifest's."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from io import StringIO
from typing import TYPE_CHECKING, Any

from booking.documents.manifest_csv import safe_cell
from booking.formatting import local_time

if TYPE_CHECKING:
    from booking.services.reports import Report


def cell(value: Any, kind: str = "text") -> str:
    """A value as a spreadsheet reads it: 930.00, 62.5, 2026-12-01 10:30, or the text."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return local_time(value, "%Y-%m-%d %H:%M")
    if isinstance(value, Decimal):
        return f"{value:.2f}" if kind == "money" else f"{value.normalize():f}"
    return safe_cell(value)


def render_rows(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A header and rows as CSV text (CRLF lines); text cells are made formula-safe."""
    out = StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(name) for name in header])
    for row in rows:
        writer.writerow(
            [cell(value) if not isinstance(value, str) else safe_cell(value) for value in row]
        )
    return out.getvalue()


def render_report(report: Report) -> str:
    """A report's table, then a totals row when it has one."""
    out = StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(column.label) for column in report.columns])
    for row in report.rows:
        writer.writerow([cell(row.get(column.key), column.kind) for column in report.columns])
    if report.totals:
        rest = report.columns[1:]
        writer.writerow(
            ["Total"] + [cell(report.totals.get(column.key), column.kind) for column in rest]
        )
    return out.getvalue()
