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
#include <thread>

using namespace cspark;
using namespace cspark::test;
using namespace std::chrono_literals;

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
                client_config cc;
                cc.base_url = emu->base_url(tenant);
                cc.api_key = emu->credentials(tenant).api_key;
                cc.use_environment = false;
                cc.max_retries = 5;
                cc.retry_interval = 5ms;
                return std::make_unique<impex>(client(io.get_executor(), cc));
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
