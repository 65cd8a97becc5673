"""Where the sender hands messages: an SMTP relay, or a local Maildir (the default).

Both speak :class:`~portal.mail.interfaces.IMailTransport`; ``transport_from_settings``
picks one from ``qzt.mail.transport``. Errors come out as ``DeliveryError`` with two
flags the sender acts on: ``permanent`` (an SMTP 5xx for this message: retrying
cannot help) and ``broken`` (the connection is gone: the rest of the pass waits for
the next one).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import smtplib
import ssl
import uuid
from collections.abc import Sequence
from typing import Any

from zope.interface import implementer

from portal.mail.interfaces import DeliveryError, IMailConnection, IMailTransport

TRANSPORTS = ("maildir", "smtp")
SECURITY = ("none", "starttls", "ssl")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        detail = exc.smtp_error
        text = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
        return f"{exc.smtp_code} {text}"
    return f"{type(exc).__name__}: {exc}"


def _is_8bit(raw: bytes) -> bool:
    return not raw.isascii()


def crlf(raw: bytes) -> bytes:
    """SMTP lines end in CRLF (RFC 5321 §2.3.8); smtplib sends bytes as given, and
    relays hardened against SMTP smuggling refuse bare LF."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


@implementer(IMailConnection)
class SMTPConnection:
    def __init__(self, client: smtplib.SMTP) -> None:
        self.client = client

    def send(
        self, envelope_from: str, recipients: Sequence[str], raw: bytes, key: str
    ) -> dict[str, int]:
        # The composer writes UTF-8 bodies as 8bit; say so where the relay supports
        # it (RFC 6152), as every current one does.
        options = ["BODY=8BITMIME"] if _is_8bit(raw) and self.client.has_extn("8bitmime") else []
        try:
            refused = self.client.sendmail(envelope_from, list(recipients), crlf(raw), options)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            detail = "; ".join(
                f"{rcpt}: {_describe(smtplib.SMTPResponseException(code, msg))}"
                for rcpt, (code, msg) in exc.recipients.items()
            )
            raise DeliveryError(detail, permanent=all(c >= 500 for c in codes)) from exc
        except smtplib.SMTPServerDisconnected as exc:
            raise DeliveryError(_describe(exc), broken=True) from exc
        except smtplib.SMTPResponseException as exc:
            # Sender refused, data refused: about this message; the session goes on
            # (smtplib sent RSET), except after 421, the server's goodbye.
            raise DeliveryError(
                _describe(exc), permanent=exc.smtp_code >= 500, broken=exc.smtp_code == 421
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(_describe(exc), broken=True) from exc
        # Accepted for some, refused for others: the caller retries the refused
        # ones whose refusal was temporary.
        return {rcpt: code for rcpt, (code, _) in refused.items()}

    def close(self) -> None:
        try:
            self.client.quit()
        except (OSError, smtplib.SMTPException):
            self.client.close()


@implementer(IMailTransport)
class SMTPTransport:
    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: str = "none",
        user: str = "",
        password: str = "",
        timeout: float = 30,
        cafile: str = "",
    ) -> None:
        if security not in SECURITY:
            raise ValueError(f"qzt.mail.smtp.security must be one of {SECURITY}: {security!r}")
        self.host = host
        self.port = port
        self.security = security
        self.user = user
        self.password = password
        self.timeout = timeout
        self.cafile = cafile

    def tls_context(self) -> ssl.SSLContext:
        # Verified TLS only: a relay with a private CA is trusted through cafile,
        # never by turning verification off.
        context = ssl.create_default_context()
        if self.cafile:
            context.load_verify_locations(cafile=self.cafile)
        return context

    def open(self) -> SMTPConnection:
        client: smtplib.SMTP | None = None
        try:
            if self.security == "ssl":
                client = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=self.tls_context()
                )
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            client.ehlo()
            if self.security == "starttls":
                if not client.has_extn("starttls"):
                    # Sending the password and the mail in clear instead would be
                    # the downgrade STARTTLS stripping attacks rely on.
                    raise DeliveryError("the SMTP server does not offer STARTTLS", broken=True)
                client.starttls(context=self.tls_context())
                client.ehlo()
            if self.user:
                client.login(self.user, self.password)
        except DeliveryError:
            _close_quietly(client)
            raise
        except (OSError, smtplib.SMTPException) as exc:
            _close_quietly(client)
            raise DeliveryError(_describe(exc), broken=True) from exc
        return SMTPConnection(client)


def _close_quietly(client: smtplib.SMTP | None) -> None:
    if client is not None:
        with contextlib.suppress(OSError):
            client.close()


@implementer(IMailConnection)
class MaildirConnection:
    """Deliver into ``<path>/new`` the Maildir way: write under tmp/, fsync, then link
    into new/ under a name derived from the message, so a second delivery of the
    same message (a sender restarted mid-send) finds it there and stores nothing."""

    def __init__(self, path: str) -> None:
        self.path = path

    @staticmethod
    def filename(key: str) -> str:
        # Maildir names must be unique and free of "/" and ":"; readers move
        # new/NAME to cur/NAME:2,FLAGS, which exists() below also recognises.
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]
        return f"qzt.{digest}.eml"

    def delivered(self, name: str) -> bool:
        if os.path.exists(os.path.join(self.path, "new", name)):
            return True
        return bool(
            glob.glob(os.path.join(glob.escape(self.path), "cur", glob.escape(name) + ":*"))
        )

    def send(
        self, envelope_from: str, recipients: Sequence[str], raw: bytes, key: str
    ) -> dict[str, int]:
        name = self.filename(key)
        if self.delivered(name):
            return {}
        tmp = os.path.join(self.path, "tmp", f"{name}.{os.getpid()}.{uuid.uuid4().hex}")
        try:
            with open(tmp, "xb") as handle:
                handle.write(raw)
                handle.flush()
                os.fsync(handle.fileno())
            # FileExistsError: another sender got there first; it is delivered, once.
            with contextlib.suppress(FileExistsError):
                os.link(tmp, os.path.join(self.path, "new", name))
            _fsync_dir(os.path.join(self.path, "new"))
        except OSError as exc:
            raise DeliveryError(_describe(exc), broken=True) from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        return {}

    def close(self) -> None:
        pass


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@implementer(IMailTransport)
class MaildirTransport:
    name = "maildir"

    def __init__(self, path: str) -> None:
        self.path = path

    def open(self) -> MaildirConnection:
        try:
            for sub in ("tmp", "new", "cur"):
                os.makedirs(os.path.join(self.path, sub), exist_ok=True)
        except OSError as exc:
            raise DeliveryError(_describe(exc), broken=True) from exc
        return MaildirConnection(self.path)


def maildir_path(settings: dict[str, Any]) -> str:
    path = str(settings["qzt.mail.maildir"])
    if os.path.isabs(path):
        return path
    return os.path.join(str(settings.get("here", os.getcwd())), path)


def transport_from_settings(settings: dict[str, Any]) -> IMailTransport:
    kind = settings["qzt.mail.transport"]
    if kind == "maildir":
        return MaildirTransport(maildir_path(settings))
    if kind == "smtp":
        return SMTPTransport(
            settings["qzt.mail.smtp.host"],
            settings["qzt.mail.smtp.port"],
            security=settings["qzt.mail.smtp.security"],
            user=settings["qzt.mail.smtp.user"],
            password=settings["qzt.mail.smtp.password"],
            timeout=settings["qzt.mail.smtp.timeout"],
            cafile=settings["qzt.mail.smtp.cafile"],
        )
    raise ValueError(f"qzt.mail.transport must be one of {TRANSPORTS}: {kind!r}")
