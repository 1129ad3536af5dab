// The transport against a real server on 127.0.0.1: reuse, reconnects,
// timeouts, retries, limits, streaming, redirects, headers and diagnostics.
#include "support/loopback.hpp"

#include "core/text.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <thread>

using namespace cspark;
using namespace cspark::test;

TEST_CASE("keep-alive: sequential requests share one connection") {
    loopback lb;
    auto c = lb.make_client();
    for (int i = 0; i < 5; ++i) {
        auto r = send(lb.io, c, {.target = "export/status"});
        REQUIRE_FALSE(r.ec);
        CHECK(r.resp.status == 200);
        CHECK(r.resp.body == R"({"ok":true})");
    }
    CHECK(lb.srv->stats().accepted == 1);
    CHECK(c.get_transport()->stats().connections_opened == 1);
    CHECK(c.get_transport()->stats().reused == 4);
    CHECK(lb.handler->requests.at(0).head.target == "/acme/api/v4/export/status");
}

TEST_CASE("every completion token works: callback, co_await (deferred), as_tuple, use_future") {
    loopback lb;
    auto c = lb.make_client();
    run_coro(lb.io, [&]() -> asio::awaitable<void> {
        // Requests are named locals: g++ 12 double-frees an aggregate temporary
        // (request{...}) written inside a co_await expression (docs/contributing.md, compiler notes).
        request a{.target = "a"};
        response r = co_await c.async_send(a, asio::use_awaitable);
        CHECK(r.status == 200);
        request b{.target = "b"};
        auto [ec, r2] = co_await c.async_send(b, asio::as_tuple(asio::use_awaitable));
        CHECK_FALSE(ec);
        CHECK(r2.status == 200);
        request cr{.target = "c"};
        response r3 = co_await c.async_send(cr);  // default token: deferred
        CHECK(r3.status == 200);
    });
    // use_future with the io_context on another thread.
    auto fut = c.async_send(request{.target = "d"}, asio::use_future);
    std::thread runner([&] { lb.io.restart(); lb.io.run_for(10s); });
    REQUIRE(fut.wait_for(10s) == std::future_status::ready);
    CHECK(fut.get().status == 200);
    lb.io.stop();
    runner.join();
    CHECK(lb.handler->requests.size() == 4);
}

TEST_CASE("co_await throws on errors; the response keeps the diagnostics for as_tuple users") {
    loopback lb;
    lb.handler->script.push_back(json_response(404, R"({"type":"invalid_input","code":"SERVICE_NOT_FOUND","message":"service could not be found"})"));
    lb.handler->script.push_back(json_response(404, "{}"));
    auto c = lb.make_client();
    run_coro(lb.io, [&]() -> asio::awaitable<void> {
        request x{.target = "x"};
        auto [ec, r] = co_await c.async_send(x, asio::as_tuple(asio::use_awaitable));
        CHECK(ec == errc::not_found);
        CHECK(r.diag.api_code == "SERVICE_NOT_FOUND");
        bool threw = false;
        try {
            co_await c.async_send(x, asio::use_awaitable);
        } catch (const boost::system::system_error& e) {
            threw = e.code() == errc::not_found;
        }
        CHECK(threw);
    });
}

TEST_CASE("a kept-alive connection closed by the server is replaced before sending") {
    loopback lb;
    auto c = lb.make_client();
    REQUIRE_FALSE(send(lb.io, c, {.target = "one"}).ec);
    lb.srv->close_connections();  // FIN reaches the client's idle socket
    // A POST too: the stale connection is detected before a byte is written.
    auto r = send(lb.io, c, {.method = http_method::post, .target = "import", .body = "x"});
    REQUIRE_FALSE(r.ec);
    CHECK(lb.srv->stats().accepted == 2);
    CHECK(c.get_transport()->stats().stale_reconnects == 1);
    CHECK(lb.handler->requests.size() == 2);
}

