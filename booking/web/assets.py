"""Static files under a content hash, cached for a year; gzip (or better) for text responses.

Pages link static files through ``static_url``, which adds ``?v=`` and the first 12 hex digits
of the file's SHA-256. A request carrying the file's current hash may be cached for a year as
immutable (a new version is a new URL); any other request for a static file (no hash, an old
one) gets only ``STATIC_MAX_AGE_SECONDS``, so a browser never keeps a stale file for long.
"""

from __future__ import annotations

import hashlib
import os

from flask import Flask, Response, current_app, request, url_for

LONG_CACHE = "public, max-age=31536000, immutable"
HASH_DIGITS = 12

# (path, modification time, size) -> hash: each version of a file is read and hashed once.
_hashes: dict[tuple[str, int, int], str] = {}


def fingerprint(filename: str) -> str | None:
    """The content hash of a file under static/, or None when there is no such file."""
    path = os.path.join(current_app.static_folder or "", filename)
    try:
        stat = os.stat(path)
    except OSError:
        return None
    key = (path, stat.st_mtime_ns, stat.st_size)
    digest = _hashes.get(key)
    if digest is None:
        with open(path, "rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()[:HASH_DIGITS]
        _hashes[key] = digest
    return digest


def static_url(filename: str) -> str:
    """The URL of a static file, fingerprinted with its content hash (``?v=...``)."""
    digest = fingerprint(filename)
    if digest is None:
        return url_for("static", filename=filename)
    return url_for("static", filename=filename, v=digest)


def register(app: Flask) -> None:
    """Offer ``static_url`` to templates, set static cache headers and turn compression on."""
    from booking.extensions import compress

    app.add_template_global(static_url)
    compress.init_app(app)

    @app.after_request
    def _static_cache_headers(response: Response) -> Response:
        if request.endpoint != "static" or response.status_code not in (200, 304):
            return response
        filename = (request.view_args or {}).get("filename", "")
        wanted = request.args.get("v")
        if wanted and wanted == fingerprint(filename):
            response.headers["Cache-Control"] = LONG_CACHE
        else:
            response.headers["Cache-Control"] = (
                f"public, max-age={app.config['STATIC_MAX_AGE_SECONDS']}"
            )
        if response.status_code == 200 and response.mimetype in app.config["COMPRESS_MIMETYPES"]:
            # Read the (small) text file into memory so it is compressed whole, with gzip among
            # the choices, and its file is closed with the response; a streamed file would be
            # compressed chunk by chunk and its handle left for the garbage collector.
            response.direct_passthrough = False
            response.make_sequence()
        return response
