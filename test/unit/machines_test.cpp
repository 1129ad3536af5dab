// The engine's small machines, each on its own (no flow around it): job_poll,
// job_post, downloads. Events in, the next action or the machine's end out,
// in virtual time.
#include "impex/machines.hpp"

#include "support/job_values.hpp"

#include <boost/json/parse.hpp>

#include <doctest/doctest.h>

#include <algorithm>

using namespace cspark;
using namespace cspark::detail;
using cspark::test::job;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

// A machine's surroundings: the policy, the notes it writes, the clock.
struct bench {
    flow_policy policy;
    std::vector<flow_note> notes;
    clock_type::time_point now{};
    step_env env{policy, notes};

    bench() {
        policy.poll.interval = 1000ms;
        policy.poll.jitter = 0;
        policy.adaptive = false;
    }
    flow_event ok(job_status j = {}) {
        flow_event e;
        e.what = flow_event::type::ok;
        e.now = now;
        e.job = std::move(j);
        return e;
    }
    flow_event failed(error_code ec, std::uint64_t held = 0) {
        flow_event e;
        e.what = flow_event::type::failed;
        e.now = now;
        e.ec = ec;
        e.bytes_held = held;
        return e;
    }
    flow_event described(const std::string& doc) {
        auto e = ok();
        e.describe = json::parse(doc);
        return e;
    }
    bool noted(flow_note::type t) const {
        return std::any_of(notes.begin(), notes.end(), [t](const flow_note& n) { return n.what == t; });
    }
};

template <class End>
const flow_action& action(const step_answer<End>& r) {
    REQUIRE(std::holds_alternative<flow_action>(r));
    return std::get<flow_action>(r);
}

template <class End>
const End& ended(const step_answer<End>& r) {
    REQUIRE(std::holds_alternative<End>(r));
    return std::get<End>(r);
}

}  // namespace

TEST_CASE("job_poll: checks on the schedule until the job ends, then ends with it") {
    bench b;
    job_poll p;
    auto first = p.begin(b.env, job_kind::export_job, "E1", b.now, false, 200ms);
    REQUIRE(first.is<act::check_status>());
    CHECK(first.as<act::check_status>().id == "E1");
    auto ev = b.ok(job("E1", "in_progress"));
    auto wait = action(p.on(b.env, ev));
    REQUIRE(wait.is<act::sleep>());
    CHECK(wait.as<act::sleep>().delay == 1000ms);
    b.now += 1000ms;
    ev = b.ok();
    REQUIRE(action(p.on(b.env, ev)).is<act::check_status>());
    ev = b.ok(job("E1", "closed", job_state::succeeded));
    auto r = p.on(b.env, ev);
    CHECK_FALSE(ended(r).ec);
    CHECK(ended(r).job.status == "closed");
    CHECK(p.state().checks == 2);
    CHECK(b.noted(flow_note::type::status));
    CHECK(b.noted(flow_note::type::timing));  // how long it took, for the next job of the kind
}

TEST_CASE("job_poll: a failed check that may pass is asked again; one that cannot ends it unknown") {
    bench b;
    job_poll p;
    p.begin(b.env, job_kind::import_job, "I1", b.now, false, 0ms);
    auto ev = b.failed(errc::service_unavailable);
    REQUIRE(action(p.on(b.env, ev)).is<act::sleep>());
    b.now += 1000ms;
    ev = b.ok();
    REQUIRE(action(p.on(b.env, ev)).is<act::check_status>());
    ev = b.failed(errc::unauthorized);
    auto r = p.on(b.env, ev);
    CHECK(ended(r).ec == errc::job_state_unknown);
    CHECK(ended(r).diag.detail.find("cspark-impex status I1 --kind import") != std::string::npos);
    CHECK(ended(r).job.id == "I1");
}

