// The pure decisions behind "never twice, never lost", case by case.
#include "impex/policy.hpp"

#include <cspark/history.hpp>

#include "core/text.hpp"

#include <boost/json/parse.hpp>

#include <doctest/doctest.h>

using namespace cspark;
using namespace cspark::detail;
namespace json = boost::json;
using namespace std::chrono_literals;

TEST_CASE("status checks: which failures may pass if asked again") {
    for (errc e : {errc::connection_closed, errc::idle_timeout, errc::request_timeout, errc::connect_failed,
                   errc::rate_limited, errc::server_error, errc::bad_gateway, errc::service_unavailable,
                   errc::gateway_timeout, errc::malformed_json})
        CHECK(status_check_may_pass(e));
    for (errc e : {errc::unauthorized, errc::forbidden, errc::not_found, errc::bad_request, errc::cancelled,
                   errc::invalid_argument})
        CHECK_FALSE(status_check_may_pass(e));
    CHECK_FALSE(status_check_may_pass({}));
}

TEST_CASE("only known outcomes are final") {
    CHECK(outcome_is_final({}));
    CHECK(outcome_is_final(errc::job_failed));
    CHECK(outcome_is_final(errc::unauthorized));
    CHECK_FALSE(outcome_is_final(errc::job_state_unknown));
    CHECK_FALSE(outcome_is_final(errc::poll_timeout));
    CHECK_FALSE(outcome_is_final(errc::import_outcome_unknown));
    CHECK_FALSE(outcome_is_final(errc::cancelled));
}

TEST_CASE("a POST may have been acted on unless the server said it refused it") {
    diagnostics d;
    CHECK(maybe_reached(errc::connection_closed, d));
    CHECK(maybe_reached(errc::gateway_timeout, d));
    CHECK(maybe_reached(errc::server_error, d));
    CHECK(maybe_reached(errc::malformed_json, d));  // a 2xx nobody could read: the job may exist
    d.api_code = "EXCEEDED_FILE_SIZE";
    CHECK_FALSE(maybe_reached(errc::server_error, d));
    CHECK_FALSE(maybe_reached(errc::bad_request, {}));
    CHECK_FALSE(maybe_reached(errc::conflict, {}));
}

TEST_CASE("ISO timestamps") {
    auto t = parse_iso_timestamp("2025-03-01T10:05:12.440Z");
    REQUIRE(t);
    CHECK(std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count() == 1740823512440);
    CHECK(parse_iso_timestamp("2025-03-01T12:05:12.440+02:00") == t);
    CHECK(parse_iso_timestamp("2025-03-01T10:05:12Z") == *t - 440ms);
    for (const char* bad : {"", "2025-03-01", "2025-13-01T10:05:12Z", "2025-03-01T10:05:12Zjunk", "yesterday"})
        CHECK_FALSE(parse_iso_timestamp(bad));
    // Found by the job fuzzer: far years overflowed the clock (undefined behaviour).
    CHECK_FALSE(parse_iso_timestamp("3432-01-01T00:00:00Z"));
    CHECK_FALSE(parse_iso_timestamp("0001-01-01T00:00:00Z"));
    CHECK(parse_iso_timestamp("2199-12-31T23:59:59Z"));
}

namespace {

json::value describe_doc(bool with_correlation) {
    std::string c = with_correlation ? R"(,"correlation_id":"mine")" : "";
    std::string c2 = with_correlation ? R"(,"correlation_id":null)" : "";
    return json::parse(R"({"in_progress_imports":[
        {"object":"import","id":"new","data":{"import_status":"in_progress","created_timestamp":"2026-11-27T08:00:09.000Z",
         "response_timestamp":"2026-11-27T08:00:10.000Z")" + c + R"(}}],
      "recent_imports":[
        {"object":"import","id":"old","data":{"import_status":"closed","created_timestamp":"2026-11-27T07:30:00.000Z",
         "response_timestamp":"2026-11-27T08:00:10.000Z")" + c2 + R"(}}]})");
}

}  // namespace

TEST_CASE("identify_job: by correlation id where describe shows them") {
    auto v = read_describe(describe_doc(true), "import");
    CHECK(v.shows_correlation);
    CHECK(v.jobs.size() == 2);
    auto found = identify_job(v, "mine", 5s);
    CHECK(found.what == job_lookup::verdict::found);
    CHECK(found.id == "new");
    auto none = identify_job(v, "someone-else", 5s);
    CHECK(none.what == job_lookup::verdict::not_created);
}

