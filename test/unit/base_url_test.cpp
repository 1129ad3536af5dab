#include <cspark/base_url.hpp>

#include <doctest/doctest.h>

using namespace cspark;

namespace {
std::optional<base_url> parse(std::string_view url, std::string_view tenant = "", std::string_view env = "",
                              error_code* out = nullptr, std::string* why = nullptr) {
    error_code ec;
    auto r = parse_base_url(url, tenant, env, ec, why);
    if (out) *out = ec;
    CHECK(r.has_value() == !ec);
    return r;
}
}  // namespace

TEST_CASE("coherent.global URL: env with one or two labels, tenant from the path") {
    auto u = parse("https://excel.uat.us.coherent.global/acme");
    REQUIRE(u);
    CHECK(u->server.tls);
    CHECK(u->server.host == "excel.uat.us.coherent.global");
    CHECK(u->server.port == 443);
    CHECK(u->tenant == "acme");
    CHECK(u->env == "uat.us");
    CHECK(u->to_string() == "https://excel.uat.us.coherent.global/acme");
    CHECK(u->api_prefix() == "/acme/api/v4/");
    CHECK(u->oauth_server().host == "keycloak.uat.us.coherent.global");
    CHECK(u->oauth_token_path() == "/auth/realms/acme/protocol/openid-connect/token");

    auto eu = parse("https://excel.eu.coherent.global/acme/");
    REQUIRE(eu);
    CHECK(eu->env == "eu");
}

TEST_CASE("other Spark service hosts are rewritten to excel, as the SDKs do") {
    auto u = parse("https://spark.uat.us.coherent.global/acme");
    REQUIRE(u);
    CHECK(u->server.host == "excel.uat.us.coherent.global");
    auto k = parse("https://KEYCLOAK.us.coherent.global/acme");
    REQUIRE(k);
    CHECK(k->server.host == "excel.us.coherent.global");
}

TEST_CASE("env + tenant build the SaaS URL; tenant lower-cased") {
    auto u = parse("", "ACME", "uat.us");
    REQUIRE(u);
    CHECK(u->to_string() == "https://excel.uat.us.coherent.global/acme");
}

TEST_CASE("any http(s)://host[:port]/{tenant} targets a local emulator") {
    auto u = parse("http://127.0.0.1:8123/tenant-1");
    REQUIRE(u);
    CHECK_FALSE(u->server.tls);
    CHECK(u->server.host == "127.0.0.1");
    CHECK(u->server.port == 8123);
    CHECK(u->tenant == "tenant-1");
    CHECK(u->env.empty());
    CHECK(u->oauth_server() == u->server);
    CHECK(u->to_string() == "http://127.0.0.1:8123/tenant-1");

    auto v6 = parse("http://[::1]:9000/t");
    REQUIRE(v6);
    CHECK(v6->server.host == "::1");
    CHECK(v6->server.to_string() == "http://[::1]:9000");

    auto opt = parse("http://localhost:9000", "t2");
    REQUIRE(opt);
    CHECK(opt->tenant == "t2");
}

TEST_CASE("bad base URLs get distinct errors naming the problem") {
    error_code ec;
    std::string why;
    CHECK_FALSE(parse("ftp://host/t", "", "", &ec, &why));
    CHECK(ec == errc::unsupported_scheme);
    CHECK(why.find("ftp") != std::string::npos);

    CHECK_FALSE(parse("excel.us.coherent.global/acme", "", "", &ec, &why));
    CHECK(ec == errc::invalid_base_url);
    CHECK(why.find("no scheme") != std::string::npos);

    CHECK_FALSE(parse("http://localhost:8080", "", "", &ec, &why));
    CHECK(ec == errc::missing_tenant);

    CHECK_FALSE(parse("http://localhost:8080/a/b", "", "", &ec, &why));
    CHECK(ec == errc::invalid_base_url);
    CHECK(why.find("more than the tenant") != std::string::npos);

    CHECK_FALSE(parse("http://localhost:99999/a", "", "", &ec, &why));
    CHECK(ec == errc::invalid_base_url);

    CHECK_FALSE(parse("http://user:pw@localhost/a", "", "", &ec, &why));
    CHECK(ec == errc::invalid_base_url);
    CHECK(why.find("pw") == std::string::npos);

    // Found by the uri fuzzer: a percent-encoded byte in the host came back
    // as a byte no URL carries. A host is a DNS name or an address.
    CHECK_FALSE(parse("https://exc.%ce.coherent.global/acme", "", "", &ec, &why));
    CHECK(ec == errc::invalid_base_url);
    CHECK(why.find("%ce") != std::string::npos);
    CHECK(parse("http://%6Cocalhost:8080/a", "", "", &ec, &why));  // "l", percent-encoded: still a name

    CHECK_FALSE(parse("http://localhost/a", "b", "", &ec, &why));
    CHECK(ec == errc::invalid_base_url);
    CHECK(why.find("differs") != std::string::npos);

    CHECK_FALSE(parse("", "", "", &ec, &why));
    CHECK(ec == errc::invalid_base_url);

    CHECK_FALSE(parse("", "", "uat.us", &ec, &why));
    CHECK(ec == errc::missing_tenant);

    CHECK_FALSE(parse("https://excel.coherent.global/acme", "", "", &ec, &why));
    CHECK(ec == errc::invalid_base_url);

    CHECK_FALSE(parse("http://localhost/bad%20tenant", "", "", &ec, &why));
    CHECK(ec == errc::missing_tenant);

    CHECK_FALSE(parse("http://localhost/a?x=1", "", "", &ec, &why));
    CHECK(ec == errc::invalid_base_url);
}
