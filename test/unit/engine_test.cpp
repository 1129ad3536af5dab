// The migration engine without sockets: feed events, check actions, in
// virtual time. Every transition, cancellation in every stage, an error at
// every step.
#include "impex/engine.hpp"

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

job_status finished_export(std::string id, std::vector<export_file> files) {
    auto j = job(std::move(id), "closed", job_state::succeeded);
    j.files = std::move(files);
    j.outputs = json::parse(R"({"services":[{"service_uri_source":"f/s"}]})");
    return j;
}

job_status finished_import(std::string id, const std::string& source = "f/s", const std::string& dest = "f/s") {
    auto j = job(std::move(id), "closed", job_state::succeeded);
    j.outputs = json::parse(R"({"services":[{"service_uri_source":")" + source + R"(","service_uri_destination":")" + dest +
                            R"(","status":"added"}]})");
    return j;
}

const std::string sha = std::string(64, 'a');

// Which kind of action an op is, as a value to compare.
template <class Op>
std::size_t op_index() {
    return flow_op(Op{}).index();
}

// A flow and a clock; each call feeds one event and returns the next action.
struct sim {
    flow_state st;
    clock_type::time_point now{};
    flow_action last;

    explicit sim(flow_plan plan, flow_start start = {}, flow_policy policy = {}) {
        if (start.export_cid.empty()) start.export_cid = "cid-e";
        if (start.import_cid.empty()) start.import_cid = "cid-i";
        if (!start.services_modify)
            start.services_modify = json::parse(R"([{"service_uri_source":"f/s","service_uri_destination":"f/s"}])").as_array();
        policy.poll.interval = 1000ms;
        policy.poll.jitter = 0;
        st = make_flow(plan, policy, std::move(start));
    }
    flow_action feed(flow_event e) {
        e.now = now;
        last = resume(st, e);
        return last;
    }
    flow_action begin() { return feed({}); }
    flow_action ok() {
        flow_event e;
        e.what = flow_event::type::ok;
        return feed(std::move(e));
    }
    flow_action ok(job_status j) {
        flow_event e;
        e.what = flow_event::type::ok;
        e.job = std::move(j);
        return feed(std::move(e));
    }
    flow_action fail(error_code ec, std::uint64_t held = 0) {
        flow_event e;
        e.what = flow_event::type::failed;
        e.ec = ec;
        e.bytes_held = held;
        return feed(std::move(e));
    }
    flow_action cancel() {
        flow_event e;
        e.what = flow_event::type::cancelled;
        e.ec = errc::cancelled;
        return feed(std::move(e));
    }
    flow_action timer() {
        now += last.as<act::sleep>().delay;
        return ok();
    }
    flow_action described(const std::string& doc) {
        flow_event e;
        e.what = flow_event::type::ok;
        e.describe = json::parse(doc);
        return feed(std::move(e));
    }
    flow_action downloaded(const std::string& sha256, std::uint64_t size = 10) {
        flow_event e;
        e.what = flow_event::type::ok;
        e.file.sha256 = sha256;
        e.file.size = size;
        return feed(std::move(e));
    }
    flow_action kept(const std::string& path) {
        flow_event e;
        e.what = flow_event::type::ok;
        e.file.path = path;
        e.file.sha256 = sha;
        return feed(std::move(e));
    }
    std::vector<flow_note::type> notes() const {
        std::vector<flow_note::type> out;
        for (const auto& n : st.notes) out.push_back(n.what);
        return out;
    }
};

flow_plan exp_plan() { return {.export_job = true, .download = true}; }
flow_plan migrate_plan(bool slots = false) {
    return {.export_job = true, .download = true, .import_job = true, .keep_files = false, .use_slots = slots};
}
export_file file_link(std::string url = "https://h/download/p.zip?token=t", std::string hash = sha) {
    return export_file{std::move(url), std::move(hash)};
}

// Drives an export to its finished job (one pending check first).
void to_export_done(sim& s, std::vector<export_file> files = {file_link()}) {
    REQUIRE(s.last.is<act::post_export>());
    REQUIRE(s.ok(job("E1", "created")).is<act::check_status>());
    REQUIRE(s.ok(job("E1", "in_progress")).is<act::sleep>());
    CHECK(s.last.as<act::sleep>().delay == 1000ms);
    REQUIRE(s.timer().is<act::check_status>());
    s.ok(finished_export("E1", std::move(files)));
}

const char* describe_with(const std::string& cid, const std::string& id, const std::string& kind = "import") {
    static std::string doc;
    doc = R"({"in_progress_)" + kind + R"(s":[],"recent_)" + kind + R"(s":[{"id":")" + id + R"(","data":{"correlation_id":")" + cid +
          R"(","created_timestamp":"2026-11-27T08:00:09.000Z","response_timestamp":"2026-11-27T08:00:10.000Z"}}]})";
    return doc.c_str();
}

