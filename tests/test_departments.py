"""Department modules on constructed data: spikes, viral crises, coordinated bursts, ideas, leads."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from scrm import hookimpl
from scrm.core.app import Scrm
from scrm.core.config import Config, ConfigError
from scrm.core.models import Agent, Case, CaseEvent, Department, Interaction
from scrm.core.plugins import check_plugin_config, get_plugin_manager
from scrm.core.schemas import Engagement
from scrm.plugins.coordinated import FLAG
from scrm.plugins.marketing_stats import poisson_tail
from scrm.plugins.tables.coordinated import CaseFlag
from scrm.plugins.tables.crisis import Crisis
from scrm.plugins.tables.sales import Lead
from tests.helpers import T0, message


class Recorder:
    """Records the department hooks (and that the application was announced)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.apps: list[Scrm] = []

    def named(self, hook: str) -> list[dict[str, Any]]:
        return [kw for name, kw in self.calls if name == hook]

    @hookimpl
    def app_started(self, app: Scrm) -> None:
        self.apps.append(app)

    @hookimpl
    def spike_detected(
        self, scope: str, metric: str, hour: datetime, count: int, baseline: float, p_value: float
    ) -> None:
        self.calls.append(("spike_detected", {"scope": scope, "metric": metric, "hour": hour,
                                              "count": count, "p": p_value}))  # fmt: skip

    @hookimpl
    def crisis_detected(self, case: Any, score: float, evidence: dict[str, Any]) -> None:
        self.calls.append(("crisis_detected", {"case": case, "score": score, "evidence": evidence}))

    @hookimpl
    def coordinated_detected(self, case_ids: list[int], evidence: dict[str, Any]) -> None:
        self.calls.append(("coordinated_detected", {"case_ids": case_ids, "evidence": evidence}))

    @hookimpl
    def engagement_updated(self, interaction_id: int, engagement: Engagement) -> None:
        self.calls.append(("engagement_updated", {"id": interaction_id, "engagement": engagement}))

    @hookimpl
    def case_escalated(self, case: Any, level: int, reason: str, summary: str) -> None:
        self.calls.append(("case_escalated", {"case": case, "reason": reason, "summary": summary}))


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def scrm_plugins(recorder: Recorder) -> list[object]:
    return [recorder]


def _author(ext: str, followers: int, created: datetime, verified: bool = False) -> dict[str, Any]:
    return {"external_id": ext, "handle": f"h_{ext}", "display_name": f"User {ext}",
            "followers": followers, "verified": verified,
            "account_created_at": created.isoformat()}  # fmt: skip


def test_the_app_is_announced_to_plugins(app: Scrm, recorder: Recorder) -> None:
    assert recorder.apps and recorder.apps[-1] is app


def test_poisson_tail() -> None:
    assert poisson_tail(0, 3.0) == 1.0
    assert poisson_tail(3, 3.0) == pytest.approx(0.5768, abs=1e-3)
    assert poisson_tail(20, 3.0) < 1e-8


def test_a_spike_fires_once_and_steady_volume_never(app: Scrm, recorder: Recorder) -> None:
    steady = [
        message(f"s{h}-{k}", "Merhaba, faturamı nereden görebilirim?", author=f"a{h % 7}",
                minutes=h * 60 + 5 + 20 * k)
        for h in range(48) for k in range(3)
    ]  # fmt: skip
    app.ingest(steady)
    assert recorder.named("spike_detected") == []
    burst = [
        message(f"b{k}", "Merhaba, faturamı nereden görebilirim?", author=f"b{k}",
                minutes=48 * 60 + 2 * k + 1)
        for k in range(20)
    ]  # fmt: skip
    app.ingest(burst[:12])
    app.ingest(burst[12:])  # the same spike seen again in a later batch
    app.ingest([message("b-next", "Merhaba, faturamı nereden görebilirim?", author="z",
                        minutes=49 * 60 + 3)])  # fmt: skip
    spikes = [s for s in recorder.named("spike_detected") if s["metric"] == "mentions"]
    assert len(spikes) == 1, spikes
    assert spikes[0]["scope"] == "brand" and spikes[0]["hour"] == T0 + timedelta(hours=48)
    assert spikes[0]["count"] >= 12 and spikes[0]["p"] <= 0.001


