#include <cspark/retry.hpp>

#include <boost/asio/error.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>

namespace cspark {

std::chrono::milliseconds backoff_delay(const retry_config& cfg, int attempt, double random01) noexcept {
    using ms = std::chrono::milliseconds;
    if (cfg.retry_interval <= ms::zero()) return ms::zero();
    double cap = static_cast<double>(cfg.max_delay.count());
    double base = static_cast<double>(cfg.retry_interval.count()) * std::ldexp(1.0, std::clamp(attempt - 1, 0, 40));
    double ceiling = cap > 0 ? std::min(cap, base) : base;
    double r = std::clamp(random01, 0.0, 1.0);
    return ms(static_cast<ms::rep>(r * ceiling));
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view v) noexcept {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    if (v.empty() || v.size() > 32) return std::nullopt;
    std::string s(v);
    if (s.front() == '.') s.insert(s.begin(), '0');
    double seconds = 0;
    auto [p, e] = std::from_chars(s.data(), s.data() + s.size(), seconds);
    if (e != std::errc{} || p != s.data() + s.size() || !(seconds >= 0) || seconds > 86400.0 * 365) return std::nullopt;
    return std::chrono::milliseconds(static_cast<long long>(std::ceil(seconds * 1000.0)));
}

bool is_transient_before_send(error_code ec) noexcept {
    if (ec.category() != error_category()) return false;
    switch (static_cast<errc>(ec.value())) {
    case errc::resolve_failed:
    case errc::connect_failed:
    case errc::connect_timeout:
    case errc::tls_handshake_timeout:
    case errc::tls_handshake_failed:
        return true;
    default:
        return false;
    }
}

retry_decision decide_retry(const retry_config& cfg, bool idempotent, int attempt, const attempt_outcome& out,
                            std::chrono::milliseconds elapsed, double random01) noexcept {
    using ms = std::chrono::milliseconds;
    if (!out.ec) return {false, ms::zero(), "succeeded"};
    if (out.ec == errc::cancelled || out.ec == boost::asio::error::operation_aborted)
        return {false, ms::zero(), "cancelled"};

    std::string_view reason;
    bool retryable = false;
    if (out.http_status != 0) {
        switch (out.http_status) {
        case 429:
            retryable = idempotent || cfg.retry_rate_limited_posts;
            reason = "rate limited (429)";
            break;
        case 408: reason = "request timeout (408)"; retryable = idempotent; break;
        case 502: reason = "bad gateway (502)"; retryable = idempotent; break;
        case 503: reason = "service unavailable (503)"; retryable = idempotent; break;
        case 504: reason = "gateway timeout (504)"; retryable = idempotent; break;
        default: return {false, ms::zero(), "status is not retryable"};
        }
        if (!retryable) return {false, ms::zero(), "not idempotent: the server may have acted on it"};
    } else if (!out.request_sent) {
        retryable = is_transient_before_send(out.ec);
        reason = "connection failed before the request was sent";
        if (!retryable) return {false, ms::zero(), "error is not transient"};
    } else {
        bool transient = out.ec == errc::connection_closed || out.ec == errc::idle_timeout ||
                         out.ec == errc::request_timeout;
        if (!transient) return {false, ms::zero(), "error is not transient"};
        if (!idempotent) return {false, ms::zero(), "not idempotent: the request may have reached the server"};
        reason = "connection lost after the request was sent";
        retryable = true;
    }

    if (attempt > cfg.max_retries) return {false, ms::zero(), "retries exhausted"};

    ms delay = backoff_delay(cfg, attempt, random01);
    if (out.retry_after) {
        if (*out.retry_after > cfg.max_retry_after) return {false, ms::zero(), "server asks to wait longer than max_retry_after"};
        delay = *out.retry_after;
    }
    if (cfg.deadline > ms::zero() && elapsed + delay >= cfg.deadline)
        return {false, ms::zero(), "deadline would pass before the next attempt"};
    return {true, delay, reason};
}

}  // namespace cspark
