"""gunicorn settings for ``gateway serve``; the command line supplies bind and workers. Threads let a
worker call the gateway itself (the demo IdP's token endpoint during a demo sign-in) without deadlock."""

accesslog = None
errorlog = "-"
loglevel = "info"
timeout = 30
graceful_timeout = 20
keepalive = 5
limit_request_line = 8190
limit_request_fields = 100
forwarded_allow_ips = "127.0.0.1"
threads = 4  # overridden by `gateway serve --threads` from the settings
reuse_port = True
"""Each worker listens on a socket of its own (``SO_REUSEPORT``) and the kernel spreads new connections over
them. On one shared socket, an identity provider's few keep-alive connections were all accepted by one worker:
during a sync, one worker ran at 94% of a core while the three others idled."""


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    """A worker is gone: drop its live gauges from the shared metrics directory (PROMETHEUS_MULTIPROC_DIR)."""
    from gateway.metrics import child_exit as forget

    forget(worker.pid)