const char* describe_without(std::vector<std::string> ids) {
    static std::string doc;
    doc = R"({"in_progress_imports":[],"recent_imports":[)";
    for (std::size_t i = 0; i < ids.size(); ++i)
        doc += std::string(i ? "," : "") + R"({"id":")" + ids[i] +
               R"(","data":{"created_timestamp":"2026-11-27T08:00:09.500Z","response_timestamp":"2026-11-27T08:00:10.000Z"}})";
    return (doc += "]}").c_str();
}

}  // namespace

TEST_CASE("engine: the download verb's own file name is the action's") {
    sim s({.download = true, .file_name = "mine.zip"}, {.files = {file_link(), file_link("https://h/x/other.zip")}});
    REQUIRE(s.begin().is<act::download>());
    CHECK(s.last.as<act::download>().name == "mine.zip");
    CHECK_FALSE(s.last.as<act::download>().server_name);
    s.downloaded(sha);
    REQUIRE(s.kept("/d/mine.zip").is<act::download>());
    CHECK(s.last.as<act::download>().name == "other.zip");
}

TEST_CASE("engine: exp from POST to a verified file, with notes for observers") {
    sim s(exp_plan());
    CHECK(s.begin().is<act::post_export>());
    CHECK(s.last.as<act::post_export>().cid == "cid-e");
    to_export_done(s);
    REQUIRE(s.last.is<act::download>());
    CHECK(s.last.as<act::download>().name == "p.zip");
    REQUIRE(s.downloaded(sha).is<act::keep_file>());
    CHECK(s.last.as<act::keep_file>().verified);
    CHECK(s.kept("/d/p.zip").is<act::finish>());
    CHECK_FALSE(s.st.ec);
    CHECK(s.st.files.kept().size() == 1);
    using n = flow_note::type;
    CHECK(s.notes() == std::vector<n>{n::intent, n::job_created, n::status, n::status, n::timing, n::downloaded, n::finished});
    // The job's duration as the checks saw it: running at 0 ms, ended at the check 1000 ms later.
    auto timing = std::find_if(s.st.notes.begin(), s.st.notes.end(), [](const flow_note& x) { return x.what == n::timing; });
    REQUIRE(timing != s.st.notes.end());
    CHECK(timing->kind == job_kind::export_job);
    CHECK(timing->delay == 500ms);
}

TEST_CASE("engine: with the tenant's typical duration known, the first check waits for it and lands just after") {
    flow_policy policy;
    policy.expected_export = 4000ms;
    sim s(exp_plan(), {}, policy);
    CHECK(s.begin().is<act::post_export>());
    job_status created;
    created.id = "E1";
    created.status = "created";
    REQUIRE(s.ok(created).is<act::sleep>());  // no check at once: sleep to the expected end
    CHECK(s.last.as<act::sleep>().delay == 4000ms + 80ms);
    REQUIRE(s.timer().is<act::check_status>());
    // Still running (the server says it has run 4050 ms): a tenth of the expected duration more.
    job_status running;
    running.id = "E1";
    running.status = "in_progress";
    running.process_time = 4050;
    REQUIRE(s.ok(running).is<act::sleep>());
    CHECK(s.last.as<act::sleep>().delay == 400ms);
    // Without adaptive checks, the SDK-like schedule: a check at once.
    flow_policy plain = policy;
    plain.adaptive = false;
    sim t(exp_plan(), {}, plain);
    t.begin();
    CHECK(t.ok(created).is<act::check_status>());
}

TEST_CASE("engine: migrate holds each tenant slot from POST to the job's end") {
    sim s(migrate_plan(true));
    REQUIRE(s.begin().is<act::acquire_slot>());
    CHECK(s.last.as<act::acquire_slot>().kind == job_kind::export_job);
    REQUIRE(s.ok().is<act::post_export>());
    to_export_done(s);
    REQUIRE(s.last.is<act::download>());
    CHECK(s.last.release == job_kind::export_job);  // the export slot is free once its job ended
    s.downloaded(sha);
    REQUIRE(s.kept("/d/p.zip").is<act::acquire_slot>());
    CHECK(s.last.as<act::acquire_slot>().kind == job_kind::import_job);
    REQUIRE(s.ok().is<act::post_import>());
    CHECK(s.last.as<act::post_import>().cid == "cid-i");
    REQUIRE(s.ok(job("I1", "created")).is<act::check_status>());
    CHECK(s.last.as<act::check_status>().kind == job_kind::import_job);
    auto end = s.ok(finished_import("I1"));
    CHECK(end.is<act::discard>());  // transient packages go
    CHECK(end.release == job_kind::import_job);
    CHECK(s.ok().is<act::finish>());
    CHECK_FALSE(s.st.ec);
    REQUIRE(s.st.imports.size() == 1);
    CHECK(s.st.imports[0].services.at(0).status == "added");
}

