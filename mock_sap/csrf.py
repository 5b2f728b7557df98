"""Gateway-style CSRF protection: tokens fetched with `X-CSRF-Token: Fetch`, bound to the session cookie."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass


@dataclass
class Session:
    session_id: str
    user: str
    token: str | None = None


class CsrfGuard:
    """Sessions (cookie `SAP_SESSIONID_<SID>_<client>`) and their CSRF tokens."""

    def __init__(self, system_id: str, client: str) -> None:
        self.session_cookie = f"SAP_SESSIONID_{system_id}_{client}"
        self.xsrf_cookie = f"sap-XSRF_{system_id}_{client}"
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def session(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        with self._lock:
            return self._sessions.get(session_id)

    def open_session(self, user: str, session_id: str | None) -> Session:
        """The caller's session if its cookie is valid for this user, else a new one."""
        with self._lock:
            current = self._sessions.get(session_id or "")
            if current is not None and current.user == user:
                return current
            created = Session(secrets.token_urlsafe(32), user)
            self._sessions[created.session_id] = created
            return created

    def fetch(self, session: Session) -> str:
        """The session's token (stable within the session, like Gateway's)."""
        with self._lock:
            if session.token is None:
                session.token = secrets.token_urlsafe(18) + "=="
            return session.token

    def valid(self, token: str | None, session_id: str | None, user: str) -> bool:
        if not token or token.lower() == "fetch":
            return False
        session = self.session(session_id)
        return (
            session is not None
            and session.user == user
            and session.token is not None
            and secrets.compare_digest(session.token, token)
        )

    def expire_all(self) -> None:
        """Invalidate every issued token (the `csrf_expire` fault); sessions stay logged on."""
        with self._lock:
            for session in self._sessions.values():
                session.token = None

    def reset(self) -> None:
        with self._lock:
            self._sessions.clear()
