"""``create_app``: the desk's Flask application over one open archive."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Flask, Response, g, jsonify, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers.response import Response as BaseResponse

from archiver.access.users import current_access as access_now
from archiver.config import Settings
from archiver.errors import ArchiverError, NotFound, QueryError
from archiver.exports.business_days import HolidayCalendar, load_calendar
from archiver.jobs.runner import JobRunner
from archiver.store.archive import Archive, open_archive, utc_now
from archiver.web import filters
from archiver.web.background import attach_runner
from archiver.web.desk import _ARCHIVE, _CALENDAR, _OPTIONS, current_access, is_api
from archiver.web.navigation import navigation
from archiver.web.options import WebOptions
from archiver.web.security import SignInThrottle, add_headers, end_session, session_user
from archiver.web.views import BLUEPRINTS
from archiver.web.views.api import bearer_access


def create_app(
    settings: Settings,
    *,
    options: WebOptions,
    clock: Callable[[], datetime] = utc_now,
    archive: Archive | None = None,
    calendar: HolidayCalendar | None = None,
    run_jobs: bool = False,
) -> Flask:
    """The desk for the archive ``settings`` describe (or an already open ``archive``, which
    the caller then closes). ``clock`` is the archive's clock when the desk opens it;
    ``calendar`` the agency's holidays for request due dates (default: U.S. federal).
    ``run_jobs`` starts a runner for background jobs in this process
    (:func:`archiver.web.background.stop_runner` stops it)."""
    app = Flask(__name__)
    opened = archive if archive is not None else open_archive(settings, clock=clock)
    # Opened now, on one thread, rather than by whichever request comes first.
    opened.index  # noqa: B018
    app.config.update(
        SECRET_KEY=options.secret_key,
        SESSION_COOKIE_NAME="archiver_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=options.secure_cookies,
        PERMANENT_SESSION_LIFETIME=options.absolute_timeout,
        # The session's own times decide expiry; the cookie need not be rewritten each time.
        SESSION_REFRESH_EACH_REQUEST=False,
        WTF_CSRF_TIME_LIMIT=int(options.absolute_timeout.total_seconds()),
        WTF_CSRF_SSL_STRICT=options.secure_cookies,
        MAX_CONTENT_LENGTH=1024 * 1024,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.extensions[_ARCHIVE] = opened
    app.extensions[_OPTIONS] = options
    app.extensions[_CALENDAR] = calendar if calendar is not None else load_calendar(None)
    app.extensions["archiver.throttle"] = SignInThrottle(options.attempts_per_address,
                                                         options.attempt_window)
    csrf = CSRFProtect(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
        if is_api(blueprint.name):
            # Bearer tokens only, never the session cookie: no cross-site request can carry one.
            csrf.exempt(blueprint)
    filters.register(app)

    @app.before_request
    def who_is_asking() -> BaseResponse | None:
        g.access = None
        if is_api(request.blueprint):
            g.access = bearer_access()
            return None
        found = session_user()
        if found is not None:
            g.access = access_now(opened, found[0], session_epoch=found[1])
            if g.access is None:
                end_session()
        return None

    @app.context_processor
    def layout_values() -> dict[str, Any]:
        access = current_access()
        return {"access": access, "navigation": navigation(access),
                "agency": settings.agency_name, "tz_name": settings.timezone}

    app.after_request(add_headers)
    _error_pages(app)
    if run_jobs:
        attach_runner(app, JobRunner(opened).start())
    return app


def _error_pages(app: Flask) -> None:
    def wants_json() -> bool:
        return is_api(request.blueprint)

    def page(status: int, title: str, message: str) -> tuple[Response | str, int]:
        if wants_json():
            return jsonify({"error": title, "message": message}), status
        return render_template("error.html", title=title, message=message), status

    @app.errorhandler(401)
    def unauthorised(_exc: HTTPException) -> Any:
        if wants_json():
            response, status = page(401, "sign-in required", "")
            assert isinstance(response, Response)
            response.headers["WWW-Authenticate"] = 'Bearer realm="archiver"'
            return response, status
        return redirect(url_for("auth.sign_in", next=request.full_path.rstrip("?")))

    @app.errorhandler(403)
    def forbidden(_exc: HTTPException) -> Any:
        return page(403, "not allowed", "Your role does not allow this page.")

    @app.errorhandler(404)
    def missing(_exc: HTTPException) -> Any:
        return page(404, "not found", "There is nothing here, or nothing you may see.")

    @app.errorhandler(NotFound)
    def not_found(_exc: NotFound) -> Any:
        return page(404, "not found", "There is nothing here, or nothing you may see.")

    @app.errorhandler(CSRFError)
    def csrf_refused(exc: CSRFError) -> Any:
        return page(400, "form refused",
                    "The form had expired or did not come from this desk; open it again.")

    @app.errorhandler(QueryError)
    def bad_query(exc: QueryError) -> Any:
        return page(400, "query not understood", str(exc))

    @app.errorhandler(ArchiverError)
    def refused(exc: ArchiverError) -> Any:
        return page(400, "refused", str(exc))
