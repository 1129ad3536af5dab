// The emulator served by four I/O threads under concurrent load: four client
// threads (each with its own io_context and clients, as the clients are not
// shared across threads) migrate at once between their own tenant pairs,
// with faults firing, while another thread reads the state and changes the
// fault rules. Built under ThreadSanitizer in CI (scripts/test: tsan).
#include "support/emu_fixture.hpp"

#include <cspark/impex.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>

using namespace cspark;
using namespace cspark::test;
using namespace std::chrono_literals;

namespace {

// A client of the emulator's tenant with quick retries.
client_config quick_client(const emulator& emu, const std::string& tenant) {
    client_config cc;
    cc.base_url = emu.base_url(tenant);
    cc.api_key = emu.credentials(tenant).api_key;
    cc.use_environment = false;
    cc.max_retries = 5;
    cc.retry_interval = 5ms;
    return cc;
}

}  // namespace

TEST_CASE("the emulator on four threads under concurrent migrations, state reads and fault changes") {
    constexpr int client_threads = 4, per_thread = 12;
    asio::io_context emu_io(4);
    emulator_config cfg;
    cfg.job_duration = 5ms;
    cfg.threads = 4;
    auto emu = std::make_unique<emulator>(emu_io.get_executor(), cfg);
    fleet_spec fleet;
    fleet.tenants = client_threads;
    fleet.target_tenants = client_threads;
    fleet.services = 2;
    emu->generate(fleet);
    emu->set_faults(json::parse(R"({"seed":3,"rules":[{"route":"any","kind":"status","status":503,"probability":0.05},
                                                     {"route":"download","kind":"reset_mid_body","after_bytes":500,"probability":0.1}]})"));
    emu->start();
    auto guard = asio::make_work_guard(emu_io);
    std::vector<std::thread> servers;
    for (int i = 0; i < 4; ++i) servers.emplace_back([&] { emu_io.run(); });

    std::atomic<int> migrated{0}, failed{0};
    std::atomic<bool> clients_done{false};
    auto scratch = std::filesystem::temp_directory_path() / ("cspark-threads-" + std::to_string(::getpid()));
    std::vector<std::thread> clients;
    for (int c = 0; c < client_threads; ++c) {
        clients.emplace_back([&, c] {
            asio::io_context io;
            auto make = [&](const std::string& tenant) {
                return std::make_unique<impex>(client(io.get_executor(), quick_client(*emu, tenant)));
            };
            std::string n = std::to_string(c + 1);
            auto src = make("tenant-000" + n);
            auto dst = make("target-000" + n);
            std::vector<fleet_entry> entries;
            for (int k = 0; k < per_thread; ++k) {
                fleet_entry e{.name = "m" + std::to_string(k), .source = src.get(), .target = dst.get()};
                e.request.exports.services = {"folder-1/service-" + std::to_string(k % 2 + 1)};
                e.request.exports.directory = scratch / n;
                e.request.exports.poll.retry_interval = 5ms;
                e.request.destination = service_mapping{.source = "folder-1/service-" + std::to_string(k % 2 + 1),
                                                        .target = "folder-1/t" + std::to_string(k)};
                entries.push_back(std::move(e));
            }
            fleet_options opt;
            opt.concurrency = 8;
            std::vector<migration_result> results;
            asio::co_spawn(io, migrate_fleet(std::move(entries), opt),
                           [&](std::exception_ptr, std::vector<migration_result> r) { results = std::move(r); });
            io.run();
            for (const auto& r : results) (r.ec ? failed : migrated)++;
        });
    }
    // Meanwhile: the state is read and the fault rules replaced, from another thread.
    std::thread observer([&] {
        for (int i = 0; i < 200 && !clients_done; ++i) {
            auto st = emu->state();
            CHECK(st.is_object());
            if (i % 20 == 0) emu->set_faults(json::parse(R"({"rules":[{"route":"export.status","kind":"status","status":503,"probability":0.05}]})"));
            std::this_thread::sleep_for(2ms);  // a pace for the observer, not a wait for a state
        }
    });
    for (auto& t : clients) t.join();
    clients_done = true;
    observer.join();
    CHECK(migrated + failed == client_threads * per_thread);
    CHECK(migrated >= client_threads * per_thread * 9 / 10);  // faults are retried away, nearly always
    // Every migration that succeeded landed once.
    auto st = emu->state();
    for (int c = 1; c <= client_threads; ++c) {
        const auto& services = st.at("tenants").at("target-000" + std::to_string(c)).at("folders").at("folder-1").at("services").as_object();
        for (const auto& [name, svc] : services) CHECK(svc.at("versions").as_array().size() <= 1);
    }
    asio::post(emu_io, [&] { emu->stop(); });
    guard.reset();
    for (auto& t : servers) t.join();
    std::error_code ignored;
    std::filesystem::remove_all(scratch, ignored);
}

