// The server's shared state, private to src/server: http_server.cpp accepts
// and reads requests, respond.cpp writes the answers.
#pragma once

#include "server/http_server.hpp"

#include "http/stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/serializer.hpp>

#include <atomic>
#include <mutex>
#include <optional>
#include <unordered_set>
#include <vector>

namespace cspark::server {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

inline constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct http_server::state : std::enable_shared_from_this<state> {
    asio::any_io_executor ex;
    server_config cfg;
    std::shared_ptr<handler> h;
    tcp::acceptor acceptor;
    std::optional<asio::ssl::context> tls_ctx;
    // With several io threads each connection runs on its own strand; what
    // connections share (this set, the counters) is behind `mu`.
    std::mutex mu;
    std::unordered_set<detail::any_stream*> live;
    std::unordered_set<std::shared_ptr<asio::steady_timer>> waits;  ///< fault delays: stop() ends them
    server_stats stats;
    std::atomic<bool> stopped{false};

    state(asio::any_io_executor e, server_config c, std::shared_ptr<handler> hh)
        : ex(e), cfg(std::move(c)), h(std::move(hh)), acceptor(e) {}

    asio::awaitable<void> accept_loop();
    asio::awaitable<void> session(tcp::socket sock);
    asio::awaitable<bool> serve_one(detail::any_stream& s, beast::flat_buffer& buffer, std::vector<char>& chunk,
                                    const std::string& remote);
    asio::awaitable<bool> respond(detail::any_stream& s, response_plan& plan, bool head_only, bool keep_alive,
                                  std::vector<char>& chunk);
    asio::awaitable<bool> stream_body(detail::any_stream& s, response_plan& plan, body_source& src,
                                      http::response<http::buffer_body>& res,
                                      http::response_serializer<http::buffer_body>& sr, std::vector<char>& chunk);
    enum class body_end { drained, undrained, gone };
    asio::awaitable<body_end> read_body(detail::any_stream& s, beast::flat_buffer& buffer,
                                        http::request_parser<http::buffer_body>& p, std::vector<char>& chunk, body_plan& bp,
                                        body_status& bs, std::string& body);

    // Waits until `due` (a fault's delay or throttle); stop() cuts it short, so
    // a stopped server leaves no timer behind.
    asio::awaitable<void> pause(asio::any_io_executor ex, std::chrono::steady_clock::time_point due) {
        auto t = std::make_shared<asio::steady_timer>(ex, due);
        {
            std::lock_guard lock(mu);
            if (stopped) co_return;
            waits.insert(t);
        }
        co_await t->async_wait(asio::as_tuple(asio::use_awaitable));
        std::lock_guard lock(mu);
        waits.erase(t);
    }
};

/// Ends a connection with RST, not FIN (a fault, or a body that cannot be sent).
inline void abort_connection(detail::any_stream& s) {
    error_code ignored;
    auto& sock = s.tcp().socket();
    sock.set_option(asio::socket_base::linger(true, 0), ignored);  // RST, not FIN
    sock.close(ignored);
}

}  // namespace cspark::server
