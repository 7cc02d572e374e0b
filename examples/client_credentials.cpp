// client_credentials.cpp: the C++ version of client_credentials.c. Gets an OAuth 2.0 access
// token with the client credentials grant and prints it the way the Python pytify client's REPL shows
// its Authorization tuple:
//
//   Authorization(access_token='...', token_type='Bearer', expires_in=3600, scope=None, refresh_token=None)
//
// Where the credentials come from, first match wins:
//   client_credentials_cpp CONFIG.json   a JSON config file (see oauth2cc_config_from_file)
//   OAUTH2CC_CLIENT_ID, OAUTH2CC_CLIENT_SECRET [, OAUTH2CC_TOKEN_URL, OAUTH2CC_SCOPE]
//   SPOTIFY_CLIENT_ID, SPOTIFY_CLIENT_SECRET   Spotify's accounts service, every default
//
// On failure it prints the status name and the message to stderr, then the server's
// error/description and Retry-After when there are any, and exits 1.
//
// Build (after scripts/install.sh, or with -Iinclude -Ltarget/release):
//   c++ -std=c++17 examples/client_credentials.cpp $(pkg-config --cflags --libs oauth2cc)

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

#include "oauth2cc.hpp"

namespace {

// `s` as Python's repr() prints a str.
std::string py_str(std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, quote);
  for (const char c : s) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\\' || c == quote) {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (byte < 0x20 || byte == 0x7f) {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned>(byte));
      out += hex;
    } else {
      out += c;
    }
  }
  out += quote;
  return out;
}

// A str or None, like the pytify client's tuple fields.
std::string py_opt_str(std::optional<std::string_view> s) { return s ? py_str(*s) : "None"; }

void print_authorization(const oauth2cc::Authorization &auth) {
  const auto expires_in = auth.expires_in();
  std::cout << "Authorization(access_token=" << py_str(auth.access_token())
            << ", token_type=" << py_str(auth.token_type()) << ", expires_in="
            << (expires_in ? std::to_string(expires_in->count()) : std::string("None"))
            << ", scope=" << py_opt_str(auth.scope())
            << ", refresh_token=" << py_opt_str(auth.refresh_token()) << ")\n";
}

// The status and every detail the library kept about the failure.
void print_failure(const oauth2cc::Error &e) {
  std::cerr << "oauth2cc: " << e.what() << "\n";
  std::string details;
  if (e.oauth_error()) details += "error=" + *e.oauth_error();
  if (e.description()) details += (details.empty() ? "" : " ") + ("description=" + *e.description());
  if (e.uri()) details += (details.empty() ? "" : " ") + ("uri=" + *e.uri());
  if (!details.empty()) std::cerr << details << "\n";
  if (e.retry_after()) std::cerr << "Retry-After: " << e.retry_after()->count() << "\n";
}

bool is_set(const char *name) {
  const char *value = std::getenv(name);
  return value != nullptr && value[0] != '\0';
}

// The configuration the command line and the environment ask for.
oauth2cc::Config load_config(int argc, char **argv) {
  if (argc == 2) return oauth2cc::Config::from_file(argv[1]);
  if (!is_set("OAUTH2CC_CLIENT_ID") && !is_set("OAUTH2CC_CLIENT_SECRET") &&
      is_set("SPOTIFY_CLIENT_ID") && is_set("SPOTIFY_CLIENT_SECRET"))
    return std::move(oauth2cc::Config(std::getenv("SPOTIFY_CLIENT_ID"),
                                      std::getenv("SPOTIFY_CLIENT_SECRET"))
                         .set_token_url(OAUTH2CC_SPOTIFY_TOKEN_URL));
  return oauth2cc::Config::from_env();
}

}  // namespace

int main(int argc, char **argv) {
  if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
    std::cerr << "usage: " << argv[0] << " [CONFIG.json]\n"
              << "  without a file: OAUTH2CC_CLIENT_ID, OAUTH2CC_CLIENT_SECRET [, OAUTH2CC_TOKEN_URL,\n"
              << "  OAUTH2CC_SCOPE], or SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET\n";
    return 2;
  }
  try {
    const oauth2cc::Config config = load_config(argc, argv);
    print_authorization(oauth2cc::request_token(config));
    return 0;
  } catch (const oauth2cc::Error &e) {
    print_failure(e);
    return 1;
  }
}