// One client (and one transport shared with a second client) on an
// io_context that four threads run: hundreds of flows started at once from
// the completion-token API, a fleet with a monitor, and another thread
// reading every counter meanwhile. Before the client and pool serialised
// their state this crashed most runs (free(): corrupted unsorted chunks) and
// ThreadSanitizer named races in the pool, the client's counters and its RNG.
TEST_CASE("one client and one shared transport on an io_context run by four threads") {
    constexpr int exports = 400, migrations = 40, fleet_size = 20;
    asio::io_context emu_io(2);
    emulator_config cfg;
    cfg.job_duration = 5ms;
    cfg.threads = 2;
    cfg.export_job_limit = 10000;  // Spark runs one job per tenant; here they all run at once
    cfg.import_job_limit = 10000;
    cfg.package_bytes = 2048;
    auto emu = std::make_unique<emulator>(emu_io.get_executor(), cfg);
    fleet_spec spec;
    spec.tenants = 1;
    spec.target_tenants = 1;
    spec.services = 2;
    emu->generate(spec);
    emu->start();
    auto emu_guard = asio::make_work_guard(emu_io);
    std::vector<std::thread> servers;
    for (int i = 0; i < 2; ++i) servers.emplace_back([&] { emu_io.run(); });

    asio::io_context io(4);
    auto shared = std::make_shared<transport>(io.get_executor(), transport_config{});
    auto make = [&](const std::string& tenant) {
        auto cc = quick_client(*emu, tenant);
        cc.shared_transport = shared;
        return impex(client(io.get_executor(), cc));
    };
    impex src = make("tenant-0001"), dst = make("target-0001");
    auto scratch = std::filesystem::temp_directory_path() / ("cspark-shared-client-" + std::to_string(::getpid()));

    std::atomic<int> ended{0}, exported{0}, migrated{0}, fleet_ok{0};
    std::mutex failures_mu;
    std::vector<std::string> failures;
    auto failed = [&](std::exception_ptr e) {
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            std::lock_guard lock(failures_mu);
            failures.emplace_back(x.what());
        }
    };
    std::promise<void> all_ended;
    constexpr int total = exports + migrations + 1;
    auto end_one = [&] {
        if (++ended == total) all_ended.set_value();
    };
    auto guard = asio::make_work_guard(io);
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) threads.emplace_back([&] { io.run(); });

    for (int k = 0; k < exports; ++k) {
        export_request r;
        r.services = {"folder-1/service-" + std::to_string(k % 2 + 1)};
        r.directory = scratch / ("e" + std::to_string(k));
        r.durable = false;
        r.poll.retry_interval = 5ms;
        src.async_exp(std::move(r), [&](std::exception_ptr e, export_result res) {
            if (e) failed(e);
            else if (res.files.size() == 1) ++exported;
            end_one();
        });
    }
    for (int k = 0; k < migrations; ++k) {
        migrate_request r;
        r.exports.services = {"folder-1/service-1"};
        r.exports.directory = scratch / ("m" + std::to_string(k));
        r.exports.poll.retry_interval = 5ms;
        r.destination = service_mapping{.source = "folder-1/service-1", .target = "folder-1/m" + std::to_string(k)};
        src.async_migrate(dst, std::move(r), [&](std::exception_ptr e, migration_result) {
            if (e) failed(e);
            else ++migrated;
            end_one();
        });
    }
    std::vector<fleet_entry> entries;
    for (int k = 0; k < fleet_size; ++k) {
        fleet_entry e{.name = "f" + std::to_string(k), .source = &src, .target = &dst};
        e.request.exports.services = {"folder-1/service-2"};
        e.request.exports.directory = scratch / ("f" + std::to_string(k));
        e.request.exports.poll.retry_interval = 5ms;
        e.request.destination = service_mapping{.source = "folder-1/service-2", .target = "folder-1/f" + std::to_string(k)};
        entries.push_back(std::move(e));
    }
    auto monitor = std::make_shared<fleet_monitor>();
    fleet_options fo;
    fo.concurrency = 8;
    fo.coalesce.enabled = false;  // twenty flows of their own, beside the others
    fo.monitor = monitor;
    async_migrate_fleet(io.get_executor(), std::move(entries), fo,
                        [&](std::exception_ptr e, std::vector<migration_result> results) {
                            if (e) failed(e);
                            for (const auto& r : results) {
                                if (!r.ec) ++fleet_ok;
                                else {
                                    std::lock_guard lock(failures_mu);
                                    failures.push_back("fleet: " + r.diag.detail);
                                }
                            }
                            end_one();
                        });

    // Meanwhile, every counter is read from a thread that runs no handler.
    auto done = all_ended.get_future();
    int reads = 0;
    std::uint64_t read_sum = 0;
    while (done.wait_for(1ms) != std::future_status::ready && reads < 600000) {
        auto cs = src.get_client().stats();
        auto ts = shared->stats();
        auto fm = monitor->snapshot();
        CHECK(fm.done + fm.failed <= static_cast<std::uint64_t>(fleet_size));
        read_sum += cs.requests + cs.retry_reasons.size() + ts.requests + ts.open_connections;  // a torn read is TSan's to see
        ++reads;
    }
    CHECK(read_sum > 0);
    REQUIRE_MESSAGE(done.wait_for(120s) == std::future_status::ready, "flows still running after two minutes");
    guard.reset();
    for (auto& t : threads) t.join();

    {
        std::lock_guard lock(failures_mu);
        for (const auto& f : failures) CAPTURE(f);
        CHECK(failures.empty());
    }
    CHECK(exported == exports);
    CHECK(migrated == migrations);
    CHECK(fleet_ok == fleet_size);
    // No count was lost to a race: every send the two clients made is one the
    // shared pool wrote (no faults here, so no send failed before writing).
    auto s1 = src.get_client().stats(), s2 = dst.get_client().stats();
    auto ts = shared->stats();
    CHECK(s1.attempts + s2.attempts == ts.requests);
    CHECK(ts.open_connections <= ts.connections_opened);
    CHECK(monitor->snapshot().done == static_cast<std::uint64_t>(fleet_size));
    // Each migration's service landed once.
    auto st = emu->state();
    const auto& services = st.at("tenants").at("target-0001").at("folders").at("folder-1").at("services").as_object();
    CHECK(services.size() == static_cast<std::size_t>(migrations + fleet_size));
    for (const auto& [name, svc] : services) CHECK(svc.at("versions").as_array().size() == 1);

    asio::post(emu_io, [&] { emu->stop(); });
    emu_guard.reset();
    for (auto& t : servers) t.join();
    std::error_code ignored;
    std::filesystem::remove_all(scratch, ignored);
}
