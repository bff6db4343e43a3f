"""Signing in and out."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers.response import Response

from archiver.access.users import SignInOutcome, sign_in, sign_out
from archiver.web.desk import archive, current_access, now, options
from archiver.web.security import (
    SignInThrottle,
    client_address,
    end_session,
    local_path,
    start_session,
)

auth = Blueprint("auth", __name__)


def _throttle() -> SignInThrottle:
    from flask import current_app

    found: SignInThrottle = current_app.extensions["archiver.throttle"]
    return found


@auth.route("/sign-in", methods=["GET", "POST"], endpoint="sign_in")
def sign_in_page() -> Response | tuple[str, int] | str:
    """The sign-in form; after signing in, back to where the user was going (a local path)."""
    target = local_path(request.values.get("next"), url_for("dashboard.index"))
    if request.method == "GET":
        if current_access() is not None:
            return redirect(target)
        return render_template("sign_in.html", next=target, message=None, name="")
    name = request.form.get("name", "").strip()
    password = request.form.get("password", "")
    if not _throttle().allow(client_address(), now()):
        return render_template("sign_in.html", next=target, name=name,
                               message="Too many sign-in attempts from here; wait a few "
                                       "minutes."), 429
    result = sign_in(archive(), name, password, policy=options().lockout,
                     source=client_address())
    if result.outcome is SignInOutcome.SIGNED_IN and result.access is not None:
        start_session(result.access)
        return redirect(target)
    message = ("This user is locked after too many wrong passwords; try again later."
               if result.outcome is SignInOutcome.LOCKED else "Wrong name or password.")
    return render_template("sign_in.html", next=target, name=name, message=message), 401


@auth.route("/sign-out", methods=["POST"], endpoint="sign_out")
def sign_out_page() -> Response:
    """Sign out (a form POST with its CSRF token, so no other site can sign anyone out)."""
    access = current_access()
    if access is not None:
        sign_out(archive(), access)
    end_session()
    return redirect(url_for("auth.sign_in"))
