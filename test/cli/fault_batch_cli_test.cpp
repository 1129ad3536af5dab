// `batch` with its journal under a lasting fault at each step: the first run
// ends as it can (failed or unknown), a rerun without the fault finishes
// every migration, and each landed exactly once (the emulator's state).
#include "support/cli_fixture.hpp"

#include <boost/json/serialize.hpp>

#include <cstdio>

using namespace cspark;
using namespace cspark::test;

TEST_CASE("batch: a lasting fault at every step, then a rerun: every migration done, none twice") {
    const std::vector<std::string> steps{"export.create", "export.status", "download", "import.create", "import.status"};
    const std::vector<std::pair<std::string, std::string>> faults{
        {"reset (answer lost)", R"({"route":"ROUTE","kind":"reset"})"},
        {"503", R"({"route":"ROUTE","kind":"status","status":503})"},
        {"504 after action", R"({"route":"ROUTE","kind":"status","status":504,"after_action":true})"},
        {"malformed JSON", R"({"route":"ROUTE","kind":"body","status":200,"after_action":true,"body":"{oops"})"},
    };
    std::size_t cases = 0;
    std::printf("%-14s %-20s %-10s %s\n", "step", "fault", "first run", "rerun");
    for (const auto& step : steps) {
        for (const auto& fault : faults) {
            const auto& name = fault.first;
            const auto& rule_template = fault.second;
            CAPTURE(step);
            CAPTURE(name);
            cli_fixture f(pairs_fleet(2));
            auto plan = make_plan(f, 4, 2);
            auto journal = (f.dir / "run.jsonl").string();
            std::string rule = rule_template;
            rule.replace(rule.find("ROUTE"), 5, step);
            f.faults("[" + rule + "]");
            auto first = f.run({"--json", "batch", plan, "--journal", journal, "--retry-interval", "10", "--max-retries", "1",
                                "--poll-timeout", "2s"});
            CHECK((first.rc == 0 || first.rc == 1 || first.rc == 4));
            f.faults("[]");
            auto again = f.run({"--json", "batch", plan, "--journal", journal, "--retry-interval", "10"});
            CHECK_MESSAGE(again.rc == 0, again.err);
            auto st = f.state();
            for (int i = 0; i < 4; ++i) {
                CAPTURE(i);
                const auto& folders = st.at("tenants").at("target-000" + std::to_string(i % 2 + 1)).at("folders");
                const auto* svc = folders.at("folder-1").at("services").as_object().if_contains("m-" + std::to_string(i));
                REQUIRE(svc);
                CHECK(svc->at("versions").as_array().size() == 1);  // exactly once, across both runs
            }
            for (const auto& e : std::filesystem::recursive_directory_iterator(f.dir))
                CHECK_MESSAGE(e.path().extension() != ".part", "left behind: " << e.path());
            ++cases;
            std::printf("%-14s %-20s exit %-5d exit %d\n", step.c_str(), name.c_str(), first.rc, again.rc);
        }
    }
    std::printf("batch fault matrix: %zu cases\n", cases);
}
