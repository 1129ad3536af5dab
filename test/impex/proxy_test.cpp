// HTTP proxies against the emulator: https through a CONNECT tunnel (the
// proxy never sees a request or a credential), http in absolute form,
// NO_PROXY, a proxy that wants credentials, and proxy URLs that cannot work.
#include "support/impex_fixture.hpp"
#include "support/test_proxy.hpp"

#include <doctest/doctest.h>

using namespace cspark;
using namespace cspark::test;

namespace {

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

export_result export_one(impex_fixture& t, impex& spark, const std::string& dir) {
    export_request req = quick({.services = {"folder-1/service-1"}});
    req.directory = t.dir(dir);
    export_result r;
    run_coro(t.f.io, [&]() -> asio::awaitable<void> { r = co_await spark.exp(req); });
    return r;
}

// The emulator serving https with a certificate made for it, written where
// the clients can trust it (removed at the end).
struct tls_emulator {
    std::filesystem::path cert;
    impex_fixture t;
    explicit tls_emulator(const std::string& name)
        : cert(std::filesystem::temp_directory_path() / ("cspark-proxy-" + name + "-" + std::to_string(::getpid()) + ".pem")),
          t(with_tls(cert)) {}
    ~tls_emulator() {
        std::error_code ignored;
        std::filesystem::remove(cert, ignored);
    }
    static emulator_config with_tls(const std::filesystem::path& cert) {
        emulator_config cfg = impex_fixture::fast();
        cfg.tls = true;
        cfg.write_cert_to = cert.string();
        return cfg;
    }
    client_config config(int retries) {
        auto cc = t.config("tenant-0001", retries);
        cc.transport.tls.ca_file = cert.string();
        return cc;
    }
};

}  // namespace

TEST_CASE("https through a proxy: a CONNECT tunnel with the proxy's credentials, Spark's only inside TLS") {
    tls_emulator e("tunnel");
    auto& t = e.t;
    test_proxy proxy(t.f.io.get_executor(), "alice:s3cret");
    auto cc = e.config(2);
    cc.proxy = proxy.url("alice:s3cret");
    impex spark(client(t.f.io.get_executor(), cc));
    auto r = export_one(t, spark, "tls");
    REQUIRE(r.files.size() == 1);
    CHECK(r.files[0].verified);

    REQUIRE(proxy.tunnels() >= 1);
    CHECK(proxy.refused() == 0);
    for (const auto& head : proxy.heads()) {
        CAPTURE(head);
        // The API's host, or the document store's (the download link).
        CHECK((head.starts_with("CONNECT 127.0.0.1:" + std::to_string(t.f.emu->port()) + " HTTP/1.1\r\n") ||
               head.starts_with("CONNECT 127.0.0.1:" + std::to_string(t.f.emu->store_port()) + " HTTP/1.1\r\n")));
        CHECK(contains(head, "\r\nProxy-Authorization: Basic YWxpY2U6czNjcmV0\r\n"));  // alice:s3cret
    }
    // Everything else the proxy relayed was TLS: no API key, no path, no header.
    std::string key = t.f.emu->credentials("tenant-0001").api_key;
    CHECK_FALSE(contains(proxy.client_bytes(), key));
    CHECK_FALSE(contains(proxy.client_bytes(), "/api/v4"));
    CHECK_FALSE(contains(proxy.client_bytes(), "x-tenant-name"));
}

