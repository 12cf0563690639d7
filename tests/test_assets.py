"""Pages go out compressed; static files carry a content hash and are cached a year by it."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import pytest

from booking.web.assets import LONG_CACHE

ROOT = Path(__file__).resolve().parents[1]
APP_CSS = ROOT / "static" / "css" / "app.css"


def app_css_hash() -> str:
    """The first 12 hex digits of app.css's SHA-256."""
    return hashlib.sha256(APP_CSS.read_bytes()).hexdigest()[:12]


def test_a_page_asked_for_with_gzip_comes_back_gzipped_and_smaller(client):
    plain = client.get("/", headers={"Accept-Encoding": "identity"})
    zipped = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert plain.status_code == zipped.status_code == 200
    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    assert len(zipped.data) < len(plain.data) / 2
    assert gzip.decompress(zipped.data) == plain.data


@pytest.mark.parametrize("path", ["css/app.css", "vendor/htmx.min.js"])
def test_static_css_and_scripts_are_gzipped_too(client, path):
    response = client.get(f"/static/{path}", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(response.get_data()) == (ROOT / "static" / path).read_bytes()
    response.close()


def test_a_tiny_response_is_not_compressed(client, app):
    response = client.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert len(response.data) < app.config["COMPRESS_MIN_SIZE"]
    assert "Content-Encoding" not in response.headers


def test_pages_link_static_files_with_their_content_hash(client):
    page = client.get("/").get_data(as_text=True)
    assert f"/static/css/app.css?v={app_css_hash()}" in page
    for src in re.findall(r'(?:src|href)="(/static/[^"]+)"', page):
        assert re.search(r"\?v=[0-9a-f]{12}$", src), src


def test_the_hashed_url_is_cached_for_a_year_as_immutable(client):
    response = client.get(f"/static/css/app.css?v={app_css_hash()}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == LONG_CACHE
    response.close()


@pytest.mark.parametrize("query", ["", "?v=000000000000", "?v="])
def test_a_static_url_without_the_current_hash_is_cached_briefly(client, app, query):
    response = client.get(f"/static/css/app.css{query}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == (
        f"public, max-age={app.config['STATIC_MAX_AGE_SECONDS']}"
    )
    response.close()


def test_templates_link_static_files_only_through_static_url():
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "templates").rglob("*.html")
        if re.search(r"url_for\(\s*['\"]static['\"]", path.read_text())
        or re.search(r"['\"]/static/", path.read_text())
    ]
    assert offenders == []
