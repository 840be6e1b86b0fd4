#!/usr/bin/env python
"""How bench/data/ranking_eval.json grew from 61 mentors / 90 queries to 99 mentors / 318 queries.

The texts below were written by hand (one English and one German mentor per taxonomy topic, twelve
queries per topic: the taxonomy's own English and German names, a synonym in each language, a typo in
each language, a paraphrase without any taxonomy word in each language, and two learning goals in each
language). Labels follow one written-down rule, so that they are reproducible and checkable:

* a mentor whose FIRST (main) topic is the query's topic: 3; whose other topics include it: 2;
* a mentor whose main topic is one of the query's ``also`` topics (what the goal touches besides its
  main topic): 1, or 1 when an ``also`` topic is among its other topics;
* ``extra`` entries set a grade by hand where the rule misses a mentor (e.g. m13 Excel for "big data").

The old queries q01-q90 get the new mentors labelled the same way through their main topic: the main
topic most of their grade-3 mentors share (new mentors on that topic: 2, a conservative grade because
the old labels were written without them).

Splits (``split``: ``tune`` or ``heldout``): q01-q90 have been looked at by earlier tuning and stay
``tune``; of the new queries, per language and kind (goal / short query) a seeded draw, taking the
styles in turn, puts as many in ``heldout`` as makes 40 % of that stratum over the whole set. Nothing may be tuned on
``heldout``; ``bench/ranking_eval.py --split tune`` is the set to choose on.

Run once (idempotent: it rebuilds the new part from this file)::

    .venv/bin/python bench/data/grow_ranking_eval.py
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from pathlib import Path

DATA = Path(__file__).resolve().parent / "ranking_eval.json"
FIRST_NEW_MENTOR = 62
FIRST_NEW_QUERY = 91
HELDOUT_SHARE = 0.4

# (id, lang, topics (main first), headline, text)
MENTORS = [
    ("m62", "en", ["collaboration-tools"], "Digital workplace trainer · Microsoft 365",
     "I train staff in hospitals and public offices on Microsoft 365. Most people need five things: a shared "
     "calendar, a channel instead of reply-all, co-editing a file in SharePoint, a clean screen share and a "
     "sensible way to silence notifications. I'm 27 and I explain it without jargon."),
    ("m63", "de", ["collaboration-tools"], "Verteilt arbeiten mit Notion, Slack & Zoom",
     "Unser Start-up arbeitet komplett verteilt: Zoom für Gespräche, Notion als gemeinsames Gedächtnis, "
     "Slack für den schnellen Austausch. Ich zeige Ihnen, welche Regeln so ein Werkzeugkasten braucht, damit "
     "niemand den Überblick verliert, und wie man ein Team Schritt für Schritt umstellt."),
    ("m64", "en", ["online-resources"], "Learning & development coordinator · e-learning",
     "I look after our company's learning platform and pick the online courses our people actually finish. "
     "I can help you find good MOOCs, podcasts and webinars for your own questions, judge whether a course is "
     "worth the time and build a learning routine of twenty minutes a day."),
    ("m65", "de", ["online-resources"], "Lernen im Netz · Podcasts, Onlinekurse & Newsletter",
     "Ich habe mein Studium zur Hälfte mit Onlinekursen und YouTube-Tutorials bestritten. Heute kuratiere ich "
     "für meine Kolleginnen und Kollegen Podcasts, Newsletter und Lernplattformen. Gern zeige ich Ihnen, wie "
     "Sie seriöse Quellen erkennen und sich Wissen selbst erschließen."),
    ("m66", "en", ["artificial-intelligence"], "Prompting & AI assistants for managers",
     "I help managers use ChatGPT, Copilot and similar assistants for real work: drafting letters, "
     "summarising long reports, preparing a tough conversation. We'll also talk about what these tools get "
     "wrong, data protection and when you should not paste something into a chatbot."),
    ("m67", "de", ["artificial-intelligence"], "KI verstehen ohne Informatikstudium",
     "Ich erkläre Künstliche Intelligenz so, dass man sie im Beruf einschätzen kann: Was ist ein Sprachmodell, "
     "was kann maschinelles Lernen wirklich, wo liegen die Risiken? Wir probieren gemeinsam Werkzeuge wie "
     "ChatGPT aus und überlegen, wo sie in Ihrem Bereich Zeit sparen."),
    ("m68", "en", ["big-data"], "Data analyst · turning numbers into decisions",
     "I build reports and dashboards for a retail chain and teach managers to read them. Together we can look "
     "at your own figures, learn the basics of SQL and Power BI, and work out which key figures really tell "
     "you something and which are just noise."),
    ("m69", "de", ["big-data"], "Datenkompetenz für Führungskräfte",
     "Ich arbeite als Data Scientist bei einem Energieversorger. Führungskräften zeige ich, wie man mit großen "
     "Datenmengen umgeht, was ein Data Warehouse ist und wie man aus Kennzahlen und Dashboards gute "
     "Entscheidungen ableitet – ohne selbst programmieren zu müssen."),
    ("m70", "en", ["agile-organisations"], "Kanban & agile coaching outside IT",
     "I introduced Kanban boards and short planning cycles in our marketing and finance teams. Agile is not "
     "only for software: I can show you how sprints, retrospectives and a visible backlog work for a normal "
     "department, and which parts of the rituals you can safely skip."),
    ("m71", "de", ["agile-organisations"], "Agile Coach · selbstorganisierte Teams",
     "Als Agile Coach begleite ich Teams in einem Maschinenbaukonzern beim Umstieg auf Scrum und Kanban. Ich "
     "erkläre Ihnen Rollen wie Product Owner, zeige, wie Retrospektiven funktionieren, und spreche offen "
     "darüber, was Führung in einer agilen Organisation bedeutet."),
    ("m72", "en", ["digital-reputation"], "Personal branding & LinkedIn profiles",
     "I write LinkedIn profiles and posts for founders and senior leaders. I'll help you find what you want "
     "to be known for, tidy up what Google shows about you and post regularly without sounding like an "
     "advert. Your online reputation is built one honest post at a time."),
    ("m73", "de", ["digital-reputation"], "Sichtbarkeit & Ruf im Netz",
     "Ich berate Führungskräfte zu ihrem Auftritt im Netz: Was findet man über Sie, wenn man Ihren Namen "
     "googelt? Wie reagieren Sie auf eine schlechte Bewertung? Gemeinsam bauen wir ein stimmiges Profil auf "
     "LinkedIn auf und überlegen, wie Sie als Expertin oder Experte wahrgenommen werden."),
    ("m74", "en", ["digital-networking"], "Online networking & virtual meet-ups",
     "Most of my professional network I met online: LinkedIn groups, Slack communities and virtual "
     "conferences. I can show you how to reach out to people you don't know without being awkward, how to "
     "follow up after an online event and how to keep contacts warm."),
    ("m75", "de", ["digital-networking"], "Digitales Netzwerken für Quereinsteiger",
     "Ich habe meinen heutigen Job über Kontakte aus Online-Communities bekommen. Gern zeige ich Ihnen, wie "
     "man auf LinkedIn und Xing Kontakte knüpft, sich an Diskussionen beteiligt und virtuelle Veranstaltungen "
     "nutzt, um ein Netzwerk aufzubauen, das im Ernstfall trägt."),
    ("m76", "en", ["digital-leadership"], "Leading a digital transformation as a young manager",
     "I manage a team of twelve in an insurance company that is moving everything online. I can talk about "
     "setting a digital strategy, deciding which projects come first, leading people through change and "
     "making decisions when the technology moves faster than the org chart."),
    ("m77", "de", ["digital-leadership"], "Digitale Führung im Mittelstand",
     "Ich verantworte die Digitalisierung in einem Familienunternehmen mit 400 Beschäftigten. Mit Ihnen "
     "spreche ich darüber, wie man als Geschäftsführung eine digitale Strategie entwickelt, Teams auf Distanz "
     "führt und die Belegschaft bei Veränderungen mitnimmt."),
    ("m78", "en", ["error-culture"], "Learning from failure · incident reviews",
     "I run incident reviews at a payments company where nobody gets blamed for an outage. I can show you how "
     "to talk about mistakes openly, run a post-mortem that actually changes something and react as a leader "
     "when someone admits an error."),
    ("m79", "de", ["error-culture"], "Aus Fehlern lernen · Lernkultur im Team",
     "In meinem Team gibt es einmal im Monat eine Runde, in der wir über Fehler sprechen – ohne Schuldige. "
     "Ich zeige Ihnen, wie man so eine Fehlerkultur aufbaut, was psychologische Sicherheit bedeutet und wie "
     "Sie als Führungskraft reagieren, wenn etwas schiefgeht."),
    ("m80", "en", ["social-media"], "Social media manager · Instagram, TikTok & LinkedIn",
     "I run the social media channels of a mid-sized manufacturer. I can explain how each platform works, "
     "what kind of posts and short videos do well, how often to post and how to handle comments. No "
     "dancing required."),
    ("m81", "de", ["social-media"], "Instagram & TikTok verstehen",
     "Ich bin 23 und betreue die Social-Media-Kanäle eines Sportvereins und eines Modehändlers. Ich erkläre "
     "Ihnen, wie Reels, Storys und der Algorithmus funktionieren, warum junge Leute dort mehr Zeit verbringen "
     "als vor dem Fernseher und wie Unternehmen dort glaubwürdig auftreten."),
    ("m82", "en", ["new-work"], "What my generation expects from work",
     "I'm 24 and I speak at HR conferences about what Gen Z wants from an employer: meaning, flexible hours, "
     "quick feedback and managers who explain their decisions. I'm happy to help you understand young "
     "colleagues and rethink how your team works."),
    ("m83", "de", ["new-work"], "New Work & Führung junger Talente",
     "Ich habe in einer Agentur die Vertrauensarbeitszeit und das mobile Arbeiten mit eingeführt. Mit Ihnen "
     "spreche ich darüber, was junge Beschäftigte von Führung erwarten, warum Sinn oft wichtiger ist als ein "
     "Dienstwagen und wie New Work ohne Tischkicker-Klischees gelingt."),
    ("m84", "en", ["employer-branding"], "Careers page & employer brand for SMEs",
     "I rebuilt the careers page and employer brand of a small engineering firm that nobody had heard of. I "
     "can help you find out why people would want to work for you, tell it honestly and use your own staff "
     "as ambassadors on social media and review sites such as Kununu or Glassdoor."),
    ("m85", "de", ["employer-branding"], "Arbeitgebermarke für Handwerk & Industrie",
     "Ich helfe Handwerksbetrieben und Industrieunternehmen, als Arbeitgeber sichtbar zu werden. Wir "
     "erarbeiten, was Ihr Unternehmen ausmacht, wie Sie es auf der Karriereseite und in sozialen Netzwerken "
     "erzählen und wie Ihre Mitarbeitenden zu Botschaftern werden."),
    ("m86", "en", ["work-organisation"], "Time management & focus for busy managers",
     "I help people get their calendars back: fewer and shorter meetings, blocks for focused work, a to-do "
     "system that fits on one page. I'll show you the methods I use myself, from time blocking to a weekly "
     "review, and how to say no to requests politely."),
    ("m87", "de", ["work-organisation"], "Arbeitsorganisation & Selbstmanagement",
     "Als Projektleiterin jongliere ich täglich mit vielen Aufgaben. Ich zeige Ihnen Methoden, mit denen Sie "
     "Prioritäten setzen, Besprechungen straffen und Ihre Zeit besser planen – von der Eisenhower-Matrix bis "
     "zu festen Fokuszeiten im Kalender."),
    ("m88", "en", ["recruiting-methods"], "Recruiting young talent · social & mobile",
     "I recruit trainees and graduates for a logistics group. Young candidates apply from their phones in two "
     "minutes or not at all. I can show you how to write job ads that work, source candidates on social "
     "media and run interviews that don't scare people away."),
    ("m89", "de", ["recruiting-methods"], "Moderne Personalgewinnung · Active Sourcing",
     "Ich arbeite als Recruiterin in einem IT-Unternehmen und spreche Kandidatinnen und Kandidaten direkt auf "
     "LinkedIn an. Gern erkläre ich Ihnen Active Sourcing, kurze Bewerbungsprozesse ohne Anschreiben und wie "
     "man Bewerbungsgespräche per Video führt."),
    ("m90", "en", ["online-marketing"], "Digital marketing · ads, SEO & email",
     "I plan digital campaigns for a software company: search ads, SEO, newsletters and landing pages. I can "
     "explain how a customer finds you online, which figures matter, how much budget a first campaign needs "
     "and how to tell a good agency from a bad one."),
    ("m91", "de", ["online-marketing"], "Online-Marketing für kleine Unternehmen",
     "Ich betreue das Online-Marketing eines Onlineshops für Outdoor-Ausrüstung. Mit Ihnen schaue ich mir an, "
     "wie Suchmaschinenoptimierung, Google Ads und E-Mail-Marketing zusammenspielen und wie man mit kleinem "
     "Budget messbar neue Kundschaft gewinnt."),
    ("m92", "en", ["new-business-models"], "Platforms, subscriptions & digital products",
     "I help traditional companies test digital business models: a subscription instead of a one-off sale, a "
     "marketplace, a paid app next to the physical product. I can show you how to sketch a business model "
     "canvas and test an idea cheaply before investing."),
    ("m93", "de", ["new-business-models"], "Neue Geschäftsmodelle & digitale Produkte",
     "Ich habe in einem Verlag ein digitales Abo-Angebot mit aufgebaut. Gern zeige ich Ihnen, wie man ein "
     "bestehendes Geschäft um digitale Angebote erweitert, Ideen mit Kundinnen und Kunden testet und "
     "Plattformmodelle versteht, bevor man viel Geld investiert."),
    ("m94", "en", ["open-communication"], "Honest conversations at work",
     "I coach team leads on talking openly with their teams: sharing bad news early, inviting criticism in "
     "meetings and making sure the quiet people are heard. Open communication is mostly about listening, "
     "and about managers going first."),
    ("m95", "de", ["open-communication"], "Offene Kommunikation im Team",
     "Ich moderiere in meinem Unternehmen Dialogformate zwischen Geschäftsführung und Belegschaft. Ich zeige "
     "Ihnen, wie man auch unangenehme Themen offen anspricht, Gerüchten zuvorkommt und eine Kultur schafft, in "
     "der man Fragen stellen darf."),
    ("m96", "en", ["feedback-culture"], "Giving and asking for feedback",
     "I train young managers and their bosses to give feedback that helps: specific, timely and both ways. "
     "We can practise a difficult feedback conversation, set up regular one-to-ones and talk about asking "
     "your own team how you are doing."),
    ("m97", "de", ["feedback-culture"], "Feedback geben und annehmen",
     "Als Teamleiterin habe ich regelmäßige Feedbackgespräche in beide Richtungen eingeführt. Ich übe mit "
     "Ihnen, wie man konstruktive Kritik formuliert, wie man Feedback von jüngeren Mitarbeitenden einholt "
     "und wie aus jährlichen Beurteilungen ein laufendes Gespräch wird."),
    ("m98", "en", ["transparency"], "Open salaries & shared goals",
     "At my company salaries, targets and the monthly figures are visible to everyone. I can tell you what "
     "that transparency changed, what went wrong at first and how to start small, for example by sharing "
     "decisions and the reasons behind them."),
    ("m99", "de", ["transparency"], "Transparente Entscheidungen & Gehälter",
     "Wir legen in unserem Unternehmen Gehälter, Ziele und Zahlen offen. Ich berichte Ihnen aus der Praxis, "
     "wie Transparenz Vertrauen schafft, welche Widerstände es gab und wie man Entscheidungen so erklärt, "
     "dass die Belegschaft sie nachvollziehen kann."),
]

# Per topic: (lang, style, title, description, also-topics). Styles: topic_word (the taxonomy's own
# name), synonym, typo, paraphrase (no taxonomy word), goal (title + description).
Q = dict[str, list[tuple[str, str, str, str, tuple[str, ...]]]]
QUERIES: Q = {
    "collaboration-tools": [
        ("en", "topic_word", "Collaboration and communication tools", "", ()),
        ("de", "topic_word", "Kollaborations- und Kommunikationstools", "", ()),
        ("en", "synonym", "getting started with Microsoft Teams", "", ()),
        ("de", "synonym", "Videokonferenzen souverän leiten", "", ()),
        ("en", "typo", "colaboration tols for my team", "", ()),
        ("de", "typo", "Zusammenarbiet mit Slak und Zoom", "", ()),
        ("en", "paraphrase", "stop drowning in reply-all emails", "", ("work-organisation",)),
        ("de", "paraphrase", "gemeinsam an Dokumenten arbeiten statt Anhänge verschicken", "", ()),
        ("en", "goal", "Our board still works with printed folders",
         "We're a family-owned logistics company and our management team still circulates printed reports and "
         "long email threads. I want to understand which tools younger colleagues use to work on the same "
         "document at once, and how to introduce them without overwhelming the older staff.", ("digital-leadership",)),
        ("en", "goal", "Hybrid workshops that don't fall flat",
         "Half of my team joins from home, and in our workshops the people in the room talk while everyone on "
         "the screen stays silent. I'd like to learn how to use a digital whiteboard and the video tools we "
         "already pay for so that everybody can contribute.", ("work-organisation",)),
        ("de", "goal", "Weg von der E-Mail-Flut",
         "In meiner Abteilung gehen jeden Tag Hunderte Mails mit Anhängen hin und her. Ich möchte verstehen, wie "
         "Kanäle, geteilte Dateien und Chat im Alltag funktionieren, und wie ich das Team mitnehme, ohne dass es "
         "wie eine Vorschrift von oben wirkt.", ("work-organisation",)),
        ("de", "goal", "Sicher in Online-Besprechungen auftreten",
         "Ich leite seit Kurzem ein Team an drei Standorten und fühle mich in Teams-Besprechungen unsicher: "
         "Bildschirm teilen, Breakout-Räume, Aufzeichnung. Ich suche jemanden, der mir das geduldig zeigt und "
         "mir ein paar Regeln für gute Online-Meetings mitgibt.", ("digital-leadership",)),
    ],
    "online-resources": [
        ("en", "topic_word", "Online resources", "", ()),
        ("de", "topic_word", "Online-Ressourcen", "", ()),
        ("en", "synonym", "good online courses and MOOCs", "", ()),
        ("de", "synonym", "Webinare und Lernplattformen finden", "", ()),
        ("en", "typo", "best podcats and webinars to lern from", "", ()),
        ("de", "typo", "Onlinekurze für Führungskräfte", "", ()),
        ("en", "paraphrase", "teaching myself new skills on the internet", "", ()),
        ("de", "paraphrase", "neben dem Job im Netz weiterbilden", "", ()),
        ("en", "goal", "Keeping up without going back to university",
         "I'm 54 and my field changes faster than any training our company offers. I'd like someone to show me "
         "where younger people learn things today – which courses, podcasts and newsletters are worth it and "
         "how to fit them into a busy week.", ()),
        ("en", "goal", "Which learning platform should we buy?",
         "HR wants to give everyone access to an e-learning platform and asked me to decide. I have no idea what "
         "good online learning looks like or whether people actually finish these courses. I need someone who "
         "uses them every day.", ()),
        ("de", "goal", "Wo lernt man heute eigentlich?",
         "Meine Kinder lernen alles über YouTube-Tutorials und Onlinekurse, ich dagegen noch mit Büchern und "
         "Seminaren. Ich möchte verstehen, welche Angebote im Netz seriös sind und wie ich mir damit selbst "
         "neues Wissen aneigne.", ()),
        ("de", "goal", "Weiterbildung für mein Team organisieren",
         "Mein Team soll sich regelmäßig weiterbilden, aber Präsenzseminare sind teuer und schwer zu planen. "
         "Ich suche jemanden, der mir zeigt, welche Onlinekurse, Webinare und Podcasts sich eignen und wie "
         "man digitales Lernen im Arbeitsalltag verankert.", ("work-organisation",)),
    ],
    "artificial-intelligence": [
        ("en", "topic_word", "Artificial intelligence", "", ()),
        ("de", "topic_word", "Künstliche Intelligenz", "", ()),
        ("en", "synonym", "using ChatGPT at work", "", ()),
        ("de", "synonym", "maschinelles Lernen verstehen", "", ()),
        ("en", "typo", "artifical inteligence basics", "", ()),
        ("de", "typo", "Künstlische Inteligenz im Büro", "", ()),
        ("en", "paraphrase", "letting a computer draft my letters and summaries", "", ()),
        ("de", "paraphrase", "Texte automatisch zusammenfassen lassen", "", ()),
        ("en", "goal", "Is AI going to replace my team?",
         "Everyone in the industry talks about machine learning and generative AI, and my team is worried. I "
         "want to understand what these systems can really do today, where they fail and how we could use them "
         "sensibly in our claims department.", ("digital-leadership",)),
        ("en", "goal", "Writing better prompts",
         "I've tried ChatGPT a few times and the answers were generic. I'd like a hands-on session with someone "
         "who uses AI assistants every day to draft emails, prepare meetings and summarise documents, and who "
         "knows the data protection pitfalls.", ()),
        ("de", "goal", "KI-Strategie für unseren Betrieb",
         "Als Geschäftsführer eines Maschinenbauers werde ich ständig gefragt, was wir mit KI machen. Ich "
         "möchte verstehen, wo Künstliche Intelligenz in Produktion und Verwaltung sinnvoll ist und wie man "
         "mit kleinen Projekten anfängt.", ("digital-leadership", "big-data")),
        ("de", "goal", "ChatGPT ausprobieren, aber richtig",
         "Ich habe noch nie mit einem Sprachmodell gearbeitet und möchte es endlich lernen. Mir wäre wichtig, "
         "dass mir jemand zeigt, wofür solche Assistenten im Büroalltag taugen und was man aus "
         "Datenschutzgründen lieber nicht eingibt.", ()),
    ],
    "big-data": [
        ("en", "topic_word", "Big data", "", ()),
        ("de", "topic_word", "Big Data", "", ()),
        ("en", "synonym", "data analytics and dashboards", "", ()),
        ("de", "synonym", "Datenanalyse mit Power BI", "", ()),
        ("en", "typo", "big dta analitics", "", ()),
        ("de", "typo", "Datenanalye und Kennzalen", "", ()),
        ("en", "paraphrase", "making decisions from our sales figures", "", ()),
        ("de", "paraphrase", "aus unseren Zahlen bessere Entscheidungen ableiten", "", ()),
        ("en", "goal", "Reading a dashboard without nodding along",
         "Every Monday I get a dashboard full of charts and key figures and I'm not sure which ones matter. I'd "
         "like someone who works with data to show me how to read it, ask the right questions and spot when a "
         "number is misleading.", ()),
        ("en", "goal", "What is a data warehouse and do we need one?",
         "Our IT team wants budget for a data platform. I need to understand the basics of big data, data "
         "warehouses and analytics well enough to judge the proposal and ask good questions.",
         ("digital-leadership",)),
        ("de", "goal", "Mit Daten führen",
         "In unserem Unternehmen liegen riesige Datenmengen aus Produktion und Vertrieb, aber kaum jemand nutzt "
         "sie. Ich möchte verstehen, wie man aus diesen Daten Kennzahlen und Dashboards macht, die bei "
         "Entscheidungen wirklich helfen.", ("digital-leadership",)),
        ("de", "goal", "SQL und Excel-Auswertungen lernen",
         "Ich verbringe viel Zeit mit Excel-Tabellen und würde gern tiefer einsteigen: SQL-Abfragen, "
         "Datenanalyse, vielleicht Power BI. Ich suche jemanden, der mir an echten Beispielen zeigt, wie man "
         "mit vielen Daten arbeitet.", ()),
    ],
    "agile-organisations": [
        ("en", "topic_word", "Agile organisations", "", ()),
        ("de", "topic_word", "Agile Organisationen", "", ()),
        ("en", "synonym", "Scrum and Kanban for beginners", "", ()),
        ("de", "synonym", "Sprints und Retrospektiven einführen", "", ()),
        ("en", "typo", "agil organisaton and scrum", "", ()),
        ("de", "typo", "agile Arbeitsmethoden im Tem", "", ()),
        ("en", "paraphrase", "working in short cycles instead of year-long plans", "", ()),
        ("de", "paraphrase", "Teams, die sich selbst organisieren", "", ("new-work",)),
        ("en", "goal", "Our IT works in sprints and I don't get it",
         "The IT department switched to Scrum a year ago and talks about backlogs, sprints and product owners. "
         "As head of finance I'd like to understand how agile teams work and whether we could use some of it.",
         ()),
        ("en", "goal", "Making a traditional department more agile",
         "I run a purchasing department with rigid processes and long approval chains. I'd like to learn which "
         "agile methods work outside software, such as Kanban boards or retrospectives, and how to start "
         "without a big reorganisation.", ("work-organisation",)),
        ("de", "goal", "Agile Transformation verstehen",
         "Unser Vorstand hat beschlossen, dass wir eine agile Organisation werden sollen. Ich leite einen "
         "Bereich mit 80 Leuten und möchte verstehen, was das konkret heißt: Rollen, Rituale und was sich für "
         "mich als Führungskraft ändert.", ("digital-leadership",)),
        ("de", "goal", "Scrum im Kleinen ausprobieren",
         "Ich möchte mit meinem Team ein Projekt nach Scrum durchführen, habe aber nur Bücher dazu gelesen. "
         "Ich suche jemanden mit Praxis, der mir Sprintplanung, Daily und Retrospektive erklärt und mich beim "
         "ersten Versuch begleitet.", ()),
    ],
    "digital-reputation": [
        ("en", "topic_word", "Digital reputation and personal branding", "", ()),
        ("de", "topic_word", "Digitale Reputation und Personal Branding", "", ()),
        ("en", "synonym", "building my personal brand on LinkedIn", "", ("digital-networking",)),
        ("de", "synonym", "Online-Reputation als Führungskraft", "", ()),
        ("en", "typo", "persnal branding for executivs", "", ()),
        ("de", "typo", "Personal Brandig auf Linkedin", "", ()),
        ("en", "paraphrase", "what people find when they google my name", "", ()),
        ("de", "paraphrase", "als Experte im Netz sichtbar werden", "", ()),
        ("en", "goal", "I'm invisible online",
         "I've been CEO for six years, but if you search for me you only find an old press photo. I'd like to "
         "build a professional online presence, mostly on LinkedIn, and understand what to share and what to "
         "keep private.", ("social-media",)),
        ("en", "goal", "Dealing with a bad review",
         "A former employee wrote a very negative post about me that keeps coming up online. I want to "
         "understand how to respond, how online reputation works and how to build a more accurate picture of "
         "myself over time.", ()),
        ("de", "goal", "Sichtbarer werden als Geschäftsführerin",
         "Ich möchte auf LinkedIn als Stimme meiner Branche wahrgenommen werden, weiß aber nicht, worüber ich "
         "schreiben soll und wie oft. Ich suche jemanden, der mir hilft, meine persönliche Marke aufzubauen.",
         ("social-media", "digital-networking")),
        ("de", "goal", "Mein Ruf im Internet",
         "Über mich stehen im Netz ein paar alte Zeitungsartikel und ein Profil, das ich nie gepflegt habe. Ich "
         "möchte lernen, wie ich meine digitale Reputation aktiv gestalte und auf Kritik im Netz souverän "
         "reagiere.", ()),
    ],
    "digital-networking": [
        ("en", "topic_word", "Digital networking", "", ()),
        ("de", "topic_word", "Digitales Netzwerken", "", ()),
        ("en", "synonym", "networking on LinkedIn", "", ()),
        ("de", "synonym", "Kontakte knüpfen auf Xing und LinkedIn", "", ()),
        ("en", "typo", "online netwroking for introverts", "", ()),
        ("de", "typo", "digitales Netzwerkn lernen", "", ()),
        ("en", "paraphrase", "meeting new people in my industry without conferences", "", ()),
        ("de", "paraphrase", "Kontakte pflegen, ohne auf Messen zu fahren", "", ()),
        ("en", "goal", "My network is all from the nineties",
         "My professional contacts are people I met at trade fairs twenty years ago. I want to learn how younger "
         "people build networks online, in LinkedIn groups, communities and virtual events, and how to reach "
         "out without being pushy.", ()),
        ("en", "goal", "Getting something out of virtual conferences",
         "I attend online conferences but leave without a single new contact. I'd like someone to show me how "
         "to network digitally: chat, follow-ups, joining communities and keeping in touch afterwards.", ()),
        ("de", "goal", "Netzwerk für den nächsten Karriereschritt",
         "Ich möchte mich beruflich verändern und merke, dass mir ein Netzwerk außerhalb meiner Firma fehlt. "
         "Ich suche jemanden, der mir zeigt, wie man online Kontakte knüpft und pflegt, etwa auf LinkedIn oder "
         "in Fach-Communities.", ("digital-reputation",)),
        ("de", "goal", "Online-Communities nutzen",
         "Ich höre immer wieder, dass wichtige Gespräche heute in Slack-Gruppen und Online-Communities "
         "stattfinden. Wie findet man die richtigen, wie bringt man sich ein und wie entsteht daraus ein "
         "echtes Netzwerk?", ()),
    ],
    "digital-leadership": [
        ("en", "topic_word", "Digital business leadership", "", ()),
        ("de", "topic_word", "Digitale Unternehmensführung", "", ()),
        ("en", "synonym", "leading a digital transformation", "", ()),
        ("de", "synonym", "digitale Strategie für den Mittelstand", "", ()),
        ("en", "typo", "digital leadersip for managers", "", ()),
        ("de", "typo", "Digitale Unternehmensfürung", "", ()),
        ("en", "paraphrase", "managing a team I rarely see in person", "", ("work-organisation",)),
        ("de", "paraphrase", "Führen auf Distanz", "", ()),
        ("en", "goal", "Setting a digital strategy as a new CEO",
         "I just took over a traditional wholesale business. Our processes are on paper and our customers are "
         "moving online. I need a sparring partner to think through a digital strategy, priorities and how to "
         "take the staff along.", ("new-business-models",)),
        ("en", "goal", "Leading a hybrid team well",
         "Since the pandemic my team works partly remote and I feel I've lost touch. I'd like to learn how "
         "younger managers lead people at a distance, keep the team together and make decisions quickly.",
         ("collaboration-tools", "work-organisation")),
        ("de", "goal", "Digitalisierung als Chefsache",
         "Ich bin Geschäftsführer eines Familienunternehmens und möchte die Digitalisierung selbst vorantreiben, "
         "statt sie an die IT zu delegieren. Ich suche jemanden, der mit mir Strategie, Prioritäten und "
         "Veränderungsmanagement durchgeht.", ()),
        ("de", "goal", "Mein Team arbeitet überall, nur nicht im Büro",
         "Meine Mitarbeitenden sind im Homeoffice, beim Kunden oder unterwegs. Ich möchte lernen, wie man "
         "Menschen auf Distanz führt, Vertrauen aufbaut und trotzdem den Überblick behält.",
         ("new-work", "collaboration-tools")),
    ],
    "error-culture": [
        ("en", "topic_word", "Error culture", "", ()),
        ("de", "topic_word", "Fehlerkultur", "", ()),
        ("en", "synonym", "learning from failure", "", ()),
        ("de", "synonym", "psychologische Sicherheit im Team", "", ()),
        ("en", "typo", "eror culture and blameles post mortems", "", ()),
        ("de", "typo", "Fehlerkulutr verbessern", "", ()),
        ("en", "paraphrase", "my team hides mistakes from me", "", ("open-communication",)),
        ("de", "paraphrase", "offen über Pannen sprechen, ohne Schuldige zu suchen", "", ()),
        ("en", "goal", "Nobody admits a mistake until it's too late",
         "In my department problems surface only when a customer complains. I suspect people are afraid to "
         "report errors. I want to learn how to build a culture where mistakes are discussed early and used "
         "to improve.", ("open-communication",)),
        ("en", "goal", "How should I react when something goes wrong?",
         "Last month a big project failed and I was angry in front of the team. I'd like to talk with someone "
         "who has experience with blameless reviews and psychological safety about how a leader should handle "
         "failure.", ("feedback-culture",)),
        ("de", "goal", "Fehler als Lernchance",
         "Bei uns gilt ein Fehler immer noch als persönliches Versagen. Ich möchte als Abteilungsleiterin eine "
         "andere Fehlerkultur vorleben und suche Ideen, wie man Pannen offen bespricht und daraus lernt.",
         ()),
        ("de", "goal", "Fuckup Night im eigenen Unternehmen",
         "Ich habe von Veranstaltungen gehört, bei denen Menschen offen über ihr Scheitern sprechen. Ich möchte "
         "so etwas bei uns ausprobieren und suche jemanden, der Erfahrung mit Fehlerkultur hat.", ()),
    ],
    "social-media": [
        ("en", "topic_word", "Social media", "", ()),
        ("de", "topic_word", "Social Media", "", ()),
        ("en", "synonym", "how TikTok and Instagram work", "", ()),
        ("de", "synonym", "Instagram-Reels für Unternehmen", "", ()),
        ("en", "typo", "social meida for beginers", "", ()),
        ("de", "typo", "Sozial Media für Anfänger", "", ()),
        ("en", "paraphrase", "understanding the apps my teenagers use", "", ()),
        ("de", "paraphrase", "kurze Videos für unser Unternehmen drehen", "", ("online-marketing",)),
        ("en", "goal", "Our company has no social media presence",
         "We're a 200-person manufacturer and have never posted anything. I'd like to understand how Instagram, "
         "LinkedIn and TikTok work, what companies like ours post and how much effort it takes.",
         ("online-marketing", "employer-branding")),
        ("en", "goal", "Explaining the algorithm to me",
         "I keep hearing that the algorithm decides who sees what. I'd like a young person who lives on these "
         "platforms to explain how feeds, reels and stories work and why some posts spread and others don't.",
         ()),
        ("de", "goal", "Social Media endlich verstehen",
         "Ich bin 58 und habe weder Instagram noch TikTok. Mein Unternehmen soll dort aber sichtbar werden. Ich "
         "suche jemanden, der mir geduldig zeigt, wie diese Plattformen funktionieren und wer dort unterwegs "
         "ist.", ("online-marketing",)),
        ("de", "goal", "Umgang mit Kommentaren und Shitstorms",
         "Unser Unternehmensauftritt auf Facebook und Instagram bekommt manchmal böse Kommentare, und niemand "
         "weiß, wie man reagieren soll. Ich möchte lernen, wie man Social-Media-Kanäle betreut.",
         ("digital-reputation",)),
    ],
    "new-work": [
        ("en", "topic_word", "New Work and leadership (Gen Z expectations)", "", ()),
        ("de", "topic_word", "New Work und Führung (Erwartungen der Gen Z)", "", ()),
        ("en", "synonym", "what Gen Z expects from a manager", "", ()),
        ("de", "synonym", "Vier-Tage-Woche und Vertrauensarbeitszeit", "", ("work-organisation",)),
        ("en", "typo", "new wrok and gen z expectatons", "", ()),
        ("de", "typo", "Erwartungen der Generation Zett an Führung", "", ()),
        ("en", "paraphrase", "why young hires quit after a year", "", ("employer-branding",)),
        ("de", "paraphrase", "junge Mitarbeitende verstehen und halten", "", ("employer-branding",)),
        ("en", "goal", "Understanding my youngest employees",
         "My new trainees ask for flexible hours, purpose and feedback every week, and I don't know how to "
         "respond. I'd like to talk with someone of their generation about what they expect from work and "
         "leadership.", ("feedback-culture",)),
        ("en", "goal", "Is the four-day week for us?",
         "Some competitors now offer a four-day week and remote work, and we're losing applicants to them. I "
         "want to understand New Work beyond the buzzwords and what it would mean for my leadership style.",
         ("work-organisation", "employer-branding")),
        ("de", "goal", "Führung für die Generation Z",
         "In meinem Team arbeiten immer mehr junge Leute, die Hierarchien infrage stellen und Sinn in ihrer "
         "Arbeit suchen. Ich möchte verstehen, was sie von mir als Führungskraft erwarten.", ()),
        ("de", "goal", "New Work ohne Tischkicker",
         "Bei uns wurde New Work bisher mit Obstkorb und Sofaecke verwechselt. Ich möchte wissen, was wirklich "
         "dahintersteckt: Selbstbestimmung, flexible Arbeitsmodelle, andere Führung. Und wie man damit "
         "anfängt.", ("work-organisation",)),
    ],
    "employer-branding": [
        ("en", "topic_word", "Employer branding", "", ()),
        ("de", "topic_word", "Employer Branding", "", ()),
        ("en", "synonym", "making our careers page attractive", "", ()),
        ("de", "synonym", "Arbeitgebermarke stärken", "", ()),
        ("en", "typo", "emplyer branding for small firms", "", ()),
        ("de", "typo", "Arbeitgebermarkte aufbauen", "", ()),
        ("en", "paraphrase", "why nobody wants to work for us", "", ("recruiting-methods",)),
        ("de", "paraphrase", "als Firma für junge Bewerber interessant werden", "", ("recruiting-methods",)),
        ("en", "goal", "Nobody knows us as an employer",
         "We make excellent products, but young engineers have never heard of us and choose the big names. I'd "
         "like to learn how to build an employer brand and tell our story on social media and review sites.",
         ("social-media", "recruiting-methods")),
        ("en", "goal", "Our Glassdoor reviews are terrible",
         "Our ratings on employer review sites are bad and applicants mention them in interviews. I want to "
         "understand how employer branding works and how to improve the way we are seen as a workplace.",
         ("digital-reputation",)),
        ("de", "goal", "Attraktiver Arbeitgeber im Handwerk",
         "Unser Handwerksbetrieb findet kaum noch Auszubildende. Ich möchte lernen, wie wir uns als Arbeitgeber "
         "besser darstellen, auf der Karriereseite und in den sozialen Netzwerken.",
         ("recruiting-methods", "social-media")),
        ("de", "goal", "Mitarbeitende als Markenbotschafter",
         "Ich habe gehört, dass die eigenen Mitarbeitenden die besten Werbeträger für einen Arbeitgeber sind. "
         "Wie baut man so ein Programm auf, und was macht eine glaubwürdige Arbeitgebermarke aus?",
         ("digital-reputation",)),
    ],
    "work-organisation": [
        ("en", "topic_word", "Work organisation", "", ()),
        ("de", "topic_word", "Arbeitsorganisation", "", ()),
        ("en", "synonym", "time management and prioritising", "", ()),
        ("de", "synonym", "Selbstorganisation und Zeitmanagement", "", ()),
        ("en", "typo", "tiem managment for busy managers", "", ()),
        ("de", "typo", "Arbeitsorganistion im Homeoffice", "", ()),
        ("en", "paraphrase", "too many meetings and no time to think", "", ()),
        ("de", "paraphrase", "meinen Kalender wieder in den Griff bekommen", "", ()),
        ("en", "goal", "My calendar is full of meetings",
         "I spend eight hours a day in meetings and do my actual work in the evening. I'd like to learn how "
         "younger colleagues organise their time, use focus blocks and asynchronous updates, and say no.",
         ("collaboration-tools",)),
        ("en", "goal", "Organising my work from home",
         "Since I work from home two days a week I struggle with structure and distractions. I'd like practical "
         "methods to plan my day, set priorities and keep track of tasks.", ()),
        ("de", "goal", "Prioritäten setzen lernen",
         "Ich habe jeden Tag zu viele Aufgaben und komme kaum zu den wichtigen Dingen. Ich suche jemanden, der "
         "mir Methoden für Selbstmanagement und Zeitplanung zeigt, die im Alltag wirklich funktionieren.", ()),
        ("de", "goal", "Kürzere und bessere Besprechungen",
         "Unsere Besprechungen dauern zu lange und enden ohne Ergebnis. Ich möchte lernen, wie man Meetings "
         "strafft, Aufgaben klar verteilt und die Arbeit im Team besser organisiert.",
         ("collaboration-tools", "open-communication")),
    ],
    "recruiting-methods": [
        ("en", "topic_word", "Recruiting methods", "", ()),
        ("de", "topic_word", "Recruiting-Methoden", "", ()),
        ("en", "synonym", "active sourcing on LinkedIn", "", ()),
        ("de", "synonym", "Personalgewinnung über Social Media", "", ("social-media",)),
        ("en", "typo", "recuiting young talnet", "", ()),
        ("de", "typo", "Recrutingmethoden für Azubis", "", ()),
        ("en", "paraphrase", "finding applicants when nobody answers our job ads", "", ()),
        ("de", "paraphrase", "Bewerbung per Handy in zwei Minuten", "", ()),
        ("en", "goal", "Our hiring process is too slow",
         "We lose good candidates because our process takes eight weeks and asks for cover letters. I want to "
         "learn how modern recruiting works: mobile applications, quick interviews and approaching people "
         "directly.", ()),
        ("en", "goal", "Hiring apprentices again",
         "We used to get dozens of applications for apprenticeships, now we get two. I'd like someone who "
         "recruits young people today to show me where they look for jobs and how to reach them.",
         ("social-media", "employer-branding")),
        ("de", "goal", "Wie findet man heute noch Fachkräfte?",
         "Unsere Stellenanzeigen in der Zeitung und auf Jobbörsen bringen kaum noch Bewerbungen. Ich möchte "
         "neue Recruiting-Methoden kennenlernen, von Active Sourcing bis zu Bewerbungen ohne Anschreiben.", ()),
        ("de", "goal", "Vorstellungsgespräche per Video",
         "Wir führen künftig viele Bewerbungsgespräche online. Ich möchte lernen, wie man das gut macht und "
         "wie junge Bewerberinnen und Bewerber einen Bewerbungsprozess heute erleben.",
         ("collaboration-tools",)),
    ],
    "online-marketing": [
        ("en", "topic_word", "Online marketing", "", ()),
        ("de", "topic_word", "Online-Marketing", "", ()),
        ("en", "synonym", "SEO and Google Ads basics", "", ()),
        ("de", "synonym", "E-Mail-Marketing und Newsletter", "", ()),
        ("en", "typo", "onlin marketing and search engine optimisaton", "", ()),
        ("de", "typo", "Suchmaschinenoptimirung lernen", "", ()),
        ("en", "paraphrase", "getting customers to find our website", "", ()),
        ("de", "paraphrase", "mit kleinem Budget neue Kunden im Netz gewinnen", "", ()),
        ("en", "goal", "Our website brings no customers",
         "We paid for a nice website two years ago but it brings almost no enquiries. I'd like to understand "
         "how online marketing works: search engines, ads, newsletters and which numbers to watch.", ()),
        ("en", "goal", "Judging our marketing agency",
         "Our agency sends monthly reports full of clicks, impressions and conversion rates. I want to "
         "understand digital marketing well enough to know whether the money is well spent.", ("big-data",)),
        ("de", "goal", "Online-Marketing für unseren Onlineshop",
         "Wir haben einen kleinen Onlineshop eröffnet, aber kaum Besucher. Ich suche jemanden, der mir "
         "Suchmaschinenoptimierung, Werbeanzeigen und E-Mail-Marketing erklärt.", ("social-media",)),
        ("de", "goal", "B2B-Kunden im Netz erreichen",
         "Unsere Kunden sind Einkäufer in der Industrie. Ich möchte wissen, wie man sie online erreicht, mit "
         "Fachartikeln, LinkedIn-Anzeigen oder Newslettern, und wie man den Erfolg misst.", ("social-media",)),
    ],
    "new-business-models": [
        ("en", "topic_word", "New business models", "", ()),
        ("de", "topic_word", "Neue Geschäftsmodelle", "", ()),
        ("en", "synonym", "subscription and platform business models", "", ()),
        ("de", "synonym", "Abo-Modelle und Plattformen verstehen", "", ()),
        ("en", "typo", "new busines modells", "", ()),
        ("de", "typo", "neue Geschäftsmodele entwickeln", "", ()),
        ("en", "paraphrase", "selling a service instead of a machine", "", ()),
        ("de", "paraphrase", "wie Start-ups mit digitalen Produkten Geld verdienen", "", ()),
        ("en", "goal", "Our product is becoming a commodity",
         "We sell industrial pumps and prices keep falling. I'd like to explore digital business models, such "
         "as subscriptions, pay-per-use or a platform, and learn how to test an idea before investing.",
         ("digital-leadership",)),
        ("en", "goal", "Thinking like a start-up",
         "I'm on the board of a traditional bank and want to understand how start-ups find and test new "
         "business models, from the business model canvas to quick experiments with customers.",
         ("agile-organisations",)),
        ("de", "goal", "Digitale Geschäftsmodelle für den Handel",
         "Unser Einzelhandel verliert Kundschaft an Onlineshops. Ich möchte verstehen, welche neuen "
         "Geschäftsmodelle es gibt, etwa Abos, Marktplätze oder Services, und wie man sie ausprobiert.",
         ("online-marketing",)),
        ("de", "goal", "Innovation mit Design Thinking",
         "Ich soll in unserem Unternehmen ein Innovationsteam aufbauen, das neue Geschäftsideen entwickelt. "
         "Ich suche jemanden, der Erfahrung mit Design Thinking und Geschäftsmodellinnovation hat.", ()),
    ],
    "open-communication": [
        ("en", "topic_word", "Open communication", "", ()),
        ("de", "topic_word", "Offene Kommunikation", "", ()),
        ("en", "synonym", "speaking up in meetings", "", ()),
        ("de", "synonym", "Kommunikation auf Augenhöhe", "", ()),
        ("en", "typo", "open comunication in teams", "", ()),
        ("de", "typo", "offene Komunikation im Unternehmen", "", ()),
        ("en", "paraphrase", "my team only tells me what I want to hear", "", ("feedback-culture",)),
        ("de", "paraphrase", "unangenehme Themen ehrlich ansprechen", "", ()),
        ("en", "goal", "Rumours spread faster than my emails",
         "Whenever we change something, rumours spread before I've explained it. I want to learn how to "
         "communicate openly with my staff, share bad news early and invite questions.", ("transparency",)),
        ("en", "goal", "Getting the quiet people to talk",
         "In our team meetings the same three people talk and the others stay silent. I'd like to learn how to "
         "create an atmosphere where everyone speaks openly, including the younger colleagues.",
         ("feedback-culture",)),
        ("de", "goal", "Offener mit der Belegschaft sprechen",
         "Als Geschäftsführer merke ich, dass viele Informationen nicht bei den Mitarbeitenden ankommen und "
         "Fragen nicht gestellt werden. Ich möchte lernen, wie offene Kommunikation im Unternehmen gelingt.",
         ("transparency",)),
        ("de", "goal", "Ehrliche Gespräche im Team",
         "In meinem Team wird viel hinter vorgehaltener Hand geredet. Ich suche jemanden, der mir zeigt, wie "
         "man eine Kultur schafft, in der Probleme offen angesprochen werden.",
         ("feedback-culture", "error-culture")),
    ],
    "feedback-culture": [
        ("en", "topic_word", "Feedback culture", "", ()),
        ("de", "topic_word", "Feedbackkultur", "", ()),
        ("en", "synonym", "giving constructive feedback", "", ()),
        ("de", "synonym", "360-Grad-Feedback einführen", "", ()),
        ("en", "typo", "feedbak culture and one to ones", "", ()),
        ("de", "typo", "Feedbackkulur im Team", "", ()),
        ("en", "paraphrase", "asking my team how I'm doing as a boss", "", ()),
        ("de", "paraphrase", "Kritik so sagen, dass sie ankommt", "", ()),
        ("en", "goal", "Annual reviews are not enough",
         "We do one appraisal a year and everyone dreads it. Younger employees tell me they want feedback much "
         "more often. I'd like to learn how to build a feedback culture with regular, honest conversations.",
         ("new-work",)),
        ("en", "goal", "Learning to take criticism",
         "I'm good at giving feedback but I get defensive when I receive it. I'd like to practise asking for "
         "feedback from my team, including the juniors, and reacting well.", ()),
        ("de", "goal", "Feedback von unten",
         "Ich möchte, dass meine Mitarbeitenden mir ehrlich sagen, was ich als Führungskraft besser machen "
         "kann. Wie fragt man danach, und wie geht man mit der Antwort um?", ("open-communication",)),
        ("de", "goal", "Regelmäßige Feedbackgespräche",
         "Ich leite ein Team von 15 Leuten und führe nur einmal im Jahr Mitarbeitergespräche. Ich suche "
         "jemanden, der mir zeigt, wie kurze, regelmäßige Feedbackgespräche funktionieren.", ()),
    ],
    "transparency": [
        ("en", "topic_word", "Transparency", "", ()),
        ("de", "topic_word", "Transparenz", "", ()),
        ("en", "synonym", "salary transparency", "", ()),
        ("de", "synonym", "Entscheidungen transparent machen", "", ()),
        ("en", "typo", "transparancy in leadrship", "", ()),
        ("de", "typo", "Tranzparenz im Unternehmen", "", ()),
        ("en", "paraphrase", "sharing the company figures with all staff", "", ()),
        ("de", "paraphrase", "Gehälter offenlegen", "", ()),
        ("en", "goal", "Should we publish salaries?",
         "Younger employees keep asking about pay transparency and some start-ups publish every salary. I want "
         "to understand the pros and cons and how to start being more transparent.", ("new-work",)),
        ("en", "goal", "Explaining decisions to the whole company",
         "Decisions in our management team often arrive without any reasons, and staff feel left out. I'd "
         "like to learn how to make decisions and goals transparent.", ("open-communication",)),
        ("de", "goal", "Mehr Transparenz in der Geschäftsführung",
         "Unsere Mitarbeitenden erfahren Zahlen und Ziele erst aus der Zeitung. Ich möchte lernen, wie man "
         "transparent kommuniziert, was sich lohnt offenzulegen und wie man damit anfängt.",
         ("open-communication",)),
        ("de", "goal", "Open-Book-Management ausprobieren",
         "Ich habe von Unternehmen gehört, die ihre Finanzzahlen mit allen teilen. Ich suche jemanden, der "
         "Erfahrung mit Transparenz bei Zahlen und Entscheidungen hat.", ()),
    ],
}

# Grades the topic rule misses (query id is assigned below, so these key on the query title).
EXTRA = {
    "making decisions from our sales figures": {"m13": 1, "m10": 2},
    "SQL und Excel-Auswertungen lernen": {"m13": 2},
    "Reading a dashboard without nodding along": {"m13": 1},
    "Führen auf Distanz": {"m51": 3},
    "kurze Videos für unser Unternehmen drehen": {"m24": 3},
    "Fuckup Night im eigenen Unternehmen": {"m21": 3},
    "Open-Book-Management ausprobieren": {"m58": 3},
    "Vier-Tage-Woche und Vertrauensarbeitszeit": {"m26": 3},
}


def grade(mentor_topics: list[str], topic: str, also: tuple[str, ...]) -> int:
    """The labelling rule of the module docstring."""
    if not mentor_topics:
        return 0
    if mentor_topics[0] == topic:
        return 3
    if topic in mentor_topics[1:]:
        return 2
    if any(t in mentor_topics for t in also):
        return 1
    return 0


def main() -> None:
    data = json.loads(DATA.read_text(encoding="utf-8"))
    old_mentors = [m for m in data["mentors"] if int(m["id"][1:]) < FIRST_NEW_MENTOR]
    old_queries = [q for q in data["queries"] if int(q["id"][1:]) < FIRST_NEW_QUERY]
    new_mentors = [{"id": i, "lang": lang, "headline": h, "text": t, "topics": topics}
                   for i, lang, topics, h, t in MENTORS]
    mentors = old_mentors + new_mentors
    topics_of = {m["id"]: m["topics"] for m in mentors}

    for q in old_queries:
        q.setdefault("style", "goal" if q["kind"] == "goal" else "short")
        main_topics = Counter(topics_of[m][0] for m, r in q["relevant"].items() if r == 3 and topics_of[m])
        if main_topics:
            topic = main_topics.most_common(1)[0][0]
            for m in new_mentors:
                if m["topics"][0] == topic and m["id"] not in q["relevant"]:
                    q["relevant"][m["id"]] = 2
        q["split"] = "tune"

    new_queries: list[dict] = []
    number = FIRST_NEW_QUERY
    for topic, items in QUERIES.items():
        for lang, style, title, description, also in items:
            labels = {m["id"]: grade(m["topics"], topic, also) for m in mentors}
            labels = {k: v for k, v in labels.items() if v > 0}
            labels.update(EXTRA.get(title, {}))
            new_queries.append({
                "id": f"q{number:03d}", "lang": lang, "kind": "goal" if style == "goal" else "topic_query",
                "style": style, "topic": topic, "title": title, "description": description,
                "relevant": dict(sorted(labels.items(), key=lambda kv: (-kv[1], kv[0]))), "split": "tune",
            })
            number += 1

    # Held-out: per language and kind (goal / short query), ~40 % of the stratum over the whole set, drawn
    # from the new queries in turn by style so that every style is represented alike.
    queries = old_queries + new_queries
    rng = random.Random(16)
    for lang in ("de", "en"):
        for kind in ("goal", "topic_query"):
            members = [q for q in queries if q["lang"] == lang and q["kind"] == kind]
            by_style: dict[str, list[dict]] = defaultdict(list)
            for q in new_queries:
                if q["lang"] == lang and q["kind"] == kind:
                    by_style[q["style"]].append(q)
            pools = [rng.sample(items, len(items)) for _, items in sorted(by_style.items())]
            order = [pool[i] for i in range(max(map(len, pools))) for pool in pools if i < len(pool)]
            for q in order[: round(HELDOUT_SHARE * len(members))]:
                q["split"] = "heldout"

    data["mentors"] = mentors
    data["queries"] = queries
    DATA.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    split = Counter((q["split"], q["lang"], q["style"]) for q in queries)
    print(f"{len(mentors)} mentors, {len(queries)} queries;", dict(sorted(split.items())))


if __name__ == "__main__":
    main()
