#!/usr/bin/env python3
"""The seed's client-credentials fetch (pytify/auth/auth.py in the seed text), kept as the
seed wrote it: requests.post with a Basic header built by base64, then json.loads of the body.

Differences from the seed, all needed to point it at the benchmark's endpoint:
  * the token URL, client id and secret come from the environment (OAUTH2CC_TOKEN_URL,
    OAUTH2CC_CLIENT_ID, OAUTH2CC_CLIENT_SECRET) instead of a hard-coded Spotify URL and a
    config file;
  * for https, the run's CA is trusted through REQUESTS_CA_BUNDLE, which requests.post honours.

    seed_token.py              fetch one token, print it (whole-process benchmark)
    seed_token.py --loop N     time N fetches in this process (each a fresh requests.post, so a
                               fresh connection, as the seed does) and print one JSON line:
                               {"name":..., "unit":"us", "median":..., "p10":..., "p90":..., "n":...}
"""

import base64
import json
import os
import sys
import time
from collections import namedtuple

import requests

Authorization = namedtuple(
    "Authorization",
    ["access_token", "token_type", "expires_in", "scope", "refresh_token"],
)
Config = namedtuple("Config", ["client_id", "client_secret", "access_token_url"])


class BadRequestError(Exception):
    pass


def get_auth_key(client_id, client_secret):
    byte_keys = bytes(f"{client_id}:{client_secret}", "utf-8")
    encoded_key = base64.b64encode(byte_keys)
    return encoded_key.decode("utf-8")


def _client_credentials(conf):
    auth_key = get_auth_key(conf.client_id, conf.client_secret)

    headers = {
        "Authorization": f"Basic {auth_key}",
    }

    options = {
        "grant_type": "client_credentials",
        "json": True,
    }

    response = requests.post(conf.access_token_url, headers=headers, data=options)

    content = json.loads(response.content.decode("utf-8"))

    if response.status_code == 400:
        error_description = content.get("error_description", "")
        raise BadRequestError(error_description)

    access_token = content.get("access_token", None)
    token_type = content.get("token_type", None)
    expires_in = content.get("expires_in", None)
    scope = content.get("scope", None)

    return Authorization(access_token, token_type, expires_in, scope, None)


def authenticate(conf):
    return _client_credentials(conf)


def read_config():
    return Config(
        os.environ["OAUTH2CC_CLIENT_ID"],
        os.environ["OAUTH2CC_CLIENT_SECRET"],
        os.environ["OAUTH2CC_TOKEN_URL"],
    )


def loop(conf, iterations, warmup=10):
    samples = []
    for i in range(warmup + iterations):
        t0 = time.perf_counter_ns()
        auth = authenticate(conf)
        elapsed = (time.perf_counter_ns() - t0) / 1000.0
        if not auth.access_token:
            raise SystemExit("seed_token.py: no access_token in the response")
        if i >= warmup:
            samples.append(elapsed)
    samples.sort()
    n = len(samples)
    median = samples[n // 2] if n % 2 else (samples[n // 2 - 1] + samples[n // 2]) / 2
    tag = "https" if conf.access_token_url.startswith("https:") else "http"
    print(
        json.dumps(
            {
                "name": f"fresh_{tag}_python",
                "unit": "us",
                "median": round(median, 3),
                "p10": round(samples[n // 10], 3),
                "p90": round(samples[n * 9 // 10], 3),
                "n": n,
            }
        ),
        flush=True,
    )


def main(argv):
    conf = read_config()
    if len(argv) == 3 and argv[1] == "--loop":
        loop(conf, int(argv[2]))
        return 0
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    auth = authenticate(conf)
    if not auth.access_token:
        print("seed_token.py: no access_token in the response", file=sys.stderr)
        return 1
    print(auth.access_token)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
