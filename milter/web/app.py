"""The review page: a Starlette app over one quarantine store, server-rendered.

Every page needs a login; every POST needs the session's CSRF token; release, report
and delete need the reviewer role. Who did what is logged (logger ``scam_milter.web``) and,
for releases and deletions, recorded in the entry's history as ``web:NAME``.

The store is synchronous (files and SQLite): its calls run in Starlette's thread pool,
so one slow disk does not stall every other request. The login limiter is only touched
from the event loop, so it needs no lock.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from milter.config import Config
from milter.errors import QuarantineError
from milter.mail.display import utc_text
from milter.quarantine.store import EntryStateError, NoSuchEntry, QuarantineStore, is_valid_id
from milter.smtp.params import valid_mailbox
from milter.web.accounts import DUMMY_HASH, AccountError, User, UsersFile, verify_password
from milter.web.forms import PAGE_SIZE, FormError, list_query, parse_form
from milter.web.headers import SecurityHeaders
from milter.web.message import message_page, shown
from milter.web.ratelimit import LoginLimiter
from milter.web.sessions import (
    COOKIE,
    LIFETIME_SECONDS,
    Session,
    Signer,
    csrf_ok,
    key_path,
    load_or_create_key,
    new_session,
)
from milter.web.stats import MAX_BARS, chart, held_counts

log = logging.getLogger("scam_milter.web")


@dataclass(frozen=True)
class WebSettings:
    """What ``scam-milter web`` serves: which store, which accounts, where releases go."""

    quarantine_dir: Path
    users_file: Path
    config: Config = field(default_factory=Config)
    next_hop: tuple[str, int] | None = None  # None: the config's


class HttpError(Exception):
    """Ends a request with an error page: ``status`` and a one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Visitor:
    """Who sent the request: their session (maybe anonymous) and, if logged in, user."""

    session: Session
    user: User | None
    fresh: bool  # the session was made now and must be sent as a cookie


