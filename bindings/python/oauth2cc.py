"""oauth2cc for Python: OAuth 2.0 client-credentials tokens through the C library, by ctypes.

Nothing to compile: this one file loads ``liboauth2cc`` and wraps its C API.

    import oauth2cc

    auth = oauth2cc.authenticate(client_id, client_secret)      # Spotify, every default
    print(auth.token_type, auth.expires_in)

    config = oauth2cc.Config(client_id, client_secret,
                             token_url="https://login.example.com/oauth2/token", scope="read")
    with oauth2cc.Client(config) as client:                       # share one per process
        headers = {"Authorization": client.token().header()}

Failures raise :class:`OAuth2ccError` subclasses named after the C statuses; an HTTP 400
from the token endpoint raises :class:`BadRequestError`, as the seed (pytify) did, with the
server's ``error`` and ``error_description`` on the exception.

Which library is loaded, first match wins:

1. the path in the environment variable ``OAUTH2CC_LIBRARY``;
2. the library in this repository's ``target/release`` or ``target/debug`` (the newer of the
   two), when this file is used from a checkout;
3. ``ctypes.util.find_library("oauth2cc")``: an installed library (``scripts/install.sh``);
   set ``LD_LIBRARY_PATH`` for a prefix the dynamic loader does not search.

Objects own their C handle and free it in ``close()``, on leaving a ``with`` block, or when
garbage-collected. A ``Client`` may be shared by any number of threads; the GIL is released
during network calls (ctypes does that for every foreign call).
"""

import ctypes
import ctypes.util
import os
import sys

__all__ = [
    "AuthStyle",
    "Authorization",
    "BadRequestError",
    "Client",
    "Config",
    "ConfigError",
    "HTTPStatusError",
    "InternalError",
    "InvalidArgumentError",
    "InvalidResponseError",
    "NetworkError",
    "OAuth2ccError",
    "RateLimitedError",
    "RequestTimeoutError",
    "Response",
    "ServerError",
    "TLSError",
    "UnauthorizedError",
    "authenticate",
    "library_path",
    "request_token",
    "version",
]

SPOTIFY_TOKEN_URL = "https://accounts.spotify.com/api/token"


# --------------------------------------------------------------------------------------
# Exceptions
# --------------------------------------------------------------------------------------


class OAuth2ccError(Exception):
    """A failed call, with everything the library kept about the failure.

    Attributes: ``status`` (the C status number), ``status_name``
    (``"OAUTH2CC_STATUS_BAD_REQUEST"``...), ``message`` (the library's text, with context;
    never a secret), ``oauth_error`` and ``description`` and ``error_uri`` (what the server
    said, or None), ``http_status`` (0 when there was no HTTP response) and ``retry_after``
    (seconds from Retry-After, or None).
    """

    def __init__(self, message, status=None, oauth_error=None, description=None,
                 error_uri=None, http_status=0, retry_after=None):
        super().__init__(message)
        self.status = status if status is not None else _STATUS_OF.get(type(self), 0)
        self.status_name = _status_name(self.status)
        self.message = message
        self.oauth_error = oauth_error
        self.description = description
        self.error_uri = error_uri
        self.http_status = http_status
        self.retry_after = retry_after


class InvalidArgumentError(OAuth2ccError, ValueError):
    """An empty id or secret, a bad enum value, a refused parameter, a NUL in a string."""


class ConfigError(OAuth2ccError):
    """An unreadable or invalid config file, a bad URL, an unreadable CA file."""


class BadRequestError(OAuth2ccError):
    """HTTP 400 from the token endpoint (the seed's BadRequestError), e.g. invalid_client."""


class UnauthorizedError(OAuth2ccError):
    """HTTP 401 from the token endpoint."""


class RateLimitedError(OAuth2ccError):
    """HTTP 429; ``retry_after`` says how long to wait when the server said."""


class ServerError(OAuth2ccError):
    """HTTP 5xx from the token endpoint."""


