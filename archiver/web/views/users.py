"""Users (admins): add one with a role and an account limit (the generated password is shown
once), change the role or the limit, disable, reset a password, end a lock-out, revoke a token.
Each change is an audit event the library records under the admin's name.

``/me``: every user's own page, to change their password (re-entering the current one) and to
make and revoke their API tokens (a new token is shown once; only its hash is kept).

A password or token shown once is the answer to the POST that made it, never put in a redirect,
a cookie or an address: it leaves the server once, marked ``no-store``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers.response import Response

from archiver.access.admin import (
    change_limit,
    change_password,
    change_role,
    reset_password,
    set_active,
    unlock_user,
    user_detail,
)
from archiver.access.passwords import MIN_LENGTH, generate_password
from archiver.access.roles import Role, parse_role
from archiver.access.tokens import issue_token, list_tokens, revoke_token
from archiver.access.users import add_user, list_users
from archiver.errors import ArchiverError
from archiver.store.accounts import list_accounts
from archiver.web.desk import archive, now, options, require_role, signed_in
from archiver.web.security import end_session
from archiver.web.views.records_common import every_account, form_ids

users = Blueprint("users", __name__, url_prefix="/users")
me = Blueprint("me", __name__, url_prefix="/me")


def _limit_from_form() -> list[int] | None:
    """The account limit the form asks for: None for every account."""
    return None if request.form.get("scope", "all") == "all" else form_ids("accounts")


def _locked(rows: list[dict[str, Any]]) -> set[str]:
    """The names of the users still locked out now."""
    moment = now()
    return {r["name"] for r in rows
            if r["locked_until"] and datetime.fromisoformat(r["locked_until"]) > moment}


def _accounts() -> dict[int, str]:
    return {a.id: f"{a.platform}: {a.handle}" for a in list_accounts(archive())}


@users.route("")
@require_role(Role.ADMIN)
def index() -> str:
    every_account()
    rows = list_users(archive())
    return render_template("users/index.html", rows=rows, accounts=_accounts(),
                           locked=_locked(rows))


@users.route("/new", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def new() -> str | tuple[str, int]:
    access = every_account()
    name = request.form.get("name", "").strip()
    role = request.form.get("role", str(Role.VIEWER))
    if request.method == "GET":
        return _new_form(name, role, None, None)
    limit: list[int] | None = None
    try:
        limit = _limit_from_form()
        password = generate_password()
        add_user(archive(), name, parse_role(role), password=password, account_ids=limit,
                 actor=access.name)
    except ArchiverError as exc:
        return _new_form(name, role, limit, str(exc)), 400
    return render_template("users/password.html", name=name, password=password, added=True)


def _new_form(name: str, role: str, limit: list[int] | None, error: str | None) -> str:
    return render_template("users/new.html", name=name, role=role, limit=limit, error=error,
                           roles=list(Role), accounts=_accounts())


@users.route("/<name>")
@require_role(Role.ADMIN)
def show(name: str) -> str:
    every_account()
    user = user_detail(archive(), name)
    return render_template("users/show.html", user=user, roles=list(Role),
                           accounts=_accounts(), locked=_locked([user]))


def _done(name: str, message: str) -> Response:
    flash(message, "info")
    return redirect(url_for("users.show", name=name), 303)


@users.route("/<name>/role", methods=["POST"])
@require_role(Role.ADMIN)
def role(name: str) -> Response:
    access = every_account()
    new_role = parse_role(request.form.get("role", ""))
    change_role(archive(), name, new_role, actor=access.name)
    return _done(name, f"{name} is now {new_role.label}.")


@users.route("/<name>/limit", methods=["POST"])
@require_role(Role.ADMIN)
def limit(name: str) -> Response:
    access = every_account()
    account_ids = _limit_from_form()
    change_limit(archive(), name, account_ids, actor=access.name)
    return _done(name, f"{name} now sees "
                       + ("every account." if account_ids is None
                          else f"{len(account_ids)} account(s)."))


@users.route("/<name>/active", methods=["POST"])
@require_role(Role.ADMIN)
def active(name: str) -> Response:
    access = every_account()
    enable = request.form.get("active") == "1"
    set_active(archive(), name, enable, actor=access.name)
    return _done(name, f"{name} is {'enabled' if enable else 'disabled and signed out'}.")


@users.route("/<name>/unlock", methods=["POST"])
@require_role(Role.ADMIN)
def unlock(name: str) -> Response:
    access = every_account()
    unlock_user(archive(), name, actor=access.name)
    return _done(name, f"{name} may sign in again.")


@users.route("/<name>/password", methods=["POST"])
@require_role(Role.ADMIN)
def password(name: str) -> str:
    access = every_account()
    new_password = reset_password(archive(), name, actor=access.name)
    return render_template("users/password.html", name=name, password=new_password,
                           added=False)


@users.route("/<name>/tokens/<int:token_id>/revoke", methods=["POST"])
@require_role(Role.ADMIN)
def revoke(name: str, token_id: int) -> Response:
    access = every_account()
    revoke_token(archive(), token_id, actor=access.name, user_name=name)
    return _done(name, f"Token {token_id} revoked.")


# -- one's own page ---------------------------------------------------------------------------


@me.route("")
@require_role(Role.VIEWER)
def index_me() -> str:
    access = signed_in()
    return render_template("users/me.html", tokens=list_tokens(archive(), access.name),
                           accounts=_accounts(), min_length=MIN_LENGTH, error=None)


@me.route("/password", methods=["POST"])
@require_role(Role.VIEWER)
def change_my_password() -> Response | tuple[str, int]:
    access = signed_in()
    new = request.form.get("new_password", "")
    try:
        if new != request.form.get("repeat_password", ""):
            raise ArchiverError("the new password and its repetition differ")
        change_password(archive(), access, request.form.get("current_password", ""), new,
                        policy=options().lockout)
    except ArchiverError as exc:
        return render_template("users/me.html", tokens=list_tokens(archive(), access.name),
                               accounts=_accounts(), min_length=MIN_LENGTH,
                               error=str(exc)), 400
    end_session()
    return redirect(url_for("me.password_changed"), 303)


@me.route("/password-changed")
def password_changed() -> str:
    """Said after a password change, which ends every session (this one too)."""
    return render_template("users/password_changed.html")


@me.route("/tokens", methods=["POST"])
@require_role(Role.VIEWER)
def new_token() -> str:
    access = signed_in()
    label = request.form.get("label", "").strip() or "API token"
    issued = issue_token(archive(), access.name, label, actor=access.name)
    return render_template("users/token.html", issued=issued)


@me.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@require_role(Role.VIEWER)
def revoke_mine(token_id: int) -> Response:
    access = signed_in()
    revoke_token(archive(), token_id, actor=access.name, user_name=access.name)
    flash(f"Token {token_id} revoked.", "info")
    return redirect(url_for("me.index_me"), 303)
