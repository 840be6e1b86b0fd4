"""Vectors of mentor profiles and goals: stored in the database (the truth), mirrored in a FAISS index.

Every vector change bumps a version counter in the database and logs which entity changed, so each
worker process brings its own in-memory index up to date before it searches (incremental catch-up).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from flask import current_app
from sqlalchemy import Connection, Engine, create_engine, select, update
from sqlalchemy.orm import selectinload

from embeddings import Encoder, IndexFileError, IndexMismatchError, VectorIndex, build_encoder, content_hash

from ...extensions import db
from ...models import (
    REFERENCE_TOKEN_DIALECTS,
    REFERENCE_TOKEN_KEY,
    AppMeta,
    Goal,
    MentorProfile,
    Topic,
    User,
    VectorChange,
)
from ...states import GoalStatus
from . import taxonomy

log = logging.getLogger(__name__)

MENTOR = "mentor"
GOAL = "goal"
VERSION_KEY = "index_version"
DATABASE_ID_KEY = "database_id"
# Past this many logged changes a full rebuild is cheaper than replaying them one by one.
FULL_REBUILD_AFTER = 20_000


def encoder() -> Encoder:
    return build_encoder(current_app.config["TANDEM_EMBEDDING_MODEL"])


def topic_names(topics) -> str:
    """Both languages' names, sorted, so the text (and its hash) does not depend on load order."""
    return topic_line([taxonomy.topic_label(t) for t in topics])


def topic_line(labels: Iterable[str]) -> str:
    """The line of topic names (`taxonomy.topic_label`s) that ends an embedded text: sorted, comma-separated."""
    return ", ".join(sorted(labels))


def mentor_text(profile: MentorProfile) -> str:
    return mentor_text_of(profile.headline, profile.teaching_text, profile.topics)


def mentor_text_of(headline: str, teaching_text: str, topics) -> str:
    """What a mentor's vector embeds; `topics` are anything with `name_en` and `name_de`."""
    return mentor_text_of_labels(headline, teaching_text, [taxonomy.topic_label(t) for t in topics])


def mentor_text_of_labels(headline: str, teaching_text: str, labels: Iterable[str]) -> str:
    """`mentor_text_of` from the topics' labels (`taxonomy.topic_label`), as a ranking holds them."""
    return "\n".join(part for part in (headline, teaching_text, topic_line(labels)) if part)


def goal_text(goal: Goal, detect: taxonomy.TopicDetector | None = None) -> str:
    return goal_text_of(goal.title, goal.description, goal.topics, detect)


def goal_text_of(title: str, description: str, topics, detect: taxonomy.TopicDetector | None = None) -> str:
    """What a goal's vector embeds: title, description and the names of its tags and of the taxonomy topics
    its words name, as a search is expanded (matching.expand_query). Suggestions rank from this stored
    vector, so nothing is encoded at request time for a saved goal. `topics` as for `mentor_text_of`."""
    detect = detect or taxonomy.TopicDetector()
    topics = list(topics)
    tagged = {getattr(t, "id", None) for t in topics}
    named = {m.topic_id for m in detect(f"{title}\n{description}", typos=taxonomy.TYPOS_IN_QUERIES)} - tagged
    if named:
        topics += db.session.scalars(select(Topic).where(Topic.id.in_(sorted(named))))
    return "\n".join(part for part in (title, description, topic_names(topics)) if part)


def topic_text(topic) -> str:
    """What a taxonomy topic's vector embeds (the semantic topic expansion, matching.expand_vectors): its names
    in both languages and its descriptions (taxonomy.descriptions), or its synonyms for a topic added without
    one; `topic` is anything with `slug`, `name_en`, `name_de` and `synonyms`. Descriptions ranked better than
    synonyms on the tune split (bench/README.md, "Semantic topic expansion")."""
    names = topic.name_en if topic.name_en == topic.name_de else f"{topic.name_en} ({topic.name_de})"
    described = taxonomy.descriptions().get(topic.slug)
    return "\n".join([names, *described] if described else [names, ", ".join(topic.synonyms or [])]).strip()


