// The retry policy as pure code: given what happened to one attempt, decide
// whether to send again and after how long. No sockets, no timers: the client
// asks it and then sleeps through its timer_service.
#pragma once

#include <cspark/error.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace cspark {

struct retry_config {
    int max_retries = 2;                         ///< sends after the first one (SDK default 2)
    std::chrono::milliseconds retry_interval{1000};  ///< base delay (SDK default 1 s)
    std::chrono::milliseconds max_delay{30000};  ///< cap of one computed delay
    std::chrono::milliseconds max_retry_after{120000};  ///< longer server hints are not waited for
    std::chrono::milliseconds deadline{0};       ///< whole request incl. waits; 0 = none
    bool retry_rate_limited_posts = true;        ///< 429 means "refused before any action", so
                                                 ///< even a POST is safe to send again
};

/// What one attempt ended with, as the transport saw it.
struct attempt_outcome {
    error_code ec;            ///< transport error, or the errc of a non-2xx status
    int http_status = 0;      ///< 0 when no response arrived
    bool request_sent = false;  ///< any byte of the request was written: it may have reached the server
    std::optional<std::chrono::milliseconds> retry_after;  ///< Retry-After / x-retry-after
};

struct retry_decision {
    bool retry = false;
    std::chrono::milliseconds delay{0};
    std::string_view reason;  ///< why (to retry or to stop), for logs and progress
};

/// attempt: how many sends were made so far (1 after the first). elapsed: time
/// since the first send. random01: a number in [0, 1) for full jitter.
retry_decision decide_retry(const retry_config& cfg, bool idempotent, int attempt,
                            const attempt_outcome& outcome, std::chrono::milliseconds elapsed,
                            double random01) noexcept;

/// Capped exponential backoff with full jitter:
/// random01 * min(max_delay, retry_interval * 2^(attempt-1)).
std::chrono::milliseconds backoff_delay(const retry_config& cfg, int attempt, double random01) noexcept;

/// Parses a Retry-After or Spark's x-retry-after: delta seconds (may be
/// fractional: ".1") or an HTTP date (IMF-fixdate, RFC 850 or asctime form),
/// counted from `now` (the response's own Date header where it has one, so
/// the two clocks never mix); a date already past is zero. Empty optional
/// when invalid.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now) noexcept;
/// The same, counted from this machine's clock.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value) noexcept;

/// An HTTP date in any of the three forms RFC 9110 asks recipients to accept:
/// "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
/// "Sun Nov  6 08:49:37 1994". Years 1970-2200; empty optional when invalid.
std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view value) noexcept;
/// IMF-fixdate ("Fri, 27 Nov 2026 08:00:01 GMT"), whole seconds.
std::string format_http_date(std::chrono::system_clock::time_point t);

/// True for failures the server cannot have acted on (nothing was sent) and
/// that may pass: connect errors and timeouts, resolve failures, handshake timeouts.
bool is_transient_before_send(error_code ec) noexcept;

}  // namespace cspark
