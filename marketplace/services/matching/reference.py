"""The taxonomy and the competitor links as every search and suggestion reads them.

A process keeps what it read of them while the database's reference token (models.REFERENCE_TOKEN_KEY) is
unchanged, and reads the token in the statement that reads the index's version: two statements a request less
(bench/README.md, "Reference data kept"). The database's triggers give the token a new random value in the
transaction of every change to a taxonomy topic or a competitor link. The token is read first and the rows after
it, so what is kept under a token is never older than the token; a token that a rolled-back transaction set is
never read again. Without a token (another database kind, a database not yet initialised) nothing is kept.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache

from sqlalchemy import Select, select

from ...extensions import db
from ...models import REFERENCE_TOKEN_KEY, AppMeta
from .. import companies
from . import taxonomy, vectors

# Tokens kept per process: one per database it serves (a test run serves several).
KEPT_TOKENS = 4


@dataclass(frozen=True)
class MatchingState:
    """What a ranking reads before its candidates: the mentor index's version and the reference data."""

    index_version: int
    detect: taxonomy.TopicDetector
    competitor_pairs: frozenset[tuple[int, int]]


_kept: dict[str, tuple[taxonomy.TopicDetector, frozenset[tuple[int, int]]]] = {}
_kept_lock = threading.Lock()


@cache
def _state_statement() -> Select:
    return select(AppMeta.key, AppMeta.value).where(AppMeta.key.in_((vectors.VERSION_KEY, REFERENCE_TOKEN_KEY)))


def matching_state() -> MatchingState:
    """The index's version and the taxonomy and competitor links: from this process's copy when the database's
    reference token is the one it was read under, else read again (and kept)."""
    values = {key: value for key, value in db.session.execute(_state_statement())}
    token = values.get(REFERENCE_TOKEN_KEY)
    kept = _kept.get(token) if token is not None else None
    if kept is None:
        kept = (taxonomy.TopicDetector(), frozenset(companies.all_competitor_pairs()))
        if token is not None:
            with _kept_lock:
                if len(_kept) >= KEPT_TOKENS:
                    _kept.clear()
                _kept[token] = kept
    return MatchingState(vectors.version_of(values.get(vectors.VERSION_KEY)), *kept)
