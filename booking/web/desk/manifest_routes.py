"""The boarding manifest of a trip: a printable page, an A4 PDF and a CSV."""

from __future__ import annotations

import re
import uuid

from flask import Response, render_template

from booking.documents import manifest_csv, manifest_pdf
from booking.formatting import local_time
from booking.models.enums import Role
from booking.orm import utcnow
from booking.services import manifests
from booking.services.manifests import Manifest
from booking.web.access import role_required
from booking.web.desk import bp


@bp.get("/trips/<uuid:schedule_id>/manifest")
@role_required(Role.STAFF, Role.ADMIN)
def manifest(schedule_id: uuid.UUID):
    """Every booked seat of the trip with its check-in state (prints on paper as it is)."""
    return render_template(
        "desk/manifest.html", manifest=manifests.trip_manifest(schedule_id, utcnow())
    )


@bp.get("/trips/<uuid:schedule_id>/manifest.pdf")
@role_required(Role.STAFF, Role.ADMIN)
def manifest_pdf_file(schedule_id: uuid.UUID):
    """The manifest as an A4 PDF."""
    found = manifests.trip_manifest(schedule_id, utcnow())
    return Response(
        manifest_pdf.render_pdf(found),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{_file_name(found, "pdf")}"'},
    )


@bp.get("/trips/<uuid:schedule_id>/manifest.csv")
@role_required(Role.STAFF, Role.ADMIN)
def manifest_csv_file(schedule_id: uuid.UUID):
    """The manifest as CSV for a spreadsheet."""
    found = manifests.trip_manifest(schedule_id, utcnow())
    return Response(
        manifest_csv.render_csv(found),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{_file_name(found, "csv")}"'},
    )


def _file_name(found: Manifest, extension: str) -> str:
    """'manifest-20261203-1130-KA01AB1234.csv' (letters, digits and dashes only)."""
    stamp = local_time(found.departure_at, "%Y%m%d-%H%M")
    bus = re.sub(r"[^A-Za-z0-9-]+", "", found.bus_number) or "bus"
    return f"manifest-{stamp}-{bus}.{extension}"
