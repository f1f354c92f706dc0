"""Sector taxonomy packs (issue 20): loading and validating pack files, Turkish folding of
cues, classification per sector in Turkish and English, routing defaults, and selecting a
pack in ``scrm.toml`` through the real command line."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_cli_errors import Run, one_line

from scrm.cli import ExitCode
from scrm.core.schemas import Author, CaseInfo, InboundInteraction, Kind, Priority
from scrm.plugin import load_playbooks
from scrm.plugins.classifier import RuleClassifier
from scrm.plugins.router import DefaultRouter
from scrm.plugins.sla import DefaultSla, SlaSettings
from scrm.plugins.taxonomy import (
    TaxonomyError,
    configured_taxonomy,
    load_taxonomy,
    sector_names,
    sector_taxonomy,
)

SECTORS = ["airline", "banking", "media", "public", "retail", "telecom", "utilities"]


@pytest.fixture(scope="module")
def classifiers() -> dict[str, RuleClassifier]:
    return {s: RuleClassifier(configured_taxonomy({"sectors": [s]})) for s in SECTORS}


# --------------------------------------------------------------------------- the packs


def test_the_shipped_sectors() -> None:
    assert sector_names() == SECTORS


@pytest.mark.parametrize("sector", SECTORS)
def test_every_pack_category_has_labels_and_a_known_playbook(sector: str) -> None:
    pack = sector_taxonomy(sector)
    books = load_playbooks()
    assert pack.name == sector and pack.description
    for name, cat in pack.categories.items():
        if name in pack.generic:
            continue  # a generic category extended with cues: its playbook is its own
        assert set(cat.label) == {"tr", "en"}, name
        assert cat.department is not None, name
        assert cat.playbook is None or cat.playbook in books.playbooks, name


def test_no_sectors_is_the_generic_taxonomy_as_before() -> None:
    assert configured_taxonomy({}) == load_taxonomy()
    assert list(load_taxonomy().categories) == [
        "refund", "privacy", "billing", "delivery", "product_defect", "service_outage",
        "staff_behaviour",
    ]  # fmt: skip


def test_a_selection_ends_with_the_common_pack_and_merges_shared_categories() -> None:
    both = configured_taxonomy({"sectors": ["telecom", "banking"]})
    # each pack's own categories, then the generic ones it includes, in selection order
    assert list(both.categories) == [
        "coverage", "contract", "device", "roaming", "service_outage", "billing",
        "fraud", "atm", "branch", "loan", "card", "fees", "digital_banking", "account",
        "call_centre", "privacy", "staff_behaviour",
    ]  # fmt: skip
    # an included generic category keeps its cues and gains the pack's
    billing = both.categories["billing"]
    assert {"fatura*", "paket*"} <= set(billing.tr.keywords)
    assert billing.label == {"tr": "Fatura ve tarife", "en": "Bill and plan"}
    assert "Ferdi Kaza Sigortası" in both.urgency_stop
    assert both.name == "telecom+banking+common"


def test_an_unknown_sector_is_named_with_the_shipped_ones() -> None:
    with pytest.raises(TaxonomyError) as err:
        configured_taxonomy({"sectors": ["bankin"]})
    assert str(err.value) == (
        "plugins.classifier.sectors: no sector pack 'bankin'; shipped: " + ", ".join(SECTORS)
    )
    with pytest.raises(TaxonomyError, match=r"sectors must be a list"):
        configured_taxonomy({"sectors": "banking"})


# --------------------------------------------------------------------------- validation

BAD_PACKS = [
    ('[fraud.tr]\nphrases = ["dolandırıcı"]\n', "fraud.tr.phrases: phrase 'dolandırıcı' must be"),
    ('[fraud.de]\nkeywords = ["betrug"]\n', "fraud.de: not a taxonomy setting"),
    ('[fraud]\ndepartment = "Fraud Team"\n[fraud.tr]\nkeywords = ["x"]\n', "fraud.department:"),
    ('[fraud]\npriority = "asap"\n[fraud.tr]\nkeywords = ["x"]\n', "fraud.priority:"),
    ('[fraud]\nlabel = { de = "Betrug" }\n[fraud.tr]\nkeywords = ["x"]\n', "fraud.label.de:"),
    ("[fraud]\ndescription = 'no cues'\n", "category 'fraud' has no keywords or phrases"),
    ('generic = ["fraud"]\n[atm.tr]\nkeywords = ["atm"]\n', "generic.0: no generic category 'fraud'"),
    ('sector = "bank"\n[atm.tr]\nkeywords = ["atm"]\n', "sector: not a taxonomy setting"),
    ('categories = 1\n', "categories: not a taxonomy setting"),
    ('urgency_stop = [" "]\n[atm.tr]\nkeywords = ["atm"]\n', "urgency_stop: an urgency_stop phrase is empty"),
    ("[Fraud.tr]\nkeywords = ['x']\n", "category name 'Fraud' must be lower_snake_case"),
    ("[fraud.tr\nkeywords = ['x']\n", "not valid TOML"),
    ("", "a taxonomy needs at least one category"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), BAD_PACKS, ids=lambda v: str(v)[:30])
def test_a_bad_pack_file_is_one_line_naming_the_file_and_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "our-pack.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TaxonomyError) as err:
        configured_taxonomy({"taxonomy": str(path), "sectors": ["banking"]})
    message = str(err.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert expected in message


def test_an_unreadable_pack_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(TaxonomyError, match=r"missing\.toml: cannot read taxonomy"):
        load_taxonomy(tmp_path / "missing.toml")
    latin = tmp_path / "latin.toml"
    latin.write_bytes('[şube.tr]\nkeywords = ["şube"]\n'.encode("iso8859_9"))
    with pytest.raises(TaxonomyError, match=r"latin\.toml: cannot read taxonomy: not UTF-8"):
        load_taxonomy(latin)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.one_of(
        st.text(max_size=300),
        st.lists(
            st.sampled_from(
                ['[a.tr]\n', '[a.en]\n', '[b]\n', 'keywords = ["x*"]\n', 'phrases = ["a b"]\n',
                 'generic = ["billing"]\n', 'department = "x"\n', 'playbook = 1\n', 'label = {}\n',
                 'urgency_stop = ["y"]\n', 'name = "n"\n', '[billing.tr]\n', "x = [\n", '"\n',
                 "keywords = [1]\n", "tr = 3\n", "[[a]]\n", "priority = 'low'\n"]
            ),
            max_size=12,
        ).map("".join),
    )
)
def test_any_pack_text_loads_or_fails_with_the_named_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "fuzz.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        tax = load_taxonomy(path)
    except TaxonomyError as exc:
        assert str(exc).startswith(f"{path}: ") and "\n" not in str(exc)
    else:
        assert tax.categories or tax.generic
        RuleClassifier(tax).classify("şube kart fatura")


# --------------------------------------------------------------------------- folding


def test_cues_fold_turkish_letters_and_case(tmp_path: Path) -> None:
    path = tmp_path / "ours.toml"
    path.write_text(
        "[kiosk]\n"
        '[kiosk.tr]\nkeywords = ["İADE*", "kırık", "ağır"]\nphrases = ["ŞUBE MÜDÜRÜ", "gişe görevli*"]\n',
        encoding="utf-8",
    )
    clf = RuleClassifier(load_taxonomy(path))
    for text in (
        "iadem yapılmadı", "IADEM YAPILMADI", "İADEM", "ekran kirik geldi", "KIRIK geldi",
        "çok AĞIR", "cok agir", "sube muduru ilgilenmedi", "ŞUBE MÜDÜRÜ", "Şube müdürü",
        "GİŞE GÖREVLİSİ", "gise gorevlisi",
    ):  # fmt: skip
        assert clf.classify(text).category == "kiosk", text
    # Dotless ı and dotted i are different letters folded alike, never a substring match.
    assert clf.classify("kırıkkale").category == "other"


# --------------------------------------------------------------------------- classification

EXAMPLES = [
    ("banking", "Kartımdan bilgim dışında 1.250 TL harcama yapılmış", "fraud"),
    ("banking", "I didn't authorize this charge on my debit card", "fraud"),
    ("banking", "ATM paramı vermedi ama hesabımdan düştü", "atm"),
    ("banking", "the ATM ate my card this morning", "atm"),
    ("banking", "Şubede 2 saat sıra bekledim, tek gişe açık", "branch"),
    ("banking", "9 people in line and only 3 tellers during lunch", "branch"),
    ("banking", "Konut kredisi faiz oranımı neden yükselttiniz", "loan"),
    ("banking", "what mortgage relief are you offering borrowers?", "loan"),
    ("banking", "Kredi kartı limitim sebepsiz düşürüldü", "card"),
    ("banking", "my replacement card still hasn't arrived", "card"),
    ("banking", "KREDİ KARTI AİDATI iade edilmedi", "fees"),
    ("banking", "why the monthly maintenance fee all of a sudden?", "fees"),
    ("banking", "Müşteri hizmetlerine 40 dakikadır ulaşamıyorum", "call_centre"),
    ("banking", "I've been on hold for over an hour", "call_centre"),
    ("banking", "İnternet şubesine giriş yapamıyorum, SMS şifresi gelmiyor", "digital_banking"),
    ("banking", "online banking is unavailable for weeks now", "digital_banking"),
    ("banking", "EFT'im 2 gündür karşı hesaba geçmedi", "account"),
    ("banking", "my direct deposit is missing from my checking account", "account"),
    ("telecom", "Evde telefon hiç çekmiyor, şebeke yok", "coverage"),
    ("telecom", "no signal at home since the tower work", "coverage"),
    ("telecom", "İnternetim çok yavaş, taahhüt edilen hızın yarısı", "service_outage"),
    ("telecom", "wi fi is down again, this happens way too often", "service_outage"),
    ("telecom", "Faturama aşım ücreti yansımış", "billing"),
    ("telecom", "why is my bill higher after the plan change?", "billing"),
    ("telecom", "Taahhüdüm bitti ama cayma bedeli istiyorlar", "contract"),
    ("telecom", "they want an early termination fee to port my number", "contract"),
    ("telecom", "Yeni telefonumun ekranı kırıldı, garantiden değişim istiyorum", "device"),
    ("telecom", "my phone cracked, I need a replacement", "device"),
    ("telecom", "Yurt dışında roaming paketi çalışmadı", "roaming"),
    ("telecom", "roaming abroad charged me $200", "roaming"),
    ("airline", "Uçuşum 4 saat rötar yaptı, kimse bilgi vermiyor", "flight_disruption"),
    ("airline", "my flight was cancelled and I missed my connection", "flight_disruption"),
    ("airline", "Bagajım İstanbul'a gelmedi, 3 gündür bekliyorum", "baggage"),
    ("airline", "lost my luggage on the flight to Denver", "baggage"),
    ("airline", "Bilet iadesi için başvurdum, paramı geri alamadım", "booking_refund"),
    ("airline", "why can't I cancel my flight for a travel credit?", "booking_refund"),
    ("airline", "Online check-in yapamıyorum, biniş kartı gelmiyor", "check_in"),
    ("airline", "the app won't give me a boarding pass", "check_in"),
    ("airline", "Uçakta ikram yoktu, kabin ekibi ilgisizdi", "crew_service"),
    ("airline", "the meal was cold and the entertainment broken", "crew_service"),
    ("airline", "Millerim hesabıma yüklenmedi", "loyalty"),
    ("airline", "my companion pass and miles are gone", "loyalty"),
    ("retail", "Siparişim 5 gündür kargoda, hala gelmedi", "delivery"),
    ("retail", "where is my order? it says delivered but nothing here", "delivery"),
    ("retail", "Ürünü iade ettim ama param hala yatmadı", "refund"),
    ("retail", "still waiting on my refund for the return", "refund"),
    ("retail", "Telefonun ekranı 1 haftada bozuldu", "product_defect"),
    ("retail", "the zipper broke after two days, poor quality", "product_defect"),
    ("retail", "Aldığım çanta sahte çıktı, orijinal değil", "authenticity"),
    ("retail", "this bag is a fake, not authentic at all", "authenticity"),
    ("retail", "Satıcı ürünü fahiş fiyata satıyor, ilanı kaldırın", "seller"),
    ("retail", "please stop the price gouging sellers on your site", "seller"),
    ("retail", "Beden stokta yok yazıyor, tükendi mi?", "stock"),
    ("retail", "the item is out of stock again", "stock"),
    ("retail", "Kartımdan iki kez çekim yapıldı", "payment"),
    ("retail", "my promo code was not applied at checkout", "payment"),
    ("retail", "Mağazada kasada 30 dakika bekledim", "store_staff"),
    ("retail", "the store manager refused the exchange in store", "store_staff"),
    ("utilities", "Sabahtan beri elektrik yok, ne zaman gelecek?", "outage"),
    ("utilities", "power is out on our whole street since 6am", "outage"),
    ("utilities", "Sayaç okunmadan tahmini fatura kesilmiş", "meter_billing"),
    ("utilities", "my bill is too high, the meter reading is wrong", "meter_billing"),
    ("utilities", "Yeni abonelik için başvurdum, hala elektrik açılmadı", "connection"),
    ("utilities", "I'm moving in next week and need a new connection", "connection"),
    ("media", "Hesabım çalındı, şifremi değiştirmişler", "account_access"),
    ("media", "I lost my 2 step verification and cant sign in", "account_access"),
    ("media", "Yayın sürekli donuyor, ses gidiyor", "playback"),
    ("media", "my hulu is just buffering, netflix works fine", "playback"),
    ("media", "Dizinin yeni sezonu ne zaman gelecek?", "content"),
    ("media", "why did you take the album off, my favourite songs are gone", "content"),
    ("media", "Aboneliğimi iptal ettim ama hala ücret kesiliyor", "subscription"),
    ("media", "I just got billed for the free trial of premium", "subscription"),
    ("media", "Oyun içi satın aldığım eşyalar kayboldu, görev ilerlemem silindi", "gameplay"),
    ("media", "i won the car in the casino mission but i didn't get it", "gameplay"),
    ("media", "Sunucular çöktü, oyuna bağlanamıyorum", "service_outage"),
    ("media", "apparently the servers are down for GTA Online on Xbox One", "service_outage"),
    ("public", "MHRS'den randevu alamıyorum, hiç yer yok", "appointment"),
    ("public", "no appointments available for the next 3 months", "appointment"),
    ("public", "Belediyede 3 saat sıra bekledim", "waiting"),
    ("public", "waited two hours in the queue at the office", "waiting"),
    ("public", "Ruhsat başvurum 4 aydır sonuçlanmadı", "application"),
    ("public", "what is the status of my passport application?", "application"),
    ("public", "Vezne görevlisi çok kaba davrandı", "staff_behaviour"),
]


@pytest.mark.parametrize(("sector", "text", "category"), EXAMPLES, ids=lambda v: str(v)[:32])
def test_sector_examples(
    classifiers: dict[str, RuleClassifier], sector: str, text: str, category: str
) -> None:
    assert classifiers[sector].classify(text).category == category


def test_every_pack_category_has_an_example_in_both_languages() -> None:
    for sector in SECTORS:
        pack = sector_taxonomy(sector)
        for name in pack.categories:
            texts = [t for s, t, c in EXAMPLES if s == sector and c == name]
            assert len(texts) >= 2, (sector, name)


def test_sube_is_a_branch_never_a_delivery(classifiers: dict[str, RuleClassifier]) -> None:
    generic = RuleClassifier()
    for text in ("Şubede 2 saat bekledim", "ŞUBE müdürü ilgilenmedi", "subeye gittim kimse yok"):
        assert generic.classify(text).category != "delivery", text
        assert classifiers["banking"].classify(text).category == "branch", text
    # A courier's branch still is a delivery matter.
    assert generic.classify("Kargo şubesinde paketim 3 gündür bekliyor").category == "delivery"


def test_billing_needs_a_billing_cue(classifiers: dict[str, RuleClassifier]) -> None:
    generic = RuleClassifier()
    for text in ("Kredi kartımla ilgili bilgi almak istiyorum", "I have a question about my card"):
        assert generic.classify(text).category == "other", text
    assert generic.classify("faturama fazladan ücret yansımış").category == "billing"


def test_a_pack_stop_phrase_hides_its_urgency_cue(classifiers: dict[str, RuleClassifier]) -> None:
    text = "Ferdi Kaza Sigortası için hesabımdan habersiz 89 TL çekildi"
    result = classifiers["banking"].classify(text)
    assert result.urgency == () and result.category == "fraud"


# --------------------------------------------------------------------------- routing


def _routed(router: DefaultRouter, clf: RuleClassifier, text: str):
    it = InboundInteraction(
        channel="cli",
        external_id="1",
        text=text,
        created_at=datetime(2026, 1, 5, tzinfo=UTC),
        author=Author(external_id="a"),
    )
    c = clf.classify(text)
    return c, router.explain(it, c, None)[0]


def test_pack_categories_route_by_the_pack(classifiers: dict[str, RuleClassifier]) -> None:
    books = load_playbooks()
    banking = DefaultRouter(
        playbooks=books, taxonomy=configured_taxonomy({"sectors": ["banking"]})
    )
    c, d = _routed(banking, classifiers["banking"], "Kartımdan bilgim dışında 900 TL çekildi")
    assert (c.kind, c.category) == (Kind.COMPLAINT, "fraud")
    assert (d.department, d.priority) == ("support", Priority.HIGH)
    assert "category fraud of taxonomy banking+common" in d.reason
    # fees follows the billing playbook: its department and priority
    c, d = _routed(banking, classifiers["banking"], "hesap işletim ücreti kesilmiş, iade edin")
    assert c.category == "fees" and d.department == books.playbooks["billing"].department
    assert "playbook billing" in d.reason
    retail = DefaultRouter(playbooks=books, taxonomy=configured_taxonomy({"sectors": ["retail"]}))
    c, d = _routed(retail, classifiers["retail"], "the item is out of stock again, when?")
    assert (c.category, d.department) == ("stock", "sales")
    # a generic category keeps its own playbook whatever the pack
    c, d = _routed(retail, classifiers["retail"], "Siparişim 5 gündür kargoda, hala gelmedi")
    assert c.category == "delivery" and "playbook delivery" in d.reason


def test_a_category_with_its_own_playbook_beats_the_pack(tmp_path: Path) -> None:
    (tmp_path / "fraud.toml").write_text(
        'category = "fraud"\nversion = "1"\ndepartment = "security"\npriority = "urgent"\n',
        encoding="utf-8",
    )
    taxonomy = configured_taxonomy({"sectors": ["banking"]})
    router = DefaultRouter(playbooks=load_playbooks(tmp_path), taxonomy=taxonomy)
    _, d = _routed(router, RuleClassifier(taxonomy), "Kartımdan bilgim dışında 900 TL çekildi")
    assert (d.department, d.priority) == ("security", Priority.URGENT)


def test_a_referenced_playbook_gives_its_sla() -> None:
    books = load_playbooks()
    sla = DefaultSla(SlaSettings(), books, configured_taxonomy({"sectors": ["utilities"]}))
    case = CaseInfo(
        id=1,
        customer_id=1,
        channel="email",
        status="new",
        priority=Priority.HIGH,
        kind=Kind.COMPLAINT,
        category="outage",
        department="support",
        opened_at=datetime(2026, 1, 5, tzinfo=UTC),
    )
    policy = sla.choose_sla(case)
    assert policy.name.endswith("+playbook:service_outage")
    assert policy.first_response == books.playbooks["service_outage"].sla.first_response


# --------------------------------------------------------------------------- command line


@pytest.fixture
def run(tmp_path: Path, capsys, monkeypatch) -> Run:
    return Run(tmp_path, capsys, monkeypatch)


def test_scrm_classify_with_a_sector_keeps_its_output_contract(run: Run) -> None:
    run.write('database_url = "sqlite:///crm.db"\n[plugins.classifier]\nsectors = ["banking"]\n')
    lines = [
        {"id": "a", "text": "Şubede 2 saat sıra bekledim, rezalet"},
        {"id": "b", "text": "I didn't authorize this charge", "lang": "en"},
    ]
    (run.folder / "in.jsonl").write_text(
        "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8"
    )
    code, out, err = run("classify", "in.jsonl")
    assert code == 0, err
    rows = [json.loads(x) for x in out.splitlines()]
    assert [set(r) for r in rows] == [
        {"id", "language", "sentiment", "sentiment_score", "kind", "category", "urgency"}
    ] * 2
    assert [(r["id"], r["category"]) for r in rows] == [("a", "branch"), ("b", "fraud")]
    run.write('database_url = "sqlite:///crm.db"\n')
    code, out, _ = run("classify", "in.jsonl")
    assert code == 0 and json.loads(out.splitlines()[0])["category"] == "other"


def test_a_bad_sector_or_pack_in_scrm_toml_stops_with_one_line(run: Run) -> None:
    run.write('database_url = "sqlite:///crm.db"\n[plugins.classifier]\nsectors = ["bank"]\n')
    code, out, err = run("classify", "in.jsonl")
    line = one_line(err)
    assert code == ExitCode.CONFIG and out == ""
    assert "plugins.classifier.sectors: no sector pack 'bank'" in line and "banking" in line
    (run.folder / "ours.toml").write_text('[fraud.tr]\nphrases = ["x"]\n', encoding="utf-8")
    run.write(
        'database_url = "sqlite:///crm.db"\n[plugins.classifier]\n'
        'sectors = ["banking"]\ntaxonomy = "ours.toml"\n'
    )
    code, out, err = run("classify", "in.jsonl")
    line = one_line(err)
    assert code == ExitCode.CONFIG and "ours.toml: invalid taxonomy: fraud.tr.phrases" in line


def test_the_docs_table_lists_every_pack_and_category() -> None:
    page = (Path(__file__).resolve().parents[1] / "docs" / "taxonomy.md").read_text("utf-8")
    rows = {
        line.split("|")[1].strip().split()[0].strip("`"): line.split("|")[2]
        for line in page.splitlines()
        if line.startswith("| `")
    }
    assert sorted(rows) == SECTORS
    for sector in SECTORS:
        assert sorted(set(re.findall(r"`(\w+)`", rows[sector]))) == sorted(
            sector_taxonomy(sector).categories
        ), sector
