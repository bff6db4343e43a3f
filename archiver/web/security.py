"""The desk's defences that are not a page: headers on every answer, session expiry, the
sign-in throttle per client address, safe redirects, and media served as downloads."""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from flask import Response, request, send_file, session

from archiver.access.users import Access
from archiver.web.desk import now, options

# No inline script or style anywhere: every script and style sheet is a file under /static/.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "media-src 'self'; font-src 'self'; connect-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
# A downloaded file opened in the browser anyway (a direct visit) runs nothing and loads
# nothing: an SVG or HTML file from a comment stays inert.
MEDIA_CSP = "default-src 'none'; sandbox"


def add_headers(response: Response) -> Response:
    """Headers every answer carries (see OWASP's HTTP headers cheat sheet,
    https://cheatsheetseries.owasp.org/cheatsheets/HTTP_Headers_Cheat_Sheet.html)."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "same-origin"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
    if request.endpoint != "static":
        # Records are not for shared caches or the back button of the next person at the desk.
        headers["Cache-Control"] = "no-store"
    return response


# -- sessions -----------------------------------------------------------------------------------

_USER = "user_id"
_EPOCH = "epoch"
_SIGNED_IN = "signed_in_at"
_SEEN = "seen_at"


def start_session(access: Access) -> None:
    """A fresh session for a user who just signed in (nothing of the old one is kept)."""
    session.clear()
    moment = now().isoformat()
    session[_USER] = access.user_id
    session[_EPOCH] = access.session_epoch
    session[_SIGNED_IN] = moment
    session[_SEEN] = moment
    session.permanent = True


def end_session() -> None:
    session.clear()


def session_user() -> tuple[int, int] | None:
    """The user id and session epoch of a live session; an expired one (idle or absolute) or a
    malformed one is cleared and gives None."""
    if _USER not in session:
        return None
    try:
        user_id = int(session[_USER])
        epoch = int(session[_EPOCH])
        signed_in_at = datetime.fromisoformat(session[_SIGNED_IN])
        seen_at = datetime.fromisoformat(session[_SEEN])
    except (KeyError, TypeError, ValueError):
        session.clear()
        return None
    moment = now()
    opts = options()
    if moment - signed_in_at > opts.absolute_timeout or moment - seen_at > opts.idle_timeout:
        session.clear()
        return None
    session[_SEEN] = moment.isoformat()
    return user_id, epoch


# -- sign-in attempts per client address ------------------------------------------------------


class SignInThrottle:
    """At most ``limit`` sign-in attempts per client address in any ``window``: guessing is
    slowed for every name at once, on top of each user's lock-out. Held by the app (one per
    process; behind the proxy the address is the proxy's unless ProxyFix is configured)."""

    def __init__(self, limit: int, window: timedelta) -> None:
        self._limit = limit
        self._window = window
        self._attempts: dict[str, deque[datetime]] = {}
        self._guard = threading.Lock()

    def allow(self, address: str, moment: datetime) -> bool:
        """Count an attempt from ``address``; False when it is one too many."""
        with self._guard:
            recent = self._attempts.setdefault(address, deque())
            while recent and moment - recent[0] > self._window:
                recent.popleft()
            if len(recent) >= self._limit:
                return False
            recent.append(moment)
            if len(self._attempts) > 10_000:  # forget idle addresses; bounded memory
                for key in [k for k, v in self._attempts.items() if not v]:
                    del self._attempts[key]
            return True


# -- redirects and downloads ------------------------------------------------------------------


def local_path(target: str | None, default: str) -> str:
    """``target`` if it is a path on this site (``/search?q=x``), else ``default``: after
    sign-in the desk never sends anyone to another site (``//evil``, ``https://evil``,
    ``/\\evil``, ``javascript:``)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(c in target for c in "\\\r\n\t") or any(ord(c) < 32 for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


# Types a browser may show inline in <img>: raster images only. Everything else (SVG, HTML,
# video, unknown bytes) is sent as opaque bytes.
INLINE_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp",
                                "image/bmp"})


def attachment(data: bytes, file_name: str, media_type: str | None) -> Response:
    """Bytes from the archive as a download: ``Content-Disposition: attachment``, ``nosniff``,
    a sandboxing CSP, and a raster image type or ``application/octet-stream``."""
    return _as_download(Response(data, mimetype=_shown_type(media_type)), file_name)


def attachment_file(path: Path, file_name: str, media_type: str | None) -> Response:
    """A file the archive wrote (a package, a production) as :func:`attachment` sends bytes,
    streamed from disk rather than read into memory."""
    response = send_file(path, mimetype=_shown_type(media_type), conditional=False, etag=False,
                         max_age=0)
    return _as_download(response, file_name)


def _shown_type(media_type: str | None) -> str:
    return media_type if media_type in INLINE_IMAGE_TYPES else "application/octet-stream"


def _as_download(response: Response, file_name: str) -> Response:
    response.headers["Content-Disposition"] = f'attachment; filename="{file_name}"'
    response.headers["Content-Security-Policy"] = MEDIA_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def client_address() -> str:
    return request.remote_addr or "unknown"


