"""Email bodies from templates: ``templates/email/<kind>.txt`` and ``<kind>.html``.

The subject is the ``subject`` block of the ``.txt`` template (one line, written once); the
text body is that template's ``body`` block, and the HTML body is the ``body`` block of the
``.html`` template, laid out by ``email/_layout.html``. A context key that a template names but
the caller did not pass is an error, not a silent blank in a customer's inbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from booking.documents.wording import FILTERS, GLOBALS


@dataclass(frozen=True)
class RenderedEmail:
    """One message, ready for the outbox."""

    subject: str
    text: str
    html: str


def render_email(kind: str, **context: Any) -> RenderedEmail:
    """The subject, text and HTML of an email of ``kind`` (e.g. 'booking_confirmed').

    :raise jinja2.TemplateNotFound: for a kind without templates.
    :raise jinja2.UndefinedError: when the context lacks a key the templates use.
    """
    env = _environment()
    context = {"operator_name": current_app.config["OPERATOR_NAME"], **context}
    text_template = env.get_template(f"email/{kind}.txt")
    subject = " ".join(_block(text_template, "subject", context).split())
    text = _block(text_template, "body", context)
    html = env.get_template(f"email/{kind}.html").render(subject=subject, **context)
    return RenderedEmail(subject=subject, text=text, html=html)


def _block(template, name: str, context: dict[str, Any]) -> str:
    """One block of a template, rendered on its own."""
    return "".join(template.blocks[name](template.new_context(context)))


def _environment() -> Environment:
    """The app's email environment: its own filters, HTML escaped, missing keys refused."""
    env = current_app.extensions.get("booking.email_templates")
    if env is None:
        folder = Path(current_app.root_path, current_app.template_folder or "templates")
        env = Environment(
            loader=FileSystemLoader(folder),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )
        env.filters.update(FILTERS)
        env.globals.update(GLOBALS)
        current_app.extensions["booking.email_templates"] = env
    return env