_topic_vectors: dict[tuple[str, taxonomy.Signature], np.ndarray] = {}
_topic_vectors_lock = threading.Lock()


def topic_vectors(detect: taxonomy.TopicDetector) -> np.ndarray:
    """The vectors of `detect`'s taxonomy topics (rows in id order), encoded once per process, encoder and
    taxonomy (its names and synonyms; a topic's slug, which picks its description, never changes): 19 short
    texts at a worker's warm-up (warm_up), never again per request."""
    enc = encoder()
    key = (enc.config, detect.signature)
    with _topic_vectors_lock:
        found = _topic_vectors.get(key)
    if found is None:
        texts = [topic_text(detect.topics[i]) for i in sorted(detect.topics)]
        found = enc.encode(texts) if texts else np.zeros((0, enc.dimension), dtype=np.float32)
        with _topic_vectors_lock:
            if len(_topic_vectors) >= 8:  # a changed taxonomy or another encoder (tests run several apps)
                _topic_vectors.clear()
            _topic_vectors[key] = found
    return found


def forget_topic_vectors() -> None:
    """Drop the cached topic vectors (what a topic's text is was changed: tests, bench/ranking_eval.py)."""
    with _topic_vectors_lock:
        _topic_vectors.clear()


def to_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def from_blob(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float32)


def _meta(key: str) -> AppMeta | None:
    return db.session.get(AppMeta, key)


def database_id() -> str:
    """A random identity stored at init, so an index file from another database is never trusted."""
    row = _meta(DATABASE_ID_KEY)
    if row is None:
        row = AppMeta(key=DATABASE_ID_KEY, value=uuid.uuid4().hex)
        db.session.add(row)
        db.session.flush()
    return row.value


def ensure_meta() -> None:
    database_id()
    if _meta(VERSION_KEY) is None:
        db.session.add(AppMeta(key=VERSION_KEY, value="0"))
    if db.engine.dialect.name in REFERENCE_TOKEN_DIALECTS and _meta(REFERENCE_TOKEN_KEY) is None:
        db.session.add(AppMeta(key=REFERENCE_TOKEN_KEY, value=uuid.uuid4().hex))  # the triggers replace it
    db.session.flush()


def current_version(source=None) -> int:
    """The last committed vector version on the primary, or on `source` (a replica connection)."""
    return version_of((source or db.session).scalar(select(AppMeta.value).where(AppMeta.key == VERSION_KEY)))


def version_of(value: str | None) -> int:
    """The index version a VERSION_KEY row's value holds (0 before the first change)."""
    return int(value) if value is not None else 0


_replica_engines: dict[str, Engine] = {}
_replica_lock = threading.Lock()


@contextmanager
def _replica() -> Iterator[Connection | None]:
    """A read-only connection to the configured replica (DATABASE_REPLICA_URL), or None without one.

    The index's catch-up and rebuild read the change log and the vectors here, the heaviest reads a
    worker does; what the replica has not replayed yet is read from the primary (`LiveIndex`)."""
    url = current_app.config.get("TANDEM_REPLICA_URL")
    if not url:
        yield None
        return
    with _replica_lock:
        engine = _replica_engines.get(url)
        if engine is None:
            engine = _replica_engines[url] = create_engine(url, pool_pre_ping=True)
    with engine.connect() as connection:
        yield connection


def record_change(kind: str, entity_id: int) -> int:
    """Log a vector change in the caller's transaction; answers its version."""
    return record_changes(kind, [entity_id])


def record_changes(kind: str, entity_ids: Sequence[int]) -> int:
    """Log several vector changes in the caller's transaction, one version each; answers the last version.

    The UPDATE takes a row lock on the counter, so versions commit in order and no worker can read
    version N+1 before N is visible. One UPDATE per batch, not per entity: a bulk import of thousands
    of texts would otherwise spend more time here than in the encoder.
    """
    count = len(entity_ids)
    if not count:
        return current_version()
    bump = (
        update(AppMeta)
        .where(AppMeta.key == VERSION_KEY)
        .values(value=(AppMeta.value.cast(db.Integer) + count).cast(db.String))
        .execution_options(synchronize_session=False)  # the value is always read with a fresh SELECT
    )
    if db.session.execute(bump).rowcount == 0:
        ensure_meta()
        db.session.execute(bump)
    last = int(db.session.scalar(select(AppMeta.value).where(AppMeta.key == VERSION_KEY)))
    db.session.add_all(
        VectorChange(version=last - count + 1 + offset, kind=kind, entity_id=entity_id)
        for offset, entity_id in enumerate(entity_ids)
    )
    return last


