"""First-run set-up shared by `init-db`, the demo seed and the tests."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from ..extensions import db
from ..models import Topic
from .matching import vectors

TOPICS_FILE = Path(__file__).resolve().parent.parent / "data" / "topics.json"


def seed_topics() -> int:
    """Add the taxonomy's seed topics that are missing; never overwrites a manager's edits."""
    existing = set(db.session.scalars(select(Topic.slug)))
    added = 0
    for entry in json.loads(TOPICS_FILE.read_text(encoding="utf-8")):
        if entry["slug"] in existing:
            continue
        db.session.add(
            Topic(slug=entry["slug"], name_en=entry["name_en"], name_de=entry["name_de"], synonyms=entry["synonyms"])
        )
        added += 1
    return added


def initialise_database() -> None:
    vectors.ensure_meta()
    seed_topics()
    db.session.commit()
