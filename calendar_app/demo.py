"""A believable demo team: Stadtwerke Nordhafen, a municipal energy utility, and a month of plans.

Everything goes through the rules modules (accounts, channels, planning), so the demo data obeys
the same channel limits and the four-eyes rule as real work. The caller commits.
"""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy.orm import Session

from calendar_app import campaigns, planning, playbooks, post_media
from calendar_app.accounts import create_user
from calendar_app.channels import create_channel, update_channel
from calendar_app.departments import department_by_slug
from calendar_app.models import Campaign, Channel, Department, Media, Post, Role, User
from calendar_app.timeutil import now_utc

COMPANY = "Stadtwerke Nordhafen"
DOMAIN = "nordhafen.example"


class DatabaseNotEmpty(Exception):
    """The demo only fills an empty database; it never mixes with real data."""


# key: (slug of the standard department, the company's name for it, colour). Every database has
# the standard departments (migration 0005); the demo company calls them by its own names.
DEPARTMENTS = {
    "marketing": ("marketing", "Marketing", "#d9480f"),
    "presse": ("pr", "Presse (PR)", "#1c7ed6"),
    "hr": ("hr", "Personal (HR)", "#2f9e44"),
    "kundenservice": ("customer-service", "Kundenservice", "#ae3ec9"),
    "media": ("media", "Mediaplanung", "#f08c00"),
    "uk": ("corporate-communications", "Unternehmenskommunikation", "#0b7285"),
}

# key: (name, role, department slugs)
PEOPLE = {
    "admin": ("Jana Petersen", Role.ADMIN, ["uk"]),
    "albers": ("Dr. Katrin Albers", Role.HEAD, ["uk", "marketing", "hr"]),
    "brandt": ("Michael Brandt", Role.HEAD, ["presse", "kundenservice"]),
    "hoffmann": ("Lena Hoffmann", Role.PLANNER, ["marketing"]),
    "krueger": ("Tobias Krüger", Role.PLANNER, ["marketing"]),
    "demir": ("Aylin Demir", Role.PLANNER, ["presse"]),
    "wolf": ("Sebastian Wolf", Role.PLANNER, ["hr"]),
    "janssen": ("Mira Janssen", Role.PLANNER, ["kundenservice"]),
    "behrens": ("Jonas Behrens", Role.PLANNER, ["uk", "presse"]),
    "yilmaz": ("Deniz Yilmaz", Role.PLANNER, ["media", "marketing"]),
}

# key: (name, network); all of kind `outbox`, so the demo works without any external account.
CHANNELS = {
    "x": ("X @StadtwerkeNH", "x"),
    "linkedin": ("LinkedIn Stadtwerke Nordhafen", "linkedin"),
    "karriere": ("LinkedIn Karriere", "linkedin"),
    "instagram": ("Instagram @stadtwerke.nordhafen", "instagram"),
    "facebook": ("Facebook Stadtwerke Nordhafen", "facebook"),
    "mastodon": ("Mastodon @stadtwerke@social.nordhafen.example", "mastodon"),
    "blog": ("Blog: Energie vor Ort", "blog"),
}

# key: (owner, deputy). The blog has only an owner: it shows how a channel at risk is flagged.
CHANNEL_CARE = {
    "x": ("janssen", "demir"),
    "linkedin": ("behrens", "demir"),
    "karriere": ("wolf", "albers"),
    "instagram": ("hoffmann", "krueger"),
    "facebook": ("krueger", "janssen"),
    "mastodon": ("demir", "behrens"),
    "blog": ("behrens", None),
}

DRAFT, REVIEW, APPROVED = "draft", "review", "approved"


@dataclass(frozen=True)
class Plan:
    day: int  # days after today, on the team's wall clock
    at: str  # local time, "HH:MM"
    department: str
    author: str
    channels: tuple[str, ...]
    title: str
    body: str
    state: str = APPROVED
    crisis_response: bool = False


