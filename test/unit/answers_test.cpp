// Spark as it really answers (a run of the official SDK against its UAT, the
// OpenAPI spec): failures inside a 200, failing statuses in any case, errors
// of any shape, warnings, a failed service in a closed import, the document
// store's links. Pure: the codec, the engine in virtual time, the masking.
#include "core/text.hpp"
#include "impex/codec.hpp"
#include "impex/engine.hpp"

#include <boost/json/parse.hpp>

#include <doctest/doctest.h>

using namespace cspark;
using namespace cspark::detail;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

job_status parsed(const std::string& doc, std::string_view asked = "J1") {
    job_status j;
    std::string why;
    REQUIRE_MESSAGE(parse_job(json::parse(doc), "export", j, why, asked), why);
    return j;
}

// A flow and a clock (as engine_test's sim, with what these cases need).
struct flow {
    flow_state st;
    clock_type::time_point now{};
    flow_action last;
    explicit flow(flow_plan plan) {
        flow_start start{.export_cid = "cid-e", .import_cid = "cid-i"};
        start.services_modify = json::parse(R"([{"service_uri_source":"f/s","service_uri_destination":"g/s"}])").as_array();
        flow_policy policy;
        policy.poll.interval = 1000ms;
        policy.poll.jitter = 0;
        st = make_flow(plan, policy, std::move(start));
    }
    flow_action feed(flow_event e) {
        e.now = now;
        return last = resume(st, std::move(e));
    }
    flow_action ok(job_status j = {}) {
        flow_event e;
        e.what = flow_event::type::ok;
        e.job = std::move(j);
        return feed(std::move(e));
    }
    flow_action downloaded(const std::string& sha256) {
        flow_event e;
        e.what = flow_event::type::ok;
        e.file.sha256 = sha256;
        e.file.size = 10;
        return feed(std::move(e));
    }
    flow_action failed(error_code ec) {
        flow_event e;
        e.what = flow_event::type::failed;
        e.ec = ec;
        return feed(std::move(e));
    }
};

const std::string sha = std::string(64, 'a');

job_status created(const std::string& id) {
    job_status j;
    j.id = id;
    j.status = "created";
    return j;
}

}  // namespace

TEST_CASE("statuses are compared without regard to case; Spark's failing statuses end the job") {
    CHECK(classify_job("CLOSED", nullptr) == job_state::succeeded);
    CHECK(classify_job("Completed", json::array()) == job_state::succeeded);
    CHECK(classify_job("Error", nullptr) == job_state::failed);
    CHECK(classify_job("FAILED", nullptr) == job_state::failed);
    CHECK(classify_job("closed_by_timeout", nullptr) == job_state::failed);
    CHECK(classify_job("Completed_By_Timeout", nullptr) == job_state::failed);
    CHECK(classify_job("Cancelled", nullptr) == job_state::cancelled);
    CHECK(classify_job("paused", nullptr) == job_state::pending);  // unknown: polled until the deadline
    CHECK_FALSE(known_job_status("paused"));
    CHECK(known_job_status("In_Progress"));
    // errors of any shape, on any status
    CHECK(classify_job("closed", json::parse(R"({"code":"X"})")) == job_state::failed);
    CHECK(classify_job("closed", "broken") == job_state::failed);
    CHECK(classify_job("in_progress", json::parse(R"(["x"])")) == job_state::failed);
    CHECK(classify_job("closed", json::object()) == job_state::succeeded);
    CHECK(classify_job("closed", "") == job_state::succeeded);
}

TEST_CASE("an error document answered with 200 is a failed job with the server's code and message") {
    auto j = parsed(R"({"status":"Error","errorCode":"INTERNAL_SERVER_ERROR","message":"Something went wrong"})");
    CHECK(j.error_envelope);
    CHECK(j.state == job_state::failed);
    CHECK(j.id == "J1");
    CHECK(j.diag.api_code == "INTERNAL_SERVER_ERROR");
    CHECK(j.diag.api_message == "Something went wrong");
    // the v3 shape
    auto v3 = parsed(R"({"status":"Error","error":{"error_type":"VALIDATION","message":"bad input"}})");
    CHECK(v3.error_envelope);
    CHECK(v3.diag.api_type == "VALIDATION");
    CHECK(v3.diag.api_message == "bad input");
    // a job document whose status is "Error" is a failed job, not an envelope
    auto doc = parsed(R"({"id":"J2","status":"ERROR","errors":null,"outputs":{}})");
    CHECK_FALSE(doc.error_envelope);
    CHECK(doc.state == job_state::failed);
    // with no job to name (an initiate answer), it is a refusal quoting the server
    job_status none;
    std::string why;
    CHECK_FALSE(parse_job(json::parse(R"({"status":"Error","errorCode":"FORBIDDEN_FOLDER","message":"no"})"), "export", none, why));
    CHECK(none.error_envelope);
    CHECK(why.find("FORBIDDEN_FOLDER") != std::string::npos);
}

