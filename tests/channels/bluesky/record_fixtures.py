"""Records the connector's fixtures from the real local network.

    .venv/bin/python -m tests.channels.bluesky.record_fixtures [PDS_URL]

Without a URL it installs and starts dev-env itself. Each fixture is what the connector's poll
reads for one notification: the `listNotifications` page, the `getPosts` and `getProfiles`
answers, exactly as the AppView returned them.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.channels.bluesky import peer

FIXTURES = Path(__file__).resolve().parents[3] / "src" / "townsquare" / "channels" / "bluesky" / "fixtures"


def handle(prefix: str) -> str:
    return f"{prefix}{os.urandom(2).hex()}.test"


def wait_notification(client: peer.Client, account: peer.Account, uri: str, reason: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for item in client.notifications(account):
            if item["uri"] == uri and item["reason"] == reason:
                return item
        time.sleep(0.1)
    raise AssertionError(f"no {reason} notification for {uri}")


def record(client: peer.Client, company: peer.Account, name: str, uri: str, reason: str) -> None:
    notification = wait_notification(client, company, uri, reason)
    posts = client.call(company, "GET", "app.bsky.feed.getPosts", params={"uris": [uri]})
    profiles = client.call(
        company, "GET", "app.bsky.actor.getProfiles", params={"actors": [notification["author"]["did"]]}
    )
    document = {
        "listNotifications": {"notifications": [notification]},
        "getPosts": posts,
        "getProfiles": profiles,
    }
    (FIXTURES / name).write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    print("recorded", name)


def main(pds: str) -> None:
    client = peer.Client(pds)
    company = client.create_account(handle("acmemobile"))
    client.set_profile(company, "Acme Mobile")
    lena = client.create_account(handle("lena"))
    client.set_profile(lena, "Lena Hoffmann")
    mallory = client.create_account(handle("mallory"))
    client.set_profile(mallory, '<img src=x onerror="alert(1)">Mallory</b>')

    for follower in (company, mallory):  # so the customer has a reach to record
        follow = {"$type": "app.bsky.graph.follow", "subject": lena.did, "createdAt": peer.now()}
        client.call(
            follower,
            "POST",
            "com.atproto.repo.createRecord",
            json={"repo": follower.did, "collection": "app.bsky.graph.follow", "record": follow},
        )

    mention = client.post(
        lena, f"🙁 @{company.handle} seit drei Tagen kein Internet in 10115 Berlin", mention=company, langs=["de"]
    )
    record(client, company, "notification__mention.json", mention["uri"], "mention")

    company_reply = client.post(company, "Das tut uns leid! Wir prüfen das.", reply_to=mention)
    client.wait_indexed(company, company_reply["uri"])
    answer = client.post(lena, "geht immer noch nicht 😤", reply_to=company_reply, langs=["de"])
    record(client, company, "notification__reply.json", answer["uri"], "reply")

    announcement = client.post(company, "Wartungsarbeiten heute Nacht von 2 bis 4 Uhr.", langs=["de"])
    client.wait_indexed(company, announcement["uri"])
    quote = client.post(lena, "Und deshalb geht seit gestern nichts?", quote=announcement, langs=["de"])
    record(client, company, "notification__quote.json", quote["uri"], "quote")

    text = f"👨‍👩‍👧 Family plan: @{company.handle} see https://example.com/status?id=1 #outage"
    facets = client.post(lena, text, mention=company, langs=["en", "de"])
    encoded = text.encode()
    start = encoded.index(b"https://")
    end = encoded.index(b" #outage")
    facets["record"]["facets"].append(
        {
            "index": {"byteStart": start, "byteEnd": end},
            "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://example.com/status?id=1"}],
        }
    )
    # Re-post with both facets (the first post only carried the mention).
    facets = client.post(lena, text, langs=["en", "de"], extra={"facets": facets["record"]["facets"]})
    record(client, company, "post__facets.json", facets["uri"], "mention")

    hostile = client.post(mallory, f"<script>alert('x')</script> @{company.handle} &amp; <b>hi</b>", mention=company)
    record(client, company, "notification__hostile_html.json", hostile["uri"], "mention")

    like_target = client.post(company, "Neue Tarife ab Montag.")
    client.wait_indexed(company, like_target["uri"])
    client.call(
        lena,
        "POST",
        "com.atproto.repo.createRecord",
        json={
            "repo": lena.did,
            "collection": "app.bsky.feed.like",
            "record": {
                "$type": "app.bsky.feed.like",
                "subject": {"uri": like_target["uri"], "cid": like_target["cid"]},
                "createdAt": peer.now(),
            },
        },
    )
    deadline = time.monotonic() + 10
    like: dict[str, Any] | None = None
    while like is None and time.monotonic() < deadline:
        like = next((n for n in client.notifications(company) if n["reason"] == "like"), None)
        time.sleep(0.1)
    assert like is not None
    (FIXTURES / "notification__like.json").write_text(
        json.dumps({"listNotifications": {"notifications": [like]}}, indent=2, ensure_ascii=False) + "\n"
    )
    print("recorded notification__like.json")
    write_malformed()


def write_malformed() -> None:
    """The AppView refuses to index malformed records (tried: text as a number, a reply ref
    without cids, bad language tags, all written with validate=false), so the malformed
    fixture is made from the recorded mention."""
    mention = json.loads((FIXTURES / "notification__mention.json").read_text())
    good = mention["listNotifications"]["notifications"][0]
    without_author = {key: value for key, value in good.items() if key != "author"}
    without_author["uri"] = good["uri"] + "x"
    post = json.loads(json.dumps(mention["getPosts"]["posts"][0]))
    post["record"]["text"] = 12345
    post["record"]["reply"] = {"parent": {"uri": "not-a-uri"}}
    document = {
        "_comment": "Hand-made from notification__mention.json: the AppView does not index malformed records.",
        "listNotifications": {"notifications": [without_author, good, "not an object"]},
        "getPosts": {"posts": [post]},
        "getProfiles": mention["getProfiles"],
    }
    (FIXTURES / "notification__malformed.json").write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    print("wrote notification__malformed.json (hand-made from the mention)")


if __name__ == "__main__":
    FIXTURES.mkdir(parents=True, exist_ok=True)
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        peer.install()
        network = peer.start("postgresql://postgres@127.0.0.1:5432/test", Path(tempfile.mkdtemp()) / "dev-env.log")
        try:
            main(network.pds)
        finally:
            peer.stop(network)
            peer.drop_schemas("postgresql+psycopg://postgres@127.0.0.1:5432/test", network.schema)
