#!/usr/bin/env node
// oauth2cc from Node.js through koffi (an FFI from the npm registry; nothing to compile):
// gets a token with the client credentials grant, then GETs an API with it.
//
//   cd examples/node && npm ci
//   OAUTH2CC_CLIENT_ID=... OAUTH2CC_CLIENT_SECRET=... OAUTH2CC_TOKEN_URL=https://.../token \
//     node get_token.js https://api.example.com/v1/me
//
// Prints the token's type and lifetime (never the token), then the API's status and body:
//
//   token: Bearer, expires in 3600 s
//   GET https://api.example.com/v1/me: 200
//   {"id":"me"}
//
// On failure: the failing call, the status name and the library's message on stderr, then
// the server's error and description when it sent them; exit status 1 (2 for bad usage).
// The library: $OAUTH2CC_LIBRARY, else this checkout's target/release build.

'use strict';

const path = require('path');
const koffi = require('koffi');

const LIBRARY_NAMES = { win32: 'oauth2cc.dll', darwin: 'liboauth2cc.dylib' };
const libraryPath = process.env.OAUTH2CC_LIBRARY ||
  path.join(__dirname, '..', '..', 'target', 'release',
    LIBRARY_NAMES[process.platform] || 'liboauth2cc.so');
const lib = koffi.load(libraryPath);

// The opaque handles of include/oauth2cc.h; koffi passes and returns them as pointers.
koffi.opaque('oauth2cc_config');
koffi.opaque('oauth2cc_client');
koffi.opaque('oauth2cc_authorization');
koffi.opaque('oauth2cc_response');

const c = {
  statusStr: lib.func('const char *oauth2cc_status_str(int status)'),
  lastErrorMessage: lib.func('const char *oauth2cc_last_error_message(void)'),
  lastErrorOauthError: lib.func('const char *oauth2cc_last_error_oauth_error(void)'),
  lastErrorDescription: lib.func('const char *oauth2cc_last_error_description(void)'),
  configFromEnv: lib.func('int oauth2cc_config_from_env(_Out_ oauth2cc_config **out)'),
  configFree: lib.func('void oauth2cc_config_free(oauth2cc_config *config)'),
  clientNew: lib.func(
    'int oauth2cc_client_new(const oauth2cc_config *config, _Out_ oauth2cc_client **out)'),
  clientToken: lib.func(
    'int oauth2cc_client_token(oauth2cc_client *client, _Out_ oauth2cc_authorization **out)'),
  clientGet: lib.func('int oauth2cc_client_get(oauth2cc_client *client, const char *url, ' +
    '_Out_ oauth2cc_response **out)'),
  clientFree: lib.func('void oauth2cc_client_free(oauth2cc_client *client)'),
  tokenType: lib.func(
    'const char *oauth2cc_authorization_token_type(const oauth2cc_authorization *auth)'),
  expiresIn: lib.func(
    'int64_t oauth2cc_authorization_expires_in(const oauth2cc_authorization *auth)'),
  authorizationFree: lib.func('void oauth2cc_authorization_free(oauth2cc_authorization *auth)'),
  responseStatus: lib.func('int32_t oauth2cc_response_status(const oauth2cc_response *r)'),
  responseBody: lib.func(
    'const uint8_t *oauth2cc_response_body(const oauth2cc_response *r, _Out_ size_t *len)'),
  responseFree: lib.func('void oauth2cc_response_free(oauth2cc_response *r)'),
};

// Throws an Error describing the failed call, from the thread's last error.
function check(call, status) {
  if (status === 0) return;
  let text = `${call}: ${c.statusStr(status)}: ${c.lastErrorMessage()}`;
  const error = c.lastErrorOauthError();
  if (error !== null) {
    const description = c.lastErrorDescription();
    text += `\nserver said ${error}${description !== null ? `: ${description}` : ''}`;
  }
  throw new Error(text);
}

function main(argv) {
  if (argv.length !== 1 || argv[0].startsWith('-')) {
    process.stderr.write('usage: node get_token.js API_URL\n' +
      '  credentials from OAUTH2CC_CLIENT_ID, OAUTH2CC_CLIENT_SECRET, OAUTH2CC_TOKEN_URL\n');
    return 2;
  }
  const url = argv[0];
  const out = [null];
  check('oauth2cc_config_from_env', c.configFromEnv(out));
  const config = out[0];
  let client = null;
  try {
    check('oauth2cc_client_new', c.clientNew(config, out));
    client = out[0];
  } finally {
    c.configFree(config); // the client keeps its own copy
  }
  try {
    check('oauth2cc_client_token', c.clientToken(client, out));
    const auth = out[0];
    try {
      console.log(`token: ${c.tokenType(auth)}, expires in ${c.expiresIn(auth)} s`);
    } finally {
      c.authorizationFree(auth);
    }

    check('oauth2cc_client_get', c.clientGet(client, url, out));
    const response = out[0];
    try {
      const length = [0];
      const body = c.responseBody(response, length);
      const bytes = length[0] > 0 ? koffi.decode(body, 'uint8_t', length[0]) : [];
      console.log(`GET ${url}: ${c.responseStatus(response)}`);
      console.log(Buffer.from(bytes).toString('utf8'));
    } finally {
      c.responseFree(response);
    }
  } finally {
    c.clientFree(client);
  }
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`${error.message}\n`);
  process.exitCode = 1;
}
