"""oauth2cc for Python: OAuth 2.0 client-credentials tokens through the C library, by ctypes.

Nothing to compile: this package loads ``liboauth2cc`` and wraps its C API. The wheel
(``scripts/python-wheel.sh``) carries the library inside the package.

    import oauth2cc

    auth = oauth2cc.authenticate(client_id, client_secret)      # Spotify, every default
    print(auth.token_type, auth.expires_in)

    config = oauth2cc.Config(client_id, client_secret,
                             token_url="https://login.example.com/oauth2/token", scope="read")
    with oauth2cc.Client(config) as client:                       # share one per process
        headers = {"Authorization": client.token().header()}
        response = client.get("https://api.example.com/v1/me")    # 401: refresh, resend once
        print(response.status, response.json(), response.headers.get_all("set-cookie"))

With ``requests``, ``oauth2cc.requests.BearerAuth(client)`` does the same for a session.

Failures raise :class:`OAuth2ccError` subclasses named after the C statuses; an HTTP 400
from the token endpoint raises :class:`BadRequestError`, as the Python pytify client did, with
the server's ``error`` and ``error_description`` on the exception.

Which library is loaded, first match wins. Its file name is the platform's:
``liboauth2cc.so`` (Linux and other Unix), ``liboauth2cc.dylib`` (macOS), ``oauth2cc.dll``
(Windows).

1. the path in the environment variable ``OAUTH2CC_LIBRARY``;
2. the library next to this file, inside the package (where the wheel puts it);
3. the library in this repository's ``target/release`` or ``target/debug`` (the newer of the
   two), when this file is used from a checkout;
4. ``ctypes.util.find_library("oauth2cc")``: an installed library (``scripts/install.sh``);
   set ``LD_LIBRARY_PATH`` (``DYLD_LIBRARY_PATH`` on macOS, ``PATH`` on Windows) for a
   prefix the system does not search.

Objects own their C handle and free it, once, in ``close()``, on leaving a ``with`` block,
or when garbage-collected. Any object may be shared by threads (one ``Client`` per process is
the intended use): ``close()`` waits for the calls other threads are making with the object
to return before it frees the handle, and calls made after it raise
:class:`InvalidArgumentError` (a ValueError), e.g. "Client is closed". A ``Config``'s setters
wait until no other thread is using that config. The GIL is released during network calls
(ctypes does that for every foreign call).

Integer arguments are ints within the C parameter's range: a float, str or bool raises
TypeError, a negative or too large value InvalidArgumentError, each naming the parameter.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import operator
import os
import sys
import threading
from typing import Any, Iterator, List, Mapping, Optional, Tuple, TypeVar, Union

#: What a text argument may be: str, bytes (UTF-8) or a path.
Text = Union[str, bytes, "os.PathLike[str]"]

__all__ = [
    "AuthStyle",
    "Authorization",
    "BadRequestError",
    "Client",
    "Config",
    "ConfigError",
    "HEADERS_LISTABLE",
    "HTTPStatusError",
    "Headers",
    "HeadersNotListableError",
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

    def __init__(self, message: str, status: Optional[int] = None,
                 oauth_error: Optional[str] = None, description: Optional[str] = None,
                 error_uri: Optional[str] = None, http_status: int = 0,
                 retry_after: Optional[int] = None) -> None:
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
    """HTTP 400 from the token endpoint (the Python pytify client's BadRequestError), e.g.
    invalid_client."""


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
    PRIVATE_KEY_JWT = 3
    CLIENT_SECRET_JWT = 4
    TLS_CLIENT = 5


# --------------------------------------------------------------------------------------
# Loading the library
# --------------------------------------------------------------------------------------


_MODULE_DIR = os.path.dirname(os.path.abspath(__file__))


def _library_file_name(platform: Optional[str] = None) -> str:
    """The file name cargo gives the cdylib on ``platform`` (a ``sys.platform`` value;
    default: this one)."""
    platform = sys.platform if platform is None else platform
    if platform == "win32":
        return "oauth2cc.dll"
    if platform == "darwin":
        return "liboauth2cc.dylib"
    return "liboauth2cc.so"


def _find_library(platform=None, environ=None, module_dir=_MODULE_DIR,
                  find_system=ctypes.util.find_library):
    """The path (or, from ``find_system``, the name) of the library to load, in the order the
    module docstring gives. The parameters let a test play another platform."""
    explicit = (os.environ if environ is None else environ).get("OAUTH2CC_LIBRARY")
    if explicit:
        return explicit
    name = _library_file_name(platform)
    beside = os.path.join(module_dir, name)
    if os.path.isfile(beside):
        return beside
    repo = os.path.dirname(os.path.dirname(os.path.dirname(module_dir)))  # bindings/python/oauth2cc
    built = [os.path.join(repo, "target", profile, name) for profile in ("release", "debug")]
    built = [path for path in built if os.path.isfile(path)]
    if built:
        return max(built, key=os.path.getmtime)
    found = find_system("oauth2cc")
    if found:
        return found
    raise OSError(
        f"{name} not found: set OAUTH2CC_LIBRARY to its path, put it in the oauth2cc package "
        "folder, build it with `cargo build --release` in the oauth2cc checkout, install the wheel that "
        "carries it (scripts/python-wheel.sh), or install it with scripts/install.sh"
    )


class _Opaque(ctypes.Structure):
    pass


_P = ctypes.POINTER(_Opaque)
_PP = ctypes.POINTER(_P)
_char_p = ctypes.c_char_p
_status = ctypes.c_int

# The log callback type: void (*)(void *userdata, int level, const char *message).
_LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p)

#: Log levels for ``Config.set_log``.
LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG = 1, 2, 3, 4


class _ClientStats(ctypes.Structure):
    """``oauth2cc_client_stats``, field for field."""
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("token_requests", ctypes.c_uint64),
        ("tokens_issued", ctypes.c_uint64),
        ("failures", ctypes.c_uint64),
        ("cache_hits", ctypes.c_uint64),
        ("token_expires_at", ctypes.c_int64),
        ("last_error_status", ctypes.c_int32),
        ("unauthorized_refreshes", ctypes.c_uint64),
        ("stale_connection_resends", ctypes.c_uint64),
    ]


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
    "oauth2cc_config_set_shared_cache": (_status, [_P, _char_p]),
    "oauth2cc_config_set_min_refresh_interval_ms": (_status, [_P, ctypes.c_uint32]),
    "oauth2cc_config_set_unauthorized_refresh_interval_ms": (_status, [_P, ctypes.c_uint32]),
    "oauth2cc_config_set_max_response_bytes": (_status, [_P, ctypes.c_size_t]),
    "oauth2cc_config_set_log": (_status, [_P, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]),
    "oauth2cc_config_set_background_refresh": (_status, [_P, ctypes.c_bool]),
    "oauth2cc_config_set_private_key_file": (_status, [_P, _char_p, _char_p]),
    "oauth2cc_config_set_private_key_pem": (_status, [_P, _char_p, _char_p]),
    "oauth2cc_config_set_jwt_algorithm": (_status, [_P, _char_p]),
    "oauth2cc_config_set_jwt_audience": (_status, [_P, _char_p]),
    "oauth2cc_config_set_client_certificate_file": (_status, [_P, _char_p, _char_p]),
    "oauth2cc_config_set_issuer": (_status, [_P, _char_p]),
    "oauth2cc_config_set_jwt_bearer": (_status, [_P, _char_p]),
    "oauth2cc_config_set_client_assertion_file": (_status, [_P, _char_p]),
    "oauth2cc_config_set_dpop": (_status, [_P, ctypes.c_int]),
    "oauth2cc_config_set_dpop_key_file": (_status, [_P, _char_p]),
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
    "oauth2cc_client_request": (_status, [
        _P, _char_p, _char_p, ctypes.POINTER(_char_p), ctypes.c_char_p, ctypes.c_size_t, _PP]),
    "oauth2cc_client_authorization_header": (
        _status, [_P, ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)]),
    "oauth2cc_client_get_stats": (_status, [_P, ctypes.c_void_p]),
    "oauth2cc_client_dpop_proof": (_status, [
        _P, _char_p, _char_p, _char_p, ctypes.c_char_p, ctypes.c_size_t,
        ctypes.POINTER(ctypes.c_size_t)]),
    "oauth2cc_client_free": (None, [_P]),
    "oauth2cc_response_status": (ctypes.c_int32, [_P]),
    "oauth2cc_response_body": (
        ctypes.POINTER(ctypes.c_uint8), [_P, ctypes.POINTER(ctypes.c_size_t)]),
    "oauth2cc_response_header": (_char_p, [_P, _char_p]),
    "oauth2cc_response_free": (None, [_P]),
}

# Exports an older library (before 0.2) lacks: bound when present. Listing a response's
# headers (Headers):
# size_t oauth2cc_response_header_count(const oauth2cc_response *response);
# oauth2cc_status oauth2cc_response_header_at(const oauth2cc_response *response, size_t index,
#                                             const char **name, const char **value);
_OPTIONAL_SIGNATURES = {
    "oauth2cc_response_header_count": (ctypes.c_size_t, [_P]),
    "oauth2cc_response_header_at": (
        _status, [_P, ctypes.c_size_t, ctypes.POINTER(_char_p), ctypes.POINTER(_char_p)]),
}


def _load():
    path = _find_library()
    lib = ctypes.CDLL(path)
    for name, (restype, argtypes) in _SIGNATURES.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes
    for name, (restype, argtypes) in _OPTIONAL_SIGNATURES.items():
        function = getattr(lib, name, None)
        if function is not None:
            function.restype = restype
            function.argtypes = argtypes
    return path, lib


_LIBRARY_PATH, _lib = _load()

#: Whether the loaded library can list a response's headers (``Response.headers`` then
#: iterates; otherwise it answers lookups by name only, see :class:`Headers`).
HEADERS_LISTABLE = all(hasattr(_lib, name) for name in _OPTIONAL_SIGNATURES)


def library_path() -> str:
    """The path of the C library this module loaded."""
    return _LIBRARY_PATH


def version() -> str:
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


def _c_int(value, name, c_type):
    """``value`` as an int that fits ``c_type`` (an unsigned ctypes integer type).

    Only ints (and objects with ``__index__``) pass: a float, str or bool is a TypeError,
    never rounded, parsed or taken as 0/1. A value outside the C type's range is an
    InvalidArgumentError (a ValueError), never wrapped around by ctypes.
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not bool")
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, not {type(value).__name__}") from None
    largest = 2 ** (8 * ctypes.sizeof(c_type)) - 1
    if not 0 <= number <= largest:
        raise InvalidArgumentError(f"{name} must be between 0 and {largest}, not {number}")
    return number


def _u32(value, name):
    return _c_int(value, name, ctypes.c_uint32)


def _size(value, name):
    return _c_int(value, name, ctypes.c_size_t)


class _HandleGuard:
    """One C handle shared by threads: counts the calls in flight and frees it once, last.

    Every C call on the handle runs inside ``with guard.use() as ptr:``. ``close()`` marks the
    handle closed, so that new calls raise InvalidArgumentError (a ValueError) "<kind> is
    closed"; waits until the calls in flight have returned; then calls ``free(ptr)``, exactly
    once, however many threads call close(). Calls that change the handle (a Config's
    setters) use ``use(exclusive=True)``: they wait for the other calls to return and keep new
    ones waiting, as the C header asks ("must not be modified while another thread uses it").

    One lock guards the counter and the flags; a C call never runs under it, so a call that
    blocks (a token request waits up to its timeout) holds back only close() and exclusive
    users of the same handle. The C free runs under it, so that every close() returns after
    the handle is freed. A thread must not call close() inside its own ``use()`` block: it
    would wait for itself. (``__del__`` cannot: an object in use is still referenced.)
    """

    def __init__(self, kind, ptr, free):
        self._kind = kind
        self._ptr = ptr if ptr else None  # None once freed
        self._free = free
        self._changed = threading.Condition(threading.Lock())
        self._in_flight = 0
        self._exclusive = False
        self._closed = self._ptr is None

    @property
    def closed(self):
        """True from the moment close() starts (new calls raise), or for a NULL handle."""
        return self._closed

    @contextlib.contextmanager
    def use(self, exclusive=False):
        with self._changed:
            self._changed.wait_for(lambda: self.closed or not (
                self._exclusive or (exclusive and self._in_flight)))
            if self.closed:
                raise InvalidArgumentError(f"{self._kind} is closed")
            self._in_flight += 1
            self._exclusive = exclusive
        try:
            yield self._ptr
        finally:
            with self._changed:
                self._in_flight -= 1
                self._exclusive = False
                self._changed.notify_all()

    def close(self):
        with self._changed:
            self._closed = True
            self._changed.notify_all()  # waiting users give up: "closed"
            self._changed.wait_for(lambda: self._in_flight == 0)
            ptr, self._ptr = self._ptr, None
            if ptr is not None:
                self._free(ptr)


class _Handle:
    """Owns one C handle through a :class:`_HandleGuard`; ``_free`` names the C function
    that frees it, ``_kind`` the class in messages."""

    _free: Optional[str] = None
    _kind = "object"
    _handle = None

    def __init__(self, handle):
        self._handle = _HandleGuard(self._kind, handle, getattr(_lib, self._free))

    def _use(self, exclusive=False):
        """``with self._use() as ptr:`` around every C call on this handle."""
        return self._handle.use(exclusive)

    def _call(self, function, *args):
        """``function(ptr, *args)`` on this handle; returns what it returns."""
        with self._use() as ptr:
            return function(ptr, *args)

    def _new(self, function, *args):
        """The handle ``function(ptr, *args, &out)`` makes from this one (see _new_handle)."""
        with self._use() as ptr:
            return _new_handle(function, ptr, *args)

    @property
    def closed(self) -> bool:
        """Whether ``close()`` has been called (or the handle never existed)."""
        return self._handle is None or self._handle.closed

    def close(self) -> None:
        """Frees the C handle (idempotent). Waits for calls other threads are making with it
        to return; calls made after close() raise InvalidArgumentError "<kind> is closed"."""
        if self._handle is not None:
            self._handle.close()

    def __enter__(self: _H) -> _H:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may already be gone
            pass

    def __repr__(self):
        return f"{self._kind}(<closed>)" if self.closed else self._open_repr()

    def _open_repr(self):
        return f"{self._kind}(...)"


_H = TypeVar("_H", bound=_Handle)


def _new_handle(call, *args):
    """Calls a C function whose last parameter is ``T **out``; returns the handle."""
    out = _P()
    _check(call(*args, ctypes.byref(out)))
    return out


# --------------------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------------------


class Config(_Handle):
    """A configuration: credentials, token URL (none until set: for Spotify,
    ``SPOTIFY_TOKEN_URL``), scope, auth style,
    timeouts, TLS, proxy, retries, cache file.

    ``Config(client_id, client_secret, **settings)`` where each keyword is the name of a
    ``set_*`` method (``token_url``, ``scope``, ``auth_style``, ``timeout_ms``,
    ``connect_timeout_ms``, ``ca_file``, ``proxy``, ``user_agent``, ``expiry_leeway``,
    ``cache_file``, ``shared_cache``, ``max_response_bytes``) or ``params`` (a dict of extra form parameters)
    or ``retries`` (a ``(max_retries, max_wait_ms)`` pair). Integer settings take ints
    only, within the C parameter's range (TypeError / ValueError naming the setting). The
    secret may be None for a client that authenticates with a private key
    (``private_key_file``, ``jwt_algorithm``, ``jwt_audience``) or a client assertion file
    (``client_assertion_file``); ``jwt_bearer`` (the subject, or None) and ``dpop`` (a bool)
    are settings too. The secret is wiped from
    the C library's memory when the config is closed; Python's own copy
    of the str you passed is yours to manage.

    Threads may share a config: a setter waits until no other thread is using the config
    (building a Client, requesting a token) and holds them back while it runs.
    """

    _free = "oauth2cc_config_free"
    _kind = "Config"

    def __init__(self, client_id: Text, client_secret: Text, **settings: Any) -> None:
        super().__init__(_new_handle(
            _lib.oauth2cc_config_new,
            _c_text(client_id, "client_id"),
            None if client_secret is None else _c_text(client_secret, "client_secret"),
        ))
        self._apply(settings)

    @classmethod
    def _wrap(cls, handle):
        config = cls.__new__(cls)
        _Handle.__init__(config, handle)
        return config

    @classmethod
    def from_file(cls, path: Text) -> Config:
        """Reads a JSON configuration file (the keys of ``oauth2cc_config_from_file``)."""
        return cls._wrap(_new_handle(_lib.oauth2cc_config_from_file, _c_text(path, "path")))

    @classmethod
    def from_env(cls) -> Config:
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

    def _set(self, function, *args):
        """``function(config, *args)``, alone on this config; raises on failure."""
        with self._use(exclusive=True) as ptr:
            _check(function(ptr, *args))
        return self

    def set_log(self, callback, max_level=LOG_INFO):
        """Log lines of clients made from this config go to ``callback(level, message)`` (an
        int from LOG_ERROR 1 to LOG_DEBUG 4 and a str that never holds a secret) up to
        ``max_level``; None turns logging off. Called on the thread doing the work. An
        exception in the callback is printed by ctypes and otherwise ignored."""
        level = _c_int(max_level, "max_level", ctypes.c_int)
        if callback is None:
            c_callback = None
        else:
            def trampoline(_userdata, level, message):
                callback(level, message.decode("utf-8", "replace"))
            c_callback = _LOG_FN(trampoline)
        self._set(_lib.oauth2cc_config_set_log,
                  ctypes.cast(c_callback, ctypes.c_void_p) if c_callback else None, None, level)
        # The C side keeps the pointer: keep the Python function alive as long as this config
        # and every client made from it (Client keeps a reference too).
        self._log_callback = c_callback
        return self

    def set_background_refresh(self, enabled):
        """Clients refresh their token in the background (one thread per process for all
        clients) before it is due; close() waits for a refresh in flight."""
        if not isinstance(enabled, bool):
            raise TypeError(f"enabled must be a bool, not {type(enabled).__name__}")
        return self._set(_lib.oauth2cc_config_set_background_refresh, enabled)

    def _set_text(self, function, value, name):
        return self._set(function, None if value is None else _c_text(value, name))

    def set_token_url(self, url: Text) -> Config:
        """``https://...``, or ``http://`` to a loopback host."""
        return self._set_text(_lib.oauth2cc_config_set_token_url, url, "token_url")

    def set_scope(self, scope: Optional[Text]) -> Config:
        """Space-separated scope; None or "" clears it."""
        return self._set_text(_lib.oauth2cc_config_set_scope, scope, "scope")

    def set_auth_style(self, style: int) -> Config:
        """``AuthStyle.BASIC`` (default), ``POST_BODY`` or ``AUTO``."""
        return self._set(_lib.oauth2cc_config_set_auth_style, _u32(style, "auth_style"))

    def add_param(self, name: Text, value: Text) -> Config:
        """An extra form parameter for every token request (audience, resource...)."""
        return self._set(_lib.oauth2cc_config_add_param,
                         _c_text(name, "name"), _c_text(value, "value"))

    def set_timeout_ms(self, timeout_ms: int) -> Config:
        """Whole-request timeout in milliseconds (default 30000)."""
        return self._set(_lib.oauth2cc_config_set_timeout_ms, _u32(timeout_ms, "timeout_ms"))

    def set_connect_timeout_ms(self, timeout_ms: int) -> Config:
        """Connection set-up timeout in milliseconds (default 10000)."""
        return self._set(_lib.oauth2cc_config_set_connect_timeout_ms,
                         _u32(timeout_ms, "connect_timeout_ms"))

    def set_ca_file(self, pem_path: Optional[Text]) -> Config:
        """Trust the CA certificates in this PEM file."""
        return self._set_text(_lib.oauth2cc_config_set_ca_file, pem_path, "ca_file")

    def set_proxy(self, proxy_url: Optional[Text]) -> Config:
        """``http://``, ``https://`` or ``socks5://`` proxy; None goes back to the environment's."""
        return self._set_text(_lib.oauth2cc_config_set_proxy, proxy_url, "proxy")

    def set_user_agent(self, user_agent: Optional[Text]) -> Config:
        """The ``User-Agent`` header (default ``oauth2cc/<version>``)."""
        return self._set_text(_lib.oauth2cc_config_set_user_agent, user_agent, "user_agent")

    def set_expiry_leeway(self, seconds: int) -> Config:
        """A client refreshes its token this many seconds before it expires (default 60)."""
        return self._set(_lib.oauth2cc_config_set_expiry_leeway, _u32(seconds, "expiry_leeway"))

    def set_retries(self, max_retries: int, max_wait_ms: int) -> Config:
        """Retries on 429, 5xx, network errors and timeouts (default none)."""
        return self._set(_lib.oauth2cc_config_set_retries,
                         _u32(max_retries, "max_retries"), _u32(max_wait_ms, "max_wait_ms"))

    def set_cache_file(self, path: Optional[Text]) -> Config:
        """Keep the token in this file so short-lived processes reuse it; None turns it off."""
        return self._set_text(_lib.oauth2cc_config_set_cache_file, path, "cache_file")

    def set_shared_cache(self, redis_url: Optional[Text]) -> Config:
        """Share the token with every process through Redis
        (``redis://[user:password@]host:port[/db]`` or ``rediss://...``); one process in the
        fleet refreshes. None turns it off."""
        return self._set_text(_lib.oauth2cc_config_set_shared_cache, redis_url, "redis_url")

    def set_min_refresh_interval_ms(self, interval_ms: int) -> Config:
        """Shortest time a client keeps a token before asking for another (default 1000; 0 off)."""
        return self._set(_lib.oauth2cc_config_set_min_refresh_interval_ms,
                         _u32(interval_ms, "min_refresh_interval_ms"))

    def set_unauthorized_refresh_interval_ms(self, interval_ms: int) -> Config:
        """Shortest time between two refreshes an API's 401 causes (default 5000; 0: every 401)."""
        return self._set(_lib.oauth2cc_config_set_unauthorized_refresh_interval_ms,
                         _u32(interval_ms, "unauthorized_refresh_interval_ms"))

    def set_max_response_bytes(self, max_bytes: int) -> Config:
        """Largest API response body ``Client.get`` reads (default 16 MiB; at least 1)."""
        return self._set(_lib.oauth2cc_config_set_max_response_bytes,
                         _size(max_bytes, "max_response_bytes"))

    def set_private_key_file(self, pem_path, key_id=None):
        """The PEM private key that signs client assertions (private_key_jwt; the default
        style once a key is set). ``key_id`` goes in the JWT header "kid"."""
        return self._set(_lib.oauth2cc_config_set_private_key_file,
                         _c_text(pem_path, "pem_path"),
                         None if key_id is None else _c_text(key_id, "key_id"))

    def set_private_key_pem(self, pem, key_id=None):
        """``set_private_key_file`` with the PEM text itself."""
        return self._set(_lib.oauth2cc_config_set_private_key_pem,
                         _c_text(pem, "pem"),
                         None if key_id is None else _c_text(key_id, "key_id"))

    def set_jwt_algorithm(self, alg):
        """"RS256", "PS256", "ES256", "ES384", "EdDSA", ...; None: from the key."""
        return self._set_text(_lib.oauth2cc_config_set_jwt_algorithm, alg, "jwt_algorithm")

    def set_client_certificate_file(self, cert_chain_pem_path, key_pem_path):
        """The TLS client certificate (mutual TLS): a PEM chain and its PEM key, presented
        on every connection. With no secret and no private key the style is TLS_CLIENT."""
        return self._set(_lib.oauth2cc_config_set_client_certificate_file,
                         _c_text(cert_chain_pem_path, "cert_chain_pem_path"),
                         _c_text(key_pem_path, "key_pem_path"))

    def set_issuer(self, issuer_url):
        """The authorization server's issuer: the token endpoint comes from its metadata,
        fetched at a client's first token request. None turns it off."""
        return self._set_text(_lib.oauth2cc_config_set_issuer, issuer_url, "issuer")

    def set_jwt_audience(self, audience):
        """The assertion's "aud"; None: the URL the token request goes to."""
        return self._set_text(_lib.oauth2cc_config_set_jwt_audience, audience, "jwt_audience")

    def set_jwt_bearer(self, subject=None):
        """The JWT bearer grant (RFC 7523 section 2.1): an assertion signed with the private
        key is the grant, "sub" = ``subject`` (None: the client id). No client
        authentication is added unless a secret, an assertion file or an auth style asks."""
        return self._set_text(_lib.oauth2cc_config_set_jwt_bearer, subject, "subject")

    def set_client_assertion_file(self, path):
        """A client assertion someone else made (a Kubernetes service-account token, Entra
        workload identity's federated token) in the file at ``path``, read at every token
        request; it replaces the secret. None removes it."""
        return self._set_text(_lib.oauth2cc_config_set_client_assertion_file, path, "path")

    def set_dpop(self, enabled=True):
        """DPoP (RFC 9449) on, with a fresh P-256 key per client, or off."""
        if not isinstance(enabled, bool):
            raise TypeError(f"dpop must be a bool, not {type(enabled).__name__}")
        return self._set(_lib.oauth2cc_config_set_dpop, 1 if enabled else 0)

    def set_dpop_key_file(self, path):
        """DPoP with the PEM key pair at ``path`` (RSA: PS256, P-256: ES256, P-384: ES384,
        Ed25519: EdDSA)."""
        return self._set(_lib.oauth2cc_config_set_dpop_key_file, _c_text(path, "path"))


# --------------------------------------------------------------------------------------
# Authorization, Response, Client
# --------------------------------------------------------------------------------------


class Authorization(_Handle):
    """An access token with its type, lifetime and scope: the Python pytify client's
    ``Authorization`` tuple (``access_token, token_type, expires_in, scope, refresh_token``),
    backed by the C handle. ``repr()`` hides the token (it is a secret); read
    ``access_token`` to use it. Immutable: any number of threads may read it.
    """

    _free = "oauth2cc_authorization_free"
    _kind = "Authorization"
    _fields = ("access_token", "token_type", "expires_in", "scope", "refresh_token")

    def _seconds(self, function):
        seconds = self._call(function)
        return None if seconds < 0 else seconds

    @property
    def access_token(self) -> str:
        """The token itself (a secret)."""
        return _text(self._call(_lib.oauth2cc_authorization_access_token))

    @property
    def token_type(self) -> str:
        """``"Bearer"`` for any casing the server sent."""
        return _text(self._call(_lib.oauth2cc_authorization_token_type))

    @property
    def expires_in(self) -> Optional[int]:
        """Lifetime in seconds as the server sent it; None when it did not say."""
        return self._seconds(_lib.oauth2cc_authorization_expires_in)

    @property
    def expires_at(self) -> Optional[int]:
        """Unix time at which the token expires, computed on receipt; None when unknown."""
        return self._seconds(_lib.oauth2cc_authorization_expires_at)

    @property
    def scope(self) -> Optional[str]:
        """The granted scope, or None when the server did not say."""
        return _text(self._call(_lib.oauth2cc_authorization_scope))

    @property
    def refresh_token(self) -> Optional[str]:
        """Always None for the client credentials grant; kept for the pytify tuple."""
        return _text(self._call(_lib.oauth2cc_authorization_refresh_token))

    def is_expired(self, leeway: int = 0) -> bool:
        """Whether it has expired or will within ``leeway`` seconds (an int)."""
        return bool(self._call(_lib.oauth2cc_authorization_is_expired, _u32(leeway, "leeway")))

    def header(self) -> str:
        """The Authorization header value, ``"Bearer <token>"``."""
        needed = ctypes.c_size_t(0)
        with self._use() as ptr:
            status = _lib.oauth2cc_authorization_header(ptr, None, 0, ctypes.byref(needed))
            if status != 12:  # BUFFER_TOO_SMALL is the expected answer to a size query
                _check(status)
            buf = ctypes.create_string_buffer(needed.value + 1)
            _check(_lib.oauth2cc_authorization_header(ptr, buf, len(buf), ctypes.byref(needed)))
        return buf.value.decode()

    def clone(self) -> Authorization:
        """Another owner of the same token, closed separately."""
        return Authorization(self._call(_lib.oauth2cc_authorization_clone))

    def __iter__(self) -> Iterator[Any]:
        """The pytify tuple's fields, in order: ``access_token, token_type, ... = auth``."""
        return iter(tuple(getattr(self, field) for field in self._fields))

    def _open_repr(self):
        return (f"Authorization(access_token=<hidden>, token_type={self.token_type!r}, "
                f"expires_in={self.expires_in!r}, scope={self.scope!r}, "
                f"refresh_token={'<hidden>' if self.refresh_token else None})")


class Headers(Mapping[str, str]):
    """A response's headers: a read-only mapping whose names are case-insensitive.

    ``headers["content-type"]`` and ``headers.get(name)`` give the first value of that
    header, as :meth:`Response.header` does; ``get_all(name)`` gives every value of a
    repeated header, in the order the server sent them (``Set-Cookie`` and the like, which
    cannot be joined with commas); ``multi_items()`` gives every ``(name, value)`` pair in
    order, names as the server spelt them. Iterating yields each name once, first spelling.

    Listing the headers needs the C exports ``oauth2cc_response_header_count`` and
    ``oauth2cc_response_header_at``. With a library that lacks them (see
    :data:`HEADERS_LISTABLE`) the mapping answers lookups by name only: ``headers[name]``,
    ``get``, ``in`` work (first value), ``get_all`` gives that first value alone, and
    iterating, ``len()``, ``keys()``, ``items()`` and ``multi_items()`` raise
    :class:`HeadersNotListableError` (a TypeError).
    """

    def __init__(self, response: "Response") -> None:
        self._response = response
        self._pairs: Optional[List[Tuple[str, str]]] = None
        if HEADERS_LISTABLE:
            self._pairs = response._header_pairs()

    def _listed(self) -> List[Tuple[str, str]]:
        if self._pairs is None:
            raise HeadersNotListableError(
                f"{_LIBRARY_PATH} cannot list a response's headers (it lacks "
                "oauth2cc_response_header_at); look them up by name instead")
        return self._pairs

    def get_all(self, name: str) -> List[str]:
        """Every value of the header ``name`` (case-insensitive), in order; [] when absent."""
        if self._pairs is None:
            first = self._response.header(name)
            return [] if first is None else [first]
        wanted = name.lower()
        return [value for key, value in self._pairs if key.lower() == wanted]

    def multi_items(self) -> List[Tuple[str, str]]:
        """Every ``(name, value)`` pair in the order the server sent them."""
        return list(self._listed())

    def __getitem__(self, name: str) -> str:
        if not isinstance(name, str):
            raise KeyError(name)
        values = self.get_all(name)
        if not values:
            raise KeyError(name)
        return values[0]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and bool(self.get_all(name))

    def __iter__(self) -> Iterator[str]:
        seen = set()
        names = []
        for name, _ in self._listed():
            if name.lower() not in seen:
                seen.add(name.lower())
                names.append(name)
        return iter(names)

    def __len__(self) -> int:
        return len({name.lower() for name, _ in self._listed()})

    def __repr__(self) -> str:
        if self._pairs is None:
            return "Headers(<look up by name>)"
        return f"Headers({self._pairs!r})"


class HeadersNotListableError(TypeError):
    """The loaded library cannot list a response's headers (see :class:`Headers`)."""


class Response(_Handle):
    """An API response from ``Client.get``: ``status``, ``body`` (bytes), ``text()``,
    ``json()``, ``header(name)`` and ``headers``. Immutable: any number of threads may read
    it."""

    _free = "oauth2cc_response_free"
    _kind = "Response"

    @property
    def status(self) -> int:
        """The HTTP status code."""
        return self._call(_lib.oauth2cc_response_status)

    @property
    def body(self) -> bytes:
        """The whole body (read up to the config's ``max_response_bytes``)."""
        length = ctypes.c_size_t(0)
        with self._use() as ptr:  # the bytes live as long as the handle: copy them inside
            data = _lib.oauth2cc_response_body(ptr, ctypes.byref(length))
            return ctypes.string_at(data, length.value) if data else b""

    def text(self, encoding: str = "utf-8") -> str:
        """The body decoded with ``encoding``; undecodable bytes become U+FFFD."""
        return self.body.decode(encoding, "replace")

    def json(self, **kwargs: Any) -> Any:
        """The body parsed as JSON (UTF-8, -16 or -32, as :func:`json.loads` detects);
        ``kwargs`` go to :func:`json.loads`. Raises :class:`json.JSONDecodeError` (a
        ValueError) when the body is not JSON, whatever the status."""
        return json.loads(self.body, **kwargs)

    def header(self, name: str) -> Optional[str]:
        """The first header called ``name`` (case-insensitive), or None."""
        return _text(self._call(_lib.oauth2cc_response_header, _c_text(name, "name")))

    @property
    def headers(self) -> Headers:
        """All headers, as a case-insensitive :class:`Headers` mapping (a new one per read,
        independent of the response once made; with a library that cannot list headers, it
        looks them up in this response, so it must stay open)."""
        return Headers(self)

    def _header_pairs(self) -> List[Tuple[str, str]]:
        name, value = ctypes.c_char_p(), ctypes.c_char_p()
        with self._use() as ptr:
            count = _lib.oauth2cc_response_header_count(ptr)
            pairs = []
            for index in range(count):
                _check(_lib.oauth2cc_response_header_at(
                    ptr, index, ctypes.byref(name), ctypes.byref(value)))
                pairs.append((_text(name.value) or "", _text(value.value) or ""))
        return pairs

    def _open_repr(self) -> str:
        return f"Response(status={self.status})"


class Client(_Handle):
    """A token source for one configuration, shared by all threads of a process:
    ``token()`` hands out the cached token and refreshes it once, for all threads, when it
    is about to expire. The config is copied; it may be closed afterwards.

    ``close()`` waits for the calls other threads are making with the client (a token
    request may take up to the configured timeout), then frees it; later calls raise
    InvalidArgumentError "Client is closed".
    """

    _free = "oauth2cc_client_free"
    _kind = "Client"

    def __init__(self, config: Config) -> None:
        super().__init__(config._new(_lib.oauth2cc_client_new))
        # The log callback the client copied from the config must outlive the client.
        self._log_callback = getattr(config, "_log_callback", None)

    def token(self) -> Authorization:
        """A valid token: the cached one, or a freshly fetched one."""
        return Authorization(self._new(_lib.oauth2cc_client_token))

    def invalidate(self) -> None:
        """Forgets the cached token, e.g. after an API answered 401."""
        self._call(_lib.oauth2cc_client_invalidate)

    def get(self, url: Text) -> Response:
        """GETs ``url`` with the token; on a 401 refreshes and retries once."""
        return Response(self._new(_lib.oauth2cc_client_get, _c_text(url, "url")))

    def request(self, method, url, headers=None, body=None):
        """Sends ``method`` to ``url`` with the token. ``headers``: a dict or a list of
        ``"Name: value"`` strings (not Authorization, Content-Length, Transfer-Encoding or
        Host); ``body``: bytes or str (UTF-8), sent as it is. On a 401 the token is refreshed
        and the request, body included, sent once more. Any HTTP status is returned."""
        if isinstance(headers, dict):
            lines = [f"{name}: {value}" for name, value in headers.items()]
        else:
            lines = list(headers or [])
        array = (_char_p * (len(lines) + 1))(*[_c_text(l, "header") for l in lines], None)
        if isinstance(body, str):
            body = body.encode("utf-8")
        elif body is not None and not isinstance(body, (bytes, bytearray)):
            raise TypeError(f"body must be bytes or str, not {type(body).__name__}")
        data = bytes(body) if body is not None else None
        return Response(self._new(
            _lib.oauth2cc_client_request, _c_text(method, "method"), _c_text(url, "url"),
            array, data, len(data) if data is not None else 0))

    def authorization_header(self):
        """``"<type> <token>"`` of a valid token (refreshed when due), for an Authorization
        header. On a cache hit the library allocates nothing."""
        needed = ctypes.c_size_t(0)
        buf = ctypes.create_string_buffer(256)
        with self._use() as ptr:
            status = _lib.oauth2cc_client_authorization_header(
                ptr, buf, len(buf), ctypes.byref(needed))
            if status == 12:  # BUFFER_TOO_SMALL: a longer token
                buf = ctypes.create_string_buffer(needed.value + 1)
                status = _lib.oauth2cc_client_authorization_header(
                    ptr, buf, len(buf), ctypes.byref(needed))
            _check(status)
        return buf.value.decode()

    def dpop_proof(self, method, url, access_token=None):
        """The ``DPoP`` header's value for one request with a DPoP-bound token
        (``authorization_header()`` then says ``"DPoP <token>"``): a fresh proof for
        ``method`` and ``url``, ``ath`` over ``access_token`` (None: the client's current
        token). ConfigError when DPoP is off. Make one per request."""
        args = (_c_text(method, "method"), _c_text(url, "url"),
                None if access_token is None else _c_text(access_token, "access_token"))
        needed = ctypes.c_size_t(0)
        with self._use() as ptr:
            status = _lib.oauth2cc_client_dpop_proof(ptr, *args, None, 0, ctypes.byref(needed))
            if status == 12:  # BUFFER_TOO_SMALL: the size is known now
                buf = ctypes.create_string_buffer(needed.value + 1)
                status = _lib.oauth2cc_client_dpop_proof(
                    ptr, *args, buf, len(buf), ctypes.byref(needed))
            _check(status)
        return buf.value.decode()

    def stats(self):
        """The client's counters: a dict with token_requests, tokens_issued, failures,
        cache_hits, token_expires_at (-1: none), last_error_status (0: none),
        unauthorized_refreshes, stale_connection_resends."""
        stats = _ClientStats(struct_size=ctypes.sizeof(_ClientStats))
        with self._use() as ptr:
            _check(_lib.oauth2cc_client_get_stats(ptr, ctypes.byref(stats)))
        return {name: getattr(stats, name) for name, _ in _ClientStats._fields_[1:]}


def authenticate(client_id: Text, client_secret: Text) -> Authorization:
    """One token from Spotify's accounts service with every default, as the Python pytify
    client's ``authenticate`` got it."""
    return Authorization(_new_handle(
        _lib.oauth2cc_authenticate,
        _c_text(client_id, "client_id"),
        _c_text(client_secret, "client_secret"),
    ))


def request_token(config: Config) -> Authorization:
    """One token with ``config``, on a fresh connection (a ``Client`` caches and reuses)."""
    return Authorization(config._new(_lib.oauth2cc_request_token))
