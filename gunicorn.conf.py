"""Gunicorn settings: the model and index load in each worker after fork, never in the master."""

import os

preload_app = False  # forked torch hangs: every worker imports the app and loads the model itself


def post_worker_init(worker) -> None:
    """Share the cores between the requests served side by side (workers x threads; embeddings.
    set_compute_threads says why), then warm the worker up (model, index) so the first real search does
    not pay the load. With 1 worker x 4 threads on 2 cores every request computes on one thread: on two
    OpenMP threads an exact search over 3,000 vectors took 27 ms a search under load (bench/README.md)."""
    from embeddings import set_compute_threads
    from marketplace.services.matching import vectors

    set_compute_threads((os.cpu_count() or 1) // max(1, worker.cfg.workers * worker.cfg.threads))
    app = worker.wsgi
    with app.app_context():
        vectors.warm_up()