class HTTPStatusError(OAuth2ccError):
    """Any other unexpected HTTP status (403, 404, 3xx...)."""


class RequestTimeoutError(OAuth2ccError, TimeoutError):
    """The request did not complete within the configured timeout."""


class NetworkError(OAuth2ccError, ConnectionError):
    """DNS failure, connection refused or reset, proxy failure."""


class TLSError(OAuth2ccError):
    """TLS handshake or certificate failure."""


class InvalidResponseError(OAuth2ccError):
    """Not JSON, no access_token, a body over the size cap, broken HTTP."""


class InternalError(OAuth2ccError):
    """A bug in oauth2cc caught at the C boundary (PANIC, BUFFER_TOO_SMALL)."""


# The C status numbers (oauth2cc.h: oauth2cc_status); fixed, never reused.
_ERROR_CLASSES = {
    1: InvalidArgumentError,
    2: ConfigError,
    3: BadRequestError,
    4: UnauthorizedError,
    5: RateLimitedError,
    6: ServerError,
    7: HTTPStatusError,
    8: RequestTimeoutError,
    9: NetworkError,
    10: TLSError,
    11: InvalidResponseError,
    12: InternalError,
    13: InternalError,
}
_STATUS_OF = {cls: status for status, cls in _ERROR_CLASSES.items()}  # InternalError: 13


class AuthStyle:
    """How the client authenticates to the token endpoint (OAUTH2CC_AUTH_STYLE_*)."""

    BASIC = 0
    POST_BODY = 1
    AUTO = 2


# --------------------------------------------------------------------------------------
# Loading the library
# --------------------------------------------------------------------------------------


def _library_file_name():
    if sys.platform == "win32":
        return "oauth2cc.dll"
    if sys.platform == "darwin":
        return "liboauth2cc.dylib"
    return "liboauth2cc.so"


def _find_library():
    explicit = os.environ.get("OAUTH2CC_LIBRARY")
    if explicit:
        return explicit
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    built = [os.path.join(repo, "target", profile, _library_file_name())
             for profile in ("release", "debug")]
    built = [path for path in built if os.path.isfile(path)]
    if built:
        return max(built, key=os.path.getmtime)
    found = ctypes.util.find_library("oauth2cc")
    if found:
        return found
    raise OSError(
        "liboauth2cc not found: set OAUTH2CC_LIBRARY to its path, build it with "
        "`cargo build --release` in the oauth2cc checkout, or install it with scripts/install.sh"
    )


class _Opaque(ctypes.Structure):
    pass


_P = ctypes.POINTER(_Opaque)
_PP = ctypes.POINTER(_P)
_char_p = ctypes.c_char_p
_status = ctypes.c_int

