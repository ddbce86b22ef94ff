"""Incident actions: the lifecycle (suspected → confirmed → monitoring → resolved), grouping by
hand (move in or out, merge, split), and public updates that answer every affected customer in
their own channel and language and post on the company's accounts. All audited and evented."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from townsquare.actions.base import Actor, Forbidden, Invalid, NotFound, PersonalDataInPublicReply
from townsquare.clock import utcnow
from townsquare.config import Settings
from townsquare.events import Event, EventHub
from townsquare.incidents import response
from townsquare.model import Role
from townsquare.store import audit
from townsquare.store import incidents as store
from townsquare.store.db import Database

if TYPE_CHECKING:
    from townsquare.triage import CustomPattern

LIFECYCLE = ("suspected", "confirmed", "monitoring", "resolved")
UPDATE_STATUSES = ("investigating", "identified", "monitoring", "resolved")
# What a public update says about the incident's own state.
STATUS_OF_UPDATE = {
    "investigating": "confirmed",
    "identified": "confirmed",
    "monitoring": "monitoring",
    "resolved": "resolved",
}
IMPACTS = ("none", "minor", "major", "critical")
COMPONENT_STATUSES = ("operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance")


class IncidentActions:
    def __init__(self, db: Database, events: EventHub, settings: Settings) -> None:
        self.db = db
        self.events = events
        self.settings = settings

    @staticmethod
    def _require(actor: Actor, role: Role) -> None:
        if not actor.can(role):
            raise Forbidden(f"this needs the {role.value} role; you are {actor.role.value}")

    @staticmethod
    def _incident(conn: Connection, incident_id: str) -> dict[str, Any]:
        incident = store.get_incident(conn, incident_id)
        if incident is None or incident["merged_into"]:
            raise NotFound(f"incident {incident_id} not found")
        return incident

    @staticmethod
    def _audit(conn: Connection, actor: Actor, action: str, incident_id: str, **details: Any) -> None:
        audit.record(
            conn,
            actor_id=actor.id,
            actor_label=actor.label,
            action=action,
            target_type="incident",
            target_id=incident_id,
            details=details,
        )

    def _emit(self, kind: str, incident_id: str, **data: Any) -> None:
        self.events.publish(Event(kind, {"incident_id": incident_id, **data}))

    def status_url(self, incident_id: str | None = None) -> str:
        base = self.settings.public_url.rstrip("/") + "/status"
        return f"{base}/incidents/{incident_id}" if incident_id else base

    # -- lifecycle and fields ------------------------------------------------------------------

    def create(self, actor: Actor, title: str, conversation_ids: list[str]) -> str:
        self._require(actor, Role.AGENT)
        title = title.strip()
        if not title:
            raise Invalid("an incident needs a title")
        with self.db.write() as conn:
            incident_id = store.create_incident(conn, title=title[:280], status="confirmed", confirmed_at=utcnow())
            store.add_conversations(conn, incident_id, conversation_ids, added_by=actor.label)
            self._audit(conn, actor, "incident.create", incident_id, title=title, conversations=len(conversation_ids))
        self._emit("incident.opened", incident_id, title=title, by="agent")
        return incident_id

    def set_status(self, actor: Actor, incident_id: str, status: str) -> None:
        self._require(actor, Role.AGENT)
        if status not in LIFECYCLE:
            raise Invalid(f"status must be one of {', '.join(LIFECYCLE)}")
        with self.db.write() as conn:
            incident = self._incident(conn, incident_id)
            values: dict[str, Any] = {"status": status}
            if status == "confirmed" and incident["confirmed_at"] is None:
                values["confirmed_at"] = utcnow()
            values["resolved_at"] = utcnow() if status == "resolved" else None
            store.update_incident(conn, incident_id, **values)
            self._audit(conn, actor, "incident.status", incident_id, before=incident["status"], after=status)
        self._emit(
            f"incident.{status}" if status == "resolved" else "incident.updated",
            incident_id,
            detector_key=incident["detector_key"],
            status=status,
        )

    def edit(
        self,
        actor: Actor,
        incident_id: str,
        *,
        title: str | None = None,
        impact: str | None = None,
        public: bool | None = None,
        component_ids: list[str] | None = None,
    ) -> None:
        self._require(actor, Role.AGENT)
        values: dict[str, Any] = {}
        if title is not None:
            if not title.strip():
                raise Invalid("an incident needs a title")
            values["title"] = title.strip()[:280]
        if impact is not None:
            if impact not in IMPACTS:
                raise Invalid(f"impact must be one of {', '.join(IMPACTS)}")
            values["impact"] = impact
        if public is not None:
            values["public"] = public
        with self.db.write() as conn:
            self._incident(conn, incident_id)
            if values:
                store.update_incident(conn, incident_id, **values)
            if component_ids is not None:
                known = {c["id"] for c in store.list_components(conn)}
                unknown = set(component_ids) - known
                if unknown:
                    raise Invalid(f"unknown components: {', '.join(sorted(unknown))}")
                store.link_components(conn, incident_id, component_ids)
            self._audit(conn, actor, "incident.edit", incident_id, fields=sorted(values), components=component_ids)
        self._emit("incident.updated", incident_id)

    # -- grouping by hand ------------------------------------------------------------------------

    def add_conversations(self, actor: Actor, incident_id: str, conversation_ids: list[str]) -> None:
        self._require(actor, Role.AGENT)
        with self.db.write() as conn:
            self._incident(conn, incident_id)
            added = store.add_conversations(conn, incident_id, conversation_ids, added_by=actor.label)
            self._audit(conn, actor, "incident.add_conversations", incident_id, conversations=added)
        self._emit("incident.grew", incident_id, conversations=len(added))

    def remove_conversations(self, actor: Actor, incident_id: str, conversation_ids: list[str]) -> None:
        self._require(actor, Role.AGENT)
        with self.db.write() as conn:
            self._incident(conn, incident_id)
            store.remove_conversations(conn, incident_id, conversation_ids)
            self._audit(conn, actor, "incident.remove_conversations", incident_id, conversations=conversation_ids)
        self._emit("incident.updated", incident_id)

    def merge(self, actor: Actor, keep_id: str, merge_id: str) -> None:
        """`merge_id`'s conversations move to `keep_id`; `merge_id` is closed as merged."""
        self._require(actor, Role.AGENT)
        if keep_id == merge_id:
            raise Invalid("an incident cannot be merged into itself")
        with self.db.write() as conn:
            self._incident(conn, keep_id)
            merged = self._incident(conn, merge_id)
            store.move_conversations(conn, merge_id, keep_id, None)
            store.update_incident(conn, merge_id, merged_into=keep_id, status="resolved", resolved_at=utcnow())
            self._audit(conn, actor, "incident.merge", keep_id, merged=merge_id)
        self._emit("incident.resolved", merge_id, detector_key=merged["detector_key"], merged_into=keep_id)
        self._emit("incident.updated", keep_id)

    def move(self, actor: Actor, source_id: str, target_id: str, conversation_ids: list[str]) -> None:
        """Move some conversations from one incident to another open one (a report grouped wrongly)."""
        self._require(actor, Role.AGENT)
        if not conversation_ids:
            raise Invalid("choose the conversations to move")
        if not target_id or source_id == target_id:
            raise Invalid("choose another incident to move the conversations to")
        with self.db.write() as conn:
            self._incident(conn, source_id)
            target = self._incident(conn, target_id)
            if target["status"] not in store.OPEN_STATUSES:
                raise Invalid("conversations can only move to an open incident")
            store.move_conversations(conn, source_id, target_id, conversation_ids)
            self._audit(conn, actor, "incident.move", source_id, into=target_id, conversations=conversation_ids)
        self._emit("incident.updated", source_id)
        self._emit("incident.updated", target_id)

    def split(self, actor: Actor, incident_id: str, conversation_ids: list[str], title: str) -> str:
        """Move the given conversations out into a new incident of their own."""
        self._require(actor, Role.AGENT)
        if not conversation_ids:
            raise Invalid("choose the conversations to split off")
        with self.db.write() as conn:
            source = self._incident(conn, incident_id)
            new_id = store.create_incident(
                conn,
                title=(title.strip() or f"Split from: {source['title']}")[:280],
                status=source["status"],
                impact=source["impact"],
                detected_at=utcnow(),
                first_message_at=source["first_message_at"],
            )
            store.move_conversations(conn, incident_id, new_id, conversation_ids)
            self._audit(conn, actor, "incident.split", incident_id, into=new_id, conversations=conversation_ids)
        self._emit("incident.opened", new_id, by="split", source=incident_id)
        self._emit("incident.updated", incident_id)
        return new_id

    # -- public updates and mass response --------------------------------------------------------

    def post_update(
        self,
        actor: Actor,
        incident_id: str,
        *,
        status: str,
        body: str,
        customer_templates: dict[str, str] | None = None,
        default_language: str = "en",
        notify_customers: bool = True,
        post_to_accounts: list[str] | None = None,
    ) -> str:
        """Publish an update on the status page; answer every grouped conversation with the
        template in its language (when given); post it from the company's accounts."""
        self._require(actor, Role.AGENT)
        if status not in UPDATE_STATUSES:
            raise Invalid(f"status must be one of {', '.join(UPDATE_STATUSES)}")
        body = body.strip()
        if not body:
            raise Invalid("the update needs a text for the status page")
        templates = {
            lang.strip().lower(): text.strip()
            for lang, text in (customer_templates or {}).items()
            if text and text.strip()
        }
        if notify_customers and not templates:
            raise Invalid("give the customer reply in at least one language, or do not notify customers")
        self._guard(templates, body, self.settings.custom_patterns())
        accounts = post_to_accounts if post_to_accounts is not None else self.settings.status_accounts
        with self.db.write() as conn:
            incident = self._incident(conn, incident_id)
            update_id = store.add_update(
                conn, incident_id, status=status, body=body, customer_templates=templates, author_id=actor.id
            )
            new_status = STATUS_OF_UPDATE[status]
            values: dict[str, Any] = {"status": new_status, "public": True}
            if new_status == "confirmed" and incident["confirmed_at"] is None:
                values["confirmed_at"] = utcnow()
            values["resolved_at"] = utcnow() if new_status == "resolved" else None
            store.update_incident(conn, incident_id, **values)
            reply_ids: list[str] = []
            if notify_customers:
                reply_ids = response.queue_replies(
                    conn,
                    incident_id,
                    update_id,
                    templates,
                    default_language=default_language,
                    title=incident["title"],
                    status_url=self.status_url(incident_id),
                    author_id=actor.id,
                )
            link = self.status_url(incident_id)
            for account in accounts:
                channel, _, name = account.partition("/")
                store.queue_status_post(conn, update_id, channel, name, f"{body}\n{link}")
            self._audit(
                conn,
                actor,
                "incident.update",
                incident_id,
                update_id=update_id,
                status=status,
                customer_replies=len(reply_ids),
                posts=len(accounts),
            )
        self._emit(
            "incident.update_posted", incident_id, update_id=update_id, status=status, customer_replies=len(reply_ids)
        )
        if new_status == "resolved":
            self._emit("incident.resolved", incident_id, detector_key=incident["detector_key"])
        for reply_id in reply_ids:
            self.events.publish(Event("reply.queued", {"reply_id": reply_id, "incident_id": incident_id}))
        return update_id

    def retry_failed(self, actor: Actor, incident_id: str) -> int:
        """Send again every customer reply of this incident whose delivery failed for good."""
        self._require(actor, Role.AGENT)
        with self.db.write() as conn:
            self._incident(conn, incident_id)
            count = store.requeue_failed_replies(conn, incident_id)
            self._audit(conn, actor, "incident.retry_failed", incident_id, replies=count)
        if count:
            self.events.publish(Event("reply.queued", {"incident_id": incident_id, "count": count}))
        return count

    @staticmethod
    def _guard(templates: dict[str, str], body: str, patterns: list[CustomPattern]) -> None:
        from townsquare.triage import find_personal_data

        for text in (body, *templates.values()):
            found = find_personal_data(text, patterns)
            if found:
                raise PersonalDataInPublicReply(sorted({span.kind for span in found}), "any network")

    # -- components ------------------------------------------------------------------------------

    def create_component(self, actor: Actor, name: str, description: str = "", position: int = 0) -> str:
        self._require(actor, Role.ADMIN)
        with self.db.write() as conn:
            component_id = store.create_component(conn, name.strip(), description.strip(), position)
            audit.record(
                conn,
                actor_id=actor.id,
                actor_label=actor.label,
                action="component.create",
                target_type="component",
                target_id=component_id,
                details={"name": name},
            )
        return component_id

    def set_component_status(self, actor: Actor, component_id: str, status: str) -> None:
        self._require(actor, Role.AGENT)
        if status not in COMPONENT_STATUSES:
            raise Invalid(f"status must be one of {', '.join(COMPONENT_STATUSES)}")
        with self.db.write() as conn:
            if component_id not in {c["id"] for c in store.list_components(conn)}:
                raise NotFound(f"component {component_id} not found")
            store.set_component_status(conn, component_id, status)
            audit.record(
                conn,
                actor_id=actor.id,
                actor_label=actor.label,
                action="component.status",
                target_type="component",
                target_id=component_id,
                details={"status": status},
            )
        self.events.publish(Event("component.updated", {"component_id": component_id, "status": status}))
