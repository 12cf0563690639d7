"""Bulk CSV edit pages: ``/admin/bulk/<kind>`` for routes, buses, schedules and promo codes.

Export (all, or ``?q=``), upload a file and see its preview, then apply it. Between preview and
apply the uploaded bytes stay on the server: the preview stores them under the instance folder
as ``bulk-uploads/<kind>-<token>.csv`` (a random 192-bit token) and the apply form carries the
token and the sha256 of the bytes. Apply reads the file back, refuses it when the hash differs
(so what is applied is exactly what was previewed), applies it and deletes it. Files older than
an hour are removed whenever a preview is made. This keeps the apply button a small POST (no
second upload of a large file) and the file never passes through the session cookie.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from pathlib import Path

from flask import abort, current_app, flash, make_response, redirect, request, url_for
from flask_login import current_user

from booking.models.enums import Role
from booking.orm import utcnow
from booking.services import bulk
from booking.services.errors import DomainError
from booking.web.access import role_required
from booking.web.admin import bp
from booking.web.admin.bulk_forms import ApplyForm, UploadForm
from booking.web.forms import first_error
from booking.web.htmx import is_htmx, render

MESSAGES = {
    "too_big": "The file is larger than {limit} bytes; split it and upload the parts.",
    "gone": "That upload is no longer here (uploads are kept for an hour). Upload the file again.",
    "applied": "Applied: {created} created, {updated} updated, {deleted} deleted, "
    "{unchanged} unchanged.",
}
KEEP_SECONDS = 3600
# What a multipart request adds around the file itself (boundaries, headers, the CSRF field).
FORM_OVERHEAD = 64 * 1024


def _kind(name: str) -> bulk.Kind:
    """The kind of the URL, or 404."""
    try:
        return bulk.get_kind(name)
    except DomainError:
        abort(404)


def _uploads() -> Path:
    """The folder that keeps uploads between preview and apply."""
    folder = Path(current_app.instance_path) / "bulk-uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _tidy(folder: Path) -> None:
    """Remove uploads older than an hour."""
    cutoff = time.time() - KEEP_SECONDS
    for path in folder.glob("*.csv"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except FileNotFoundError:
            continue


def _stored(kind: str, token: str) -> Path:
    return _uploads() / f"{kind}-{token}.csv"


def _page(kind, status: int = 200, **context):
    """The bulk page of a kind (or, for htmx, the preview fragment)."""
    context.setdefault("form", UploadForm())
    context.setdefault("preview", None)
    return render(
        "admin/bulk/page.html",
        "admin/bulk/_result.html",
        status=status,
        kind=kind,
        kinds=bulk.KINDS,
        q=request.args.get("q", ""),
        limit=current_app.config["BULK_MAX_BYTES"],
        **context,
    )


@bp.get("/bulk", endpoint="bulk_index")
@role_required(Role.ADMIN)
def bulk_index():
    """The bulk page of the first kind."""
    return redirect(url_for("admin.bulk", kind="schedules"))


@bp.get("/bulk/<kind>", endpoint="bulk")
@role_required(Role.ADMIN)
def bulk_page(kind: str):
    """Export link, upload form; nothing changes here."""
    return _page(_kind(kind))


@bp.get("/bulk/<kind>/export.csv", endpoint="bulk_export")
@role_required(Role.ADMIN)
def bulk_export(kind: str):
    """The CSV of every item of the kind (``?q=`` filters like the kind's list)."""
    spec = _kind(kind)
    q = request.args.get("q") or None
    response = make_response(bulk.export(spec.name, {"q": q}))
    response.mimetype = "text/csv"
    response.charset = "utf-8"
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    response.headers["Content-Disposition"] = f'attachment; filename="{spec.name}-{stamp}.csv"'
    return response


@bp.post("/bulk/<kind>/preview", endpoint="bulk_preview")
@role_required(Role.ADMIN)
def bulk_preview(kind: str):
    """Check an uploaded file and show what it would do; keeps the bytes for the apply."""
    spec = _kind(kind)
    limit = current_app.config["BULK_MAX_BYTES"]
    if (request.content_length or 0) > limit + FORM_OVERHEAD:
        return _page(spec, 413, error=MESSAGES["too_big"].format(limit=limit))
    form = UploadForm()
    if not form.validate():
        return _page(spec, 400, form=form, error=first_error(form))
    data = form.file.data.stream.read(limit + 1)
    if len(data) > limit:
        return _page(spec, 413, error=MESSAGES["too_big"].format(limit=limit))
    result = bulk.preview(spec.name, data, utcnow())
    apply_form = None
    if result.ok and result.changed:
        folder = _uploads()
        _tidy(folder)
        token = secrets.token_urlsafe(24)
        _stored(spec.name, token).write_bytes(data)
        apply_form = ApplyForm(token=token, sha256=hashlib.sha256(data).hexdigest())
    return _page(spec, preview=result, apply_form=apply_form, filename=form.file.data.filename)


@bp.post("/bulk/<kind>/apply", endpoint="bulk_apply")
@role_required(Role.ADMIN)
def bulk_apply(kind: str):
    """Apply a previewed file, all or nothing; the stored upload is deleted afterwards."""
    spec = _kind(kind)
    form = ApplyForm()
    if not form.validate():
        return _page(spec, 400, error=first_error(form))
    path = _stored(spec.name, form.token.data)
    data = path.read_bytes() if path.exists() else None
    if data is None or hashlib.sha256(data).hexdigest() != form.sha256.data:
        return _page(spec, 409, error=MESSAGES["gone"])
    try:
        applied = bulk.apply(spec.name, data, utcnow(), current_user.id)
    except bulk.BulkRejected as error:
        # the data changed since the preview: show the file's rows as they stand now
        result = bulk.preview(spec.name, data, utcnow())
        path.unlink(missing_ok=True)
        return _page(spec, 409, preview=result, apply_form=None, error=error.message)
    path.unlink(missing_ok=True)
    message = MESSAGES["applied"].format(
        created=applied.created,
        updated=applied.updated,
        deleted=applied.deleted,
        unchanged=applied.unchanged,
    )
    if is_htmx():
        return _page(spec, applied=applied, message=message)
    flash(message, "success")
    return redirect(url_for("admin.bulk", kind=spec.name))