TEST_CASE("warnings are read from strings, objects, one object or a string; bounded and masked") {
    auto j = parsed(R"({"id":"J1","status":"closed","errors":[],"warnings":["plain",{"code":"W1","message":"coded"},{"odd":1},
                        "see https://s/x?sig=abc"]})");
    REQUIRE(j.warnings.size() == 4);
    CHECK(j.warnings[0].message == "plain");
    CHECK(j.warnings[1].code == "W1");
    CHECK(j.warnings[1].message == "coded");
    CHECK(j.warnings[2].message == R"({"odd":1})");
    CHECK(j.warnings[3].message == "see https://s/x?sig=***");
    CHECK(j.state == job_state::succeeded);  // warnings are no failure
    CHECK(read_messages(json::parse(R"({"code":"W"})")).size() == 1);
    CHECK(read_messages(json::parse(R"("one")")).size() == 1);
    CHECK(read_messages(nullptr).empty());
    CHECK(read_messages(json::parse("[]")).empty());
    CHECK(read_messages(json::value(std::string(5000, 'x'))).front().message.size() < 1100);
}

TEST_CASE("an import entry succeeds only with a success status; a failed one keeps its reason") {
    auto o = outcome_of(json::parse(R"({"service_uri_source":"f/s","service_uri_destination":"g/s","status":"Added"})").as_object());
    CHECK(o.ok);
    CHECK(outcome_of(json::parse(R"({"service_uri_source":"f/s"})").as_object()).ok);  // none given: listed, so imported
    auto bad = outcome_of(json::parse(R"({"service_uri_source":"f/s","status":"failed","message":"invalid workbook"})").as_object());
    CHECK_FALSE(bad.ok);
    CHECK(bad.reason == "invalid workbook");
    auto odd = outcome_of(json::parse(R"({"service_uri_source":"f/s","status":"skipped","errors":[{"code":"E","message":"m"}]})").as_object());
    CHECK_FALSE(odd.ok);
    CHECK(odd.reason == "E: m");
}

TEST_CASE("the document store's token in a link's path is masked as a query token is") {
    std::string link = "https://entitystore.uat.us.coherent.global/docstore/api/v1/documents/versions/tokens/"
                       "AbC%2Fde%2BfG%3D/package.zip";
    CHECK(mask_url(link) == "https://entitystore.uat.us.coherent.global/docstore/api/v1/documents/versions/tokens/***/package.zip");
    CHECK(mask_url("http://h/a/" + std::string(80, 'Q') + "/p.zip?x=1") == "http://h/a/***/p.zip?x=***");
    CHECK(mask_url("http://h/tenant/api/v4/export/2c5e8c1e-7f0e-4a44-b7a9-1d9f0a3b6c21/status") ==
          "http://h/tenant/api/v4/export/2c5e8c1e-7f0e-4a44-b7a9-1d9f0a3b6c21/status");
    CHECK(mask_url(mask_url(link)) == mask_url(link));
    CHECK(mask_links("GET " + link + " failed").find("AbC") == std::string::npos);
    CHECK(mask_url("export/status") == "export/status");
    // Found by the uri fuzzer: a '?' in the authority; the path never overlaps the query, and masking is idempotent.
    std::string odd = "see https://h?t=abc&x=2/p/" + std::string(70, 'Z') + "?k=v";
    CHECK(mask_url(mask_url(odd)) == mask_url(odd));
}

TEST_CASE("engine: an error in place of the job ends polling at once and cancels the export") {
    flow f({.export_job = true, .download = true});
    f.ok();  // start
    REQUIRE(f.last.is<act::post_export>());
    REQUIRE(f.ok(created("E1")).is<act::check_status>());
    auto envelope = parsed(R"({"status":"Error","errorCode":"INTERNAL_SERVER_ERROR","message":"boom"})", "E1");
    REQUIRE(f.ok(envelope).is<act::cancel_export>());  // its own state is not known: nothing waits for it
    CHECK(f.last.as<act::cancel_export>().id == "E1");
    CHECK(f.ok().is<act::finish>());
    CHECK(f.st.ec == errc::job_failed);
    CHECK(f.st.diag.api_code == "INTERNAL_SERVER_ERROR");
    CHECK(f.st.diag.detail.find("boom") != std::string::npos);
}