TEST_CASE("job_poll: one look at a job found by lookup; a failed job says why") {
    bench b;
    SUBCASE("once") {
        job_poll p;
        p.begin(b.env, job_kind::export_job, "E1", b.now, true, 0ms);
        auto ev = b.ok(job("E1", "in_progress"));
        CHECK_FALSE(ended(p.on(b.env, ev)).ec);
    }
    SUBCASE("failed") {
        job_poll p;
        p.begin(b.env, job_kind::export_job, "E1", b.now, false, 0ms);
        auto f = job("E1", "failed", job_state::failed);
        f.errors = json::parse(R"([{"code":"X1","message":"bad"}])");
        auto ev = b.ok(f);
        auto r = p.on(b.env, ev);
        CHECK(ended(r).ec == errc::job_failed);
        CHECK(ended(r).diag.api_code == "X1");
    }
}

TEST_CASE("job_poll: gives up at the deadline, naming the status it last saw") {
    bench b;
    b.policy.poll.deadline = 2500ms;
    job_poll p;
    p.begin(b.env, job_kind::export_job, "E1", b.now, false, 0ms);
    poll_end end;
    for (int i = 0; i < 20; ++i) {
        auto ev = b.ok(job("E1", "in_progress"));
        auto r = p.on(b.env, ev);
        if (std::holds_alternative<poll_end>(r)) {
            end = std::get<poll_end>(r);
            break;
        }
        b.now += std::get<flow_action>(r).as<act::sleep>().delay;
        ev = b.ok();
        REQUIRE(action(p.on(b.env, ev)).is<act::check_status>());
    }
    CHECK(end.ec == errc::poll_timeout);
    CHECK(end.diag.detail.find("still 'in_progress'") != std::string::npos);
}

TEST_CASE("job_poll: with the kind's duration known, the first check lands just after it") {
    bench b;
    b.policy.adaptive = true;
    b.policy.expected_export = 4000ms;
    job_poll p;
    auto a = p.begin(b.env, job_kind::export_job, "E1", b.now, false, 0ms);
    REQUIRE(a.is<act::sleep>());
    CHECK(a.as<act::sleep>().delay == 4000ms + 80ms);
}

TEST_CASE("job_post: sends, and ends with the job and the POST's round trip") {
    bench b;
    job_post m;
    auto a = m.begin(b.env, {.kind = job_kind::export_job, .cid = "cid-e"}, b.now);
    REQUIRE(a.is<act::post_export>());
    CHECK(a.as<act::post_export>().cid == "cid-e");
    CHECK(b.noted(flow_note::type::intent));  // before the POST leaves
    CHECK(m.sent());
    b.now += 300ms;
    auto ev = b.ok(job("E1", "created"));
    auto r = m.on(b.env, ev);
    CHECK_FALSE(ended(r).ec);
    CHECK(ended(r).job.id == "E1");
    CHECK(ended(r).lag == 300ms);
}

TEST_CASE("job_post: takes the tenant's slot first when asked") {
    bench b;
    job_post m;
    post_plan plan{.kind = job_kind::import_job, .cid = "c", .take_slot = true};
    plan.path = "/p.zip";
    auto a = m.begin(b.env, plan, b.now);
    REQUIRE(a.is<act::acquire_slot>());
    CHECK_FALSE(m.holds_slot());
    auto ev = b.ok();
    auto next = action(m.on(b.env, ev));
    REQUIRE(next.is<act::post_import>());
    CHECK(next.as<act::post_import>().path == "/p.zip");
    CHECK(m.holds_slot());
}

TEST_CASE("job_post: 409 waits out the running job, within the deadline; the wait is not a resend") {
    bench b;
    b.policy.poll.deadline = 1200ms;
    job_post m;
    m.begin(b.env, {.kind = job_kind::export_job, .cid = "c"}, b.now);
    auto ev = b.failed(errc::conflict);
    auto w = action(m.on(b.env, ev));
    REQUIRE(w.is<act::sleep>());
    CHECK(w.as<act::sleep>().delay == 500ms);
    CHECK(m.state().sends == 0);
    b.now += 500ms;
    ev = b.ok();
    REQUIRE(action(m.on(b.env, ev)).is<act::post_export>());
    ev = b.failed(errc::conflict);
    REQUIRE(action(m.on(b.env, ev)).is<act::sleep>());
    b.now += 500ms;
    ev = b.ok();
    m.on(b.env, ev);
    ev = b.failed(errc::conflict);
    CHECK(ended(m.on(b.env, ev)).ec == errc::conflict);  // 1000 + 500 ms would pass the deadline
}

