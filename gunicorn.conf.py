"""Gunicorn settings: the model and index load in each worker after fork, never in the master."""

import os

preload_app = False  # forked torch hangs: every worker imports the app and loads the model itself


def post_worker_init(worker) -> None:
    """Share the cores between workers (embeddings.set_compute_threads says why), then warm the worker
    up (model, index) so the first real search does not pay the load."""
    from embeddings import set_compute_threads
    from marketplace.services import vectors

    set_compute_threads((os.cpu_count() or 1) // max(1, worker.cfg.workers))
    app = worker.wsgi
    with app.app_context():
        vectors.warm_up()
