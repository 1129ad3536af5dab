// Test support: a scripted handler on the real server core, a raw TCP peer for
// protocol faults, and helpers that drive an io_context with a bound.
#pragma once

#include <cspark/client.hpp>

#include "server/http_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cspark::test {

namespace asio = boost::asio;
using namespace std::chrono_literals;

struct recorded_request {
    server::request_head head;
    std::string body;
    server::body_status status;
};

using server::json_response;

/// Answers from a script (in order), then from `fallback`; records every request.
struct scripted_handler : server::handler {
    std::deque<server::response_plan> script;
    std::function<server::response_plan(const recorded_request&)> fallback;
    std::function<server::body_plan(const server::request_head&)> planner;
    std::vector<recorded_request> requests;

    server::body_plan plan_body(const server::request_head& h) override {
        return planner ? planner(h) : server::body_plan{};
    }
    server::response_plan handle(const server::request_head& h, std::string& body,
                                 const server::body_status& st) override {
        requests.push_back({h, body, st});
        if (!script.empty()) {
            auto p = std::move(script.front());
            script.pop_front();
            return p;
        }
        if (fallback) return fallback(requests.back());
        return json_response(200, R"({"ok":true})");
    }
};

/// Deterministic bytes of a given size, produced on demand (nothing buffered).
class pattern_source : public body_source {
public:
    explicit pattern_source(std::uint64_t size) : size_(size) {}
    std::uint64_t size() const override { return size_; }
    std::size_t read(std::span<char> buf, error_code&) override {
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size_ - pos_));
        for (std::size_t i = 0; i < n; ++i) buf[i] = static_cast<char>((pos_ + i) * 31 % 251);
        pos_ += n;
        return n;
    }
    void rewind(error_code&) override { pos_ = 0; }

private:
    std::uint64_t size_, pos_ = 0;
};

/// Counts bytes, verifies the pattern, remembers the largest chunk.
class checking_sink : public body_sink {
public:
    std::uint64_t bytes = 0;
    std::size_t largest_chunk = 0;
    bool pattern_ok = true;
    int starts = 0;
    void start(int, std::optional<std::uint64_t>, const header_list&, error_code&) override { ++starts; }
    void write(std::span<const char> d, error_code&) override {
        for (std::size_t i = 0; i < d.size(); ++i)
            if (d[i] != static_cast<char>((bytes + i) * 31 % 251)) pattern_ok = false;
        bytes += d.size();
        largest_chunk = std::max(largest_chunk, d.size());
    }
};

/// Runs `io` until `done()` or a wall-clock bound; fails the test on the bound.
template <class Pred>
void run_until(asio::io_context& io, Pred done, std::chrono::seconds bound = 60s) {
    auto until = std::chrono::steady_clock::now() + bound;
    while (!done() && std::chrono::steady_clock::now() < until) {
        io.restart();
        io.run_one_for(50ms);
    }
    REQUIRE_MESSAGE(done(), "operation did not finish within the bound");
}

struct send_result {
    error_code ec;
    response resp;
};

inline send_result send(asio::io_context& io, client& c, request r) {
    std::optional<send_result> out;
    c.async_send(std::move(r), [&](error_code ec, response resp) { out.emplace(send_result{ec, std::move(resp)}); });
    run_until(io, [&] { return out.has_value(); });
    return std::move(*out);
}

/// Runs a coroutine to completion on `io`, rethrowing what it throws.
template <class F>
void run_coro(asio::io_context& io, F&& make) {
    bool done = false;
    std::exception_ptr failure;
    asio::co_spawn(io, make(), [&](std::exception_ptr e) {
        failure = e;
        done = true;
    });
    run_until(io, [&] { return done; });
    if (failure) std::rethrow_exception(failure);
}

/// One scripted server on 127.0.0.1 and a client factory pointing at it.
struct loopback {
    asio::io_context io;
    std::shared_ptr<scripted_handler> handler = std::make_shared<scripted_handler>();
    std::unique_ptr<server::http_server> srv;
    std::shared_ptr<manual_timer_service> timer = std::make_shared<manual_timer_service>();

    explicit loopback(server::server_config cfg = {}) {
        srv = std::make_unique<server::http_server>(io.get_executor(), std::move(cfg), handler);
        srv->start();
    }
    ~loopback() { srv->stop(); }

    std::string base() const { return srv->url() + "/acme"; }

    client_config config() const {
        client_config c;
        c.base_url = base();
        c.api_key = "test-api-key-0123456789";
        c.use_environment = false;
        c.timer = timer;
        c.random = [] { return 0.5; };
        return c;
    }
    client make_client() { return client(io.get_executor(), config()); }
    client make_client(client_config c) { return client(io.get_executor(), std::move(c)); }
};

/// A raw TCP peer on 127.0.0.1: accepts and answers with fixed bytes (or
/// nothing), for malformed responses and silent servers.
struct raw_peer {
    asio::ip::tcp::acceptor acceptor;
    std::string reply;
    bool silent = false;
    std::vector<std::shared_ptr<asio::ip::tcp::socket>> sockets;

    raw_peer(asio::io_context& io, std::string r, bool quiet = false)
        : acceptor(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), reply(std::move(r)),
          silent(quiet) {
        accept();
    }
    std::uint16_t port() const { return acceptor.local_endpoint().port(); }
    void accept() {
        auto s = std::make_shared<asio::ip::tcp::socket>(acceptor.get_executor());
        acceptor.async_accept(*s, [this, s](error_code ec) {
            if (ec) return;
            sockets.push_back(s);
            if (!silent) {
                auto buf = std::make_shared<std::array<char, 4096>>();
                s->async_read_some(asio::buffer(*buf), [this, s, buf](error_code, std::size_t) {
                    asio::async_write(*s, asio::buffer(reply), [s](error_code, std::size_t) {
                        error_code ignored;
                        s->shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
                    });
                });
            }
            accept();
        });
    }
    void close() {
        error_code ignored;
        acceptor.close(ignored);
        for (auto& s : sockets) s->close(ignored);
    }
};

}  // namespace cspark::test
