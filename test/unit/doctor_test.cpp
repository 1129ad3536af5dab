// The doctor's judgements, pure: JWT claims, a bearer token's verdict, an
// authenticated read explained, clock skew, the exit code.
#include "cli/doctor.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace cspark;
using namespace cspark::cli;
using std::chrono::system_clock;

namespace {

std::string b64url(const std::string& in) {
    static constexpr char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    unsigned buf = 0;
    int bits = 0;
    for (unsigned char c : in) {
        buf = (buf << 8) | c;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += a[(buf >> bits) & 63];
        }
    }
    if (bits > 0) out += a[(buf << (6 - bits)) & 63];
    return out;
}

std::string jwt(const std::string& payload) { return b64url(R"({"alg":"RS256"})") + "." + b64url(payload) + ".c2ln"; }

}  // namespace

TEST_CASE("doctor: a JWT's claims are read (not verified), the tenant from the issuer's realm") {
    auto c = read_jwt(jwt(R"({"exp":2000000000,"iat":1999996400,"iss":"https://keycloak.uat.us.coherent.global/auth/realms/acme"})"));
    REQUIRE(c.readable);
    CHECK(c.tenant == "acme");
    CHECK(c.expires == system_clock::time_point(std::chrono::seconds(2000000000)));
    CHECK(read_jwt(jwt(R"({"realm":"beta"})")).tenant == "beta");
    CHECK_FALSE(read_jwt("bt-opaque-token").readable);
    CHECK_FALSE(read_jwt("a.!!!.c").readable);
}

TEST_CASE("doctor: an expired bearer token, or one of another tenant, fails with what to do; exit 5") {
    auto now = system_clock::time_point(std::chrono::seconds(2000000000));
    auto expired = bearer_check(read_jwt(jwt(R"({"exp":1999990000,"iss":"x/realms/acme"})")), "acme", now);
    CHECK_FALSE(expired.ok);
    CHECK(expired.exit == denied);
    CHECK(expired.found.find("expired 2 h ago") != std::string::npos);
    auto other = bearer_check(read_jwt(jwt(R"({"exp":2000003600,"iss":"x/realms/beta"})")), "acme", now);
    CHECK_FALSE(other.ok);
    CHECK(other.fix.find("for tenant 'beta'") != std::string::npos);
    auto good = bearer_check(read_jwt(jwt(R"({"exp":2000003600,"iss":"x/realms/ACME"})")), "acme", now);
    CHECK(good.ok);
    CHECK(good.found.find("expires in 60 min") != std::string::npos);
    CHECK(bearer_check(read_jwt("opaque"), "acme", now).ok);  // checked by the calls instead
}

TEST_CASE("doctor: an authenticated read is explained by its status") {
    CHECK(read_check("export API", 200, "", "API key", "acme").ok);
    auto denied401 = read_check("export API", 401, "INVALID_TOKEN", "API key", "acme");
    CHECK_FALSE(denied401.ok);
    CHECK(denied401.exit == denied);
    CHECK(denied401.fix.find("a key of tenant 'acme'") != std::string::npos);
    auto forbidden = read_check("import API", 403, "", "OAuth client", "acme");
    CHECK(forbidden.exit == denied);
    CHECK(forbidden.fix.find("lacks a permission") != std::string::npos);
    auto missing = read_check("export API", 404, "", "API key", "acme");
    CHECK(missing.exit == failed);
    CHECK(missing.fix.find("environment and the tenant") != std::string::npos);
}

TEST_CASE("doctor: the clock against the server's Date") {
    auto now = system_clock::time_point(std::chrono::seconds(2000000000));
    CHECK(clock_check(now, now).ok);
    CHECK(clock_check(std::nullopt, now).skipped);
    auto drift = clock_check(now - std::chrono::seconds(45), now);
    CHECK(drift.ok);
    CHECK_FALSE(drift.fix.empty());
    auto skewed = clock_check(now + std::chrono::hours(1), now);
    CHECK_FALSE(skewed.ok);
    CHECK(skewed.found.find("60 min behind") != std::string::npos);
    CHECK(doctor_exit({drift, skewed}) == failed);
    CHECK(doctor_exit({drift}) == ok);
    doctor_check bad_url{.name = "base URL", .ok = false, .exit = usage};
    CHECK(doctor_exit({bad_url, skewed}) == usage);  // the first failure decides
}
