"""A pipeline worker: takes batches from the bus, runs the pipeline, acknowledges."""

from __future__ import annotations

import logging
import threading

from townsquare.bus.base import Bus
from townsquare.pipeline.runner import Pipeline

log = logging.getLogger(__name__)


class PipelineWorker:
    def __init__(self, bus: Bus, pipeline: Pipeline) -> None:
        self.bus = bus
        self.pipeline = pipeline
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        while not self._stop.is_set():
            delivery = self.bus.consume(self.pipeline.settings.pipeline_batch_size, timeout=0.2)
            if delivery is None:
                continue
            keep = False
            try:
                keep = self.pipeline.process(delivery.messages).unrecorded > 0
            except Exception:
                # The pipeline already dead-letters what it cannot store; this is the last guard
                # that keeps the worker alive.
                log.exception("pipeline worker: batch failed")
            finally:
                if keep:
                    # A message is neither stored nor dead-lettered: the bus keeps the batch for
                    # the next start (its stored messages come back as duplicates).
                    log.error("pipeline worker: batch kept by the bus, a message could not be recorded")
                    self.bus.release(delivery)
                else:
                    self.bus.ack(delivery)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="pipeline-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
