"""The raw baseline as a service: what a user would build instead of Tandem, served by gunicorn.

`gunicorn bench.raw_server:app` with RAW_MENTORS (vectors in the exact index) and RAW_DATABASE_URL (the
bench database, for the one-row page). Plain sentence-transformers with the bundled all-MiniLM-L6-v2
(the library's default threads) and one exact `faiss.IndexFlatIP` over as many random 384-dim unit
vectors as the app has mentors, loaded in each worker:

* `GET /search?q=...`   one encode of the raw query + one exact search, k=10, ids and scores as JSON;
* `GET /suggest?i=N`    one exact search, k=5, from stored vector N (a goal's vector is stored);
* `GET /page?id=N`      one row of mentor_profile by id, as a small HTML page.

No ranking, no rules, no explanation, no authentication: the floor under every figure of the app.
"""

from __future__ import annotations

import html
import json
import os
import threading
from urllib.parse import parse_qs

import numpy as np

_state: dict = {}
_lock = threading.Lock()
_local = threading.local()


def _load() -> dict:
    with _lock:
        if not _state:
            import faiss
            from sentence_transformers import SentenceTransformer

            from embeddings.encoders import bundled_minilm_path

            n = int(os.environ.get("RAW_MENTORS", "3000"))
            rng = np.random.default_rng(n)
            vectors = rng.standard_normal((n, 384)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            index = faiss.IndexFlatIP(384)
            index.add(vectors)
            model = SentenceTransformer(str(bundled_minilm_path()), device="cpu")
            model.encode(["warm up"])
            _state.update(index=index, vectors=vectors, model=model, model_lock=threading.Lock())
    return _state


def _connection():
    if not hasattr(_local, "connection"):
        import psycopg

        _local.connection = psycopg.connect(os.environ["RAW_DATABASE_URL"], autocommit=True)
    return _local.connection


def app(environ, start_response):
    state = _load()
    path = environ.get("PATH_INFO", "")
    args = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    content_type = "application/json"
    if path == "/search":
        with state["model_lock"]:  # one tokenizer, as the app's encoder lock
            vector = state["model"].encode([args.get("q", "")], normalize_embeddings=True)
        scores, ids = state["index"].search(np.asarray(vector, dtype=np.float32), 10)
        body = json.dumps({"ids": ids[0].tolist(), "scores": scores[0].tolist()})
    elif path == "/suggest":
        i = int(args.get("i", "0")) % len(state["vectors"])
        scores, ids = state["index"].search(state["vectors"][i : i + 1], 5)
        body = json.dumps({"ids": ids[0].tolist(), "scores": scores[0].tolist()})
    elif path == "/page":
        row = _connection().execute("SELECT headline, teaching_text FROM mentor_profile WHERE id = %s",
                                    (int(args.get("id", "1")),)).fetchone()
        content_type = "text/html; charset=utf-8"
        body = f"<h1>{html.escape(row[0])}</h1><p>{html.escape(row[1])}</p>" if row else "<p>none</p>"
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    data = body.encode()
    start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(data)))])
    return [data]
