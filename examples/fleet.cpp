// README example "A fleet, faults, progress and cancellation": eight
// services promoted uat -> prod as one fleet while the emulator breaks
// requests, then an export given 300 ms and cancelled when they run out.
#include "example_args.hpp"

#include <cspark/emulator.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include <filesystem>
#include <iostream>
#include <string>
#include <unistd.h>

// README:begin fleet
#include <cspark/emulator.hpp>
#include <cspark/impex.hpp>
#include <cspark/metrics.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>

using namespace boost::asio::experimental::awaitable_operators;

// The emulator answering one request in ten with 503 and cutting downloads
// off mid-body: what a flaky network or a busy Spark does.
void make_it_flaky(cspark::emulator& emu) {
    emu.set_faults(boost::json::parse(R"({"seed": 7, "rules": [
        {"route": "any", "kind": "status", "status": 503, "probability": 0.1},
        {"route": "download", "kind": "reset_mid_body", "after_bytes": 1000, "probability": 0.3}]})"));
}

// Every service of my-folder promoted to prod-folder as one fleet: coalesced
// into one export and one import job; the monitor counts what was retried.
boost::asio::awaitable<int> promote_all(cspark::impex& uat, cspark::impex& prod, int services) {
    std::vector<cspark::fleet_entry> entries;
    for (int i = 1; i <= services; ++i) {
        std::string name = "service-" + std::to_string(i);
        cspark::fleet_entry e{.name = name, .source = &uat, .target = &prod};
        e.request.exports.services = {"my-folder/" + name};
        e.request.exports.poll.retry_interval = std::chrono::milliseconds(50);
        e.request.destination = cspark::service_mapping{.source = "my-folder/" + name, .target = "prod-folder/" + name};
        entries.push_back(std::move(e));
    }
    auto monitor = std::make_shared<cspark::fleet_monitor>();
    cspark::fleet_options options{.concurrency = 4, .coalesce = {.enabled = true}, .monitor = monitor};
    auto results = co_await cspark::migrate_fleet(std::move(entries), std::move(options));
    int failed = 0;
    for (const auto& r : results)
        if (r.ec) std::cerr << "failed: " << r.diag.detail << "\n", ++failed;
    auto m = monitor->snapshot();
    std::cout << m.done << " migrated in " << m.export_jobs << " export and " << m.import_jobs << " import job(s); "
              << m.retries_total() << " retries\n";
    co_return failed;
}

// An export given 100 ms, its progress printed: when the time runs out the
// export loses the race and is cancelled, its job on the server too.
boost::asio::awaitable<bool> export_or_give_up(cspark::impex& uat) {
    cspark::export_request req{.services = {"my-folder/service-1"}};
    req.progress = [](const cspark::progress_event& e) {
        if (e.what == cspark::progress_event::kind::job_created) std::cout << "export job " << e.job_id << " created\n";
    };
    boost::asio::steady_timer deadline(co_await boost::asio::this_coro::executor, std::chrono::milliseconds(100));
    auto exported = uat.exp(std::move(req));
    auto timed_out = deadline.async_wait(boost::asio::use_awaitable);
    auto race = std::move(exported) || std::move(timed_out);  // named locals, not temporaries in co_await (g++ 12)
    auto winner = co_await std::move(race);
    co_return winner.index() == 0;
}
// README:end

int main(int argc, char** argv) {
    if (auto rc = example_args(argc, argv, "The README example \"A fleet, faults, progress and cancellation\".")) return *rc;
    auto dir = std::filesystem::temp_directory_path() / ("cspark-example-fleet-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::filesystem::current_path(dir);
    constexpr int services = 8;
    boost::asio::io_context io;
    std::string seed = R"({"tenants":[{"name":"uat","folders":[{"name":"my-folder","services":[)";
    for (int i = 1; i <= services; ++i) seed += (i > 1 ? "," : "") + std::string(R"({"name":"service-)") + std::to_string(i) + R"(","versions":["1.0.0"]})";
    seed += R"(]}]},{"name":"prod","folders":[{"name":"prod-folder"}]}]})";
    cspark::emulator emu(io.get_executor(), {.job_duration = std::chrono::milliseconds(200)});
    emu.load_seed(boost::json::parse(seed));
    emu.start();
    auto client_for = [&](const std::string& tenant) {
        return cspark::client(io.get_executor(), {.base_url = emu.base_url(tenant), .api_key = emu.credentials(tenant).api_key,
                                                  .max_retries = 5, .retry_interval = std::chrono::milliseconds(20),
                                                  .use_environment = false});
    };
    cspark::impex uat(client_for("uat")), prod(client_for("prod"));

    int rc = 0;
    boost::asio::co_spawn(io, [&]() -> boost::asio::awaitable<void> {
        make_it_flaky(emu);
        int failed = co_await promote_all(uat, prod, services);
        emu.set_faults(boost::json::parse(R"({"rules": []})"));
        bool finished = co_await export_or_give_up(uat);  // the job takes 200 ms: it gives up
        std::cout << (finished ? "the export finished in time\n" : "gave up on the export after 100 ms\n");
        auto jobs = emu.state().at("jobs").as_array();  // the last job: the export given up on
        std::string server_side = jobs.empty() ? "" : std::string(jobs.back().at("status").as_string());
        std::cout << "its job on the server: " << server_side << "\n";
        rc = failed == 0 && !finished && server_side == "cancelled" ? 0 : 1;
        emu.stop();
    }, [&](std::exception_ptr e) {
        if (!e) return;
        try { std::rethrow_exception(e); } catch (const std::exception& x) { std::cerr << x.what() << "\n"; }
        rc = 1;
        emu.stop();
    });
    io.run();
    std::filesystem::current_path(dir.parent_path());
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
    return rc;
}