TEST_CASE("engine: the services to import default to those the export reports") {
    sim s(migrate_plan());
    s.st.start.services_modify.reset();
    s.begin();
    to_export_done(s);
    s.downloaded(sha);
    s.kept("/d/p.zip");
    REQUIRE(s.st.services_modify);
    CHECK(s.st.services_modify->size() == 1);
    CHECK(s.st.services_modify->at(0).at("service_uri_destination") == "f/s");
}

TEST_CASE("engine: 409 is waited out within the deadline, then it is the error") {
    flow_policy p;
    p.poll.deadline = 2000ms;
    sim s(exp_plan(), {}, p);
    s.begin();
    REQUIRE(s.fail(errc::conflict).is<act::sleep>());
    CHECK(s.last.as<act::sleep>().delay == 500ms);
    REQUIRE(s.timer().is<act::post_export>());
    REQUIRE(s.fail(errc::conflict).is<act::sleep>());
    REQUIRE(s.timer().is<act::post_export>());
    CHECK(s.st.post.state().sends == 1);  // waiting is not a resend
    s.fail(errc::conflict);
    s.timer();
    s.fail(errc::conflict);
    s.timer();
    CHECK(s.fail(errc::conflict).is<act::finish>());
    CHECK(s.st.ec == errc::conflict);
}

TEST_CASE("engine: a lost import POST") {
    sim s({.import_job = true}, {.packages = {"/p.zip"}});
    REQUIRE(s.begin().is<act::post_import>());
    REQUIRE(s.fail(errc::gateway_timeout).is<act::describe>());
    SUBCASE("found by correlation id: that job, no second POST") {
        REQUIRE(s.described(describe_with("cid-i", "I9")).is<act::check_status>());
        CHECK(s.last.as<act::check_status>().id == "I9");
        CHECK(s.ok(finished_import("I9")).is<act::finish>());
        CHECK_FALSE(s.st.ec);
        CHECK(s.st.post.state().sends == 1);
    }
    SUBCASE("describe shows ids and none is ours: sent again after a wait, at most three times") {
        REQUIRE(s.described(describe_with("other", "I9")).is<act::sleep>());
        CHECK(s.last.as<act::sleep>().delay == 500ms);
        REQUIRE(s.timer().is<act::post_import>());
        s.fail(errc::gateway_timeout);
        REQUIRE(s.described(describe_with("other", "I9")).is<act::sleep>());
        CHECK(s.last.as<act::sleep>().delay == 1000ms);
        REQUIRE(s.timer().is<act::post_import>());
        s.fail(errc::gateway_timeout);
        CHECK(s.described(describe_with("other", "I9")).is<act::finish>());
        CHECK(s.st.ec == errc::gateway_timeout);  // none was made: a plain failure
    }
    SUBCASE("describe fails: the outcome is unknown, nothing resent") {
        CHECK(s.fail(errc::service_unavailable).is<act::finish>());
        CHECK(s.st.ec == errc::import_outcome_unknown);
        CHECK(s.st.post.state().sends == 1);
    }
    SUBCASE("no correlation ids: one candidate whose outputs match is ours") {
        REQUIRE(s.described(describe_without({"I7"})).is<act::check_status>());
        CHECK(s.last.as<act::check_status>().id == "I7");
        REQUIRE(s.ok(finished_import("I7")).is<act::check_status>());  // adopted, then awaited as ours
        CHECK(s.ok(finished_import("I7")).is<act::finish>());
        CHECK_FALSE(s.st.ec);
        CHECK(s.st.post.state().sends == 1);
    }
    SUBCASE("no correlation ids: two candidates match, unknown with both named") {
        s.described(describe_without({"I7", "I8"}));
        REQUIRE(s.ok(finished_import("I7")).is<act::check_status>());
        CHECK(s.ok(finished_import("I8")).is<act::finish>());
        CHECK(s.st.ec == errc::import_outcome_unknown);
        CHECK(s.st.diag.detail.find("I7, I8") != std::string::npos);
    }
    SUBCASE("no correlation ids: a failed candidate imported nothing, another's outputs differ: sent again") {
        s.described(describe_without({"I7", "I8"}));
        auto failed = job("I7", "failed", job_state::failed);
        s.ok(failed);
        CHECK(s.ok(finished_import("I8", "other/x", "other/x")).is<act::sleep>());
        CHECK(s.timer().is<act::post_import>());
    }
    SUBCASE("no correlation ids: a candidate that cannot be checked makes it unknown") {
        s.described(describe_without({"I7"}));
        CHECK(s.fail(errc::forbidden).is<act::finish>());
        CHECK(s.st.ec == errc::import_outcome_unknown);
    }
    SUBCASE("a refusal the server did not act on is final at once") {
        sim t({.import_job = true}, {.packages = {"/p.zip"}});
        t.begin();
        CHECK(t.fail(errc::bad_request).is<act::finish>());
        CHECK(t.st.ec == errc::bad_request);
    }
}