TEST_CASE("engine: a job that ends 'Error' fails at the first such answer, naming its first error") {
    flow f({.export_job = true, .download = true});
    f.ok();
    f.ok(created("E1"));
    auto failed = parsed(R"({"id":"E1","status":"Error","errors":{"code":"EXPORT_FAILED","message":"no wasm"}})");
    REQUIRE(f.ok(failed).is<act::finish>());  // a failed job is not running: no cancel
    CHECK(f.st.ec == errc::job_failed);
    CHECK(f.st.diag.api_code == "EXPORT_FAILED");
    CHECK(f.st.diag.detail.find("'Error'") != std::string::npos);
}

TEST_CASE("engine: an import that closed with a failed service fails the migration, naming it") {
    flow f({.import_job = true});
    f.st.start.packages = {"/p/pkg.zip"};
    f.ok();
    REQUIRE(f.last.is<act::post_import>());
    REQUIRE(f.ok(created("I1")).is<act::check_status>());
    auto closed = parsed(R"({"id":"I1","status":"closed","errors":null,"warnings":["w"],"outputs":{
        "services":[{"service_uri_source":"f/s","service_uri_destination":"g/s","status":"failed","message":"bad workbook"},
                    {"service_uri_source":"f/t","service_uri_destination":"g/t","status":"added"}],
        "service_versions":[]}})");
    REQUIRE(f.ok(closed).is<act::finish>());
    CHECK(f.st.ec == errc::import_partially_failed);
    REQUIRE(f.st.imports.size() == 1);
    const auto& r = f.st.imports.front();
    CHECK(r.partially_failed);
    CHECK_FALSE(r.services[0].ok);
    CHECK(r.services[1].ok);
    CHECK(r.job.warnings.size() == 1);
    CHECK(f.st.diag.detail.find("f/s -> g/s: failed (bad workbook)") != std::string::npos);
    CHECK(f.st.diag.detail.find("1 of 2") != std::string::npos);
}

TEST_CASE("engine: a package that is not a ZIP is fetched again from byte 0, then the error stands") {
    flow f({.export_job = true, .download = true});
    f.ok();
    job_status done;
    done.id = "E1";
    done.status = "closed";
    done.state = job_state::succeeded;
    done.files = {{"https://store/docstore/api/v1/documents/versions/tokens/T%2F/package.zip", ""}};
    f.ok(created("E1"));
    REQUIRE(f.ok(done).is<act::download>());
    CHECK(f.last.as<act::download>().name == "export-E1.zip");  // a store link's "package.zip" names nothing
    CHECK_FALSE(f.last.as<act::download>().from_start);
    for (int i = 0; i < 2; ++i) {
        REQUIRE(f.downloaded(sha).is<act::keep_file>());
        CHECK_FALSE(f.last.as<act::keep_file>().verified);
        REQUIRE(f.failed(errc::invalid_package).is<act::download>());
        CHECK(f.last.as<act::download>().from_start);
    }
    REQUIRE(f.downloaded(sha).is<act::keep_file>());
    REQUIRE(f.failed(errc::invalid_package).is<act::discard>());
    CHECK(f.ok().is<act::finish>());
    CHECK(f.st.ec == errc::invalid_package);
    // the refetches were told to observers as retries
    int retries = 0;
    for (const auto& n : f.st.notes) retries += n.what == flow_note::type::retry && n.status == "download_refetched";
    CHECK(retries == 2);
}

TEST_CASE("engine: a migration notes its export's end before its imports (the demo's export counter)") {
    flow f({.export_job = true, .download = true, .import_job = true});
    f.ok();
    job_status done;
    done.id = "E1";
    done.status = "closed";
    done.state = job_state::succeeded;
    done.files = {{"https://h/p.zip", sha}};
    f.ok(created("E1"));
    REQUIRE(f.ok(done).is<act::download>());
    REQUIRE(f.downloaded(sha).is<act::keep_file>());
    flow_event kept;
    kept.what = flow_event::type::ok;
    kept.file.path = "/d/p.zip";
    REQUIRE(f.feed(kept).is<act::post_import>());
    bool export_finished = false;
    for (const auto& n : f.st.notes) export_finished |= n.what == flow_note::type::finished && n.kind == job_kind::export_job;
    CHECK(export_finished);
}
