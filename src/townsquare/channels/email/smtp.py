"""Delivery over SMTP, with the server's answers mapped onto the outbox's errors: 4xx and
timeouts are retried, 5xx are not, a refused login needs the account reconnected."""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage

from townsquare.channels.base import DeliveryError, ReconnectRequired
from townsquare.channels.email.settings import EmailSettings

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 30.0
_AUTH_CODES = frozenset({530, 534, 535, 538})


def _refused(code: int, detail: str) -> DeliveryError:
    if code in _AUTH_CODES:
        return ReconnectRequired(f"the SMTP server refused the login ({code} {detail})")
    if 400 <= code < 500:
        return DeliveryError(f"the SMTP server deferred the reply ({code} {detail})", retryable=True)
    return DeliveryError(f"the SMTP server refused the reply ({code} {detail})", retryable=False)


def _text(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return " ".join(text.split())[:300]


def _connect(settings: EmailSettings, timeout: float) -> smtplib.SMTP:
    if settings.smtp_ssl:
        return smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=timeout, context=ssl.create_default_context()
        )
    return smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)


def deliver(
    settings: EmailSettings, message: EmailMessage, recipients: list[str], timeout: float = TIMEOUT_SECONDS
) -> None:
    """Send one message; raises DeliveryError (retryable or not) or ReconnectRequired."""
    client: smtplib.SMTP | None = None
    try:
        client = _connect(settings, timeout)
        client.ehlo()
        if settings.smtp_starttls and not settings.smtp_ssl:
            client.starttls(context=ssl.create_default_context())
            client.ehlo()
        if settings.smtp_auth:
            client.login(settings.username, settings.password.get_secret_value())
        refused = client.send_message(message, from_addr=settings.from_address, to_addrs=recipients)
    except smtplib.SMTPAuthenticationError as error:
        raise ReconnectRequired(f"the SMTP server refused the login ({error.smtp_code})") from error
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _detail in error.recipients.values()]
        detail = "; ".join(_text(text) for _code, text in error.recipients.values())
        # Deferred if any recipient was only deferred: a retry can still reach them.
        raise _refused(min(codes) if codes else 550, detail) from error
    except smtplib.SMTPResponseException as error:
        raise _refused(error.smtp_code, _text(error.smtp_error)) from error
    except smtplib.SMTPNotSupportedError as error:
        raise DeliveryError(
            f"the SMTP server does not support what the settings ask: {error}", retryable=False
        ) from error
    except ssl.SSLCertVerificationError as error:
        raise DeliveryError(f"the SMTP server's certificate is not trusted: {error}", retryable=False) from error
    except smtplib.SMTPException as error:
        # Disconnects mid-dialogue, and "no suitable authentication method": the latter needs the
        # settings fixed, but both are worth another try before the outbox gives up.
        if "authentication" in str(error).lower():
            raise ReconnectRequired(f"SMTP login impossible: {error}") from error
        raise DeliveryError(f"SMTP failed: {error}") from error
    except TimeoutError as error:
        raise DeliveryError("the SMTP server timed out") from error
    except OSError as error:
        raise DeliveryError(f"cannot reach SMTP server {settings.smtp_host}:{settings.smtp_port}: {error}") from error
    finally:
        if client is not None:
            _quit(client)
    if refused:
        log.warning("SMTP server refused %d of %d recipients of a reply", len(refused), len(recipients))


def _quit(client: smtplib.SMTP) -> None:
    # After the DATA was accepted the reply is sent: a failing QUIT must not turn it into a retry
    # (and a duplicate at the customer's).
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()
