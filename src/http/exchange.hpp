// The transport's one operation: send a request on a pooled connection and
// read its response. No retries, no credentials: the client decides those.
// Internal header without Beast, so client.cpp compiles light.
#pragma once

#include <cspark/base_url.hpp>
#include <cspark/body.hpp>
#include <cspark/clock.hpp>
#include <cspark/http.hpp>
#include <cspark/transport.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <functional>
#include <string>

namespace cspark::detail {

/// Cancellation of one logical operation: a flag, a hook that aborts the I/O in
/// progress (closes the socket, cancels a wait) and a signal for timer sleeps.
struct op_cancel {
    bool cancelled = false;
    std::function<void()> hook;
    boost::asio::cancellation_signal signal;

    void cancel() {
        if (cancelled) return;
        cancelled = true;
        if (hook) hook();
        signal.emit(boost::asio::cancellation_type::terminal);
    }
};

struct wire_request {
    http_method method = http_method::get;
    origin server;
    std::string target;              ///< origin-form: "/path?query"
    const header_list* headers = nullptr;
    std::string_view body;
    std::string_view content_type;
    body_source* source = nullptr;
    body_sink* sink = nullptr;
    std::uint64_t body_limit = 0;    ///< 0 = unlimited (sink) / must be set (buffered)
    std::uint64_t error_body_limit = 64 * 1024;  ///< non-2xx bodies kept up to this
    bool idempotent = true;
    clock_type::time_point deadline = clock_type::time_point::max();  ///< real time
};

struct wire_result {
    error_code ec;                   ///< transport/protocol error only (not HTTP status)
    int status = 0;
    header_list headers;
    std::string body;
    std::uint64_t body_bytes = 0;
    bool request_sent = false;       ///< some bytes of the request were written
    bool reused = false;             ///< the connection was kept alive from before
    std::string detail;              ///< words for diagnostics
};

boost::asio::awaitable<wire_result> exchange(transport& t, const wire_request& r, op_cancel& oc);

}  // namespace cspark::detail
