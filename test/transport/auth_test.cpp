// Credentials: API key, bearer, OAuth2 client credentials (fetched once,
// cached, refreshed before expiry and once on a 401), and "open".
#include "support/loopback.hpp"

#include <boost/json/parse.hpp>

using namespace cspark;
using namespace cspark::test;

namespace {

// A token endpoint plus an API that accepts only the current token.
struct oauth_server {
    loopback lb;
    int issued = 0;
    int token_requests = 0;
    std::string current;
    std::int64_t expires_in = 360;
    bool refuse = false;

    oauth_server() {
        lb.handler->fallback = [this](const recorded_request& r) {
            if (r.head.path() == "/auth/realms/acme/protocol/openid-connect/token") {
                ++token_requests;
                if (refuse || r.body.find("client_secret=s3cret-client-secret") == std::string::npos)
                    return json_response(401, R"({"error":"unauthorized_client","error_description":"bad secret s3cret-client-secret"})");
                current = "token-" + std::to_string(++issued);
                return json_response(200, R"({"access_token":")" + current + R"(","expires_in":)" +
                                              std::to_string(expires_in) + R"(,"token_type":"Bearer"})");
            }
            if (r.head.header("authorization") != "Bearer " + current)
                return json_response(401, R"({"status":"Error","errorCode":"INVALID_TOKEN"})");
            return json_response(200, R"({"ok":true})");
        };
    }
    client make() {
        auto cfg = lb.config();
        cfg.api_key = "";
        cfg.oauth = {"my-client", "s3cret-client-secret"};
        return lb.make_client(cfg);
    }
};

}  // namespace

TEST_CASE("OAuth: one token fetch serves many concurrent requests") {
    oauth_server s;
    auto c = s.make();
    int ok = 0;
    for (int i = 0; i < 20; ++i)
        c.async_send(request{.target = "x"}, [&](error_code ec, response) { ok += !ec; });
    run_until(s.lb.io, [&] { return s.lb.handler->requests.size() >= 21 && ok == 20; });
    CHECK(s.token_requests == 1);
    CHECK(c.stats().token_fetches == 1);
    auto& tok = s.lb.handler->requests.front();
    CHECK(tok.head.method == "POST");
    CHECK(tok.head.header("content-type") == "application/x-www-form-urlencoded");
    CHECK(tok.body.find("grant_type=client_credentials") != std::string::npos);
    CHECK(tok.body.find("client_id=my-client") != std::string::npos);
    CHECK(tok.head.header("authorization").empty());
}

TEST_CASE("OAuth: a 401 refreshes the token once and resends") {
    oauth_server s;
    auto c = s.make();
    REQUIRE_FALSE(send(s.lb.io, c, {.target = "x"}).ec);
    s.current = "revoked-by-server";
    auto r = send(s.lb.io, c, {.target = "x"});
    REQUIRE_FALSE(r.ec);
    CHECK(s.token_requests == 2);
    CHECK(s.lb.timer->sleeps().empty());  // a refresh is not a backoff
}

TEST_CASE("OAuth: the token is refreshed before expires_in, without a 401") {
    oauth_server s;
    s.expires_in = 300;
    auto c = s.make();
    REQUIRE_FALSE(send(s.lb.io, c, {.target = "x"}).ec);
    s.lb.timer->advance(std::chrono::seconds(275));  // within the 30 s refresh margin
    std::size_t before = s.lb.handler->requests.size();
    REQUIRE_FALSE(send(s.lb.io, c, {.target = "x"}).ec);
    CHECK(s.token_requests == 2);
    for (std::size_t i = before; i < s.lb.handler->requests.size(); ++i) {
        const auto& h = s.lb.handler->requests[i].head;
        if (h.path() == "/acme/api/v4/x") CHECK(h.header("authorization") == "Bearer token-2");
    }
    CHECK(s.lb.handler->requests.size() == before + 2);  // token + request, no 401 round
}

