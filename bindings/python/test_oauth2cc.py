"""Tests of the ctypes binding against a token endpoint this file starts on 127.0.0.1.

Run from this folder with the system python3 (nothing to install):

    python3 -m unittest -v test_oauth2cc

The library is found as the oauth2cc package says (OAUTH2CC_LIBRARY, else this checkout's
target/release or target/debug); `cargo test --test python_binding` runs this file with
OAUTH2CC_LIBRARY set to the library cargo just built.
"""

import base64
import contextlib
import ctypes
import gc
import http.server
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

import oauth2cc

HERE = os.path.dirname(os.path.abspath(__file__))
TOKEN_PATHS = ("/token", "/slow-token", "/gated-token")
CLIENT_ID = "py-client"
CLIENT_SECRET = "py-secret-0123456789"


class Endpoint(http.server.ThreadingHTTPServer):
    """A Spotify-like token endpoint and a tiny API, recording every request.

    POST /token        py-client / py-secret (Basic or body) -> "tok-<n>", "bearer", 3600 s,
                       the requested scope echoed; bad credentials -> 400 invalid_client
                       "Invalid client", as Spotify answers (pytify's BadRequestError)
    POST /slow-token   the same after 300 ms
    POST /gated-token  the same once the test opens ``gate``; sets ``arrived`` on the way in
    POST /unauthorized 401 invalid_client     POST /limited 429, Retry-After: 7
    POST /unavailable  503, empty body        POST /teapot  418
    POST /garbage      200, not JSON          POST /stall   answers after 3 s
    GET  /api/me       200 {"id": "me"} for a token it issued and did not revoke, 401 otherwise
    GET  /api/multi    the same check; 200 with repeated headers (X-Dup twice, Set-Cookie twice)
    GET  /api/never    401 whatever the token
    POST /api/upload   the /api/me check; 200 {"received": <the body>}
    """

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.requests = []
        self.issued = 0
        self.gate = threading.Event()
        self.arrived = threading.Event()
        self.revoked = set()  # "Bearer tok-<n>" values /api/me and /api/multi refuse

    def url(self, path):
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def token_requests(self):
        with self.lock:
            return [r for r in self.requests if r["path"] in TOKEN_PATHS]

    def issue(self, scope):
        with self.lock:
            self.issued += 1
            body = {"access_token": f"tok-{self.issued}", "token_type": "bearer",
                    "expires_in": 3600}
        if scope is not None:
            body["scope"] = scope
        return 200, {}, json.dumps(body).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, headers, body, content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def record(self, body):
        form = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
        request = {"method": self.command, "path": self.path, "form": form,
                   "headers": {k.lower(): v for k, v in self.headers.items()}}
        with self.server.lock:
            self.server.requests.append(request)
        return request

    def credentials(self, request):
        auth = request["headers"].get("authorization", "")
        if auth.startswith("Basic "):
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            return urllib.parse.unquote(user), urllib.parse.unquote(password)
        return request["form"].get("client_id"), request["form"].get("client_secret")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        request = self.record(body)
        path = self.path
        if path in TOKEN_PATHS:
            if path == "/slow-token":
                time.sleep(0.3)
            if path == "/gated-token":
                self.server.arrived.set()
                self.server.gate.wait(30)
            if self.credentials(request) != (CLIENT_ID, CLIENT_SECRET):
                error = {"error": "invalid_client", "error_description": "Invalid client"}
                return self.send(400, {}, json.dumps(error).encode())
            return self.send(*self.server.issue(request["form"].get("scope")))
        if path == "/api/upload":  # like GET /api/me; answers with the body it received
            with self.server.lock:
                known = {f"Bearer tok-{n}" for n in range(1, self.server.issued + 1)}
                known -= self.server.revoked
            if request["headers"].get("authorization") not in known:
                return self.send(401, {}, b'{"error":"invalid_token"}')
            return self.send(200, {}, json.dumps({"received": body.decode()}).encode())
        if path == "/dpop-token":  # a DPoP-bound token for a request with a proof
            if "dpop" not in request["headers"]:
                return self.send(400, {}, b'{"error":"invalid_dpop_proof"}')
            with self.server.lock:
                self.server.issued += 1
                body = {"access_token": f"dpop-{self.server.issued}", "token_type": "DPoP",
                        "expires_in": 3600}
            return self.send(200, {}, json.dumps(body).encode())
        if path == "/unauthorized":
            return self.send(401, {}, b'{"error":"invalid_client"}')
        if path == "/limited":
            return self.send(429, {"Retry-After": "7"}, b'{"error":"slow_down"}')
        if path == "/unavailable":
            return self.send(503, {}, b"")
        if path == "/teapot":
            return self.send(418, {}, b"I'm a teapot", "text/plain")
        if path == "/garbage":
            return self.send(200, {}, b"<html>hello</html>", "text/html")
        if path == "/stall":
            time.sleep(3)
            return self.send(*self.server.issue(None))
        return self.send(404, {}, b"")

    def do_GET(self):
        request = self.record(b"")
        auth = request["headers"].get("authorization")
        if self.path in ("/api/me", "/api/multi"):
            with self.server.lock:
                known = {f"Bearer tok-{n}" for n in range(1, self.server.issued + 1)}
                known -= self.server.revoked
            if auth not in known:
                return self.send(401, {"WWW-Authenticate": 'Bearer error="invalid_token"'},
                                 b'{"error":"invalid_token"}')
            if self.path == "/api/me":
                return self.send(200, {"X-Echo-Authorization": auth}, b'{"id": "me"}')
            body = json.dumps({"id": "me", "n": [1, 2]}).encode()
            self.send_response(200)
            for name, value in (("Content-Type", "application/json"), ("X-Dup", "one"),
                                ("Set-Cookie", "a=1"), ("x-dup", "two"),
                                ("Set-Cookie", "b=2; Path=/"),
                                ("Content-Length", str(len(body)))):
                self.send_header(name, value)
            self.end_headers()
            return self.wfile.write(body)
        if self.path.startswith("/api/dpop"):  # echoes the DPoP-bound request's headers
            ok = (auth or "").startswith("DPoP dpop-") and "dpop" in request["headers"]
            body = json.dumps({"authorization": auth, "dpop": request["headers"].get("dpop")})
            return self.send(200 if ok else 401, {}, body.encode())
        if self.path == "/api/never":
            return self.send(401, {}, b'{"error":"invalid_token"}')
        return self.send(404, {}, b"")


class EndpointTestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Endpoint()
        cls.thread = threading.Thread(target=cls.server.serve_forever, daemon=True)
        cls.thread.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()

    def config(self, path="/token", secret=CLIENT_SECRET, **settings):
        settings.setdefault("timeout_ms", 5000)
        return oauth2cc.Config(CLIENT_ID, secret, token_url=self.server.url(path), **settings)

    def raises(self, cls, path, **settings):
        with self.config(path, **settings) as config:
            with self.assertRaises(cls) as caught:
                oauth2cc.request_token(config)
        return caught.exception


class VersionTest(unittest.TestCase):
    def test_version_matches_cargo_toml(self):
        source = os.environ.get("OAUTH2CC_SOURCE_DIR") or os.path.join(HERE, "..", "..")
        with open(os.path.join(source, "Cargo.toml"), encoding="utf-8") as f:
            cargo_version = re.search(r'^version\s*=\s*"([^"]+)"', f.read(), re.M).group(1)
        self.assertEqual(oauth2cc.version(), cargo_version)

    def test_library_path_is_reported(self):
        self.assertTrue(os.path.exists(oauth2cc.library_path()), oauth2cc.library_path())


class RequestTokenTest(EndpointTestCase):
    def test_the_pytify_authorization(self):
        with self.config() as config, oauth2cc.request_token(config) as auth:
            self.assertRegex(auth.access_token, r"^tok-\d+$")
            self.assertEqual(auth.token_type, "Bearer")  # the server sent "bearer"
            self.assertEqual(auth.expires_in, 3600)
            self.assertIsNone(auth.scope)
            self.assertIsNone(auth.refresh_token)
            self.assertAlmostEqual(auth.expires_at, time.time() + 3600, delta=60)
            self.assertFalse(auth.is_expired())
            self.assertFalse(auth.is_expired(60))
            self.assertTrue(auth.is_expired(7200))
            self.assertEqual(auth.header(), "Bearer " + auth.access_token)
            # It unpacks like the Python pytify client's namedtuple...
            access_token, token_type, expires_in, scope, refresh_token = auth
            self.assertEqual((access_token, token_type, expires_in, scope, refresh_token),
                             (auth.access_token, "Bearer", 3600, None, None))
            # ...but its repr never shows the token.
            self.assertNotIn(auth.access_token, repr(auth))
            self.assertEqual(repr(auth), "Authorization(access_token=<hidden>, "
                             "token_type='Bearer', expires_in=3600, scope=None, "
                             "refresh_token=None)")
        request = self.server.token_requests()[-1]
        self.assertEqual(request["form"], {"grant_type": "client_credentials"})
        self.assertTrue(request["headers"]["authorization"].startswith("Basic "))
        self.assertEqual(request["headers"]["user-agent"], "oauth2cc/" + oauth2cc.version())

    def test_settings_reach_the_wire(self):
        with self.config(scope="user-read playlist", auth_style=oauth2cc.AuthStyle.POST_BODY,
                         params={"audience": "https://api.example.com"},
                         user_agent="pytify/1.0", retries=(2, 100), expiry_leeway=30,
                         connect_timeout_ms=2000) as config:
            auth = oauth2cc.request_token(config)
        self.assertEqual(auth.scope, "user-read playlist")
        request = self.server.token_requests()[-1]
        self.assertEqual(request["form"], {
            "grant_type": "client_credentials", "scope": "user-read playlist",
            "audience": "https://api.example.com",
            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
        self.assertNotIn("authorization", request["headers"])
        self.assertEqual(request["headers"]["user-agent"], "pytify/1.0")

    def test_an_unreachable_shared_cache_is_no_failure(self):
        # Loopback port 1: nobody listens; the client fetches directly.
        with self.config(shared_cache="redis://127.0.0.1:1") as config:
            with oauth2cc.Client(config) as client:
                self.assertTrue(client.token().access_token.startswith("tok-"))
            config.set_shared_cache(None)
            with self.assertRaises(oauth2cc.ConfigError) as caught:
                config.set_shared_cache("http://:py-pw@127.0.0.1")
        self.assertNotIn("py-pw", str(caught.exception))

    def test_clone_outlives_the_original(self):
        with self.config() as config:
            auth = oauth2cc.request_token(config)
        token = auth.access_token
        copy = auth.clone()
        auth.close()
        auth.close()  # idempotent
        self.assertEqual(copy.access_token, token)
        with self.assertRaises(oauth2cc.InvalidArgumentError):
            auth.access_token
        self.assertEqual(repr(auth), "Authorization(<closed>)")

    def test_config_from_file_and_from_env(self):
        path = os.path.join(HERE, f".test_config_{os.getpid()}.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                       "token_url": self.server.url("/token"), "scope": "file-scope"}, f)
        try:
            with oauth2cc.Config.from_file(path) as config:
                self.assertEqual(oauth2cc.request_token(config).scope, "file-scope")
        finally:
            os.remove(path)

        saved = {k: os.environ.get(k) for k in (
            "OAUTH2CC_CLIENT_ID", "OAUTH2CC_CLIENT_SECRET", "OAUTH2CC_TOKEN_URL",
            "OAUTH2CC_SCOPE")}
        os.environ.update(OAUTH2CC_CLIENT_ID=CLIENT_ID, OAUTH2CC_CLIENT_SECRET=CLIENT_SECRET,
                          OAUTH2CC_TOKEN_URL=self.server.url("/token"),
                          OAUTH2CC_SCOPE="env-scope")
        try:
            with oauth2cc.Config.from_env() as config:
                self.assertEqual(oauth2cc.request_token(config).scope, "env-scope")
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


class ErrorTest(EndpointTestCase):
    def test_bad_request_is_pytifys_bad_request_error(self):
        error = self.raises(oauth2cc.BadRequestError, "/token", secret="not-the-secret")
        self.assertIsInstance(error, oauth2cc.OAuth2ccError)
        self.assertEqual(error.status, 3)
        self.assertEqual(error.status_name, "OAUTH2CC_STATUS_BAD_REQUEST")
        self.assertEqual(error.http_status, 400)
        self.assertEqual(error.oauth_error, "invalid_client")
        self.assertEqual(error.description, "Invalid client")
        self.assertIsNone(error.error_uri)
        self.assertIsNone(error.retry_after)
        self.assertIn("Invalid client", str(error))
        self.assertEqual(str(error), error.message)
        self.assertNotIn("not-the-secret", str(error))

    def test_each_failure_has_its_exception(self):
        error = self.raises(oauth2cc.UnauthorizedError, "/unauthorized")
        self.assertEqual((error.http_status, error.oauth_error), (401, "invalid_client"))

        error = self.raises(oauth2cc.RateLimitedError, "/limited")
        self.assertEqual((error.http_status, error.retry_after), (429, 7))
        self.assertEqual(error.oauth_error, "slow_down")

        error = self.raises(oauth2cc.ServerError, "/unavailable")
        self.assertEqual((error.http_status, error.oauth_error), (503, None))

        error = self.raises(oauth2cc.HTTPStatusError, "/teapot")
        self.assertEqual(error.http_status, 418)

        error = self.raises(oauth2cc.InvalidResponseError, "/garbage")
        self.assertEqual(error.status_name, "OAUTH2CC_STATUS_INVALID_RESPONSE")

        started = time.monotonic()
        error = self.raises(oauth2cc.RequestTimeoutError, "/stall", timeout_ms=300)
        self.assertLess(time.monotonic() - started, 2.5)
        self.assertIsInstance(error, TimeoutError)

    def test_refused_connection_is_a_network_error(self):
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with oauth2cc.Config(CLIENT_ID, CLIENT_SECRET,
                             token_url=f"http://127.0.0.1:{port}/token") as config:
            with self.assertRaises(oauth2cc.NetworkError) as caught:
                oauth2cc.request_token(config)
        self.assertIsInstance(caught.exception, ConnectionError)
        self.assertEqual(caught.exception.http_status, 0)

    def test_bad_arguments_never_reach_the_server(self):
        before = len(self.server.token_requests())
        with self.assertRaises(oauth2cc.InvalidArgumentError) as caught:
            oauth2cc.Config("", CLIENT_SECRET)
        self.assertIsInstance(caught.exception, ValueError)
        self.assertIn("client_id", str(caught.exception))
        with self.assertRaises(oauth2cc.InvalidArgumentError):
            oauth2cc.Config(CLIENT_ID, "py-\0secret")
        with self.assertRaises(oauth2cc.InvalidArgumentError):
            oauth2cc.authenticate(CLIENT_ID, "")
        with self.assertRaises(TypeError):
            oauth2cc.Config(CLIENT_ID, 42)
        with self.assertRaises(TypeError):
            oauth2cc.Config(CLIENT_ID, CLIENT_SECRET, no_such_setting=1)
        with oauth2cc.Config(CLIENT_ID, CLIENT_SECRET) as config:
            with self.assertRaises(oauth2cc.ConfigError):
                config.set_token_url("http://example.com/token")  # http only to loopback
            with self.assertRaises(oauth2cc.InvalidArgumentError):
                config.add_param("grant_type", "password")
            with self.assertRaises(oauth2cc.InvalidArgumentError):
                config.set_auth_style(99)
            with self.assertRaises(oauth2cc.InvalidArgumentError):
                config.set_timeout_ms(-1)
        with self.assertRaises(oauth2cc.ConfigError) as caught:
            oauth2cc.Config.from_file("/nonexistent/oauth2cc.json")
        self.assertIn("/nonexistent/oauth2cc.json", str(caught.exception))
        closed = oauth2cc.Config(CLIENT_ID, CLIENT_SECRET)
        closed.close()
        with self.assertRaises(oauth2cc.InvalidArgumentError):
            oauth2cc.Client(closed)
        self.assertEqual(len(self.server.token_requests()), before)


class KeyAuthTest(EndpointTestCase):
    # The repository's test keys (OAUTH2CC_TEST_KEYS when the suite runs from a copy).
    KEYS = os.environ.get("OAUTH2CC_TEST_KEYS",
                          os.path.join(HERE, "..", "..", "tests", "data", "keys"))

    def assertion(self):
        """The last token request's client assertion, decoded: (header, claims, signed, sig)."""
        form = self.server.token_requests()[-1]["form"]
        self.assertEqual(form["client_assertion_type"],
                         "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        self.assertEqual(form["client_id"], CLIENT_ID)
        self.assertNotIn("client_secret", form)
        parts = form["client_assertion"].split(".")
        decode = lambda p: base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))
        return (json.loads(decode(parts[0])), json.loads(decode(parts[1])),
                (parts[0] + "." + parts[1]).encode(), decode(parts[2]))

    def test_private_key_jwt_without_a_secret(self):
        key = os.path.join(self.KEYS, "p256.pk8.pem")
        with self.config(secret=None) as config:
            config.set_private_key_file(key, "py-kid").set_jwt_audience("https://as.example")
            # The test endpoint knows only secrets: it refuses, after seeing the assertion.
            with self.assertRaises(oauth2cc.BadRequestError):
                oauth2cc.request_token(config)
        header, claims, _, _ = self.assertion()
        self.assertEqual(header, {"alg": "ES256", "typ": "JWT", "kid": "py-kid"})
        self.assertEqual((claims["iss"], claims["sub"], claims["aud"]),
                         (CLIENT_ID, CLIENT_ID, "https://as.example"))
        self.assertEqual(claims["exp"], claims["iat"] + 60)

    def test_client_secret_jwt_is_hs256_with_the_secret(self):
        import hashlib
        import hmac
        secret = "0123456789abcdef0123456789abcdef"
        with self.config(secret=secret, auth_style=oauth2cc.AuthStyle.CLIENT_SECRET_JWT) as c:
            with self.assertRaises(oauth2cc.BadRequestError):
                oauth2cc.request_token(c)
        header, claims, signed, sig = self.assertion()
        self.assertEqual(header, {"alg": "HS256", "typ": "JWT"})
        self.assertEqual(claims["aud"], self.server.url("/token"))
        self.assertEqual(sig, hmac.new(secret.encode(), signed, hashlib.sha256).digest())

    def test_refusals(self):
        with self.config() as config:
            with self.assertRaises(oauth2cc.ConfigError) as caught:
                config.set_private_key_file(os.path.join(self.KEYS, "p256.encrypted.pem"))
            self.assertIn("encrypted", str(caught.exception))
            config.set_private_key_pem(open(os.path.join(self.KEYS, "rsa2048.pk8.pem")).read())
            with self.assertRaises(oauth2cc.ConfigError):
                config.set_jwt_algorithm("EdDSA")
            with self.assertRaises(oauth2cc.InvalidArgumentError):
                config.set_jwt_algorithm("none")
            with self.assertRaises(TypeError):
                config.set_jwt_algorithm(256)
            config.set_jwt_algorithm("PS256").set_jwt_algorithm(None)
            cert = os.path.join(self.KEYS, "p256.cert.pem")
            with self.assertRaises(oauth2cc.ConfigError) as caught:
                config.set_client_certificate_file(cert, cert)
            self.assertIn("p256.cert.pem", str(caught.exception))
            config.set_client_certificate_file(cert, os.path.join(self.KEYS, "p256.pk8.pem"))
            with self.assertRaises(oauth2cc.ConfigError):
                config.set_issuer("http://example.com")
            config.set_issuer(self.server.url("")).set_issuer(None)


def jwt_parts(jwt):
    """A compact JWT's decoded header and claims."""
    decode = lambda p: json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    parts = jwt.split(".")
    return decode(parts[0]), decode(parts[1])


class IdentityTest(EndpointTestCase):
    KEYS = KeyAuthTest.KEYS

    def test_dpop_bound_token_header_and_proofs(self):
        import hashlib
        with self.config("/dpop-token", dpop=True) as config:
            with oauth2cc.Client(config) as client:
                header = client.authorization_header()
                self.assertTrue(header.startswith("DPoP dpop-"), header)
                with self.server.lock:
                    token_proof = [r for r in self.server.requests
                                   if r["path"] == "/dpop-token"][-1]["headers"]["dpop"]
                jwt_header, claims = jwt_parts(token_proof)
                self.assertEqual(jwt_header["typ"], "dpop+jwt")
                self.assertEqual(jwt_header["alg"], "ES256")
                self.assertEqual(sorted(jwt_header["jwk"]), ["crv", "kty", "x", "y"])
                self.assertEqual((claims["htm"], claims["htu"]),
                                 ("POST", self.server.url("/dpop-token")))
                response = client.get(self.server.url("/api/dpop?x=1"))
                self.assertEqual(response.status, 200)
                sent = json.loads(response.body)
                _, claims = jwt_parts(sent["dpop"])
                token = header[len("DPoP "):]
                ath = base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest())
                self.assertEqual(claims["ath"], ath.decode().rstrip("="))
                self.assertEqual(claims["htu"], self.server.url("/api/dpop"))
                proof = client.dpop_proof("PUT", self.server.url("/api/dpop"), token)
                _, claims = jwt_parts(proof)
                self.assertEqual(claims["htm"], "PUT")
                self.assertEqual(claims["ath"], ath.decode().rstrip("="))
        with self.config() as config:
            config.set_dpop_key_file(os.path.join(self.KEYS, "ed25519.pk8.pem")).set_dpop(False)
            with oauth2cc.Client(config) as client:
                with self.assertRaises(oauth2cc.ConfigError):
                    client.dpop_proof("GET", self.server.url("/api/dpop"))
            with self.assertRaises(TypeError):
                config.set_dpop(1)

    def test_jwt_bearer_grant(self):
        with self.config(secret=None) as config:
            config.set_private_key_file(os.path.join(self.KEYS, "p256.pk8.pem"), "kid-1")
            config.set_jwt_bearer("user@example.com").set_scope("api")
            with self.assertRaises(oauth2cc.BadRequestError):  # the endpoint knows secrets
                oauth2cc.request_token(config)
        form = self.server.token_requests()[-1]["form"]
        self.assertEqual(form["grant_type"], "urn:ietf:params:oauth:grant-type:jwt-bearer")
        self.assertEqual(form["scope"], "api")
        header, claims = jwt_parts(form["assertion"])
        self.assertEqual(header["kid"], "kid-1")
        self.assertEqual((claims["iss"], claims["sub"]), (CLIENT_ID, "user@example.com"))

    def test_client_assertion_file_is_read_at_each_request(self):
        import tempfile
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "token")
            with self.config(secret=None) as config:
                config.set_client_assertion_file(path)
                with self.assertRaises(oauth2cc.ConfigError) as caught:
                    oauth2cc.request_token(config)
                self.assertIn(path, str(caught.exception))
                for jwt in ("eyJhbGciOiJSUzI1NiJ9.eyJuIjoxfQ.c2lnMQ",
                            "eyJhbGciOiJSUzI1NiJ9.eyJuIjoyfQ.c2lnMg"):
                    with open(path, "w") as f:
                        f.write(jwt + "\n")
                    with self.assertRaises(oauth2cc.BadRequestError):
                        oauth2cc.request_token(config)
                    form = self.server.token_requests()[-1]["form"]
                    self.assertEqual(form["client_assertion"], jwt)
                    self.assertEqual(form["client_id"], CLIENT_ID)