# fmt: off
PLANS = (
    Plan(1, "08:30", "kundenservice", "janssen", ("x", "mastodon", "facebook"),
         "Bauarbeiten Hafenstraße",
         "Ab heute erneuern wir die Fernwärmeleitung in der Hafenstraße. Bis Freitag ist die "
         "Fahrbahn stadteinwärts gesperrt. Umleitung über die Deichallee. Danke für Ihre Geduld!"),
    Plan(1, "12:00", "marketing", "hoffmann", ("instagram", "facebook"),
         "Mittagspause mit Ökostrom",
         "Unser Kantinenteam kocht seit diesem Monat komplett mit Nordhafen Ökostrom. 🌱 "
         "Was steht bei euch heute auf dem Teller?"),
    Plan(2, "09:00", "uk", "behrens", ("x", "facebook", "linkedin", "mastodon"),
         "Vorbereitete Stellungnahme (Krisenfall)",
         "Wir haben Ihre Hinweise gelesen und nehmen sie sehr ernst. Wir klären den Vorfall "
         "gerade auf und melden uns heute bis 16 Uhr hier mit weiteren Informationen.",
         state=DRAFT),
    Plan(2, "10:00", "hr", "wolf", ("karriere",),
         "Ausbildungsstart",
         "Willkommen an Bord! 14 neue Auszubildende starten heute bei den Stadtwerken Nordhafen: "
         "als Elektroniker:innen, Anlagenmechaniker:innen und Industriekaufleute. Wir freuen uns "
         "auf drei spannende Jahre mit euch."),
    Plan(3, "07:45", "kundenservice", "janssen", ("x", "mastodon"),
         "Störung Wasserversorgung Altstadt behoben",
         "Update: Die Wasserversorgung in der Altstadt läuft wieder normal. Falls das Wasser "
         "anfangs trüb ist, bitte kurz laufen lassen. Fragen? Hotline 0800 123 45 67."),
    Plan(3, "11:30", "presse", "demir", ("linkedin", "blog"),
         "Jahresbilanz: 38 % mehr Solarstrom",
         "Die Stadtwerke Nordhafen haben im vergangenen Jahr 38 Prozent mehr Solarstrom ins Netz "
         "eingespeist als im Vorjahr. Geschäftsführerin Birgit Lorenzen: „Die Energiewende "
         "passiert hier vor Ort, auf den Dächern unserer Kundinnen und Kunden.“"),
    Plan(4, "17:30", "marketing", "krueger", ("instagram",),
         "Feierabend am Hafen",
         "Sonnenuntergang über dem Containerhafen, fotografiert von unserer Kollegin Svenja "
         "aus dem Netzbetrieb. 📸 #Nordhafen #Feierabend"),
    Plan(5, "09:30", "uk", "behrens", ("linkedin", "blog"),
         "Neues Wärmenetz Speicherstadt",
         "Bis 2028 schließen wir 1.200 Haushalte in der Speicherstadt an unser neues, "
         "klimafreundliches Wärmenetz an. Im Blog erklären wir, wie die Abwärme aus dem "
         "Klärwerk künftig Wohnungen heizt.",
         state=REVIEW),
    Plan(5, "14:00", "kundenservice", "janssen", ("facebook", "x"),
         "Zählerstand online melden",
         "Ablesezeit! Ihren Zählerstand können Sie bis zum 15. bequem im Kundenportal melden, "
         "ganz ohne Termin. Foto vom Zähler genügt."),
    Plan(6, "10:00", "marketing", "hoffmann", ("instagram", "facebook"),
         "Gewinnspiel Lastenrad",
         "Gewinnspiel! 🚲 Wir verlosen ein E-Lastenrad. Verratet uns in den Kommentaren, wohin "
         "ihr damit als Erstes fahren würdet. Teilnahme bis Sonntag, 20 Uhr."),
    Plan(7, "11:00", "marketing", "krueger", ("instagram",),
         "Spaziergang am Windpark",
         "Ausflugstipp: der Windpark Nordmole. Sechs Anlagen, genug Strom für rund 9.000 "
         "Haushalte. Und der Blick aufs Wasser gibt's gratis dazu. 🌬️"),
    Plan(8, "08:00", "presse", "demir", ("x", "mastodon", "linkedin"),
         "Pressekonferenz Netzausbau",
         "Heute, 11 Uhr: Pressekonferenz zum Netzausbau 2030 im Kundenzentrum am Markt. "
         "Akkreditierung über presse@nordhafen.example."),
    Plan(8, "15:00", "hr", "wolf", ("karriere", "instagram"),
         "Ein Tag als Netzmonteurin",
         "Wie sieht der Arbeitstag einer Netzmonteurin aus? Kim nimmt euch mit: vom "
         "Schichtbeginn um 6 Uhr bis zur Störungsbehebung im Umspannwerk."),
    Plan(9, "09:00", "kundenservice", "janssen", ("x", "facebook", "mastodon"),
         "Kundenzentrum am Samstag geöffnet",
         "Diesen Samstag hat unser Kundenzentrum am Markt ausnahmsweise von 10 bis 14 Uhr "
         "geöffnet. Wir beraten Sie gern zu Tarifen und Förderprogrammen."),
    Plan(9, "12:30", "uk", "behrens", ("linkedin",),
         "Aufsichtsrat beschließt Investitionsplan",
         "Der Aufsichtsrat hat den Investitionsplan für die kommenden fünf Jahre beschlossen: "
         "420 Millionen Euro fließen in Netze, Wärme und erneuerbare Erzeugung in der Region."),
    Plan(10, "10:00", "marketing", "hoffmann", ("facebook", "instagram", "x"),
         "Tarifwechsel leicht gemacht",
         "Wussten Sie schon? Der Wechsel in unseren Tarif Nordhafen Grün dauert keine fünf "
         "Minuten, und Ihr Strom kommt danach zu 100 % aus Wind und Sonne."),
    Plan(10, "16:00", "presse", "demir", ("x", "mastodon"),
         "Hinweis zu Betrugsanrufen",
         "Achtung: Zurzeit rufen Unbekannte im Namen der Stadtwerke an und fragen nach "
         "Kontodaten. Wir erfragen Bankdaten niemals am Telefon. Bitte legen Sie auf."),
    Plan(11, "09:00", "hr", "wolf", ("karriere", "linkedin"),
         "Wir suchen: Ingenieur:in Netzplanung",
         "Wir suchen eine Ingenieurin oder einen Ingenieur für die Netzplanung (m/w/d). "
         "Unbefristet, 38-Stunden-Woche, mobiles Arbeiten möglich. Alle Infos im Karriereportal."),
    Plan(12, "08:30", "kundenservice", "janssen", ("x", "mastodon"),
         "Wartung Kundenportal",
         "Heute Nacht zwischen 22 und 2 Uhr warten wir unser Kundenportal. In dieser Zeit ist "
         "das Portal nicht erreichbar. Störungsmeldungen bitte telefonisch."),
    Plan(12, "13:00", "marketing", "krueger", ("blog", "facebook"),
         "Energiespartipps für den Herbst",
         "Fünf Tipps, mit denen Sie im Herbst Heizkosten sparen: Stoßlüften statt Kipplüften, "
         "Heizkörper entlüften, Thermostat auf 20 Grad, Rollläden nachts schließen, "
         "Heizkörper nicht zustellen."),
    Plan(13, "11:00", "marketing", "hoffmann", ("x", "facebook", "instagram"),
         "Sponsoring Puppentheater-Museum",
         "Vorhang auf! 🎭 Die Stadtwerke Nordhafen sind neuer Hauptsponsor des "
         "Puppentheater-Museums. Zum Start gibt es am Samstag freien Eintritt für alle Kinder "
         "bis 12 Jahre. Wir freuen uns riesig!"),
    Plan(14, "10:30", "presse", "demir", ("linkedin", "blog", "x"),
         "Neue Ladesäulen im Hafenviertel",
         "20 neue Schnellladepunkte für E-Autos gehen diese Woche im Hafenviertel ans Netz. "
         "Geladen wird mit Ökostrom aus der Region, bezahlt per Karte oder App."),
    Plan(15, "09:00", "uk", "behrens", ("linkedin", "mastodon"),
         "Nordhafen Energiedialog",
         "Einladung zum Nordhafen Energiedialog: Wie heizen wir 2035? Diskutieren Sie mit uns "
         "am Donnerstag, 18 Uhr, im Kulturspeicher. Eintritt frei.",
         state=REVIEW),
    Plan(15, "17:00", "marketing", "krueger", ("instagram",),
         "Hinter den Kulissen: Umspannwerk",
         "Hinter den Kulissen: So sieht es im Umspannwerk Süd aus. Hier wird Hochspannung "
         "für eure Steckdosen umgewandelt. ⚡"),
    Plan(16, "08:00", "kundenservice", "janssen", ("x", "facebook", "mastodon"),
         "Baustelle Deichallee",
         "Ab Montag verlegen wir neue Wasserleitungen in der Deichallee. Die Buslinie 4 fährt "
         "bis voraussichtlich Monatsende eine Umleitung."),
    Plan(16, "12:00", "hr", "wolf", ("karriere",),
         "Girls' Day bei den Stadtwerken",
         "Am Girls' Day öffnen wir unsere Werkstätten: Schülerinnen ab Klasse 7 können löten, "
         "Leitungen verlegen und einen Tag im Netzbetrieb erleben. Anmeldung ab sofort.",
         state=DRAFT),
    Plan(16, "15:00", "media", "yilmaz", ("facebook", "instagram"),
         "Kampagnenstart: Ökostrom für alle",
         "Ab heute sehen Sie uns auch auf den Werbeflächen am Hauptbahnhof: „Ökostrom für alle“. "
         "Wo entdeckt ihr unsere Plakate? 📍"),
    Plan(17, "10:00", "presse", "demir", ("x", "linkedin", "mastodon", "blog"),
         "Trinkwasserbericht",
         "Unser Trinkwasser hat auch im letzten Jahr alle Grenzwerte deutlich unterschritten. "
         "Den vollständigen Analysebericht finden Sie auf unserem Blog."),
    Plan(18, "11:30", "marketing", "hoffmann", ("facebook", "instagram"),
         "Stadtlauf Nordhafen",
         "Wir laufen mit! 🏃 Beim Stadtlauf am Sonntag ist unser Team mit 40 Kolleginnen und "
         "Kollegen dabei. Kommt vorbei, am Wasserstand an der Hafenkante gibt's Erfrischung."),
    Plan(19, "09:00", "uk", "behrens", ("linkedin", "blog"),
         "Wärmeplan: Bürgerinfo online",
         "Der kommunale Wärmeplan ist online. Auf unserem Blog sehen Sie auf einer Karte, wann "
         "Ihre Straße voraussichtlich an das Wärmenetz angeschlossen werden kann."),
    Plan(20, "10:00", "presse", "demir", ("x", "mastodon"),
         "Sturmwarnung: Hinweise",
         "Der Wetterdienst warnt vor Sturmböen. Unsere Entstörteams sind verstärkt im Einsatz. "
         "Stromausfall melden: 0800 123 45 68, rund um die Uhr.",
         state=DRAFT),
    Plan(21, "14:00", "kundenservice", "janssen", ("facebook",),
         "Sprechstunde Energieberatung",
         "Jeden Dienstag von 14 bis 18 Uhr: kostenlose Energieberatung im Kundenzentrum. "
         "Bringen Sie einfach Ihre letzte Jahresabrechnung mit."),
    Plan(21, "18:00", "media", "yilmaz", ("x", "mastodon"),
         "Radiospot",
         "Heute ab 18 Uhr im Radio Nordhafen: unser neuer Spot zum Wärmenetz. Einschalten!",
         state=REVIEW),
    Plan(22, "09:30", "hr", "wolf", ("karriere", "linkedin"),
         "Top-Arbeitgeber in der Region",
         "Wir sind stolz: Zum dritten Mal in Folge zählen die Stadtwerke Nordhafen zu den "
         "Top-Arbeitgebern der Region. Danke an alle 1.100 Kolleginnen und Kollegen!"),
    Plan(22, "16:30", "marketing", "krueger", ("instagram", "facebook"),
         "Balkonkraftwerk-Aktion",
         "Balkonkraftwerk gefällig? ☀️ Unsere Kundinnen und Kunden erhalten im nächsten Monat "
         "50 Euro Zuschuss. Mehr dazu im Kundenzentrum.",
         state=REVIEW),
    Plan(23, "08:30", "kundenservice", "janssen", ("x", "mastodon"),
         "Neue Abschlagsbeträge",
         "Ihre neue Jahresabrechnung ist da? Den Abschlag können Sie im Kundenportal jederzeit "
         "selbst anpassen. Bei Fragen hilft unser Team unter 0800 123 45 67."),
    Plan(24, "11:00", "presse", "demir", ("linkedin", "x", "blog"),
         "Kooperation mit der Hochschule",
         "Gemeinsam mit der Hochschule Nordhafen erforschen wir, wie Wärmepumpen und "
         "Großspeicher das Stromnetz entlasten können. Start des Projekts: nächster Monat."),
    Plan(25, "10:00", "uk", "albers", ("linkedin",),
         "Nachhaltigkeitsbericht erschienen",
         "Unser Nachhaltigkeitsbericht ist erschienen: 22 % weniger CO₂ als vor fünf Jahren, "
         "erstmals mehr als die Hälfte des Stroms aus eigener erneuerbarer Erzeugung."),
    Plan(26, "12:00", "marketing", "hoffmann", ("instagram", "facebook"),
         "Tag der offenen Tür",
         "Save the date: Tag der offenen Tür im Wasserwerk Geestland. Führungen, Hüpfburg und "
         "die beste Trinkwasserbar der Stadt. 💧",
         state=DRAFT),
    Plan(27, "09:00", "hr", "wolf", ("karriere",),
         "Duales Studium: jetzt bewerben",
         "Jetzt bewerben für das duale Studium Elektrotechnik oder Wirtschaftsinformatik. "
         "Praxisphasen bei uns, Theorie an der Hochschule Nordhafen.",
         state=REVIEW),
    Plan(28, "08:00", "kundenservice", "janssen", ("x", "facebook", "mastodon"),
         "Feiertag: Öffnungszeiten",
         "Am Feiertag ist unser Kundenzentrum geschlossen. Die Störungshotline ist wie immer "
         "rund um die Uhr für Sie erreichbar: 0800 123 45 68."),
    Plan(29, "10:30", "presse", "brandt", ("x", "linkedin", "mastodon"),
         "Neuer Geschäftsbereich Wärme",
         "Die Stadtwerke Nordhafen bündeln alle Wärmeaktivitäten in einem neuen "
         "Geschäftsbereich. Leiterin wird Dr. Anja Meyerhoff, bisher Netzplanung."),
    Plan(30, "11:00", "marketing", "krueger", ("instagram", "facebook", "x"),
         "Danke fürs Mitmachen",
         "Danke für über 600 Ideen beim Lastenrad-Gewinnspiel! 🎉 Die Gewinnerin kommt aus "
         "der Altstadt und fährt damit als Erstes zum Wochenmarkt.",
         state=DRAFT),
)
# fmt: on