TEST_CASE("503 then success: retried with backoff from the injected clock") {
    loopback lb;
    lb.handler->script.push_back(json_response(503, "{}"));
    auto c = lb.make_client();
    auto r = send(lb.io, c, {.target = "export/1/status"});
    REQUIRE_FALSE(r.ec);
    CHECK(r.resp.attempts == 2);
    CHECK(lb.handler->requests.size() == 2);
    REQUIRE(lb.timer->sleeps().size() == 1);
    CHECK(lb.timer->sleeps()[0] == 500ms);  // random 0.5 * 1 s
    CHECK(c.stats().retries == 1);
    // The same request id on every attempt, for the server's logs.
    CHECK(lb.handler->requests[0].head.header("x-request-id") == lb.handler->requests[1].head.header("x-request-id"));
}

TEST_CASE("429 with x-retry-after waits exactly what the server asks") {
    loopback lb;
    lb.handler->script.push_back(json_response(429, "{}", {{"x-retry-after", "1.5"}}));
    lb.handler->script.push_back(json_response(429, "{}", {{"Retry-After", "3"}}));
    auto c = lb.make_client();
    auto r = send(lb.io, c, {.target = "export/status"});
    REQUIRE_FALSE(r.ec);
    CHECK(r.resp.attempts == 3);
    REQUIRE(lb.timer->sleeps().size() == 2);
    CHECK(lb.timer->sleeps()[0] == 1500ms);
    CHECK(lb.timer->sleeps()[1] == 3000ms);
}

TEST_CASE("retries stop at max_retries and report the last status with attempts") {
    loopback lb;
    for (int i = 0; i < 5; ++i) lb.handler->script.push_back(json_response(503, R"({"message":"down"})"));
    auto c = lb.make_client();
    auto r = send(lb.io, c, {.target = "x"});
    CHECK(r.ec == errc::service_unavailable);
    CHECK(r.resp.attempts == 3);
    CHECK(r.resp.diag.attempts == 3);
    CHECK(r.resp.diag.detail.find("retries exhausted") != std::string::npos);
    CHECK(lb.handler->requests.size() == 3);
}

TEST_CASE("a POST is not sent again once it may have reached the server") {
    loopback lb;
    SUBCASE("503") {
        lb.handler->script.push_back(json_response(503, "{}"));
        auto c = lb.make_client();
        auto r = send(lb.io, c, {.method = http_method::post, .target = "import", .body = "{}"});
        CHECK(r.ec == errc::service_unavailable);
    }
    SUBCASE("connection reset after the request arrived") {
        server::response_plan reset;
        reset.reset = true;
        lb.handler->script.push_back(reset);
        auto c = lb.make_client();
        auto r = send(lb.io, c, {.method = http_method::post, .target = "import", .body = "{}"});
        CHECK(r.ec == errc::connection_closed);
        CHECK(r.resp.attempts == 1);
    }
    CHECK(lb.handler->requests.size() == 1);
}

TEST_CASE("a GET whose connection is reset is retried") {
    loopback lb;
    server::response_plan reset;
    reset.reset = true;
    lb.handler->script.push_back(reset);
    auto c = lb.make_client();
    auto r = send(lb.io, c, {.target = "x"});
    REQUIRE_FALSE(r.ec);
    CHECK(lb.handler->requests.size() == 2);
}

TEST_CASE("reset in the middle of a body is connection_closed, not success") {
    loopback lb;
    auto plan = json_response(200, std::string(100000, 'a'));
    plan.reset_after = 1000;
    for (int i = 0; i < 3; ++i) lb.handler->script.push_back(plan);
    auto cfg = lb.config();
    cfg.max_retries = 0;
    auto c = lb.make_client(cfg);
    auto r = send(lb.io, c, {.target = "x"});
    CHECK(r.ec == errc::connection_closed);
}