def test_history_imported_after_live_messages_counts_as_history(
    app: Scrm, recorder: Recorder
) -> None:
    """An archive backfilled after the first live message gives the baseline a burst needs."""
    question = "Merhaba, faturamı nereden görebilirim?"
    app.ingest([message("live", question, author="l", minutes=48 * 60)])
    app.ingest([
        message(f"s{h}-{k}", question, author=f"a{h % 7}", minutes=h * 60 + 5 + 20 * k)
        for h in range(48) for k in range(2)
    ])  # fmt: skip
    app.ingest([message(f"b{k}", question, author=f"b{k}", minutes=48 * 60 + 2 * k + 1)
                for k in range(15)])  # fmt: skip
    spikes = [s for s in recorder.named("spike_detected") if s["metric"] == "mentions"]
    assert [(s["hour"], s["count"]) for s in spikes] == [(T0 + timedelta(hours=48), 16)]


def test_a_viral_thread_escalates_once(app: Scrm, recorder: Recorder) -> None:
    with app.session() as s:
        support = s.scalar(sa.select(Department.id).where(Department.code == "support"))
        s.add(Agent(username="pr.lead", department_id=support, role="head", status="active"))
    selin = _author("v1", 52_000, T0 - timedelta(days=3000), verified=True)
    post = message("900", "@AcmeDestek 3 haftadır fiber kurulumu bekliyorum, teknisyen gelmedi, rezalet!",
                   author_obj=selin, public=True, thread_key="900",
                   engagement={"likes": 200, "shares": 50, "replies": 30, "quotes": 5})  # fmt: skip
    app.ingest([post])
    assert recorder.named("crisis_detected") == []
    viral = {**post, "engagement": {"likes": 6000, "shares": 2500, "replies": 700, "quotes": 400}}
    app.ingest([viral])
    assert [c["engagement"].likes for c in recorder.named("engagement_updated")] == [6000]
    bigger = {**post, "engagement": {"likes": 9000, "shares": 4000, "replies": 900, "quotes": 500}}
    app.ingest([bigger])
    app.ingest([message("901", "@AcmeDestek hala kimse aramadı!", author_obj=selin, public=True,
                        thread_key="900", in_reply_to="900", minutes=30)])  # fmt: skip
    crises = recorder.named("crisis_detected")
    assert len(crises) == 1
    case_id = crises[0]["case"].id
    assert crises[0]["score"] >= 0.6 and crises[0]["evidence"]["components"]["velocity"] > 0.5
    assert [e["reason"] for e in recorder.named("case_escalated")] == ["viral crisis"]
    with app.session() as s:
        case = s.get(Case, case_id)
        assert case is not None and case.priority == "urgent"
        assert case.assignee is not None and case.assignee.username == "pr.lead"
        assert s.scalar(sa.select(sa.func.count()).select_from(Crisis)) == 1
        actions = s.scalars(sa.select(CaseEvent.action).where(CaseEvent.case_id == case_id)).all()
        assert actions.count("crisis") == 1 and actions.count("escalated") == 1


@pytest.fixture
def scrm_config(scrm_database_url: str) -> Config:
    return Config(database_url=scrm_database_url, plugins={"crisis": {"owner": "pr.lead"}})


def test_a_coordinated_burst_is_flagged_and_a_genuine_complaint_is_not(
    app: Scrm, recorder: Recorder, cli: Callable[..., Any]
) -> None:
    variants = [
        "@AcmeDestek 3 gündür internet yok, müşteri hizmetleri de açmıyor. Acme rezalet, herkes Rakip'e geçsin! #AcmeRezalet",
        "@AcmeDestek 3 gündür internetim yok, müşteri hizmetleri açmıyor. Acme tam rezalet, herkes Rakip'e geçsin #AcmeRezalet",
        "3 gündür internet yok!! @AcmeDestek müşteri hizmetleri de açmıyor, Acme rezalet herkes Rakip'e geçsin #AcmeRezalet",
        "@AcmeDestek 3 gundur internet yok, musteri hizmetleri de acmiyor. Acme rezalet, herkes Rakip'e gecsin! #AcmeRezalet",
    ]  # fmt: skip
    burst = [
        message(f"c{k}", variants[k % 4], minutes=720 + 2 * k, public=True,
                author_obj=_author(f"new{k}", k % 4, T0 - timedelta(days=2 + k)))
        for k in range(8)
    ]  # fmt: skip
    genuine = message(
        "g1", "@AcmeDestek Ekim faturama iki kez ücret yansımış, böyle bir paket almadım. İade istiyorum, rezalet!",
        minutes=727, public=True, author_obj=_author("old1", 412, T0 - timedelta(days=4000)),
    )  # fmt: skip
    app.ingest([*burst[:4], genuine, *burst[4:]])
    fired = recorder.named("coordinated_detected")
    assert len(fired) == 1
    with app.session() as s:
        flagged = set(s.scalars(sa.select(CaseFlag.case_id).where(CaseFlag.flag == FLAG)))
        burst_cases = set(
            s.scalars(sa.select(Interaction.case_id).where(Interaction.external_id.like("c%")))
        )
        genuine_case = s.scalar(sa.select(Case).join(Interaction, Interaction.case_id == Case.id)
                                .where(Interaction.external_id == "g1"))  # fmt: skip
        assert genuine_case is not None and genuine_case.id not in flagged
        assert genuine_case.department is not None and genuine_case.department.code == "support"
        assert flagged == burst_cases and set(fired[0]["case_ids"]) <= flagged
        for cid in flagged:  # routed to review, never closed or dismissed
            case = s.get(Case, cid)
            assert case is not None and case.status == "new" and case.department is not None
            assert case.department.code == "review"
    assert len(fired[0]["evidence"]["members"]) >= 5
    review = json.loads(cli("review", "--json").stdout)
    assert {r["case_id"] for r in review} == flagged and all(r["reasons"] for r in review)


