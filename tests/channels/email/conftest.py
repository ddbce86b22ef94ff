"""Fixtures of the e-mail tests: the real SMTP and IMAP servers, once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.channels.email.mailservers import MailServers, MailUser, PeerUnavailable
from tests.conftest import unavailable
from townsquare.channels.email.settings import EmailSettings


@pytest.fixture(scope="session")
def mail_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailServers]:
    servers = MailServers(tmp_path_factory.mktemp("mail"))
    try:
        servers.start()
    except PeerUnavailable as error:
        servers.stop()
        unavailable(str(error))
    yield servers
    servers.stop()


@pytest.fixture
def company(mail_servers: MailServers) -> MailUser:
    return mail_servers.user("support")


@pytest.fixture
def customer(mail_servers: MailServers) -> MailUser:
    return mail_servers.user("lena", domain="example.net")


def account_settings(servers: MailServers, company: MailUser, **overrides: object) -> EmailSettings:
    values: dict[str, object] = {
        "imap_host": "127.0.0.1",
        "imap_port": servers.imap_port,
        "imap_ssl": False,
        "smtp_host": "127.0.0.1",
        "smtp_port": servers.smtp_port,
        "smtp_starttls": False,
        "username": company.name,
        "password": company.password,
        "from_address": company.address,
        "from_name": "Acme Support",
        "poll_seconds": 1,
    }
    values.update(overrides)
    return EmailSettings.model_validate(values)