TEST_CASE("identify_job: without correlation ids, jobs created since the POST began are candidates") {
    auto v = read_describe(describe_doc(false), "import");
    CHECK_FALSE(v.shows_correlation);
    REQUIRE(v.server_now);
    // The POST began 5 s before the server's answer: only "new" (1 s old) qualifies.
    auto r = identify_job(v, "mine", 5s);
    CHECK(r.what == job_lookup::verdict::confirm);
    CHECK(r.candidates == std::vector<std::string>{"new"});
    // Begun an hour ago: both.
    CHECK(identify_job(v, "mine", std::chrono::hours(1)).candidates.size() == 2);
    // Begun a moment ago (after "new" was created, beyond the margin): none can be ours.
    CHECK(identify_job(v, "mine", 0ms, 500ms).what == job_lookup::verdict::not_created);
    // No server time: nothing is ruled out by time.
    auto doc = describe_doc(false);
    doc.at("in_progress_imports").at(0).at("data").as_object().erase("response_timestamp");
    doc.at("recent_imports").at(0).at("data").as_object().erase("response_timestamp");
    CHECK(identify_job(read_describe(doc, "import"), "mine", 0ms).candidates.size() == 2);
    // Nothing at all in describe: nothing was created.
    CHECK(identify_job(read_describe(json::parse("{}"), "import"), "mine", 5s).what == job_lookup::verdict::not_created);
}

TEST_CASE("outputs_match compares (source, destination) pairs, destination defaulting to source") {
    auto sent = json::parse(R"([{"service_uri_source":"f/a","service_uri_destination":"g/a"},
                                {"service_uri_source":"f/b","service_uri_destination":null}])").as_array();
    CHECK(outputs_match(json::parse(R"({"services":[{"service_uri_source":"F/A","service_uri_destination":"g/a"},
                                                    {"service_uri_source":"f/b","service_uri_destination":"f/b"}]})"), sent));
    CHECK_FALSE(outputs_match(json::parse(R"({"services":[{"service_uri_source":"f/a","service_uri_destination":"g/a"}]})"), sent));
    CHECK_FALSE(outputs_match(json::parse(R"({"services":[]})"), sent));
    CHECK_FALSE(outputs_match(nullptr, sent));
    // A version selector in the mapping sent: outputs name the service without it.
    auto versioned = json::parse(R"([{"service_uri_source":"f/a[1.2]","service_uri_destination":"g/a"}])").as_array();
    CHECK(outputs_match(json::parse(R"({"services":[{"service_uri_source":"f/a","service_uri_destination":"g/a"}]})"),
                        versioned));
}

TEST_CASE("unique_name keeps names apart within one export") {
    std::set<std::string> used;
    CHECK(unique_name("pkg.zip", used) == "pkg.zip");
    CHECK(unique_name("pkg.zip", used) == "pkg-1.zip");
    CHECK(unique_name("pkg.zip", used) == "pkg-2.zip");
    CHECK(unique_name("noext", used) == "noext");
    CHECK(unique_name("noext", used) == "noext-1");
}

TEST_CASE("download links: http(s) or a path on the API host") {
    std::string why;
    CHECK(is_download_link("https://h/x.zip?token=1", why));
    CHECK(is_download_link("HTTP://h/x.zip", why));
    CHECK(is_download_link("/download/x.zip", why));
    for (const char* bad : {"file:///etc/passwd", "ftp://h/x", "//evil.example/x", "passwd", ""}) {
        CAPTURE(bad);
        CHECK_FALSE(is_download_link(bad, why));
        CHECK(why.find("not an http(s) URL") != std::string::npos);
    }
}

TEST_CASE("header values: no control characters") {
    CHECK(header_value_ok("Bearer abc.def"));
    CHECK(header_value_ok("tab\tis fine"));
    CHECK_FALSE(header_value_ok("a\r\nX: y"));
    CHECK_FALSE(header_value_ok(std::string("a\0b", 3)));
    CHECK_FALSE(header_value_ok("del\x7f"));
}

TEST_CASE("plan_next_check: at the expected end, then growing with the overrun, within the policy's bounds") {
    using namespace std::chrono_literals;
    poll_policy p;
    p.interval = 1000ms;
    p.max_interval = 10000ms;
    p.deadline = 60000ms;
    p.jitter = 0;
    poll_clues c{5000ms, std::nullopt};
    CHECK(plan_next_check(p, 1, 1000ms, c, 0.5).delay == 4000ms + 100ms);
    CHECK(plan_next_check(p, 2, 5100ms, c, 0.5).delay == 500ms);     // just past: a tenth
    CHECK(plan_next_check(p, 3, 9000ms, c, 0.5).delay == 2000ms);    // far past: half the overrun
    CHECK(plan_next_check(p, 4, 59000ms, c, 0.5).delay == 1000ms);   // never past the deadline
    CHECK(plan_next_check(p, 4, 60000ms, c, 0.5).what == poll_step::action::give_up);
    c.expected = 60000ms;
    CHECK(plan_next_check(p, 1, 0ms, c, 0.5).delay == 10000ms);      // never more than max_interval
    p.max_attempts = 3;
    CHECK(plan_next_check(p, 3, 0ms, c, 0.5).what == poll_step::action::give_up);
    // The server's process_time, when it agrees with our clock, says how long the job has run.
    p.max_attempts = 0;
    c.expected = 5000ms;
    c.process_time = 3000;
    CHECK(plan_next_check(p, 1, 2900ms, c, 0.5).delay == 2000ms + 100ms);
    c.process_time = 3;  // seconds, not milliseconds? not trusted
    CHECK(plan_next_check(p, 1, 2900ms, c, 0.5).delay == 2100ms + 100ms);
    // Nothing known: the SDK-like schedule.
    c.expected.reset();
    CHECK(plan_next_check(p, 1, 0ms, c, 0.5).delay == next_poll(p, 1, 0ms, 0.5).delay);
}

