// The fleet planner as pure code: grouping, splitting, attribution.
#include "impex/planner.hpp"

#include <doctest/doctest.h>

#include <boost/json/parse.hpp>

#include <functional>

using namespace cspark;
using namespace cspark::detail;
namespace json = boost::json;

TEST_CASE("plan_groups: equal keys share a group up to max_weight; a destination never twice in a group") {
    std::vector<plan_item> items{
        {"pair-a", 1, {"f/x"}, ""}, {"pair-a", 1, {"f/y"}, ""}, {"pair-b", 1, {"f/x"}, ""},
        {"pair-a", 1, {"f/x"}, ""},  // same destination as the first: another group
        {"pair-a", 2, {"f/z", "f/w"}, ""}, {"pair-a", 5, {"f/v"}, ""},  // heavier than the bound: alone
    };
    auto g = plan_groups(items, 4);
    REQUIRE(g.size() == 4);
    CHECK(g[0] == std::vector<std::size_t>{0, 1, 4});
    CHECK(g[1] == std::vector<std::size_t>{2});
    CHECK(g[2] == std::vector<std::size_t>{3});
    CHECK(g[3] == std::vector<std::size_t>{5});
    // Bound 1: every entry alone (coalescing off).
    CHECK(plan_groups(items, 1).size() == items.size());
}

TEST_CASE("plan_groups: entries resuming one checkpoint form exactly their group again") {
    std::vector<plan_item> items{{"k", 1, {"f/a"}, "cid-1"}, {"k", 1, {"f/b"}, ""}, {"k", 1, {"f/c"}, "cid-1"},
                                 {"k", 1, {"f/d"}, "cid-2"}};
    auto g = plan_groups(items, 100);
    REQUIRE(g.size() == 3);
    CHECK(g[0] == std::vector<std::size_t>{0, 2});
    CHECK(g[1] == std::vector<std::size_t>{1});
    CHECK(g[2] == std::vector<std::size_t>{3});
}

TEST_CASE("failure_splits: entry-specific failures split, shared ones do not") {
    CHECK(failure_splits(errc::job_failed));
    CHECK(failure_splits(errc::not_found));
    CHECK(failure_splits(errc::package_too_large));
    CHECK_FALSE(failure_splits(errc::unauthorized));
    CHECK_FALSE(failure_splits(errc::job_state_unknown));
    CHECK_FALSE(failure_splits(errc::import_outcome_unknown));
    CHECK_FALSE(failure_splits(errc::cancelled));
    CHECK_FALSE(failure_splits(errc::connection_closed));
    CHECK_FALSE(failure_splits(make_error_code(std::errc::io_error)));
}

TEST_CASE("named_members and split_group: a named member alone, the rest together; else halves") {
    std::vector<std::vector<std::string>> names{{"f/a"}, {"f/b", "g"}, {"f/c"}};
    auto named = named_members("service 'F/B' could not be found", names);
    CHECK(named == std::vector<std::size_t>{1});
    CHECK(split_group({10, 11, 12}, named) == std::vector<std::vector<std::size_t>>{{11}, {10, 12}});
    CHECK(named_members("no names here", names).empty());
    CHECK(named_members("'f/a' 'f/b' 'f/c'", names).empty());  // everyone named: says nothing
    CHECK(split_group({1, 2, 3, 4, 5}, {}) == std::vector<std::vector<std::size_t>>{{1, 2}, {3, 4, 5}});
    CHECK(split_group({7}, {}).empty());
}

