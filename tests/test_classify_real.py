"""Classification as real messages need it (issue 20): urgency without false alarms, spam only
on strong evidence, titles and subjects, promise kinds as brands write them, and minimum
figures on real third-party data read where it lies (``tests/realdata.py``)."""

from __future__ import annotations

import json

import pytest
from helpers import message
from realdata import (
    find_corpus,
    held_out,
    load_airline,
    load_cfpb_complaints,
    load_ibm_agent_replies,
    load_ibm_customers,
    load_kind_mix,
    load_sikayetvar_banks,
    load_turkish_store_reviews,
)

from scrm.core.config import Config, ConfigError
from scrm.core.plugins import check_plugin_config, get_plugin_manager
from scrm.core.promises import PromiseKind, detect_promise
from scrm.core.schemas import Author, InboundInteraction, Kind
from scrm.plugins.classifier import (
    ClassifierPlugin,
    RuleClassifier,
    own_subject,
    run_classify,
    with_subject,
)
from scrm.plugins.router import DefaultRouter
from scrm.plugins.taxonomy import configured_taxonomy


@pytest.fixture(scope="module")
def clf() -> RuleClassifier:
    return RuleClassifier()


# --------------------------------------------------------------------------- urgency


@pytest.mark.parametrize(
    "text",
    [
        "Ferdi Kaza Sigortası için hesabımdan habersiz 89 TL çekildi, iade istiyorum",
        "FERDİ KAZA SİGORTASI ücretimi iade etmediniz",
        "Kredi kartıma kaza sigortası yansıtılmış, onayım yok",
        "my fire stick won't connect to the wifi",
        "Hulu won't play anything on fire tv",
        "Kids left a Kindle Fire on the plane, row 9",
        "they sent my hospital bill to collections twice",
        "lost my bag, and to add insult to injury they charged me $35",
        "we burned an hour on hold",
        "can I switch to an earlier flight tomorrow?",
        "I'm moving to DC and want to book a one way fare",
        "Nice RT @JetBlue: Our fleet's on fleek.",
        "why are you letting people scalp during a viral crisis?",
        "süpürgenin motoru yandı, garanti kapsamında mı?",
        "@united b/c of your delay I missed my connection at gate B",
        # A blocked or replaced card, a cancelled order, another bank's ATM: nobody is leaving.
        "Kartımdan izinsiz işlem yapıldı, hemen arayıp kartımı iptal ettirdim",
        "Siparişim geç kaldığı için iptal ediyorum",
        "ATM 7 gündür bozuk, başka banka ATM'lerinden para çekmek zorunda kalıyorum",
        "Diğer bankalar limit artışını dakikalar içinde yapıyor",
        "Kartımı kapatmış olmama rağmen faiz yansıtıldı",
        # The bank's own lawyers and the regulator's rules are no threat by the customer.
        "Borcum avukata devredildi, avukatlık ücreti istiyorlar",
        "BDDK kararı doğrultusunda yapılandırma talep ettim",
        "Savcılık tarafından hesabıma bloke konulduğu söylendi",
        # Insurance products, idioms, the complaint site itself.
        "Kredi ile birlikte Zorunlu Kaza ve Hayat sigortası satıldı",
        "Benzer şikayetleri şikayetvar üzerinden gördüm",
        "Bu durumun başka müşterilerin de başına gelmemesini istiyorum",
        "Sıra numaram yandı ama çağrılmadım",
        "Blender 3 ayda elimde patladı, motoru yandı",
    ],
)
def test_product_names_and_idioms_raise_no_flag(clf: RuleClassifier, text: str) -> None:
    assert clf.classify(text).urgency == ()


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        ("Kredi kartımı iptal edip başka bir bankaya taşımaya karar verdim", "churn"),
        ("KREDİ KARTIMI İPTAL EDİP BAŞKA BİR BANKAYA TAŞIMAYA KARAR VERDİM", "churn"),
        ("Bu rezalet yüzünden tüm hesaplarımı kapatıyorum", "churn"),
        ("TÜM HESAPLARIMI KAPATIYORUM", "churn"),
        ("tum hesaplarimi kapatiyorum", "churn"),
        ("Kartımı kapatıp başka bankaya geçeceğim", "churn"),
        ("time to give up my status and switch to @Delta", "churn"),
        ("Never again. Worst airline ever", "churn"),
        ("Switching to OtherTel next month, 3 outages this week", "churn"),
        # agents' notes: the customer's own threat, reported in the third person
        ("Müşteri, bir daha bozulursa hakem heyetine gideceğini söyledi.", "legal"),
        ("Customer called: she says she will take us to small claims court.", "legal"),
        ("Caller said he is cancelling his account and switching to a competitor.", "churn"),
        ("Tweet 2 bin RT olmuş, belki şimdi ararsınız", "public"),
        ("You just lost a customer", "churn"),
        ("Tüketici hakem heyetine başvuracağım", "legal"),
        ("this is a breach of contract, I'm calling my lawyer", "legal"),
        ("my phone caught fire while charging", "safety"),
        ("got food poisoning from the meal on UA5", "safety"),
        ("Şarj aleti alev aldı, evim yanıyordu", "safety"),
        ("if you had issues with this company PLEASE retweet", "public"),
        # Turkish as bank customers write it (audited on real complaints, bench/README.md)
        ("Müşteriniz olmaktan vazgeçtim", "churn"),
        ("Aksi halde kredi kartımı kapatmayı ciddi şekilde düşüneceğim", "churn"),
        ("Kartımın ve hesaplarımın iptali için bankanıza başvuracağım", "churn"),
        ("Maaşımı başka bir bankaya taşıyacağım", "churn"),
        ("Vakıfbank ile olan çalışmamı sonlandıracağım", "churn"),
        ("Avukatıma danışacağım", "legal"),
        ("BDDK'ya şikayet edeceğim", "legal"),
        ("Konuyu BDDK ve tüketici hakem heyetine taşıyacağım", "legal"),
        ("Savcılığa suç duyurusunda bulundum", "legal"),
        ("Aksi halde yasal yollara başvuracağım", "legal"),
        ("Bu mağduriyeti kamuoyuyla paylaşacağım", "public"),
        ("Ürün ilk kullanımda duman çıkarmaya başladı", "safety"),
    ],
)
def test_phrases_that_are_urgent(clf: RuleClassifier, text: str, flag: str) -> None:
    assert flag in clf.classify(text).urgency


@pytest.mark.parametrize(
    "text",
    [
        "Glad to hear there were no serious injuries in the minor crash",
        "nobody was hurt, but the seat is broken",
        "I'm not switching to @Delta, just fix my booking",
        "a guy on my flight threatened to sue you over his bag",
        "some guy at the gate says he is going to sue you over his bag",
        # Someone else's outburst, reported ("ranting that he's going to sue").
        "a passenger was ranting at the gate that he's going to sue you",
        "a man at the counter yelling that he would sue everyone",
        # A call to share good news is no threat to go public.
        "help us spread the word about our charity run this weekend",
        "Neyse ki kimse yaralanmadı ama koltuk kırık",
        "yan koltuktaki yolcu dava açacağım diye bağırdı, ben sadece bagajımı istiyorum",
        "can I switch to an earlier flight?",
        "I'd like to switch to paperless billing",
    ],
)
def test_denied_or_reported_cues_raise_no_flag(clf: RuleClassifier, text: str) -> None:
    assert clf.classify(text).urgency == ()


