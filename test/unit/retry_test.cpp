#include <cspark/retry.hpp>

#include <doctest/doctest.h>

using namespace cspark;
using namespace std::chrono_literals;

namespace {
attempt_outcome status(int s, bool sent = true) {
    return {make_error_code(errc_from_http_status(s)), s, sent, std::nullopt};
}
attempt_outcome transport(errc e, bool sent) { return {make_error_code(e), 0, sent, std::nullopt}; }
const retry_config defaults{};
}  // namespace

TEST_CASE("defaults match the official SDKs") {
    CHECK(defaults.max_retries == 2);
    CHECK(defaults.retry_interval == 1s);
}

TEST_CASE("idempotent requests retry 408, 429, 502, 503, 504 and nothing else") {
    for (int s : {408, 429, 502, 503, 504}) CHECK(decide_retry(defaults, true, 1, status(s), 0ms, 0.5).retry);
    for (int s : {400, 401, 403, 404, 409, 415, 422, 500, 501}) {
        CAPTURE(s);
        CHECK_FALSE(decide_retry(defaults, true, 1, status(s), 0ms, 0.5).retry);
    }
}

TEST_CASE("a POST that may have reached the server is never sent again") {
    for (int s : {408, 502, 503, 504}) CHECK_FALSE(decide_retry(defaults, false, 1, status(s), 0ms, 0.5).retry);
    CHECK_FALSE(decide_retry(defaults, false, 1, transport(errc::connection_closed, true), 0ms, 0.5).retry);
    CHECK_FALSE(decide_retry(defaults, false, 1, transport(errc::idle_timeout, true), 0ms, 0.5).retry);
    // ... but connection failures before a byte was sent are safe for any method.
    CHECK(decide_retry(defaults, false, 1, transport(errc::connect_failed, false), 0ms, 0.5).retry);
    CHECK(decide_retry(defaults, false, 1, transport(errc::connect_timeout, false), 0ms, 0.5).retry);
    // 429 is a refusal before any action: retried unless switched off.
    CHECK(decide_retry(defaults, false, 1, status(429), 0ms, 0.5).retry);
    retry_config strict;
    strict.retry_rate_limited_posts = false;
    CHECK_FALSE(decide_retry(strict, false, 1, status(429), 0ms, 0.5).retry);
}

TEST_CASE("idempotent requests retry a connection lost after sending") {
    CHECK(decide_retry(defaults, true, 1, transport(errc::connection_closed, true), 0ms, 0.5).retry);
    CHECK(decide_retry(defaults, true, 1, transport(errc::request_timeout, true), 0ms, 0.5).retry);
}

TEST_CASE("permanent failures are not retried") {
    CHECK_FALSE(decide_retry(defaults, true, 1, transport(errc::tls_verify_failed, false), 0ms, 0.5).retry);
    CHECK_FALSE(decide_retry(defaults, true, 1, transport(errc::body_too_large, true), 0ms, 0.5).retry);
    CHECK_FALSE(decide_retry(defaults, true, 1, transport(errc::cancelled, false), 0ms, 0.5).retry);
    CHECK_FALSE(decide_retry(defaults, true, 1, {}, 0ms, 0.5).retry);
}

TEST_CASE("at most max_retries retries") {
    CHECK(decide_retry(defaults, true, 2, status(503), 0ms, 0.5).retry);
    auto d = decide_retry(defaults, true, 3, status(503), 0ms, 0.5);
    CHECK_FALSE(d.retry);
    CHECK(d.reason == "retries exhausted");
    retry_config none;
    none.max_retries = 0;
    CHECK_FALSE(decide_retry(none, true, 1, status(503), 0ms, 0.5).retry);
}