TEST_CASE("OAuth: a refused token request is oauth_failed without the secret") {
    oauth_server s;
    s.refuse = true;
    auto c = s.make();
    auto r = send(s.lb.io, c, {.target = "x"});
    CHECK(r.ec == errc::oauth_failed);
    CHECK(r.resp.diag.http_status == 401);
    auto text = r.resp.diag.to_string() + r.resp.diag.body_excerpt;
    CHECK(text.find("s3cret-client-secret") == std::string::npos);
    CHECK(text.find("unauthorized_client") != std::string::npos);
}

TEST_CASE("bearer tokens: Authorization header, leading 'Bearer' dropped") {
    loopback lb;
    auto cfg = lb.config();
    cfg.api_key = "";
    cfg.bearer_token = "bearer abc.def.ghi";
    auto c = lb.make_client(cfg);
    REQUIRE_FALSE(send(lb.io, c, {.target = "x"}).ec);
    CHECK(lb.handler->requests.at(0).head.header("authorization") == "Bearer abc.def.ghi");
    CHECK(lb.handler->requests.at(0).head.header("x-synthetic-key").empty());
}

TEST_CASE("'open' sends no credentials") {
    loopback lb;
    auto cfg = lb.config();
    cfg.api_key = "open";
    auto c = lb.make_client(cfg);
    REQUIRE_FALSE(send(lb.io, c, {.target = "x"}).ec);
    CHECK(lb.handler->requests.at(0).head.header("authorization").empty());
    CHECK(lb.handler->requests.at(0).head.header("x-synthetic-key").empty());
    CHECK(lb.handler->requests.at(0).head.header("x-tenant-name") == "acme");
}

TEST_CASE("the client constructor rejects bad configuration with spark_error") {
    asio::io_context io;
    CHECK_THROWS_AS(client(io.get_executor(), {.base_url = "ftp://x/t", .api_key = "k", .use_environment = false}),
                    spark_error);
    try {
        client(io.get_executor(), {.base_url = "http://localhost:1/t", .use_environment = false});
    } catch (const spark_error& e) {
        CHECK(e.code() == errc::missing_credentials);
    }
}

TEST_CASE("header values with CR/LF are refused: credentials, tokens from the endpoint, caller headers") {
    asio::io_context io;
    for (auto make : std::vector<std::function<client_config()>>{
             [] { return client_config{.base_url = "http://127.0.0.1:1/t", .api_key = "k\r\nX-Injected: z", .use_environment = false}; },
             [] { return client_config{.base_url = "http://127.0.0.1:1/t", .bearer_token = "a\nX-Injected: z", .use_environment = false}; },
             [] {
                 client_config c{.base_url = "http://127.0.0.1:1/t", .api_key = "k", .use_environment = false};
                 c.user_agent_suffix = "ci\r\nX-Injected: z";
                 return c;
             }}) {
        try {
            client c(io.get_executor(), make());
            FAIL("accepted a header value with a line break");
        } catch (const spark_error& e) {
            CHECK(e.code() == errc::invalid_argument);
            CHECK(std::string(e.what()).find("control character") != std::string::npos);
            CHECK(std::string(e.what()).find("X-Injected") == std::string::npos);  // the secret is not echoed
        }
    }

    oauth_server s;
    s.lb.handler->fallback = [](const recorded_request& r) {
        if (r.head.path().find("/token") != std::string::npos)
            return json_response(200, R"({"access_token":"tok\r\nX-Injected: z","expires_in":300})");
        return json_response(200, R"({"ok":true})");
    };
    auto c = s.make();
    auto r = send(s.lb.io, c, {.target = "x"});
    CHECK(r.ec == errc::oauth_failed);
    CHECK(r.resp.diag.to_string().find("control characters") != std::string::npos);
    CHECK(s.lb.handler->requests.size() == 1);  // only the token request went out

    loopback lb;
    auto plain = lb.make_client(lb.config());
    request req{.target = "x"};
    req.headers.emplace_back("X-Custom", "v\r\nX-Injected: z");
    auto p = send(lb.io, plain, req);
    CHECK(p.ec == errc::invalid_argument);
    CHECK(lb.handler->requests.empty());
}