# name: (restype, argtypes)
_SIGNATURES = {
    "oauth2cc_version": (_char_p, []),
    "oauth2cc_status_str": (_char_p, [ctypes.c_int]),
    "oauth2cc_last_error_message": (_char_p, []),
    "oauth2cc_last_error_oauth_error": (_char_p, []),
    "oauth2cc_last_error_description": (_char_p, []),
    "oauth2cc_last_error_uri": (_char_p, []),
    "oauth2cc_last_error_http_status": (ctypes.c_int32, []),
    "oauth2cc_last_error_retry_after": (ctypes.c_int64, []),
    "oauth2cc_config_new": (_status, [_char_p, _char_p, _PP]),
    "oauth2cc_config_from_file": (_status, [_char_p, _PP]),
    "oauth2cc_config_from_env": (_status, [_PP]),
    "oauth2cc_config_set_token_url": (_status, [_P, _char_p]),
    "oauth2cc_config_set_scope": (_status, [_P, _char_p]),
    "oauth2cc_config_set_auth_style": (_status, [_P, ctypes.c_uint32]),
    "oauth2cc_config_add_param": (_status, [_P, _char_p, _char_p]),
    "oauth2cc_config_set_timeout_ms": (_status, [_P, ctypes.c_uint32]),
    "oauth2cc_config_set_connect_timeout_ms": (_status, [_P, ctypes.c_uint32]),
    "oauth2cc_config_set_ca_file": (_status, [_P, _char_p]),
    "oauth2cc_config_set_proxy": (_status, [_P, _char_p]),
    "oauth2cc_config_set_user_agent": (_status, [_P, _char_p]),
    "oauth2cc_config_set_expiry_leeway": (_status, [_P, ctypes.c_uint32]),
    "oauth2cc_config_set_retries": (_status, [_P, ctypes.c_uint32, ctypes.c_uint32]),
    "oauth2cc_config_set_cache_file": (_status, [_P, _char_p]),
    "oauth2cc_config_set_max_response_bytes": (_status, [_P, ctypes.c_size_t]),
    "oauth2cc_config_free": (None, [_P]),
    "oauth2cc_authenticate": (_status, [_char_p, _char_p, _PP]),
    "oauth2cc_request_token": (_status, [_P, _PP]),
    "oauth2cc_authorization_access_token": (_char_p, [_P]),
    "oauth2cc_authorization_token_type": (_char_p, [_P]),
    "oauth2cc_authorization_expires_in": (ctypes.c_int64, [_P]),
    "oauth2cc_authorization_expires_at": (ctypes.c_int64, [_P]),
    "oauth2cc_authorization_scope": (_char_p, [_P]),
    "oauth2cc_authorization_refresh_token": (_char_p, [_P]),
    "oauth2cc_authorization_is_expired": (ctypes.c_bool, [_P, ctypes.c_uint32]),
    "oauth2cc_authorization_header": (
        _status, [_P, ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)]),
    "oauth2cc_authorization_clone": (_P, [_P]),
    "oauth2cc_authorization_free": (None, [_P]),
    "oauth2cc_client_new": (_status, [_P, _PP]),
    "oauth2cc_client_token": (_status, [_P, _PP]),
    "oauth2cc_client_invalidate": (None, [_P]),
    "oauth2cc_client_get": (_status, [_P, _char_p, _PP]),
    "oauth2cc_client_free": (None, [_P]),
    "oauth2cc_response_status": (ctypes.c_int32, [_P]),
    "oauth2cc_response_body": (
        ctypes.POINTER(ctypes.c_uint8), [_P, ctypes.POINTER(ctypes.c_size_t)]),
    "oauth2cc_response_header": (_char_p, [_P, _char_p]),
    "oauth2cc_response_free": (None, [_P]),
}


def _load():
    path = _find_library()
    lib = ctypes.CDLL(path)
    for name, (restype, argtypes) in _SIGNATURES.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes
    return path, lib


_LIBRARY_PATH, _lib = _load()


def library_path():
    """The path of the C library this module loaded."""
    return _LIBRARY_PATH


def version():
    """The C library's version, e.g. ``"0.1.0"``."""
    return _lib.oauth2cc_version().decode()


def _status_name(status):
    return _lib.oauth2cc_status_str(status).decode()


def _text(raw):
    return None if raw is None else raw.decode("utf-8", "replace")


def _last_error(status):
    """The exception for ``status``, filled from the calling thread's last error."""
    retry_after = _lib.oauth2cc_last_error_retry_after()
    cls = _ERROR_CLASSES.get(status, InternalError)
    return cls(
        _text(_lib.oauth2cc_last_error_message()) or _status_name(status),
        status=status,
        oauth_error=_text(_lib.oauth2cc_last_error_oauth_error()),
        description=_text(_lib.oauth2cc_last_error_description()),
        error_uri=_text(_lib.oauth2cc_last_error_uri()),
        http_status=_lib.oauth2cc_last_error_http_status(),
        retry_after=retry_after if retry_after >= 0 else None,
    )


def _check(status):
    if status != 0:
        raise _last_error(status)


