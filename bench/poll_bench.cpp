// Where status checks land: for jobs of 200 ms and of 5 s, how long after a
// job ends the client learns it (overshoot, % of the job's duration) and how
// many status calls each job costs, with the SDK-like growing schedule
// (poll_options::adaptive = false) and with checks placed by the tenant's
// recent jobs (the default); then the first job of a kind, with nothing known
// yet (x1.5 vs the x1.2 probing). In-process emulator and client on one
// virtual clock: exact, and 5 s jobs take no real time. Prints one table.
//
//   poll-bench [--jobs N] [--retry-interval-ms MS]
#include <cspark/emulator.hpp>
#include <cspark/impex.hpp>

#include "bench_args.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

struct figures {
    std::vector<double> overshoot_pct;  // per job, sorted
    double calls_per_job = 0;
    bool ok = true;
};

double pct(const std::vector<double>& sorted, double q) {
    return sorted.empty() ? 0 : sorted[std::min(sorted.size() - 1, static_cast<std::size_t>(q * static_cast<double>(sorted.size())))];
}

figures run(std::chrono::milliseconds job, double jitter, bool adaptive, int jobs, std::chrono::milliseconds interval,
            const std::string& tenant_prefix) {
    asio::io_context io;
    auto clock = std::make_shared<cspark::manual_timer_service>(true);
    auto epoch = clock->now();
    cspark::emulator emu(io.get_executor(), {.job_duration = job, .job_jitter = jitter, .clock = clock});
    emu.generate({.tenants = 1, .tenant_prefix = tenant_prefix});  // a tenant of its own: no history from other rows
    emu.start();
    std::string tenant = tenant_prefix + "0001";
    cspark::impex spark(cspark::client(io.get_executor(), {.base_url = emu.base_url(tenant),
                                                           .api_key = emu.credentials(tenant).api_key,
                                                           .use_environment = false, .timer = clock}));
    figures f;
    std::size_t calls = 0;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            for (int i = 0; i < jobs; ++i) {
                cspark::export_request req{.services = {"folder-1/service-1"}};
                auto before = emu.request_count();
                cspark::job_status created = co_await spark.exports.initiate(req);
                cspark::poll_options po{.retry_interval = interval};
                po.adaptive = adaptive;
                cspark::job_status done = co_await spark.exports.wait(created.id, po);
                auto seen = std::chrono::duration_cast<std::chrono::milliseconds>(clock->now() - epoch).count();
                calls += emu.request_count() - before - 1;  // all but the POST
                auto st = emu.state();
                std::int64_t finished = -1, took = 1;
                for (const auto& j : st.at("jobs").as_array())
                    if (j.at("id").as_string() == done.id) {
                        finished = j.at("finished_ms").as_int64();
                        took = finished - j.at("created_ms").as_int64();
                    }
                f.overshoot_pct.push_back(100.0 * static_cast<double>(seen - finished) / static_cast<double>(took));
            }
            emu.stop();
        },
        [&](std::exception_ptr e) {
            if (!e) return;
            f.ok = false;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& x) {
                std::cerr << "poll-bench: " << x.what() << "\n";
            }
            emu.stop();
        });
    io.run();
    std::sort(f.overshoot_pct.begin(), f.overshoot_pct.end());
    f.calls_per_job = jobs ? static_cast<double>(calls) / jobs : 0;
    return f;
}

}  // namespace

int main(int argc, char** argv) {
    int jobs = 20;
    long interval_ms = 1000;
    const char* usage =
        "usage: poll-bench [--jobs N] [--retry-interval-ms MS]\n"
        "  N exports in a row (default 20) per job duration (200 ms, 5 s) and schedule (SDK-like, adaptive),\n"
        "  first wait MS (default 1000, the SDKs' retry_interval); prints overshoot and status calls per job.\n";
    if (auto rc = bench::parse_args(argc, argv, "poll-bench", usage,
                                    {{"--jobs", [&](long v) { jobs = static_cast<int>(v); }},
                                     {"--retry-interval-ms", [&](long v) { interval_ms = v; }}}))
        return *rc;
    std::printf("status checks: %d exports per row, retry_interval %ld ms, virtual time\n", jobs, interval_ms);
    std::printf("%8s %7s %-10s %10s %10s %10s %10s\n", "job", "jitter", "schedule", "median %", "p90 %", "max %",
                "calls/job");
    bool ok = true;
    int row = 0;
    for (auto job : {200ms, 5000ms})
        for (double jitter : {0.0, 0.2})
            for (bool adaptive : {false, true}) {
                auto f = run(job, jitter, adaptive, jobs, std::chrono::milliseconds(interval_ms), "row" + std::to_string(++row) + "-");
                ok = ok && f.ok;
                std::printf("%6ldms %6.0f%% %-10s %10.1f %10.1f %10.1f %10.2f\n", static_cast<long>(job.count()), jitter * 100,
                            adaptive ? "adaptive" : "SDK-like", pct(f.overshoot_pct, 0.5), pct(f.overshoot_pct, 0.9),
                            f.overshoot_pct.empty() ? 0.0 : f.overshoot_pct.back(), f.calls_per_job);
            }
    // The first job of a kind on a Spark host: nothing known yet. Each job
    // runs against an emulator of its own (a new host), so none has history.
    std::printf("first job of its kind (no history; each on a fresh emulator), %d jobs per row\n", jobs);
    for (auto job : {200ms, 5000ms})
        for (bool adaptive : {false, true}) {
            figures all;
            for (int i = 0; i < jobs; ++i) {
                auto f = run(job, 0.0, adaptive, 1, std::chrono::milliseconds(interval_ms), "cold" + std::to_string(++row) + "-");
                ok = ok && f.ok;
                all.overshoot_pct.insert(all.overshoot_pct.end(), f.overshoot_pct.begin(), f.overshoot_pct.end());
                all.calls_per_job += f.calls_per_job / jobs;
            }
            std::sort(all.overshoot_pct.begin(), all.overshoot_pct.end());
            std::printf("%6ldms %6.0f%% %-10s %10.1f %10.1f %10.1f %10.2f\n", static_cast<long>(job.count()), 0.0,
                        adaptive ? "probing" : "SDK-like", pct(all.overshoot_pct, 0.5), pct(all.overshoot_pct, 0.9),
                        all.overshoot_pct.empty() ? 0.0 : all.overshoot_pct.back(), all.calls_per_job);
        }
    std::printf("overshoot: from the job's end to the check that saw it, as %% of the job's duration\n"
                "probing: waits x1.2 while nothing is known of the kind (SDK-like: x1.5); jitter +-20 %% on every wait\n");
    return ok ? 0 : 1;
}
