"""The admin outbox: what was sent, what waits, what failed; a preview; "retry now"."""

from __future__ import annotations

from typing import Any

from pyramid.httpexceptions import HTTPNotFound, HTTPSeeOther
from pyramid.i18n import get_localizer
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from portal.clock import IClock
from portal.i18n import N_, _
from portal.mail import delivery, queries
from portal.mail.models import FAILED, QUEUED, SENDING, SENT, OutboxMail
from portal.permissions import Permission as Perm

STATE_LABELS = {
    QUEUED: N_("Queued"),
    SENDING: N_("Sending"),
    SENT: N_("Sent"),
    FAILED: N_("Failed"),
}

# The HTML part is shown in a sandboxed frame of its own: no scripts, no forms, no
# same-origin access, styles allowed (mail HTML is styled inline), images only as
# data: URIs (see Preview.html_with_data_images).
PREVIEW_CSP = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
)


def _tpl(name: str) -> str:
    return f"portal:templates/mail/{name}.jinja2"


def _page_number(request: Request) -> int:
    raw = request.params.get("page", "")
    return int(raw) if raw.isdigit() and len(raw) < 7 else 1


@view_config(route_name="admin.mail", renderer=_tpl("outbox"), permission=Perm.ADMIN_MAIL)
def outbox(request: Request) -> dict[str, Any]:
    flt = queries.OutboxFilter.parse(request.params)
    size = request.registry.settings["qzt.page_size"]
    return {
        "page": queries.listing(request.dbsession, flt, _page_number(request), size),
        "filter": flt,
        "kinds": queries.kinds(request.dbsession),
        "counts": delivery.counts(request.dbsession),
        "state_labels": STATE_LABELS,
        "transport": request.registry.settings["qzt.mail.transport"],
    }


@view_config(route_name="admin.mail_detail", renderer=_tpl("message"), permission=Perm.ADMIN_MAIL)
def message(request: Request) -> dict[str, Any]:
    mail: OutboxMail = request.context
    return {
        "mail": mail,
        "preview": queries.preview(mail.raw),
        "state_labels": STATE_LABELS,
        "can_retry": mail.state in (QUEUED, FAILED),
    }


@view_config(route_name="admin.mail_html", permission=Perm.ADMIN_MAIL)
def message_html(request: Request) -> Response:
    mail: OutboxMail = request.context
    html = queries.preview(mail.raw).html_with_data_images()
    if html is None:
        raise HTTPNotFound()
    response = Response(html, content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.cache_control.private = True
    response.cache_control.no_store = True
    return response


@view_config(route_name="admin.mail_raw", permission=Perm.ADMIN_MAIL)
def message_raw(request: Request) -> Response:
    mail: OutboxMail = request.context
    response = Response(mail.raw, content_type="message/rfc822")
    response.content_disposition = f'attachment; filename="outbox-{mail.id}.eml"'
    response.cache_control.private = True
    response.cache_control.no_store = True
    return response


@view_config(route_name="admin.mail_retry", request_method="POST", permission=Perm.ADMIN_MAIL)
def retry(request: Request) -> HTTPSeeOther:
    mail: OutboxMail = request.context
    now = request.find_service(IClock).now()
    localizer = get_localizer(request)
    if delivery.retry_now(request.dbsession, mail.id, now):
        text = localizer.translate(
            _("Message ${id} will be sent on the next pass.", mapping={"id": mail.id})
        )
        request.session.flash(text, "success")
    else:
        text = localizer.translate(
            _("Message ${id} is not waiting or failed; nothing to retry.", mapping={"id": mail.id})
        )
        request.session.flash(text, "error")
    return HTTPSeeOther(request.route_url("admin.mail_detail", id=mail.id))
