"""Files in a conversation: uploaded over HTTP with the portal's upload checks, then
announced in the chat.

The websocket carries no files: the widget uploads here (size checked against
Content-Length before the body is read, content against the extension, zip bombs
refused, stored under a random key outside the web root), gets the attachment's id,
and sends a ``chat.send`` of kind ``attachment`` naming it. Downloads go through a
permission check against the conversation, always as a download with nosniff.
"""

from __future__ import annotations

from typing import Any

from pyramid.csrf import check_csrf_origin, check_csrf_token
from pyramid.request import Request
from pyramid.response import FileResponse
from pyramid.view import view_config

from portal.chat.models import ChatAttachment, Conversation
from portal.chat.views import close_body, done, refused, translate
from portal.clock import IClock
from portal.content.files import IFileStorage, accept_upload
from portal.errors import InputError
from portal.i18n import N_
from portal.permissions import Permission as Perm
from portal.web import stored_file

#: room for the multipart envelope around the file itself
MULTIPART_ALLOWANCE = 16 * 1024


def store(request: Request, conv: Conversation, filename: str, stream: Any) -> ChatAttachment:
    """Keep an uploaded file for ``conv``, or raise InputError (nothing is kept then)."""
    storage = request.find_service(IFileStorage)
    limit = int(request.registry.settings["qzt.upload.max_bytes"])
    upload = accept_upload(storage, filename, stream, limit)
    attachment = ChatAttachment(
        id=upload.key,
        conversation_id=conv.id,
        uploaded_by_id=request.user.id,
        filename=upload.filename,
        media_type=upload.media_type,
        size=upload.size,
        sha256=upload.sha256,
        created_at=request.find_service(IClock).now(),
    )
    request.dbsession.add(attachment)
    request.dbsession.flush()
    return attachment


# The CSRF check comes after the size check (as for content attachments): Pyramid's own
# check reads request.POST, which would parse and spool an oversize body first.
@view_config(
    route_name="chat.upload",
    request_method="POST",
    permission=Perm.CHAT_POST,
    require_csrf=False,
)
def upload(context: Conversation, request: Request) -> Any:
    back = request.route_path("chat.conversation", id=context.id)
    limit = int(request.registry.settings["qzt.upload.max_bytes"])
    length = request.content_length
    if length is None or length > limit + MULTIPART_ALLOWANCE:
        error = InputError("upload", "The file is larger than ${limit} MB.", limit=limit >> 20)
        return refused(request, error, back, status=413)
    check_csrf_origin(request, raises=True)
    request.add_finished_callback(close_body)
    check_csrf_token(request, raises=True)
    upload = request.POST.get("upload")
    if not hasattr(upload, "file"):
        return refused(request, InputError("upload", "Choose a file to upload."), back)
    savepoint = request.dbsession.begin_nested()
    try:
        attachment = store(request, context, upload.filename or "", upload.file)
    except InputError as error:
        savepoint.rollback()
        return refused(request, error, back)
    finally:
        upload.file.close()
    savepoint.commit()
    data = attachment.as_json()
    data["url"] = request.route_path(
        "chat.attachment", id=attachment.id, filename=attachment.filename
    )
    return done(request, translate(request, N_("The file was uploaded.")), back, attachment=data)


@view_config(route_name="chat.attachment", request_method="GET", permission=Perm.CHAT_VIEW)
def download(context: ChatAttachment, request: Request) -> FileResponse:
    return stored_file(request, context.id, context.filename, context.media_type)
