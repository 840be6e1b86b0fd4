"""Gunicorn settings: the model and index load in each worker after fork, never in the master."""

preload_app = False  # forked torch hangs: every worker imports the app and loads the model itself


def post_worker_init(worker) -> None:
    """Warm the worker up (model, index) so the first real search does not pay the load."""
    from marketplace.services import vectors

    app = worker.wsgi
    with app.app_context():
        vectors.warm_up()