@pytest.mark.parametrize(
    "text",
    [
        # What the bank told the customer to do is not the customer's step.
        "Şubede bana yardımcı olamayacaklarını, savcılığa gitmem gerektiğini söylediler",
        "İade yapılmayacağı, istersem tüketici mahkemesine gitmem gerektiği söylendi",
        "Hiçbir kayıt açılmadı, sadece savcılığa yönlendirildim",
        "Temsilci “mahkemeye başvurun” denildi ve telefonu kapattı",
        # A step not taken: the bank collects "without going to court".
        "Banka alacağını hukuki yollara başvurmadan maaşımdan kesiyor",
        # A lawyer who files the papers of a debt already paid makes no threat.
        "Borcumu ödedim, avukatım icra dairesine iki kez yazı gönderdi ama bloke kalkmadı",
        # A supposition is no threat: the customer says they stay.
        "Maaş müşterisi olmasam bu yüzden hesabımı kapatmayı düşünürdüm",
        "Vize başvurusu olmasaydı tüm birikimimi başka bir bankaya taşıyacaktım",
        # The employer moved the salary; the customer did not leave.
        "Maaş anlaşmam kurumum tarafından başka bir bankaya taşınmış olsa da sizinle çalışıyorum",
        "Maaşım başka bankaya geçti diye limitim düşürüldü",
        # "alışveriş yapmam" as "my shopping", not "I won't shop".
        "Aidatın silinmesi için 100.000 TL alışveriş yapmam gerektiği söylendi",
        # A card closed to stop an unauthorised transaction is blocked, not a customer lost.
        "Kartımdan izinsiz bir işlem yapıldı, hemen arayıp kartımın iptal edilmesini talep ettim",
        "Bilgim dışında yapılan harcamayı görünce kartımın kapatılmasını istedim",
        "Şüpheli işlem üzerine tüm hesaplarımı kapattırdım ve yeni kart aldım",
    ],
)
def test_advice_suppositions_and_blocked_cards_raise_no_flag(
    clf: RuleClassifier, text: str
) -> None:
    assert clf.classify(text).urgency == ()


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        # The customer's own clause comes before what they were told.
        ("Savcılığa başvurdum, beklememi söylediler", "legal"),
        ("Tüketici hakem heyetine başvuracağım, iade edilmeyeceği söylendi", "legal"),
        # "before going to court" is a threat.
        ("Yasal yollara başvurmadan önce size son kez yazıyorum", "legal"),
        ("Gelişmeleri avukatım aracılığıyla takip edeceğim", "legal"),
        ("Konuyu avukatımla görüşeceğim", "legal"),
        # A request to close with no fraud told, and a threat to leave after a fraud, are churn.
        ("Aidat iade edilmezse kartımın iptal edilmesini talep ediyorum", "churn"),
        ("Kartımdan izinsiz işlem yapıldı; iade olmazsa tüm kartlarımı kapatacağım", "churn"),
        ("Bu kesintiden sonra bir daha bu siteden alışveriş yapmam", "churn"),
        ("Maaşımı başka bir bankaya taşımak istiyorum ama bloke var", "churn"),
    ],
)
def test_own_steps_around_advice_and_fraud_stay_urgent(
    clf: RuleClassifier, text: str, flag: str
) -> None:
    assert flag in clf.classify(text).urgency


def test_the_stop_list_is_configurable() -> None:
    text = "the Acme Flames heater arrived without its manual"
    assert RuleClassifier().classify(text).urgency == ("safety",)  # "flames"
    assert RuleClassifier(urgency_stop=["acme flames"]).classify(text).urgency == ()
    pm = get_plugin_manager(load_entrypoints=False)
    config = Config.model_validate({"plugins": {"classifier": {"urgency_stop": ["acme flames"]}}})
    built = check_plugin_config(config, pm)["classifier"].classifier
    assert isinstance(built, ClassifierPlugin)
    assert built.classifier.classify(text).urgency == ()
    with pytest.raises(ConfigError, match=r"plugins\.classifier\.urgency_stop"):
        check_plugin_config(
            Config.model_validate({"plugins": {"classifier": {"urgency_stop": "fire"}}}), pm
        )


# --------------------------------------------------------------------------- spam


@pytest.mark.parametrize(
    "text",
    [
        "Yatırım hesabımdan bilgim dışında para çekildi, bonus kampanyası diye kandırıldım",
        "Bonus kartımın kampanya kazancı hesabıma yatırılmadı, 3 haftadır bekliyorum",
        "Kripto yatırım hesabıma erişemiyorum, şikayetçiyim",
        "I was promised a $200 bonus for opening the account and never got it",
        "you said I'd win a free upgrade and charged me twice instead http://t.co/x",
    ],
)
def test_a_complaint_is_never_spam(clf: RuleClassifier, text: str) -> None:
    assert clf.classify(text).kind is Kind.COMPLAINT


@pytest.mark.parametrize(
    "text",
    [
        "TEBRİKLER! 1000 TL hediye çeki kazandınız, hemen tıklayın bit.ly/xyz12",
        "Invest in Bitcoin and double your money in a week, link in bio",
    ],
)
def test_strong_spam_is_still_spam(clf: RuleClassifier, text: str) -> None:
    assert clf.classify(text).kind is Kind.SPAM


@pytest.mark.parametrize(
    "text",
    [
        "Hesabınız askıya alındı, doğrulamak için hemen linke tıklayın: bit.ly/x1",
        "Your account is suspended. Click here to verify: http://x.example/v",
        "Rank #1 on Google. I noticed you are missing out on 12,000 monthly searches. Our "
        "white-hat SEO team can get you to page 1 in 30 days. Can I send you a free audit? "
        "Reply STOP to unsubscribe",
        "@AcmeDestek takip edene geri takip 💯💯 RT yapan herkesi takip ediyorum #f4f",
        "Dear Sir/Madam, I am Mr David Moore, a private investment consultant. I have a client "
        "who wishes to invest USD 25,000,000 in your company.",
        "Hello dear, I am a certified crypto investment manager. I can help your company make "
        "300% profit in 7 days. Reply YES to start.",
        "Dear user, Your mailbox has reached 98% of its quota. Click below to upgrade your "
        "storage for free: http://mailbox.example/upgrade Mail Administrator",
        # Agents' notes of calls and faxes that were no customer's matter.
        "Arayan kişi kendini bir reklam ajansının temsilcisi olarak tanıttı, ürün tanıtımı "
        "yapmaya başladı. Müşteri değil, görüşme sonlandırıldı.",
        "İstenmeyen reklam faksı: toner kampanyası, 'bu faksı almak istemiyorsanız 0 tuşlayın' "
        "yazıyor. Müşteri talebi değil.",
        "Arayan kişi bir bankayı aradığını sandı, yanlış numara. Doğru numara verildi.",
    ],
)
def test_plain_spam_and_calls_that_were_no_customers_matter_are_spam(
    clf: RuleClassifier, text: str
) -> None:
    assert clf.classify(text).kind is Kind.SPAM


@pytest.mark.parametrize(
    "text",
    [
        "Faturam yanlış numaraya gönderilmiş, düzeltin",
        "Ben müşteri değil miyim? 3 gündür internet yok",
        "Reklam ajansı gibi davranıyorsunuz, faturam yine yanlış",
    ],
)
def test_the_new_spam_cues_leave_complaints_alone(clf: RuleClassifier, text: str) -> None:
    assert clf.classify(text).kind is Kind.COMPLAINT


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Gelen SMS'teki linke tıkladım, kartımdan para çekildi", "fraud"),
        ("Dolandırıldım, hesabımdan 5000 TL çekildi", "fraud"),
        ("I clicked a link in a text and money was taken from my account", "fraud"),
        ("'Hesabınız askıya alındı, linke tıklayın' diye SMS geldi, tıkladım, kartımdan 5000 TL "
         "çekildi", None),
    ],
)  # fmt: skip
def test_a_fraud_victim_is_a_complaint_not_spam(text: str, category: str | None) -> None:
    """Victims quote the scam ("linke tıklayın") and say what it did: a complaint, in the banking
    pack's fraud category where the words name it, never spam nor a suspect of spam."""
    banking = RuleClassifier(configured_taxonomy({"sectors": ["banking"]}))
    result = banking.classify(text)
    assert (result.kind, result.urgency) == (Kind.COMPLAINT, ())
    if category is not None:
        assert result.category == category


