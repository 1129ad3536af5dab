#include <cspark/retry.hpp>

#include "core/error_traits.hpp"

#include <boost/asio/error.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
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

namespace {

std::string_view trim_blanks(std::string_view v) noexcept {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return v;
}

bool number(std::string_view s, int& out) noexcept {
    if (s.empty() || s.size() > 4) return false;
    auto [p, e] = std::from_chars(s.data(), s.data() + s.size(), out);
    return e == std::errc{} && p == s.data() + s.size() && out >= 0;
}

constexpr std::array<std::string_view, 12> month_names{"jan", "feb", "mar", "apr", "may", "jun",
                                                       "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 7> day_names{"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

bool ieq(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
    return true;
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view v) noexcept {
    v = trim_blanks(v);
    if (v.size() > 64) return std::nullopt;
    // Tokens split at blanks, commas and dashes: IMF-fixdate and RFC 850 give
    // [wkday, day, month, year, time, GMT]; asctime [wkday, month, day, time, year].
    std::array<std::string_view, 7> t{};
    std::size_t n = 0;
    for (std::size_t i = 0; i < v.size();) {
        auto sep = [](char c) { return c == ' ' || c == ',' || c == '-'; };
        while (i < v.size() && sep(v[i])) ++i;
        std::size_t start = i;
        while (i < v.size() && !sep(v[i])) ++i;
        if (i > start) {
            if (n == t.size()) return std::nullopt;
            t[n++] = v.substr(start, i - start);
        }
    }
    std::string_view day_s, month_s, year_s, time_s;
    if (n == 6 && ieq(t[5], "gmt")) {
        day_s = t[1], month_s = t[2], year_s = t[3], time_s = t[4];
    } else if (n == 5) {
        month_s = t[1], day_s = t[2], time_s = t[3], year_s = t[4];
    } else {
        return std::nullopt;
    }
    if (t[0].size() < 3 || std::none_of(day_names.begin(), day_names.end(), [&](auto d) { return ieq(t[0].substr(0, 3), d); }))
        return std::nullopt;
    int day = 0, year = 0, hh = 0, mm = 0, ss = 0;
    unsigned month = 0;
    for (unsigned i = 0; i < month_names.size(); ++i)
        if (ieq(month_s, month_names[i])) month = i + 1;
    if (month == 0 || !number(day_s, day) || day_s.size() > 2 || !number(year_s, year)) return std::nullopt;
    if (year_s.size() == 2) year += year < 70 ? 2000 : 1900;  // RFC 850's two digits
    else if (year_s.size() != 4) return std::nullopt;
    if (time_s.size() != 8 || time_s[2] != ':' || time_s[5] != ':' || !number(time_s.substr(0, 2), hh) ||
        !number(time_s.substr(3, 2), mm) || !number(time_s.substr(6, 2), ss) || hh > 23 || mm > 59 || ss > 60)
        return std::nullopt;
    if (year < 1970 || year > 2200) return std::nullopt;
    std::chrono::year_month_day ymd{std::chrono::year(year), std::chrono::month(month), std::chrono::day(static_cast<unsigned>(day))};
    if (!ymd.ok()) return std::nullopt;
    return std::chrono::sys_days(ymd) + std::chrono::hours(hh) + std::chrono::minutes(mm) + std::chrono::seconds(ss);
}

std::string format_http_date(std::chrono::system_clock::time_point t) {
    auto days = std::chrono::floor<std::chrono::days>(t);
    std::chrono::year_month_day ymd(days);
    std::chrono::hh_mm_ss hms(std::chrono::floor<std::chrono::seconds>(t - days));
    static constexpr const char* wk[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char buf[40];
    std::snprintf(buf, sizeof buf, "%s, %02u %s %04d %02d:%02d:%02d GMT", wk[std::chrono::weekday(days).c_encoding()],
                  static_cast<unsigned>(ymd.day()), mon[static_cast<unsigned>(ymd.month()) - 1], static_cast<int>(ymd.year()),
                  static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                  static_cast<int>(hms.seconds().count()));
    return buf;
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view v, std::chrono::system_clock::time_point now) noexcept {
    v = trim_blanks(v);
    if (v.empty()) return std::nullopt;
    if (v.front() != '.' && (v.front() < '0' || v.front() > '9')) {
        auto at = parse_http_date(v);
        if (!at) return std::nullopt;
        auto wait = std::chrono::ceil<std::chrono::milliseconds>(*at - now);
        return std::max(wait, std::chrono::milliseconds::zero());
    }
    if (v.size() > 32) return std::nullopt;
    std::string s(v);
    if (s.front() == '.') s.insert(s.begin(), '0');
    double seconds = 0;
    auto [p, e] = std::from_chars(s.data(), s.data() + s.size(), seconds);
    if (e != std::errc{} || p != s.data() + s.size() || !(seconds >= 0) || seconds > 86400.0 * 365) return std::nullopt;
    return std::chrono::milliseconds(static_cast<long long>(std::ceil(seconds * 1000.0)));
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view v) noexcept {
    return parse_retry_after(v, std::chrono::system_clock::now());
}

bool is_transient_before_send(error_code ec) noexcept { return detail::traits_of(ec).before_send; }

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
