// migrate_fleet's scheduling and coalescing through the public API against
// the emulator: combined jobs, each entry's own result, failure isolation by
// splitting, and no worker waiting behind a busy tenant.
#include "support/impex_fixture.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <filesystem>

using namespace cspark;
using namespace cspark::test;

namespace {

fleet_spec pair_fleet(std::size_t services) {
    fleet_spec f;
    f.tenants = 2;
    f.target_tenants = 1;
    f.folders = 1;
    f.services = services;
    f.versions = 1;
    return f;
}

// n entries tenant-0001 -> target-0001, entry i: folder-1/service-i -> folder-1/copy-i.
std::vector<fleet_entry> pair_entries(impex_fixture& t, impex& src, impex& dst, std::size_t n) {
    std::vector<fleet_entry> entries;
    for (std::size_t i = 1; i <= n; ++i) {
        fleet_entry e{.name = "e" + std::to_string(i), .source = &src, .target = &dst};
        e.request.exports = quick({.services = {"folder-1/service-" + std::to_string(i)}});
        e.request.exports.directory = t.dir("fleet");
        e.request.destination = service_mapping{.source = "folder-1/service-" + std::to_string(i),
                                                .target = "folder-1/copy-" + std::to_string(i)};
        e.request.if_present = if_present::abort;
        entries.push_back(std::move(e));
    }
    return entries;
}

}  // namespace

TEST_CASE("coalesced fleet: one export and one import job for a tenant pair; each entry gets its own outcomes") {
    impex_fixture t(impex_fixture::fast(), pair_fleet(6));
    auto src = t.make("tenant-0001");
    auto dst = t.make("target-0001");
    fleet_options opt;
    opt.coalesce.enabled = true;
    std::vector<std::vector<std::size_t>> steps;
    opt.checkpoint = [&](const std::vector<std::size_t>& members, const checkpoint_event&) -> asio::awaitable<void> {
        steps.push_back(members);
        co_return;
    };
    std::vector<migration_result> results;
    auto entries = pair_entries(t, *src, *dst, 6);
    run_coro(t.f.io, [&]() -> asio::awaitable<void> { results = co_await migrate_fleet(std::move(entries), opt); });
    REQUIRE(results.size() == 6);
    for (std::size_t i = 0; i < 6; ++i) {
        CAPTURE(i);
        REQUIRE_MESSAGE(!results[i].ec, results[i].diag.to_string());
        REQUIRE(results[i].imported.size() == 1);
        REQUIRE(results[i].imported[0].services.size() == 1);
        CHECK(results[i].imported[0].services[0].destination == "folder-1/copy-" + std::to_string(i + 1));
        CHECK(t.versions("target-0001", "folder-1", "copy-" + std::to_string(i + 1)) == 1);
    }
    CHECK(t.jobs("export") == 1);
    CHECK(t.jobs("import") == 1);
    REQUIRE_FALSE(steps.empty());
    CHECK(steps.front().size() == 6);  // each step names every entry of the combined job

    SUBCASE("max_services bounds a combined job") {
        auto more = pair_entries(t, *src, *dst, 6);
        for (auto& e : more) e.request.if_present = if_present::add_version;
        opt.coalesce.max_services = 4;
        opt.checkpoint = nullptr;
        run_coro(t.f.io, [&]() -> asio::awaitable<void> { results = co_await migrate_fleet(std::move(more), opt); });
        for (const auto& r : results) CHECK_MESSAGE(!r.ec, r.diag.to_string());
        CHECK(t.jobs("export") == 1 + 2);
        CHECK(t.jobs("import") == 1 + 2);
    }
}

TEST_CASE("coalesced fleet: a combined job that fails naming no one is halved until every good entry migrates") {
    impex_fixture t(impex_fixture::fast(), pair_fleet(8));
    auto src = t.make("tenant-0001");
    auto dst = t.make("target-0001");
    // The first import job fails (an error that names no service): the 8 are split 4 + 4.
    // Two status checks answered 503: the client retries them (counted by reason).
    t.f.emu->set_faults(json::parse(R"({"rules":[{"route":"import.create","kind":"job_fail","nth":[1]},
                                                {"route":"export.status","kind":"status","status":503,"times":2}]})"));
    fleet_options opt;
    opt.coalesce.enabled = true;
    opt.monitor = std::make_shared<fleet_monitor>();
    std::vector<migration_result> results;
    auto entries = pair_entries(t, *src, *dst, 8);
    run_coro(t.f.io, [&]() -> asio::awaitable<void> { results = co_await migrate_fleet(std::move(entries), opt); });
    for (std::size_t i = 0; i < 8; ++i) {
        CAPTURE(i);
        CHECK_MESSAGE(!results[i].ec, results[i].diag.to_string());
        CHECK(t.versions("target-0001", "folder-1", "copy-" + std::to_string(i + 1)) == 1);
    }
    CHECK(t.jobs("export") == 3);
    CHECK(t.jobs("import") == 3);

    // The monitor counted each job once, whatever its members, and settled.
    auto m = opt.monitor->snapshot();
    CHECK(m.migrations == 8);
    CHECK(m.done == 8);
    CHECK(m.queued + m.running + m.failed + m.unknown + m.cancelled == 0);
    CHECK(m.export_jobs == 3);
    CHECK(m.import_jobs == 3);
    CHECK(m.export_jobs_in_flight + m.import_jobs_in_flight == 0);
    CHECK(m.splits == 1);
    CHECK(m.export_job_seconds.count == 3);
    CHECK(m.import_job_seconds.count == 3);  // the failed one too: it ended
    CHECK(m.bytes_downloaded > 0);
    CHECK(m.bytes_uploaded > 0);
    CHECK(m.retries["service_unavailable"] == 2);
}

