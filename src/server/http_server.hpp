// A small HTTP/1.1 server core (plain or TLS, keep-alive, streamed bodies,
// scripted faults). Handlers are synchronous functions of the request; the
// core does all I/O and timing, so a handler is plain state-machine code.
// Used by cspark-emulator and by the transport tests.
#pragma once

#include <cspark/body.hpp>
#include <cspark/error.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace cspark::server {

struct request_head {
    std::string method;   ///< "GET", "POST", ...
    std::string target;   ///< origin-form: "/path?query"
    header_list headers;
    std::optional<std::uint64_t> content_length;
    std::string remote;   ///< peer address
    bool tls = false;
    std::string host;     ///< Host header

    std::string_view header(std::string_view name) const noexcept { return find_header(headers, name); }
    std::string_view path() const noexcept;
    std::string_view query() const noexcept;
};

/// Where the request body goes; decided when the head has arrived.
struct body_plan {
    std::uint64_t limit = 1024 * 1024;   ///< bytes accepted; more sets body_status::too_large
    std::shared_ptr<body_sink> sink;     ///< stream into it; null = buffer into a string
};

struct body_status {
    std::uint64_t bytes = 0;   ///< body bytes received
    bool too_large = false;    ///< the body exceeded body_plan::limit (rest discarded)
    error_code sink_error;     ///< the sink refused a write (rest discarded)
    body_sink* sink = nullptr; ///< body_plan::sink, alive until handle() returns
};

struct response_plan {
    int status = 200;
    header_list headers;
    std::string body;
    std::shared_ptr<body_source> source;  ///< streamed body (overrides body)
    bool close = false;                   ///< Connection: close after this response

    // Faults, carried out by the server core.
    std::chrono::milliseconds delay{0};   ///< wait before the status line
    bool reset = false;                   ///< abort the connection (RST) instead of answering
    std::optional<std::uint64_t> reset_after;  ///< RST after this many body bytes
    std::uint64_t bytes_per_second = 0;   ///< throttle the body; 0 = full speed
};

/// A response with a JSON body (already serialized).
inline response_plan json_response(int status, std::string body, header_list headers = {}) {
    response_plan p;
    p.status = status;
    p.body = std::move(body);
    p.headers = std::move(headers);
    p.headers.emplace_back("Content-Type", "application/json");
    return p;
}

class handler {
public:
    virtual ~handler() = default;
    virtual body_plan plan_body(const request_head&) { return {}; }
    /// `body` holds the buffered body (empty when a sink took it).
    virtual response_plan handle(const request_head& head, std::string& body, const body_status& status) = 0;
};

struct server_config {
    std::string address = "127.0.0.1";
    std::uint16_t port = 0;                 ///< 0 = ephemeral
    std::string tls_cert_pem;               ///< both set = HTTPS
    std::string tls_key_pem;
    std::uint32_t header_limit = 16 * 1024; ///< larger request heads get 431
    std::chrono::milliseconds idle_timeout{60000};  ///< between and during requests
    std::uint64_t drain_limit = 1024ull * 1024 * 1024;  ///< over-limit bodies read and dropped up to this
    std::size_t chunk_size = 256 * 1024;
    int backlog = 4096;
};

struct server_stats {
    std::uint64_t accepted = 0;
    std::uint64_t requests = 0;
    std::size_t active = 0;
};

class http_server {
public:
    http_server(boost::asio::any_io_executor ex, server_config cfg, std::shared_ptr<handler> h);
    ~http_server();
    http_server(const http_server&) = delete;
    http_server& operator=(const http_server&) = delete;

    /// Binds, listens and starts accepting. Throws spark_error on failure.
    void start();
    /// Stops accepting and closes every connection.
    void stop();
    /// Closes every open connection (FIN) but keeps accepting: what a server
    /// restart or an idle-connection reaper looks like to kept-alive clients.
    void close_connections();
    std::uint16_t port() const noexcept;
    bool tls() const noexcept;
    /// "http://127.0.0.1:PORT"
    std::string url() const;
    server_stats stats() const noexcept;

    struct state;

private:
    std::shared_ptr<state> st_;
};

}  // namespace cspark::server