def _embed_if_changed(entity: MentorProfile | Goal, text: str, enc: Encoder) -> bool:
    if is_current(entity, text, enc.config):
        return False
    entity.vector = to_blob(enc.encode([text])[0])
    entity.vector_config = enc.config
    entity.content_hash = content_hash(text, enc.config)
    return True


def refresh_mentor(profile: MentorProfile) -> None:
    """Call after a profile is saved, paused or reopened: re-embed only when its text changed."""
    db.session.flush()
    _embed_if_changed(profile, mentor_text(profile), encoder())
    record_change(MENTOR, profile.id)


def refresh_goal(goal: Goal) -> None:
    db.session.flush()
    _embed_if_changed(goal, goal_text(goal), encoder())
    record_change(GOAL, goal.id)


def forget(kind: str, entity_id: int) -> None:
    """Call when a profile or goal is deleted, in the same transaction."""
    record_change(kind, entity_id)


def is_current(entity: MentorProfile | Goal | None, text: str, config: str) -> bool:
    """Whether `entity` already holds the vector of `text` under the encoder `config`."""
    return (
        entity is not None and entity.vector is not None and entity.vector_config == config
        and entity.content_hash == content_hash(text, config)
    )


# Vectors computed ahead of a write, keyed by content hash (text + encoder configuration).
Encoded = dict[str, np.ndarray]


def encode_texts(
    texts: Sequence[str], batch_size: int = 64, progress: Callable[[int, int], None] | None = None
) -> Encoded:
    """Encode in batches, touching no database, so a caller can do it before its write transaction."""
    enc = encoder()
    unique = list(dict.fromkeys(texts))
    encoded: Encoded = {}
    for start in range(0, len(unique), batch_size):
        chunk = unique[start : start + batch_size]
        for text, vector in zip(chunk, enc.encode(chunk, batch_size=batch_size), strict=True):
            encoded[content_hash(text, enc.config)] = vector
        if progress:
            progress(start + len(chunk), len(unique))
    return encoded


def store_vectors(kind: str, entities: Sequence[MentorProfile | Goal], encoded: Encoded) -> int:
    """Give each entity the vector of its current text, from `encoded` (encoding only what is missing there,
    e.g. a text changed meanwhile); logs the changes; answers how many vectors changed."""
    enc = encoder()
    text_of = mentor_text if kind == MENTOR else goal_text
    stale = [(entity, text) for entity in entities if not is_current(entity, text := text_of(entity), enc.config)]
    missing = [text for _, text in stale if content_hash(text, enc.config) not in encoded]
    if missing:
        encoded = {**encoded, **encode_texts(missing)}
    for entity, text in stale:
        digest = content_hash(text, enc.config)
        entity.vector = to_blob(encoded[digest])
        entity.vector_config = enc.config
        entity.content_hash = digest
    db.session.flush()
    record_changes(kind, [entity.id for entity, _ in stale])
    return len(stale)


def embed_stale(
    kind: str,
    batch_size: int = 64,
    progress: Callable[[int, int], None] | None = None,
    ids: Iterable[int] | None = None,
) -> int:
    """Embed every profile or goal whose vector is missing or stale, in batches; answers how many."""
    model = MentorProfile if kind == MENTOR else Goal
    detect = taxonomy.TopicDetector()  # one taxonomy read for every goal of the run
    text_of = mentor_text if kind == MENTOR else lambda goal: goal_text(goal, detect)
    config = encoder().config
    query = select(model).options(selectinload(model.topics))  # the text names the topics
    if ids is not None:
        query = query.where(model.id.in_(list(ids)))
    stale = [entity for entity in db.session.scalars(query) if not is_current(entity, text_of(entity), config)]
    encoded = encode_texts([text_of(entity) for entity in stale], batch_size=batch_size, progress=progress)
    return store_vectors(kind, stale, encoded)


