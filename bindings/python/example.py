#!/usr/bin/env python3
"""Get an OAuth 2.0 access token with the client credentials grant and print it the way the
Python pytify client's REPL showed its Authorization tuple (the Python twin of examples/client_credentials.c):

    Authorization(access_token='...', token_type='Bearer', expires_in=3600, scope=None, refresh_token=None)

Where the credentials come from, first match wins:
    example.py CONFIG.json          a JSON config file (see oauth2cc_config_from_file)
    OAUTH2CC_CLIENT_ID, OAUTH2CC_CLIENT_SECRET [, OAUTH2CC_TOKEN_URL, OAUTH2CC_SCOPE]
    SPOTIFY_CLIENT_ID, SPOTIFY_CLIENT_SECRET   Spotify's accounts service, every default

On failure it prints the status name and the message to stderr, then the server's
error/description and Retry-After when there are any, and exits 1.

Try it offline against the bundled stand-in for Spotify's endpoint:
    cargo run --example token_endpoint &         # listens on 127.0.0.1:8787
    OAUTH2CC_CLIENT_ID=oauth2cc-demo-client OAUTH2CC_CLIENT_SECRET=oauth2cc-demo-secret \\
    OAUTH2CC_TOKEN_URL=http://127.0.0.1:8787/api/token python3 bindings/python/example.py
"""

import os
import sys

import oauth2cc


def load_config(argv):
    if len(argv) == 2:
        return oauth2cc.Config.from_file(argv[1])
    env = os.environ
    if (not env.get("OAUTH2CC_CLIENT_ID") and not env.get("OAUTH2CC_CLIENT_SECRET")
            and env.get("SPOTIFY_CLIENT_ID") and env.get("SPOTIFY_CLIENT_SECRET")):
        config = oauth2cc.Config(env["SPOTIFY_CLIENT_ID"], env["SPOTIFY_CLIENT_SECRET"])
        config.set_token_url(oauth2cc.SPOTIFY_TOKEN_URL)
        return config
    return oauth2cc.Config.from_env()


def print_failure(error):
    print(f"oauth2cc: {error.status_name}: {error.message}", file=sys.stderr)
    details = [f"{name}={value}" for name, value in (
        ("error", error.oauth_error), ("description", error.description),
        ("uri", error.error_uri)) if value is not None]
    if details:
        print(" ".join(details), file=sys.stderr)
    if error.retry_after is not None:
        print(f"Retry-After: {error.retry_after}", file=sys.stderr)


def main(argv):
    if len(argv) > 2 or (len(argv) == 2 and argv[1].startswith("-")):
        print(f"usage: {argv[0]} [CONFIG.json]\n"
              "  without a file: OAUTH2CC_CLIENT_ID, OAUTH2CC_CLIENT_SECRET [, OAUTH2CC_TOKEN_URL,\n"
              "  OAUTH2CC_SCOPE], or SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET", file=sys.stderr)
        return 2
    try:
        with load_config(argv) as config, oauth2cc.request_token(config) as auth:
            access_token, token_type, expires_in, scope, refresh_token = auth
            print(f"Authorization(access_token={access_token!r}, token_type={token_type!r}, "
                  f"expires_in={expires_in!r}, scope={scope!r}, refresh_token={refresh_token!r})")
    except oauth2cc.OAuth2ccError as error:
        print_failure(error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
