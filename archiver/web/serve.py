"""Serving the desk with waitress (a production WSGI server, pure Python)."""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType

from flask import Flask

from archiver.errors import ArchiverError


def serve(app: Flask, host: str, port: int, *, threads: int = 8,
          listening: Callable[[str], None] | None = None) -> None:
    """Serve ``app`` until Ctrl-C or SIGTERM, then return. ``port`` 0 takes a free port;
    ``listening`` is told the address once the socket is bound (so a free port can be named).
    Behind a reverse proxy keep ``host`` on loopback; the proxy terminates TLS
    (deploy/nginx-desk.conf)."""
    from waitress.server import create_server

    try:
        server = create_server(
            app, host=host, port=port, threads=threads, ident="archiver",
            # Bounds for slow or oversized requests (the proxy bounds them first).
            channel_timeout=60, max_request_body_size=1024 * 1024,
            clear_untrusted_proxy_headers=True)
    except OSError as exc:
        raise ArchiverError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
    if listening is not None:
        listening(f"http://{server.effective_host}:{server.effective_port}/")
    # systemd and test harnesses stop a service with SIGTERM: end it like Ctrl-C (waitress
    # finishes its tasks) so the caller's clean-up runs and the exit status is 0.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.close()


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt
