"""Sending a message: e-mail through an SMTP server, or a JSON POST to a chat webhook.

A webhook's payload is what Slack's and Microsoft Teams' incoming webhooks take (`slack`: `text`;
`teams`: a MessageCard), or the alert as data (`json`) for anything else. Every send is bounded
by the settings' timeout; a failure raises `SendError` in words, for the engine to report and retry.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Literal

from platform_core.settings import SMTP_PASSWORD_VARIABLE, AlertSettings, secret


class SendError(Exception):
    """A message did not go: the server refused it or did not answer."""


@dataclass(frozen=True)
class Recipient:
    channel: Literal["email", "webhook"]
    address: str  # an e-mail address, or `<domain>/<webhook name>`
    url_variable: str | None = None  # a webhook's: the environment variable holding its URL
    format: Literal["slack", "teams", "json"] = "slack"

    @property
    def key(self) -> str:
        return f"{self.channel}:{self.address}"


@dataclass(frozen=True)
class Message:
    subject: str
    text: str  # plain text, the whole message
    data: dict[str, object]  # the same as data, for `json` webhooks


def send(recipient: Recipient, message: Message, settings: AlertSettings) -> None:
    if recipient.channel == "email":
        send_email(recipient.address, message, settings)
    else:
        post_webhook(recipient, message, settings)


def send_email(to: str, message: Message, settings: AlertSettings) -> None:
    if settings.smtp_host is None:
        raise SendError("no mail server: set MESH_SMTP_HOST (and MESH_SMTP_PORT, MESH_SMTP_FROM) to send e-mail")
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = settings.smtp_from, to, message.subject
    mail.set_content(message.text)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.timeout_seconds) as server:
            if settings.smtp_starttls:
                server.starttls(context=ssl.create_default_context())
            password = secret(SMTP_PASSWORD_VARIABLE)
            if settings.smtp_user and password:
                server.login(settings.smtp_user, password)
            server.send_message(mail)
    except (OSError, smtplib.SMTPException) as error:
        where = f"{settings.smtp_host}:{settings.smtp_port}"
        raise SendError(f"the mail server {where} did not take it ({type(error).__name__}: {error})") from None


def post_webhook(recipient: Recipient, message: Message, settings: AlertSettings) -> None:
    url = secret(recipient.url_variable or "")
    if not url:
        raise SendError(f"webhook {recipient.address}: {recipient.url_variable} is not set in the environment")
    body = json.dumps(payload(recipient.format, message)).encode("utf-8")
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=settings.timeout_seconds) as answer:
            answer.read()
    except (OSError, urllib.error.URLError) as error:  # an HTTP error status is a URLError too
        raise SendError(f"webhook {recipient.address} did not take it ({type(error).__name__}: {error})") from None


def payload(kind: Literal["slack", "teams", "json"], message: Message) -> dict[str, object]:
    if kind == "slack":
        return {"text": f"*{message.subject}*\n{message.text}"}
    if kind == "teams":
        return {
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": message.subject,
            "title": message.subject,
            "text": message.text.replace("\n", "  \n"),  # Teams' markdown breaks a line on two spaces
        }
    return {"subject": message.subject, "text": message.text, **message.data}