TEST_CASE("engine: a lost POST of a second package looks for its own correlation id, not the first's") {
    // Two packages: the first imported under cid-i, the second is sent as
    // cid-i-2 and its answer is lost. The tenant lists the first's job: it is
    // not the second's (adopting it would leave the second never imported).
    sim s(migrate_plan());
    s.begin();
    to_export_done(s, {file_link("https://h/a/one.zip"), file_link("https://h/b/two.zip")});
    s.downloaded(sha);
    REQUIRE(s.kept("/d/one.zip").is<act::download>());
    s.downloaded(sha);
    REQUIRE(s.kept("/d/two.zip").is<act::post_import>());
    CHECK(s.last.as<act::post_import>().cid == "cid-i");
    REQUIRE(s.ok(job("I1", "created")).is<act::check_status>());
    REQUIRE(s.ok(finished_import("I1")).is<act::post_import>());
    CHECK(s.last.as<act::post_import>().cid == "cid-i-2");
    CHECK(s.last.as<act::post_import>().path == "/d/two.zip");
    REQUIRE(s.fail(errc::gateway_timeout).is<act::describe>());
    REQUIRE(s.described(describe_with("cid-i", "I1")).is<act::sleep>());  // not ours: sent again
    REQUIRE(s.timer().is<act::post_import>());
    CHECK(s.last.as<act::post_import>().cid == "cid-i-2");
    REQUIRE(s.fail(errc::gateway_timeout).is<act::describe>());
    REQUIRE(s.described(describe_with("cid-i-2", "I2")).is<act::check_status>());  // its own job: adopted
    CHECK(s.last.as<act::check_status>().id == "I2");
    s.ok(finished_import("I2"));
    CHECK_FALSE(s.st.ec);
    REQUIRE(s.st.imports.size() == 2);
    CHECK(s.st.imports[1].job.id == "I2");
}

TEST_CASE("engine: a lost export POST is adopted when found, else sent again at once") {
    sim s(exp_plan());
    s.begin();
    REQUIRE(s.fail(errc::connection_closed).is<act::describe>());
    SUBCASE("found") {
        REQUIRE(s.described(describe_with("cid-e", "E5", "export")).is<act::check_status>());
        CHECK(s.last.as<act::check_status>().id == "E5");
    }
    SUBCASE("not found") {
        REQUIRE(s.described(R"({"in_progress_exports":[]})").is<act::sleep>());
        CHECK(s.last.as<act::sleep>().delay == 0ms);
        CHECK(s.timer().is<act::post_export>());
    }
    SUBCASE("describe fails") {
        REQUIRE(s.fail(errc::bad_gateway).is<act::sleep>());
        CHECK(s.timer().is<act::post_export>());
    }
}

TEST_CASE("engine: polling a job") {
    flow_policy p;
    p.poll.deadline = 3000ms;
    sim s({}, {.import_id = "I1"}, p);
    REQUIRE(s.begin().is<act::check_status>());
    SUBCASE("transient failures are asked again; success ends it") {
        REQUIRE(s.fail(errc::service_unavailable).is<act::sleep>());
        REQUIRE(s.timer().is<act::check_status>());
        REQUIRE(s.fail(errc::connection_closed).is<act::sleep>());
        s.timer();
        CHECK(s.ok(finished_import("I1")).is<act::finish>());
        CHECK_FALSE(s.st.ec);
    }
    SUBCASE("transient failures until the deadline: job_state_unknown naming the job") {
        for (int i = 0; i < 10 && !s.last.is<act::finish>(); ++i) {
            if (s.last.is<act::check_status>()) s.fail(errc::service_unavailable);
            else s.timer();
        }
        CHECK(s.st.ec == errc::job_state_unknown);
        CHECK(s.st.diag.detail.find("cspark-impex status I1 --kind import") != std::string::npos);
    }
    SUBCASE("a refused check ends it at once, unknown") {
        CHECK(s.fail(errc::unauthorized).is<act::finish>());
        CHECK(s.st.ec == errc::job_state_unknown);
    }
    SUBCASE("still running at the deadline: poll_timeout") {
        for (int i = 0; i < 10 && !s.last.is<act::finish>(); ++i) {
            if (s.last.is<act::check_status>()) s.ok(job("I1", "in_progress"));
            else s.timer();
        }
        CHECK(s.st.ec == errc::poll_timeout);
        CHECK(s.now - clock_type::time_point{} == 3000ms);  // the last wait is cut to the deadline
    }
    SUBCASE("failed and cancelled jobs end it with their codes") {
        auto f = job("I1", "failed", job_state::failed);
        CHECK(s.ok(f).is<act::finish>());
        CHECK(s.st.ec == errc::job_failed);
    }
    SUBCASE("cancelled job") {
        s.ok(job("I1", "cancelled", job_state::cancelled));
        CHECK(s.st.ec == errc::job_cancelled);
    }
}

