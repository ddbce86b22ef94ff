"""Every author becomes a contact: known identities are looked up, new ones get a new contact."""

from __future__ import annotations

from typing import Any

from townsquare.ids import new_id
from townsquare.pipeline.batch import Batch
from townsquare.store import ingest


class ContactsStage:
    name = "contacts"

    def process(self, batch: Batch) -> None:
        items = batch.active()
        keys = list({(item.message.channel, item.message.author.external_id) for item in items})
        known = ingest.identities_by_key(batch.db, keys)
        new_contacts: list[dict[str, Any]] = []
        new_identities: list[dict[str, Any]] = []
        reach_updates: dict[str, int] = {}
        for item in items:
            author = item.message.author
            key = (item.message.channel, author.external_id)
            row = known.get(key)
            if row is None:
                contact_id, identity_id = new_id(), new_id()
                name = author.display_name or author.handle or author.external_id
                new_contacts.append(
                    {
                        "id": contact_id,
                        "display_name": name[:512],
                        "customer": {},
                        "created_at": batch.now,
                        "updated_at": batch.now,
                    }
                )
                new_identities.append(
                    {
                        "id": identity_id,
                        "contact_id": contact_id,
                        "channel": item.message.channel,
                        "external_id": author.external_id,
                        "handle": author.handle,
                        "display_name": author.display_name,
                        "reach": author.reach,
                        "url": author.url,
                        "created_at": batch.now,
                    }
                )
                row = known[key] = ingest.IdentityRow(identity_id, contact_id)
            elif author.reach is not None and author.reach != row.reach:
                reach_updates[row.id] = author.reach
            item.identity_id, item.contact_id = row.id, row.contact_id
        ingest.insert_contacts(batch.db, new_contacts)
        ingest.insert_identities(batch.db, new_identities)
        ingest.update_identity_reach(batch.db, [{"_id": i, "reach": r} for i, r in reach_updates.items()])