@pytest.mark.parametrize(
    "text",
    [
        # A scam that borrows one complaint word to look relevant ("Kesinti mağduru").
        "TEBRİKLER 🎉 Kesinti mağduru ilk 100 aboneye 1000 TL hediye çeki! Almak için sayfamızı "
        "beğenin ve linke tıklayın: acme-hediye.example",
        "Congratulations, you've been selected! Our service was down so claim your $100 gift "
        "card: click here http://x.example/c",
    ],
)
def test_complaint_cues_in_a_scam_go_to_review_not_to_spam(clf: RuleClassifier, text: str) -> None:
    """A message with complaint cues is never spam; with overwhelming spam evidence as well it
    is a complaint flagged suspected_spam, which the router sends to triage."""
    result = clf.classify(text)
    assert result.kind is Kind.COMPLAINT
    assert "suspected_spam" in result.urgency
    decision, _ = DefaultRouter().explain(
        InboundInteraction(channel="facebook", external_id="p1", text=text, public=True,
                           created_at="2026-01-01T00:00:00Z", author=Author(external_id="x")),
        result,
    )  # fmt: skip
    assert decision.department == "triage"
    assert "suspected_spam" in decision.reason


def test_a_suspected_spam_opens_a_triage_case(app) -> None:
    app.ingest([message("g1", "TEBRİKLER 🎉 Kesinti mağduru ilk 100 aboneye 1000 TL hediye çeki! "
                        "Almak için sayfamızı beğenin ve linke tıklayın: acme-hediye.example",
                        channel="facebook", author="page", public=True)])  # fmt: skip
    [case] = app.cases()
    assert (case.department, case.kind) == ("triage", "complaint")
    assert app.interactions(case=case.id)[0].urgency == ["suspected_spam"]


def test_one_promotional_word_and_a_link_is_not_spam(clf: RuleClassifier) -> None:
    assert clf.classify("total win!! thank you for the snacks http://t.co/x").kind is not Kind.SPAM


# --------------------------------------------------------------------------- subjects


def test_the_subject_is_classified_with_the_body() -> None:
    plug = ClassifierPlugin()
    base = {
        "channel": "email",
        "external_id": "m1",
        "created_at": "2024-10-21T09:00:00+00:00",
        "author": Author(external_id="a"),
    }
    body = InboundInteraction(**base, text="Müşteri numaram 123456.")
    titled = InboundInteraction(
        **base, text="Müşteri numaram 123456.", subject="Kartımdan izinsiz para çekildi"
    )
    assert plug.classify_interaction(body).kind is not Kind.COMPLAINT
    assert plug.classify_interaction(titled).kind is Kind.COMPLAINT


@pytest.mark.parametrize(
    "subject",
    [
        "Re: Kızılay mağazası personel şikayeti",
        "RE: Kızılay mağazası personel şikayeti",
        "YNT: Kızılay mağazası personel şikayeti",
        "Ynt: Re: Kızılay mağazası personel şikayeti",
        "Cevap: Kızılay mağazası personel şikayeti",
        "İLT: Kızılay mağazası personel şikayeti",
        "AW: Kızılay mağazası personel şikayeti",
        "SV: Kızılay mağazası personel şikayeti",
        "Fwd: Kızılay mağazası personel şikayeti",
        "Re[2]: Kızılay mağazası personel şikayeti",
        "[#42] Re: Kızılay mağazası personel şikayeti",
    ],
)
def test_a_replys_subject_does_not_carry_the_complaint_into_a_thank_you(subject: str) -> None:
    """A thank-you in an existing thread is read by its own words, not the thread's subject."""
    plug = ClassifierPlugin()
    thanks = "Merhaba,\n\nMağaza müdürü aradı ve özür diledi. İlginiz için teşekkürler.\n\nCem"
    base = {"channel": "email", "created_at": "2024-10-24T19:09:47+00:00",
            "author": Author(external_id="cem@example.com"), "text": thanks}  # fmt: skip
    reply = InboundInteraction(**base, external_id="m2", subject=subject)
    assert own_subject(reply) is None
    assert plug.classify_interaction(reply).kind is Kind.PRAISE
    # The same words without a prefix, in a thread (In-Reply-To): the thread's own subject.
    threaded = InboundInteraction(
        **base, external_id="m3", subject="Kızılay mağazası personel şikayeti", in_reply_to="m1"
    )
    assert own_subject(threaded) is None
    assert plug.classify_interaction(threaded).kind is Kind.PRAISE


@pytest.mark.parametrize(
    "subject", ["Kızılay mağazası personel şikayeti", "Refund not received", "Reklam: kampanya"]
)
def test_the_first_messages_subject_still_counts(subject: str) -> None:
    first = InboundInteraction(
        channel="email", external_id="m1", created_at="2024-10-23T12:30:55+00:00",
        author=Author(external_id="cem@example.com"), text="Müşteri no 4411.", subject=subject,
    )  # fmt: skip
    assert own_subject(first) == subject


def test_a_surname_built_like_a_negated_verb_does_not_negate_a_thank_you(
    clf: RuleClassifier,
) -> None:
    """"Yılmaz" (the commonest Turkish surname) ends like "-mAz" (does not): a signature."""
    signed = "İade faturamda görünüyor. İlginiz için çok teşekkür ederim.\n\nAyşe Yılmaz"
    assert clf.classify(signed).sentiment == "positive"
    assert clf.classify("Faturam düzelmez mi hiç, bıktım").sentiment == "negative"


def test_scrm_classify_reads_subject_and_title() -> None:
    lines = [
        json.dumps({"id": 1, "text": "Order 5512.", "subject": "Charged twice, want a refund"}),
        json.dumps({"id": 2, "text": "3 aydır bekliyorum.", "title": "Aidat iadesi yapılmadı"}),
        json.dumps({"id": 3, "text": "hi", "subject": 7}),
    ]
    out = list(run_classify(lines, ClassifierPlugin().classify_interaction))
    assert [o.get("kind") for o in out[:2]] == ["complaint", "complaint"]
    assert set(out[0]) == {"id", "language", "sentiment", "sentiment_score", "kind", "category",
                           "urgency"}  # fmt: skip
    assert "error" in out[2] and "subject" in out[2]["error"]


# --------------------------------------------------------------------------- sentiment


@pytest.mark.parametrize(
    "text",
    [
        "@united thanks for no fresh food on my cross country flight",
        "@USAirways great but that still does not help me..",
        "@united I've never experienced worst customer service",
        "Agent's note: customer called about slow internet; promised call-back never came.",
        "I'm glad you're sorry that I'm homeless for the night",
        "Harika, yine iptal 👏",
    ],
)
def test_sarcasm_and_agent_notes_read_negative(clf: RuleClassifier, text: str) -> None:
    assert clf.classify(text).sentiment == "negative"