def test_ideas_from_three_customers_in_two_languages_are_one_idea(
    app: Scrm, cli: Callable[..., Any]
) -> None:
    app.ingest([
        message("i1", "Would love a dark theme in the Acme app, it would be easier on the eyes at night", author="en1"),
        message("i2", "Acme uygulamasına karanlık mod gelse ne güzel olur, gece gözlerim yanıyor",
                author="tr1", minutes=60),
        message("i3", "Keşke uygulamada gece modu olsa, lütfen ekleyin", author="tr2", minutes=120),
        message("i4", "Please add Apple Pay at checkout, my foreign card keeps being declined",
                author="en2", minutes=180),
    ])  # fmt: skip
    top = json.loads(cli("ideas", "top", "--since", "30d", "--json").stdout)
    assert top[0]["customers"] == 3 and top[0]["requests"] == 3
    assert set(top[0]["languages"]) == {"en", "tr"}
    texts = sorted(src["text"][:6] for src in top[0]["sources"])
    assert texts == ["Acme u", "Keşke ", "Would "]
    assert [i["customers"] for i in top[1:]] == [1]
    shown = cli("ideas", "show", str(top[0]["id"]))
    assert "3 customers" in shown.stdout


def test_leads_are_created_flagged_and_worked(app: Scrm, cli: Callable[..., Any]) -> None:
    app.ingest([
        message("l0", "Faturama iki kez ücret yansımış, rezalet, iade istiyorum!", author="u9"),
        message("l1", "Fiber internet fiyatı ne kadar? Nereden alabilirim?", author="u9", minutes=5),
        message("l2", "How much is the fiber plan? I want to sign up.", author="u8", minutes=9),
    ])  # fmt: skip
    leads = json.loads(cli("leads", "list", "--json").stdout)
    by_source = {lead["source_text"][:5]: lead for lead in leads}
    assert by_source["Fiber"]["interest"] == "fiber" and by_source["How m"]["interest"] == "fiber"
    assert by_source["Fiber"]["flag"] and not by_source["How m"]["flag"]
    with app.session() as s:
        lead = s.get(Lead, by_source["How m"]["id"])
        assert lead is not None and lead.case_id is not None
        case = s.get(Case, lead.case_id)
        assert case is not None and case.sla_policy == "sales-lead"
    lid = str(by_source["How m"]["id"])
    cli("leads", "update", lid, "--status", "qualified", "--owner", "ayse", "--note", "called")
    shown = json.loads(cli("leads", "show", lid, "--json").stdout)
    assert shown["status"] == "qualified" and shown["owner"] == "ayse"
    assert "status new -> qualified" in shown["history"][-1]["note"]
    assert cli("leads", "show", "999", expect=1).exit_code == 1


def test_bad_department_settings_name_the_key() -> None:
    bad = Config(plugins={"marketing": {"campaigns": [{"name": "x", "terms": {}}]}})
    pm = get_plugin_manager(load_entrypoints=False)
    with pytest.raises(ConfigError, match=r"plugins\.marketing\.campaigns\.0"):
        check_plugin_config(bad, pm)
    with pytest.raises(ConfigError, match=r"plugins\.crisis\.threshold"):
        check_plugin_config(Config(plugins={"crisis": {"threshold": 3}}), pm)


def test_each_department_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRM_DISABLE_PLUGINS", "marketing,crisis")
    pm = get_plugin_manager(load_entrypoints=False)
    names = {name for name, p in pm.list_name_plugin() if p is not None}
    assert {"sales", "rnd", "support", "coordinated"} <= names
    assert not {"marketing", "crisis"} & names