TEST_CASE("job_post: a lost answer is looked up by its correlation id; nothing found is sent again, a bounded number of times") {
    bench b;
    const char* none = R"({"in_progress_exports":[],"recent_exports":[{"id":"X","data":{"correlation_id":"other"}}]})";
    const char* mine = R"({"in_progress_exports":[{"id":"E7","data":{"correlation_id":"c"}}],"recent_exports":[]})";
    job_post m;
    m.begin(b.env, {.kind = job_kind::export_job, .cid = "c"}, b.now);
    auto ev = b.failed(errc::connection_closed);
    REQUIRE(action(m.on(b.env, ev)).is<act::describe>());
    SUBCASE("found: that job is the POST's") {
        ev = b.described(mine);
        CHECK(ended(m.on(b.env, ev)).job.id == "E7");
    }
    SUBCASE("not found: sent again, at most max_posts sends") {
        for (int send = 2; send <= b.policy.max_posts; ++send) {
            ev = b.described(none);
            REQUIRE(action(m.on(b.env, ev)).is<act::sleep>());
            ev = b.ok();
            REQUIRE(action(m.on(b.env, ev)).is<act::post_export>());
            ev = b.failed(errc::connection_closed);
            REQUIRE(action(m.on(b.env, ev)).is<act::describe>());
        }
        ev = b.described(none);
        CHECK(ended(m.on(b.env, ev)).ec == errc::connection_closed);
        CHECK(m.state().sends == b.policy.max_posts);
    }
    SUBCASE("no correlation id: nothing to look for, the failure stands") {
        job_post bare;
        bare.begin(b.env, {.kind = job_kind::export_job}, b.now);
        ev = b.failed(errc::connection_closed);
        CHECK(ended(bare.on(b.env, ev)).ec == errc::connection_closed);
    }
}

TEST_CASE("job_post: candidates of a lost import are confirmed by their outputs") {
    bench b;
    post_plan plan{.kind = job_kind::import_job, .cid = "c"};
    plan.mappings = json::parse(R"([{"service_uri_source":"f/s","service_uri_destination":"g/s"}])").as_array();
    job_post m;
    m.begin(b.env, plan, b.now);
    auto ev = b.failed(errc::gateway_timeout);
    REQUIRE(action(m.on(b.env, ev)).is<act::describe>());
    // No correlation ids listed: every recent job is a candidate.
    ev = b.described(R"({"in_progress_imports":[{"id":"I5"}],"recent_imports":[]})");
    auto look = action(m.on(b.env, ev));
    REQUIRE(look.is<act::check_status>());
    CHECK(look.as<act::check_status>().id == "I5");
    auto done = job("I5", "closed", job_state::succeeded);
    done.outputs = json::parse(R"({"services":[{"service_uri_source":"f/s","service_uri_destination":"g/s"}]})");
    SUBCASE("its outputs are the mappings sent: ours") {
        ev = b.ok(done);
        CHECK(ended(m.on(b.env, ev)).job.id == "I5");
    }
    SUBCASE("other outputs: not ours, sent again") {
        done.outputs = json::parse(R"({"services":[{"service_uri_source":"x/y","service_uri_destination":"x/y"}]})");
        ev = b.ok(done);
        REQUIRE(action(m.on(b.env, ev)).is<act::sleep>());
        ev = b.ok();
        CHECK(action(m.on(b.env, ev)).is<act::post_import>());
    }
}