@dataclass(frozen=True)
class CampaignPlan:
    name: str
    goal: str
    first_day: int  # days after today
    last_day: int
    departments: tuple[str, ...]
    kpis: tuple[tuple[str, float, str], ...]  # (name, target, unit)
    posts: tuple[str, ...]  # titles of the PLANS that belong to it


CAMPAIGNS = (
    CampaignPlan("Karriere bei den Stadtwerken", "recruiting", -7, 45,
                 ("hr", "marketing", "presse"),
                 (("Bewerbungen", 120, "Bewerbungen"), ("Klicks auf Stellenanzeigen", 4000, "")),
                 ("Ausbildungsstart", "Ein Tag als Netzmonteurin",
                  "Wir suchen: Ingenieur:in Netzplanung", "Girls' Day bei den Stadtwerken",
                  "Top-Arbeitgeber in der Region", "Kooperation mit der Hochschule",
                  "Duales Studium: jetzt bewerben")),
    CampaignPlan("Wärmewende Nordhafen", "dialogue", 0, 60, ("uk", "presse", "kundenservice"),
                 (("Beantwortete Fragen", 300, "Fragen"), ("Anmeldungen Bürgerinfo", 250, "")),
                 ("Neues Wärmenetz Speicherstadt", "Nordhafen Energiedialog",
                  "Wärmeplan: Bürgerinfo online", "Sprechstunde Energieberatung",
                  "Neuer Geschäftsbereich Wärme")),
    CampaignPlan("Lastenrad-Sommer", "awareness", 0, 31, ("marketing",),
                 (("Reichweite", 250000, "Impressionen"), ("Teilnahmen am Gewinnspiel", 500, "")),
                 ("Mittagspause mit Ökostrom", "Gewinnspiel Lastenrad", "Balkonkraftwerk-Aktion",
                  "Danke fürs Mitmachen")),
    CampaignPlan("Kundenportal statt Warteschleife", "service", 1, 30,
                 ("kundenservice", "marketing"),
                 (("Neue Registrierungen im Portal", 1000, "Konten"),),
                 ("Zählerstand online melden", "Tarifwechsel leicht gemacht",
                  "Wartung Kundenportal", "Neue Abschlagsbeträge")),
)  # fmt: skip