TEST_CASE("http through a proxy: requests in absolute form; NO_PROXY and --no-proxy's \"\" go direct") {
    impex_fixture t;
    std::string base = t.f.emu->base_url("tenant-0001");
    SUBCASE("through the proxy") {
        test_proxy proxy(t.f.io.get_executor());
        auto cc = t.config("tenant-0001");
        cc.proxy = proxy.url();
        impex spark(client(t.f.io.get_executor(), cc));
        auto r = export_one(t, spark, "http");
        REQUIRE(r.files.size() == 1);
        CHECK(proxy.forwarded() >= 1);
        REQUIRE_FALSE(proxy.heads().empty());
        CHECK(proxy.heads()[0].starts_with("POST http://127.0.0.1:" + std::to_string(t.f.emu->port()) + "/"));
        CHECK_FALSE(contains(proxy.heads()[0], "Proxy-Authorization"));  // none in the URL: none sent
    }
    SUBCASE("NO_PROXY names the host") {
        test_proxy proxy(t.f.io.get_executor());
        auto cc = t.config("tenant-0001");
        cc.transport.proxy = proxy_config{.https = proxy.url(), .http = proxy.url(), .no_proxy = "example.com, 127.0.0.0/8"};
        impex spark(client(t.f.io.get_executor(), cc));
        auto r = export_one(t, spark, "bypass");
        REQUIRE(r.files.size() == 1);
        CHECK(proxy.heads().empty());
    }
    SUBCASE("an empty proxy means none, whatever the transport config says") {
        test_proxy proxy(t.f.io.get_executor());
        auto cc = t.config("tenant-0001");
        cc.transport.proxy = proxy_config{.https = proxy.url(), .http = proxy.url(), .no_proxy = ""};
        cc.proxy = "";
        impex spark(client(t.f.io.get_executor(), cc));
        auto r = export_one(t, spark, "direct");
        REQUIRE(r.files.size() == 1);
        CHECK(proxy.heads().empty());
    }
}

TEST_CASE("a proxy that wants credentials: the 407 is named, with what to do") {
    impex_fixture t;
    test_proxy proxy(t.f.io.get_executor(), "alice:s3cret");
    auto cc = t.config("tenant-0001", 0);
    cc.proxy = proxy.url();  // no user info
    client c(t.f.io.get_executor(), cc);
    // https is what a tunnel is for; the emulator here is http, so the 407
    // comes on the forwarded request itself: the status is the proxy's.
    auto r = send(t.f.io, c, {.target = "folders"});
    CHECK(r.ec == errc::proxy_refused);
    CHECK(proxy.refused() >= 1);
}

TEST_CASE("https through a proxy that refuses: the tunnel's answer is named, the proxy's password is not") {
    tls_emulator e("refused");
    auto& t = e.t;
    test_proxy proxy(t.f.io.get_executor(), "alice:s3cret");
    auto cc = e.config(0);
    SUBCASE("no credentials") {
        cc.proxy = proxy.url();
        client c(t.f.io.get_executor(), cc);
        auto r = send(t.f.io, c, {.target = "folders"});
        CHECK(r.ec == errc::proxy_refused);
        CHECK(contains(r.resp.diag.detail, "407 Proxy Authentication Required"));
        CHECK(contains(r.resp.diag.detail, "the proxy wants credentials"));
    }
    SUBCASE("wrong credentials") {
        cc.proxy = proxy.url("alice:wrong-password");
        client c(t.f.io.get_executor(), cc);
        auto r = send(t.f.io, c, {.target = "folders"});
        CHECK(r.ec == errc::proxy_refused);
        CHECK(contains(r.resp.diag.detail, "rejected the credentials"));
        CHECK_FALSE(contains(r.resp.diag.detail, "wrong-password"));
    }
    CHECK(proxy.tunnels() == 0);
}

TEST_CASE("proxy URLs that cannot work are refused when the client is made, password masked") {
    impex_fixture t;
    for (std::string bad : {"socks5://bob:hunter2@127.0.0.1:1080", "https://bob:hunter2@proxy.corp:3128",
                            "http://bob:hunter2@proxy.corp:99999", "http://bob:hunter2@proxy.corp:3128/path"}) {
        CAPTURE(bad);
        auto cc = t.config("tenant-0001");
        cc.proxy = bad;
        try {
            client c(t.f.io.get_executor(), cc);
            FAIL("accepted");
        } catch (const spark_error& e) {
            CHECK(e.code() == errc::invalid_argument);
            std::string detail = e.diag().detail;
            CAPTURE(detail);
            CHECK(contains(detail, "proxy"));
            CHECK_FALSE(contains(detail, "hunter2"));
        }
    }
}
