"""Synthetic participants for the benchmarks: mentors and goals in English and German, as a participants CSV.

Built from templates, the taxonomy's topic names and synonyms (marketplace/data/topics.json), and
lists of roles, industries and names, so texts vary the way real profiles do. Deterministic by seed.

    .venv/bin/python bench/generate.py --people 5000 --seed 7 --out bench/out/participants.csv
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
TOPICS_FILE = ROOT / "marketplace" / "data" / "topics.json"


def _words(text: str) -> list[str]:
    return text.split()


COLUMNS = ["email", "name", "role", "company", "headline", "text", "topics", "languages", "capacity",
           "exclude_companies"]

FIRST = _words("Anna Ben Clara David Elif Felix Greta Hannes Ines Jonas Kerstin Lukas Marie Noah Olga Paul "
                "Quentin Rosa Sven Tara Ulrich Vera Wim Xenia Yusuf Zoe Ahmet Birgit Chiara Dominik Emma Finn "
                "Gül Henrik Ida Jan Katja Leon Mia Nils Oskar Pia Rafael Sophie Tim Ute Valentina Wiebke Can Lea "
                "Mehmet Nina Piotr Sara")
LAST = _words("Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Koch Richter Klein "
               "Wolf Neumann Schwarz Braun Zimmermann Krüger Hartmann Lange Werner Krause Lehmann Köhler Yilmaz "
               "Kaya Nowak Rossi Jansen Dubois García Larsen Novak Berger Vogel Frank Roth Beck Lorenz Kuhn "
               "Ludwig Peters Sommer")
PREFIX = _words("Nord Süd Rhein Alpen Elb Spree Isar Main Hansa Linden Falken Adler Blau Grün Stern Licht Berg "
                 "Tal Quell Wind Sonnen Eichen Brücken Hafen Kraft Feld Stein Wald See Ost West Mitte Zukunft "
                 "Weit Klar")
CORE = _words("tec data werk logistik bau versicherung bank energie medien pharma handel chemie systems mobil "
               "consult foods robotics textil software analytics druck verlag metall glas")
SUFFIX = ["GmbH", "AG", "SE", "GmbH & Co. KG", "KGaA", "Ltd", "Group", "Holding"]
INDUSTRIES_EN = ["logistics", "insurance", "retail", "mechanical engineering", "banking", "energy", "publishing",
                 "pharma", "automotive supply", "food", "chemicals", "construction", "tourism", "telecoms"]
INDUSTRIES_DE = ["Logistik", "Versicherung", "Einzelhandel", "Maschinenbau", "Bankwesen", "Energie", "Verlagswesen",
                 "Pharma", "Automobilzulieferung", "Lebensmittel", "Chemie", "Bau", "Tourismus", "Telekommunikation"]
ROLES_EN = ["working student", "junior product manager", "data analyst", "trainee in marketing", "UX designer",
            "software developer", "social media manager", "HR business partner", "consultant", "scrum master",
            "content creator", "sales trainee", "project manager", "IT apprentice", "recruiter"]
ROLES_DE = ["Werkstudentin", "Junior Produktmanager", "Datenanalystin", "Trainee im Marketing", "UX-Designer",
            "Softwareentwicklerin", "Social-Media-Manager", "HR Business Partnerin", "Beraterin", "Scrum Master",
            "Content Creator", "Vertriebstrainee", "Projektleiterin", "Auszubildender in der IT", "Recruiterin"]
EXEC_EN = ["managing director", "CFO", "head of production", "board member", "head of HR", "plant manager",
           "founder", "sales director", "head of a business unit", "CEO"]
EXEC_DE = ["Geschäftsführer", "Finanzvorständin", "Produktionsleiter", "Vorstandsmitglied", "Personalleiterin",
           "Werksleiter", "Gründerin", "Vertriebsdirektor", "Bereichsleiterin", "CEO"]
FREE_TAGS = ["Python", "Excel", "TikTok", "Podcasting", "Design Thinking", "Canva", "Power BI", "LinkedIn Learning"]
OTHER_LANGUAGES = ["fr", "es", "it", "nl", "pl", "tr", "pt", "sv"]

MENTOR_HEADLINES_EN = [
    "{role} who loves {a}", "{a} and {b} from a {role}'s point of view", "I explain {a} to leaders",
    "Hands-on {a} for executives", "{role} at a {industry} company: {a}, {b}", "Let me show you {a}",
    "From daily practice: {a}", "{a}, without the buzzwords",
]
MENTOR_HEADLINES_DE = [
    "{role} mit Leidenschaft für {a}", "{a} und {b} aus Sicht einer jungen Generation", "Ich erkläre {a}",
    "{a} praktisch für Führungskräfte", "{role} im Bereich {industry}: {a}, {b}", "Gemeinsam {a} entdecken",
    "Aus dem Arbeitsalltag: {a}", "{a} ohne Buzzwords",
]
MENTOR_SENTENCES_EN = [
    "I work as a {role} in {industry} and use {a} every day.",
    "Last year my team switched to {a}, and I can show you what worked and what did not.",
    "I would love to explain {a} to executives who want to understand how my generation works.",
    "Happy to share practical tips on {a}, from the first steps to running it across a department.",
    "My favourite subject is {b}: I have built {small} for our {area} team around it.",
    "We can look at {a} and {b} together, with real examples from your own company.",
    "I studied {field} and now spend most of my time on {b}.",
    "Ask me anything about {a}; I also know a lot about {c}.",
    "In short sessions I show how {a} changes {area}, and what leaders can start doing on Monday.",
]
MENTOR_SENTENCES_DE = [
    "Ich arbeite als {role} in der Branche {industry} und nutze {a} jeden Tag.",
    "Mein Team hat letztes Jahr auf {a} umgestellt, ich zeige gern, was funktioniert hat und was nicht.",
    "Ich erkläre Führungskräften gern {a} und wie meine Generation arbeitet.",
    "Ich teile praktische Tipps zu {a}, von den ersten Schritten bis zum Einsatz in einer ganzen Abteilung.",
    "Mein Lieblingsthema ist {b}: für unser Team im Bereich {area} habe ich {small} aufgebaut.",
    "Wir können {a} und {b} gemeinsam anschauen, mit echten Beispielen aus Ihrem Unternehmen.",
    "Ich habe {field} studiert und beschäftige mich heute vor allem mit {b}.",
    "Fragen Sie mich alles zu {a}; auch bei {c} kenne ich mich gut aus.",
    "In kurzen Terminen zeige ich, wie {a} den Bereich {area} verändert und was Führungskräfte sofort tun können.",
]
GOAL_TITLES_EN = ["Understand {a}", "Get started with {a}", "Learn how {a} works in practice",
                  "{a} for our company", "Catch up on {a} and {b}", "What does {a} mean for leaders?"]
GOAL_TITLES_DE = ["{a} verstehen", "Einstieg in {a}", "{a} in der Praxis lernen", "{a} für unser Unternehmen",
                  "{a} und {b} nachholen", "Was bedeutet {a} für Führungskräfte?"]
GOAL_SENTENCES_EN = [
    "As {exec} of a {industry} company I want to understand {a} well enough to decide about it.",
    "Our younger employees keep talking about {a}, and I would like to know what is behind it.",
    "I would like someone to show me {a} hands-on, step by step.",
    "We are planning a project on {b} and I need to ask the right questions.",
    "I have read a lot about {a} but never used it myself.",
    "My goal is to lead my team through the change that {a} brings to {area}.",
]
GOAL_SENTENCES_DE = [
    "Als {exec} eines Unternehmens aus der Branche {industry} möchte ich {a} gut genug verstehen, um zu entscheiden.",
    "Unsere jüngeren Mitarbeitenden sprechen ständig über {a}, und ich möchte wissen, was dahintersteckt.",
    "Ich wünsche mir jemanden, der mir {a} praktisch und Schritt für Schritt zeigt.",
    "Wir planen ein Projekt zu {b} und ich muss die richtigen Fragen stellen können.",
    "Ich habe viel über {a} gelesen, es aber nie selbst ausprobiert.",
    "Mein Ziel ist, mein Team durch den Wandel zu führen, den {a} im Bereich {area} bringt.",
]
AREAS_EN = ["sales", "marketing", "HR", "production", "finance", "customer service", "purchasing", "IT"]
AREAS_DE = ["Vertrieb", "Marketing", "Personal", "Produktion", "Finanzen", "Kundenservice", "Einkauf", "IT"]
SMALL_EN = ["a dashboard", "a small chatbot", "a weekly newsletter", "an onboarding wiki", "a feedback ritual"]
SMALL_DE = ["ein Dashboard", "einen kleinen Chatbot", "einen wöchentlichen Newsletter", "ein Onboarding-Wiki",
            "ein Feedback-Ritual"]
FIELDS_EN = ["business informatics", "media studies", "psychology", "economics", "computer science", "design"]
FIELDS_DE = ["Wirtschaftsinformatik", "Medienwissenschaft", "Psychologie", "BWL", "Informatik", "Design"]


def load_topics() -> list[dict]:
    return json.loads(TOPICS_FILE.read_text(encoding="utf-8"))


@dataclass
class Row:
    email: str
    name: str
    role: str  # "mentor" or "mentee"
    company: str
    headline: str
    text: str
    topics: list[str]  # slugs or free tags, as in the CSV
    languages: list[str]
    capacity: int
    exclude_companies: list[str] = field(default_factory=list)

    def csv_row(self) -> dict[str, str]:
        return {
            "email": self.email, "name": self.name, "role": self.role, "company": self.company,
            "headline": self.headline, "text": self.text, "topics": ";".join(self.topics),
            "languages": ";".join(self.languages), "capacity": str(self.capacity) if self.role == "mentor" else "",
            "exclude_companies": ";".join(self.exclude_companies),
        }


class Generator:
    """Deterministic source of people, profiles and goals (one `random.Random` per seed)."""

    def __init__(self, seed: int = 7, companies: int | None = None) -> None:
        self.seed = seed
        self.topics = load_topics()
        self.by_slug = {t["slug"]: t for t in self.topics}
        self._companies = companies

    def companies(self, people: int) -> list[str]:
        count = self._companies or max(20, people // 15)
        rng = random.Random(self.seed * 1_000_003 + 17)
        names: list[str] = []
        seen: set[str] = set()
        while len(names) < count:
            base = rng.choice(PREFIX) + rng.choice(CORE)
            name = f"{base.capitalize()} {rng.choice(SUFFIX)}"
            if len(seen) > 5000 and base in seen:  # past the simple combinations, number them
                name = f"{base.capitalize()} {len(names)} {rng.choice(SUFFIX)}"
            if name.casefold() not in seen:
                seen.add(name.casefold())
                seen.add(base)
                names.append(name)
        return names

    # --- text pieces -----------------------------------------------------------------------------

    def _phrase(self, rng: random.Random, slug: str, german: bool) -> str:
        topic = self.by_slug[slug]
        choices = [topic["name_de" if german else "name_en"]] * 2 + list(topic["synonyms"])
        return rng.choice(choices)

    def _pick_topics(self, rng: random.Random, primary: str | None = None) -> list[str]:
        count = rng.choices([1, 2, 3], weights=[4, 5, 1])[0]
        slugs = [primary] if primary else []
        while len(slugs) < count:
            slug = rng.choice(self.topics)["slug"]
            if slug not in slugs:
                slugs.append(slug)
        return slugs

    def _fill(self, rng: random.Random, template: str, slugs: list[str], german: bool) -> str:
        pool = slugs + [rng.choice(self.topics)["slug"]]
        return template.format(
            a=self._phrase(rng, pool[0], german),
            b=self._phrase(rng, pool[min(1, len(pool) - 1)], german),
            c=self._phrase(rng, pool[-1], german),
            role=rng.choice(ROLES_DE if german else ROLES_EN),
            exec=rng.choice(EXEC_DE if german else EXEC_EN),
            industry=rng.choice(INDUSTRIES_DE if german else INDUSTRIES_EN),
            area=rng.choice(AREAS_DE if german else AREAS_EN),
            small=rng.choice(SMALL_DE if german else SMALL_EN),
            field=rng.choice(FIELDS_DE if german else FIELDS_EN),
        )

    def mentor_profile(self, rng: random.Random, german: bool, primary: str | None = None) -> tuple[str, str, list]:
        slugs = self._pick_topics(rng, primary)
        headline = self._fill(rng, rng.choice(MENTOR_HEADLINES_DE if german else MENTOR_HEADLINES_EN), slugs, german)
        # Two sentences on average: real #OpenToMentor blurbs are short, and it keeps embedding 20k of them
        # within the benchmarks' time budget on two cores.
        count = rng.choices([1, 2, 3], weights=[3, 5, 1])[0]
        sentences = rng.sample(MENTOR_SENTENCES_DE if german else MENTOR_SENTENCES_EN, count)
        text = " ".join(self._fill(rng, s, slugs, german) for s in sentences)
        tags = slugs + ([rng.choice(FREE_TAGS)] if rng.random() < 0.08 else [])
        return (headline[:1].upper() + headline[1:])[:160], text, tags

    def goal(self, rng: random.Random, german: bool, primary: str | None = None) -> tuple[str, str, list]:
        slugs = self._pick_topics(rng, primary)[:2]
        title = self._fill(rng, rng.choice(GOAL_TITLES_DE if german else GOAL_TITLES_EN), slugs, german)
        sentences = rng.sample(GOAL_SENTENCES_DE if german else GOAL_SENTENCES_EN, rng.randint(2, 3))
        text = " ".join(self._fill(rng, s, slugs, german) for s in sentences)
        return title[:160], text, slugs

    def languages(self, rng: random.Random, german: bool) -> list[str]:
        first = "de" if german else rng.choice(["en", "en", "de"])
        langs = [first]
        if rng.random() < 0.7:
            langs.append("en" if first == "de" else "de")
        if rng.random() < 0.15:
            langs.append(rng.choice(OTHER_LANGUAGES))
        return list(dict.fromkeys(langs))

    # --- people ----------------------------------------------------------------------------------

    def people_rows(self, people: int) -> list[Row]:
        """`people` persons: ~50% mentors, ~40% mentees with one or two goals, ~10% both."""
        rng = random.Random(self.seed)
        companies = self.companies(people)
        rows: list[Row] = []
        for i in range(people):
            german = rng.random() < 0.55
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            company = rng.choice(companies)
            email = f"{name.split()[0].lower()}.{i}@p{i % 997}.example.com"
            langs = self.languages(rng, german)
            kind = rng.random()
            excluded = [rng.choice(companies)] if rng.random() < 0.05 else []
            excluded = [c for c in excluded if c != company]
            if kind < 0.6:
                headline, text, tags = self.mentor_profile(rng, german)
                rows.append(Row(email, name, "mentor", company, headline, text, tags, langs,
                                rng.choices([1, 2, 3], weights=[6, 3, 1])[0], excluded))
            if kind >= 0.5:
                titles: set[str] = set()
                for _ in range(rng.choices([1, 2], weights=[3, 1])[0]):
                    title, text, tags = self.goal(rng, german)
                    if title.casefold() in titles:
                        continue
                    titles.add(title.casefold())
                    rows.append(Row(email, name, "mentee", company, title, text, tags, langs, 1, excluded))
        return rows

    def mentor_entries(self, count: int, offset: int = 0) -> list[dict]:
        """Mentor profiles only (for the 100k synthetic database): headline, text, topic slugs, facts."""
        out = []
        companies = self.companies(max(count, 10_000))
        for i in range(offset, offset + count):
            rng = random.Random(self.seed * 7_919 + i)
            german = rng.random() < 0.55
            primary = self.topics[i % len(self.topics)]["slug"]
            headline, text, tags = self.mentor_profile(rng, german, primary)
            out.append({
                "i": i, "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}", "company": rng.choice(companies),
                "headline": headline, "text": text, "topics": [t for t in tags if t in self.by_slug],
                "primary": primary, "languages": self.languages(rng, german),
                "capacity": rng.choices([1, 2, 3], weights=[6, 3, 1])[0],
            })
        return out

    def goal_entries(self, count: int, offset: int = 0) -> list[dict]:
        """Goals as search queries and suggestion subjects (not stored in the index under test)."""
        out = []
        for i in range(offset, offset + count):
            rng = random.Random(self.seed * 104_729 + i)
            german = rng.random() < 0.5
            title, text, tags = self.goal(rng, german, self.topics[(i * 7) % len(self.topics)]["slug"])
            out.append({"i": i, "title": title, "text": text, "topics": tags, "languages": self.languages(rng, german)})
        return out

    def topic_names(self, slugs: list[str]) -> str:
        """The topic part of the app's embedded text (vectors.topic_names) for taxonomy slugs."""
        from marketplace.services.matching.vectors import topic_names

        return topic_names([SimpleNamespace(name_en=self.by_slug[s]["name_en"], name_de=self.by_slug[s]["name_de"])
                             for s in slugs])

    def mentor_text(self, entry: dict) -> str:
        """Exactly the text the app embeds for this profile (headline, text, topic names)."""
        parts = (entry["headline"], entry["text"], self.topic_names(entry["topics"]))
        return "\n".join(p for p in parts if p)

    def goal_query(self, entry: dict) -> str:
        return f"{entry['title']}\n{entry['text']}"


def to_csv(rows: list[Row]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row.csv_row())
    return buffer.getvalue().encode("utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None, help="CSV file (default: standard output)")
    args = parser.parse_args(argv)
    rows = Generator(args.seed).people_rows(args.people)
    data = to_csv(rows)
    if args.out is None:
        sys.stdout.write(data.decode("utf-8"))
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(data)
        mentors = sum(r.role == "mentor" for r in rows)
        print(f"{args.out}: {args.people} people, {mentors} mentor rows, {len(rows) - mentors} goal rows",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