@pytest.mark.parametrize(
    "text",
    [
        # A long wait, counted in hours.
        "@acme 2 hour wait just to speak to someone",
        "Saatlerdir müşteri hizmetlerine bağlanmayı deniyorum",
        # "Why"/"how" questions that are complaints.
        "@acme why isn't my refund showing up",
        "Paket 3 gündür transfer merkezinde, neden hâlâ yola çıkmadı",
        "How many times do I have to call you",
        "Kaç kez aramam gerekiyor",
        "Daha ne kadar bekleyeceğim",
        # A question asked in exasperation.
        "@acme where is my bag??",
        "Siparişim nerede?!",
        # Nothing can be done, nothing explained.
        "Agent said there's nothing we can do. No explanation.",
        "Açıklama yok, yapacak bir şey yok dediler",
        # Disbelief.
        "Are you kidding me",
        "Dalga mı geçiyorsunuz",
        # Something missing ("with no"), indifference, asking for a human.
        "Flight from DCA with no heat",
        "you clearly don't care about your customers",
        "I just want to speak to a person",
        "Yetkili biriyle görüşmek istiyorum",
        # What was said and not done, and the apology that did not come.
        "I was told my bag would be on the next flight",
        "@acme not even an apology",
        "Bir özür bekliyorum",
        # "Why" to a brand; the pointless and the grudging.
        "@acme why did my flight get moved",
        "What's the point of a priority line",
        "Ne anlamı var bu müşteri hizmetlerinin",
        "En azından bir bilgi verin",
        # Still not there.
        "@acme my bag is still in Chicago",
        # Sarcasm without praise words, and defects named.
        "Answering public messages, fine. Private messages, not so much.",
        "A third party seller ripped me off",
        "yay for a glitchy tracking system",
        "Finally got through after another hour on hold",
        "Any outages? My internet has been down for 3 hours and nobody answers",
        # Everyday words of anger and contempt.
        "the service at your Leeds store was lousy",
        "Utterly infuriating experience with your app today",
        "Your billing is deceptive and the agents are dismissive",
        "I am livid about the shoddy repair",
        "Haftalardır oyalıyorlar, usandım artık",
        "Resmen kazıklandık, herkes bu firmadan kaçının",
        "Kutudan çakma ve lekeli bir ürün çıktı",
    ],
)
def test_complaint_phrasings_read_negative(clf: RuleClassifier, text: str) -> None:
    result = clf.classify(text)
    assert (result.kind, result.sentiment) == (Kind.COMPLAINT, "negative")


@pytest.mark.parametrize(
    "text",
    [
        "Flight 1632 was phenomenal from gate to gate",
        "The crew went above and beyond",
        "@acme never lets me down!!!",
        "The staff were so courteous and professional",
        "Kabin ekibi çok nazikti",
        "Personel güler yüzlü, bayıldım",
        "Flawless setup, the new router just works",
        "Really thankful for the quick fix",
        "Çözüm odaklı bir ekip, beklentimi karşıladı",
        "@airline so excited for our trip next week!",
        "@airline can't wait to fly with you again",
        "@airline your crew is the friendliest, you guys rock",
        # Phrases that hold a word of complaint and mean none.
        "I can't thank you enough",
        "The crew waited for us at the gate, thank you!",
        "Your new ad stole the show",
        # Praise said with a negation.
        "Honestly I can't complain",
        "I couldn't be happier with the service",
        "Couldn't have asked for a better crew",
        "I can't recommend you enough",
        "cannot fault the service",
        "wouldn't fly with anyone else",
        "you can't go wrong with them",
        "everything went without a hitch",
        "hassle-free return, second to none",
    ],
)
def test_praise_words_read_positive(clf: RuleClassifier, text: str) -> None:
    assert clf.classify(text).sentiment == "positive"


@pytest.mark.parametrize(
    "text",
    [
        "How do I add my frequent flyer number?",
        "What time does the store open?",
        "Siparişim ne zaman gelir?",
        "Kargom hangi şubede?",
        "Can you tell me if you currently fly to Hawaii? Thanks!",
        "Kargom hangi şubede? Teşekkürler!",
        # Asking whether there is a delay or an outage is not reporting one.
        "Any delays on tonight's flight from DFW?",
        "Is there an outage in Leeds?",
    ],
)
def test_plain_questions_stay_neutral(clf: RuleClassifier, text: str) -> None:
    result = clf.classify(text)
    assert (result.kind, result.sentiment) == (Kind.QUESTION, "neutral")


@pytest.mark.parametrize(
    "text",
    [
        "Caller reports the router keeps rebooting. Asked for a technician visit.",
        "Customer called about slow speeds; was promised a call-back on Monday that never "
        "happened. Thanked the agent.",
        "Müşteri aradı: internet hızı çok düşük, geri arama sözü verilmiş ama aranmamış. "
        "Teşekkür edip kapattı.",
        "Faks: Müşteri faturasına itiraz ediyor, iki aydır yanlış tarife uygulanmış.",
    ],
)
def test_agent_notes_of_a_problem_are_complaints(clf: RuleClassifier, text: str) -> None:
    assert clf.classify(text).kind is Kind.COMPLAINT


# --------------------------------------------------------------------------- Turkish reviews
# Systematic errors found on the even half of the real Turkish store reviews (bench/README.md).


@pytest.mark.parametrize(
    "text",
    [
        # "-sIz" (without) turns a problem word into praise; "no problem" in its Turkish forms.
        "4 aydır sorunsuz kullanıyorum",
        "Kargo hasarsız ve eksiksiz geldi",
        "Gayet güzel bir ürün, bir sıkıntısı yok",
        "Hiç bir sorunla karşılaşmadım, çok memnun kaldım",
        # Negated verbs that are no failure.
        "Henüz kullanmadım ama yer kaplamıyor, pişman olmazsınız",
        # Praise said with a negation.
        "Daha iyisi olamazdı",
        "Hiçbir kusur bulamadım",
        "Eleştirecek bir şey yok",
        "Şikayet edecek bir şey bulamadım",
        "Memnun kalmamak elde değil",
    ],
)
def test_turkish_reviews_without_a_problem_read_positive(clf: RuleClassifier, text: str) -> None:
    result = clf.classify(text)
    assert (result.kind, result.sentiment) == (Kind.PRAISE, "positive")


@pytest.mark.parametrize(
    "text",
    [
        "Ürün resimdeki gibi değil, iade ettim",
        "Ses seviyesi yetersiz, işe yarar değil",
        "Sakın almayın",
        # Two sentences run together: "önermiyorum.Biz" is no web address.
        "Kesinlikle önermiyorum.Biz yandık siz yanmayın",
        # Praise around a failure told as repeated is sarcasm, in Turkish too.
        "Harika, kargom 3. kez ertelendi 👏",
        "Süper, siparişim yine gelmedi",
        # English keeps reading praise around a problem as a complaint.
        "@united thanks, but my bag is lost",
    ],
)
def test_turkish_review_complaints_and_sarcasm_read_negative(
    clf: RuleClassifier, text: str
) -> None:
    result = clf.classify(text)
    assert (result.kind, result.sentiment) == (Kind.COMPLAINT, "negative")


def test_a_turkish_review_weighing_good_against_bad_is_a_neutral_complaint(
    clf: RuleClassifier,
) -> None:
    result = clf.classify("Ürün güzel ama kutusu ezik geldi")
    assert (result.kind, result.sentiment) == (Kind.COMPLAINT, "neutral")
    assert clf.classify("Kutusu ezik geldi").sentiment == "negative"


@pytest.mark.parametrize(
    "text",
    [
        "İdare eder",
        "Kalitesi orta, iş görür",
        "Çok şey beklemeyin, iş görür",
        "Biraz daha büyük olabilirdi",
    ],
)
def test_a_lukewarm_verdict_reads_neutral(clf: RuleClassifier, text: str) -> None:
    assert clf.classify(text).sentiment == "neutral"