TEST_CASE("coalesced fleet: an entry whose destination folder is missing fails alone, named; the rest migrate") {
    impex_fixture t(impex_fixture::fast(), pair_fleet(8));
    auto src = t.make("tenant-0001");
    auto dst = t.make("target-0001");
    auto entries = pair_entries(t, *src, *dst, 8);
    entries[4].request.destination = service_mapping{.source = "folder-1/service-5", .target = "no-such-folder/copy-5"};
    fleet_options opt;
    opt.coalesce.enabled = true;
    std::vector<migration_result> results;
    run_coro(t.f.io, [&]() -> asio::awaitable<void> { results = co_await migrate_fleet(std::move(entries), opt); });
    for (std::size_t i = 0; i < 8; ++i) {
        CAPTURE(i);
        if (i == 4) {
            CHECK(results[i].ec == errc::job_failed);
            CHECK(results[i].diag.detail.find("no-such-folder") != std::string::npos);
        } else {
            CHECK_MESSAGE(!results[i].ec, results[i].diag.to_string());
            CHECK(t.versions("target-0001", "folder-1", "copy-" + std::to_string(i + 1)) == 1);
        }
    }
    // The combined pair of jobs, then the named entry alone and the other 7 together.
    CHECK(t.jobs("export") == 3);
    CHECK(t.jobs("import") == 3);
}

TEST_CASE("fleet: a free worker takes an entry of a free tenant, never waits behind a busy one") {
    impex_fixture t(impex_fixture::fast(), pair_fleet(3));
    auto a = t.make("tenant-0001");
    auto b = t.make("tenant-0002");
    auto dst = t.make("target-0001");
    std::vector<fleet_entry> entries;
    auto add = [&](impex& src, const std::string& name, int k) {
        fleet_entry e{.name = name, .source = &src, .target = dst.get()};
        e.request.exports = quick({.services = {"folder-1/service-" + std::to_string(k)}});
        e.request.exports.directory = t.dir("hol");
        e.request.destination = service_mapping{.source = "folder-1/service-" + std::to_string(k), .target = "folder-1/" + name};
        entries.push_back(std::move(e));
    };
    add(*a, "a1", 1);
    add(*a, "a2", 2);
    add(*a, "a3", 3);
    add(*b, "b1", 1);
    fleet_options opt{.concurrency = 2};  // no coalescing: four flows, two workers
    std::vector<migration_result> results;
    run_coro(t.f.io, [&]() -> asio::awaitable<void> { results = co_await migrate_fleet(std::move(entries), opt); });
    for (const auto& r : results) CHECK_MESSAGE(!r.ec, r.diag.to_string());
    // tenant-0002's export starts with tenant-0001's first, not after its second.
    auto st = t.state();
    std::vector<std::int64_t> a_exports;
    std::int64_t b_export = -1;
    for (const auto& j : st.at("jobs").as_array()) {
        if (j.at("kind") != "export") continue;
        if (j.at("tenant") == "tenant-0002") b_export = j.at("created_ms").as_int64();
        else a_exports.push_back(j.at("created_ms").as_int64());
    }
    REQUIRE(a_exports.size() == 3);
    REQUIRE(b_export >= 0);
    CHECK(b_export < a_exports[1]);
}

TEST_CASE("coalesced fleet: entries whose polling differs (max_interval, adaptive) do not share a job") {
    // The hand-joined key left these two out: the second entry silently polled with the first's settings.
    for (int field = 0; field < 2; ++field) {
        CAPTURE(field);
        impex_fixture t(impex_fixture::fast(), pair_fleet(2));
        auto src = t.make("tenant-0001");
        auto dst = t.make("target-0001");
        auto entries = pair_entries(t, *src, *dst, 2);
        if (field == 0) entries[1].request.exports.poll.max_interval = std::chrono::milliseconds(2500);
        else entries[1].request.exports.poll.adaptive = false;
        fleet_options opt;
        opt.coalesce.enabled = true;
        std::vector<migration_result> results;
        run_coro(t.f.io, [&]() -> asio::awaitable<void> { results = co_await migrate_fleet(std::move(entries), opt); });
        for (const auto& r : results) CHECK_MESSAGE(!r.ec, r.diag.to_string());
        CHECK(t.jobs("export") == 2);
        CHECK(t.jobs("import") == 2);
    }
}

