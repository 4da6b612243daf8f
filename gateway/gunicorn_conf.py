"""gunicorn settings for ``gateway serve``; the command line supplies bind and workers."""

accesslog = None
errorlog = "-"
loglevel = "info"
timeout = 30
graceful_timeout = 20
keepalive = 5
limit_request_line = 8190
limit_request_fields = 100
forwarded_allow_ips = "127.0.0.1"