WORDS = (
    "hafen", "welle", "strom", "deich", "mowe", "anker", "kompass", "leuchte", "sonne", "wind",
    "wasser", "warme", "kabel", "turbine", "nebel", "brise", "kutter", "mole", "segel", "ebbe",
    "flut", "boje", "kran", "speicher", "netz", "funke", "pumpe", "quelle", "wolke", "dune",
)  # fmt: skip


@dataclass
class DemoSummary:
    password: str
    people: list[tuple[str, str, str]]  # (name, e-mail, role)
    channel_count: int
    post_counts: Counter[str] = field(default_factory=Counter)

    def describe(self) -> str:
        counts = ", ".join(f"{n} {status}" for status, n in sorted(self.post_counts.items()))
        lines = [
            f"Demo team {COMPANY!r}: {len(self.people)} people, {self.channel_count} channels, "
            f"{self.post_counts.total()} posts ({counts}).",
            f"Every demo user logs in with the password: {self.password}",
        ]
        lines += [f"  {role:<8} {email:<36} {name}" for name, email, role in self.people]
        return "\n".join(lines)


def readable_password() -> str:
    """Three words and a number: easy to type on a demo, not guessable from this file."""
    words = [secrets.choice(WORDS) for _ in range(3)]
    return "-".join(words) + f"-{secrets.randbelow(90) + 10}"


