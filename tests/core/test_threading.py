"""Threading rules: replies join their parent's conversation; a customer's next message joins
their running conversation on that network; resolved conversations reopen within the window."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.conftest import ADMIN
from tests.factories import message
from townsquare.clock import utcnow
from townsquare.model import ConversationStatus
from townsquare.runtime import Runtime
from townsquare.store import conversations as convs


def conversation_of(runtime: Runtime, external_id: str) -> dict[str, Any]:
    with runtime.db.read() as conn:
        rows, _ = convs.list_conversations(conn, convs.ConversationFilter(), limit=200)
        for row in rows:
            if any(m["external_id"] == external_id for m in convs.messages_of(conn, row["id"])):
                return row
    raise AssertionError(f"{external_id} not stored")


def test_reply_joins_parent_conversation_even_from_another_author(runtime: Runtime) -> None:
    runtime.pipeline.process([message("root", author="u1")])
    runtime.pipeline.process([message("reply", author="u2", in_reply_to="root", minutes=1)])
    assert conversation_of(runtime, "reply")["id"] == conversation_of(runtime, "root")["id"]


def test_reply_and_parent_in_the_same_batch(runtime: Runtime) -> None:
    runtime.pipeline.process([message("child", author="u2", in_reply_to="root", minutes=1), message("root")])
    assert conversation_of(runtime, "child")["id"] == conversation_of(runtime, "root")["id"]
    assert conversation_of(runtime, "root")["message_count"] == 2


def test_private_message_joins_the_open_public_conversation(runtime: Runtime) -> None:
    runtime.pipeline.process([message("pub", author="u1")])
    runtime.pipeline.process([message("dm", author="u1", private=True, minutes=5, text="my number is ...")])
    conversation = conversation_of(runtime, "dm")
    assert conversation["id"] == conversation_of(runtime, "pub")["id"]
    assert conversation["has_public"] and conversation["has_private"]


def test_other_customers_get_their_own_conversations(runtime: Runtime) -> None:
    runtime.pipeline.process([message("a", author="u1"), message("b", author="u2")])
    assert conversation_of(runtime, "a")["id"] != conversation_of(runtime, "b")["id"]


def test_same_person_on_another_network_is_another_conversation(runtime: Runtime) -> None:
    runtime.pipeline.process([message("a", author="u1", channel="demo"), message("b", author="u1", channel="mastodon")])
    assert conversation_of(runtime, "a")["id"] != conversation_of(runtime, "b")["id"]


def test_resolved_conversation_reopens_within_the_window(runtime: Runtime) -> None:
    runtime.pipeline.process([message("first", author="u1")])
    first = conversation_of(runtime, "first")
    runtime.actions.set_status(ADMIN, first["id"], ConversationStatus.RESOLVED)
    runtime.pipeline.process([message("again", author="u1", minutes=30, private=True)])
    again = conversation_of(runtime, "again")
    assert again["id"] == first["id"]
    assert again["status"] == ConversationStatus.OPEN
    assert again["resolved_at"] is None


def test_after_the_window_a_new_conversation_starts(runtime: Runtime) -> None:
    runtime.settings.reopen_window_hours = 1
    runtime.pipeline.process([message("first", author="u1")])
    first = conversation_of(runtime, "first")
    runtime.actions.set_status(ADMIN, first["id"], ConversationStatus.RESOLVED)
    # Written three hours after the resolution: a new matter, even as a reply in the old thread.
    late = message("late", author="u1", in_reply_to="first").model_copy(
        update={"created_at": utcnow() + timedelta(hours=3)}
    )
    runtime.pipeline.process([late])
    assert conversation_of(runtime, "late")["id"] != first["id"]
    assert conversation_of(runtime, "first")["status"] == ConversationStatus.RESOLVED


def test_customer_answer_moves_pending_back_to_open(runtime: Runtime) -> None:
    runtime.pipeline.process([message("q", author="u1")])
    conversation = conversation_of(runtime, "q")
    runtime.actions.set_status(ADMIN, conversation["id"], ConversationStatus.PENDING)
    runtime.pipeline.process([message("a", author="u1", in_reply_to="q", minutes=2)])
    assert conversation_of(runtime, "a")["status"] == ConversationStatus.OPEN


def test_listening_channels_keep_each_item_apart(runtime: Runtime) -> None:
    from typing import ClassVar

    from townsquare.channels import registry
    from townsquare.channels.base import ChannelLimits, Connector
    from townsquare.model import OutboundReply, SentReceipt

    class Listening(Connector):
        name = "listening"
        title = "Listening"
        limits = ChannelLimits(max_text_length=0, public_replies=False, private_messages=False)
        receives: ClassVar[tuple[str, ...]] = ("poll",)
        groups_by_author = False

        def send(self, reply: OutboundReply) -> SentReceipt:
            raise NotImplementedError

    registry.register(Listening)
    try:
        runtime.pipeline.process(
            [
                message("i1", author="blog", channel="listening"),
                message("i2", author="blog", channel="listening", minutes=5),
            ]
        )
        assert conversation_of(runtime, "i1")["id"] != conversation_of(runtime, "i2")["id"]
    finally:
        registry.unregister("listening")