def _templates() -> jinja2.Environment:
    # Autoescape everywhere, whatever the file name: every page shows sender text.
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("milter.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["utc"] = lambda moment: "" if moment is None else utc_text(moment)
    env.filters["shown"] = shown
    return env


class ReviewApp:
    """The routes and what they share: store, accounts, signer, limiter, templates."""

    def __init__(
        self,
        settings: WebSettings,
        *,
        limiter: LoginLimiter | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.users = UsersFile(settings.users_file)
        self.users.load()  # at start: a missing or open users file is a clear error now
        self.signer = Signer(load_or_create_key(key_path(settings.users_file)))
        self.limiter = limiter or LoginLimiter()
        self.clock = clock
        self.templates = _templates()
        self.css = resources.files("milter.web").joinpath("static/style.css").read_bytes()
        # create=False: a mistyped --quarantine-dir is an error, not a new empty store.
        self.store = QuarantineStore(settings.quarantine_dir, create=False, full_sync=False)

    # --- plumbing --------------------------------------------------------------------------

    def now(self) -> int:
        return int(self.clock())

    def visitor(self, request: Request) -> Visitor:
        session = self.signer.load(request.cookies.get(COOKIE, ""), self.now())
        if session is None:
            return Visitor(new_session(None, "", self.now()), None, fresh=True)
        if session.user is None:
            return Visitor(session, None, fresh=False)
        user = self.users.load(missing_ok=True).get(session.user)
        if user is None or self.signer.fingerprint(user.password_hash) != session.fingerprint:
            # Deleted, or the password changed: every old session of theirs ends.
            return Visitor(new_session(None, "", self.now()), None, fresh=True)
        return Visitor(session, user, fresh=False)

    def set_cookie(self, request: Request, response: Response, session: Session) -> None:
        response.set_cookie(
            COOKIE,
            self.signer.dump(session),
            max_age=LIFETIME_SECONDS,
            path="/",
            httponly=True,
            samesite="strict",
            # Behind the TLS proxy (docs/web.md) the scheme comes from X-Forwarded-Proto.
            secure=request.url.scheme == "https",
        )

    def page(
        self,
        request: Request,
        visitor: Visitor,
        template: str,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        html = self.templates.get_template(template).render(
            user=visitor.user, csrf=visitor.session.csrf, **context
        )
        response = HTMLResponse(html, status_code=status)
        if visitor.fresh:
            self.set_cookie(request, response, visitor.session)
        return response

    async def form(self, request: Request, visitor: Visitor) -> dict[str, str]:
        """The POST body, after its CSRF token was checked against the session."""
        try:
            length = int(request.headers.get("content-length", "0"))
        except ValueError:
            length = 0
        try:
            if length > 16 * 1024:
                raise FormError("too large")
            form = parse_form(await request.body())
        except FormError:
            raise HttpError(400, "This is not a form of this site.") from None
        if visitor.fresh or not csrf_ok(visitor.session, form.get("csrf")):
            raise HttpError(403, "The form's security token is missing or wrong; reload the page.")
        return form

    def logged_in(self, visitor: Visitor) -> User:
        if visitor.user is None:
            raise _LoginNeeded()
        return visitor.user

    def reviewer(self, visitor: Visitor, what: str) -> User:
        user = self.logged_in(visitor)
        if not user.role.can_act:
            log.warning("web: %s (viewer) refused: %s", user.name, what)
            raise HttpError(403, f"Your role ({user.role.value}) may not {what}.")
        return user

    def route(
        self, handler: Callable[[Request, Visitor], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """``handler`` with the visitor found and errors turned into pages."""

        async def endpoint(request: Request) -> Response:
            visitor = Visitor(new_session(None, "", self.now()), None, fresh=True)
            try:
                visitor = self.visitor(request)
                return await handler(request, visitor)
            except _LoginNeeded:
                return RedirectResponse("/login", status_code=303)
            except HttpError as exc:
                return self.page(request, visitor, "error.html", exc.status, message=exc.message)
            except (AccountError, QuarantineError) as exc:
                # The users file or the store cannot be used now (permissions changed,
                # an altered message, a locked index): say so in one line, log it.
                log.error("web: %s", exc)
                return self.page(request, visitor, "error.html", 503, message=str(exc))

        return endpoint

    # --- login and logout ------------------------------------------------------------------

    async def login_page(self, request: Request, visitor: Visitor) -> Response:
        if visitor.user is not None:
            return RedirectResponse("/messages", status_code=303)
        return self.page(request, visitor, "login.html", error=None, name="")

    async def login(self, request: Request, visitor: Visitor) -> Response:
        form = await self.form(request, visitor)
        name = form.get("user", "")[:64]
        password = form.get("password", "")
        address = request.client.host if request.client else "unknown"
        if self.limiter.blocked(address, name):
            log.warning("web: login of %r from %s refused: too many failures", name, address)
            return self.page(
                request,
                visitor,
                "login.html",
                429,
                error="Too many failed logins; wait a few minutes.",
                name=name,
            )
        user = self.users.load().get(name)
        stored = user.password_hash if user else DUMMY_HASH
        good = await run_in_threadpool(verify_password, password, stored)
        if user is None or not good:
            self.limiter.failed(address, name)
            log.warning("web: failed login as %r from %s", shown(name), address)
            return self.page(
                request,
                visitor,
                "login.html",
                401,
                error="Wrong user name or password.",
                name=name,
            )
        log.info("web: %s logged in from %s", user.name, address)
        session = new_session(user.name, self.signer.fingerprint(user.password_hash), self.now())
        response = RedirectResponse("/messages", status_code=303)
        self.set_cookie(request, response, session)
        return response

    async def logout(self, request: Request, visitor: Visitor) -> Response:
        await self.form(request, visitor)
        if visitor.user is not None:
            log.info("web: %s logged out", visitor.user.name)
        response = RedirectResponse("/login", status_code=303)
        self.set_cookie(request, response, new_session(None, "", self.now()))
        return response

    # --- pages -----------------------------------------------------------------------------

    async def home(self, request: Request, visitor: Visitor) -> Response:
        return RedirectResponse("/messages", status_code=303)

    async def css_file(self, request: Request) -> Response:
        return Response(self.css, media_type="text/css")

    async def no_icon(self, request: Request) -> Response:
        # Browsers ask on every visit; "no content" keeps 404s out of the access log.
        return Response(status_code=204)

    async def messages(self, request: Request, visitor: Visitor) -> Response:
        user = self.logged_in(visitor)
        query = list_query(request.query_params, datetime.now(UTC))
        found = await run_in_threadpool(
            self.store.entries,
            since=query.since,
            until=query.until,
            rule=query.rule,
            sender=query.sender,
            rcpt=query.rcpt,
            status=query.status,
        )
        stats = await run_in_threadpool(self.store.stats)
        pages = max(1, -(-len(found) // PAGE_SIZE))
        page = min(query.page, pages)
        shown_entries = found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        log.debug("web: %s listed %d entries", user.name, len(found))
        return self.page(
            request,
            visitor,
            "list.html",
            query=query,
            entries=shown_entries,
            matched=len(found),
            page=page,
            pages=pages,
            stats=stats,
            statuses=("held", "released", "deleted", "expired"),
        )

    async def _record(self, entry_id: str) -> Any:
        if not is_valid_id(entry_id):
            raise HttpError(404, "There is no quarantined message with this id.")
        try:
            return await run_in_threadpool(self.store.record, entry_id)
        except NoSuchEntry:
            raise HttpError(404, "There is no quarantined message with this id.") from None

    async def message(self, request: Request, visitor: Visitor) -> Response:
        user = self.logged_in(visitor)
        entry_id = request.path_params["id"]
        record = await self._record(entry_id)
        raw = None
        if record.entry.status.has_message:
            with contextlib.suppress(EntryStateError):  # deleted meanwhile: show the record
                raw = await run_in_threadpool(self.store.raw, entry_id, record)
        content = await run_in_threadpool(message_page, record, raw)
        log.info("web: %s viewed %s", user.name, entry_id)
        done = request.query_params.get("done")
        return self.page(
            request,
            visitor,
            "message.html",
            m=content,
            entry=record.entry,
            done=done if done in ("released", "reported") else None,
            report_to=self.settings.config.report.to,
        )

    async def raw(self, request: Request, visitor: Visitor) -> Response:
        user = self.logged_in(visitor)
        entry_id = request.path_params["id"]
        record = await self._record(entry_id)
        try:
            data = await run_in_threadpool(self.store.raw, entry_id, record)
        except EntryStateError as exc:
            raise HttpError(410, str(exc)) from None
        log.info("web: %s downloaded %s", user.name, entry_id)
        return Response(
            data,
            media_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{entry_id}.eml"'},
        )

    async def stats(self, request: Request, visitor: Visitor) -> Response:
        self.logged_in(visitor)
        days = request.query_params.get("days", "30")
        period = int(days) if days.isdigit() and 0 < int(days) <= 3660 else 30
        since = datetime.now(UTC) - timedelta(days=period)
        found = await run_in_threadpool(self.store.entries, since=since)
        counts = held_counts(found)
        charts = (
            chart("Held per day (UTC)", counts.per_day[-MAX_BARS:], keep_order=True),
            chart("Per rule", counts.per_rule),
            chart("Per sender domain", counts.per_domain),
        )
        return self.page(request, visitor, "stats.html", counts=counts, charts=charts, days=period)

    # --- actions ---------------------------------------------------------------------------

    async def release(self, request: Request, visitor: Visitor) -> Response:
        form = await self.form(request, visitor)
        user = self.reviewer(visitor, "release messages")
        entry_id = request.path_params["id"]
        await self._record(entry_id)
        to = [a for a in form.get("to", "").replace(",", " ").split() if a]
        for address in to:
            if not valid_mailbox(address):
                raise HttpError(400, f"Not a mail address: {shown(address)[:80]}")
        # Imported here: only a release needs the relay.
        from milter.quarantine.release import ReleaseError, Releaser

        settings = self.settings
        try:
            async with Releaser(
                settings.config, next_hop=settings.next_hop, to=to or None
            ) as releaser:
                released = await releaser.release(self.store, entry_id, user=f"web:{user.name}")
        except (ReleaseError, EntryStateError) as exc:
            log.warning("web: %s could not release %s: %s", user.name, entry_id, exc)
            raise HttpError(409, str(exc)) from None
        log.info(
            "web: %s released %s to %s via %s: %s",
            user.name,
            entry_id,
            ", ".join(released.recipients),
            released.hop,
            released.reply,
        )
        return RedirectResponse(f"/messages/{entry_id}?done=released", status_code=303)

    async def report(self, request: Request, visitor: Visitor) -> Response:
        """Forward the message to the reporting desk (milter/quarantine/report.py), once."""
        await self.form(request, visitor)
        user = self.reviewer(visitor, "report messages")
        entry_id = request.path_params["id"]
        await self._record(entry_id)
        from milter.quarantine.report import Reporter, ReportError

        settings = self.settings
        try:
            async with Reporter(settings.config, next_hop=settings.next_hop) as reporter:
                reported = await reporter.report(self.store, entry_id, user=f"web:{user.name}")
        except (ReportError, EntryStateError) as exc:
            log.warning("web: %s could not report %s: %s", user.name, entry_id, exc)
            raise HttpError(409, str(exc)) from None
        log.info(
            "web: %s reported %s to %s via %s: %s",
            user.name,
            entry_id,
            reported.to,
            reported.hop,
            reported.reply,
        )
        return RedirectResponse(f"/messages/{entry_id}?done=reported", status_code=303)

    async def delete(self, request: Request, visitor: Visitor) -> Response:
        await self.form(request, visitor)
        user = self.reviewer(visitor, "delete messages")
        entry_id = request.path_params["id"]
        await self._record(entry_id)
        try:
            await run_in_threadpool(self.store.delete, entry_id, user=f"web:{user.name}")
        except EntryStateError as exc:
            raise HttpError(409, str(exc)) from None
        log.info("web: %s deleted %s", user.name, entry_id)
        return RedirectResponse("/messages", status_code=303)

    # --- the app ---------------------------------------------------------------------------

    def starlette(self) -> Starlette:
        r = self.route

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            try:
                yield
            finally:
                self.store.close()

        routes = [
            Route("/", r(self.home)),
            Route("/static/style.css", self.css_file),
            Route("/favicon.ico", self.no_icon),
            Route("/login", r(self.login_page), methods=["GET"]),
            Route("/login", r(self.login), methods=["POST"]),
            Route("/logout", r(self.logout), methods=["POST"]),
            Route("/messages", r(self.messages)),
            Route("/messages/{id}", r(self.message)),
            Route("/messages/{id}/raw", r(self.raw)),
            Route("/messages/{id}/release", r(self.release), methods=["POST"]),
            Route("/messages/{id}/report", r(self.report), methods=["POST"]),
            Route("/messages/{id}/delete", r(self.delete), methods=["POST"]),
            Route("/stats", r(self.stats)),
        ]
        return Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)], lifespan=lifespan)


class _LoginNeeded(Exception):
    """Not logged in: the route answers with a redirect to the login page."""


def create_app(
    settings: WebSettings,
    *,
    limiter: LoginLimiter | None = None,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """The review app. Raises AccountError or QuarantineError when it cannot start."""
    return ReviewApp(settings, limiter=limiter, clock=clock).starlette()


__all__ = ["HttpError", "ReviewApp", "WebSettings", "create_app"]
