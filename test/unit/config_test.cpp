#include <cspark/config.hpp>

#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <unistd.h>

using namespace cspark;

namespace {
struct fake_env {
    std::map<std::string, std::string> vars;
    std::optional<std::string> operator()(const char* name) const {
        auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    }
};

std::optional<resolved_config> resolve(const client_config& cfg, const fake_env& env, error_code& ec,
                                       diagnostics& d) {
    return resolve_config(cfg, ec, d, std::ref(env));
}

std::filesystem::path temp_file(const std::string& name, const std::string& content) {
    auto p = std::filesystem::temp_directory_path() / ("cspark-test-" + std::to_string(::getpid()) + "-" + name);
    std::ofstream(p) << content;
    return p;
}
}  // namespace

TEST_CASE("CSPARK_* variables fill what the config leaves empty") {
    fake_env env{{{"CSPARK_BASE_URL", "https://excel.uat.us.coherent.global/acme"}, {"CSPARK_API_KEY", "key-123456"}}};
    error_code ec;
    diagnostics d;
    auto rc = resolve({}, env, ec, d);
    REQUIRE(rc);
    CHECK(rc->url.tenant == "acme");
    CHECK(rc->auth == auth_kind::api_key);
    CHECK(rc->api_key.reveal() == "key-123456");
}

TEST_CASE("credential precedence: OAuth > API key > bearer, as the SDKs") {
    fake_env env{{{"CSPARK_BASE_URL", "http://localhost:1/t"},
                  {"CSPARK_API_KEY", "k"},
                  {"CSPARK_BEARER_TOKEN", "Bearer tok"},
                  {"CSPARK_CLIENT_ID", "id"},
                  {"CSPARK_CLIENT_SECRET", "sec"}}};
    error_code ec;
    diagnostics d;
    auto rc = resolve({}, env, ec, d);
    REQUIRE(rc);
    CHECK(rc->auth == auth_kind::oauth);
    env.vars.erase("CSPARK_CLIENT_ID");
    env.vars.erase("CSPARK_CLIENT_SECRET");
    rc = resolve({}, env, ec, d);
    REQUIRE(rc);
    CHECK(rc->auth == auth_kind::api_key);
    env.vars.erase("CSPARK_API_KEY");
    rc = resolve({}, env, ec, d);
    REQUIRE(rc);
    CHECK(rc->auth == auth_kind::bearer);
    CHECK(rc->bearer_token.reveal() == "tok");  // leading "Bearer " dropped
}

TEST_CASE("explicit credentials in the config win over the environment as a whole") {
    fake_env env{{{"CSPARK_CLIENT_ID", "id"}, {"CSPARK_CLIENT_SECRET", "sec"}}};
    client_config cfg{.base_url = "http://localhost:1/t", .api_key = "explicit"};
    error_code ec;
    diagnostics d;
    auto rc = resolve(cfg, env, ec, d);
    REQUIRE(rc);
    CHECK(rc->auth == auth_kind::api_key);
}

TEST_CASE("use_environment = false ignores CSPARK_*") {
    fake_env env{{{"CSPARK_BASE_URL", "http://localhost:1/t"}, {"CSPARK_API_KEY", "k"}}};
    client_config cfg{.use_environment = false};
    error_code ec;
    diagnostics d;
    CHECK_FALSE(resolve(cfg, env, ec, d));
    CHECK(ec == errc::invalid_base_url);
}

TEST_CASE("'open' means no credentials for public APIs") {
    error_code ec;
    diagnostics d;
    auto rc = resolve({.base_url = "http://localhost:1/t", .api_key = "open"}, {}, ec, d);
    REQUIRE(rc);
    CHECK(rc->auth == auth_kind::none);
}

TEST_CASE("missing and half-given credentials are named") {
    error_code ec;
    diagnostics d;
    CHECK_FALSE(resolve({.base_url = "http://localhost:1/t"}, {}, ec, d));
    CHECK(ec == errc::missing_credentials);
    CHECK(d.detail.find("tenant 't'") != std::string::npos);

    fake_env env{{{"CSPARK_CLIENT_ID", "id"}}};
    CHECK_FALSE(resolve({.base_url = "http://localhost:1/t"}, env, ec, d));
    CHECK(ec == errc::missing_credentials);
    CHECK(d.detail.find("CSPARK_CLIENT_SECRET") != std::string::npos);
}

TEST_CASE("the OAuth file accepts the Python and the TypeScript SDK field names") {
    auto py = temp_file("py.json", R"({"client_id":"a","client_secret":"b"})");
    auto ts = temp_file("ts.json", R"({"clientId":"c","clientSecret":"d"})");
    auto bad = temp_file("bad.json", "not json");
    error_code ec;
    diagnostics d;
    auto rc = resolve({.base_url = "http://localhost:1/t", .oauth_path = py.string()}, {}, ec, d);
    REQUIRE(rc);
    CHECK(rc->oauth.client_id == "a");
    fake_env env{{{"CSPARK_OAUTH_PATH", ts.string()}}};
    rc = resolve({.base_url = "http://localhost:1/t"}, env, ec, d);
    REQUIRE(rc);
    CHECK(rc->oauth.client_secret.reveal() == "d");

    CHECK_FALSE(resolve({.base_url = "http://localhost:1/t", .oauth_path = bad.string()}, {}, ec, d));
    CHECK(ec == errc::oauth_file_unreadable);
    CHECK(d.detail.find("bad.json") != std::string::npos);
    CHECK_FALSE(resolve({.base_url = "http://localhost:1/t", .oauth_path = "/nonexistent/x.json"}, {}, ec, d));
    CHECK(ec == errc::oauth_file_unreadable);
    for (auto& p : {py, ts, bad}) std::filesystem::remove(p);
}

TEST_CASE("secrets print masked") {
    secret s("super-secret-value-42");
    CHECK(s.masked() == "***42");
    CHECK(secret("short").masked() == "***");
    std::ostringstream os;
    os << s;
    CHECK(os.str().find("super") == std::string::npos);
}
