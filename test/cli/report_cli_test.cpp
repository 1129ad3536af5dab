// batch --metrics and batch --report --html against the emulator: a run with
// successes, a failure and an unknown outcome, seen as a Prometheus file and
// as one page a real parser reads, with no credential anywhere.
#include "support/cli_fixture.hpp"
#include "support/page_check.hpp"

#include <boost/json/serialize.hpp>

using namespace cspark;
using namespace cspark::test;

namespace {

// m-1..m-6 from tenant-0001 (m-4 names a missing service), u-1 from
// tenant-0002 whose export jobs never finish.
std::string mixed_plan(cli_fixture& f) {
    json::array list;
    auto entry = [&](const std::string& name, const std::string& src, const std::string& key, const std::string& svc) {
        list.push_back(json::object{{"name", name},
                                    {"source", json::object{{"base_url", src}, {"api_key_env", key}}},
                                    {"target", json::object{{"base_url", f.dst()}, {"api_key_env", "DST_KEY"}}},
                                    {"export", json::object{{"services", json::array{json::string(svc)}}}}});
    };
    for (int i = 1; i <= 6; ++i)
        entry("m-" + std::to_string(i), f.src(), "SRC_KEY", i == 4 ? "folder-1/no-such-service" : "folder-1/service-" + std::to_string(i));
    entry("u-1", f.emu->base_url("tenant-0002"), "SRC2_KEY", "folder-1/service-1");
    auto path = (f.dir / "mixed-plan.json").string();
    std::ofstream(path) << json::serialize(json::object{{"migrations", list}});
    return path;
}

}  // namespace

TEST_CASE("batch --metrics, then --report --html: counters, rows and failures of a mixed run, no secret") {
    fleet_spec fleet;
    fleet.tenants = 2;
    fleet.target_tenants = 1;
    fleet.services = 6;
    cli_fixture f(fleet);
    ::setenv("SRC2_KEY", f.emu->credentials("tenant-0002").api_key.c_str(), 1);
    asio::post(f.io, [&] {
        f.emu->set_faults(json::parse(R"({"rules":[{"route":"export.create","tenant":"tenant-0002","kind":"job_never_finishes"}]})"));
    });
    auto plan = mixed_plan(f);
    auto journal = (f.dir / "run.jsonl").string();
    auto metrics = (f.dir / "cspark.prom").string();
    auto r = f.run({"--json", "batch", plan, "--journal", journal, "--metrics", metrics, "--retry-interval", "20",
                    "--poll-timeout", "600ms"});
    CHECK_MESSAGE(r.rc == 1, r.err);  // a failure (and an unknown outcome)
    auto res = json::parse(r.out);
    CHECK(res.at("done") == 5);
    CHECK(res.at("failed") == 1);
    CHECK(res.at("unknown") == 1);

    // The metrics file: parses as Prometheus text, says what the run did.
    auto text = slurp(metrics);
    auto s = page_check::prometheus(text);
    CHECK(s.at("cspark_migrations_planned") == 7);
    CHECK(s.at("cspark_migrations{state=\"done\"}") == 5);
    CHECK(s.at("cspark_migrations{state=\"failed\"}") == 1);
    CHECK(s.at("cspark_migrations{state=\"unknown\"}") == 1);
    CHECK(s.at("cspark_migrations{state=\"queued\"}") == 0);
    CHECK(s.at("cspark_migrations{state=\"running\"}") == 0);
    CHECK(s.at("cspark_jobs_in_flight{kind=\"export\"}") == 0);
    CHECK(s.at("cspark_jobs_in_flight{kind=\"import\"}") == 0);
    CHECK(s.at("cspark_jobs_created_total{kind=\"export\"}") == static_cast<double>(f.jobs("export")));
    CHECK(s.at("cspark_jobs_created_total{kind=\"import\"}") == static_cast<double>(f.jobs("import")));
    CHECK(s.at("cspark_splits_total") >= 1);  // the combined job with m-4 split
    CHECK(s.at("cspark_bytes_total{direction=\"download\"}") > 0);
    CHECK(s.at("cspark_bytes_total{direction=\"upload\"}") > 0);
    CHECK(s.at("cspark_job_duration_seconds_count{kind=\"import\"}") >= 1);
    CHECK(s.count("cspark_batch_updated_seconds") == 1);
    CHECK(!std::filesystem::exists(metrics + ".tmp"));

    // The page, from the journal alone.
    auto page_path = (f.dir / "report.html").string();
    auto rep = f.run({"--json", "batch", "--report", journal, "--html", page_path});
    CHECK(rep.rc == 1);  // a failure and a pending migration
    auto summary = json::parse(rep.out);
    CHECK(summary.at("done") == 5);
    CHECK(summary.at("failed") == 1);
    CHECK(summary.at("pending") == 1);
    CHECK(summary.at("html").as_string() == page_path);
    auto page = slurp(page_path);
    page_check::xhtml doc(page);
    CHECK(doc.count("//s:g[@class='row']") >= 3);  // the combined job, its parts after the split, u-1
    CHECK(doc.count("//s:g[@class='row'][@data-state='failed']") == 1);
    CHECK(doc.count("//s:g[@class='row'][@data-state='unknown']") == 1);
    CHECK(doc.count("//s:rect[@class='export']") >= 2);
    CHECK(doc.count("//s:rect[@class='import']") >= 1);
    CHECK(doc.count("//h:h3[@id='code-not_found']") == 1);
    CHECK(doc.count("//h:h3[@id='code-poll_timeout']") == 1);
    auto cells = doc.all("//h:table[@class='failures']//h:td");
    CHECK(std::find(cells.begin(), cells.end(), "m-4") != cells.end());
    CHECK(std::find(cells.begin(), cells.end(), "u-1") != cells.end());
    for (const char* who : {"tenant-0001", "target-0001", "tenant-0002"}) {
        auto key = f.emu->credentials(who).api_key;
        CAPTURE(who);
        CHECK(page.find(key) == std::string::npos);
        CHECK(text.find(key) == std::string::npos);
        CHECK(slurp(journal).find(key) == std::string::npos);
    }

    // --html needs journals; a page that cannot be written is named, nothing partial left.
    auto alone = f.run({"batch", plan, "--journal", journal, "--html", page_path});
    CHECK(alone.rc == 2);
    CHECK(alone.err.find("--html goes with --report") != std::string::npos);
    auto bad = (f.dir / "no-such-dir" / "r.html").string();
    auto unwritable = f.run({"batch", "--report", journal, "--html", bad});
    CHECK(unwritable.rc == 1);
    CHECK(unwritable.err.find(bad) != std::string::npos);
    CHECK(!std::filesystem::exists(f.dir / "no-such-dir"));
}
