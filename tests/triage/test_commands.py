from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from townsquare.triage.commands import register
from townsquare.triage.models import AccurateModel, FastModel
from townsquare.triage.schema import INTENTS
from townsquare.triage.sentiment_inputs import input_width


def make_app() -> typer.Typer:
    app = typer.Typer()
    eval_app = typer.Typer()
    app.add_typer(eval_app, name="eval")
    register(app, eval_app)
    return app


def test_triage_command_reports_bad_lines_and_goes_on() -> None:
    lines = [
        '{"id": "1", "text": "Danke!"}',
        "not json",
        '{"id": 2, "text": "still down?", "language": "en"}',
        '{"text": "no id"}',
        "[1, 2]",
        "",
        '{"id": "3", "text": "Mail: a.b@example.com"}',
        '{"id": "4", "text": "hi", "language": "' + "x" * 5000 + '"}',
        '{"id": "5", "text": "bill \\ud800 wrong"}',  # a lone surrogate: valid JSON, not text
        '{"id": "6", "text": "Danke!"}',
    ]
    result = CliRunner().invoke(make_app(), ["triage"], input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    out = [json.loads(x) for x in result.stdout.splitlines()]
    ok = [x for x in out if "error" not in x]
    assert [x["id"] for x in ok] == ["1", "2", "3", "6"]
    assert set(ok[0]) == {
        "id",
        "language",
        "language_confidence",
        "sentiment",
        "sentiment_scores",
        "intent",
        "intent_scores",
        "spam",
        "needs_reply",
        "urgency",
        "urgency_reasons",  # beyond the contract: why, for the agent
        "personal_data",
        "model",  # beyond the contract too: which model and weights answered
    }
    assert ok[0]["model"].startswith("fast ") and len(ok[0]["model"]) == len("fast ") + 8
    assert ok[1]["language"] == "en"
    assert {"reason": "outage", "weight": 0.35, "evidence": "still down"} in ok[1]["urgency_reasons"]
    assert ok[2]["personal_data"] == [{"kind": "email", "start": 6, "end": 21}]
    errors = [json.loads(x) for x in result.stderr.splitlines() if x.startswith("{")]
    assert [e["line"] for e in errors] == [2, 4, 5, 8, 9]  # 8: a language hint of 5,000 characters
    assert "lone surrogate" in errors[-1]["error"]
    assert "5 bad line(s)" in result.stderr


def test_triage_command_rejects_unknown_model() -> None:
    result = CliRunner().invoke(make_app(), ["triage", "--model", "huge"], input="")
    assert result.exit_code != 0


def test_triage_command_runs_the_full_model() -> None:
    """``--model full``: USE + e5 on every post, the same output contract."""
    lines = '{"id":"1","text":"Worst service ever, third outage this week"}\n{"id":"2","text":"Danke, alles gut!"}\n'
    result = CliRunner().invoke(make_app(), ["triage", "--model", "full"], input=lines)
    assert result.exit_code == 0, result.output
    out = [json.loads(x) for x in result.stdout.splitlines()]
    assert [(o["id"], o["sentiment"]) for o in out] == [("1", "negative"), ("2", "positive")]


@pytest.mark.parametrize("share", ["0", "1"])
def test_triage_command_takes_a_share_of_posts_for_e5(share: str) -> None:
    """``--e5-share``: the accurate cascade's throughput knob; the output contract stays."""
    lines = '{"id":"1","text":"Worst service ever, third outage this week"}\n'
    result = CliRunner().invoke(make_app(), ["triage", "--model", "accurate", "--e5-share", share], input=lines)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sentiment"] == "negative"


def test_triage_command_refuses_a_share_outside_zero_to_one() -> None:
    result = CliRunner().invoke(make_app(), ["triage", "--model", "accurate", "--e5-share", "1.5"], input="")
    assert result.exit_code == 2
    assert "--e5-share" in result.output


@pytest.mark.parametrize("mode", ["fast", "full"])
def test_triage_command_refuses_a_share_where_it_would_be_ignored(mode: str) -> None:
    result = CliRunner().invoke(make_app(), ["triage", "--model", mode, "--e5-share", "0.3"], input="")
    assert result.exit_code == 2
    assert "accurate only" in result.output


def test_the_share_setting_is_checked() -> None:
    from pydantic import ValidationError

    from townsquare.config import Settings

    assert Settings(triage_e5_share=0.1).triage_e5_share == 0.1
    with pytest.raises(ValidationError, match="triage_e5_share"):
        Settings(triage_e5_share=2)


def test_triage_command_takes_company_patterns() -> None:
    result = CliRunner().invoke(
        make_app(), ["triage", "--pattern", r"customer_number=KD-\d{8}"], input='{"id":"1","text":"KD-12345678"}\n'
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["personal_data"][0]["kind"] == "customer_number"


def test_eval_command_prints_per_class_scores(tmp_path: Path) -> None:
    labelled = tmp_path / "labelled.jsonl"
    rows = [
        {
            "text": "@DB_Bahn 40 Minuten Verspätung, unfassbar",
            "language": "de",
            "sentiment": "negative",
            "intents": ["complaint"],
            "needs_reply": True,
        },
        {
            "text": "Thanks, brilliant service!",
            "language": "en",
            "sentiment": "positive",
            "intents": ["praise"],
            "needs_reply": False,
        },
        {"text": "is the app down?", "language": "en", "intents": ["question"], "needs_reply": True},
    ]
    labelled.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    result = CliRunner().invoke(make_app(), ["eval", "triage", str(labelled)])
    assert result.exit_code == 0, result.output
    for heading in ("== language", "== sentiment", "== intent", "== needs_reply", "macro-F1 per language"):
        assert heading in result.stdout
    assert "true / predicted" in result.stdout  # a confusion matrix per task
    assert "95 % bootstrap interval" in result.stdout
    as_json = CliRunner().invoke(make_app(), ["eval", "triage", str(labelled), "--json"])
    report = json.loads(as_json.stdout)
    assert report["intent"]["all"]["n"] == 3
    assert sum(map(sum, report["intent"]["all"]["confusion"]["matrix"])) == 3
    assert set(report["sentiment"]) == {"all", "de", "en"}


@pytest.mark.parametrize(
    "line", ['{"text": "x", "intents": ["nonsense"]}', '{"text": "bill \\udcff wrong", "sentiment": "negative"}']
)
def test_eval_command_reports_a_bad_file(tmp_path: Path, line: str) -> None:
    labelled = tmp_path / "bad.jsonl"
    labelled.write_text(line + "\n", encoding="utf-8")
    result = CliRunner().invoke(make_app(), ["eval", "triage", str(labelled)])
    assert result.exit_code == 2
    assert "bad.jsonl:1" in result.stderr


def _tiny_public_data(root: Path) -> Path:
    """A miniature of the shared data layout, so training is tested without the real folder."""
    texts = {
        "english": [
            "I love this, great service",
            "worst delay ever, awful",
            "the train leaves at 5",
            "so happy with my order",
            "terrible support, never again",
            "news about the rail network",
        ],
        "german": [
            "Ich liebe es, toller Service",
            "Schon wieder Verspätung, furchtbar",
            "Der Zug fährt um 5",
            "Super zufrieden mit der Bestellung",
            "Schrecklicher Service, nie wieder",
            "Neues vom Schienennetz",
        ],
    }
    for folder, lines in texts.items():
        base = root / "sentiment-xlmt" / folder
        base.mkdir(parents=True)
        (base / "train_text.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (base / "train_labels.txt").write_text("2\n0\n1\n2\n0\n1\n", encoding="utf-8")
    (root / "complaints").mkdir()
    (root / "complaints" / "complaints-train.csv").write_text(
        "tweet_id,text,is_complaint,domain\n1,my parcel never arrived,1,retail\n2,what time do you open?,0,retail\n"
        "3,broken on arrival and no refund,1,retail\n4,love the new store,0,retail\n",
        encoding="utf-8",
    )
    (root / "germeval2017").mkdir()
    feedback = [
        ("Schon wieder Verspätung, Service furchtbar", "negative"),
        ("Zug fällt aus, nie wieder Bahn", "negative"),
        ("Der Zug fährt um 5 ab Gleis 2", "neutral"),
        ("Neues vom Schienennetz der Bahn", "neutral"),
        ("Toller Service im Zug, danke", "positive"),
        ("Super zufrieden mit der Bahn", "positive"),
    ]
    (root / "germeval2017" / "dev.tsv").write_text(
        "".join(f"http://x/{i}\t{text}\ttrue\t{label}\n" for i, (text, label) in enumerate(feedback)),
        encoding="utf-8",
    )
    return root


def _train_fast(tmp_path: Path, encoders: str = "use") -> tuple[Any, Path]:
    """``townsquare train --model fast`` on the tiny data, into ``tmp_path/models``."""
    data = _tiny_public_data(tmp_path / "data")
    out = tmp_path / "models"
    result = CliRunner().invoke(
        make_app(),
        ["train", "--data", str(data), "--model", "fast", "--out", str(out), "--limit", "40", "--encoders", encoders],
    )
    assert result.exit_code == 0, result.output
    return result, out


def test_train_command_builds_loadable_weights(tmp_path: Path) -> None:
    result, out = _train_fast(tmp_path)
    summary = json.loads(result.stdout[result.stdout.index("{") :])
    assert summary["examples"]["language"] == 12
    model = FastModel.load(out / "fast.npz")
    assert {h.name for h in model.heads} == {"language", "sentiment", "intent", "spam", "needs_reply"}
    probs = model.predict(["toller Service", "awful delay"])
    assert probs["sentiment"].shape == (2, 3)
    assert np.allclose(probs["sentiment"].sum(axis=1), 1, atol=1e-4)
    with np.load(out / "fast.npz", allow_pickle=False) as arrays:  # never pickled
        assert "weights_q" in arrays.files
    assert model.lexicon_stack is None  # 40 rows a set: too few English rows to fit the stack on


def test_train_command_chooses_the_language_mix_with_the_hindi_list_it_ships(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from townsquare.triage import train as train_module
    from townsquare.triage.language import FastTextLid

    used: list[Path] = []

    class Recording(FastTextLid):
        def __init__(self, lexicon_path: Path = train_module.LANGUAGE_FILE) -> None:
            used.append(lexicon_path)
            super().__init__(lexicon_path)

    monkeypatch.setattr(train_module, "FastTextLid", Recording)
    _, out = _train_fast(tmp_path)
    assert used == [out / "language.npz"]  # built first, into --out; not the package's


def test_train_command_builds_the_accurate_model_too(tmp_path: Path) -> None:
    data = _tiny_public_data(tmp_path / "data")
    out = tmp_path / "models"
    result = CliRunner().invoke(
        make_app(),
        [
            "train",
            "--data",
            str(data),
            "--model",
            "both",
            "--out",
            str(out),
            "--limit",
            "6",
            "--embedding-cache",
            str(tmp_path / "cache"),
            "--encoders",
            "use",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cache" / "use.npz").exists()
    model = AccurateModel.load(out / "accurate.npz")
    assert model.encoders == ("use",)
    assert {h.name for h in model.heads} == {"sentiment", "intent", "spam", "needs_reply"}
    assert all(0.0 <= h.blend <= 1.0 for h in model.heads)
    sentiment = next(h for h in model.heads if h.name == "sentiment")
    assert sentiment.language_inputs  # language copies + English lexicon scores
    assert sentiment.weights.shape == (input_width(512), 3)


def test_train_command_rejects_unknown_encoders(tmp_path: Path) -> None:
    data = _tiny_public_data(tmp_path / "data")
    result = CliRunner().invoke(make_app(), ["train", "--data", str(data), "--encoders", "bert"])
    assert result.exit_code != 0


def test_the_triage_setting_offers_every_mode_and_off() -> None:
    """The setting's values are written out for pydantic and the docs; they must be the modes."""
    from typing import get_args

    from townsquare.config import Settings
    from townsquare.triage.triager import MODES

    assert get_args(Settings.model_fields["triage"].annotation) == ("off", *MODES)


def test_the_pipeline_ignores_a_share_outside_accurate_mode_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    from townsquare.config import Settings
    from townsquare.pipeline.runner import default_prepare_stages

    with caplog.at_level("WARNING", logger="townsquare.pipeline.runner"):
        stages = default_prepare_stages(Settings(triage="fast", triage_e5_share=0.3))
    assert [stage.name for stage in stages] == ["normalize", "triage"]
    assert "applies to accurate triage only" in caplog.text


def test_company_urgency_words_reach_the_command_and_the_pipeline() -> None:
    from townsquare.config import Settings
    from townsquare.pipeline.runner import default_prepare_stages

    post = '{"id": "1", "text": "Glasfaser tot seit heute früh"}\n'
    plain = CliRunner().invoke(make_app(), ["triage"], input=post)
    assert "outage" not in [r["reason"] for r in json.loads(plain.stdout)["urgency_reasons"]]
    result = CliRunner().invoke(make_app(), ["triage", "--urgency-word", "outage=Glasfaser"], input=post)
    assert result.exit_code == 0, result.output
    [line] = result.stdout.splitlines()
    assert {"reason": "outage", "weight": 0.35, "evidence": "Glasfaser"} in json.loads(line)["urgency_reasons"]
    refused = CliRunner().invoke(make_app(), ["triage", "--urgency-word", "weather=storm"], input="")
    assert refused.exit_code == 2
    assert "not a topic" in refused.output

    [_, stage] = default_prepare_stages(Settings(triage="fast", urgency_words={"outage": ["Glasfaser"]}))
    from townsquare.triage import TriageInput

    [result_] = stage._triager.triage([TriageInput(id="1", text="Glasfaser tot seit heute früh")])  # type: ignore[attr-defined]
    assert "outage" in [r.reason for r in result_.urgency_reasons]


def test_train_command_ships_fast_modes_word_vectors_with_e5(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With e5 among the encoders, `train` builds the word vectors, stacks every language with them
    and writes both into fast.npz, which loads back with them (a tiny set: the row minimum lowered)."""
    from townsquare.triage import train as train_module

    monkeypatch.setattr(train_module, "MIN_ROWS_BY_LANGUAGE", 6)
    result, out = _train_fast(tmp_path, "use,e5")
    model = FastModel.load(out / "fast.npz")
    assert model.lexicon_stack is not None and model.lexicon_stack.words is not None
    assert "service" in model.lexicon_stack.words.index  # in three posts: seen twice or more
    assert model.config["lexicon_stack"]["language"] == "all"
    assert set(model.config["lexicon_stack"]["oof_macro_f1_by_language"]) == {"de", "en"}
    probs = model.predict(["Toller Service"])["sentiment"]
    stacked = model.lexicon_stack.apply(probs, ["Toller Service"], ["de"])  # German is stacked too
    assert stacked.shape == (1, 3) and not np.allclose(stacked, probs)
    assert [h.name for h in model.word_heads] == ["intent", "spam", "needs_reply"]
    summary = json.loads(result.stdout[result.stdout.index("{") :])
    assert set(summary["fast"]["word_head_blends"]) == {"intent", "spam", "needs_reply"}
    # GermEval's negative posts are weak complaint labels, read through a German copy of the
    # intent word head's inputs (the other columns' copy weights are zero)
    assert summary["examples"]["weak_complaint"] == 6
    intent = model.word_heads[0]
    dims = model.lexicon_stack.words.dims
    assert intent.german_copy and intent.weights.shape == (2 * dims, len(INTENTS))
    copy = intent.weights[dims:]
    assert np.any(copy[:, INTENTS.index("complaint")] != 0)
    assert not np.any(np.delete(copy, INTENTS.index("complaint"), axis=1))
    assert not model.word_heads[1].german_copy  # spam
