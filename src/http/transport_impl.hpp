// Internal to the transport: connections, per-origin pools and the state
// the connecting (connect.cpp) and exchanging (exchange.cpp) halves share.
#pragma once

// Connection pool and the HTTP/1.1 exchange: the only client file that
// instantiates Beast (compile cost: see docs/contributing.md, "Compiler notes").
#include "http/exchange.hpp"
#include "http/stream.hpp"

#include "core/proxy.hpp"
#include "core/text.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <optional>
#include <sys/socket.h>
#include <unordered_map>
#include <vector>

namespace cspark {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::ip::tcp;

namespace detail {

inline constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct connection {
    detail::any_stream stream;
    beast::flat_buffer buffer;
    std::vector<char> chunk;
    clock_type::time_point idle_since{};
    bool reused = false;
    const proxy_endpoint* forward_proxy = nullptr;  // http through a proxy: requests in absolute form

    connection(asio::any_io_executor ex, ssl::context* ctx, std::size_t header_limit, std::size_t chunk_size)
        : stream(ctx ? detail::any_stream(ex, *ctx) : detail::any_stream(ex)),
          buffer(header_limit + chunk_size),
          chunk(chunk_size) {
        // Beast reads max(512, free capacity) bytes at a time: without room
        // reserved up front a body streams in 512-byte reads.
        buffer.reserve(chunk_size);
    }
};

struct host_pool {
    std::vector<std::unique_ptr<connection>> idle;
    std::size_t open = 0;  // idle + busy + connecting
    std::deque<std::shared_ptr<asio::steady_timer>> waiters;

    void wake_one() {
        while (!waiters.empty()) {
            auto t = std::move(waiters.front());
            waiters.pop_front();
            if (t->cancel() > 0) return;
        }
    }
    void forget(const std::shared_ptr<asio::steady_timer>& t) { std::erase(waiters, t); }
};

inline bool is_ip_literal(const std::string& host) {
    error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

// A kept-alive connection the server has closed (or that holds stray bytes)
// must not carry the next request: a 0-byte peek means FIN, data means junk.
inline bool still_open(connection& c) {
    if (c.buffer.size() != 0) return false;
    char b;
    ssize_t n = ::recv(c.stream.tcp().socket().native_handle(), &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n >= 0) return false;
    return errno == EAGAIN || errno == EWOULDBLOCK;
}

inline http::verb to_verb(http_method m) {
    switch (m) {
    case http_method::get: return http::verb::get;
    case http_method::head: return http::verb::head;
    case http_method::post: return http::verb::post;
    case http_method::put: return http::verb::put;
    case http_method::patch: return http::verb::patch;
    case http_method::delete_: return http::verb::delete_;
    }
    return http::verb::get;
}

}  // namespace detail

// The counters as the pool keeps them: written on the transport's strand,
// read by stats() from any thread.
struct live_transport_stats {
    std::atomic<std::uint64_t> connections_opened{0}, requests{0}, reused{0}, stale_reconnects{0};
    std::atomic<std::size_t> open_connections{0}, peak_buffer_bytes{0};

    transport_stats snapshot() const noexcept {
        transport_stats s;
        s.connections_opened = connections_opened.load(std::memory_order_relaxed);
        s.requests = requests.load(std::memory_order_relaxed);
        s.reused = reused.load(std::memory_order_relaxed);
        s.stale_reconnects = stale_reconnects.load(std::memory_order_relaxed);
        s.open_connections = open_connections.load(std::memory_order_relaxed);
        s.peak_buffer_bytes = peak_buffer_bytes.load(std::memory_order_relaxed);
        return s;
    }
};

using detail::connection;
using detail::host_pool;
using detail::is_ip_literal;
using detail::still_open;
using detail::to_verb;
using detail::use_tuple;

struct transport::impl {
    // A strand over the executor given: every coroutine that touches the
    // pools, and every client of this transport, runs on it (transport.hpp).
    asio::any_io_executor ex;
    transport_config cfg;
    // Made on the first https connection: loading the system CA store costs
    // tens of milliseconds that a plain-http run (the emulator) never needs.
    std::optional<ssl::context> tls_ctx;
    ssl::context& tls();
    std::unordered_map<std::string, host_pool> pools;
    live_transport_stats stats;
    detail::proxy_routes proxies;