TEST_CASE("engine: an export given up on is cancelled on the server") {
    flow_policy p;
    p.poll.deadline = 1500ms;
    sim s(exp_plan(), {}, p);
    s.begin();
    s.ok(job("E1", "created"));
    s.ok(job("E1", "in_progress"));
    s.timer();
    s.ok(job("E1", "in_progress"));
    s.timer();
    REQUIRE(s.ok(job("E1", "in_progress")).is<act::cancel_export>());
    CHECK(s.last.as<act::cancel_export>().id == "E1");
    CHECK(s.ok().is<act::finish>());
    CHECK(s.st.ec == errc::poll_timeout);
}

TEST_CASE("engine: downloads") {
    sim s(exp_plan());
    s.begin();
    SUBCASE("a dropped transfer resumes, a bounded number of times") {
        to_export_done(s);
        for (int i = 0; i < 5; ++i) REQUIRE(s.fail(errc::connection_closed, 100).is<act::download>());
        REQUIRE(s.fail(errc::connection_closed, 100).is<act::discard>());  // the .part goes
        CHECK(s.ok().is<act::finish>());
        CHECK(s.st.ec == errc::connection_closed);
    }
    SUBCASE("a hash mismatch fetches the file again from byte 0, a bounded number of times, then discards it") {
        to_export_done(s);
        for (int i = 0; i < 2; ++i) {
            REQUIRE(s.downloaded(std::string(64, 'b')).is<act::download>());
            CHECK(s.last.as<act::download>().from_start);
        }
        REQUIRE(s.downloaded(std::string(64, 'b')).is<act::discard>());
        CHECK(s.ok().is<act::finish>());
        CHECK(s.st.ec == errc::hash_mismatch);
    }
    SUBCASE("an MD5 file_hash is compared with the MD5") {
        to_export_done(s, {file_link("https://h/p.zip", std::string(32, 'c'))});
        CHECK(s.last.as<act::download>().md5);  // the action asks for the MD5: the driver decides nothing
        CHECK(s.last.as<act::download>().server_name);  // one file: the server's name for it may replace the link's
        flow_event e;
        e.what = flow_event::type::ok;
        e.file.sha256 = sha;
        e.md5 = std::string(32, 'c');
        REQUIRE(s.feed(e).is<act::keep_file>());
        CHECK(s.last.as<act::keep_file>().verified);
    }
    SUBCASE("no file_hash: kept unverified (the driver checks it as a ZIP)") {
        to_export_done(s, {file_link("https://h/p.zip", "")});
        REQUIRE(s.downloaded(sha).is<act::keep_file>());
        CHECK_FALSE(s.last.as<act::keep_file>().verified);
    }
    SUBCASE("two links with one name get two names; a failure on the second removes the first") {
        to_export_done(s, {file_link("https://h/a/same.zip"), file_link("https://h/b/same.zip")});
        CHECK(s.last.as<act::download>().name == "same.zip");
        CHECK_FALSE(s.last.as<act::download>().md5);          // a SHA-256 file_hash
        CHECK_FALSE(s.last.as<act::download>().server_name);  // two files: the names stay ours, never two alike
        s.downloaded(sha);
        REQUIRE(s.kept("/d/same.zip").is<act::download>());
        CHECK(s.last.as<act::download>().name == "same-1.zip");
        REQUIRE(s.fail(errc::not_found).is<act::discard>());
        CHECK(s.ok().is<act::finish>());
        CHECK(s.st.ec == errc::not_found);
    }
    SUBCASE("an export without files is no_files") {
        to_export_done(s, {});
        CHECK(s.last.is<act::finish>());
        CHECK(s.st.ec == errc::no_files);
    }
    SUBCASE("keeping the file fails (exists, not a ZIP): that is the error") {
        to_export_done(s);
        s.downloaded(sha);
        CHECK(s.fail(errc::file_exists).is<act::discard>());
        s.ok();
        CHECK(s.st.ec == errc::file_exists);
    }
}