def test_a_lukewarm_verdict_gives_way_to_strong_words_and_not_bad_is_mild_praise(
    clf: RuleClassifier,
) -> None:
    assert clf.classify("İdare eder diye aldım ama berbat, rezalet").sentiment == "negative"
    assert clf.classify("Fena değil, beklediğimden iyiydi").sentiment == "positive"
    assert clf.classify("Fena değil").sentiment == "positive"


def test_praise_before_a_but_the_rules_cannot_read_is_a_reservation(clf: RuleClassifier) -> None:
    reserved = clf.classify("Ürün güzel ama biraz büyük")
    assert (reserved.kind, reserved.sentiment) == (Kind.PRAISE, "neutral")
    # The verdict after the contrast counts as before; one before it stays praise.
    assert clf.classify("Biraz büyük ama çok güzel").sentiment == "positive"
    assert clf.classify("Ürün güzel, biraz büyük").sentiment == "positive"


@pytest.mark.parametrize(
    "text",
    [
        # A negated word the lexicon writes out is taken as written, not negated again.
        "Müşteri hizmetleri hiç ilgilenmiyor",
        "Kesinlikle almayın",
        # A phrase whose last word is negated is denied ("tavsiye ed*" on "edemiyorum").
        "Bu ürünü tavsiye edemiyorum",
        "Kimseye tavsiye etmiyorum",
        # A negation is not undone by a "değil" further on.
        "Beğenmedim, bana göre değil",
        # The spoken "-mıyo" for "-mıyor".
        "Ürün çalışmıyo",
        "Beklentimin altında kaldı",
        "Malesef defolu geldi",
    ],
)
def test_turkish_negations_and_review_words_read_negative(
    clf: RuleClassifier, text: str
) -> None:
    result = clf.classify(text)
    assert (result.kind, result.sentiment) == (Kind.COMPLAINT, "negative")


@pytest.mark.parametrize(
    "text",
    [
        "Pişman olmazsınız",
        "İade etmek istemiyorum, çok güzel",
        # "-sIz" before a copula: "sıkıntısız-dı".
        "Kargo sıkıntısızdı",
        "Beklediğimden iyi çıktı",
        "Severek kullanıyoruz, gayet tatmin edici",
        "Anlatıldığı gibi geldi",
    ],
)
def test_turkish_denied_problems_and_review_praise_read_positive(
    clf: RuleClassifier, text: str
) -> None:
    result = clf.classify(text)
    assert (result.kind, result.sentiment) == (Kind.PRAISE, "positive")


def test_a_reviews_story_of_use_is_no_repeated_failure(clf: RuleClassifier) -> None:
    # How long it has been used, and strong praise around "tekrar" (again), are no sarcasm...
    assert clf.classify("3 aydır kullanıyorum, gayet iyi ama biraz sesli").sentiment == "neutral"
    review = clf.classify("Çok memnunum, harika, tekrar alırım ama kutusu ezik geldi")
    assert review.sentiment == "positive"
    # ...while a short compliment around a failure told as repeated still is.
    assert clf.classify("Harika hizmet, 3 saattir internet yok").sentiment == "negative"
    assert clf.classify("Süper, siparişim yine gelmedi").sentiment == "negative"


def test_what_one_expected_is_no_wait(clf: RuleClassifier) -> None:
    assert clf.classify("Ürün beklediğim gibi geldi").sentiment == "neutral"
    assert clf.classify("3 gündür kargomu bekliyorum").sentiment == "negative"


@pytest.mark.parametrize(
    "text",
    [
        # An English negation with nothing to negate: something expected did not happen.
        "@airline they would not rebook us",
        "@airline no gate agent at B18",
        # Sarcasm: praise words with a complaint context.
        "thanks for the 3 hour delay",
        "great, lost my bag again",
        "harika, yine kargo gecikti",
        # Agents' notes read like the customer's post.
        "Customer called, says the router drops the connection every evening",
        "Müşteri aradı, internet hızının akşamları düştüğünü söyledi",
        "Müşteri aradı, faturasının yanlış geldiğini söyledi",
        # "değil" denies the praise word before the noun it qualifies.
        "kullanışlı bir ürün değil",
        # What follows "but" is the verdict: politeness before it is no praise.
        "I appreciate the quick reply, but the constant schedule changes are frustrating",
        # A negation reaches three words, as in VADER: "not alone" leaves "frustration" alone.
        "good to know I'm not alone in my frustration with your support",
    ],
)
def test_denials_sarcasm_and_notes_read_as_complaints(clf: RuleClassifier, text: str) -> None:
    result = clf.classify(text)
    assert (result.kind, result.sentiment) == (Kind.COMPLAINT, "negative")


@pytest.mark.parametrize(
    "text",
    [
        # Credit for a problem handled is praise, not sarcasm.
        "@airline thank you for fixing my 5 hour delay!",
        "@airline props to Diane at the gate for getting us home after the delay",
        # A review that praises four times as much as it quibbles.
        "Çok memnunum, harika çekiyor, tavsiye ederim. Kargo biraz geç geldi",
        # A verdict on the price paid or an opinion is praise, not a lead or an idea.
        "Gayet kaliteli, fiyatı da çok uygun, tavsiye ederim",
        "Bence gayet kullanışlı ve kaliteli bir ürün",
    ],
)
def test_praise_around_a_handled_or_minor_problem_is_praise(
    clf: RuleClassifier, text: str
) -> None:
    result = clf.classify(text)
    assert (result.kind, result.sentiment) == (Kind.PRAISE, "positive")


@pytest.mark.parametrize(
    "text",
    [
        "@airline can you guys help me please?",
        "@airline hi, when will your next set of flights from Dublin be out?",
    ],
)
def test_a_message_that_ends_asking_with_a_weak_problem_cue_is_a_question(
    clf: RuleClassifier, text: str
) -> None:
    result = clf.classify(text)
    assert (result.kind, result.sentiment) == (Kind.QUESTION, "neutral")


@pytest.mark.parametrize(
    "text",
    [
        "Sipariş no 4411, teslimat adresi Kadıköy",  # "no" is "numara"
        "we offer a no-commitment plan for 549 TL",
        "Do you fly to Hawaii?",
    ],
)
def test_a_no_that_denies_nothing_is_no_complaint(clf: RuleClassifier, text: str) -> None:
    assert clf.classify(text).kind is not Kind.COMPLAINT



@pytest.mark.parametrize(
    "text",
    [
        # A failure told as a plain fact to the brand, with no bad word.
        "@airline you keep hanging up on me",
        "@airline hour 3 at the gate in Denver.",
        "@airline they charged an extra $40 for my carry-on",
        "@airline one agent at the desk and a line out the door",
        "@airline second day without my luggage",
        "@airline 45 minutes on the runway #airlinefail",
        # A question about the state of one's own failed service.
        "@airline are my bags here yet?",
        "@airline where are our suitcases?",
        "@airline did my bag make it onto the connecting flight?",
        "@airline when will my refund come through?",
        # A failure thanked for, or missed as a wish.
        "@airline thanks for losing my suitcase, again",
        "@airline a hotel voucher would have been nice",
        # A question asked to reproach, not to learn.
        "@airline the app logged me out during check-in. Seriously?",
        "@airline your agent says the flight is on time, it left an hour ago. How is that allowed?",
    ],
)
def test_a_failure_told_as_a_fact_or_asked_about_is_a_complaint(
    clf: RuleClassifier, text: str
) -> None:
    assert clf.classify(text).kind is Kind.COMPLAINT