def _c_text(value, name):
    """``value`` (str, bytes or os.PathLike) as NUL-terminated UTF-8 bytes for C."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str):
        value = value.encode("utf-8")
    if not isinstance(value, bytes):
        raise TypeError(f"{name} must be str or bytes, not {type(value).__name__}")
    if b"\0" in value:
        raise InvalidArgumentError(f"{name} contains a NUL character")
    return value


def _u32(value, name):
    value = int(value)
    if not 0 <= value <= 0xFFFFFFFF:
        raise InvalidArgumentError(f"{name} is out of range: {value}")
    return value


class _Handle:
    """Owns one C handle; ``_free`` names the C function that frees it."""

    _free = None
    _kind = "object"

    def __init__(self, handle):
        self._handle = handle

    def _ptr(self):
        if not self._handle:
            raise InvalidArgumentError(f"this {self._kind} is closed")
        return self._handle

    def close(self):
        """Frees the C handle now (idempotent)."""
        handle, self._handle = getattr(self, "_handle", None), None
        if handle:
            getattr(_lib, self._free)(handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may already be gone
            pass


def _new_handle(call, *args):
    """Calls a C function whose last parameter is ``T **out``; returns the handle."""
    out = _P()
    _check(call(*args, ctypes.byref(out)))
    return out


# --------------------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------------------


class Config(_Handle):
    """A configuration: credentials, token URL (Spotify's by default), scope, auth style,
    timeouts, TLS, proxy, retries, cache file.

    ``Config(client_id, client_secret, **settings)`` where each keyword is the name of a
    ``set_*`` method (``token_url``, ``scope``, ``auth_style``, ``timeout_ms``,
    ``connect_timeout_ms``, ``ca_file``, ``proxy``, ``user_agent``, ``expiry_leeway``,
    ``cache_file``, ``max_response_bytes``) or ``params`` (a dict of extra form parameters)
    or ``retries`` (a ``(max_retries, max_wait_ms)`` pair). The secret is wiped from the
    C library's memory when the config is closed; Python's own copy of the str you passed is
    yours to manage.
    """

    _free = "oauth2cc_config_free"
    _kind = "Config"

    def __init__(self, client_id, client_secret, **settings):
        super().__init__(_new_handle(
            _lib.oauth2cc_config_new,
            _c_text(client_id, "client_id"),
            _c_text(client_secret, "client_secret"),
        ))
        self._apply(settings)

    @classmethod
    def _wrap(cls, handle):
        config = cls.__new__(cls)
        _Handle.__init__(config, handle)
        return config

    @classmethod
    def from_file(cls, path):
        """Reads a JSON configuration file (the keys of ``oauth2cc_config_from_file``)."""
        return cls._wrap(_new_handle(_lib.oauth2cc_config_from_file, _c_text(path, "path")))

    @classmethod
    def from_env(cls):
        """Reads OAUTH2CC_CLIENT_ID, OAUTH2CC_CLIENT_SECRET, OAUTH2CC_TOKEN_URL, OAUTH2CC_SCOPE."""
        return cls._wrap(_new_handle(_lib.oauth2cc_config_from_env))

    def _apply(self, settings):
        params = settings.pop("params", None) or {}
        retries = settings.pop("retries", None)
        for name, value in settings.items():
            setter = getattr(self, "set_" + name, None)
            if setter is None:
                raise TypeError(f"Config() got an unknown setting {name!r}")
            setter(value)
        for name, value in params.items():
            self.add_param(name, value)
        if retries is not None:
            self.set_retries(*retries)

    def _set_text(self, function, value, name):
        _check(function(self._ptr(), None if value is None else _c_text(value, name)))
        return self

    def set_token_url(self, url):
        """``https://...``, or ``http://`` to a loopback host."""
        return self._set_text(_lib.oauth2cc_config_set_token_url, url, "token_url")

    def set_scope(self, scope):
        """Space-separated scope; None or "" clears it."""
        return self._set_text(_lib.oauth2cc_config_set_scope, scope, "scope")

    def set_auth_style(self, style):
        """``AuthStyle.BASIC`` (default), ``POST_BODY`` or ``AUTO``."""
        _check(_lib.oauth2cc_config_set_auth_style(self._ptr(), _u32(style, "auth_style")))
        return self

    def add_param(self, name, value):
        """An extra form parameter for every token request (audience, resource...)."""
        _check(_lib.oauth2cc_config_add_param(
            self._ptr(), _c_text(name, "name"), _c_text(value, "value")))
        return self

    def set_timeout_ms(self, timeout_ms):
        """Whole-request timeout in milliseconds (default 30000)."""
        _check(_lib.oauth2cc_config_set_timeout_ms(self._ptr(), _u32(timeout_ms, "timeout_ms")))
        return self

    def set_connect_timeout_ms(self, timeout_ms):
        """Connection set-up timeout in milliseconds (default 10000)."""
        _check(_lib.oauth2cc_config_set_connect_timeout_ms(
            self._ptr(), _u32(timeout_ms, "connect_timeout_ms")))
        return self

    def set_ca_file(self, pem_path):
        """Trust the CA certificates in this PEM file."""
        return self._set_text(_lib.oauth2cc_config_set_ca_file, pem_path, "ca_file")

    def set_proxy(self, proxy_url):
        """``http://``, ``https://`` or ``socks5://`` proxy; None goes back to the environment's."""
        return self._set_text(_lib.oauth2cc_config_set_proxy, proxy_url, "proxy")

    def set_user_agent(self, user_agent):
        return self._set_text(_lib.oauth2cc_config_set_user_agent, user_agent, "user_agent")

    def set_expiry_leeway(self, seconds):
        """A client refreshes its token this many seconds before it expires (default 60)."""
        _check(_lib.oauth2cc_config_set_expiry_leeway(self._ptr(), _u32(seconds, "expiry_leeway")))
        return self

    def set_retries(self, max_retries, max_wait_ms):
        """Retries on 429, 5xx, network errors and timeouts (default none)."""
        _check(_lib.oauth2cc_config_set_retries(
            self._ptr(), _u32(max_retries, "max_retries"), _u32(max_wait_ms, "max_wait_ms")))
        return self

    def set_cache_file(self, path):
        """Keep the token in this file so short-lived processes reuse it; None turns it off."""
        return self._set_text(_lib.oauth2cc_config_set_cache_file, path, "cache_file")

    def set_max_response_bytes(self, max_bytes):
        """Largest API response body ``Client.get`` reads (default 16 MiB)."""
        _check(_lib.oauth2cc_config_set_max_response_bytes(self._ptr(), int(max_bytes)))
        return self

    def __repr__(self):
        return "Config(<closed>)" if not self._handle else "Config(...)"


# --------------------------------------------------------------------------------------
# Authorization, Response, Client
# --------------------------------------------------------------------------------------


class Authorization(_Handle):
    """An access token with its type, lifetime and scope: the seed's ``Authorization``
    tuple (``access_token, token_type, expires_in, scope, refresh_token``), backed by the C
    handle. ``repr()`` hides the token (it is a secret); read ``access_token`` to use it.
    """

    _free = "oauth2cc_authorization_free"
    _kind = "Authorization"
    _fields = ("access_token", "token_type", "expires_in", "scope", "refresh_token")

    @property
    def access_token(self):
        return _text(_lib.oauth2cc_authorization_access_token(self._ptr()))

    @property
    def token_type(self):
        """``"Bearer"`` for any casing the server sent."""
        return _text(_lib.oauth2cc_authorization_token_type(self._ptr()))

    @property
    def expires_in(self):
        """Lifetime in seconds as the server sent it; None when it did not say."""
        seconds = _lib.oauth2cc_authorization_expires_in(self._ptr())
        return None if seconds < 0 else seconds

    @property
    def expires_at(self):
        """Unix time at which the token expires, computed on receipt; None when unknown."""
        at = _lib.oauth2cc_authorization_expires_at(self._ptr())
        return None if at < 0 else at

    @property
    def scope(self):
        return _text(_lib.oauth2cc_authorization_scope(self._ptr()))

    @property
    def refresh_token(self):
        """Always None for the client credentials grant; kept for the seed's tuple."""
        return _text(_lib.oauth2cc_authorization_refresh_token(self._ptr()))

    def is_expired(self, leeway=0):
        """Whether it has expired or will within ``leeway`` seconds."""
        return bool(_lib.oauth2cc_authorization_is_expired(self._ptr(), _u32(leeway, "leeway")))

    def header(self):
        """The Authorization header value, ``"Bearer <token>"``."""
        needed = ctypes.c_size_t(0)
        status = _lib.oauth2cc_authorization_header(self._ptr(), None, 0, ctypes.byref(needed))
        if status != 12:  # BUFFER_TOO_SMALL is the expected answer to a size query
            _check(status)
        buf = ctypes.create_string_buffer(needed.value + 1)
        _check(_lib.oauth2cc_authorization_header(
            self._ptr(), buf, len(buf), ctypes.byref(needed)))
        return buf.value.decode()

    def clone(self):
        """Another owner of the same token, closed separately."""
        return Authorization(_lib.oauth2cc_authorization_clone(self._ptr()))

    def __iter__(self):
        """The seed's tuple fields, in order: ``access_token, token_type, ... = auth``."""
        return iter(tuple(getattr(self, field) for field in self._fields))

    def __repr__(self):
        if not self._handle:
            return "Authorization(<closed>)"
        return (f"Authorization(access_token=<hidden>, token_type={self.token_type!r}, "
                f"expires_in={self.expires_in!r}, scope={self.scope!r}, "
                f"refresh_token={'<hidden>' if self.refresh_token else None})")


class Response(_Handle):
    """An API response from ``Client.get``: ``status``, ``body`` (bytes), ``header(name)``."""

    _free = "oauth2cc_response_free"
    _kind = "Response"

    @property
    def status(self):
        return _lib.oauth2cc_response_status(self._ptr())

    @property
    def body(self):
        length = ctypes.c_size_t(0)
        data = _lib.oauth2cc_response_body(self._ptr(), ctypes.byref(length))
        return ctypes.string_at(data, length.value) if data else b""

    def text(self, encoding="utf-8"):
        return self.body.decode(encoding, "replace")

    def header(self, name):
        """The first header called ``name`` (case-insensitive), or None."""
        return _text(_lib.oauth2cc_response_header(self._ptr(), _c_text(name, "name")))

    def __repr__(self):
        return "Response(<closed>)" if not self._handle else f"Response(status={self.status})"


class Client(_Handle):
    """A token source for one configuration, shared by all threads of a process:
    ``token()`` hands out the cached token and refreshes it once, for all threads, when it
    is about to expire. The config is copied; it may be closed afterwards.
    """

    _free = "oauth2cc_client_free"
    _kind = "Client"

    def __init__(self, config):
        super().__init__(_new_handle(_lib.oauth2cc_client_new, config._ptr()))

    def token(self):
        """A valid token: the cached one, or a freshly fetched one."""
        return Authorization(_new_handle(_lib.oauth2cc_client_token, self._ptr()))

    def invalidate(self):
        """Forgets the cached token, e.g. after an API answered 401."""
        _lib.oauth2cc_client_invalidate(self._ptr())

    def get(self, url):
        """GETs ``url`` with the token; on a 401 refreshes and retries once."""
        return Response(_new_handle(_lib.oauth2cc_client_get, self._ptr(), _c_text(url, "url")))

    def __repr__(self):
        return "Client(<closed>)" if not self._handle else "Client(...)"


def authenticate(client_id, client_secret):
    """One token from Spotify's accounts service with every default (the seed's authenticate)."""
    return Authorization(_new_handle(
        _lib.oauth2cc_authenticate,
        _c_text(client_id, "client_id"),
        _c_text(client_secret, "client_secret"),
    ))


def request_token(config):
    """One token with ``config``, on a fresh connection (a ``Client`` caches and reuses)."""
    return Authorization(_new_handle(_lib.oauth2cc_request_token, config._ptr()))
