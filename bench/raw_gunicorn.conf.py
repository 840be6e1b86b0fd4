"""gunicorn settings of the raw baseline (bench/raw_server.py): none; without this file gunicorn would read
the app's gunicorn.conf.py from the working directory."""