@pytest.mark.parametrize(
    "text",
    [
        "@airline is the lounge in terminal B open on Sundays?",
        "@airline when will my flight start boarding?",
        "@airline what a crew #neverfailtosmile",
        "@airline great crew on the way home #friendlyskies",
        "@airline is the flight on time? #excited",
    ],
)
def test_questions_and_tags_without_a_failure_are_no_complaint(
    clf: RuleClassifier, text: str
) -> None:
    assert clf.classify(text).kind is not Kind.COMPLAINT


@pytest.mark.parametrize(
    "text",
    [
        # Hashtags run together are read word by word: English, in one case.
        "@airline four hours at the gate #horriblecustomerservice",
        "@airline your phone line #nothelpful",
        "@airline #rudestaff #incompetentmanagers",
        # Everyday ways of telling a service let one down, without a bad word.
        "@airline I was bounced around between three agents",
        "@airline the flight got pushed back again",
        "@airline please stop cancelling flights out of Boston",
        "@airline every agent gives different answers",
        "@airline I have to wait until tomorrow for the next flight",
        "@airline 40 minutes now and nobody at the desk",
        "@airline severely under staffed at the airport",
        "@airline this is making me miss my meeting",
        "@airline the seat covers are coming apart",
        "@airline waited an hour for our bags",
        "@airline how does that make sense?",
        "@airline zero communication from the crew",
        "@acme my left earbud disconnects randomly",
        "@acme the new app is so buggy",
    ],
)
def test_hashtags_run_together_and_everyday_failures_are_complaints(
    clf: RuleClassifier, text: str
) -> None:
    assert clf.classify(text).kind is Kind.COMPLAINT, text


def test_a_hashtag_the_lexicons_know_is_not_split() -> None:
    clf = RuleClassifier()
    assert clf.classify("#rezalet").kind is Kind.COMPLAINT  # not "reza", "let"
    assert "churn" in clf.classify("@airline #neveragain").urgency
    # A tag too long to be a phrase is one word, not searched for one (hostile input).
    assert clf.classify("@acme #" + "nothelpful" * 10).kind is not Kind.COMPLAINT
    # Only a message's first 20 tags are split: hundreds of tags are no sentence.
    tags = " ".join(f"#bostontrip{chr(97 + n)}" for n in range(20))
    assert clf.classify(f"@acme {tags} #nothelpful").kind is not Kind.COMPLAINT
    assert clf.classify(f"@acme #nothelpful {tags}").kind is Kind.COMPLAINT


@pytest.mark.parametrize(
    "text",
    [
        "@airline Never. Flying. You. Again.",  # one word a sentence: emphasis
        "@airline still waiting #brokenpromises #notnice #neveragain",  # a tag is its own clause
    ],
)
def test_emphasis_and_hashtags_keep_a_churn_cue(clf: RuleClassifier, text: str) -> None:
    assert "churn" in clf.classify(text).urgency


@pytest.mark.parametrize(
    "text",
    [
        "@airline I'm not going to sue anyone, I just want my bag back",
        "Kullanım kılavuzuna göre ilk kullanımda hafif duman çıkabilir",
        "ilk çalıştırmada biraz duman çıkması normalmiş, sonra geçti",
        "some smoke from a new heater is normal",
        "so you are telling everyone else to wait as well?",
    ],
)
def test_a_danger_denied_warned_of_or_called_normal_raises_no_flag(
    clf: RuleClassifier, text: str
) -> None:
    assert clf.classify(text).urgency == ()


@pytest.mark.parametrize(
    "text",
    [
        "smoke from the charger, and that isn't normal",
        "şarj aletinden duman çıktı, bu normal değil",
        "@airline I am going to sue you over my lost bag",
        "@airline I will be telling everyone about this",
    ],
)
def test_a_danger_or_threat_said_outright_is_still_flagged(clf: RuleClassifier, text: str) -> None:
    assert clf.classify(text).urgency


# ------------------------------------------------------------- formal consumer complaints
# The US consumer complaints (CFPB, bench/README.md) are letters, not tweets: a wrong is named in
# the words of a dispute, and the courtesy that closes a letter is no praise.  Sentences here
# are written for the tests, not taken from the data.


@pytest.mark.parametrize(
    "text",
    [
        "I am writing to dispute a collection account that appears on my report.",
        "This debt is not mine and I have never had an account with this company.",
        "Someone opened a credit card in my name; I am a victim of identity theft.",
        "There are two unauthorized inquiries on my credit file.",
        "The bureau keeps listing my payment history inaccurately.",
        "I mailed the documents in March and the servicer has yet to answer.",
        "The collector calls my workplace every day, which is harassment.",
        "Reporting a debt that was discharged in bankruptcy is illegal.",
        "The lender pulled my credit without my consent.",
        "Thank you in advance for deleting this erroneous late payment.",
    ],
)
def test_a_formal_complaint_names_a_wrong(clf: RuleClassifier, text: str) -> None:
    result = clf.classify(text)
    assert result.kind is Kind.COMPLAINT
    assert result.sentiment == "negative"


def test_thanks_in_advance_is_courtesy_not_praise(clf: RuleClassifier) -> None:
    asked = clf.classify("Could you tell me when the branch opens on Saturday? Thanks in advance")
    assert asked.kind is Kind.QUESTION
    assert clf.classify("Thanks in advance!").kind is not Kind.PRAISE
    assert clf.classify("Thank you so much for fixing my card!").kind is Kind.PRAISE


@pytest.mark.parametrize(
    "text",
    [
        # The other side's lawyers and suits are no threat by the customer.
        "They are suing me for a balance I already paid.",
        "The closing attorney told me a refund check would be mailed.",
        "The loan was sold while the foreclosure lawsuit was pending.",
        # The report every identity theft victim files, and a regulator's rules cited.
        "I attached my FTC identity theft report and a police report.",
        "The caller ignored CFPB guidelines on debt validation.",
        # Injury in its financial sense, or one long healed.
        "Their reporting caused me financial injury.",
        "I missed the payment because of a work injury.",
        # A hospital stay says where the customer was, not what hurt them.
        "I missed two payments while I was in the hospital.",
        "My mother was hospitalized, so I asked the bank to pause the loan.",
        # A pay schedule switched is nobody leaving.
        "My employer decided to switch to biweekly pay, so my autopay date no longer works.",
    ],
)
def test_the_other_sides_lawyers_and_old_injuries_raise_no_flag(
    clf: RuleClassifier, text: str
) -> None:
    assert clf.classify(text).urgency == ()


@pytest.mark.parametrize(
    "text",
    [
        "Correct my report within 30 days or I will sue.",
        "I have forwarded this letter to my attorney.",
        "I am prepared to file a lawsuit in small claims court.",
        "I intend to pursue all legal remedies available to me.",
        "I have reported this to the state attorney general.",
        "Worst customer service ever. Too bad for you I'm a lawyer.",
    ],
)
def test_the_customers_own_lawyer_suit_or_regulator_is_legal(
    clf: RuleClassifier, text: str
) -> None:
    assert "legal" in clf.classify(text).urgency


# A regulator is a step when the customer takes a complaint to it; a lawyer is the customer's
# when they hire, call or consult one; a class action when they join or bring one.  Measured
# on every CFPB legal flag, both halves (bench/README.md).


