// batch coalesces the migrations of a tenant pair into one export job and one
// import job: job counts, failure isolation, resume after kill -9, and plan
// entries that name folders.
#include "support/cli_fixture.hpp"

#include <boost/json/serialize.hpp>

#include <csignal>
#include <thread>

using namespace cspark;
using namespace cspark::test;
using namespace std::chrono_literals;

namespace {

fleet_spec one_pair(std::size_t services) {
    fleet_spec f;
    f.tenants = 1;
    f.target_tenants = 1;
    f.folders = 2;
    f.services = services;
    return f;
}

// n migrations of tenant-0001 -> target-0001, one service each (folder-1/service-K), to itself.
std::string pair_plan(cli_fixture& f, std::size_t n, const std::string& missing = "") {
    json::array list;
    for (std::size_t i = 1; i <= n; ++i) {
        std::string svc = "folder-1/service-" + std::to_string(i);
        if (i == 17 && !missing.empty()) svc = missing;
        list.push_back(json::object{{"name", "m-" + std::to_string(i)},
                                    {"source", json::object{{"base_url", f.src()}, {"api_key_env", "SRC_KEY"}}},
                                    {"target", json::object{{"base_url", f.dst()}, {"api_key_env", "DST_KEY"}}},
                                    {"export", json::object{{"services", json::array{json::string(svc)}}}},
                                    {"if_present", "abort"}});
    }
    auto path = (f.dir / "pair-plan.json").string();
    std::ofstream(path) << json::serialize(json::object{{"migrations", list}});
    return path;
}

std::size_t versions_of(json::value& st, const std::string& tenant, const std::string& folder, const std::string& svc) {
    auto& folders = st.at("tenants").at(tenant).at("folders").as_object();
    if (!folders.contains(folder)) return 0;
    auto& services = folders.at(folder).at("services").as_object();
    return services.contains(svc) ? services.at(svc).at("versions").as_array().size() : 0;
}

}  // namespace

TEST_CASE("batch: 50 migrations of one tenant pair take one export job and one import job; --no-coalesce takes 100") {
    cli_fixture f(one_pair(50));
    auto plan = pair_plan(f, 50);
    auto r = f.run({"--json", "batch", plan, "--journal", (f.dir / "run.jsonl").string(), "--retry-interval", "20"});
    REQUIRE_MESSAGE(r.rc == 0, r.err);
    CHECK(json::parse(r.out).at("done") == 50);
    CHECK(f.jobs("export") == 1);
    CHECK(f.jobs("import") == 1);
    auto st = f.state();
    for (int i = 1; i <= 50; ++i) CHECK(versions_of(st, "target-0001", "folder-1", "service-" + std::to_string(i)) == 1);
    // The journal names the combined job's members on one line per step.
    CHECK(count_lines(f.dir / "run.jsonl", R"("m":["m-1","m-2")") >= 3);

    // The same work with a job per migration, into the other folder.
    cli_fixture g(one_pair(10));
    json::array list;
    for (int i = 1; i <= 10; ++i)
        list.push_back(json::object{{"name", "n-" + std::to_string(i)},
                                    {"source", json::object{{"base_url", g.src()}, {"api_key_env", "SRC_KEY"}}},
                                    {"target", json::object{{"base_url", g.dst()}, {"api_key_env", "DST_KEY"}}},
                                    {"export", json::object{{"services", json::array{json::string("folder-2/service-" + std::to_string(i))}}}}});
    auto plan2 = (g.dir / "plan2.json").string();
    std::ofstream(plan2) << json::serialize(json::object{{"migrations", list}});
    auto r2 = g.run({"--json", "batch", plan2, "--journal", (g.dir / "run2.jsonl").string(), "--retry-interval", "20",
                     "--no-coalesce"});
    REQUIRE_MESSAGE(r2.rc == 0, r2.err);
    CHECK(g.jobs("export") == 10);
    CHECK(g.jobs("import") == 10);
}