def _alerts(app: Scrm, recorder: Recorder) -> dict[str, Any]:
    """What the department plugins decided, by message (case ids depend on the batching)."""
    with app.session() as s:

        def first_message(case_id: int) -> str:
            return (
                s.scalars(
                    sa.select(Interaction.external_id)
                    .where(Interaction.case_id == case_id)
                    .order_by(Interaction.created_at, Interaction.id)
                ).first()
                or ""
            )

        groups: dict[str | None, set[str]] = {}
        for case_id, group in s.execute(sa.select(CaseFlag.case_id, CaseFlag.group_key)):
            groups.setdefault(group, set()).add(first_message(case_id))
        leads = s.execute(
            sa.select(Interaction.external_id, Lead.interest, Lead.mentions)
            .join(Interaction, Interaction.id == Lead.interaction_id)
            .order_by(Interaction.external_id)
        ).all()
        crises = {first_message(c) for c in s.scalars(sa.select(Crisis.case_id))}
        return {
            "crises": crises,
            "crisis_detected": sorted(first_message(c["case"].id) for c in recorder.named("crisis_detected")),
            "escalated": sorted(first_message(c["case"].id) for c in recorder.named("case_escalated")),
            "bursts": sorted(sorted(g) for g in groups.values()),
            "coordinated_detected": len(recorder.named("coordinated_detected")),
            "spikes": sorted((c["scope"], c["metric"], c["hour"]) for c in recorder.named("spike_detected")),
            "leads": [tuple(r) for r in leads],
        }  # fmt: skip


@pytest.mark.parametrize("small", [1, 7])
def test_one_big_batch_and_many_small_ones_raise_the_same_alerts(
    scrm_database_url: str, request: pytest.FixtureRequest, tmp_path: Any, sample_dir: Any,
    small: int,
) -> None:  # fmt: skip
    """The department plugins work per batch (set-based); how the messages are cut into
    batches does not change which alerts, flags, escalations and leads there are."""
    from shutil import copyfile

    from scrm.testing import _truncate_postgres

    lines = [
        *(sample_dir / "interactions.jsonl").read_text(encoding="utf-8").splitlines(),
        *(
            json.dumps(message(f"x{k}", "Fiber internet fiyatı ne kadar? Nereden alabilirim?",
                               author=f"lead{k % 3}", minutes=60 * 24 * 3 + 7 * k))
            for k in range(6)
        ),
    ]  # fmt: skip
    plugins = {"marketing": {"campaigns": [
        {"name": "fiber", "terms": {"tr": ["#AcmeFiberKampanya"], "en": ["#AcmeFiberDeal"]}}]}}  # fmt: skip
    seen = []
    for run, size in enumerate([500, small]):
        url = scrm_database_url
        if run and url.startswith("sqlite"):
            copyfile(request.getfixturevalue("_sqlite_template"), tmp_path / "again.db")
            url = f"sqlite:///{tmp_path / 'again.db'}"
        elif run:
            _truncate_postgres(url)
        recorder = Recorder()
        config = Config(database_url=url, batch_size=size, plugins=plugins)
        app = Scrm(config, get_plugin_manager(extra=[recorder]))
        try:
            app.upgrade()
            app.ingest_lines(lines, source="test", fmt="interactions")
            seen.append(_alerts(app, recorder))
        finally:
            app.close()
    big, many = seen
    assert big["crises"] and big["bursts"] and big["spikes"] and big["leads"]
    assert big["coordinated_detected"] == len(big["bursts"])
    assert big == many


def test_a_long_case_is_scored_on_its_latest_posts(app: Scrm) -> None:
    """A case with more posts than MAX_SCORED is scored on the latest ones only, read through
    the index (a customer can write on one case for months)."""
    from scrm.plugins.crisis import MAX_SCORED, CrisisPlugin

    deniz = _author("long1", 120, T0 - timedelta(days=900))
    app.ingest(
        [
            message(
                f"L{i}",
                f"@Acme siparişim hala gelmedi, {i}. kez yazıyorum",
                author_obj=deniz,
                public=True,
                thread_key="L0",
                minutes=i,
            )
            for i in range(MAX_SCORED + 12)
        ]
    )
    plugin = next(p for p in app.pm.get_plugins() if isinstance(p, CrisisPlugin))
    with app.session() as s:
        [case] = s.scalars(sa.select(Case)).all()
        posts = plugin._posts(s, [case.id])[case.id]
        _, evidence = plugin.score(s, case)
    assert [p.created_at for p in posts] == sorted((p.created_at for p in posts), reverse=True)
    assert len(posts) == MAX_SCORED and posts[-1].created_at == T0 + timedelta(minutes=12)
    assert evidence["customer_posts"] == MAX_SCORED