@pytest.mark.parametrize(
    "text",
    [
        "I filed a complaint with the FTC about these calls.",
        "Your prices are a scam. EVERYONE - make complaint to FTC.",
        "I will be reporting them to the Consumer Financial Protection Bureau.",
        "If this is not fixed by Friday I will hire an attorney.",
        "I spoke with a lawyer about these charges yesterday.",
        "I plan to join a class action against this bank.",
        # The customer calls on the regulator to act: an escalation, not a rule cited.
        "This company should be fined by the CFPB for what it did to me.",
        # "they" in the customer's own condition; the customer's own subject is "I".
        "If they do not remove the account, I will sue.",
    ],
)
def test_a_step_the_customer_takes_is_legal(clf: RuleClassifier, text: str) -> None:
    assert "legal" in clf.classify(text).urgency


@pytest.mark.parametrize(
    "text",
    [
        # The FTC report every identity theft victim files, and what the FTC does.
        "I reached out to the FTC and my local police about the accounts that are not mine.",
        "All of these accounts are being investigated by the FTC.",
        # A regulator's own rules, orders and findings.
        "Under the CFPB final rule, medical bills may not appear on my report.",
        "The lender signed a consent order with the CFPB two years ago.",
        # A lawyer the other side names or sends, or one the customer cannot pay for.
        "The caller said he is an attorney and that I would be arrested.",
        "They referred my account to an attorney without telling me.",
        "I cannot afford an attorney, so I am writing to you instead.",
        # The other side's suit and threats, and advice given to the customer.
        "The agent threatened me with a lawsuit if I did not pay today.",
        "The collector filed a lawsuit against me in another county.",
        "Their website says they will sue anybody who falls behind.",
        "The rep told me to get a lawyer if I wanted the records.",
        "He suggested we contact an attorney about the escrow.",
        # Someone else's class action, reported as news.
        "The bank paid millions after a class action over the same fees.",
    ],
)
def test_the_other_sides_lawyer_suit_or_a_regulators_rule_is_no_legal_flag(
    clf: RuleClassifier, text: str
) -> None:
    assert "legal" not in clf.classify(text).urgency


@pytest.mark.parametrize(
    ("text", "urgent"),
    [
        ("The bank decided to close my account without any warning.", False),
        ("They will close my account if the balance stays negative.", False),
        ("Please close my account as paid in full and release the lien.", False),
        ("I asked that they close my account and refund the balance.", True),
        ("I will be closing my account with them once my refund arrives.", True),
        # In an agent's note "they" is the customer, closing their own account.
        ("Customer called: they want to close their account today.", True),
    ],
)
def test_churn_is_the_customer_leaving_not_the_bank_closing(
    clf: RuleClassifier, text: str, urgent: bool
) -> None:
    assert ("churn" in clf.classify(text).urgency) is urgent


_LETTER = (
    "I am writing about the mortgage on my home, which the servicer transferred twice last "
    "year without telling me. My payments were sent on time every month by automatic "
    "transfer, yet the new servicer reported me thirty days late in March and again in May. "
    "I have sent bank statements, the confirmation numbers and a letter from my employer. "
    "{} Nobody has answered my letters, and the late payments keep me from refinancing. "
    "Please correct the payment history with all three bureaus."
)


@pytest.mark.parametrize(
    ("text", "urgent"),
    [
        # An injury that caused a debt or a missed payment, and a legal sense of the word.
        ("I was injured in a car accident in 2014 and fell behind on the loan.", False),
        ("Due to my injury I could not work for three months.", False),
        ("The false late payments did injury to my credit.", False),
        # A danger word alone is the topic of a short message, a passing word in a letter.
        ("My son got injured on your escalator this morning.", True),
        ("This heater is dangerous, it sparks when I plug it in.", True),
        (_LETTER.format("I was injured at the time and the neighbourhood was dangerous."), False),
        # A phrase of harm counts however long the letter.
        (_LETTER.format("Then the charger you sent me caught fire on my desk."), True),
    ],
)
def test_safety_is_a_danger_from_the_product_now(
    clf: RuleClassifier, text: str, urgent: bool
) -> None:
    assert ("safety" in clf.classify(text).urgency) is urgent


# --------------------------------------------------------------------------- promise kinds


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Başvurunuz inceleme ekiplerimize iletilmiştir.", PromiseKind.investigating),
        ("BAŞVURUNUZ İNCELEME EKİPLERİMİZE İLETİLMİŞTİR", PromiseKind.investigating),
        (
            "Merhaba, başvurunuz inceleme ekiplerimize iletilmiştir. Her türlü sorunuz için "
            "444 0 444 Müşteri Hizmetlerimize ulaşabilirsiniz.",
            PromiseKind.investigating,
        ),
        (
            "Merhaba, başvurunuz inceleme ekiplerimize iletilmiştir. Sürecin takibi için başvuru "
            "numaranızı not almanızı rica ederiz.",
            PromiseKind.investigating,
        ),
        ("Reply in DM", PromiseKind.contact_request),
        ("Hey there! Join us in DM.", PromiseKind.contact_request),
        ("Meet us in DM so we can take a closer look.", PromiseKind.contact_request),
        ("Please click the chat button in the lower-right corner.", PromiseKind.contact_request),
        ("Özel mesaj üzerinden devam edelim.", PromiseKind.contact_request),
        ("The team should send you an email shortly.", PromiseKind.callback),
        ("You should receive an email from our team shortly.", PromiseKind.callback),
        ("Ekibimiz size kısa süre içinde e-posta ile ulaşacak.", PromiseKind.callback),
        ("Ekibimiz kısa süre içinde size e-posta gönderecektir.", PromiseKind.callback),
        ("We replied in DM yesterday.", PromiseKind.none),
        ("We can't reply in DM.", PromiseKind.none),
        (
            "If the bonus does not appear after that time, please contact us for support.",
            PromiseKind.none,
        ),
    ],
)
def test_promise_kinds_as_brands_write_them(text: str, kind: PromiseKind) -> None:
    assert detect_promise(text).kind is kind


def test_forwarded_to_review_keeps_the_clock_running(app) -> None:
    """The bank's "forwarded to the review team" is an investigation: the case does not wait on
    the customer, so its resolution clock is not paused (a request for details would be)."""
    app.ingest(
        [
            message("b1", "Yatırım hesabımdan izinsiz bonus kesintisi yapıldı", author="c",
                    thread_key="b", public=True),
            message("b2", "Merhaba, başvurunuz inceleme ekiplerimize iletilmiştir. Her türlü "
                    "sorunuz için Müşteri Hizmetlerimize ulaşabilirsiniz.", author="bank",
                    minutes=10, thread_key="b", in_reply_to="b1", direction="outbound",
                    public=True),
        ]
    )  # fmt: skip
    [case] = app.cases()
    shown = app.case(case.id)
    assert [f.kind for f in shown.follow_ups] == ["investigating"]
    assert shown.waiting_since is None


# --------------------------------------------------------------------------- real data


def _need(records: list) -> list:
    if not records:
        pytest.skip("real corpus not found in ../shared/data or SCRM_REAL_DATA")
    return records


def test_real_customer_care_messages_are_never_spam_and_rarely_urgent(
    clf: RuleClassifier,
) -> None:
    recs = _need(load_ibm_customers())
    results = [clf.classify(r.text) for r in recs]
    assert sum(r.kind is Kind.SPAM for r in results) <= 3  # 1,177 real requests for help
    assert sum(bool(r.urgency) for r in results) <= 0.01 * len(recs)


def test_real_agent_replies_meet_the_promise_floor() -> None:
    recs = [r for r in _need(load_ibm_agent_replies()) if r.labels]
    for keep in (False, True):
        half = [r for r in recs if held_out(r.n) is keep]
        got = [detect_promise(r.text) for r in half]
        kind_acc = sum(p.kind.value == r.labels["kind"] for r, p in zip(half, got, strict=True))
        tp = sum(
            p.promise and r.labels["promise"] == "True" for r, p in zip(half, got, strict=True)
        )
        fp = sum(
            p.promise and r.labels["promise"] == "False" for r, p in zip(half, got, strict=True)
        )
        fn = sum(
            not p.promise and r.labels["promise"] == "True" for r, p in zip(half, got, strict=True)
        )
        assert 2 * tp / (2 * tp + fp + fn) >= 0.9
        assert kind_acc / len(half) >= 0.9


