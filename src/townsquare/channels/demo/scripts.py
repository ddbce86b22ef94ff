"""What the demo's simulated customers say: short, realistic posts in German and English, the mix
a telecom's social team sees (questions, complaints, requests, praise, venting, outage reports,
people asking for recommendations), and how they answer the team's replies."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Line:
    lang: str
    kind: str
    text: str
    private: bool = False


BRAND = "@acme"

OPENERS: tuple[Line, ...] = (
    Line("en", "question", f"{BRAND} how do I activate roaming before my trip to Spain next week?"),
    Line("en", "question", f"{BRAND} is there a way to see my data usage without the app?"),
    Line("en", "question", f"Does {BRAND} support eSIM on the Pixel 9? Couldn't find it on the site"),
    Line("en", "complaint", f"{BRAND} third time this month my bill is higher than the contract says. Not ok."),
    Line("en", "complaint", f"{BRAND} waited 45 minutes on the hotline and got disconnected. Seriously?"),
    Line("en", "complaint", f"{BRAND} your technician didn't show up today. I took the day off for this."),
    Line("en", "request", f"{BRAND} please cancel the sports add-on, I never ordered it"),
    Line("en", "request", f"{BRAND} I want a refund for the 3 days without internet last week"),
    Line("en", "praise", f"Shout-out to {BRAND} support, fixed my router issue in 5 minutes 🙌"),
    Line("en", "praise", f"Switched to {BRAND} last month and honestly the coverage is great so far"),
    Line("en", "venting", "why is every phone company the same. paying for 5G, getting edge. every. day."),
    Line("en", "venting", f"Love how {BRAND} raises prices every year while the service gets worse"),
    Line("en", "recommendation", "Which provider has the best coverage in rural Bavaria? Thinking about @acme"),
    Line(
        "en", "recommendation", "Anyone happy with their home internet? Need something reliable for working from home"
    ),
    Line("en", "question", "Hi, I'd like to change the address on my contract. How does that work?", private=True),
    Line("en", "complaint", "I was charged twice for my new phone. Order 7788123. Please check.", private=True),
    Line("en", "request", "Can you move my contract to the cheaper plan from next month?", private=True),
    Line("de", "question", f"{BRAND} wie kann ich meine Rufnummer zu euch mitnehmen?"),
    Line("de", "question", f"{BRAND} Gibt es das neue iPhone auch mit Vertrag ohne Anzahlung?"),
    Line("de", "question", f"Hallo {BRAND}, funktioniert WLAN-Call auch im Ausland?"),
    Line("de", "complaint", f"{BRAND} seit drei Tagen kein Internet und niemand meldet sich. Unfassbar."),
    Line(
        "de", "complaint", f"{BRAND} Die Rechnung ist schon wieder falsch. Ich habe den Tarif vor Monaten gewechselt!"
    ),
    Line("de", "complaint", f"{BRAND} Techniker-Termin einfach abgesagt, ohne Info. So nicht."),
    Line("de", "request", f"{BRAND} bitte kündigt meine Zusatzoption, ich habe die nie bestellt"),
    Line("de", "praise", f"Danke {BRAND}, der Umzug des Anschlusses hat reibungslos geklappt 👍"),
    Line("de", "praise", f"Muss auch mal gesagt werden: super Beratung im {BRAND} Shop heute"),
    Line(
        "de",
        "venting",
        "Warum ist Mobilfunk in Deutschland eigentlich immer noch so schlecht? Funkloch im ICE, wie immer.",
    ),
    Line("de", "recommendation", "Welcher Anbieter hat das beste Netz in Hamburg? Überlege zu @acme zu wechseln"),
    Line("de", "question", "Hallo, ich möchte meine Bankverbindung ändern. Wie geht das?", private=True),
    Line("de", "complaint", "Meine Bestellung 5566778 ist seit zwei Wochen nicht angekommen.", private=True),
    Line("de", "request", "Bitte schickt mir die Rechnung vom Oktober noch einmal zu.", private=True),
)

OUTAGE: tuple[Line, ...] = (
    Line("en", "outage", f"{BRAND} is the mobile network down in Berlin? No signal since 10 minutes"),
    Line("de", "outage", f"{BRAND} Ist das Netz gerade gestört? Kein Empfang in München"),
    Line("en", "outage", f"{BRAND} no mobile data at all right now, anyone else?"),
    Line("en", "outage", f"is {BRAND} down?? calls don't go through"),
    Line("en", "outage", f"{BRAND} network outage? lost signal completely"),
    Line("en", "outage", f"{BRAND} internet not working since 20 min, is it just me?"),
    Line("de", "outage", f"{BRAND} Netz weg? Kein mobiles Internet mehr"),
    Line("de", "outage", f"Ist bei {BRAND} gerade eine Störung? Kann nicht telefonieren"),
    Line("de", "outage", f"{BRAND} Totalausfall bei mir, kein Empfang. Bei euch auch?"),
    Line("de", "outage", f"{BRAND} Störung? Internet geht seit einer halben Stunde nicht"),
)

FOLLOW_UPS: dict[str, tuple[str, ...]] = {
    "en": (
        "Thanks, that helped!",
        "Still not working, I'm afraid.",
        "ok, will try that. thx",
        "That's not really an answer to my question…",
        "Great, thanks for the quick reply 👍",
    ),
    "de": (
        "Danke, hat geklappt!",
        "Geht leider immer noch nicht.",
        "Ok, probiere ich. Danke",
        "Das beantwortet meine Frage nicht wirklich…",
        "Super, danke für die schnelle Antwort 👍",
    ),
}

PRIVATE_DETAILS: dict[str, tuple[str, ...]] = {
    "en": (
        "My customer number is 4711-2233, the phone number is +49 151 23456789.",
        "Sure, the contract is on my name, born 12.03.1985.",
    ),
    "de": (
        "Meine Kundennummer ist 4711-2233, Rufnummer +49 151 23456789.",
        "Gerne, der Vertrag läuft auf meinen Namen, geboren am 12.03.1985.",
    ),
}

PEOPLE: tuple[tuple[str, str, str, int], ...] = (
    ("u-anna", "anna_k", "Anna Keller", 180),
    ("u-ben", "benmiller", "Ben Miller", 1200),
    ("u-chloe", "chloe.codes", "Chloe Park", 56),
    ("u-david", "dschmidt", "David Schmidt", 340),
    ("u-emma", "emma_w", "Emma Wagner", 25_000),
    ("u-farid", "farid_h", "Farid Haddad", 90),
    ("u-greta", "greta_b", "Greta Braun", 410),
    ("u-hugo", "hugo.l", "Hugo Lambert", 72),
    ("u-ines", "ines_m", "Inês Martins", 230),
    ("u-jonas", "jonas_f", "Jonas Fischer", 15),
    ("u-kate", "kate_o", "Kate O'Brien", 3100),
    ("u-lena", "lena.hoffmann", "Lena Hoffmann", 640),
    ("u-mo", "mo_ali", "Mohammed Ali", 88),
    ("u-nina", "nina_wolf", "Nina Wolf", 150),
    ("u-oskar", "oskar_k", "Oskar Krüger", 47),
    ("u-priya", "priya_s", "Priya Sharma", 920),
    ("u-quinn", "quinn.t", "Quinn Taylor", 61),
    ("u-rosa", "rosa_m", "Rosa Meier", 205),
    ("u-sam", "sam_obi", "Samuel Obi", 1730),
    ("u-tara", "tara_n", "Tara Nguyen", 34),
    ("u-ulli", "ulli_s", "Ulrike Schulz", 118),
    ("u-vera", "vera_p", "Vera Popescu", 77),
    ("u-will", "will_j", "William Jones", 540),
    ("u-xenia", "xenia_k", "Xenia Kowalski", 96),
    ("u-yusuf", "yusuf_d", "Yusuf Demir", 263),
    ("u-zoe", "zoe_r", "Zoë Richter", 4400),
    ("u-arne", "arne_l", "Arne Lindqvist", 12),
    ("u-bea", "bea_s", "Beatriz Santos", 380),
    ("u-carl", "carl_v", "Carl Vogel", 57),
    ("u-dana", "dana_c", "Dana Cohen", 810),
    ("u-eli", "eli_w", "Elias Weber", 143),
    ("u-fatma", "fatma_y", "Fatma Yılmaz", 290),
    ("u-gus", "gus_h", "Gustav Hansen", 21),
    ("u-hana", "hana_s", "Hana Suzuki", 667),
    ("u-ivan", "ivan_p", "Ivan Petrov", 49),
    ("u-jule", "jule_b", "Jule Becker", 1015),
    ("u-kofi", "kofi_a", "Kofi Asante", 233),
    ("u-lisa", "lisa_k", "Lisa König", 176),
    ("u-marc", "marc_d", "Marc Dubois", 88),
    ("u-xss", "<b>mallory</b>", "<script>alert('x')</script> Mallory", 5),
)
