"""An e-mail account's settings: one mailbox read over IMAP, answers sent over SMTP."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from townsquare.channels.base import ConnectorSettings

_ADDRESS = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$|^[^@\s<>\"]+@localhost$")


class EmailSettings(ConnectorSettings):
    imap_host: str = Field(description="IMAP server, e.g. imap.example.com.")
    imap_port: int = Field(default=993, ge=1, le=65535, description="IMAP port: 993 with imap_ssl, else 143.")
    imap_ssl: bool = Field(default=True, description="Implicit TLS for IMAP (port 993).")
    imap_starttls: bool = Field(default=False, description="Upgrade a plain IMAP connection with STARTTLS.")
    smtp_host: str = Field(description="SMTP server for replies, e.g. smtp.example.com.")
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP port: 587 with STARTTLS, 465 with SSL.")
    smtp_starttls: bool = Field(default=True, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_ssl: bool = Field(default=False, description="Implicit TLS for SMTP (port 465); wins over smtp_starttls.")
    smtp_auth: bool = Field(default=True, description="Log in to the SMTP server with username and password.")
    username: str = Field(min_length=1, description="Login for IMAP and SMTP.")
    password: SecretStr = Field(description="Password (or app password).", json_schema_extra={"secret": True})
    from_address: str = Field(description="The company's address replies are sent from, e.g. support@example.com.")
    from_name: str = Field(default="", max_length=200, description="Display name on replies, e.g. 'Acme Support'.")
    folder: str = Field(default="INBOX", min_length=1, description="The folder Townsquare reads.")
    processed: Literal["flag", "move"] = Field(
        default="flag",
        description="What happens to mail once stored: 'flag' marks it \\Seen, 'move' moves it to processed_folder.",
    )
    processed_folder: str = Field(default="Townsquare", min_length=1, description="Target folder of processed=move.")
    sent_folder: str = Field(default="", description="Folder to keep a copy of each reply in (e.g. Sent); empty: none.")
    idle: bool = Field(default=True, description="Wait for new mail with IMAP IDLE when the server offers it.")
    poll_seconds: float = Field(
        default=60.0,
        ge=1,
        description="Pause between checks when IDLE is off or missing; under IDLE the folder "
        "is also re-opened this often, for servers that do not announce every delivery.",
    )

    @field_validator("from_address")
    @classmethod
    def _address(cls, value: str) -> str:
        value = value.strip()
        if not _ADDRESS.match(value):
            raise ValueError("expected an address like support@example.com")
        return value

    @property
    def from_domain(self) -> str:
        return self.from_address.rsplit("@", 1)[1]