    // Arms the stream's timer for the next I/O step: the request deadline or
    // the idle timeout, whichever comes first. Returns true when the deadline binds.
    bool arm(connection& c, clock_type::time_point deadline) {
        auto idle_until = clock_type::now() + cfg.idle_timeout;
        bool deadline_binds = deadline <= idle_until;
        c.stream.tcp().expires_at(deadline_binds ? deadline : idle_until);
        return deadline_binds;
    }

    void note_buffer(const connection& c) {
        auto held = c.buffer.capacity() + c.chunk.size();
        if (held > stats.peak_buffer_bytes.load(std::memory_order_relaxed)) stats.peak_buffer_bytes.store(held);  // one writer: the strand
    }

    void release(const std::string& key, std::unique_ptr<connection> c, bool keep) {
        auto& hp = pools[key];
        if (keep && cfg.keep_alive.count() > 0) {
            c->idle_since = clock_type::now();
            c->stream.tcp().expires_never();
            hp.idle.push_back(std::move(c));
        } else {
            error_code ignored;
            c->stream.tcp().socket().close(ignored);
            --hp.open;
            --stats.open_connections;
        }
        hp.wake_one();
    }

    asio::awaitable<std::unique_ptr<connection>> connect(const origin& o, clock_type::time_point deadline,
                                                         detail::op_cancel& oc, detail::wire_result& res);
    asio::awaitable<std::optional<tcp::resolver::results_type>> resolve(const origin& o, clock_type::time_point connect_deadline,
                                                                        errc timed_out, detail::op_cancel& oc,
                                                                        detail::wire_result& res);
    // CONNECT origin through the proxy `c` is connected to.
    asio::awaitable<bool> tunnel(connection& c, const origin& o, const detail::proxy_endpoint& px, clock_type::time_point deadline,
                                 detail::op_cancel& oc, detail::wire_result& res);
    asio::awaitable<bool> handshake(connection& c, const origin& o, clock_type::time_point deadline, detail::op_cancel& oc,
                                    detail::wire_result& res);
    asio::awaitable<std::unique_ptr<connection>> acquire(const origin& o, const std::string& key,
                                                         clock_type::time_point deadline, detail::op_cancel& oc,
                                                         detail::wire_result& res);
    asio::awaitable<bool> run(connection& c, const detail::wire_request& r, detail::wire_result& res,
                              detail::op_cancel& oc);
    // run's halves: send the request (reading an early answer if the server
    // gives one), then read the response into the result or the sink.
    using early_answer = std::optional<http::response_parser<http::empty_body>>;
    asio::awaitable<bool> send(connection& c, const detail::wire_request& r, detail::wire_result& res,
                               detail::op_cancel& oc, early_answer& early);
    asio::awaitable<bool> send_streamed(connection& c, const detail::wire_request& r, detail::wire_result& res,
                                        detail::op_cancel& oc, http::request<http::buffer_body>& req,
                                        http::request_serializer<http::buffer_body>& sr, std::uint64_t length,
                                        early_answer& early);
    asio::awaitable<bool> write_chunks(connection& c, const detail::wire_request& r, detail::wire_result& res,
                                       detail::op_cancel& oc, http::request<http::buffer_body>& req,
                                       http::request_serializer<http::buffer_body>& sr, std::uint64_t length,
                                       error_code& write_ec, bool& early, bool& db);
    asio::awaitable<bool> read_early_answer(connection& c, detail::wire_result& res, detail::op_cancel& oc,
                                            early_answer& early_head, error_code write_ec, bool deadline_binds);
    asio::awaitable<bool> receive(connection& c, const detail::wire_request& r, detail::wire_result& res,
                                  detail::op_cancel& oc, early_answer& early);
    asio::awaitable<bool> read_body(connection& c, const detail::wire_request& r, detail::wire_result& res,
                                    detail::op_cancel& oc, http::response_parser<http::buffer_body>& p);
};

}  // namespace cspark