TEST_CASE("engine: cancellation in every stage") {
    struct expect {
        std::size_t first;    // what the engine asks for after the cancellation (the op's index)
        bool cancels_export;  // a cancel_export comes on the way out
    };
    auto run_to = [](sim& s, int stage) {
        s.begin();  // acquire_slot(export)
        if (stage == 0) return;
        s.ok();  // post_export
        if (stage == 1) return;
        s.ok(job("E1", "created"));  // check_status
        if (stage == 2) return;
        s.ok(job("E1", "in_progress"));  // sleep
        if (stage == 3) return;
        s.timer();
        s.ok(finished_export("E1", {file_link()}));  // download
        if (stage == 4) return;
        s.downloaded(sha);  // keep_file
        if (stage == 5) return;
        s.kept("/d/p.zip");  // acquire_slot(import)
        if (stage == 6) return;
        s.ok();  // post_import
        if (stage == 7) return;
        s.fail(errc::gateway_timeout);  // describe
        if (stage == 8) return;
        s.described(describe_without({"I7"}));  // check_status (confirm)
        if (stage == 9) return;
        s.ok(finished_import("I7"));  // check_status (its poll)
    };
    const std::vector<std::pair<const char*, expect>> stages{
        {"export slot", {op_index<act::finish>(), false}},      {"export POST", {op_index<act::describe>(), false}},
        {"export poll", {op_index<act::cancel_export>(), true}}, {"export wait", {op_index<act::cancel_export>(), true}},
        {"download", {op_index<act::discard>(), false}},        {"keep", {op_index<act::discard>(), false}},
        // A migration that keeps no files discards its package on the way out.
        {"import slot", {op_index<act::discard>(), false}},     {"import POST", {op_index<act::discard>(), false}},
        {"import lookup", {op_index<act::discard>(), false}},   {"import confirm", {op_index<act::discard>(), false}},
        {"import poll", {op_index<act::discard>(), false}},
    };
    for (std::size_t i = 0; i < stages.size(); ++i) {
        CAPTURE(stages[i].first);
        sim s(migrate_plan(true));
        run_to(s, static_cast<int>(i));
        auto a = s.cancel();
        CHECK(a.op.index() == stages[i].second.first);
        bool cancelled_export = a.is<act::cancel_export>();
        for (int n = 0; n < 6 && !a.is<act::finish>(); ++n) {
            a = a.is<act::describe>() ? s.described(describe_with("cid-e", "E1", "export")) : s.ok();
            cancelled_export = cancelled_export || a.is<act::cancel_export>();
        }
        CHECK(a.is<act::finish>());
        CHECK(s.st.ec == errc::cancelled);
        if (i == 1) CHECK(cancelled_export);  // found by its correlation id, then cancelled
        else CHECK(cancelled_export == stages[i].second.cancels_export);
        CHECK_FALSE(s.st.holding);  // the slot went back
    }
}

TEST_CASE("engine: an error at every step of a migration ends it with that error") {
    // Non-retryable failures at each action of the happy path.
    for (int step = 0; step < 8; ++step) {
        CAPTURE(step);
        sim s(migrate_plan());
        s.begin();
        std::vector<std::function<void()>> path{
            [&] { s.ok(job("E1", "created")); },
            [&] { s.ok(job("E1", "in_progress")); },
            [&] { s.timer(); },
            [&] { s.ok(finished_export("E1", {file_link()})); },
            [&] { s.downloaded(sha); },
            [&] { s.kept("/d/p.zip"); },
            [&] { s.ok(job("I1", "created")); },
        };
        for (int k = 0; k < step; ++k) path[k]();
        bool checking = s.last.is<act::check_status>();
        if (s.last.is<act::sleep>()) continue;  // a wait does not fail
        auto a = s.fail(errc::forbidden);
        for (int n = 0; n < 4 && !a.is<act::finish>(); ++n) a = s.ok();
        CHECK(a.is<act::finish>());
        CHECK(s.st.ec);
        if (checking) CHECK(s.st.ec == errc::job_state_unknown);
        else CHECK(s.st.ec == errc::forbidden);
    }
}

TEST_CASE("engine: resumes from a checkpoint") {
    SUBCASE("an import job by id: polled, nothing sent") {
        sim s(migrate_plan(), {.import_id = "I1"});
        CHECK(s.begin().is<act::check_status>());
        CHECK(s.last.as<act::check_status>().id == "I1");
    }
    SUBCASE("an export job by id") {
        sim s(migrate_plan(), {.export_id = "E1"});
        CHECK(s.begin().is<act::check_status>());
        CHECK(s.last.as<act::check_status>().kind == job_kind::export_job);
    }
    SUBCASE("an export intent: looked up first") {
        sim s(migrate_plan(), {.export_cid = "cid-old", .export_intent_age = 60000ms});
        REQUIRE(s.begin().is<act::describe>());
        REQUIRE(s.described(R"({"recent_exports":[]})").is<act::post_export>());
    }
    SUBCASE("an import intent with its package: looked up, found, never sent") {
        flow_plan plan = migrate_plan();
        plan.export_job = plan.download = false;
        sim s(plan, {.import_cid = "cid-i", .import_intent_age = 60000ms, .packages = {"/p.zip"}});
        REQUIRE(s.begin().is<act::describe>());
        REQUIRE(s.described(describe_with("cid-i", "I3")).is<act::check_status>());
        CHECK(s.last.as<act::check_status>().id == "I3");
        CHECK(s.st.post.state().sends == 0);
    }
    SUBCASE("an import intent, no job made: sent now with the same correlation id") {
        flow_plan plan = migrate_plan();
        plan.export_job = plan.download = false;
        sim s(plan, {.import_cid = "cid-i", .import_intent_age = 60000ms, .packages = {"/p.zip"}});
        s.begin();
        REQUIRE(s.described(describe_with("other", "I3")).is<act::post_import>());
        CHECK(s.last.as<act::post_import>().cid == "cid-i");
    }
    SUBCASE("a verified package: imported without exporting, even with the export job known") {
        flow_plan plan = migrate_plan();
        plan.export_job = plan.download = false;
        sim s(plan, {.export_id = "E1", .packages = {"/p.zip"}});
        CHECK(s.begin().is<act::post_import>());
    }
}