@pytest.mark.skipif(
    find_corpus("twitter_us_airline_sentiment") is None,
    reason="the airline tweets are not in ../shared/data (set SCRM_REAL_DATA to their folder)",
)
def test_real_airline_tweets_load_whole() -> None:
    """Every published copy of the set has 14,640 tweets (one copy's spreadsheet turned the
    ids into 5.70306E+17: positions are the ids)."""
    recs = load_airline()
    assert len(recs) == 14_640
    assert {r.labels["sentiment"] for r in recs} == {"negative", "neutral", "positive"}
    assert len({r.id for r in recs}) == len(recs)


@pytest.mark.skipif(
    find_corpus("twitter_us_airline_sentiment") is None,
    reason="the airline tweets are not in ../shared/data (set SCRM_REAL_DATA to their folder)",
)
def test_real_airline_tweets_floor(clf: RuleClassifier) -> None:
    recs = [r for r in load_airline() if held_out(r.n)][::5]  # a fifth of the held-out half
    results = [clf.classify(r.text) for r in recs]
    assert sum(r.kind is Kind.SPAM for r in results) <= 2
    problems = [c for r, c in zip(recs, results, strict=True) if r.labels["reason"] in (
        "Late Flight", "Cancelled Flight", "Lost Luggage", "Customer Service Issue")]  # fmt: skip
    assert sum(c.kind is Kind.COMPLAINT for c in problems) / len(problems) >= 0.8
    acc = sum(c.sentiment == r.labels["sentiment"] for r, c in zip(recs, results, strict=True))
    assert acc / len(recs) >= 0.7


@pytest.mark.skipif(
    find_corpus("turkish_store_reviews") is None,
    reason="the Turkish store reviews are not in ../shared/data (set SCRM_REAL_DATA to their folder)",
)
def test_real_turkish_store_reviews_floor(clf: RuleClassifier) -> None:
    recs = [r for r in load_turkish_store_reviews() if held_out(r.n)][::4]  # a quarter, held out
    gold = [r.labels["sentiment"] for r in recs]
    got = [clf.classify(r.text).sentiment for r in recs]
    f1 = []
    for label in ("negative", "neutral", "positive"):
        tp = sum(g == p == label for g, p in zip(gold, got, strict=True))
        f1.append(2 * tp / (gold.count(label) + got.count(label)))
    # 0.623 on this quarter, 0.632 on the whole held-out half; 0.508 before issue 20's work.
    assert sum(f1) / 3 >= 0.60


def test_real_kind_mix_floor(clf: RuleClassifier) -> None:
    """Kinds derived from the sources' own labels (``load_kind_mix``), Turkish and English."""
    recs = [r for r in load_kind_mix() if held_out(r.n)]
    langs = {r.labels["lang"] for r in recs}
    if langs != {"tr", "en"}:
        pytest.skip("the kind mix needs the airline tweets and the Turkish corpora (SCRM_REAL_DATA)")
    gold = [r.labels["kind"] for r in recs]
    got = [str(clf.classify(with_subject(r.labels.get("title"), r.text)).kind) for r in recs]
    f1 = []
    for kind in sorted(set(gold)):
        tp = sum(g == p == kind for g, p in zip(gold, got, strict=True))
        f1.append(2 * tp / (gold.count(kind) + got.count(kind)))
    assert sum(f1) / len(f1) >= 0.70  # 0.731 on the held-out half; 0.708 before this floor


@pytest.mark.skipif(
    find_corpus("sikayetvar_banks") is None,
    reason="the Şikayetvar bank complaints are not in ../shared/data (set SCRM_REAL_DATA)",
)
def test_real_turkish_bank_complaints_are_complaints_and_never_spam() -> None:
    recs = [r for r in load_sikayetvar_banks() if held_out(r.n)][::4]
    plug = ClassifierPlugin()
    results = [
        plug.classify_interaction(
            InboundInteraction(channel="cli", external_id=r.id, text=r.text,
                               subject=r.labels["title"], created_at="2026-01-01T00:00:00Z",
                               author=Author(external_id="c"))
        )
        for r in recs
    ]  # fmt: skip
    assert not [r for r in results if r.kind is Kind.SPAM]
    assert sum(r.kind is Kind.COMPLAINT for r in results) / len(results) >= 0.95


def test_the_cfpb_loader_reads_the_official_export_and_samples(tmp_path, monkeypatch) -> None:
    """The CFPB's own CSV (its column names), and a sample that kept fewer columns under other
    spellings; complaints without a narrative are skipped, a narrative filed twice read once,
    the redactions kept."""
    folder = tmp_path / "cfpb_complaints"
    folder.mkdir()
    (folder / "a_complaints.csv").write_text(
        "Date received,Product,Sub-product,Issue,Consumer complaint narrative,Complaint ID\n"
        "2024-01-02,Debt collection,Medical debt,Attempts to collect debt not owed,"
        '"They keep calling about a XXXX bill\nthat I paid on XX/XX/XXXX.",1001\n'
        "2024-01-03,Mortgage,FHA mortgage,Escrow account,,1002\n",
        encoding="utf-8-sig",
    )
    (folder / "b_sample.csv").write_text(
        "Product,Consumer_complaint_narrative\n"
        'Mortgage,"They keep calling about a XXXX bill\nthat I paid on XX/XX/XXXX."\n'
        "Credit card,These charges are not mine.\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("SCRM_REAL_DATA", str(tmp_path))
    recs = load_cfpb_complaints()
    assert [(r.n, r.id, r.source) for r in recs] == [
        (0, "1001", "cfpb"),
        (1, "b_sample:row2", "cfpb"),
    ]
    assert recs[0].text.startswith("They keep calling about a XXXX bill\nthat")
    assert recs[0].labels == {"product": "Debt collection",
                              "issue": "Attempts to collect debt not owed", "complaint": "yes"}  # fmt: skip
    assert recs[1].labels["issue"] == ""


@pytest.mark.skipif(
    find_corpus("cfpb_complaints") is None,
    reason="the CFPB consumer complaints are not in ../shared/data (set SCRM_REAL_DATA)",
)
def test_real_us_consumer_complaints_are_complaints_and_never_spam(clf: RuleClassifier) -> None:
    """Every CFPB narrative is a complaint a person filed (issue 20: recall at least 0.95, none
    called spam); 0.983 on this half of the held-out half (0.977 on all of it, 0.955 before
    the formal-complaint cues)."""
    recs = [r for r in load_cfpb_complaints() if held_out(r.n)][::2]
    results = [clf.classify(r.text) for r in recs]
    assert not [r for r in results if r.kind is Kind.SPAM]
    assert sum(r.kind is Kind.COMPLAINT for r in results) / len(results) >= 0.95


@pytest.mark.parametrize(
    "text",
    [
        # "... olursa çok iyi olur": the intensified wish is still a wish, not a neutral remark.
        "Mobil bankacılığa karanlık tema eklenirse çok iyi olur",
        "Kargo takibinde harita görünse çok güzel olur",
        "Faturayı e-posta ile de gönderseniz iyi olurdu",
    ],
)
def test_a_wish_said_to_be_nice_is_an_idea(clf: RuleClassifier, text: str) -> None:
    assert clf.classify(text).kind is Kind.IDEA