TEST_CASE("fleet: a program that keeps each migration's latest checkpoint resumes it from there: no job is made twice") {
    impex_fixture t(impex_fixture::fast(), pair_fleet(2));
    auto src = t.make("tenant-0001");
    auto dst = t.make("target-0001");
    auto entries = [&] {
        auto es = pair_entries(t, *src, *dst, 2);
        for (auto& e : es) e.request.keep_files = true;  // a resumed migration imports the package it kept
        return es;
    };
    // The first run stops once the first import job exists, as a killed
    // process would; what the program kept is each migration's latest `after`.
    std::vector<migration_checkpoint> kept(2);
    std::vector<checkpoint_event::kind> steps;
    bool stop = false;
    fleet_options opt;
    opt.concurrency = 1;  // one migration at a time: the second has not begun when the first is stopped
    opt.checkpoint = [&](const std::vector<std::size_t>& members, const checkpoint_event& ev) -> asio::awaitable<void> {
        for (auto i : members) kept[i] = ev.after;
        steps.push_back(ev.what);
        if (ev.what == checkpoint_event::kind::import_job) stop = true;
        co_return;
    };
    asio::cancellation_signal cancel;
    bool done = false;
    auto first = [&]() -> asio::awaitable<void> { co_await migrate_fleet(entries(), opt); };
    asio::co_spawn(t.f.io, first(), asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr) { done = true; }));
    bool cancelled = false;
    for (int i = 0; i < 20000 && !done; ++i) {
        t.f.io.run_for(std::chrono::milliseconds(2));
        if (stop && !cancelled) {
            cancel.emit(asio::cancellation_type::terminal);
            cancelled = true;
        }
    }
    REQUIRE(done);
    REQUIRE(cancelled);
    // Where the first migration stood: its export job, its package, its
    // import's correlation id and job, each from the step that made it.
    CHECK_FALSE(kept[0].export_correlation_id.empty());
    CHECK(kept[0].export_intent.has_value());
    CHECK_FALSE(kept[0].export_job.empty());
    CHECK(std::filesystem::exists(kept[0].package));
    CHECK_FALSE(kept[0].import_correlation_id.empty());
    REQUIRE_FALSE(kept[0].import_job.empty());
    const auto exports_before = t.jobs("export"), imports_before = t.jobs("import");
    CHECK(imports_before == 1);

    // The rerun starts each migration from what was kept.
    auto again = entries();
    for (std::size_t i = 0; i < again.size(); ++i) again[i].resume = kept[i];
    opt.checkpoint = nullptr;
    std::vector<migration_result> results;
    run_coro(t.f.io, [&]() -> asio::awaitable<void> { results = co_await migrate_fleet(std::move(again), opt); });
    REQUIRE(results.size() == 2);
    for (const auto& r : results) REQUIRE_MESSAGE(!r.ec, r.diag.to_string());
    CHECK(results[0].imported.at(0).job.id == kept[0].import_job);  // awaited by id, not sent again
    CHECK(t.jobs("import") == imports_before + 1);  // the second migration's only
    CHECK(t.jobs("export") == exports_before + (kept[1].export_job.empty() ? 1 : 0));
    CHECK(t.versions("target-0001", "folder-1", "copy-1") == 1);
    CHECK(t.versions("target-0001", "folder-1", "copy-2") == 1);
}

TEST_CASE("fleet: a checkpoint whose package is gone resumes from its export job: downloaded again, not exported again") {
    impex_fixture t(impex_fixture::fast(), pair_fleet(1));
    auto src = t.make("tenant-0001");
    auto dst = t.make("target-0001");
    std::optional<migration_checkpoint> at_download;
    fleet_options opt;
    opt.checkpoint = [&](const std::vector<std::size_t>&, const checkpoint_event& ev) -> asio::awaitable<void> {
        if (ev.what == checkpoint_event::kind::downloaded) at_download = ev.after;
        co_return;
    };
    auto entries = pair_entries(t, *src, *dst, 1);
    entries[0].request.keep_files = true;
    entries[0].request.if_present = if_present::add_version;
    auto again = entries;
    std::vector<migration_result> results;
    run_coro(t.f.io, [&]() -> asio::awaitable<void> { results = co_await migrate_fleet(std::move(entries), opt); });
    REQUIRE_MESSAGE(!results.at(0).ec, results[0].diag.to_string());
    REQUIRE(at_download);
    REQUIRE_FALSE(at_download->export_job.empty());
    REQUIRE(std::filesystem::remove(at_download->package));  // gone, as on another machine

    again[0].resume = *at_download;
    opt.checkpoint = nullptr;
    run_coro(t.f.io, [&]() -> asio::awaitable<void> { results = co_await migrate_fleet(std::move(again), opt); });
    REQUIRE_MESSAGE(!results.at(0).ec, results[0].diag.to_string());
    CHECK(t.jobs("export") == 1);  // its export job's files were fetched again
    CHECK(results[0].exported.job.id == at_download->export_job);
    CHECK(std::filesystem::exists(at_download->package));
    CHECK(t.versions("target-0001", "folder-1", "copy-1") == 2);
}
