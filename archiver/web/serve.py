"""Serving the desk with waitress (a production WSGI server, pure Python)."""

from __future__ import annotations

from flask import Flask


def serve(app: Flask, host: str, port: int, *, threads: int = 8) -> None:
    """Serve ``app`` until stopped. Behind a reverse proxy keep ``host`` on loopback; the proxy
    terminates TLS (deploy/nginx-desk.conf)."""
    import waitress

    waitress.serve(app, host=host, port=port, threads=threads, ident="archiver",
                   # Bounds for slow or oversized requests (the proxy bounds them first).
                   channel_timeout=60, max_request_body_size=1024 * 1024,
                   clear_untrusted_proxy_headers=True)
