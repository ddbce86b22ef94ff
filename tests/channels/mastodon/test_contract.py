"""What the connector sends and parses, checked against Mastodon's own API description
(`../shared/specs/mastodon.openapi.json`, generated from the official docs). A fresh clone
without that folder skips these tests; CI has it."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from tests.channels.mastodon.test_connector import FIXTURES, connector, fixture, reply, sending_server
from tests.conftest import SHARED
from townsquare.channels.mastodon import payloads
from townsquare.model import Visibility

SPEC = SHARED / "specs" / "mastodon.openapi.json"


@cache
def spec() -> dict[str, Any]:
    if not SPEC.exists():
        pytest.skip(f"{SPEC} is absent (a clone without ../shared); CI has it")
    document: dict[str, Any] = json.loads(SPEC.read_text())
    return document


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    # The whole document is the root, so the schema's `#/components/...` references resolve.
    return Draft202012Validator({**spec(), **schema})


def errors(schema: dict[str, Any], instance: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator(schema).iter_errors(instance)]


ENTITY = {"$ref": "#/components/schemas/Notification"}


@pytest.mark.parametrize(
    "name",
    sorted(p.name for p in Path(FIXTURES).glob("notification__*.json") if p.name != "notification__malformed.json"),
)
def test_recorded_notifications_are_valid_mastodon_entities(name: str) -> None:
    document = fixture(name)
    if document.get("status"):
        # mastodon-mock synthesizes link preview cards that lack fields Mastodon requires; the
        # connector never reads cards, so the check leaves them out.
        document["status"]["card"] = None
    assert errors(ENTITY, document) == []


def test_the_malformed_fixture_is_invalid_by_the_spec_too() -> None:
    assert errors(ENTITY, fixture("notification__malformed.json"))


def test_recorded_created_status_is_a_valid_status() -> None:
    assert errors({"$ref": "#/components/schemas/Status"}, fixture("status__created.json")) == []


@pytest.mark.parametrize(
    ("model", "entity"),
    [
        (payloads.Account, "Account"),
        (payloads.Status, "Status"),
        (payloads.Notification, "Notification"),
        (payloads.Mention, "Status/properties/mentions/items"),
        (payloads.MediaAttachment, "MediaAttachment"),
        (payloads.NotificationPolicy, "NotificationPolicy"),
    ],
)
def test_every_field_the_connector_reads_is_documented(model: type[BaseModel], entity: str) -> None:
    schema: dict[str, Any] = spec()["components"]["schemas"]
    for part in entity.split("/"):
        schema = schema[part]
    if "$ref" in schema:
        schema = spec()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    assert set(model.model_fields) <= set(schema["properties"])
    # What the spec requires, the models must not make optional in a way that changes meaning:
    # the ids the connector threads and deduplicates by are required on both sides.
    assert "id" not in model.model_fields or "id" in schema.get("required", ["id"])


def test_reply_bodies_match_the_create_status_request() -> None:
    operation = spec()["paths"]["/api/v1/statuses"]["post"]
    body_schema = operation["requestBody"]["content"]["application/json"]["schema"]
    handler, sent = sending_server()
    mastodon = connector(handler)
    mastodon.send(reply(Visibility.PUBLIC))
    mastodon.send(reply(Visibility.PRIVATE))
    for request in sent:
        body = json.loads(request.content)
        assert errors(body_schema, body) == []
        visibility = spec()["components"]["schemas"]["BaseStatus"]["properties"]["visibility"]
        assert body["visibility"] in json.dumps(visibility)
        assert "Idempotency-Key" in {p["name"] for p in operation["parameters"]}
        assert request.headers["Idempotency-Key"] == "r-123"


def test_notification_queries_use_documented_parameters() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[])

    connector(handler).poll("100")
    documented = {p["name"] for p in spec()["paths"]["/api/v1/notifications"]["get"]["parameters"]}
    for request in seen:
        assert {name.removesuffix("[]") for name in request.url.params} <= documented
    assert "/api/v1/streaming/user" in spec()["paths"]
    assert "/api/v2/notifications/policy" in spec()["paths"]