def email_for(name: str) -> str:
    local = name.removeprefix("Dr. ").lower().replace(" ", ".")
    for umlaut, ascii_ in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        local = local.replace(umlaut, ascii_)
    return f"{local}@{DOMAIN}"


def ensure_empty(session: Session) -> None:
    if session.scalar(select(User.id).limit(1)) is not None:
        raise DatabaseNotEmpty("the database already has users; the demo only fills an empty one")
    if session.scalar(select(Post.id).limit(1)) is not None:
        raise DatabaseNotEmpty("the database already has posts; the demo only fills an empty one")


def add_departments(session: Session) -> dict[str, Department]:
    """The standard departments under the company's names (created where one is missing)."""
    departments = {}
    for key, (slug, name, color) in DEPARTMENTS.items():
        department = department_by_slug(session, slug)
        if department is None:
            department = Department(slug=slug, name=name, color=color)
            session.add(department)
        department.name, department.color = name, color
        departments[key] = department
    session.flush()
    return departments


def add_people(
    session: Session, departments: dict[str, Department], password: str
) -> dict[str, User]:
    people = {}
    for key, (name, role, slugs) in PEOPLE.items():
        user = create_user(session, email_for(name), role=role, password=password, name=name)
        user.departments = [departments[slug] for slug in slugs]
        people[key] = user
    session.flush()
    return people