TEST_CASE("capped exponential backoff with full jitter") {
    retry_config c;
    c.retry_interval = 1000ms;
    c.max_delay = 5000ms;
    CHECK(backoff_delay(c, 1, 0.999).count() == 999);
    CHECK(backoff_delay(c, 2, 0.999).count() == 1998);
    CHECK(backoff_delay(c, 3, 0.5).count() == 2000);
    CHECK(backoff_delay(c, 4, 0.999).count() == 4995);  // capped at 5 s
    CHECK(backoff_delay(c, 30, 0.999).count() == 4995);
    CHECK(backoff_delay(c, 3, 0.0).count() == 0);
}

TEST_CASE("Retry-After and x-retry-after are honoured") {
    auto o = status(429);
    o.retry_after = 2500ms;
    auto d = decide_retry(defaults, true, 1, o, 0ms, 0.0);
    CHECK(d.retry);
    CHECK(d.delay == 2500ms);
    o.retry_after = 10min;
    CHECK_FALSE(decide_retry(defaults, true, 1, o, 0ms, 0.0).retry);  // over max_retry_after

    CHECK(parse_retry_after("2") == 2000ms);
    CHECK(parse_retry_after(".1") == 100ms);
    CHECK(parse_retry_after(" 1.5 ") == 1500ms);
    CHECK_FALSE(parse_retry_after("soon"));
    CHECK_FALSE(parse_retry_after("-1"));
    CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0ms);  // long past

}

TEST_CASE("the overall deadline stops retries that would end after it") {
    retry_config c;
    c.deadline = 3000ms;
    c.max_retries = 10;
    auto o = status(503);
    o.retry_after = 1000ms;
    CHECK(decide_retry(c, true, 1, o, 1000ms, 0.5).retry);
    auto d = decide_retry(c, true, 2, o, 2500ms, 0.5);
    CHECK_FALSE(d.retry);
    CHECK(d.reason.find("deadline") != std::string_view::npos);
}

TEST_CASE("Retry-After as an HTTP date, in each of the three forms, counted from the given now") {
    using namespace std::chrono;
    auto now = sys_days(year(2026) / November / 27) + 8h;
    CHECK(parse_http_date("Fri, 27 Nov 2026 08:00:00 GMT") == now);
    CHECK(parse_http_date("Friday, 27-Nov-26 08:00:00 GMT") == now);
    CHECK(parse_http_date("Fri Nov 27 08:00:00 2026") == now);
    CHECK(parse_http_date("Sun Nov  6 08:49:37 1994") == sys_days(year(1994) / November / 6) + 8h + 49min + 37s);
    CHECK(parse_http_date(" fri, 27 nov 2026 08:00:00 gmt ") == now);  // case and blanks

    CHECK(parse_retry_after("Fri, 27 Nov 2026 08:00:01 GMT", now) == 1000ms);
    CHECK(parse_retry_after("Fri, 27 Nov 2026 08:02:00 GMT", now) == 120000ms);
    CHECK(parse_retry_after("Fri, 27 Nov 2026 07:59:00 GMT", now) == 0ms);  // past: now
    CHECK(parse_retry_after("3", now) == 3000ms);

    for (const char* bad : {"", "Fri, 27 Nov 2026 08:00:00", "Fri, 32 Nov 2026 08:00:00 GMT", "Fri, 31 Nov 2026 08:00:00 GMT",
                            "Fri, 27 Foo 2026 08:00:00 GMT", "Fri, 27 Nov 2026 24:00:00 GMT", "Fri, 27 Nov 2026 8:00:00 GMT",
                            "Xyz, 27 Nov 2026 08:00:00 GMT", "Fri, 27 Nov 1969 08:00:00 GMT", "Fri, 27 Nov 3000 08:00:00 GMT",
                            "Fri, 27 Nov 2026 08:00:00 GMT extra", "Fri, 27 Nov 202 08:00:00 GMT", "Fri, -27 Nov 2026 08:00:00 GMT x"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_http_date(bad));
        CHECK_FALSE(parse_retry_after(bad, now));
    }
    CHECK(format_http_date(now + 1500ms) == "Fri, 27 Nov 2026 08:00:01 GMT");
    CHECK(parse_http_date(format_http_date(now)) == now);
}
