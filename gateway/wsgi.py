"""WSGI entry point for gunicorn: ``gateway.wsgi:app``."""

import atexit

from gateway.app import create_app

app = create_app()
# A worker that stops writes the SCIM read-log entries still waiting in it (``gateway.services.scim_log``).
atexit.register(app.extensions["gateway.services"].scim_log.write_reads)
