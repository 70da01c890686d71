"""gunicorn settings shared by the Procfile's ``web:`` line and ``logbook serve``.

The application object is built lazily in each worker (see ``api.extension``),
so nothing that holds a database connection is made before the fork.
"""

import os

bind = [f"0.0.0.0:{os.environ['PORT']}"] if os.environ.get("PORT") else ["127.0.0.1:8000"]
workers = int(os.environ.get("WEB_CONCURRENCY") or 2)
# Threads let one worker serve several requests at once, and write the contacts
# that arrive together in one transaction (logbook.group_commit).
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS") or 4)
timeout = 30
graceful_timeout = 20
accesslog = "-"
# Paths carry only pseudonymous UUIDs; refs and notes travel in bodies, which are never logged.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
# gunicorn 24+ opens a control socket at one fixed path per user; several
# instances (tests, benchmarks, a second site) would fight over it.
control_socket_disable = True