TEST_CASE("selects and import_shares attribute a combined job's outputs to entries") {
    auto sv = json::parse(R"({"folder_source":"Pricing","service_source":"Motor","service_id_source":"6F1D3C0A-1B7E-4C55-9A0E-0C1D2E3F4A5B","version_id_source":"7f1d3c0a-1b7e-4c55-9a0e-0c1d2e3f4a5b"})")
                  .as_object();
    CHECK(selects(export_request{.folders = {"pricing"}}, sv));
    CHECK(selects(export_request{.services = {"pricing/motor[1.2]"}}, sv));
    CHECK(selects(export_request{.services = {"service/6f1d3c0a-1b7e-4c55-9a0e-0c1d2e3f4a5b"}}, sv));
    CHECK(selects(export_request{.version_ids = {"7F1D3C0A-1B7E-4C55-9A0E-0C1D2E3F4A5B"}}, sv));
    CHECK_FALSE(selects(export_request{.services = {"pricing/home"}}, sv));

    import_result all;
    all.services = {{"f/a", "g/a", "added"}, {"f/a", "g/a2", "added"}, {"f/b", "g/b", "added"}};
    all.versions = {{"f/a[1.0.0]", "g/a[1.0.0]", "added"}, {"f/b[1.0.0]", "g/b[1.0.0]", "added"}};
    import_shares shares(all);
    auto mine = shares.of({"f/a"}, {"g/a2"});
    REQUIRE(mine.services.size() == 1);
    CHECK(mine.services[0].destination == "g/a2");
    CHECK(mine.versions.empty());
    auto every = shares.of({"F/A[1.0]"}, {});
    CHECK(every.services.size() == 2);
    CHECK(every.versions.size() == 1);
}

TEST_CASE("share_key: every request field but selectors, mappings and names keeps entries apart") {
    migrate_request base;
    base.exports.services = {"f/a"};
    int a = 0, b = 0;
    auto key = [&](const migrate_request& r) { return share_key_of(r, &a, &b); };
    const auto k0 = key(base);
    std::vector<std::pair<const char*, std::function<void(migrate_request&)>>> apart{
        {"file_filter", [](auto& r) { r.exports.file_filter = file_filter::onpremises; }},
        {"version_filter", [](auto& r) { r.exports.version_filter = version_filter::all; }},
        {"source_system", [](auto& r) { r.exports.source_system = "ci"; }},
        {"if_present", [](auto& r) { r.if_present = if_present::replace; }},
        {"keep_files", [](auto& r) { r.keep_files = true; }},
        {"directory", [](auto& r) { r.exports.directory = "/elsewhere"; }},
        {"destination given", [](auto& r) { r.destination = std::string("f/a"); }},
        {"max_retries", [](auto& r) { r.exports.poll.max_retries = 3; }},
        {"retry_interval", [](auto& r) { r.exports.poll.retry_interval = std::chrono::milliseconds(5); }},
        {"max_interval", [](auto& r) { r.exports.poll.max_interval = std::chrono::milliseconds(2500); }},
        {"deadline", [](auto& r) { r.exports.poll.deadline = std::chrono::minutes(5); }},
        {"adaptive", [](auto& r) { r.exports.poll.adaptive = false; }},
        {"durable", [](auto& r) { r.exports.durable = false; }},
        {"overwrite", [](auto& r) { r.exports.overwrite = true; }},
    };
    for (const auto& item : apart) {
        const char* name = item.first;  // a named local: clang 14 cannot capture a structured binding
        CAPTURE(name);
        auto r = base;
        item.second(r);
        CHECK(key(r) != k0);
    }
    std::vector<std::pair<const char*, std::function<void(migrate_request&)>>> together{
        {"services", [](auto& r) { r.exports.services = {"f/b", "f/c"}; }},
        {"folders", [](auto& r) { r.exports.folders = {"g"}; }},
        {"version_ids", [](auto& r) { r.exports.version_ids = {"0b6f1a4e-2e55-4bf0-9a5a-3d6c0f4f0a11"}; }},
        {"file_prefix", [](auto& r) { r.exports.file_prefix = "m-7"; }},
        {"correlation_id", [](auto& r) { r.exports.correlation_id = "cid"; }},
    };
    for (const auto& item : together) {
        const char* name = item.first;  // a named local: clang 14 cannot capture a structured binding
        CAPTURE(name);
        auto r = base;
        item.second(r);
        CHECK(key(r) == k0);
    }
    int c = 0;
    CHECK(share_key_of(base, &a, &c) != k0);  // another target tenant
    CHECK(share_key_of(base, &a, &b, 3) != k0);  // coalescing off: each entry alone
}