TEST_CASE("engine: initiate verbs stop once the job exists") {
    sim s({.export_job = true, .stop_at_created = true, .wait_out_conflicts = false});
    s.begin();
    CHECK(s.ok(job("E1", "created")).is<act::finish>());
    CHECK(s.st.export_job.id == "E1");
    sim t({.export_job = true, .stop_at_created = true, .wait_out_conflicts = false});
    t.begin();
    CHECK(t.fail(errc::conflict).is<act::finish>());  // the verb reports 409 as it is
    CHECK(t.st.ec == errc::conflict);
}

TEST_CASE("engine: an import of a kind not seen yet takes one check from the export's duration") {
    flow_policy policy;
    policy.expected_export = 4000ms;  // the source tenant's exports take 4 s; no import has ended yet
    sim s(migrate_plan(), {}, policy);
    REQUIRE(s.begin().is<act::post_export>());
    REQUIRE(s.ok(job("E1", "created")).is<act::sleep>());
    CHECK(s.last.as<act::sleep>().delay == 4000ms + 80ms);
    REQUIRE(s.timer().is<act::check_status>());
    REQUIRE(s.ok(finished_export("E1", {file_link()})).is<act::download>());
    s.downloaded(sha);
    REQUIRE(s.kept("/d/p.zip").is<act::post_import>());
    auto created = s.now;
    REQUIRE(s.ok(job("I1", "created")).is<act::check_status>());  // nothing known of imports: at once
    // Probing (x1.2) until a wait would pass the export's duration: then one
    // check there, and probing goes on after it.
    std::vector<milliseconds> waits;
    for (int i = 0; i < 6; ++i) {
        REQUIRE(s.ok(job("I1", "in_progress")).is<act::sleep>());
        waits.push_back(s.last.as<act::sleep>().delay);
        REQUIRE(s.timer().is<act::check_status>());
    }
    CHECK(waits == std::vector<milliseconds>{1000ms, 1200ms, 1440ms, 440ms, 2073ms, 2488ms});
    CHECK(std::chrono::duration_cast<milliseconds>(s.now - created) > 4080ms);
}

TEST_CASE("engine: a duration learned while a job is polled places the checks from then on") {
    sim s(exp_plan());
    REQUIRE(s.begin().is<act::post_export>());
    REQUIRE(s.ok(job("E1", "created")).is<act::check_status>());
    REQUIRE(s.ok(job("E1", "in_progress")).is<act::sleep>());
    CHECK(s.last.as<act::sleep>().delay == 1000ms);
    REQUIRE(s.timer().is<act::check_status>());
    s.st.policy.expected_export = 5000ms;  // another flow's export on the host ended (the I/O loop says)
    REQUIRE(s.ok(job("E1", "in_progress")).is<act::sleep>());
    CHECK(s.last.as<act::sleep>().delay == 4000ms + 100ms);  // to just after its expected end, not 1.2 s
}

TEST_CASE("engine: a job's duration counts the POST's round trip the server saw") {
    sim s(exp_plan());
    REQUIRE(s.begin().is<act::post_export>());
    s.now += 300ms;  // the POST took 300 ms to answer; the job was made during it
    REQUIRE(s.ok(job("E1", "created")).is<act::check_status>());
    auto running = job("E1", "in_progress");
    running.process_time = 250;
    REQUIRE(s.ok(running).is<act::sleep>());
    s.timer();  // 1000 ms later on our count
    auto done = finished_export("E1", {file_link()});
    done.process_time = 1200;  // the server's count: more than our 1000 ms, within the POST's 300
    REQUIRE(s.ok(done).is<act::download>());
    auto timing = std::find_if(s.st.notes.begin(), s.st.notes.end(), [](const flow_note& x) { return x.what == flow_note::type::timing; });
    REQUIRE(timing != s.st.notes.end());
    CHECK(timing->delay == 1200ms);  // the old window (up to 1000 ms) took the midpoint, 500 ms
}