def _indexable_rows(kind: str, ids: Sequence[int] | None = None, source=None):
    """(id, vector) of what belongs in the index: open mentors, open discoverable goals, current encoder;
    read from `source` (a replica connection) or the primary."""
    config = encoder().config
    if kind == MENTOR:
        query = select(MentorProfile.id, MentorProfile.vector).where(
            MentorProfile.is_open.is_(True), MentorProfile.vector_config == config
        )
        model_id = MentorProfile.id
    else:
        query = select(Goal.id, Goal.vector).where(
            Goal.status == GoalStatus.OPEN, Goal.discoverable.is_(True), Goal.vector_config == config
        )
        model_id = Goal.id
    if ids is not None:
        query = query.where(model_id.in_(list(ids)))
    return (source or db.session).execute(query.execution_options(yield_per=5000))


def _load_vectors(kind: str, ids: Sequence[int] | None = None, source=None) -> tuple[np.ndarray, np.ndarray]:
    id_list: list[int] = []
    blobs: list[bytes] = []
    for entity_id, blob in _indexable_rows(kind, ids, source):
        if blob is not None:
            id_list.append(entity_id)
            blobs.append(blob)
    dimension = encoder().dimension
    if not blobs:
        return np.zeros(0, dtype=np.int64), np.zeros((0, dimension), dtype=np.float32)
    matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), -1)
    return np.asarray(id_list, dtype=np.int64), matrix


@dataclass
class LiveIndex:
    """One process's in-memory index for one kind, and the database version it reflects."""

    kind: str
    index: VectorIndex | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def path(self) -> Path:
        return Path(current_app.config["TANDEM_INDEX_DIR"]) / f"{self.kind}s.faiss"

    def _metadata(self) -> dict:
        return {"database_id": database_id(), "kind": self.kind}

    def rebuild(self, save: bool = True, replica_ok: bool = True) -> VectorIndex:
        """Build from every stored vector (read on the replica when one is configured), then catch up
        with the primary, so the index reflects every change the primary has committed."""
        with _replica() as replica:
            if replica is not None and (not replica_ok or current_version(replica) > current_version()):
                replica = None  # asked for the primary, or a replica ahead of it: another database
            version = current_version(replica)
            ids, vectors = _load_vectors(self.kind, source=replica)
        enc = encoder()
        index = VectorIndex.build(ids, vectors, dimension=enc.dimension, config=enc.config)
        index.version = version
        index.metadata = self._metadata()
        self.index = index
        if not self._catch_up(current_version()):  # the replica lagged by more than a rebuild's worth
            return self.rebuild(save, replica_ok=False)
        if save:
            self.save()
        return index

    def save(self) -> None:
        if self.index is None:
            return
        path = self.path()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.index.save(path)

    def _open(self) -> VectorIndex:
        """The saved file when it belongs to this database and encoder, else a rebuild from the database."""
        enc = encoder()
        try:
            index = VectorIndex.load(
                self.path(), expected_config=enc.config, expected_dimension=enc.dimension,
                expected_metadata=self._metadata(),
            )
        except (IndexFileError, IndexMismatchError) as problem:
            log.info("Rebuilding the %s index from the database: %s", self.kind, problem)
            return self.rebuild()
        if index.version > current_version():
            log.info("The saved %s index is ahead of the database; rebuilding", self.kind)
            return self.rebuild()
        self.index = index
        return index

    def current(self, latest: int | None = None) -> VectorIndex:
        """The index, caught up with every change committed by any process (up to `latest`, the version the
        caller has just read, else read here)."""
        with self.lock:
            if self.index is None:
                self._open()
            assert self.index is not None
            if latest is None or latest < self.index.version:
                # A version the caller read before another thread caught the index up further is no sign of a
                # database gone backwards: ask again, under the lock.
                latest = current_version()
            if latest < self.index.version:
                # The database went backwards: it is another database (or was reset). Trust nothing.
                return self.rebuild()
            if self.index.version == latest:
                return self.index
            if not self._catch_up(latest):
                return self.rebuild()
            return self.index

    def _catch_up(self, latest: int) -> bool:
        """Apply the changes after the index's version up to `latest` (the primary's committed version).

        With a replica, the changes it has replayed are read there and only the range it lags behind is
        read from the primary, so a profile saved through one worker is found by the next request on any
        other. Answers False when so much changed that a rebuild is cheaper."""
        assert self.index is not None
        start = self.index.version
        if latest <= start:
            return True
        with _replica() as replica:
            replayed = min(current_version(replica), latest) if replica is not None else start
            from_replica = self._changed(start, replayed, replica) if replayed > start else set()
            from_primary = self._changed(max(start, replayed), latest, None)
            if len(from_replica | from_primary) > FULL_REBUILD_AFTER:
                return False
            # An id changed again after the replica's version has its current row on the primary only.
            parts = [_load_vectors(self.kind, sorted(from_replica - from_primary), replica)] if from_replica else []
        if from_primary:
            parts.append(_load_vectors(self.kind, sorted(from_primary)))
        changed = from_replica | from_primary
        present = {i for ids, _ in parts for i in ids.tolist()}
        self.index.remove([i for i in changed if i not in present])
        for ids, vectors in parts:
            if len(ids):
                self.index.add(ids, vectors)
        self.index.version = latest
        return True

    def _changed(self, after: int, up_to: int, source) -> set[int]:
        """Ids of this kind logged in versions (after, up_to] on `source` (a replica) or the primary."""
        query = (
            select(VectorChange.entity_id)
            .where(VectorChange.version > after, VectorChange.version <= up_to, VectorChange.kind == self.kind)
            .distinct()
        )
        return set((source or db.session).scalars(query))


