"""SMTP submission to the MSSanté operator over mutual TLS; failures become `ChannelError`s.

One connection per message, in a worker thread (smtplib blocks). Where the conversation
broke decides the error: before the end of the content is handed over, a retry is safe
(temporary); after it, the server may have the message (uncertain), so it is never re-sent
automatically. Reply codes to the message's own commands follow SMTP: 4xx temporary, 5xx
permanent. Error texts never carry the recipient's address (the server's reply is redacted).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import smtplib
import ssl
from enum import Enum

from fmt_plugin.errors import (
    ChannelError,
    PermanentChannelError,
    TemporaryChannelError,
    UncertainDeliveryError,
)
from fmt_plugin.mssante.settings import MssanteSettings
from fmt_plugin.mssante.tls import ClientCertificateError, client_ssl_context

CHANNEL_NAME = "mssante"
_REPLY_CHARS = 200
# OpenSSL alert names meaning "the server did not accept our client certificate".
_CLIENT_CERT_ALERTS = ("CERTIFICATE", "UNKNOWN_CA", "ACCESS_DENIED")
_LINE_START_DOT = re.compile(rb"(?m)^\.")


class Step(Enum):
    """Where a submission is; its value names it in error messages."""

    CONNECT = "la connexion"
    TLS = "l'ouverture de la session TLS"
    MAIL = "MAIL FROM"
    RCPT = "RCPT TO"
    DATA = "DATA"
    CONTENT = "l'envoi du message"
    #: The whole content, final "." included, is with the system: the server may act on it.
    HANDED_OVER = "l'attente de la réponse au message"


class _Conversation:
    """One connection's progress, so a failure can tell a safe retry from an uncertain one."""

    def __init__(self) -> None:
        self.step = Step.CONNECT
        self.client: smtplib.SMTP | None = None