TEST_CASE("engine: the job history comes with each event; the engine, not the I/O loop, decides the looks") {
    flow_policy policy;  // adaptive, no durations given: they come with the events
    sim s(exp_plan(), {}, policy);
    REQUIRE(reads_history(s.st));
    CHECK(reads_chain(s.st));  // nothing known: a chain's length matters
    history_snapshot h;
    h.chain = 3;  // on a fleet chain of three, nothing known of either kind
    auto with = [&](flow_event e) {
        e.history = h;
        return s.feed(std::move(e));
    };
    with({});
    flow_event created;
    created.what = flow_event::type::ok;
    created.job = job("E1", "created");
    REQUIRE(with(created).is<act::check_status>());
    flow_event running = created;
    running.job = job("E1", "in_progress");
    REQUIRE(with(running).is<act::sleep>());
    CHECK(s.last.as<act::sleep>().delay == 250ms);  // a look: a quarter of the 1 s interval
    h.expected_export = 400ms;     // an export on the host ended meanwhile
    h.expected_import = 900ms;
    s.now += s.last.as<act::sleep>().delay;
    flow_event woke;
    woke.what = flow_event::type::ok;
    CHECK(with(woke).is<act::sleep>());
    CHECK(s.last.as<act::sleep>().delay == 158ms);  // to 408 ms: the export's expected end (+2 %)
    CHECK_FALSE(reads_chain(s.st));  // both kinds known: the chain no longer matters
    CHECK(s.st.policy.history_look == 0ms);
    SUBCASE("durations given in the policy hold; events' history is not read") {
        flow_policy fixed;
        fixed.expected_export = 4000ms;
        sim f(exp_plan(), {}, fixed);
        CHECK_FALSE(reads_history(f.st));
    }
    SUBCASE("off a chain (or on one of length 1), waits are slept whole") {
        sim one(exp_plan(), {}, policy);
        h = {};
        h.chain = 1;
        auto feed_one = [&](flow_event e) {
            e.history = h;
            return one.feed(std::move(e));
        };
        feed_one({});
        feed_one(created);
        REQUIRE(feed_one(running).is<act::sleep>());
        CHECK(one.last.as<act::sleep>().delay == 1000ms);
    }
}

TEST_CASE("engine: a wait with nothing known is slept in looks, and a duration learned meanwhile moves the check") {
    flow_policy policy;
    policy.history_look = 250ms;  // the I/O loop sets it for a fleet's chains
    SUBCASE("the job should have ended since the last check: checked at once") {
        sim s(exp_plan(), {}, policy);
        s.begin();
        REQUIRE(s.ok(job("E1", "created")).is<act::check_status>());
        REQUIRE(s.ok(job("E1", "in_progress")).is<act::sleep>());
        CHECK(s.last.as<act::sleep>().delay == 250ms);  // a look, not the whole 1 s wait
        REQUIRE(s.timer().is<act::sleep>());  // nothing known yet: the wait goes on
        CHECK(s.last.as<act::sleep>().delay == 250ms);
        s.st.policy.expected_export = 400ms;  // another flow's export on the host ended: 400 ms
        CHECK(s.timer().is<act::check_status>());  // at 500 ms: past 400 ms (+2 %), look now
    }
    SUBCASE("the expected end is ahead: the check goes there") {
        sim s(exp_plan(), {}, policy);
        s.begin();
        s.ok(job("E1", "created"));
        s.ok(job("E1", "in_progress"));
        s.timer();
        s.st.policy.expected_export = 800ms;
        REQUIRE(s.timer().is<act::sleep>());
        CHECK(s.last.as<act::sleep>().delay == 316ms);  // from 500 ms to 816 ms
        CHECK(s.timer().is<act::check_status>());
    }
    SUBCASE("no looks: the wait is slept whole") {
        policy.history_look = 0ms;
        sim s(exp_plan(), {}, policy);
        s.begin();
        s.ok(job("E1", "created"));
        REQUIRE(s.ok(job("E1", "in_progress")).is<act::sleep>());
        CHECK(s.last.as<act::sleep>().delay == 1000ms);
    }
}

TEST_CASE("engine: each durable step's note carries the migration's whole checkpoint after it") {
    sim s(migrate_plan());
    std::vector<migration_checkpoint> after;
    auto take = [&] {
        for (const auto& n : s.st.notes)
            if (n.checkpoint) after.push_back(*n.checkpoint);
        s.st.notes.clear();
    };
    s.begin();  // export intent
    take();
    REQUIRE(after.size() == 1);
    CHECK(after[0].export_correlation_id == "cid-e");
    CHECK(after[0].export_intent.has_value());
    CHECK(after[0].export_job.empty());
    s.ok(job("E1", "created"));
    take();
    REQUIRE(after.size() == 2);
    CHECK(after[1].export_job == "E1");
    CHECK(after[1].export_correlation_id == "cid-e");  // whole: what came before stays
    s.ok(finished_export("E1", {file_link()}));
    s.downloaded(sha);
    s.kept("/d/p.zip");  // downloaded, then the import's intent
    take();
    REQUIRE(after.size() >= 4);
    CHECK(after.back().package == "/d/p.zip");
    CHECK(after.back().import_correlation_id == "cid-i");
    s.ok(job("I1", "created"));
    take();
    CHECK(after.back().import_job == "I1");
    CHECK(after.back().export_job == "E1");
}
