"""Tests for the built-in rule-based classifier and the ``scrm classify`` line contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scrm.core.schemas import Classification, Engagement, InboundInteraction, Kind
from scrm.plugins.classifier import ClassifierPlugin, RuleClassifier, reach_score, run_classify
from scrm.plugins.taxonomy import TaxonomyError, load_taxonomy

EVAL = Path(__file__).parent / "data" / "classify_eval.jsonl"
IBM = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "ibm_twitter_customer_care"
    / "dev.json"
)


@pytest.fixture(scope="module")
def clf() -> RuleClassifier:
    return RuleClassifier()


@pytest.mark.parametrize(
    ("text", "sentiment", "kind"),
    [
        ("hiç memnun değilim", "negative", Kind.COMPLAINT),
        ("hic memnun degilim", "negative", Kind.COMPLAINT),
        ("not happy", "negative", Kind.COMPLAINT),
        ("iyi değil", "negative", Kind.COMPLAINT),
        ("not bad at all", "positive", Kind.PRAISE),
        ("fena değil", "positive", Kind.PRAISE),
        ("hiç sorun yaşamadım", "positive", Kind.PRAISE),
        ("never had a problem 👍", "positive", Kind.PRAISE),
        ("harika, 3. kez iptal edildi 👏", "negative", Kind.COMPLAINT),
        ("siparisim gelmedi", "negative", Kind.COMPLAINT),
        ("Why is my order still not here?", "negative", Kind.COMPLAINT),
        ("berbaaaat", "negative", Kind.COMPLAINT),
        ("😡😡", "negative", Kind.COMPLAINT),
        ("Mağazanız pazar günü açık mı?", "neutral", Kind.QUESTION),
        ("How do I reset my password?", "neutral", Kind.QUESTION),
        # A negation ends with its sentence: the next one is read as written.
        ("No lounge? Very inconvenient.", "negative", Kind.COMPLAINT),
        ("The seat was not comfortable", "negative", Kind.COMPLAINT),
    ],
)
def test_sentiment_and_kind(clf: RuleClassifier, text: str, sentiment: str, kind: Kind) -> None:
    result = clf.classify(text)
    assert (result.sentiment, result.kind) == (sentiment, kind), text
    assert -1.0 <= result.sentiment_score <= 1.0


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("iphone 15 fiyatı ne kadar", Kind.LEAD),
        ("nereden alabilirim bu modeli?", Kind.LEAD),
        ("How much is the unlimited plan?", Kind.LEAD),
        ("keşke uygulamada karanlık mod olsa", Kind.IDEA),
        ("It would be great if you added dark mode", Kind.IDEA),
        ("TEBRİKLER kazandınız hemen tıklayın bit.ly/abc", Kind.SPAM),
        ("Follow for follow? f4f DM me", Kind.SPAM),
        ("günaydın", Kind.OTHER),
        ("@acme", Kind.OTHER),
    ],
)
def test_other_kinds(clf: RuleClassifier, text: str, kind: Kind) -> None:
    assert clf.classify(text).kind is kind


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        ("aboneliğimi iptal edeceğim", "churn"),
        ("başka operatöre geçiyorum", "churn"),
        ("I'm switching to another provider", "churn"),
        ("tüketici hakem heyetine başvuracağım", "legal"),
        ("BTK'ya şikayet ettim", "legal"),
        ("I will contact my lawyer", "legal"),
        ("şarj aleti yandı, yangın çıkıyordu", "safety"),
        ("the battery exploded", "safety"),
        ("herkes görsün bu firma rezalet", "public"),
    ],
)
def test_urgency(clf: RuleClassifier, text: str, flag: str) -> None:
    assert flag in clf.classify(text).urgency


def test_public_flag_needs_a_negative_public_post(clf: RuleClassifier) -> None:
    assert "public" in clf.classify("kargom gelmedi", public=True).urgency
    assert "public" not in clf.classify("teşekkürler", public=True).urgency
    assert "public" not in clf.classify("kargom gelmedi", public=False).urgency


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("siparisim hala gelmedi", "tr"),
        ("Siparişim nerede?", "tr"),
        ("my order has not arrived", "en"),
        ("😡😡", "other"),
        ("Bonjour, je voudrais un remboursement", "other"),
    ],
)
def test_language(clf: RuleClassifier, text: str, lang: str) -> None:
    assert clf.classify(text).language == lang


def test_given_language_is_trusted(clf: RuleClassifier) -> None:
    assert clf.classify("ok", language="tr").language == "tr"
    assert clf.classify("ok", language="de").language in ("tr", "en", "other")


def test_category(clf: RuleClassifier) -> None:
    assert clf.classify("kargom 5 gündür gelmedi").category == "delivery"
    assert clf.classify("faturama fazladan ücret yansımış").category == "billing"
    assert clf.classify("internetim 2 gündür yok").category == "service_outage"
    assert clf.classify("Still waiting on my refund").category == "refund"


def test_reach_is_log_scaled() -> None:
    assert reach_score(None, None) == 0.0
    assert reach_score(9, None) == pytest.approx(1.0)
    eng = Engagement(likes=99)
    assert reach_score(9999, eng) == pytest.approx(6.0)


def test_taxonomy_validation(tmp_path: Path) -> None:
    bad = tmp_path / "t.toml"
    bad.write_text('[billing.tr]\nphrases = ["fatura"]\n', encoding="utf-8")
    with pytest.raises(TaxonomyError, match=r"billing\.tr\.phrases"):
        load_taxonomy(bad)
    bad.write_text('[billing.de]\nkeywords = ["x"]\n', encoding="utf-8")
    with pytest.raises(TaxonomyError, match="billing"):
        load_taxonomy(bad)
    bad.write_text("[other.tr]\nkeywords = ['x']\n", encoding="utf-8")
    with pytest.raises(TaxonomyError, match="other"):
        load_taxonomy(bad)
    with pytest.raises(TaxonomyError, match="cannot read"):
        load_taxonomy(tmp_path / "missing.toml")
    good = tmp_path / "g.toml"
    good.write_text('[pets.en]\nkeywords = ["dog*"]\n', encoding="utf-8")
    assert RuleClassifier(load_taxonomy(good)).classify("my dogs hate it").category == "pets"


def _plugin_classify(interaction: InboundInteraction) -> Classification:
    return ClassifierPlugin().classify_interaction(interaction)


def test_run_classify_contract() -> None:
    plugin = ClassifierPlugin()
    lines = [
        json.dumps({"id": 1, "text": "siparişim gelmedi", "followers": 10}),
        "not json",
        "",
        json.dumps([1, 2]),
        json.dumps({"id": "x"}),
        json.dumps({"id": "y", "text": 5}),
        json.dumps({"id": "z", "text": "hi", "followers": -1}),
        json.dumps({"id": "w", "text": "hi", "followers": True}),
        json.dumps({"id": "v", "text": "fine thanks", "lang": "tr"}),
    ]
    out = list(run_classify(lines, plugin.classify_interaction))
    assert len(out) == len(lines)
    assert out[0]["id"] == 1 and out[0]["kind"] == "complaint" and out[0]["language"] == "tr"
    assert set(out[0]) == {
        "id",
        "language",
        "sentiment",
        "sentiment_score",
        "kind",
        "category",
        "urgency",
    }
    assert out[1] == {"id": None, "error": out[1]["error"], "line": 2} and "JSON" in out[1]["error"]
    assert "blank" in out[2]["error"] and out[2]["line"] == 3
    assert "object" in out[3]["error"]
    assert out[4]["id"] == "x" and '"text"' in out[4]["error"]
    assert '"text"' in out[5]["error"]
    assert '"followers"' in out[6]["error"] and '"followers"' in out[7]["error"]
    assert out[8]["language"] == "tr"


def test_run_classify_survives_a_failing_classifier() -> None:
    def boom(_: InboundInteraction) -> Classification:
        raise RuntimeError("nope")

    out = list(run_classify(['{"id": 1, "text": "a"}', '{"id": 2, "text": "b"}'], boom))
    assert [o["id"] for o in out] == [1, 2] and all("error" in o for o in out)


_PLUGIN = ClassifierPlugin()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.text(), st.builds(lambda t: json.dumps({"id": t, "text": t}), st.text())))
)
def test_run_classify_one_output_per_line_in_order(lines: list[str]) -> None:
    lines = [line.replace("\n", " ").replace("\r", " ") for line in lines]
    out = list(run_classify(lines, _PLUGIN.classify_interaction))
    assert len(out) == len(lines)
    for number, (line, result) in enumerate(zip(lines, out, strict=True), 1):
        if "error" in result:
            assert result["line"] == number
        else:
            assert result["id"] == json.loads(line)["id"]
            assert result["sentiment"] in ("negative", "neutral", "positive")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_classify_never_raises(text: str) -> None:
    result = _PLUGIN.classifier.classify(text)
    assert result.language in ("tr", "en", "other")


def test_eval_set_is_well_formed() -> None:
    rows = [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 400
    assert {r["split"] for r in rows} == {"dev", "heldout"}
    langs = [r["lang"] for r in rows]
    assert abs(langs.count("tr") - langs.count("en")) < 20
    assert len({r["id"] for r in rows}) == len(rows)


def test_dev_accuracy_floor(clf: RuleClassifier) -> None:
    rows = [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines()]
    dev = [r for r in rows if r["split"] == "dev"]
    kinds = sum(clf.classify(r["text"]).kind == r["kind"] for r in dev) / len(dev)
    assert kinds > 0.85


@pytest.mark.skipif(not IBM.exists(), reason="shared IBM customer-care data not present")
def test_real_customer_care_tweets_are_mostly_problems(clf: RuleClassifier) -> None:
    data = json.loads(IBM.read_text(encoding="utf-8"))
    firsts = [conv["dialogContent"][0]["message"] for conv in data]
    results = [clf.classify(m) for m in firsts]
    assert all(r.language in ("en", "other", "tr") for r in results)
    share = sum(r.kind in (Kind.COMPLAINT, Kind.QUESTION) for r in results) / len(results)
    assert share > 0.75
