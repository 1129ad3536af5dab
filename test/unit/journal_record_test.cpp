// The journal's one codec: what batch writes is what the replay and the
// report read back, and a rerun resumes from it.
#include "cli/journal_record.hpp"

#include <doctest/doctest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

using namespace cspark;
using namespace cspark::cli;
namespace json = boost::json;

namespace {

// Through the text a journal holds, as a replay reads it.
journal_record through_text(const json::object& rec) {
    return read_record(json::parse(json::serialize(rec)).as_object());
}

checkpoint_event event(checkpoint_event::kind k, std::string id) {
    checkpoint_event ev;
    ev.what = k;
    ev.id = std::move(id);
    return ev;
}

}  // namespace

TEST_CASE("journal records: each step written is read back; the replay is where a rerun resumes") {
    using k = checkpoint_event::kind;
    progress_state st;
    json::value one = json::string("m1");
    auto intent = through_text(step_record(one, event(k::export_intent, "cid-e"), st, "src-t", "dst-t"));
    CHECK(intent.kind == record_kind::export_intent);
    CHECK(intent.members == std::vector<std::string>{"m1"});
    CHECK(intent.cid == "cid-e");
    CHECK(intent.src == "src-t");
    CHECK(intent.dst == "dst-t");
    CHECK(intent.t > 0);
    apply(st, intent);
    apply(st, through_text(step_record(one, event(k::export_job, "E1"), st, "", "")));
    auto dl = event(k::downloaded, "");
    dl.path = "/p/a.zip";
    dl.sha256 = "ab";
    dl.size = 42;
    auto got = through_text(step_record(one, dl, st, "", ""));
    CHECK(got.bytes == 42);
    apply(st, got);
    auto import_intent = through_text(step_record(one, event(k::import_intent, "cid-i"), st, "", "dst-t"));
    CHECK(import_intent.file == "/p/a.zip");  // the package the import sends
    apply(st, import_intent);
    apply(st, through_text(step_record(one, event(k::import_job, "I1"), st, "", "")));
    CHECK_FALSE(st.done);
    auto cp = checkpoint_of(st, true);
    CHECK(cp.export_correlation_id == "cid-e");
    CHECK(cp.export_intent.has_value());
    CHECK(cp.export_job == "E1");
    CHECK(cp.package == "/p/a.zip");
    CHECK(cp.import_correlation_id == "cid-i");
    CHECK(cp.import_job == "I1");
    CHECK(checkpoint_of(st, false).package.empty());  // a package gone or changed is fetched again

    SUBCASE("a combined job's step names every member") {
        json::array both{json::string("m1"), json::string("m2")};
        auto r = through_text(step_record(both, event(k::export_job, "E2"), st, "", ""));
        CHECK(r.members == std::vector<std::string>{"m1", "m2"});
    }
    SUBCASE("outcomes: done (with its code), a partial import, unknown") {
        migration_result ok;
        auto done = through_text(outcome_record("m1", ok, {"W1: careful"}));
        CHECK(done.kind == record_kind::done);
        CHECK(done.ok);
        CHECK(done.warnings == std::vector<std::string>{"W1: careful"});
        apply(st, done);
        CHECK(st.done == true);
        migration_result part;
        part.ec = errc::import_partially_failed;
        auto failed = through_text(outcome_record("m1", part, {}));
        CHECK_FALSE(failed.ok);
        CHECK(failed.code == "import_partially_failed");
        apply(st, failed);
        CHECK(st.imported);  // never sent again
        migration_result lost;
        lost.ec = errc::import_outcome_unknown;
        lost.diag.request_id = "req-9";
        auto unknown = through_text(outcome_record("m1", lost, {}));
        CHECK(unknown.kind == record_kind::unknown);
        CHECK(unknown.request_id == "req-9");
    }
    SUBCASE("run records, and a record this version does not know") {
        CHECK(through_text(run_record(7)).kind == record_kind::run);
        auto end = through_text(run_end_record(3, 10, 20));
        CHECK(end.kind == record_kind::run_end);
        CHECK(end.retries == 3);
        auto future = read_record(json::parse(R"({"m":"m1","e":"someday","t":5})").as_object());
        CHECK(future.kind == record_kind::other);
        progress_state before = st;
        apply(st, future);
        CHECK(st.export_job == before.export_job);
    }
}