class MssanteTransport:
    """Submits already composed messages to the server of `settings`."""

    def __init__(
        self, settings: MssanteSettings, *, channel: str = CHANNEL_NAME
    ) -> None:
        self.settings = settings
        self.channel = channel

    def __repr__(self) -> str:
        return f"MssanteTransport({self.settings.host}:{self.settings.port})"

    async def submit(self, data: bytes, *, sender: str, recipient: str) -> None:
        """`submit_blocking` in a worker thread, so the event loop keeps serving."""
        await asyncio.to_thread(
            self.submit_blocking, data, sender=sender, recipient=recipient
        )

    def submit_blocking(self, data: bytes, *, sender: str, recipient: str) -> None:
        """Submit `data` (a message with CRLF line ends) from `sender` to `recipient`.

        Returns once the server accepted it (250 after the content). Raises
        `TemporaryChannelError` (certificates, connection, TLS, 4xx, timeout before the
        content was handed over), `PermanentChannelError` (5xx to MAIL, RCPT, DATA or the
        content) or `UncertainDeliveryError` (the connection broke after the content was
        handed over). The connection is closed in every case.
        """
        context = self._context()
        talk = _Conversation()
        try:
            client = self._open(talk, context)
            self._transaction(talk, client, data, sender, recipient)
        except ChannelError:
            raise
        except smtplib.SMTPResponseException as exc:
            # Greeting, EHLO or STARTTLS refused: the server or our setup, not this message.
            reply = _reply(exc.smtp_error, recipient)
            raise self._temporary(
                f"refus du serveur pendant {talk.step.value} ({reply})", exc.smtp_code
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:  # SMTPException is an OSError
            raise self._broken(exc, talk.step) from exc
        finally:
            if talk.client is not None:
                talk.client.close()

    def _context(self) -> ssl.SSLContext:
        """A fresh context per connection, so a renewed certificate is used without restart."""
        settings = self.settings
        try:
            return client_ssl_context(
                ca_file=settings.ca_file,
                client_cert=settings.client_cert,
                client_key=settings.client_key,
                passphrase=settings.client_key_passphrase,
            )
        except ClientCertificateError as exc:
            raise self._temporary(exc.reason) from exc

    def _open(self, talk: _Conversation, context: ssl.SSLContext) -> smtplib.SMTP:
        """Connect, secure the session and greet: a client ready for MAIL (also in `talk`)."""
        settings = self.settings
        if settings.tls == "implicit":
            talk.step = Step.TLS
            talk.client = smtplib.SMTP_SSL(
                settings.host,
                settings.port,
                timeout=settings.timeout_s,
                context=context,
            )
        else:
            talk.client = smtplib.SMTP(
                settings.host, settings.port, timeout=settings.timeout_s
            )
            talk.client.ehlo()
            if not talk.client.has_extn("starttls"):
                raise self._temporary("le serveur ne propose pas STARTTLS")
            talk.step = Step.TLS
            talk.client.starttls(context=context)
        # With TLS 1.3 the server checks our certificate after the handshake: a refusal
        # shows on this first exchange, which is why it still counts as the TLS step.
        code, text = talk.client.ehlo()
        if code != 250:
            raise smtplib.SMTPResponseException(code, text)
        return talk.client

    def _transaction(
        self,
        talk: _Conversation,
        client: smtplib.SMTP,
        data: bytes,
        sender: str,
        recipient: str,
    ) -> None:
        talk.step = Step.MAIL
        self._expect(talk.step, client.mail(sender), (250,), recipient)
        talk.step = Step.RCPT
        self._expect(talk.step, client.rcpt(recipient), (250, 251), recipient)
        talk.step = Step.DATA
        self._expect(talk.step, client.docmd("DATA"), (354,), recipient)
        talk.step = Step.CONTENT
        client.send(dot_stuffed(data))
        talk.step = Step.HANDED_OVER
        self._expect(talk.step, client.getreply(), (250,), recipient)
        # Accepted: QUIT is a courtesy whose failure changes nothing.
        with contextlib.suppress(smtplib.SMTPException, OSError):
            client.quit()

    def _expect(
        self,
        step: Step,
        answer: tuple[int, bytes],
        accepted: tuple[int, ...],
        recipient: str,
    ) -> None:
        code, text = answer
        if code in accepted:
            return
        what = f"réponse à {step.value} : {_reply(text, recipient)}"
        if step is Step.HANDED_OVER:
            what = f"réponse au message : {_reply(text, recipient)}"
        if 500 <= code < 600:
            refused = "destinataire refusé" if step is Step.RCPT else "message refusé"
            raise PermanentChannelError(self.channel, f"{refused} ({what})", code=code)
        if 400 <= code < 500:
            raise self._temporary(f"refus temporaire ({what})", code)
        if step is Step.HANDED_OVER:
            raise UncertainDeliveryError(
                self.channel,
                f"réponse incompréhensible après l'envoi du message ({what}) : "
                "il a peut-être été reçu, il ne sera pas renvoyé automatiquement",
            )
        raise self._temporary(
            f"réponse inattendue ({what})", code if code > 0 else None
        )

    def _broken(self, exc: OSError, step: Step) -> ChannelError:
        """The error for a conversation that broke on `exc` during `step`."""
        if step is Step.HANDED_OVER:
            return UncertainDeliveryError(
                self.channel,
                "connexion perdue après l'envoi du message, avant la réponse du "
                "serveur : il l'a peut-être reçu, il ne sera pas renvoyé automatiquement",
            )
        tls = _ssl_error(exc)
        if isinstance(tls, ssl.SSLCertVerificationError):
            why = tls.verify_message or tls.reason
            return self._temporary(
                f"certificat du serveur refusé ({why}) : vérifier ca_file et host"
            )
        if tls is not None and any(
            a in (tls.reason or "") for a in _CLIENT_CERT_ALERTS
        ):
            return self._temporary(
                f"le serveur a refusé le certificat client ({tls.reason})"
            )
        if tls is not None:
            return self._temporary(f"échec de la négociation TLS ({tls.reason or tls})")
        if isinstance(exc, TimeoutError) or "timed out" in str(exc):
            return self._temporary(
                f"pas de réponse du serveur en {self.settings.timeout_s:g} s "
                f"pendant {step.value}"
            )
        where = f"{self.settings.host}:{self.settings.port}"
        if step is Step.TLS:
            # The server hung up without saying why: what an operator's TLS terminator
            # does when it does not accept the certificate we presented.
            return self._temporary(
                f"{where} a fermé la connexion pendant {step.value} : certificat client "
                "probablement refusé (vérifier client_cert et client_key)"
            )
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            return self._temporary(
                f"connexion à {where} interrompue pendant {step.value}"
            )
        return self._temporary(
            f"connexion à {where} impossible ({exc.strerror or exc})"
        )

    def _temporary(self, reason: str, code: int | None = None) -> TemporaryChannelError:
        return TemporaryChannelError(self.channel, reason, code=code)


def dot_stuffed(data: bytes) -> bytes:
    """The DATA payload: lines starting with "." doubled (RFC 5321 §4.5.2), then CRLF.CRLF."""
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return _LINE_START_DOT.sub(b"..", data) + b".\r\n"


def _ssl_error(exc: BaseException) -> ssl.SSLError | None:
    """The TLS error behind `exc`, if any (smtplib turns read errors into disconnections)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _reply(text: bytes | str, recipient: str) -> str:
    """The server's reply text on one line, without the recipient's address, shortened."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " ".join(text.split())
    local = recipient.partition("@")[0]
    for secret in (recipient, local):
        # A very short local part would blank out ordinary words; an INS has 15 characters.
        if len(secret) >= 4:
            text = re.sub(re.escape(secret), "…", text, flags=re.IGNORECASE)
    if len(text) > _REPLY_CHARS:
        text = text[: _REPLY_CHARS - 1] + "…"
    return text or "sans texte"
