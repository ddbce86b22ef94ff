"""A real HTTP feed server on 127.0.0.1 for the tests: serves feed documents with ETag and
Last-Modified and answers conditional GETs with 304, like a web server in front of WordPress,
phpBB or a review site; can also redirect, refuse, rate-limit, require basic auth or serve a
huge or gzip-bombed feed. It records every request, so tests can see the 304 path taken."""

from __future__ import annotations

import base64
import gzip
import hashlib
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

FIXTURES = Path(__file__).resolve().parents[3] / "src" / "townsquare" / "channels" / "feeds" / "fixtures"
RSS = "application/rss+xml; charset=UTF-8"


@dataclass
class Document:
    body: bytes
    content_type: str
    etag: str | None
    last_modified: float | None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    """A fixed answer: an error, a redirect, a rate limit."""

    status: int
    headers: dict[str, str]
    body: bytes = b""


@dataclass(frozen=True)
class Seen:
    path: str
    status: int
    if_none_match: str | None
    if_modified_since: str | None
    authorization: str | None
    user_agent: str | None


class FeedServer:
    def __init__(self) -> None:
        self.documents: dict[str, Document] = {}
        self.answers: dict[str, Answer] = {}
        self.credentials: dict[str, tuple[str, str]] = {}
        self.requests: list[Seen] = []
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="feed-server", daemon=True)

    def start(self) -> FeedServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)

    def reset(self) -> None:
        with self.lock:
            self.documents.clear()
            self.answers.clear()
            self.credentials.clear()
            self.requests.clear()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def publish(
        self,
        path: str,
        body: bytes,
        content_type: str = RSS,
        *,
        etag: bool = True,
        last_modified: bool = True,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Serve `body` at `path` from now on, with fresh validators."""
        with self.lock:
            previous = self.documents.get(path)
            modified = time.time()
            if previous and previous.last_modified and int(modified) <= int(previous.last_modified):
                modified = previous.last_modified + 1  # Last-Modified has one-second resolution.
            self.documents[path] = Document(
                body=body,
                content_type=content_type,
                etag=f'"{hashlib.sha1(body).hexdigest()[:20]}"' if etag else None,  # noqa: S324 - a cache key
                last_modified=modified if last_modified else None,
                headers=headers or {},
            )
            self.answers.pop(path, None)

    def publish_fixture(self, path: str, name: str, **kwargs: object) -> None:
        self.publish(path, (FIXTURES / name).read_bytes(), **kwargs)  # type: ignore[arg-type]

    def answer(self, path: str, status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        with self.lock:
            self.answers[path] = Answer(status, headers or {}, body)

    def clear_answer(self, path: str) -> None:
        with self.lock:
            self.answers.pop(path, None)

    def redirect(self, path: str, to: str, status: int = 301) -> None:
        self.answer(path, status, {"Location": to})

    def require_auth(self, path: str, user: str, password: str) -> None:
        with self.lock:
            self.credentials[path] = (user, password)

    def seen(self, path: str) -> list[Seen]:
        with self.lock:
            return [request for request in self.requests if request.path == path]

    def statuses(self, path: str) -> list[int]:
        return [request.status for request in self.seen(path)]


def _handler(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test reads `server.requests` instead."""

        def _send(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
            with server.lock:
                server.requests.append(
                    Seen(
                        path=self.path,
                        status=status,
                        if_none_match=self.headers.get("If-None-Match"),
                        if_modified_since=self.headers.get("If-Modified-Since"),
                        authorization=self.headers.get("Authorization"),
                        user_agent=self.headers.get("User-Agent"),
                    )
                )
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

        def do_GET(self) -> None:
            with server.lock:
                answer = server.answers.get(self.path)
                document = server.documents.get(self.path)
                credentials = server.credentials.get(self.path)
            if answer is not None:
                self._send(answer.status, answer.headers, answer.body)
                return
            if credentials is not None:
                expected = "Basic " + base64.b64encode(":".join(credentials).encode()).decode()
                if self.headers.get("Authorization") != expected:
                    self._send(401, {"WWW-Authenticate": 'Basic realm="feeds"'}, b"authentication required")
                    return
            if document is None:
                self._send(404, {"Content-Type": "text/plain"}, b"not found")
                return
            headers = {"Content-Type": document.content_type, **document.headers}
            if document.etag:
                headers["ETag"] = document.etag
            if document.last_modified is not None:
                headers["Last-Modified"] = formatdate(document.last_modified, usegmt=True)
            if self._not_modified(document):
                self._send(304, headers)
                return
            self._send(200, headers, document.body)

        def _not_modified(self, document: Document) -> bool:
            # RFC 9110 13.2.2: If-None-Match decides when sent; If-Modified-Since only without it.
            if_none_match = self.headers.get("If-None-Match")
            if if_none_match is not None:
                return document.etag is not None and document.etag in [tag.strip() for tag in if_none_match.split(",")]
            since = self.headers.get("If-Modified-Since")
            if since is None or document.last_modified is None:
                return False
            try:
                return int(document.last_modified) <= parsedate_to_datetime(since).timestamp()
            except (TypeError, ValueError):
                return False

    return Handler


# Documents made on the fly, in the shape WordPress publishes.


@dataclass(frozen=True)
class Post:
    guid: str
    title: str
    author: str
    html: str
    published: float

    def item(self) -> str:
        return (
            "<item>"
            f"<title>{escape(self.title)}</title>"
            f"<link>https://blog.example.org/{escape(self.guid)}/</link>"
            f"<dc:creator><![CDATA[{self.author}]]></dc:creator>"
            f"<pubDate>{formatdate(self.published, usegmt=True)}</pubDate>"
            f'<guid isPermaLink="false">https://blog.example.org/?p={escape(self.guid)}</guid>'
            f"<description><![CDATA[{self.html[:80]}]]></description>"
            f"<content:encoded><![CDATA[{self.html}]]></content:encoded>"
            "</item>"
        )


def wordpress_feed(posts: list[Post], title: str = "Acme Watch") -> bytes:
    """An RSS 2.0 document with these posts, newest first, as WordPress writes it."""
    items = "".join(post.item() for post in sorted(posts, key=lambda post: post.published, reverse=True))
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<channel><title>{escape(title)}</title><link>https://blog.example.org</link>"
        "<description>Watching Acme</description><language>en-US</language>"
        "<generator>https://wordpress.org/?v=6.7.2</generator>"
        f"{items}</channel></rss>"
    ).encode()


def gzip_bomb(megabytes: int) -> bytes:
    """A feed that starts well and then inflates to many megabytes of padding."""
    head = wordpress_feed([Post("1", "First", "Ann", "<p>hello</p>", time.time())])[: -len(b"</channel></rss>")]
    return gzip.compress(head + b" " * (megabytes * 1_000_000), compresslevel=9)