TEST_CASE("observed_duration and job_history: what a job took, and the tenant's typical duration") {
    using namespace std::chrono_literals;
    CHECK(observed_duration(1000ms, 2000ms, 0) == 1500ms);
    CHECK(observed_duration(1000ms, 2000ms, 1234) == 1234ms);
    CHECK(observed_duration(1000ms, 2000ms, 5) == 1500ms);  // not in the window: not trusted
    job_history t;
    CHECK_FALSE(t.expected("export a"));
    for (auto d : {100ms, 900ms, 200ms}) t.record("export a", d);
    CHECK(t.expected("export a") == 200ms);  // the median
    for (int i = 0; i < 8; ++i) t.record("export a", 50ms);
    CHECK(t.expected("export a") == 50ms);   // the last 8 only
    CHECK_FALSE(t.expected("import a"));
}

TEST_CASE("plan_next_check: a job of an unknown kind is probed with waits x1.2, unless checks are counted") {
    poll_policy p;
    p.interval = 1000ms;
    p.jitter = 0;
    poll_clues probing{std::nullopt, std::nullopt, true};
    CHECK(plan_next_check(p, 1, 0ms, probing, 0.5).delay == 1000ms);
    CHECK(plan_next_check(p, 2, 1000ms, probing, 0.5).delay == 1200ms);
    CHECK(plan_next_check(p, 3, 2200ms, probing, 0.5).delay == 1440ms);
    CHECK(plan_next_check(p, 20, 60000ms, probing, 0.5).delay == 10000ms);  // still within max_interval
    // Not probing (adaptive checks off): the SDK-like schedule, x1.5.
    poll_clues plain{std::nullopt, std::nullopt, false};
    CHECK(plan_next_check(p, 2, 1000ms, plain, 0.5).delay == 1500ms);
    // A count of checks (SDK max_retries) keeps the reach of the x1.5 schedule.
    p.max_attempts = 10;
    CHECK(plan_next_check(p, 2, 1000ms, probing, 0.5).delay == 1500ms);
    // A known duration wins over probing.
    p.max_attempts = 0;
    poll_clues known{5000ms, std::nullopt, true};
    CHECK(plan_next_check(p, 1, 1000ms, known, 0.5).delay == 4000ms + 100ms);
}

TEST_CASE("next_poll: growth is a policy number; below 1 the waits stay flat") {
    poll_policy p;
    p.interval = 100ms;
    p.jitter = 0;
    p.growth = 2;
    CHECK(next_poll(p, 3, 0ms, 0.5).delay == 400ms);
    p.growth = 0.5;
    CHECK(next_poll(p, 3, 0ms, 0.5).delay == 100ms);
}

TEST_CASE("wait_for_expected: one check where a job would end if it took as long as the other kind's") {
    poll_policy p;
    p.max_interval = 10000ms;
    p.deadline = 60000ms;
    CHECK(wait_for_expected(p, 4000ms, 1000ms, std::nullopt) == 3000ms + 80ms);
    CHECK(wait_for_expected(p, 4000ms, 1000ms, 1500) == 2500ms + 80ms);  // the server says it has run 1.5 s
    CHECK_FALSE(wait_for_expected(p, 4000ms, 4080ms, std::nullopt));    // that moment has passed
    CHECK_FALSE(wait_for_expected(p, 0ms, 0ms, std::nullopt));
    CHECK(wait_for_expected(p, 60000ms, 0ms, std::nullopt) == 10000ms);  // within max_interval
    p.deadline = 2000ms;
    CHECK(wait_for_expected(p, 4000ms, 1000ms, std::nullopt) == 1000ms);  // and the deadline
}

TEST_CASE("running_time: the server's process_time when it agrees with our count") {
    CHECK(running_time(1000ms, std::nullopt) == 1000ms);
    CHECK(running_time(1000ms, 1020) == 1020ms);  // the job was made during the POST's round trip
    CHECK(running_time(1000ms, 3) == 1000ms);     // seconds? not trusted
    CHECK(running_time(1000ms, 5000) == 1000ms);
}

TEST_CASE("observed_duration: the server's count may run past ours by the POST's round trip") {
    // Answered 20 ms after the job was made: the last check that saw it
    // running came at 150 ms, the first that saw it ended at 195 ms (both on
    // our count), and the server says it took 200 ms.
    CHECK(observed_duration(150ms, 195ms, 200, 20ms) == 200ms);
    CHECK(observed_duration(150ms, 195ms, 200) == 172ms);  // without the lag: not trusted, the midpoint
    CHECK(observed_duration(150ms, 195ms, 300, 20ms) == 172ms);  // past even that
}
