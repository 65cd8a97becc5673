"""The two transports against the real thing: aiosmtpd on loopback (plain, STARTTLS
with AUTH, implicit TLS) and a Maildir on disk."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from portal.mail import compose
from portal.mail.interfaces import DeliveryError, IMailConnection, IMailTransport
from portal.mail.transports import (
    MaildirConnection,
    MaildirTransport,
    SMTPConnection,
    SMTPTransport,
    transport_from_settings,
)
from tests.smtpserver import LoopbackSMTP

NOW = dt.datetime(2026, 3, 2, 0, 0, tzinfo=dt.UTC)


def message(to: list[str], subject: str = "诉求受理回执：第20260302000001号") -> bytes:
    return compose.build(
        sender=compose.format_address("企政通", "noreply@qzt.example.gov.cn"),
        to=to,
        subject=subject,
        text="您好，您的诉求已受理。",
        html="<p>您好，您的诉求已<strong>受理</strong>。</p>",
        attachments=[],
        message_id="<receipt-1@qzt.example.gov.cn>",
        date=NOW,
    ).as_bytes()


def smtp(server: LoopbackSMTP, **kw: Any) -> SMTPTransport:
    return SMTPTransport("127.0.0.1", server.port, timeout=5, **kw)


def test_both_transports_conform_to_the_interfaces():
    from zope.interface.verify import verifyClass

    for cls in (SMTPTransport, MaildirTransport):
        assert verifyClass(IMailTransport, cls)
    for cls in (SMTPConnection, MaildirConnection):
        assert verifyClass(IMailConnection, cls)


def test_settings_choose_the_transport(tmp_path):
    base = {
        "here": str(tmp_path),
        "qzt.mail.maildir": "var/maildir",
        "qzt.mail.smtp.host": "relay.example.gov.cn",
        "qzt.mail.smtp.port": 587,
        "qzt.mail.smtp.security": "starttls",
        "qzt.mail.smtp.user": "qzt",
        "qzt.mail.smtp.password": "secret",
        "qzt.mail.smtp.timeout": 7,
        "qzt.mail.smtp.cafile": "",
    }
    maildir = transport_from_settings({**base, "qzt.mail.transport": "maildir"})
    assert isinstance(maildir, MaildirTransport)
    assert maildir.path == os.path.join(str(tmp_path), "var/maildir")
    relay = transport_from_settings({**base, "qzt.mail.transport": "smtp"})
    assert isinstance(relay, SMTPTransport)
    assert (relay.host, relay.port, relay.security, relay.timeout) == (
        "relay.example.gov.cn",
        587,
        "starttls",
        7,
    )
    with pytest.raises(ValueError, match=r"qzt\.mail\.transport"):
        transport_from_settings({**base, "qzt.mail.transport": "pigeon"})
    with pytest.raises(ValueError, match="security"):
        SMTPTransport("h", 25, security="tls-please")


# -- SMTP -------------------------------------------------------------------------------
def test_smtp_delivers_the_bytes_with_chinese_headers_intact(smtpd):
    connection = smtp(smtpd).open()
    try:
        refused = connection.send(
            "noreply@qzt.example.gov.cn",
            ["zhang@example.cn"],
            message(["张伟 <zhang@example.cn>"]),
            "k",
        )
    finally:
        connection.close()
    assert refused == {}
    [got] = smtpd.received
    assert got.mail_from == "noreply@qzt.example.gov.cn"
    assert got.rcpt_tos == ["zhang@example.cn"]
    msg = got.message
    assert msg["Subject"] == "诉求受理回执：第20260302000001号"
    assert msg["From"].addresses[0].display_name == "企政通"
    assert msg["To"].addresses[0].display_name == "张伟"
    assert msg["Message-ID"] == "<receipt-1@qzt.example.gov.cn>"
    # headers travel RFC 2047-encoded: plain ASCII on the wire; lines end in CRLF
    assert got.data.split(b"\r\n\r\n", 1)[0].isascii()
    assert b"\n" not in got.data.replace(b"\r\n", b"")
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert isinstance(text, EmailMessage)
    assert isinstance(html, EmailMessage)
    assert text.get_content().strip() == "您好，您的诉求已受理。"
    assert "<strong>受理</strong>" in html.get_content()


def test_smtp_server_down_is_a_broken_transient_error(smtpd):
    smtpd.stop()
    with pytest.raises(DeliveryError) as caught:
        smtp(smtpd).open()
    assert caught.value.broken
    assert not caught.value.permanent
    assert "ConnectionRefused" in str(caught.value)


def test_a_permanently_refused_recipient_is_permanent_a_busy_one_is_not(smtpd):
    smtpd.handler.rcpt_replies["gone@example.cn"] = "550 5.1.1 no such user"
    smtpd.handler.rcpt_replies["full@example.cn"] = "452 4.2.2 mailbox full"
    connection = smtp(smtpd).open()
    try:
        with pytest.raises(DeliveryError) as gone:
            connection.send("a@qzt.cn", ["gone@example.cn"], message(["gone@example.cn"]), "1")
        assert gone.value.permanent
        assert not gone.value.broken
        assert "550" in str(gone.value)
        with pytest.raises(DeliveryError) as full:
            connection.send("a@qzt.cn", ["full@example.cn"], message(["full@example.cn"]), "2")
        assert not full.value.permanent
        # the session survives a refused message: the next one goes through
        refused = connection.send(
            "a@qzt.cn",
            ["ok@example.cn", "full@example.cn"],
            message(["ok@example.cn", "full@example.cn"]),
            "3",
        )
    finally:
        connection.close()
    assert refused == {"full@example.cn": 452}
    assert [r.rcpt_tos for r in smtpd.received] == [["ok@example.cn"]]


def test_data_refused_4xx_is_retried_5xx_is_final(smtpd):
    connection = smtp(smtpd).open()
    try:
        smtpd.handler.data_reply = "451 4.3.0 try again later"
        with pytest.raises(DeliveryError) as later:
            connection.send("a@qzt.cn", ["b@example.cn"], message(["b@example.cn"]), "1")
        assert not later.value.permanent
        smtpd.handler.data_reply = "554 5.6.0 rejected"
        with pytest.raises(DeliveryError) as never:
            connection.send("a@qzt.cn", ["b@example.cn"], message(["b@example.cn"]), "2")
        assert never.value.permanent
    finally:
        connection.close()
    assert smtpd.received == []


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: Any) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (PEM cert, PEM key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "qzt test relay")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
        .not_valid_after(dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "relay.pem", folder / "relay.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


def _server_context(certificate: tuple[str, str]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture
def tls_relay(certificate: tuple[str, str]) -> Iterator[LoopbackSMTP]:
    logins: list[tuple[str, str]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
        login, password = auth.login.decode(), auth.password.decode()
        logins.append((login, password))
        ok = (login, password) == ("qzt", "Secret-password-9")
        return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535

    server = LoopbackSMTP(
        tls_context=_server_context(certificate),
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    ).start()
    server.logins = logins  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()


def test_starttls_with_login_against_a_relay_with_a_private_ca(tls_relay, certificate):
    transport = smtp(
        tls_relay,
        security="starttls",
        user="qzt",
        password="Secret-password-9",
        cafile=certificate[0],
    )
    connection = transport.open()
    try:
        connection.send("a@qzt.cn", ["b@example.cn"], message(["b@example.cn"]), "1")
    finally:
        connection.close()
    assert tls_relay.logins == [("qzt", "Secret-password-9")]
    assert len(tls_relay.received) == 1


def test_an_unverifiable_certificate_or_a_wrong_password_is_refused(tls_relay, certificate):
    with pytest.raises(DeliveryError, match="535"):
        smtp(
            tls_relay, security="starttls", user="qzt", password="wrong", cafile=certificate[0]
        ).open()
    with pytest.raises(DeliveryError, match="CERTIFICATE_VERIFY_FAILED"):
        smtp(tls_relay, security="starttls", user="qzt", password="x").open()
    assert tls_relay.received == []


def test_starttls_is_required_when_asked_for(smtpd):
    # A relay that offers no STARTTLS: refuse rather than send in clear.
    with pytest.raises(DeliveryError, match="STARTTLS"):
        smtp(smtpd, security="starttls").open()


def test_implicit_tls(certificate):
    server = LoopbackSMTP(ssl_context=_server_context(certificate)).start()
    try:
        connection = smtp(server, security="ssl", cafile=certificate[0]).open()
        try:
            connection.send("a@qzt.cn", ["b@example.cn"], message(["b@example.cn"]), "1")
        finally:
            connection.close()
        assert len(server.received) == 1
    finally:
        server.stop()


# -- Maildir ----------------------------------------------------------------------------
def test_maildir_stores_a_message_once_however_often_it_is_sent(tmp_path):
    transport = MaildirTransport(str(tmp_path / "maildir"))
    connection = transport.open()
    raw = message(["b@example.cn"])
    assert connection.send("a@qzt.cn", ["b@example.cn"], raw, "7<m@x>") == {}
    assert connection.send("a@qzt.cn", ["b@example.cn"], raw, "7<m@x>") == {}
    new = os.listdir(tmp_path / "maildir" / "new")
    assert len(new) == 1
    assert (tmp_path / "maildir" / "new" / new[0]).read_bytes() == raw
    assert os.listdir(tmp_path / "maildir" / "tmp") == []
    # a mail reader moved it to cur/ and marked it seen: still delivered
    os.rename(
        tmp_path / "maildir" / "new" / new[0], tmp_path / "maildir" / "cur" / (new[0] + ":2,S")
    )
    connection.send("a@qzt.cn", ["b@example.cn"], raw, "7<m@x>")
    assert os.listdir(tmp_path / "maildir" / "new") == []
    # another message is another file
    connection.send("a@qzt.cn", ["b@example.cn"], raw, "8<n@x>")
    assert len(os.listdir(tmp_path / "maildir" / "new")) == 1


def test_an_unwritable_maildir_is_a_transient_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(DeliveryError) as caught:
        MaildirTransport(str(blocker / "maildir")).open()
    assert caught.value.broken
    assert not caught.value.permanent