def add_channels(session: Session, people: dict[str, User]) -> dict[str, Channel]:
    admin = people["admin"]
    channels = {}
    for key, (name, network) in CHANNELS.items():
        channel = create_channel(session, admin, name=name, kind="outbox", network=network)
        owner, deputy = CHANNEL_CARE[key]
        care = {"owner_id": people[owner].id, "deputy_id": people[deputy].id if deputy else None}
        channels[key] = update_channel(session, admin, channel, care)
    return channels


def local_time(today: date, plan: Plan, timezone: str) -> datetime:
    hour, minute = map(int, plan.at.split(":"))
    wall_clock = datetime.combine(
        today + timedelta(days=plan.day), time(hour, minute), tzinfo=ZoneInfo(timezone)
    )
    return wall_clock.astimezone(UTC)


def approver_for(author: User, people: dict[str, User]) -> User:
    """A head who is not the author (four-eyes rule)."""
    heads = [people["albers"], people["brandt"]]
    return next(head for head in heads if head.id != author.id)


def demo_picture(colour: str) -> bytes:
    """A plain picture for a demo post on a network that needs one (Instagram): a band of the
    department's colour on white (no photos ship with the app)."""
    image = Image.new("RGB", (1080, 1080), "white")
    ImageDraw.Draw(image).rectangle((0, 720, 1080, 1080), fill=colour)
    out = BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def upload_demo_picture(session: Session, author: User, colour: str, media_dir: Path) -> Media:
    """The demo picture in `colour`, uploaded by `author` as a planner would upload it."""
    return post_media.upload(
        session,
        author,
        demo_picture(colour),
        media_dir=media_dir,
        max_bytes=15 * 1024 * 1024,
        max_pixels=50_000_000,
    )