TEST_CASE("timeouts have their own codes") {
    SUBCASE("idle: the server stalls before its headers") {
        loopback lb;
        auto slow = json_response(200, "{}");
        slow.delay = 3s;
        lb.handler->script.push_back(slow);
        auto cfg = lb.config();
        cfg.transport.idle_timeout = 200ms;
        cfg.max_retries = 0;
        auto c = lb.make_client(cfg);
        auto r = send(lb.io, c, {.target = "x"});
        CHECK(r.ec == errc::idle_timeout);
    }
    SUBCASE("whole request: bytes keep flowing but too slowly") {
        loopback lb;
        auto slow = json_response(200, std::string(200000, 'b'));
        slow.bytes_per_second = 100000;
        lb.handler->script.push_back(slow);
        auto cfg = lb.config();
        cfg.timeout = 300ms;
        cfg.max_retries = 0;
        auto c = lb.make_client(cfg);
        auto r = send(lb.io, c, {.target = "x"});
        CHECK(r.ec == errc::request_timeout);
    }
    SUBCASE("connect: the listener's queue is full and SYNs are dropped") {
        asio::io_context io;
        asio::ip::tcp::acceptor full(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        full.listen(0);
        std::vector<std::unique_ptr<asio::ip::tcp::socket>> fillers;
        for (int i = 0; i < 4; ++i) {  // fill the accept queue without accepting
            auto s = std::make_unique<asio::ip::tcp::socket>(io);
            s->async_connect(full.local_endpoint(), [](error_code) {});
            fillers.push_back(std::move(s));
        }
        io.poll();
        client_config cfg{.base_url = "http://127.0.0.1:" + std::to_string(full.local_endpoint().port()) + "/t",
                          .api_key = "k", .max_retries = 0, .use_environment = false};
        cfg.transport.connect_timeout = 300ms;
        client c(io.get_executor(), cfg);
        auto r = send(io, c, {.target = "x"});
        CHECK(r.ec == errc::connect_timeout);
    }
    SUBCASE("TLS handshake: the peer accepts and never answers") {
        asio::io_context io;
        raw_peer silent(io, "", true);
        client_config cfg{.base_url = "https://127.0.0.1:" + std::to_string(silent.port()) + "/t", .api_key = "k",
                          .max_retries = 0, .use_environment = false};
        cfg.transport.handshake_timeout = 300ms;
        client c(io.get_executor(), cfg);
        auto r = send(io, c, {.target = "x"});
        CHECK(r.ec == errc::tls_handshake_timeout);
        silent.close();
    }
}

TEST_CASE("a caller's cancellation is distinct from a timeout") {
    loopback lb;
    auto slow = json_response(200, "{}");
    slow.delay = 5s;
    lb.handler->script.push_back(slow);
    auto c = lb.make_client();
    asio::cancellation_signal sig;
    std::optional<send_result> out;
    c.async_send(request{.target = "x"}, asio::bind_cancellation_slot(sig.slot(), [&](error_code ec, response r) {
                     out.emplace(send_result{ec, std::move(r)});
                 }));
    run_until(lb.io, [&] { return !lb.handler->requests.empty(); });
    sig.emit(asio::cancellation_type::terminal);
    run_until(lb.io, [&] { return out.has_value(); });
    CHECK(out->ec == errc::cancelled);
}

TEST_CASE("cancellation during a retry backoff ends the wait") {
    loopback lb;
    lb.timer = std::make_shared<manual_timer_service>(false);  // sleeps wait for advance()
    lb.handler->script.push_back(json_response(503, "{}"));
    auto c = lb.make_client();
    asio::cancellation_signal sig;
    std::optional<send_result> out;
    c.async_send(request{.target = "x"}, asio::bind_cancellation_slot(sig.slot(), [&](error_code ec, response r) {
                     out.emplace(send_result{ec, std::move(r)});
                 }));
    run_until(lb.io, [&] { return lb.timer->pending() == 1; });
    sig.emit(asio::cancellation_type::terminal);
    run_until(lb.io, [&] { return out.has_value(); });
    CHECK(out->ec == errc::cancelled);
    CHECK(lb.handler->requests.size() == 1);
}

TEST_CASE("body and header limits are enforced") {
    loopback lb;
    SUBCASE("declared body over the limit") {
        lb.handler->script.push_back(json_response(200, std::string(2 * 1024 * 1024, 'x')));
        auto c = lb.make_client();
        auto r = send(lb.io, c, {.target = "x", .body_limit = 1024 * 1024});
        CHECK(r.ec == errc::body_too_large);
        CHECK(r.resp.diag.detail.find("limit") != std::string::npos);
    }
    SUBCASE("header over the limit") {
        // Beast caps one field at 64 KiB, so three fields of 30 KiB make 90 KiB.
        auto big = json_response(200, "{}", {{"X-Big-1", std::string(30 * 1024, 'h')},
                                             {"X-Big-2", std::string(30 * 1024, 'h')},
                                             {"X-Big-3", std::string(30 * 1024, 'h')}});
        lb.handler->script.push_back(big);
        auto c = lb.make_client();
        auto r = send(lb.io, c, {.target = "x"});
        CHECK(r.ec == errc::header_too_large);
    }
}

TEST_CASE("streaming: a 64 MiB download and upload with bounded buffers") {
    constexpr std::uint64_t size = 64ull * 1024 * 1024;
    loopback lb;
    SUBCASE("download into a sink") {
        server::response_plan big;
        big.source = std::make_shared<pattern_source>(size);
        lb.handler->script.push_back(big);
        auto c = lb.make_client();
        checking_sink sink;
        auto r = send(lb.io, c, {.target = "file", .sink = &sink});
        REQUIRE_FALSE(r.ec);
        CHECK(sink.bytes == size);
        CHECK(sink.pattern_ok);
        CHECK(sink.starts == 1);
        CHECK(r.resp.body.empty());
        CHECK(r.resp.body_bytes == size);
        // Bounded by the configured buffers, never by the body: one chunk, and a
        // connection's read buffer (header limit + chunk) beside it.
        transport_config tc;
        CHECK(sink.largest_chunk <= tc.chunk_size);
        CHECK(c.get_transport()->stats().peak_buffer_bytes <= tc.header_limit + 2 * tc.chunk_size);
        CHECK(c.get_transport()->stats().peak_buffer_bytes < size / 64);
    }
    SUBCASE("upload from a source with Content-Length up front") {
        auto counter = std::make_shared<checking_sink>();
        lb.handler->planner = [&](const server::request_head&) {
            return server::body_plan{.limit = size, .sink = counter};
        };
        auto c = lb.make_client();
        pattern_source src(size);
        auto r = send(lb.io, c, {.method = http_method::post, .target = "import",
                                 .content_type = "application/octet-stream", .source = &src});
        REQUIRE_FALSE(r.ec);
        REQUIRE(lb.handler->requests.size() == 1);
        CHECK(lb.handler->requests[0].head.content_length == size);
        CHECK(counter->bytes == size);
        CHECK(counter->pattern_ok);
        transport_config tc;
        CHECK(c.get_transport()->stats().peak_buffer_bytes <= tc.header_limit + 2 * tc.chunk_size);
    }
}

TEST_CASE("a source that ends before its size is an error, not a short request") {
    struct short_source : pattern_source {
        short_source() : pattern_source(1000) {}
        std::uint64_t size() const override { return 2000; }
    } src;
    loopback lb;
    auto cfg = lb.config();
    cfg.max_retries = 0;
    auto c = lb.make_client(cfg);
    auto r = send(lb.io, c, {.method = http_method::post, .target = "import", .source = &src});
    CHECK(r.ec == errc::body_source_error);
}

TEST_CASE("every request carries the standard headers") {
    loopback lb;
    auto c = lb.make_client();
    REQUIRE_FALSE(send(lb.io, c, {.target = "x", .headers = {{"X-Extra", "1"}}}).ec);
    auto h = lb.handler->requests.at(0).head;  // a copy: more requests follow
    CHECK(h.header("x-tenant-name") == "acme");
    CHECK(detail::is_uuid(h.header("x-request-id")));
    CHECK(h.header("user-agent").find("cspark-impex/") == 0);
    CHECK(h.header("x-spark-ua").find("agent=cspark-impex/") == 0);
    CHECK(h.header("x-synthetic-key") == "test-api-key-0123456789");
    CHECK(h.header("x-extra") == "1");
    // Each logical request gets a fresh id.
    REQUIRE_FALSE(send(lb.io, c, {.target = "y"}).ec);
    CHECK(lb.handler->requests.at(1).head.header("x-request-id") != h.header("x-request-id"));
}

TEST_CASE("errors carry the API's {type, code, message}, the request id and a masked URL") {
    loopback lb;
    lb.handler->script.push_back(json_response(
        500, R"({"type":"invalid_input","code":"INVALID_JOB_ID","message":"Please Provide valid job id"})"));
    auto c = lb.make_client();
    auto r = send(lb.io, c, {.target = "export/nope/status?token=abc"});
    CHECK(r.ec == errc::server_error);  // 500 is not retried
    CHECK(lb.handler->requests.size() == 1);
    CHECK(r.resp.diag.http_status == 500);
    CHECK(r.resp.diag.api_type == "invalid_input");
    CHECK(r.resp.diag.api_code == "INVALID_JOB_ID");
    CHECK(r.resp.diag.api_message == "Please Provide valid job id");
    CHECK(r.resp.diag.request_id == lb.handler->requests[0].head.header("x-request-id"));
    CHECK(r.resp.diag.method == "GET");
    CHECK(r.resp.diag.url.find("token=***") != std::string::npos);
    CHECK(r.resp.diag.url.find("abc") == std::string::npos);
    CHECK(r.resp.status == 500);

    lb.handler->script.push_back(json_response(401, R"({"status":"Error","errorCode":"INVALID_TOKEN"})"));
    r = send(lb.io, c, {.target = "x"});
    CHECK(r.ec == errc::unauthorized);
    CHECK(r.resp.diag.api_code == "INVALID_TOKEN");
}

TEST_CASE("malformed HTTP and malformed JSON are named") {
    asio::io_context io;
    raw_peer garbage(io, "HELLO THERE\r\n\r\n");
    client_config cfg{.base_url = "http://127.0.0.1:" + std::to_string(garbage.port()) + "/t", .api_key = "k",
                      .max_retries = 0, .use_environment = false};
    client c(io.get_executor(), cfg);
    auto r = send(io, c, {.target = "x"});
    CHECK(r.ec == errc::malformed_response);
    garbage.close();

    loopback lb;
    lb.handler->script.push_back(json_response(200, "{not json"));
    auto c2 = lb.make_client();
    auto ok = send(lb.io, c2, {.target = "x"});
    REQUIRE_FALSE(ok.ec);
    error_code jec;
    diagnostics d;
    auto v = parse_json_body(ok.resp, jec, d);
    CHECK(jec == errc::malformed_json);
    CHECK(v.is_null());
    CHECK(d.body_excerpt == "{not json");
}

TEST_CASE("connection refused is connect_failed, retried, then reported") {
    asio::io_context io;
    std::uint16_t port;
    {
        asio::ip::tcp::acceptor a(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        port = a.local_endpoint().port();
    }
    auto timer = std::make_shared<manual_timer_service>();
    client_config cfg{.base_url = "http://127.0.0.1:" + std::to_string(port) + "/t", .api_key = "k",
                      .use_environment = false, .timer = timer};
    client c(io.get_executor(), cfg);
    auto r = send(io, c, {.method = http_method::post, .target = "import", .body = "{}"});
    CHECK(r.ec == errc::connect_failed);
    CHECK(r.resp.attempts == 3);  // nothing was sent: safe even for a POST
    CHECK(timer->sleeps().size() == 2);
}

TEST_CASE("credentials never go to another host, nor through a redirect to one") {
    loopback a;
    server::server_config other_cfg;
    server::http_server other(a.io.get_executor(), other_cfg, a.handler);
    other.start();
    auto c = a.make_client();

    SUBCASE("absolute URL on another host") {
        auto r = send(a.io, c, {.target = other.url() + "/download/file.zip?token=t"});
        REQUIRE_FALSE(r.ec);
        auto& h = a.handler->requests.at(0).head;
        CHECK(h.header("x-synthetic-key").empty());
        CHECK(h.header("authorization").empty());
        CHECK(h.header("x-tenant-name").empty());
        CHECK(h.target == "/download/file.zip?token=t");
    }
    SUBCASE("GET redirected to another host") {
        server::response_plan redirect;
        redirect.status = 302;
        redirect.headers.emplace_back("Location", other.url() + "/blob");
        a.handler->script.push_back(redirect);
        auto r = send(a.io, c, {.target = "export/1/file"});
        REQUIRE_FALSE(r.ec);
        REQUIRE(a.handler->requests.size() == 2);
        CHECK_FALSE(a.handler->requests[0].head.header("x-synthetic-key").empty());
        CHECK(a.handler->requests[1].head.target == "/blob");
        CHECK(a.handler->requests[1].head.header("x-synthetic-key").empty());
    }
    SUBCASE("POST redirects are refused") {
        server::response_plan redirect;
        redirect.status = 307;
        redirect.headers.emplace_back("Location", other.url() + "/elsewhere");
        a.handler->script.push_back(redirect);
        auto r = send(a.io, c, {.method = http_method::post, .target = "import", .body = "{}"});
        CHECK(r.ec == errc::redirect_refused);
        CHECK(a.handler->requests.size() == 1);
    }
    other.stop();
}

TEST_CASE("secrets never reach logs or diagnostics") {
    loopback lb;
    std::vector<std::string> lines;
    auto cfg = lb.config();
    cfg.log = {log_level::trace, [&](log_level, std::string_view l) { lines.emplace_back(l); }};
    cfg.api_key = "very-secret-key-987654321";
    // The server echoes the key back in its error body.
    lb.handler->script.push_back(json_response(503, R"({"message":"bad key very-secret-key-987654321"})"));
    lb.handler->script.push_back(json_response(403, R"({"message":"bad key very-secret-key-987654321"})"));
    auto c = lb.make_client(cfg);
    auto r = send(lb.io, c, {.target = "download?token=abcdef"});
    CHECK(r.ec == errc::forbidden);
    CHECK_FALSE(lines.empty());
    for (const auto& l : lines) {
        CHECK(l.find("very-secret-key") == std::string::npos);
        CHECK(l.find("abcdef") == std::string::npos);
    }
    auto text = r.resp.diag.to_string() + r.resp.diag.body_excerpt + r.resp.diag.api_message;
    CHECK(text.find("very-secret-key") == std::string::npos);
    CHECK(text.find("***") != std::string::npos);
}

TEST_CASE("the per-host connection cap queues requests instead of opening more") {
    loopback lb;
    auto cfg = lb.config();
    cfg.transport.max_connections_per_host = 2;
    auto c = lb.make_client(cfg);
    int done = 0;
    for (int i = 0; i < 10; ++i)
        c.async_send(request{.target = "x"}, [&](error_code ec, response) {
            CHECK_FALSE(ec);
            ++done;
        });
    run_until(lb.io, [&] { return done == 10; });
    CHECK(lb.srv->stats().accepted <= 2);
    CHECK(c.get_transport()->stats().connections_opened <= 2);
}
