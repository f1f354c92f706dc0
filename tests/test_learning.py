"""Learning from agents: corrections are kept, a model trains on them, and eval scores any classifier."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from helpers import message

from scrm import hookimpl
from scrm.core.config import Config
from scrm.core.models import LabelCorrection
from scrm.core.schemas import Classification, Kind


def test_label_corrects_and_keeps_the_correction(app, cli):
    app.ingest([message(1, "Uygulamada karanlık mod olsa çok iyi olurdu")])
    out = cli(
        "label",
        "1",
        "--kind",
        "idea",
        "--category",
        "other",
        "--sentiment",
        "neutral",
        "--actor",
        "ece",
    ).stdout
    assert "kind=idea" in out
    it = app.interaction(1)
    assert (it.kind, it.sentiment) == ("idea", "neutral")
    with app.session() as s:
        [row] = s.scalars(sa.select(LabelCorrection)).all()
        assert row.actor == "ece" and row.kind == "idea" and "kind" in row.previous
    r = cli("label", "1", expect=2)
    assert "give at least one of" in r.stderr
    assert "no interaction 9" in cli("label", "9", "--kind", "spam", expect=1).stderr


def labelled(tmp_path):
    rows = []
    for i in range(15):
        rows.append(
            {"text": f"zorbix özelliği gelsin lütfen {i}", "kind": "idea", "sentiment": "neutral"}
        )
        rows.append(
            {
                "text": f"kargom {i} gündür gelmedi rezalet",
                "kind": "complaint",
                "sentiment": "negative",
            }
        )
    path = tmp_path / "labelled.jsonl"
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def test_train_then_the_model_is_combined_with_the_rules(app, cli, tmp_path):
    pytest.importorskip("sklearn", reason="the learned classifier is the optional scrm[ml] extra")
    model = tmp_path / "model.pkl"
    app.ingest([message(1, "zorbix lütfen")])
    cli("label", "1", "--kind", "idea")
    out = cli("train", str(labelled(tmp_path)), "--output", str(model)).stdout
    assert "trained on 31 examples (1 agent corrections)" in out and model.exists()
    line = json.dumps({"id": 1, "text": "zorbix özelliği eklenir mi"}) + "\n"
    rules_only = json.loads(cli("classify", input=line).stdout)
    assert rules_only["kind"] != "idea"
    from scrm.core.plugins import get_plugin_manager
    from scrm.testing import CliInvoker

    app.config = Config(
        database_url=app.config.database_url, plugins={"classifier": {"model": str(model)}}
    )
    app.pm = get_plugin_manager()
    combined = json.loads(CliInvoker(app)("classify", input=line).stdout)
    assert combined["kind"] == "idea"


def test_train_refuses_too_little_data(cli, tmp_path):
    pytest.importorskip("sklearn", reason="the learned classifier is the optional scrm[ml] extra")
    path = tmp_path / "tiny.jsonl"
    path.write_text('{"text": "a", "kind": "idea"}\n', encoding="utf-8")
    r = cli("train", str(path), "--no-corrections", expect=1)
    assert "not enough labelled examples" in r.stderr
    path.write_text("{not json\n", encoding="utf-8")
    assert "line 1: not valid JSON" in cli("train", str(path), "--no-corrections", expect=1).stderr


class EverythingIsAComplaint:
    @hookimpl
    def classify_interaction(self, interaction):
        return Classification(
            kind=Kind.COMPLAINT, sentiment="negative", category="billing", source="test"
        )


def test_eval_scores_whatever_classifier_is_installed(cli, register_plugin, tmp_path):
    register_plugin(EverythingIsAComplaint())
    path = tmp_path / "gold.jsonl"
    path.write_text(
        '{"text": "x", "kind": "complaint", "sentiment": "negative"}\n'
        '{"text": "y", "kind": "complaint", "sentiment": "negative"}\n'
        '{"text": "z", "kind": "praise", "sentiment": "positive"}\n'
        '{"text": "w", "kind": "question", "sentiment": "neutral"}\n',
        encoding="utf-8",
    )
    report = json.loads(cli("eval", str(path), "--json").stdout)
    assert report["kind"]["accuracy"] == 0.5
    assert report["kind"]["labels"]["complaint"] == {
        "precision": 0.5,
        "recall": 1.0,
        "f1": pytest.approx(2 / 3),
        "support": 2,
    }
    # macro-F1 averages over the gold labels: complaint 2/3, praise 0, question 0.
    assert report["kind"]["macro_f1"] == pytest.approx((2 / 3) / 3)
    assert report["complaint_vs_not"]["accuracy"] == 0.5


def test_label_next_lists_the_least_certain_unlabelled_first(app, cli):
    app.ingest(
        [
            message(1, "merhaba"),
            message(2, "Kargom 5 gündür gelmedi, rezalet! Paramı iade edin, şikayetçiyim"),
            message(3, "acme"),
        ]
    )
    waiting = [json.loads(line) for line in cli("label", "next", "--json").stdout.splitlines()]
    confidences = [w["confidence"] for w in waiting]
    assert confidences == sorted(confidences) and len(waiting) == 3
    assert waiting[-1]["id"] == 2  # the clear complaint is the surest
    first = waiting[0]["id"]
    cli("label", str(first), "--kind", "other")
    again = [json.loads(line)["id"] for line in cli("label", "next", "--json").stdout.splitlines()]
    assert first not in again and len(again) == 2
    assert "least certain first" in cli("label", "next").stdout
    assert "label one by its id" in cli("label", "next", "--kind", "spam", expect=2).stderr
    assert "neither an interaction id nor 'next'" in cli("label", "nxt", expect=2).stderr


def test_a_model_answers_only_for_the_fields_where_it_beats_the_rules(app, cli, tmp_path):
    pytest.importorskip("sklearn", reason="the learned classifier is the optional scrm[ml] extra")
    from scrm.plugins.learned import LearnedModel

    model = tmp_path / "model.pkl"
    out = json.loads(
        cli("train", str(labelled(tmp_path)), "--output", str(model), "--json").stdout
    )
    fields = {f["field"]: f for f in out["fields"]}
    # The rules already read these complaints and wishes' sentiment right: the model cannot
    # do better, so it is not used for sentiment.  They do not know "zorbix" wishes are ideas.
    assert fields["sentiment"]["rules_macro_f1"] == 1.0
    assert not fields["sentiment"]["trusted"] and fields["kind"]["trusted"]
    assert fields["kind"]["model_macro_f1"] > fields["kind"]["rules_macro_f1"]
    assert fields["kind"]["held_out"] + fields["kind"]["trained_on"] == 30
    loaded = LearnedModel.load(model)
    assert loaded.trusted == ("kind",)
    assert set(loaded.predict("zorbix özelliği eklenir mi")) == {"kind"}
    # The same file splits the same way on every run.
    again = json.loads(
        cli("train", str(labelled(tmp_path)), "--output", str(model), "--json").stdout
    )
    assert again["fields"] == out["fields"]


def test_eval_compares_the_rules_the_model_and_the_installed_classifier(app, cli, tmp_path):
    pytest.importorskip("sklearn", reason="the learned classifier is the optional scrm[ml] extra")
    from scrm.core.plugins import get_plugin_manager
    from scrm.testing import CliInvoker

    model = tmp_path / "model.pkl"
    gold = labelled(tmp_path)
    rules_only = json.loads(cli("eval", str(gold), "--json").stdout)["compare"]
    assert rules_only["kind"]["model"] is None and rules_only["kind"]["model_used"] is None
    assert rules_only["kind"]["rules"] == rules_only["kind"]["installed"]
    cli("train", str(gold), "--output", str(model))
    app.config = Config(
        database_url=app.config.database_url, plugins={"classifier": {"model": str(model)}}
    )
    app.pm = get_plugin_manager()
    compare = json.loads(CliInvoker(app)("eval", str(gold), "--json").stdout)["compare"]
    assert compare["kind"]["model_used"] is True and compare["sentiment"]["model_used"] is False
    assert compare["kind"]["installed"] > compare["kind"]["rules"]
    assert compare["sentiment"]["installed"] == compare["sentiment"]["rules"]
    table = CliInvoker(app)("eval", str(gold)).stdout
    assert "installed" in table and "rules" in table


def test_the_guard_chooses_how_sure_the_model_must_be_per_field(tmp_path):
    pytest.importorskip("sklearn", reason="the learned classifier is the optional scrm[ml] extra")
    from scrm.plugins.learned import CONFIDENCES, read_labelled, train_guarded

    with labelled(tmp_path).open(encoding="utf-8") as fh:
        samples = list(read_labelled(fh, "labelled.jsonl"))

    def rules(text: str) -> dict[str, str]:
        # Rules that call every wish a complaint: the model knows better wherever it answers.
        return {"kind": "complaint", "sentiment": "negative", "category": "other"}

    chosen = {f.field: f for f in train_guarded(samples, rules).figures}
    assert chosen["kind"].confidence in CONFIDENCES and chosen["kind"].trusted
    for level in CONFIDENCES:
        fixed = {f.field: f for f in train_guarded(samples, rules, confidence=level).figures}
        assert fixed["kind"].confidence == level
        # The chosen confidence scores at least as well as any other on the held-out labels.
        assert fixed["kind"].model_macro_f1 <= chosen["kind"].model_macro_f1


class _Sure:
    """A stand-in estimator that answers "idea" with probability 0.55."""

    classes_ = ("complaint", "idea")

    def predict_proba(self, docs):
        return [_Row([0.45, 0.55]) for _ in docs]


class _Row(list):
    def argmax(self) -> int:
        return max(range(len(self)), key=self.__getitem__)


def test_the_classifier_overrules_at_the_chosen_confidence_unless_one_is_configured():
    from scrm.core.schemas import InboundInteraction
    from scrm.plugins.classifier import ClassifierPlugin
    from scrm.plugins.learned import FieldFigures, LearnedModel

    figures = [FieldFigures("kind", 20, 5, 0.4, 0.9, True, "beats the rules", 0.5)]
    model = LearnedModel({"kind": _Sure()}, {"kind": 25}, ["kind"], figures)
    interaction = InboundInteraction.model_validate(message(1, "kargom gelmedi rezalet"))
    chosen = ClassifierPlugin()
    chosen._current_model = lambda: model  # type: ignore[method-assign]
    assert chosen.classify_interaction(interaction).kind == Kind.IDEA  # 0.55 >= 0.5
    configured = ClassifierPlugin(model_confidence=0.6)
    configured._current_model = lambda: model  # type: ignore[method-assign]
    assert configured.classify_interaction(interaction).kind == Kind.COMPLAINT


def test_a_model_saved_before_the_guard_chose_a_confidence_overrules_at_0_6(tmp_path):
    import pickle

    from scrm.plugins.learned import DEFAULT_CONFIDENCE, LearnedModel

    path = tmp_path / "old.pkl"
    figure = {"field": "kind", "trained_on": 20, "held_out": 5, "rules_macro_f1": 0.4,
              "model_macro_f1": 0.9, "trusted": True, "why": "beats the rules"}  # fmt: skip
    data = {"format": 2, "models": {"kind": _Sure()}, "counts": {"kind": 25},
            "trusted": ["kind"], "figures": [figure]}  # fmt: skip
    path.write_bytes(pickle.dumps(data))
    loaded = LearnedModel.load(path)
    assert loaded.confidence("kind") == DEFAULT_CONFIDENCE == 0.6