TEST_CASE("job_post: an intent from an earlier run is looked up before anything is sent") {
    bench b;
    job_post m;
    auto a = m.begin(b.env, {.kind = job_kind::export_job, .cid = "c", .intent_age = 60000ms}, b.now);
    REQUIRE(a.is<act::describe>());
    CHECK_FALSE(m.sent());
    auto ev = b.described(R"({"in_progress_exports":[],"recent_exports":[]})");
    CHECK(action(m.on(b.env, ev)).is<act::post_export>());  // nothing was made: sent now
}

TEST_CASE("downloads: each file fetched, checked and kept in turn, never two names alike") {
    bench b;
    downloads d;
    downloads_plan plan;
    plan.files = {{"https://h/a/same.zip", std::string(64, 'a')}, {"https://h/b/same.zip", ""}};
    plan.job_id = "E1";
    auto a = action(d.begin(b.env, plan));
    REQUIRE(a.is<act::download>());
    CHECK(a.as<act::download>().name == "same.zip");
    CHECK(a.as<act::download>().url == "https://h/a/same.zip");
    CHECK_FALSE(a.as<act::download>().server_name);  // two files: our names stay
    auto ev = b.ok();
    ev.file.sha256 = std::string(64, 'a');
    auto keep = action(d.on(b.env, ev));
    REQUIRE(keep.is<act::keep_file>());
    CHECK(keep.as<act::keep_file>().verified);
    ev = b.ok();
    ev.file.path = "/d/same.zip";
    auto second = action(d.on(b.env, ev));
    REQUIRE(second.is<act::download>());
    CHECK(second.as<act::download>().name == "same-1.zip");
    ev = b.ok();
    keep = action(d.on(b.env, ev));
    CHECK_FALSE(keep.as<act::keep_file>().verified);  // no file_hash: the driver checks the ZIP
    ev = b.ok();
    ev.file.path = "/d/same-1.zip";
    CHECK_FALSE(ended(d.on(b.env, ev)).ec);
    REQUIRE(d.kept().size() == 2);
    CHECK(d.kept()[1].path == "/d/same-1.zip");
}

TEST_CASE("downloads: a dropped transfer resumes from the bytes held, a bounded number of times") {
    bench b;
    b.policy.max_resumes = 2;
    downloads d;
    d.begin(b.env, {.files = {{"https://h/p.zip", ""}}, .job_id = "E1"});
    for (int i = 0; i < 2; ++i) {
        auto ev = b.failed(errc::connection_closed, 100);
        auto again = action(d.on(b.env, ev));
        REQUIRE(again.is<act::download>());
        CHECK_FALSE(again.as<act::download>().from_start);
    }
    auto ev = b.failed(errc::connection_closed, 100);
    CHECK(ended(d.on(b.env, ev)).ec == errc::connection_closed);
    CHECK(d.kept().empty());
}

TEST_CASE("downloads: a package failing its hash is fetched again from byte 0, then the mismatch stands") {
    bench b;
    b.policy.max_refetches = 1;
    downloads d;
    d.begin(b.env, {.files = {{"https://h/p.zip", std::string(64, 'a')}}, .job_id = "E1"});
    auto ev = b.ok();
    ev.file.sha256 = std::string(64, 'b');
    auto again = action(d.on(b.env, ev));
    REQUIRE(again.is<act::download>());
    CHECK(again.as<act::download>().from_start);
    ev = b.ok();
    ev.file.sha256 = std::string(64, 'b');
    auto r = d.on(b.env, ev);
    CHECK(ended(r).ec == errc::hash_mismatch);
    CHECK(ended(r).diag.detail.find("after 2 downloads") != std::string::npos);
}

TEST_CASE("downloads: an export without files ends at once") {
    bench b;
    downloads d;
    auto r = d.begin(b.env, {.job_id = "E1", .job_status = "closed"});
    CHECK(ended(r).ec == errc::no_files);
    CHECK(ended(r).diag.detail == "export job E1 finished 'closed' without files");
}
