"""An in-memory stand-in for a PDS (+ AppView and chat service behind its proxy) on
`httpx.MockTransport`, answering from recorded payloads. Every request and response it sees is
checked against the official lexicons when `shared/specs` is there."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.channels.bluesky import lexicons

FIXTURES = Path(__file__).resolve().parents[3] / "src" / "townsquare" / "channels" / "bluesky" / "fixtures"
COMPANY_DID = "did:plc:acmemobilecompany00000000"
SESSION = {
    "did": COMPANY_DID,
    "handle": "acmemobile.test",
    "accessJwt": "access-1",
    "refreshJwt": "refresh-1",
    "active": True,
}
CHAT_PROXY = "did:web:api.bsky.chat#bsky_chat"
# Lexicons not in the shared folder; these calls are not validated.
UNCHECKED = {"com.atproto.server.refreshSession", "app.bsky.actor.getProfiles", "chat.bsky.convo.updateRead"}


def fixture(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return document


def xrpc_error(status: int, error: str, message: str = "", headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"error": error, "message": message}, headers=headers)


@dataclass
class FakeBluesky:
    notifications: list[Any] = field(default_factory=list)
    posts: dict[str, Any] = field(default_factory=dict)
    profiles: list[Any] = field(default_factory=list)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, httpx.Request]] = field(default_factory=list)
    overrides: dict[str, Callable[[httpx.Request], httpx.Response | None]] = field(default_factory=dict)
    valid_tokens: set[str] = field(default_factory=lambda: {"access-1"})
    check_lexicons: bool = True
    page_size: int | None = None
    # The chat service behind the proxy: its event log (in rev order), the conversations listed
    # by listConvos, the one-to-one conversation of each customer, and what we sent.
    chat_logs: list[Any] = field(default_factory=list)
    convos: list[dict[str, Any]] = field(default_factory=list)
    direct_convos: dict[str, str] = field(default_factory=dict)
    sent_messages: list[tuple[str, str]] = field(default_factory=list)
    chat_page_size: int = 100

    def load(self, name: str) -> None:
        document = fixture(name)
        self.notifications.extend(document["listNotifications"]["notifications"])
        for post in document.get("getPosts", {}).get("posts", []):
            self.posts[post["uri"]] = post
        self.profiles.extend(document.get("getProfiles", {}).get("profiles", []))

    def load_chat(self, name: str) -> dict[str, Any]:
        """Append a `chat__*.json` fixture's log entries (as if just written) and its profiles."""
        document = fixture(name)
        for entry in document["getLog"]["logs"]:
            self.chat_logs.append(entry)
            sender = _sender(entry)
            if sender and sender != COMPANY_DID:
                self.direct_convos.setdefault(sender, entry["convoId"])
        self.profiles.extend(document.get("getProfiles", {}).get("profiles", []))
        return document

    def nsids(self) -> list[str]:
        return [nsid for nsid, _ in self.calls]

    def requests(self, nsid: str) -> list[httpx.Request]:
        return [request for called, request in self.calls if called == nsid]

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        nsid = request.url.path.removeprefix("/xrpc/")
        self.calls.append((nsid, request))
        checked = self.check_lexicons and nsid not in UNCHECKED and lexicons.SPECS.is_dir()
        body = json.loads(request.content) if request.content else None
        if checked:
            if request.method == "GET":
                lexicons.check_params(nsid, lexicons.params_from_query(nsid, list(request.url.params.multi_items())))
            elif body is not None:
                lexicons.check_input(nsid, body)
        override = self.overrides.get(nsid)
        response = override(request) if override else None
        if response is None:
            response = self._answer(nsid, request, body)
        if checked and response.status_code == 200 and response.content:
            lexicons.check_output(nsid, json.loads(response.content))
        return response

    def _authorized(self, request: httpx.Request) -> bool:
        return request.headers.get("authorization", "").removeprefix("Bearer ") in self.valid_tokens

    def _answer(self, nsid: str, request: httpx.Request, body: Any) -> httpx.Response:
        if nsid == "com.atproto.server.createSession":
            if body != {"identifier": "acmemobile.test", "password": "app-pass-word"}:
                return xrpc_error(401, "AuthenticationRequired", "Invalid identifier or password")
            return httpx.Response(200, json=SESSION)
        if nsid == "com.atproto.server.refreshSession":
            if request.headers.get("authorization") != "Bearer refresh-1":
                return xrpc_error(400, "ExpiredToken", "Token has expired")
            self.valid_tokens = {"access-2"}
            return httpx.Response(200, json={**SESSION, "accessJwt": "access-2", "refreshJwt": "refresh-2"})
        if not self._authorized(request):
            return xrpc_error(400, "ExpiredToken", "Token has expired")
        if nsid.startswith("chat."):
            if request.headers.get("atproto-proxy") != CHAT_PROXY:
                return xrpc_error(400, "InvalidRequest", f"No service configured for {nsid}")
            return self._chat(nsid, request, body)
        if nsid == "app.bsky.notification.listNotifications":
            return self._list_notifications(request)
        if nsid == "app.bsky.notification.updateSeen":
            return httpx.Response(200)
        if nsid == "app.bsky.feed.getPosts":
            uris = request.url.params.get_list("uris")
            return httpx.Response(200, json={"posts": [self.posts[uri] for uri in uris if uri in self.posts]})
        if nsid == "app.bsky.actor.getProfiles":
            actors = set(request.url.params.get_list("actors"))
            return httpx.Response(
                200, json={"profiles": [p for p in self.profiles if isinstance(p, dict) and p.get("did") in actors]}
            )
        if nsid == "com.atproto.repo.createRecord":
            key = body.get("rkey") or f"3auto{len(self.records):08d}"
            uri = f"at://{body['repo']}/{body['collection']}/{key}"
            if uri in self.records:
                return xrpc_error(500, "InternalServerError", "Internal Server Error")  # what the PDS does
            self.records[uri] = body["record"]
            return httpx.Response(
                200, json={"uri": uri, "cid": f"bafy{len(self.records)}", "validationStatus": "valid"}
            )
        if nsid == "com.atproto.repo.getRecord":
            params = request.url.params
            uri = f"at://{params['repo']}/{params['collection']}/{params['rkey']}"
            if uri not in self.records:
                return xrpc_error(400, "RecordNotFound", f"Could not locate record: {uri}")
            return httpx.Response(200, json={"uri": uri, "cid": "bafyexisting", "value": self.records[uri]})
        return xrpc_error(501, "MethodNotImplemented", nsid)

    def _list_notifications(self, request: httpx.Request) -> httpx.Response:
        reasons = set(request.url.params.get_list("reasons"))

        def wanted(item: Any) -> bool:
            return not reasons or not isinstance(item, dict) or item.get("reason") in reasons

        def sort_key(item: Any) -> str:
            return str(item.get("indexedAt", "")) if isinstance(item, dict) else ""

        items = sorted((n for n in self.notifications if wanted(n)), key=sort_key, reverse=True)
        start = int(request.url.params.get("cursor", "0"))
        size = self.page_size or int(request.url.params.get("limit", "50"))
        page = items[start : start + size]
        document: dict[str, Any] = {"notifications": page}
        if start + size < len(items):
            document["cursor"] = str(start + size)
        return httpx.Response(200, json=document)

    # The chat service

    def _chat(self, nsid: str, request: httpx.Request, body: Any) -> httpx.Response:
        if nsid == "chat.bsky.convo.listConvos":
            return httpx.Response(200, json={"convos": self.convos})
        if nsid == "chat.bsky.convo.getLog":
            return self._get_log(request.url.params.get("cursor"))
        if nsid == "chat.bsky.convo.updateRead":
            return httpx.Response(200, json={"convo": self._convo(body["convoId"])})
        if nsid == "chat.bsky.convo.getConvoForMembers":
            [member] = request.url.params.get_list("members")
            convo_id = self.direct_convos.setdefault(member, f"3ldnew{len(self.direct_convos):07d}")
            return httpx.Response(200, json={"convo": self._convo(convo_id, member)})
        if nsid == "chat.bsky.convo.sendMessage":
            return self._send_message(body)
        return xrpc_error(501, "MethodNotImplemented", nsid)

    def _get_log(self, cursor: str | None) -> httpx.Response:
        """Entries after `cursor` in rev order, a page at a time; the cursor continues the page."""
        # An entry too broken to have a rev sits where it was appended: just after the one before.
        keyed: list[tuple[str, Any]] = []
        for entry in self.chat_logs:
            keyed.append((_rev(entry) or (keyed[-1][0] if keyed else "") + "\x00", entry))
        after = sorted((pair for pair in keyed if pair[0] > (cursor or "")), key=lambda pair: pair[0])
        page = after[: self.chat_page_size]
        document: dict[str, Any] = {"logs": [entry for _, entry in page]}
        if page:
            document["cursor"] = page[-1][0].rstrip("\x00")
        elif cursor:
            document["cursor"] = cursor
        return httpx.Response(200, json=document)

    def _convo(self, convo_id: str, member: str | None = None) -> dict[str, Any]:
        customer = member or next((did for did, cid in self.direct_convos.items() if cid == convo_id), COMPANY_DID)
        revs = [_rev(e) for e in self.chat_logs if isinstance(e, dict) and e.get("convoId") == convo_id]
        return {
            "id": convo_id,
            "rev": max(revs, default="3ld2222222222"),
            "members": [
                {"did": COMPANY_DID, "handle": "acmemobile.test"},
                {"did": customer, "handle": "customer.test"},
            ],
            "muted": False,
            "unreadCount": 0,
        }

    def _send_message(self, body: dict[str, Any]) -> httpx.Response:
        convo_id = body["convoId"]
        if convo_id not in self.direct_convos.values():
            return xrpc_error(400, "InvalidConvo", "Convo not found")
        rev = _next_rev(self.chat_logs)
        message = {
            "$type": "chat.bsky.convo.defs#messageView",
            "id": f"{rev[:-1]}m",
            "rev": rev,
            "text": body["message"]["text"],
            "sender": {"did": COMPANY_DID},
            "sentAt": "2026-11-29T18:30:00.000Z",
        }
        self.sent_messages.append((convo_id, body["message"]["text"]))
        # Our own message shows up in our log too, as on the real service.
        self.chat_logs.append(
            {"$type": "chat.bsky.convo.defs#logCreateMessage", "rev": rev, "convoId": convo_id, "message": message}
        )
        return httpx.Response(200, json={k: v for k, v in message.items() if k != "$type"})


def _rev(entry: Any) -> str:
    rev = entry.get("rev") if isinstance(entry, dict) else None
    return rev if isinstance(rev, str) else ""


def _sender(entry: Any) -> str | None:
    message = entry.get("message") if isinstance(entry, dict) else None
    sender = message.get("sender") if isinstance(message, dict) else None
    did = sender.get("did") if isinstance(sender, dict) else None
    return did if isinstance(did, str) else None


_TID_CHARS = "234567abcdefghijklmnopqrstuvwxyz"


def _next_rev(entries: list[Any]) -> str:
    """A TID just after the newest in the log (good enough for a fake: bumps the last digits)."""
    newest = max((_rev(e) for e in entries), default="3ld2222222222") or "3ld2222222222"
    digits = [_TID_CHARS.index(c) for c in newest]
    for index in range(len(digits) - 1, -1, -1):
        if digits[index] < len(_TID_CHARS) - 1:
            digits[index] += 1
            break
        digits[index] = 0
    return "".join(_TID_CHARS[d] for d in digits)
