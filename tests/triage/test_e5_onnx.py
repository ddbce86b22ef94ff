"""The ONNX Runtime e5 (``e5_onnx``) is the numpy e5's network: the same vectors in float32, and
close ones, independent of the batch, with its 8-bit products."""

from __future__ import annotations

import numpy as np
import pytest
from tests.triage.test_e5_layers import TEXTS

from townsquare.triage.e5_layers import MIXED_LAYERS, E5Layers
from townsquare.triage.e5_onnx import WEIGHT_LEVELS, E5Onnx, _graph
from townsquare.triage.models import E5Encoder

LONG = "Der Zug ist wieder zu spät, " * 200  # cut to the model's 512 positions


@pytest.fixture(scope="module")
def numpy_e5() -> E5Layers:
    return E5Layers()


@pytest.fixture(scope="module")
def float_e5() -> E5Onnx:
    return E5Onnx(quantized=False)


@pytest.fixture(scope="module")
def int8_e5() -> E5Onnx:
    return E5Onnx()


def test_the_float_graph_is_the_numpy_network_at_every_layer(numpy_e5: E5Layers, float_e5: E5Onnx) -> None:
    layers = tuple(range(13))  # 0 = the embeddings
    theirs, ours = numpy_e5.pooled_layers(TEXTS, layers), float_e5.pooled_layers(TEXTS, layers)
    assert sorted(ours) == list(layers)
    for k in layers:
        np.testing.assert_allclose(ours[k], theirs[k], atol=1e-4, err_msg=f"layer {k}")
    np.testing.assert_allclose(float_e5.encode([LONG]), numpy_e5.encode([LONG]), atol=1e-5)


def test_8_bit_products_keep_the_vectors_close(float_e5: E5Onnx, int8_e5: E5Onnx) -> None:
    exact, quantized = float_e5.encode([*TEXTS, LONG]), int8_e5.encode([*TEXTS, LONG])
    cosines = np.sum(exact * quantized, axis=1)
    assert cosines.min() > 0.995, cosines
    assert np.abs(exact - quantized).max() > 1e-5  # the products are really 8-bit


def test_a_posts_vector_does_not_depend_on_its_batch(int8_e5: E5Onnx) -> None:
    together = int8_e5.encode(TEXTS)
    alone = np.vstack([int8_e5.encode([t]) for t in TEXTS])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    with_a_loud_neighbour = int8_e5.encode([TEXTS[2], "!!!!!!!! " * 40])[0]
    np.testing.assert_allclose(with_a_loud_neighbour, together[2], atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)


def test_an_empty_batch_is_refused(int8_e5: E5Onnx) -> None:
    with pytest.raises(ValueError, match="at least one text"):
        int8_e5.pooled_layers([], MIXED_LAYERS)


def test_the_pipelines_e5_is_the_8_bit_graph() -> None:
    encoder = E5Encoder()
    encoder.encode(["still down?"])
    assert isinstance(encoder._model, E5Onnx) and encoder._model.quantized


def test_weights_fit_7_bits_so_no_cpu_saturates_a_pair_of_products(numpy_e5: E5Layers) -> None:
    from onnx import numpy_helper

    graph = _graph(numpy_e5, quantized=True).graph
    weights = [numpy_helper.to_array(t) for t in graph.initializer if t.name.endswith("_w_int8")]
    assert len(weights) == 4 * 12
    # uint8 (<= 255) x int8 pairs summed in int16 by AVX2's vpmaddubsw: 2 x 255 x 63 < 32767
    assert max(int(np.abs(w.astype(np.int32)).max()) for w in weights) == WEIGHT_LEVELS == 63


def test_empty_and_odd_texts_give_finite_unit_vectors(int8_e5: E5Onnx) -> None:
    vectors = int8_e5.encode(["", "   ", "\x00\u200b", "🙂" * 600])
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