def _images(
    session: Session, plan: Plan, author: User, colour: str, media_dir: Path
) -> list[post_media.ImageChoice] | None:
    if not any(channel == "instagram" for channel in plan.channels):
        return None
    row = upload_demo_picture(session, author, colour, media_dir)
    alt = f"Weiße Fläche, unten ein Streifen in der Farbe der Abteilung ({plan.title})"
    return [post_media.ImageChoice(row.id, alt)]


def add_post(
    session: Session,
    plan: Plan,
    *,
    today: date,
    timezone: str,
    people: dict[str, User],
    departments: dict[str, Department],
    channels: dict[str, Channel],
    campaign_of: dict[str, Campaign],
    media_dir: Path,
) -> Post:
    author = people[plan.author]
    campaign = campaign_of.get(plan.title)
    department = departments[plan.department]
    images = _images(session, plan, author, department.color, media_dir)
    post = planning.create_post(
        session,
        author,
        title=plan.title,
        body=plan.body,
        channel_ids=[channels[key].id for key in plan.channels],
        publish_at=local_time(today, plan, timezone),
        crisis_response=plan.crisis_response,
        department_id=department.id,
        campaign_id=campaign.id if campaign else None,
        media=images,
    )
    if plan.state in (REVIEW, APPROVED):
        planning.submit_post(session, author, post)
    if plan.state == APPROVED:
        planning.approve_post(
            session, approver_for(author, people), post, allow_self_approval=False
        )
    return post


