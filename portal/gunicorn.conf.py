"""gunicorn in production: `gunicorn -c portal/gunicorn.conf.py portal.wsgi --bind …`.

Options on the command line (or in GUNICORN_CMD_ARGS) override these. gunicorn answers its own
refusals (414, 431, a worker killed at `timeout`) with HTML pages, so its limits sit above every
request our clients send: a URL of 8 KB, headers and cookies of 16 KB each, a JSON body of
64 KB (gunicorn caps no body; the portal answers 413 above DATA_UPLOAD_MAX_MEMORY_SIZE). A proxy
in front refuses sooner and answers problem+json itself (README, "Errors: problem+json").
"""

# Threads: a long request or a slow client holds one thread, not a whole process.
worker_class = "gthread"
threads = 4

# The request line (method, path, query string): 8190 is the most gunicorn allows short of
# unlimited, room for an 8 KB URL.
limit_request_line = 8190
# Each header line (one Cookie line carries every cookie), and how many there may be.
limit_request_field_size = 20480
limit_request_fields = 100

# The master kills a worker whose heartbeat stops for this long. A gthread worker beats from
# its main loop, so only a wedged process gets here, never a long request; with `-k sync` it
# bounds every request, so it stays well above the longest legitimate one (renders are capped
# by the sandbox, exports stream). What a caller waits is bounded by the proxy's read timeout.
timeout = 120
# A restart lets requests in flight finish.
graceful_timeout = 30
# Longer than the proxy keeps an idle upstream connection (nginx: `keepalive_timeout` in the
# upstream block), so the proxy never sends a request down a connection gunicorn is closing.
keepalive = 15
