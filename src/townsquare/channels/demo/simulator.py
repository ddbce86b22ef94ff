"""Simulated customers for the demo: they post on the demo network at a steady rate, now and
then all at once about an outage, and answer the company's replies like people do."""

from __future__ import annotations

import heapq
import logging
import random
import threading
import time
from collections.abc import Callable

from townsquare.channels.demo.network import DemoNetwork
from townsquare.channels.demo.payloads import DemoPost, DemoUser
from townsquare.channels.demo.scripts import FOLLOW_UPS, OPENERS, OUTAGE, PEOPLE, PRIVATE_DETAILS, Line

log = logging.getLogger(__name__)

HOSTILE = Line(
    "en", "complaint", "<img src=x onerror=alert(1)> @acme your login page shows this: <script>steal()</script>"
)
PRIVATE_HINTS = ("private", "dm", "direct message", "privat", "direktnachricht", "nachricht")


class CustomerSimulator:
    def __init__(
        self,
        network: DemoNetwork,
        *,
        rate_per_minute: float = 20.0,
        outage_every_seconds: float = 240.0,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.network = network
        self.rate = rate_per_minute
        self.outage_every = outage_every_seconds
        self.random = random.Random(seed)
        self.clock = clock
        self.people = [DemoUser(id=i, handle=h, name=n, followers=f) for i, h, n, f in PEOPLE]
        self.language_of: dict[str, str] = {}
        self._agenda: list[tuple[float, int, Callable[[], object]]] = []
        self._sequence = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        network.on_post(self._on_post)

    def _at(self, delay: float, action: Callable[[], object]) -> None:
        with self._lock:
            self._sequence += 1
            heapq.heappush(self._agenda, (self.clock() + delay, self._sequence, action))

    def post_opener(self, line: Line | None = None) -> DemoPost:
        line = line or self.random.choice(OPENERS)
        person = self.random.choice(self.people[:-1])
        if line is HOSTILE:
            person = self.people[-1]
        self.language_of[person.handle] = line.lang
        if line.private:
            return self.network.publish(
                person, line.text, visibility="direct", recipient=self.network.brand.handle, lang=line.lang
            )
        return self.network.publish(person, line.text, lang=line.lang)

    def outage_burst(self, size: int = 15, seconds: float = 90.0) -> None:
        for _ in range(size):
            self._at(self.random.uniform(0, seconds), lambda: self.post_opener(self.random.choice(OUTAGE)))

    def _on_post(self, post: DemoPost) -> None:
        """Customers read the company's answers and sometimes write back."""
        if post.author.handle != self.network.brand.handle:
            return
        if post.visibility == "direct":
            customer = post.recipient
            parent = None
        else:
            parent = self.network.get(post.in_reply_to) if post.in_reply_to else None
            customer = parent.author.handle if parent else None
        person = next((p for p in self.people if p.handle == customer), None)
        if person is None or self.random.random() > 0.6:
            return
        lang = self.language_of.get(person.handle, "en")
        wants_private = any(hint in post.text.lower() for hint in PRIVATE_HINTS)
        if wants_private or post.visibility == "direct":
            text = self.random.choice(PRIVATE_DETAILS[lang] + FOLLOW_UPS[lang])
            self._at(
                self.random.uniform(3, 10),
                lambda: self.network.publish(
                    person, text, visibility="direct", recipient=self.network.brand.handle, lang=lang
                ),
            )
        else:
            text = self.random.choice(FOLLOW_UPS[lang])
            self._at(
                self.random.uniform(3, 10),
                lambda: self.network.publish(
                    person, f"@{self.network.brand.handle} {text}", in_reply_to=post.id, lang=lang
                ),
            )

    def run(self) -> None:
        for index in range(10):  # a first handful, so the inbox is not empty on arrival
            self._at(0.5 + index * 0.6, self.post_opener)
        self._at(1.0, lambda: self.post_opener(HOSTILE))
        next_opener = self.clock() + 5
        next_outage = self.clock() + min(90.0, self.outage_every)
        while not self._stop.wait(0.1):
            now = self.clock()
            if self.rate > 0 and now >= next_opener:
                self.post_opener()
                next_opener = now + self.random.expovariate(self.rate / 60.0)
            if self.outage_every > 0 and now >= next_outage:
                self.outage_burst()
                next_outage = now + self.outage_every
            self._run_due(now)

    def _run_due(self, now: float) -> None:
        while True:
            with self._lock:
                if not self._agenda or self._agenda[0][0] > now:
                    return
                _, _, action = heapq.heappop(self._agenda)
            try:
                action()
            except Exception:
                log.exception("demo customer action failed")

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="demo-customers", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
