from __future__ import annotations

import subprocess
import sys

import numpy as np

from townsquare.triage.features import HashedNgrams, document_frequency, normalize, weigh
from townsquare.triage.linear import dequantize, quantize, sparse_scores


def test_normalize_replaces_noise() -> None:
    assert normalize("@DB_Bahn Zug 2h zu spät!!!! https://t.co/x") == "@user zug 0h zu spät!!! http"


def test_batch_equals_single_and_texts_do_not_leak() -> None:
    f = HashedNgrams(n_buckets=1 << 12)
    texts = ["Danke!", "", "still down?", "ab"]
    ids, offsets = f.transform(texts)
    for i, text in enumerate(texts):
        single, _ = f.transform([text])
        assert sorted(ids[offsets[i] : offsets[i + 1]].tolist()) == sorted(single.tolist())


def test_hash_is_stable_across_processes() -> None:
    # Python's hash() is salted per process; ours must not be, or shipped weights would be garbage.
    code = "from townsquare.triage.features import HashedNgrams; print(HashedNgrams().transform(['Grüße'])[0][:5].tolist())"
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outs) == 1
    assert outs.pop().strip() == str(HashedNgrams().transform(["Grüße"])[0][:5].tolist())


def test_weigh_is_l2_normalized_sublinear_tfidf() -> None:
    f = HashedNgrams(n_buckets=1 << 10)
    ids, offsets = f.transform(["aaa aaa", "b"])
    idf = document_frequency(ids, offsets, f.n_buckets)
    x = weigh(ids, offsets, f.n_buckets, idf)
    for row in range(2):
        vals = x.vals[x.rows == row]
        assert abs(float(np.sum(vals * vals)) - 1.0) < 1e-5
    dense = np.zeros((2, f.n_buckets))
    dense[x.rows, x.cols] = x.vals
    w = np.random.RandomState(0).randn(f.n_buckets, 3).astype(np.float32)
    b = np.array([0.1, 0.2, 0.3], dtype=np.float32)
    assert np.allclose(sparse_scores(x, w, b), dense @ w + b, atol=1e-5)


def test_int8_quantization_error_is_small() -> None:
    w = np.random.RandomState(1).randn(1000, 4).astype(np.float32)
    q, scale = quantize(w)
    assert np.max(np.abs(dequantize(q, scale) - w)) <= np.max(np.abs(w)) / 254 + 1e-6
