"""The signed visitor token: issued and verified; forged, altered, foreign and expired ones refused."""

from __future__ import annotations

import pytest
from itsdangerous import URLSafeTimedSerializer

from townsquare.channels.webchat.tokens import (
    SALT,
    InvalidVisitorToken,
    Visitor,
    VisitorTokens,
    new_visitor_id,
    split_external_id,
)

SECRET = "secret-key-for-tokens-0123456789"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def test_round_trip_keeps_identity_and_profile() -> None:
    tokens = VisitorTokens(SECRET)
    visitor = Visitor("acme", new_visitor_id(), name="<b>Mallory</b>", email="m@example.com")
    assert tokens.verify("acme", tokens.issue(visitor)) == visitor


def test_visitor_ids_are_random_and_url_safe() -> None:
    ids = {new_visitor_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 24 and ":" not in i for i in ids)


def test_external_id_splits_on_the_last_colon() -> None:
    visitor = Visitor("shop:de", new_visitor_id())
    assert split_external_id(visitor.external_id) == ("shop:de", visitor.id)


def test_token_signed_with_another_key_is_refused() -> None:
    forged = VisitorTokens("somebody-elses-key-0123456789").issue(Visitor("acme", new_visitor_id()))
    with pytest.raises(InvalidVisitorToken, match="not one this server signed"):
        VisitorTokens(SECRET).verify("acme", forged)


def test_altered_token_is_refused() -> None:
    tokens = VisitorTokens(SECRET)
    token = tokens.issue(Visitor("acme", new_visitor_id()))
    _payload, _, rest = token.partition(".")
    other = tokens.issue(Visitor("acme", new_visitor_id())).partition(".")[0]
    with pytest.raises(InvalidVisitorToken):
        tokens.verify("acme", f"{other}.{rest}")  # another visitor's claims under this signature
    with pytest.raises(InvalidVisitorToken):
        tokens.verify("acme", token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
    with pytest.raises(InvalidVisitorToken):
        tokens.verify("acme", "not-a-token")
    with pytest.raises(InvalidVisitorToken):
        tokens.verify("acme", "")
    with pytest.raises(InvalidVisitorToken):
        tokens.verify("acme", "x" * 5000)


def test_token_of_another_account_is_refused() -> None:
    tokens = VisitorTokens(SECRET)
    token = tokens.issue(Visitor("acme", new_visitor_id()))
    with pytest.raises(InvalidVisitorToken, match="another chat account"):
        tokens.verify("globex", token)


def test_session_cookie_signer_cannot_make_a_visitor_token() -> None:
    # Same secret key, other salt (as the session middleware and any other signer use).
    other = URLSafeTimedSerializer(SECRET, salt="cookie-session").dumps({"a": "acme", "v": new_visitor_id()})
    with pytest.raises(InvalidVisitorToken):
        VisitorTokens(SECRET).verify("acme", other)


def test_well_signed_but_malformed_claims_are_refused() -> None:
    bad = URLSafeTimedSerializer(SECRET, salt=SALT).dumps({"a": "acme", "v": "short", "admin": True})
    with pytest.raises(InvalidVisitorToken, match="malformed"):
        VisitorTokens(SECRET).verify("acme", bad)


def test_expired_token_is_refused() -> None:
    clock = Clock()
    tokens = VisitorTokens(SECRET, max_age_seconds=3600, clock=clock)
    token = tokens.issue(Visitor("acme", new_visitor_id()))
    clock.now += 3599
    tokens.verify("acme", token)
    clock.now += 2
    with pytest.raises(InvalidVisitorToken, match="expired"):
        tokens.verify("acme", token)
