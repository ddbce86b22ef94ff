"""Incident actions on the store: lifecycle with audit, moving conversations, merge and split,
updates that queue one reply per conversation in its language and channel, retry of failed
deliveries, and the public-reply guard on update texts."""

from __future__ import annotations

import pytest

from tests.conftest import ADMIN
from tests.factories import message
from townsquare.actions import Invalid, PersonalDataInPublicReply
from townsquare.runtime import Runtime
from townsquare.store import accounts, audit, replies
from townsquare.store import conversations as convs
from townsquare.store import incidents as store


def conversations(runtime: Runtime) -> list[str]:
    runtime.pipeline.process(
        [
            message("a", author="u1", text="@acme Netz weg", language="de"),
            message("b", author="u2", text="@acme network down", language="en"),
            message("c", author="u3", text="@acme still down, my number is private", private=True, language="en"),
        ]
    )
    with runtime.db.write() as conn:
        accounts.upsert_account(
            conn, "demo", "acme", {"base_url": "http://demo.test", "api_key": "k", "webhook_secret": "s"}
        )
        return [row["id"] for row in convs.list_conversations(conn, convs.ConversationFilter())[0]]


def test_lifecycle_grouping_merge_split_and_audit(runtime: Runtime) -> None:
    ids = conversations(runtime)
    actions = runtime.incident_actions
    first = actions.create(ADMIN, "Mobile data down", ids[:2])
    second = actions.create(ADMIN, "Duplicate report", ids[2:])
    actions.merge(ADMIN, first, second)
    with runtime.db.read() as conn:
        assert store.get_incident(conn, first)["conversation_count"] == 3  # type: ignore[index]
        assert store.get_incident(conn, second)["merged_into"] == first  # type: ignore[index]
    split = actions.split(ADMIN, first, [ids[0]], "Only Berlin")
    actions.remove_conversations(ADMIN, first, [ids[1]])
    for status in ("monitoring", "resolved", "confirmed"):
        actions.set_status(ADMIN, first, status)
    with pytest.raises(Invalid):
        actions.set_status(ADMIN, first, "exploded")
    with runtime.db.read() as conn:
        assert store.get_incident(conn, split)["conversation_count"] == 1  # type: ignore[index]
        assert store.get_incident(conn, first)["conversation_count"] == 1  # type: ignore[index]
        trail = [e["action"] for e in reversed(audit.entries(conn, target_type="incident", target_id=first))]
    assert trail == [
        "incident.create",
        "incident.merge",
        "incident.split",
        "incident.remove_conversations",
        "incident.status",
        "incident.status",
        "incident.status",
    ]


def test_update_queues_one_reply_per_conversation_in_its_language_and_channel(runtime: Runtime) -> None:
    ids = conversations(runtime)
    actions = runtime.incident_actions
    incident = actions.create(ADMIN, "Mobile data down", ids)
    templates = {"de": "Hallo {name}, wir sind dran: {status_url}", "en": "Hi {name}, we are on it: {status_url}"}
    update = actions.post_update(
        ADMIN, incident, status="identified", body="Engineers are on it.", customer_templates=templates
    )
    with runtime.db.read() as conn:
        queued = [r for cid in ids for r in convs.replies_of(conn, cid)]
        row = store.get_incident(conn, incident)
    assert row is not None and row["status"] == "confirmed" and row["public"]
    assert len(queued) == 3 and {r["incident_update_id"] for r in queued} == {update}
    by_text = {r["text"].split(",")[0]: r for r in queued}
    assert by_text["Hallo User u1"]["visibility"] == "public"
    assert by_text["Hi User u3"]["visibility"] == "private"  # wrote privately, answered privately
    assert all(f"/status/incidents/{incident}" in r["text"] for r in queued)
    # A second post of the same update never answers anyone twice; failed ones can be retried.
    with runtime.db.write() as conn:
        replies.update_reply(conn, queued[0]["id"], status="failed", last_error="gone")
    assert actions.retry_failed(ADMIN, incident) == 1
    with runtime.db.read() as conn:
        assert replies.get_reply(conn, queued[0]["id"])["status"] == "queued"  # type: ignore[index]


def test_update_texts_are_guarded_and_checked(runtime: Runtime) -> None:
    ids = conversations(runtime)
    incident = runtime.incident_actions.create(ADMIN, "Mobile data down", ids)
    with pytest.raises(PersonalDataInPublicReply):
        runtime.incident_actions.post_update(
            ADMIN, incident, status="identified", body="Call +49 151 23456789", customer_templates={"en": "Hi"}
        )
    with pytest.raises(Invalid, match="at least one language"):
        runtime.incident_actions.post_update(ADMIN, incident, status="identified", body="Working on it.")
    with pytest.raises(Invalid, match="status must be"):
        runtime.incident_actions.post_update(ADMIN, incident, status="fixed-ish", body="x", notify_customers=False)


def test_move_between_open_incidents_is_audited_and_refuses_closed_targets(runtime: Runtime) -> None:
    ids = conversations(runtime)
    actions = runtime.incident_actions
    source = actions.create(ADMIN, "Network down", ids)
    target = actions.create(ADMIN, "Billing page broken", [])
    actions.move(ADMIN, source, target, [ids[0]])
    with runtime.db.read() as conn:
        assert store.get_incident(conn, target)["conversation_count"] == 1  # type: ignore[index]
        assert store.get_incident(conn, source)["conversation_count"] == 2  # type: ignore[index]
        [entry] = audit.entries(conn, target_type="incident", target_id=source)[:1]
    assert entry["action"] == "incident.move"
    actions.set_status(ADMIN, target, "resolved")
    with pytest.raises(Invalid):
        actions.move(ADMIN, source, target, [ids[1]])
    with pytest.raises(Invalid):
        actions.move(ADMIN, source, source, [ids[1]])
    with pytest.raises(Invalid, match="choose another incident"):
        actions.move(ADMIN, source, "", [ids[1]])  # the web form sent no target
