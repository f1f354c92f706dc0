"""What the bundled sample's support team did that no message records; `make demo` runs it.

The sample holds messages, and the brand's replies among them move the cases along the loop.
Some work of a real team leaves no message behind, and without it the demo board would show
cases that no team would have left open:

- the coordinated burst (eight fake "3 gündür internet yok ... herkes Rakip'e geçsin" tweets
  from days-old accounts, flagged by `scrm review`): linked to one incident and closed the
  next morning, after the review;
- the suspected spam (a fake "Kesinti mağduru ... hediye çeki" giveaway posted on the brand's
  Facebook page: complaint words in a scam, so it reached triage, not the bin): looked at
  the next morning and closed, nobody to answer;
- the feed items (a blog question, a blog post and a video about a failure, a forum post):
  answered as the brand on their pages a couple of hours after they appeared, recorded as
  `scrm case answered` records them, and closed, the conversation being on the page.

Run in the demo folder (it reads ./scrm.toml) after the sample was ingested:
``python ../scripts/demo_agents.py``.  Times are placed relative to the cases, so it works on
the sample moved to any date (``--as-of``); running it twice changes nothing more.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

import scrm
from scrm.core.app import Scrm
from scrm.core.services import cases as case_service
from scrm.core.services import outbox
from scrm.plugin.db import Case
from scrm.plugins.classifier import SUSPECTED_SPAM
from scrm.plugins.tables.coordinated import CaseFlag

AGENT = "zeynep"
INCIDENT = "#AcmeRezalet bot burst"
BURST_NOTE = (
    "coordinated fake complaints (scrm review): accounts days old with no followers, one text "
    "reworded, no outage in the area; nobody answered the brand"
)
#: What the brand wrote on each page, by the feed item's id.
ANSWERS = {
    "https://evdennotlar.example/?p=2199": (
        "Merhaba, Acme Destek'ten yazıyoruz. Öğrenci tarifesi 12 ay taahhütlüdür; taahhüt "
        "bitmeden iptal ederseniz yalnızca kalan ayların indirimi yansıtılır, ayrıca bir ceza yoktur."
    ),
    "https://evdennotlar.example/?p=2210": (
        "Merhaba, Acme Destek'ten yazıyoruz; yaşadığınız kesinti için özür dileriz. Arıza "
        "kaydınızı öne aldık, teknik ekibimiz bugün sizi arayacak."
    ),
    "yt:video:dEm0AcMe001": (
        "Merhaba, Acme Destek. Akşam saatlerindeki Wi-Fi kopması modemin kanal ayarından "
        "kaynaklanıyor; bu akşam yayımlanan yazılım güncellemesi sorunu gideriyor."
    ),
    "https://forum.tuketici.example/t/acme-faturama-habersiz-ek-paket/5521": (
        "Merhaba, Acme Destek'ten yazıyoruz. Onayınız olmadan eklenen paketleri iptal edip "
        "bedelini iade ediyoruz; hizmet numaranızla destek@acme.com.tr adresine yazmanız yeterli."
    ),
}


def close_the_burst(app: Scrm) -> list[int]:
    """Link the open cases `scrm review` flags into one incident and close them."""
    with app.session(read_only=True) as s:
        flagged = s.execute(
            sa.select(Case.id, Case.opened_at)
            .join(CaseFlag, CaseFlag.case_id == Case.id)
            .where(Case.status.not_in(("resolved", "closed")))
            .order_by(Case.id)
        ).all()
    if not flagged:
        return []
    ids = [row.id for row in flagged]
    case_service.link(app, ids, INCIDENT, actor=AGENT)
    newest = max(_aware(row.opened_at) for row in flagged)
    at = min(newest + timedelta(hours=15), datetime.now(UTC))  # the next morning's review
    for case_id in ids:
        case_service.transition(app, case_id, "closed", actor=AGENT, note=BURST_NOTE, now=at)
    return ids


SPAM_NOTE = "reviewed: a fake giveaway page, not a customer; reported to Facebook"


def review_the_suspected_spam(app: Scrm) -> list[int]:
    """Close the open triage cases opened by a message flagged ``suspected_spam``."""
    done = []
    for case in app.cases(department="triage", status="open", limit=100):
        first = app.interactions(case=case.id, limit=1)
        if not first or SUSPECTED_SPAM not in first[0].urgency:
            continue
        at = min(_aware(case.opened_at) + timedelta(hours=15), datetime.now(UTC))
        case_service.transition(app, case.id, "closed", actor=AGENT, note=SPAM_NOTE, now=at)
        done.append(case.id)
    return done


def answer_the_feed_items(app: Scrm) -> list[int]:
    """Record the brand's answer given on each feed item's page, and close its case."""
    done = []
    for case in app.cases(channel="feeds", status="open", limit=100):
        first = app.interactions(case=case.id, limit=1)
        text = ANSWERS.get(first[0].external_id) if first else None
        if text is None:
            continue
        at = min(_aware(case.opened_at) + timedelta(hours=2), datetime.now(UTC))
        outbox.record_answer(app, case.id, actor=AGENT, text=text, at=at)
        case_service.transition(
            app, case.id, "closed", actor=AGENT, note="answered on the page itself",
            now=at + timedelta(minutes=1),
        )  # fmt: skip
        done.append(case.id)
    return done


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def main() -> None:
    app = scrm.open()
    burst = close_the_burst(app)
    spam = review_the_suspected_spam(app)
    feeds = answer_the_feed_items(app)
    print(
        f"the sample's agents closed {len(burst)} cases of the bot burst (incident "
        f"{INCIDENT!r}), {len(spam)} reviewed as spam, and answered {len(feeds)} feed items "
        "on their pages"
    )


if __name__ == "__main__":
    main()
