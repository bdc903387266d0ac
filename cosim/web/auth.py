"""Who may see the live view: the holder of the server's token.

As with the gRPC services, one token guards everything.  The URL printed
at start carries it (``/?token=...``); the page keeps it in an HTTP-only,
same-site cookie, so links within the view need no token.  A request
without it is answered 403 with a page saying what to open instead; the
web socket is checked the same way, and Bokeh's session ids are signed with
a per-process secret, so a session cannot be opened without the page.
"""

from __future__ import annotations

import hmac
import secrets

from bokeh.server.auth_provider import AuthProvider
from tornado.web import RequestHandler

__all__ = ["REFUSED_PATH", "TokenAuth", "new_token"]

REFUSED_PATH = "/refused"
REFUSED_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>cosim: access refused</title></head>
<body style="font-family: sans-serif; margin: 2em">
<h1>cosim live view: access refused</h1>
<p>This view needs the server's token. Open the address the server printed when it
started (it ends in <code>?token=...</code>), or add <code>?token=</code> and the token
given to <code>cosim serve --token</code> or <code>--token-file</code>.</p>
</body></html>
"""


def new_token() -> str:
    """A random token for a server started without one."""
    return secrets.token_urlsafe(24)


class _Refused(RequestHandler):
    def get(self) -> None:
        self.set_status(403)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(REFUSED_PAGE)


class TokenAuth(AuthProvider):
    """A Bokeh auth provider that admits requests carrying ``token`` (as the
    ``token`` query argument, then as the cookie ``cookie``, marked ``secure``
    when the page is served over HTTPS)."""

    def __init__(self, token: str, cookie: str, *, secure: bool = False):
        self._expected = token.encode()
        self.cookie_name = cookie
        self.secure = secure            # HTTPS: the cookie is never sent in clear
        super().__init__()

    def accepts(self, token: str | None) -> bool:
        """Whether ``token`` is the server's (compared in constant time)."""
        return token is not None and hmac.compare_digest(token.encode(), self._expected)

    def _user(self, handler: RequestHandler) -> str | None:
        given = handler.get_argument("token", None)
        if self.accepts(given):
            if not hasattr(handler, "ws_connection"):     # a page, not the web socket
                handler.set_cookie(self.cookie_name, given or "", httponly=True, samesite="Strict",
                                   secure=self.secure)
            return "token"
        if self.accepts(handler.get_cookie(self.cookie_name)):
            return "token"
        return None

    @property
    def get_user(self):
        return self._user

    @property
    def login_url(self) -> str:
        return REFUSED_PATH

    @property
    def login_handler(self):
        return _Refused