def add_campaigns(
    session: Session, head: User, departments: dict[str, Department], today: date
) -> dict[str, Campaign]:
    """The campaigns, and for each planned post's title the campaign it belongs to."""
    campaign_of = {}
    for plan in CAMPAIGNS:
        campaign = campaigns.create_campaign(
            session,
            head,
            name=plan.name,
            goal=plan.goal,
            starts_on=today + timedelta(days=plan.first_day),
            ends_on=today + timedelta(days=plan.last_day),
            kpis=[
                {"name": name, "target": target, **({"unit": unit} if unit else {})}
                for name, target, unit in plan.kpis
            ],
            department_ids=[departments[slug].id for slug in plan.departments],
        )
        campaign_of.update(dict.fromkeys(plan.posts, campaign))
    return campaign_of


def add_playbook(session: Session, people: dict[str, User], channels: dict[str, Channel]) -> None:
    """A scenario prepared in calm times, so the crisis dialog shows what a playbook does."""
    playbooks.create_playbook(
        session,
        people["albers"],
        playbooks.PlaybookData(
            name="Störfall im Heizkraftwerk",
            description=(
                "Brand, Explosion oder Austritt von Stoffen am Heizkraftwerk Hafenstraße. "
                "Erste Stunde: Haltestatement, Feuerwehr-Lage abwarten, keine Spekulation."
            ),
            channel_ids=None,
            keywords=["Gewinnspiel", "Rabatt", "Jubiläum"],
            statements={
                channels["x"].id: (
                    "Am Heizkraftwerk Hafenstraße gibt es einen Einsatz der Feuerwehr. Wir "
                    "informieren hier, sobald wir Gesichertes wissen. Bitte folgen Sie den "
                    "Hinweisen der Einsatzkräfte."
                ),
                channels["linkedin"].id: (
                    "Am Heizkraftwerk Hafenstraße läuft ein Feuerwehreinsatz. Die Sicherheit der "
                    "Menschen vor Ort hat Vorrang. Wir berichten, sobald gesicherte Informationen "
                    "vorliegen."
                ),
            },
            contacts=[
                playbooks.Contact(user_id=people["brandt"].id),
                playbooks.Contact(user_id=people["janssen"].id),
                playbooks.Contact(
                    name="Dr. Petra Lang", role="legal", email="recht@nordhafen.example"
                ),
                playbooks.Contact(
                    name="Holger Sievers",
                    role="works_council",
                    email="betriebsrat@nordhafen.example",
                ),
            ],
        ),
    )


def fill_demo(
    session: Session,
    *,
    password: str | None,
    timezone: str,
    media_dir: Path,
    now: datetime | None = None,
) -> DemoSummary:
    """Fill an empty database with the demo team and a month of plans, starting tomorrow.
    Posts for Instagram get a picture (stored in `media_dir`) with its alt text: Instagram
    publishes no post without one, and a post is approved only with what it needs."""
    ensure_empty(session)
    password = password or readable_password()
    today = (now or now_utc()).astimezone(ZoneInfo(timezone)).date()
    departments = add_departments(session)
    people = add_people(session, departments, password)
    channels = add_channels(session, people)
    campaign_of = add_campaigns(session, people["albers"], departments, today)
    posts = [
        add_post(
            session,
            plan,
            today=today,
            timezone=timezone,
            people=people,
            departments=departments,
            channels=channels,
            campaign_of=campaign_of,
            media_dir=media_dir,
        )
        for plan in PLANS
    ]
    add_playbook(session, people, channels)
    return DemoSummary(
        password=password,
        people=[(u.name, u.email, u.role) for u in people.values()],
        channel_count=len(channels),
        post_counts=Counter(str(post.status) for post in posts),
    )
