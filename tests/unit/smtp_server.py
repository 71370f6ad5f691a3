# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A real SMTP server on a free loopback port (aiosmtpd), for the tests of report_mail: it keeps every mail it
accepts; as asked, it offers STARTTLS (required before anything else) or speaks TLS from the start, with a
self-signed certificate made here (cryptography), and requires a login."""

from __future__ import annotations

import datetime
import email
import email.policy
import ipaddress
import socket
import ssl
from contextlib import contextmanager

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HOST = "127.0.0.1"
USER, PASSWORD = "memops", "s3cret pass"
# the server refuses recipients at this domain, as one refuses unknown users
UNKNOWN_DOMAIN = "@nowhere.invalid"


def free_port():
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def self_signed_certificate(directory):
    """(certificate path, key path) of a self-signed certificate for 127.0.0.1 and localhost, also a CA so that
    it can be its own trust anchor (ca_path)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "memops test SMTP")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                               x509.IPAddress(ipaddress.ip_address(HOST))]), False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                   .sign(key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "smtp.crt", directory / "smtp.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class Mailbox:
    """The aiosmtpd handler: keeps (envelope sender, recipients, parsed message, whether it came over TLS)."""

    def __init__(self):
        self.mails = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd's name)
        if address.endswith(UNKNOWN_DOMAIN):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        # session.ssl tells STARTTLS; the transport, TLS from the start
        tls = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        self.mails.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "message": message,
                           "tls": tls, "authenticated": bool(session.authenticated)})
        return "250 OK queued"


def _authenticate(server, session, envelope, mechanism, auth_data):
    del server, session, envelope, mechanism
    # handled=False: the server answers a refusal with its 535 itself
    return AuthResult(success=auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode(),
                      handled=False)


@contextmanager
def smtp_server(directory=None, security="never", login=False):
    """A running server: yields (mailbox, port, certificate path or None)."""
    context, cert = None, None
    if security != "never":
        cert, key = self_signed_certificate(directory)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
    mailbox = Mailbox()
    options = {}
    if security == "starttls":
        options.update(tls_context=context, require_starttls=True)
    if login:
        options.update(authenticator=_authenticate, auth_required=True, auth_require_tls=security != "never")
    port = free_port()
    controller = Controller(mailbox, hostname=HOST, port=port, ssl_context=context if security == "ssl" else None,
                            server_hostname=HOST, **options)
    controller.start()
    try:
        yield mailbox, port, cert
    finally:
        controller.stop()
