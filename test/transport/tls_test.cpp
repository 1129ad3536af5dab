// TLS: a certificate made at test time, trusted through ca_file or not at all.
#include "support/loopback.hpp"

#include "server/certs.hpp"

#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace cspark;
using namespace cspark::test;

namespace {

struct tls_fixture {
    server::pem_pair pems;
    std::filesystem::path ca_path;
    std::unique_ptr<loopback> lb;

    explicit tls_fixture(std::vector<std::string> dns, std::vector<std::string> ips = {"127.0.0.1"}) {
        pems = server::make_self_signed(dns, ips);
        ca_path = std::filesystem::temp_directory_path() /
                  ("cspark-tls-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++) + ".pem");
        std::ofstream(ca_path) << pems.cert_pem;
        server::server_config cfg;
        cfg.tls_cert_pem = pems.cert_pem;
        cfg.tls_key_pem = pems.key_pem;
        lb = std::make_unique<loopback>(cfg);
    }
    ~tls_fixture() { std::filesystem::remove(ca_path); }
    static int& counter() {
        static int n = 0;
        return n;
    }
    std::string url(std::string_view host) const {
        return "https://" + std::string(host) + ":" + std::to_string(lb->srv->port()) + "/acme";
    }
    client make(std::string_view host, tls_config tls) {
        auto cfg = lb->config();
        cfg.base_url = url(host);
        cfg.transport.tls = std::move(tls);
        cfg.max_retries = 0;
        return lb->make_client(cfg);
    }
};

}  // namespace

TEST_CASE("TLS with the server's certificate trusted through ca_file") {
    tls_fixture f({"localhost"});
    REQUIRE(f.lb->srv->tls());
    for (auto host : {"localhost", "127.0.0.1"}) {
        CAPTURE(host);
        auto c = f.make(host, {.ca_file = f.ca_path.string()});
        auto r = send(f.lb->io, c, {.target = "x"});
        REQUIRE_FALSE(r.ec);
        CHECK(r.resp.status == 200);
        CHECK(f.lb->handler->requests.back().head.tls);
        // Keep-alive works over TLS too.
        REQUIRE_FALSE(send(f.lb->io, c, {.target = "y"}).ec);
        CHECK(c.get_transport()->stats().connections_opened == 1);
    }
}

TEST_CASE("TLS with an unknown CA is rejected with the reason") {
    tls_fixture f({"localhost"});
    auto c = f.make("localhost", {});
    auto r = send(f.lb->io, c, {.target = "x"});
    CHECK(r.ec == errc::tls_verify_failed);
    CHECK(r.resp.diag.detail.find("self-signed") != std::string::npos);
    CHECK(f.lb->handler->requests.empty());
}

TEST_CASE("TLS with a host name the certificate does not name is rejected") {
    tls_fixture f({"other.example"}, {});
    auto c = f.make("localhost", {.ca_file = f.ca_path.string()});
    auto r = send(f.lb->io, c, {.target = "x"});
    CHECK(r.ec == errc::tls_verify_failed);
    CHECK(r.resp.diag.detail.find("mismatch") != std::string::npos);
    auto ip = f.make("127.0.0.1", {.ca_file = f.ca_path.string()});
    CHECK(send(f.lb->io, ip, {.target = "x"}).ec == errc::tls_verify_failed);
}

TEST_CASE("insecure skips verification, and only when asked") {
    tls_fixture f({"other.example"}, {});
    auto c = f.make("localhost", {.insecure = true});
    CHECK_FALSE(send(f.lb->io, c, {.target = "x"}).ec);
}

TEST_CASE("a plain-HTTP client talking to a TLS server fails cleanly") {
    tls_fixture f({"localhost"});
    auto cfg = f.lb->config();
    cfg.base_url = "http://127.0.0.1:" + std::to_string(f.lb->srv->port()) + "/acme";
    cfg.max_retries = 0;
    auto c = f.lb->make_client(cfg);
    auto r = send(f.lb->io, c, {.target = "x"});
    CHECK(r.ec);
    CHECK(r.ec != errc::internal_error);
}

TEST_CASE("an unreadable CA file is a clear error at construction") {
    asio::io_context io;
    client_config cfg{.base_url = "https://localhost:1/t", .api_key = "k", .use_environment = false};
    cfg.transport.tls.ca_file = "/nonexistent/ca.pem";
    try {
        client c(io.get_executor(), cfg);
        FAIL("no error");
    } catch (const spark_error& e) {
        CHECK(e.code() == errc::file_error);
        CHECK(e.diag().detail.find("/nonexistent/ca.pem") != std::string::npos);
    }
}