_live: dict[tuple[str, str], LiveIndex] = {}
_live_lock = threading.Lock()


def live_index(kind: str) -> LiveIndex:
    """This process's index for `kind`, one per database and encoder (tests run several apps)."""
    key = (current_app.config["SQLALCHEMY_DATABASE_URI"] + "|" + current_app.config["TANDEM_INDEX_DIR"], kind)
    with _live_lock:
        if key not in _live:
            _live[key] = LiveIndex(kind)
        return _live[key]


def rebuild_all(progress: Callable[[str, int, int], None] | None = None) -> dict[str, int]:
    """Embed what is missing or stale, commit, then rebuild and save both indexes."""
    counts: dict[str, int] = {}
    for kind in (MENTOR, GOAL):
        report = (lambda done, total, kind=kind: progress(kind, done, total)) if progress else None
        counts[f"{kind}s_embedded"] = embed_stale(kind, progress=report)
    db.session.commit()
    for kind in (MENTOR, GOAL):
        counts[f"{kind}s_indexed"] = len(live_index(kind).rebuild())
    return counts


def drop_user_vectors(user: User) -> None:
    """Log removals for a user's profile and goals before the user is deleted."""
    if user.mentor_profile is not None:
        forget(MENTOR, user.mentor_profile.id)
    for goal in user.goals:
        forget(GOAL, goal.id)


def save_caught_up_indexes() -> None:
    """Bring both indexes up to the database and write them to their saved files, so vectors removed
    from the database (a deleted account) are gone from the files on disk too, not only from memory."""
    for kind in (MENTOR, GOAL):
        live = live_index(kind)
        live.current()
        with live.lock:
            live.save()


def forget_live_indexes() -> None:
    """Drop this process's in-memory indexes, topic vectors and replica connections (tests, or after the
    database was replaced)."""
    with _live_lock:
        _live.clear()
    forget_topic_vectors()
    with _replica_lock:
        for engine in _replica_engines.values():
            engine.dispose()
        _replica_engines.clear()


def warm_up() -> None:
    """Load the encoder, encode the topic vectors and open both indexes; called in each worker process after fork."""
    encoder().encode(["warm-up"])
    topic_vectors(taxonomy.TopicDetector())
    for kind in (MENTOR, GOAL):
        live_index(kind).current()
    db.session.remove()
