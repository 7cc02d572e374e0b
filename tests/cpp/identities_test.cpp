// identities_test.cpp: the C++ interface's DPoP, JWT bearer and client assertion file
// (oauth2cc.hpp), against loopback servers started by tests/cpp_api.rs.
//
// Environment:
//   OAUTH2CC_TEST_DPOP_BASE       a DPoP token endpoint (/token) and API (/api/...) that
//                                 verify every proof
//   OAUTH2CC_TEST_IDENTITY_BASE   /assertion: client assertions (refuses a replay);
//                                 /bearer: the JWT bearer grant (any signed assertion)
//   OAUTH2CC_TEST_KEY             a P-256 PEM key (tests/data/keys/p256.pk8.pem)
//   OAUTH2CC_TEST_ASSERTION_FILE  where this program writes the assertion
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

#include "oauth2cc.hpp"

static int failures = 0;
static int checks = 0;
#define EXPECT(cond)                                                        \
  do {                                                                      \
    ++checks;                                                               \
    if (!(cond)) {                                                          \
      std::cerr << __FILE__ << ":" << __LINE__ << ": failed: " #cond "\n"; \
      ++failures;                                                           \
    }                                                                       \
  } while (0)

static std::string env(const char *name) {
  const char *v = std::getenv(name);
  if (v == nullptr) {
    std::cerr << name << " is not set\n";
    std::exit(2);
  }
  return v;
}

static void write(const std::string &path, const std::string &text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

int main() {
  const std::string dpop_base = env("OAUTH2CC_TEST_DPOP_BASE");
  const std::string base = env("OAUTH2CC_TEST_IDENTITY_BASE");
  const std::string assertion_file = env("OAUTH2CC_TEST_ASSERTION_FILE");

  // DPoP: a bound token, its header, a GET with a proof, and a proof for another library.
  {
    oauth2cc::Config config("cpp-dpop", "cpp-secret");
    config.set_token_url(dpop_base + "/token").set_dpop();
    oauth2cc::Client client(config);
    const std::string header = client.authorization_header();
    EXPECT(header.rfind("DPoP dpop-tok-", 0) == 0);
    EXPECT(client.get(dpop_base + "/api/items").status() == 200);
    const std::string proof = client.dpop_proof("GET", dpop_base + "/api/items?x=1");
    EXPECT(std::count(proof.begin(), proof.end(), '.') == 2);
    std::cout << "proof " << proof << "\n";
    oauth2cc::Config off("cpp-dpop", "cpp-secret");
    off.set_token_url(dpop_base + "/token").set_dpop_key_file(env("OAUTH2CC_TEST_KEY")).set_dpop(false);
    oauth2cc::Client plain(off);
    try {
      plain.dpop_proof("GET", dpop_base + "/api/items");
      EXPECT(false);
    } catch (const oauth2cc::Error &e) {
      EXPECT(e.status() == oauth2cc::Status::Config);
    }
  }
  // A client assertion file, rotated.
  {
    oauth2cc::Config config("entra-app");
    config.set_token_url(base + "/assertion").set_client_assertion_file(assertion_file);
    oauth2cc::Client client(config);
    write(assertion_file, "eyJhbGciOiJSUzI1NiJ9.eyJuIjoxfQ.c2lnMQ\n");
    EXPECT(client.token().access_token() == "assertion-1");
    write(assertion_file, "eyJhbGciOiJSUzI1NiJ9.eyJuIjoyfQ.c2lnMg");
    client.invalidate();
    EXPECT(client.token().access_token() == "assertion-2");
  }
  // The JWT bearer grant.
  {
    oauth2cc::Config config("svc-client");
    config.set_token_url(base + "/bearer")
        .set_private_key_file(env("OAUTH2CC_TEST_KEY"), "kid-1")
        .set_jwt_bearer("user@example.com");
    EXPECT(oauth2cc::request_token(config).access_token() == "bearer-user@example.com");
  }
  if (failures != 0) {
    std::cerr << failures << " of " << checks << " checks failed\n";
    return 1;
  }
  std::cout << "identities_test: all " << checks << " checks passed\n";
  return 0;
}
