"""oauth2cc for the ``requests`` library: :class:`BearerAuth` puts a client's token on every
request and recovers from one 401.

    import requests
    import oauth2cc
    from oauth2cc.requests import BearerAuth

    config = oauth2cc.Config(client_id, client_secret,
                             token_url="https://login.example.com/oauth2/token")
    with oauth2cc.Client(config) as client:
        session = requests.Session()
        session.auth = BearerAuth(client)
        me = session.get("https://api.example.com/v1/me").json()

``requests`` is not a dependency of oauth2cc: install it yourself (``pip install requests``);
importing this module without it raises ImportError.
"""

from __future__ import annotations

from typing import Any, Optional

import requests
import requests.auth
from requests.cookies import extract_cookies_to_jar

from . import Client

__all__ = ["BearerAuth"]


class BearerAuth(requests.auth.AuthBase):
    """``auth=BearerAuth(client)`` for ``requests``: each request gets
    ``Authorization: Bearer <token>`` from ``client.token()`` (the cached token, refreshed
    once for all threads when it is about to expire).

    When the server answers 401, the token it refused is invalidated (unless another thread
    has already replaced it), a fresh one is fetched and the request is sent once more; the
    401 is then in ``response.history``. A second 401 is returned as it is. A request whose
    body is a file-like stream is resent only if the stream can seek back to where it
    started; one whose body is a generator or other iterator is not resent: the 401 is
    returned.

    One BearerAuth may be shared by threads and sessions, as the client may. Token failures
    raise the oauth2cc exceptions (e.g. :class:`oauth2cc.BadRequestError`) from the request
    call.
    """

    def __init__(self, client: Client) -> None:
        self.client = client

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self.client.token().header()
        position = _body_position(request)
        request.register_hook(
            "response", lambda response, **kwargs: self._on_response(response, position, **kwargs)
        )
        return request

    def _on_response(
        self, response: requests.Response, position: Optional[int], **kwargs: Any
    ) -> requests.Response:
        """The response hook: on a 401, refresh the token and resend once."""
        if response.status_code != 401:
            return response
        body = response.request.body
        if body is not None and not isinstance(body, (bytes, str)):
            # A stream or an iterator: resend only a stream that can go back to its start.
            if position is None:
                return response
            body.seek(position)
        refused = response.request.headers.get("Authorization")
        token = self.client.token()
        if token.header() == refused:
            self.client.invalidate()
            token = self.client.token()

        # Let the 401's connection go back to the pool, as requests' own digest auth does.
        response.content  # noqa: B018 (reads the body)
        response.close()
        resent = response.request.copy()
        cookies = resent._cookies  # type: ignore[attr-defined]
        extract_cookies_to_jar(cookies, response.request, response.raw)
        resent.prepare_cookies(cookies)
        resent.headers["Authorization"] = token.header()
        # The adapter sends without running hooks: the answer to the resend is final.
        again = response.connection.send(resent, **kwargs)
        again.history.append(response)
        again.request = resent
        return again

    def __repr__(self) -> str:
        return f"BearerAuth({self.client!r})"


def _body_position(request: requests.PreparedRequest) -> Optional[int]:
    """Where a stream body starts, so that a resend can rewind it; None if it cannot."""
    body = request.body
    if body is None or not hasattr(body, "read"):
        return None
    try:
        return int(body.tell())  # type: ignore[union-attr]
    except (AttributeError, OSError, ValueError):
        return None