class ClientTest(EndpointTestCase):
    def test_caches_refreshes_and_gets(self):
        before = len(self.server.token_requests())
        with self.config() as config:
            client = oauth2cc.Client(config)
        with client:
            first = client.token()
            self.assertEqual(client.token().access_token, first.access_token)
            self.assertEqual(len(self.server.token_requests()), before + 1)

            response = client.get(self.server.url("/api/me"))
            self.assertEqual(response.status, 200)
            self.assertEqual(response.body, b'{"id": "me"}')
            self.assertEqual(json.loads(response.text()), {"id": "me"})
            self.assertEqual(response.header("x-echo-authorization"), first.header())
            self.assertEqual(response.header("CONTENT-TYPE"), "application/json")
            self.assertIsNone(response.header("x-missing"))
            self.assertEqual(repr(response), "Response(status=200)")

            client.invalidate()
            second = client.token()
            self.assertNotEqual(second.access_token, first.access_token)
            self.assertEqual(first.token_type, "Bearer")  # handed-out tokens stay valid
            self.assertEqual(len(self.server.token_requests()), before + 2)
            with self.assertRaises(oauth2cc.ConfigError):
                client.get("ftp://127.0.0.1/x")
        with self.assertRaises(oauth2cc.InvalidArgumentError):
            client.token()

    def test_request_header_hot_path_stats_and_log(self):
        lines = []
        with self.config() as config:
            config.set_log(lambda level, message: lines.append((level, message)), oauth2cc.LOG_DEBUG)
            client = oauth2cc.Client(config)
        with client:
            header = client.authorization_header()
            self.assertTrue(header.startswith("Bearer tok-"), header)
            self.assertEqual(client.authorization_header(), header)
            response = client.request("GET", self.server.url("/api/me"),
                                      headers={"Accept": "application/json"})
            self.assertEqual(response.status, 200)
            self.assertEqual(response.header("x-echo-authorization"), header)
            with self.assertRaises(oauth2cc.InvalidArgumentError):
                client.request("GET", self.server.url("/api/me"),
                               headers=["Authorization: Bearer mine"])
            with self.assertRaises(oauth2cc.InvalidArgumentError):
                client.request("GE T", self.server.url("/api/me"))
            with self.assertRaises(TypeError):
                client.request("POST", self.server.url("/api/me"), body=12)
            stats = client.stats()
            self.assertEqual(stats["token_requests"], 1)
            self.assertEqual(stats["tokens_issued"], 1)
            self.assertGreaterEqual(stats["cache_hits"], 2)
            self.assertEqual(stats["last_error_status"], 0)
            self.assertGreater(stats["token_expires_at"], time.time())
        levels = {level for level, _ in lines}
        self.assertIn(oauth2cc.LOG_DEBUG, levels)
        self.assertIn(oauth2cc.LOG_INFO, levels)
        for _, message in lines:
            self.assertNotIn(CLIENT_SECRET, message)
            self.assertNotIn(header.split(" ", 1)[1], message)
        with self.config() as config:
            with self.assertRaises(TypeError):
                config.set_background_refresh(1)
            config.set_background_refresh(True).set_background_refresh(False)
            with self.assertRaises(oauth2cc.InvalidArgumentError):
                config.set_log(print, 9)

    def test_threads_share_one_refresh(self):
        before = len(self.server.token_requests())
        with self.config("/slow-token") as config, oauth2cc.Client(config) as client:
            tokens, errors = [], []

            def worker():
                try:
                    tokens.append(client.token().access_token)
                except Exception as e:  # reported below
                    errors.append(e)

            threads = [threading.Thread(target=worker) for _ in range(16)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
        self.assertEqual(errors, [])
        self.assertEqual(len(tokens), 16)
        self.assertEqual(len(set(tokens)), 1, tokens)
        self.assertEqual(len(self.server.token_requests()), before + 1)


class ResponseTest(EndpointTestCase):
    def get(self, path):
        with self.config() as config, oauth2cc.Client(config) as client:
            return client.get(self.server.url(path))

    def test_json(self):
        with self.get("/api/multi") as response:
            self.assertEqual(response.json(), {"id": "me", "n": [1, 2]})
            self.assertEqual(response.json(parse_int=str), {"id": "me", "n": ["1", "2"]})
        with self.get("/api/nothing-here") as response:
            self.assertEqual((response.status, response.body), (404, b""))
            with self.assertRaises(json.JSONDecodeError):
                response.json()

    def test_headers(self):
        self.assertEqual(oauth2cc.HEADERS_LISTABLE,
                         hasattr(oauth2cc._lib, "oauth2cc_response_header_at"))
        with self.get("/api/multi") as response:
            headers = response.headers
            self.assertIsInstance(headers, oauth2cc.Headers)
            self.assertEqual(headers["content-type"], "application/json")
            self.assertEqual(headers["X-DUP"], "one")
            self.assertEqual(headers.get("x-dup"), response.header("x-dup"))
            self.assertIn("Set-Cookie", headers)
            self.assertNotIn("x-missing", headers)
            self.assertNotIn(42, headers)
            self.assertIsNone(headers.get("x-missing"))
            self.assertEqual(headers.get_all("x-missing"), [])
            with self.assertRaises(KeyError):
                headers["x-missing"]
            if oauth2cc.HEADERS_LISTABLE:
                self.assertEqual(headers.get_all("x-dup"), ["one", "two"])
                self.assertEqual(headers.get_all("set-cookie"), ["a=1", "b=2; Path=/"])
                pairs = [(name.lower(), value) for name, value in headers.multi_items()]
                # Grouped by name, names in the order they first came, each name's values in
                # the order they came (what the C API gives: see oauth2cc_response_header_at).
                self.assertEqual([p for p in pairs if p[0] in ("x-dup", "set-cookie")],
                                 [("x-dup", "one"), ("x-dup", "two"), ("set-cookie", "a=1"),
                                  ("set-cookie", "b=2; Path=/")])
                names = [name.lower() for name in headers]
                self.assertEqual(len(names), len(set(names)))
                self.assertEqual(len(headers), len(names))
                self.assertTrue({"content-type", "x-dup", "set-cookie",
                                 "content-length"} <= set(names), names)
                self.assertEqual(dict(headers)["content-length"], str(len(response.body)))
            else:
                # This library answers lookups by name only: the first value of each.
                self.assertEqual(headers.get_all("x-dup"), ["one"])
                self.assertEqual(headers.get_all("SET-COOKIE"), ["a=1"])
                for listing in (list, len, dict, lambda h: h.multi_items()):
                    with self.assertRaisesRegex(oauth2cc.HeadersNotListableError,
                                                "oauth2cc_response_header_at"):
                        listing(headers)
                self.assertEqual(repr(headers), "Headers(<look up by name>)")


class HeaderListingTest(EndpointTestCase):
    """Response.headers over oauth2cc_response_header_count/_at, played by Python callbacks
    with those C signatures (libraries without the exports cannot list; the listing code is
    checked here whatever the loaded library has)."""

    PAIRS = [(b"Content-Type", b"application/json"), (b"X-Dup", b"one"),
             (b"Set-Cookie", b"a=1"), (b"x-dup", b"two"), (b"Caf\xc3\xa9", b"cr\xc3\xa8me")]

    @contextlib.contextmanager
    def listing_exports(self, count, at):
        """The two exports, as ``count(response)`` and ``at(response, i, &name, &value)``."""
        saved = {name: getattr(oauth2cc._lib, name, None)
                 for name in oauth2cc._OPTIONAL_SIGNATURES}
        listable = oauth2cc.HEADERS_LISTABLE
        try:
            for name, function in zip(saved, (count, at)):
                restype, argtypes = oauth2cc._OPTIONAL_SIGNATURES[name]
                setattr(oauth2cc._lib, name, ctypes.CFUNCTYPE(restype, *argtypes)(function))
            oauth2cc.HEADERS_LISTABLE = True
            yield
        finally:
            oauth2cc.HEADERS_LISTABLE = listable
            for name, original in saved.items():
                if original is None:
                    delattr(oauth2cc._lib, name)
                else:
                    setattr(oauth2cc._lib, name, original)

    def response(self):
        with self.config() as config, oauth2cc.Client(config) as client:
            return client.get(self.server.url("/api/me"))

    def test_listing_keeps_every_value_in_order(self):
        calls = []

        def count(response):
            calls.append("count")
            return len(self.PAIRS)

        def at(response, index, name, value):
            calls.append(index)
            name[0], value[0] = self.PAIRS[index]  # the bytes stay alive in PAIRS
            return 0

        response = self.response()
        with self.listing_exports(count, at):
            headers = response.headers
        self.assertEqual(calls, ["count", 0, 1, 2, 3, 4])  # read once, when made
        response.close()  # the mapping is a copy: it outlives the response
        self.assertEqual(headers.multi_items(),
                         [("Content-Type", "application/json"), ("X-Dup", "one"),
                          ("Set-Cookie", "a=1"), ("x-dup", "two"), ("Café", "crème")])
        self.assertEqual(list(headers), ["Content-Type", "X-Dup", "Set-Cookie", "Café"])
        self.assertEqual(len(headers), 4)
        self.assertEqual(headers["x-DUP"], "one")
        self.assertEqual(headers.get_all("X-Dup"), ["one", "two"])
        self.assertEqual(headers.get_all("café"), ["crème"])
        self.assertEqual(dict(headers), {"Content-Type": "application/json", "X-Dup": "one",
                                         "Set-Cookie": "a=1", "Café": "crème"})
        self.assertNotIn("x-missing", headers)
        self.assertTrue(repr(headers).startswith("Headers([('Content-Type', "), repr(headers))

    def test_a_failing_export_raises_its_status(self):
        with self.response() as response:
            with self.listing_exports(lambda r: 2, lambda r, i, name, value: 1):
                with self.assertRaises(oauth2cc.InvalidArgumentError):
                    response.headers


try:
    import requests
except ImportError:
    requests = None


class BearerAuthTest(EndpointTestCase):
    """oauth2cc.requests.BearerAuth, with the requests library when it is installed."""

    if requests is None:
        def test_needs_requests(self):
            with self.assertRaisesRegex(ImportError, "requests"):
                import oauth2cc.requests  # noqa: F401
    else:
        def setUp(self):
            from oauth2cc.requests import BearerAuth
            self.config_ = self.config()
            self.client = oauth2cc.Client(self.config_)
            self.session = requests.Session()
            self.session.trust_env = False  # loopback only: no proxy from the environment
            self.session.auth = BearerAuth(self.client)
            self.addCleanup(self.session.close)
            self.addCleanup(self.client.close)
            self.addCleanup(self.config_.close)

        def revoke(self, header):
            with self.server.lock:
                self.server.revoked.add(header)

        def api_requests(self, path):
            with self.server.lock:
                return [r for r in self.server.requests if r["path"] == path]

        def test_attaches_the_clients_token(self):
            before = len(self.server.token_requests())
            response = self.session.get(self.server.url("/api/me"), timeout=10)
            self.assertEqual((response.status_code, response.json()), (200, {"id": "me"}))
            sent = self.api_requests("/api/me")[-1]["headers"]["authorization"]
            self.assertEqual(sent, self.client.token().header())
            self.assertEqual(response.headers["X-Echo-Authorization"], sent)
            self.assertEqual(response.history, [])
            self.session.get(self.server.url("/api/me"), timeout=10)
            self.assertEqual(len(self.server.token_requests()), before + 1)  # cached

        def test_a_401_refreshes_and_resends_once(self):
            first = self.client.token().header()
            with self.server.lock:
                self.server.revoked.add(first)
            seen = []
            before_tokens = len(self.server.token_requests())
            before_api = len(self.api_requests("/api/multi"))
            response = self.session.get(self.server.url("/api/multi"), timeout=10,
                                        hooks={"response": lambda r, **kw: seen.append(r)})
            self.assertEqual(response.status_code, 200)
            self.assertEqual(response.json(), {"id": "me", "n": [1, 2]})
            self.assertEqual([r.status_code for r in response.history], [401])
            self.assertEqual(seen, [response])  # the caller's hook saw the final answer once
            sent = [r["headers"]["authorization"] for r in self.api_requests("/api/multi")]
            self.assertEqual(len(sent), before_api + 2)
            second = self.client.token().header()
            self.assertEqual(sent[-2:], [first, second])
            self.assertNotEqual(first, second)
            self.assertEqual(len(self.server.token_requests()), before_tokens + 1)
            self.assertEqual(response.request.headers["Authorization"], second)

        def test_a_second_401_is_returned(self):
            before_tokens = len(self.server.token_requests())
            before_api = len(self.api_requests("/api/never"))
            response = self.session.get(self.server.url("/api/never"), timeout=10)
            self.assertEqual(response.status_code, 401)
            self.assertEqual([r.status_code for r in response.history], [401])
            self.assertEqual(len(self.api_requests("/api/never")), before_api + 2)
            # One token for the first try, one refresh for the resend; no more.
            self.assertEqual(len(self.server.token_requests()), before_tokens + 2)

        def test_a_token_already_replaced_is_not_invalidated_again(self):
            old = self.client.token().header()
            with self.server.lock:
                self.server.revoked.add(old)
            request = requests.Request("GET", self.server.url("/api/me")).prepare()
            request = self.session.auth(request)  # carries the old token
            self.client.invalidate()
            current = self.client.token().header()  # another thread's refresh, say
            before_tokens = len(self.server.token_requests())
            response = self.session.send(request, timeout=10)
            self.assertEqual(response.status_code, 200)
            self.assertEqual([r.status_code for r in response.history], [401])
            self.assertEqual(response.request.headers["Authorization"], current)
            self.assertEqual(len(self.server.token_requests()), before_tokens)

        def test_a_stream_body_is_rewound_and_an_iterator_is_not_resent(self):
            url = self.server.url("/api/upload")
            stream = io.BytesIO(b"skip:payload")
            stream.seek(5)
            self.revoke(self.client.token().header())
            response = self.session.post(url, data=stream, timeout=10)
            self.assertEqual(response.status_code, 200)
            self.assertEqual(response.json(), {"received": "payload"})
            self.assertEqual([r.status_code for r in response.history], [401])
            self.assertEqual([r["form"] for r in self.api_requests("/api/upload")[-2:]],
                             [{"payload": ""}, {"payload": ""}])  # sent whole, twice

            self.revoke(self.client.token().header())
            before_tokens = len(self.server.token_requests())
            before_api = len(self.api_requests("/api/upload"))
            chunks = (part for part in (b"pay", b"load"))
            response = self.session.post(url, data=chunks, timeout=10)
            self.assertEqual((response.status_code, response.history), (401, []))
            self.assertEqual(len(self.api_requests("/api/upload")), before_api + 1)
            self.assertEqual(len(self.server.token_requests()), before_tokens)

        def test_a_token_failure_raises_the_oauth2cc_exception(self):
            from oauth2cc.requests import BearerAuth
            with self.config(secret="wrong") as config, oauth2cc.Client(config) as client:
                with self.assertRaises(oauth2cc.BadRequestError):
                    requests.get(self.server.url("/api/me"), auth=BearerAuth(client),
                                 timeout=10)


class CloseTest(EndpointTestCase):
    """close() never frees a C handle under a call that another thread is making with it."""

    def test_client_close_waits_for_the_token_call_in_flight(self):
        self.server.gate.clear()
        self.server.arrived.clear()
        with self.config("/gated-token") as config:
            client = oauth2cc.Client(config)
        tokens, errors, answered_when_closed = [], [], []

        def call_token():
            try:
                with client.token() as auth:
                    tokens.append(auth.access_token)
            except Exception as e:  # reported below
                errors.append(e)

        def close():
            client.close()
            answered_when_closed.append(self.server.gate.is_set())

        caller = threading.Thread(target=call_token, daemon=True)
        closer = threading.Thread(target=close, daemon=True)
        try:
            caller.start()
            self.assertTrue(self.server.arrived.wait(10), "token() never reached the endpoint")
            closer.start()
            closer.join(0.3)
            self.assertTrue(closer.is_alive(), "close() returned under a token() in flight")
        finally:
            self.server.gate.set()  # the endpoint answers now
        caller.join(10)
        closer.join(10)
        self.assertFalse(caller.is_alive() or closer.is_alive(), "token() or close() hangs")
        self.assertEqual(errors, [])
        self.assertEqual(len(tokens), 1)
        self.assertRegex(tokens[0], r"^tok-\d+$")
        self.assertEqual(answered_when_closed, [True])
        for call in (client.token, client.invalidate, lambda: client.get("http://127.0.0.1/")):
            with self.assertRaisesRegex(ValueError, "^Client is closed$"):
                call()
        client.close()  # idempotent

    def test_every_handle_type_closes_once_and_then_refuses(self):
        with self.config() as config:
            client = oauth2cc.Client(config)
            auth = oauth2cc.request_token(config)
        response = client.get(self.server.url("/api/me"))
        uses = {
            "Config": (config, lambda: config.set_scope("x")),
            "Client": (client, client.token),
            "Authorization": (auth, lambda: auth.access_token),
            "Response": (response, lambda: response.body),
        }
        for kind, (handle, use) in uses.items():
            with self.subTest(kind):
                handle.close()
                handle.close()
                self.assertTrue(handle._handle.closed)
                self.assertEqual(repr(handle), f"{kind}(<closed>)")
                with self.assertRaisesRegex(oauth2cc.InvalidArgumentError, f"^{kind} is closed$"):
                    use()

    def test_garbage_collection_and_with_blocks_close(self):
        with self.config() as config:
            guard = config._handle
            self.assertFalse(guard.closed)
        self.assertTrue(guard.closed)
        config = self.config()
        guard = config._handle
        del config
        gc.collect()
        self.assertTrue(guard.closed)


class HandleGuardTest(unittest.TestCase):
    """The one guard behind every handle class, with a stand-in for the C free function."""

    def guard(self):
        freed = []
        return oauth2cc._HandleGuard("Thing", ctypes.c_void_p(0x1234), freed.append), freed

    def hold(self, guard, exclusive=False):
        """A thread inside ``guard.use()`` until the returned event is set."""
        entered, release = threading.Event(), threading.Event()

        def run():
            with guard.use(exclusive=exclusive):
                entered.set()
                release.wait(10)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.assertTrue(entered.wait(10))
        return thread, release

    def test_close_waits_for_calls_in_flight_then_frees_once(self):
        guard, freed = self.guard()
        holders = [self.hold(guard) for _ in range(3)]  # shared uses run side by side
        closers = [threading.Thread(target=guard.close, daemon=True) for _ in range(2)]
        for closer in closers:
            closer.start()
        time.sleep(0.2)
        self.assertTrue(all(closer.is_alive() for closer in closers))
        self.assertEqual(freed, [])
        with self.assertRaisesRegex(ValueError, "^Thing is closed$"):
            with guard.use():
                pass
        for thread, release in holders:
            release.set()
            thread.join(10)
        for closer in closers:
            closer.join(10)
            self.assertFalse(closer.is_alive())
        self.assertEqual([p.value for p in freed], [0x1234])
        guard.close()
        self.assertEqual(len(freed), 1)

    def test_an_exclusive_use_waits_for_the_shared_ones_and_blocks_new_ones(self):
        guard, _ = self.guard()
        reader, release_reader = self.hold(guard)
        order = []

        def write():
            with guard.use(exclusive=True):
                order.append("write")

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        time.sleep(0.2)
        self.assertEqual(order, [])
        release_reader.set()
        reader.join(10)
        writer.join(10)
        self.assertEqual(order, ["write"])

        holder, release = self.hold(guard, exclusive=True)
        reader = threading.Thread(target=write, daemon=True)
        reader.start()
        time.sleep(0.2)
        self.assertEqual(order, ["write"])
        release.set()
        holder.join(10)
        reader.join(10)
        self.assertEqual(order, ["write", "write"])

    def test_a_null_handle_is_closed_from_the_start(self):
        freed = []
        guard = oauth2cc._HandleGuard("Thing", ctypes.c_void_p(), freed.append)
        self.assertTrue(guard.closed)
        guard.close()
        self.assertEqual(freed, [])


class IntegerArgumentTest(unittest.TestCase):
    """Integers handed to C are range-checked ints: no float, str or bool coercion."""

    NOT_INTEGERS = (1.9, 5.0, "5", b"5", True, False, None, [5])

    def assert_checked(self, call, name, largest):
        for value in self.NOT_INTEGERS:
            with self.subTest(name, value=value):
                with self.assertRaisesRegex(TypeError, f"^{name} must be an int"):
                    call(value)
        for value in (-1, -(2 ** 64), largest + 1, largest + 6, 2 ** 64 + 5, 2 ** 200):
            with self.subTest(name, value=value):
                with self.assertRaisesRegex(ValueError, f"^{name} must be between 0 and "
                                                        f"{largest}, not {value}$"):
                    call(value)
        call(largest)

    def test_config_setters(self):
        u32, size_t = 2 ** 32 - 1, 2 ** (8 * ctypes.sizeof(ctypes.c_size_t)) - 1
        with oauth2cc.Config(CLIENT_ID, CLIENT_SECRET) as config:
            self.assert_checked(config.set_timeout_ms, "timeout_ms", u32)
            self.assert_checked(config.set_connect_timeout_ms, "connect_timeout_ms", u32)
            self.assert_checked(config.set_expiry_leeway, "expiry_leeway", u32)
            self.assert_checked(config.set_max_response_bytes, "max_response_bytes", size_t)
            self.assert_checked(config.set_min_refresh_interval_ms, "min_refresh_interval_ms", u32)
            self.assert_checked(config.set_unauthorized_refresh_interval_ms,
                                "unauthorized_refresh_interval_ms", u32)
            self.assert_checked(lambda n: config.set_retries(n, 0), "max_retries", u32)
            self.assert_checked(lambda n: config.set_retries(0, n), "max_wait_ms", u32)
            for value in self.NOT_INTEGERS:
                with self.assertRaisesRegex(TypeError, "^auth_style must be an int"):
                    config.set_auth_style(value)
            with self.assertRaisesRegex(ValueError, "^auth_style must be between"):
                config.set_auth_style(2 ** 32)
            config.set_auth_style(oauth2cc.AuthStyle.AUTO)
        with self.assertRaisesRegex(TypeError, "^timeout_ms must be an int"):
            oauth2cc.Config(CLIENT_ID, CLIENT_SECRET, timeout_ms="5")
        with self.assertRaisesRegex(ValueError, "^max_response_bytes must be between"):
            oauth2cc.Config(CLIENT_ID, CLIENT_SECRET, max_response_bytes=2 ** 64 + 5)

    def test_int_like_values_are_accepted(self):
        class Index:
            def __index__(self):
                return 7

        with oauth2cc.Config(CLIENT_ID, CLIENT_SECRET) as config:
            config.set_timeout_ms(Index())
            config.set_max_response_bytes(1)


class LibraryLookupTest(unittest.TestCase):
    """Which file the binding loads, for every platform, without needing that platform."""

    def test_file_name_per_platform(self):
        self.assertEqual(oauth2cc._library_file_name("win32"), "oauth2cc.dll")
        self.assertEqual(oauth2cc._library_file_name("darwin"), "liboauth2cc.dylib")
        self.assertEqual(oauth2cc._library_file_name("linux"), "liboauth2cc.so")
        self.assertEqual(oauth2cc._library_file_name("freebsd14"), "liboauth2cc.so")
        self.assertEqual(oauth2cc._library_file_name(),
                         oauth2cc._library_file_name(sys.platform))

    def test_lookup_order(self):
        with tempfile.TemporaryDirectory() as repo:
            module_dir = os.path.join(repo, "bindings", "python", "oauth2cc")
            os.makedirs(module_dir)
            system = []

            def find(platform, environ=None):
                return oauth2cc._find_library(
                    platform=platform, environ=environ or {}, module_dir=module_dir,
                    find_system=lambda name: system[0] if system else None)

            def touch(*parts):
                path = os.path.join(repo, *parts)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                open(path, "wb").close()
                return path

            with self.assertRaisesRegex(OSError, "oauth2cc.dll"):
                find("win32")
            system.append("C:\\Windows\\System32\\oauth2cc.dll")
            self.assertEqual(find("win32"), system[0])
            touch("target", "debug", "liboauth2cc.so")
            self.assertEqual(find("win32"), system[0])  # another platform's file
            debug = touch("target", "debug", "oauth2cc.dll")
            self.assertEqual(find("win32"), debug)
            release = touch("target", "release", "oauth2cc.dll")
            os.utime(debug, (1, 1))
            self.assertEqual(find("win32"), release)  # the newer build
            beside = touch("bindings", "python", "oauth2cc", "oauth2cc.dll")
            self.assertEqual(find("win32"), beside)
            self.assertEqual(find("win32", {"OAUTH2CC_LIBRARY": "/x/oauth2cc.dll"}),
                             "/x/oauth2cc.dll")
            dylib = touch("target", "release", "liboauth2cc.dylib")
            self.assertEqual(find("darwin"), dylib)


class WordingTest(unittest.TestCase):
    def test_user_facing_text_names_the_python_client(self):
        # Docs, messages and test names say "the Python pytify client", not the design
        # notes' word for it (spelt in pieces below so that this file passes).
        forbidden = re.compile(r"\bthe[\s_]+" + "seed" + r"|\b" + "seed" + r"'?s\b", re.I)
        # This folder's files and the package's, wherever it was imported from.
        package = os.path.dirname(os.path.abspath(oauth2cc.__file__))
        files = [os.path.join(folder, name)
                 for folder in sorted({HERE, package}) for name in sorted(os.listdir(folder))
                 if name.endswith((".py", ".pyi", ".toml", ".md"))]
        self.assertIn(os.path.join(package, "__init__.py"), files)
        for path in files:
            with open(path, encoding="utf-8") as f:
                text = f.read()
            for found in forbidden.finditer(text):
                line = text.count("\n", 0, found.start()) + 1
                self.fail(f"{path}:{line}: {found.group(0)!r}")


class ExampleTest(EndpointTestCase):
    def run_example(self, *args, **env):
        child_env = {k: v for k, v in os.environ.items()
                     if not k.startswith(("OAUTH2CC_CLIENT", "OAUTH2CC_TOKEN", "OAUTH2CC_SCOPE",
                                          "SPOTIFY_"))}
        child_env.update(env)
        return subprocess.run([sys.executable, os.path.join(HERE, "example.py"), *args],
                              env=child_env, capture_output=True, text=True, timeout=60)

    def test_prints_the_pytify_authorization(self):
        done = self.run_example(OAUTH2CC_CLIENT_ID=CLIENT_ID,
                                OAUTH2CC_CLIENT_SECRET=CLIENT_SECRET,
                                OAUTH2CC_TOKEN_URL=self.server.url("/token"))
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertRegex(done.stdout, r"^Authorization\(access_token='tok-\d+', "
                         r"token_type='Bearer', expires_in=3600, scope=None, "
                         r"refresh_token=None\)\n$")
        self.assertEqual(done.stderr, "")

    def test_reports_the_bad_request(self):
        done = self.run_example(OAUTH2CC_CLIENT_ID=CLIENT_ID,
                                OAUTH2CC_CLIENT_SECRET="wrong-secret-4711",
                                OAUTH2CC_TOKEN_URL=self.server.url("/token"))
        self.assertEqual(done.returncode, 1)
        self.assertEqual(done.stdout, "")
        lines = done.stderr.splitlines()
        self.assertTrue(lines[0].startswith("oauth2cc: OAUTH2CC_STATUS_BAD_REQUEST: "), lines)
        self.assertEqual(lines[1:], ["error=invalid_client description=Invalid client"])
        self.assertNotIn("wrong-secret-4711", done.stderr)

    def test_usage(self):
        done = self.run_example("--help")
        self.assertEqual(done.returncode, 2)
        self.assertTrue(done.stderr.startswith("usage: "), done.stderr)


if __name__ == "__main__":
    unittest.main()