TEST_CASE("batch: one missing service among 50 fails alone, named; the other 49 migrate") {
    cli_fixture f(one_pair(50));
    auto plan = pair_plan(f, 50, "folder-1/no-such-service");
    auto r = f.run({"--json", "batch", plan, "--journal", (f.dir / "run.jsonl").string(), "--retry-interval", "20"});
    CHECK(r.rc == 1);
    auto doc = json::parse(r.out);
    CHECK(doc.at("done") == 49);
    CHECK(doc.at("failed") == 1);
    CHECK(count_lines(f.dir / "run.jsonl", R"("m":"m-17","e":"done","ok":false)") == 1);
    CHECK(slurp(f.dir / "run.jsonl").find("no-such-service") != std::string::npos);
    auto st = f.state();
    for (int i = 1; i <= 50; ++i)
        if (i != 17) CHECK(versions_of(st, "target-0001", "folder-1", "service-" + std::to_string(i)) == 1);
    CHECK(versions_of(st, "target-0001", "folder-1", "service-17") == 0);
    // The 49 still share one export and one import job.
    CHECK(f.jobs("export") == 1);
    CHECK(f.jobs("import") == 1);
}

TEST_CASE("batch: kill -9 of a coalesced batch mid-import, the rerun finishes without importing anything twice") {
    emulator_config cfg = cli_fixture::quick_jobs();
    cfg.job_duration = 300ms;  // time to be killed while an import runs
    cli_fixture f(pairs_fleet(20), cfg);
    auto plan = make_plan(f, 200, 20);  // 10 migrations per pair
    auto journal = f.dir / "run.jsonl";
    pid_t pid = f.start_quiet({"--quiet", "batch", plan, "--journal", journal.string(), "--retry-interval", "20"});
    // Kill it once some combined imports were announced (bounded wait, no fixed sleep).
    auto until = std::chrono::steady_clock::now() + 60s;
    while (count_lines(journal, "\"e\":\"import_intent\"") < 5 && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(2ms);
    ::kill(pid, SIGKILL);
    wait_bounded(pid);
    CHECK(count_lines(journal, "\"e\":\"import_intent\"") >= 5);
    CHECK(count_lines(journal, "\"e\":\"done\"") < 200);

    auto rerun = f.run({"--json", "batch", plan, "--journal", journal.string(), "--retry-interval", "20"});
    CHECK_MESSAGE(rerun.rc == 0, rerun.err);
    CHECK(json::parse(rerun.out).at("done") == 200);
    auto st = f.state();
    for (std::size_t i = 0; i < 200; ++i) {
        std::string k = std::to_string(i % 20 + 1);
        std::string tenant = "target-" + std::string(4 - k.size(), '0') + k;
        CHECK(versions_of(st, tenant, "folder-1", "m-" + std::to_string(i)) == 1);
    }
    CHECK(f.jobs("import") == 20);  // one combined import per pair, resumed, never sent twice
    CHECK(f.jobs("export") == 20);
}

TEST_CASE("batch: an entry that names folders and no destination migrates every service in them") {
    cli_fixture f(one_pair(3));
    json::array list;
    list.push_back(json::object{{"name", "whole-folder"},
                                {"source", json::object{{"base_url", f.src()}, {"api_key_env", "SRC_KEY"}}},
                                {"target", json::object{{"base_url", f.dst()}, {"api_key_env", "DST_KEY"}}},
                                {"export", json::object{{"folders", json::array{"folder-2"}}}}});
    list.push_back(json::object{{"name", "one-service"},
                                {"source", json::object{{"base_url", f.src()}, {"api_key_env", "SRC_KEY"}}},
                                {"target", json::object{{"base_url", f.dst()}, {"api_key_env", "DST_KEY"}}},
                                {"export", json::object{{"services", json::array{"folder-1/service-2"}}}}});
    auto plan = (f.dir / "folders.json").string();
    std::ofstream(plan) << json::serialize(json::object{{"migrations", list}});
    auto r = f.run({"--json", "batch", plan, "--journal", (f.dir / "run.jsonl").string(), "--retry-interval", "20"});
    REQUIRE_MESSAGE(r.rc == 0, r.err);
    CHECK(json::parse(r.out).at("done") == 2);
    auto st = f.state();
    for (int i = 1; i <= 3; ++i) CHECK(versions_of(st, "target-0001", "folder-2", "service-" + std::to_string(i)) == 1);
    CHECK(versions_of(st, "target-0001", "folder-1", "service-2") == 1);
    CHECK(versions_of(st, "target-0001", "folder-1", "service-1") == 0);
}
