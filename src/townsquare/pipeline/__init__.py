"""The pipeline: named stages that turn inbound messages into stored conversations."""

from townsquare.pipeline.runner import IngestResult, Pipeline

__all__ = ["IngestResult", "Pipeline"]
