// Fleet planning: `cspark-impex batch` with coalescing (the default) and with
// --no-coalesce, against cspark-emulator (child processes), on
//   A. 50 migrations of one tenant pair;
//   B. 1,000 migrations over 20 tenant pairs with a Zipf (s = 1) share per pair.
// Prints wall time against the plan's critical path: per pair, its jobs in
// series (Spark runs one export and one import per tenant at a time), so
// (groups + 1) job latencies for the busiest pair; plus the jobs the
// emulator ran.
//
//   plan-bench [--job-ms 200] [--pairs 20] [--n 1000] [--max-services 100]
#include <cspark/client.hpp>

#include "batch_child.hpp"
#include "bench_args.hpp"
#include "emulator_child.hpp"

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

std::string num4(std::size_t i) {
    std::string n = std::to_string(i);
    return std::string(n.size() < 4 ? 4 - n.size() : 0, '0') + n;
}

// Export and import jobs the emulator ran (GET /_emulator/state).
std::pair<std::size_t, std::size_t> jobs_of(const bench::emulator_child& emu) {
    asio::io_context io;
    auto tenant = emu.keys.begin();
    cspark::client c(io.get_executor(), {.base_url = emu.url + "/" + tenant->first, .api_key = tenant->second,
                                         .use_environment = false});
    bool done = false;
    cspark::response resp;
    c.async_send(cspark::request{.target = emu.url + "/_emulator/state"}, [&](cspark::error_code, cspark::response r) {
        resp = std::move(r);
        done = true;
    });
    while (!done && io.run_one() > 0) {}
    std::size_t e = 0, i = 0;
    boost::system::error_code ec;
    auto st = json::parse(resp.body, ec);
    if (ec) return {0, 0};
    for (const auto& j : st.at("jobs").as_array()) (j.at("kind") == "export" ? e : i)++;
    return {e, i};
}

struct scenario {
    std::string title;
    std::vector<std::size_t> per_pair;  // migrations of each pair
};

// Runs a scenario (coalesced, then --no-coalesce when `compare`), prints a
// line for each; returns the coalesced run's wall / critical path.
double run(const scenario& sc, long job_ms, std::size_t max_services, bool compare, bool& ok) {
    double coalesced_ratio = 0;
    std::size_t pairs = sc.per_pair.size(), most = 0, total = 0;
    for (auto m : sc.per_pair) {
        most = std::max(most, m);
        total += m;
    }
    for (bool coalesce : {true, false}) {
        if (!coalesce && !compare) break;
        auto emu = bench::start_emulator({"--tenants", std::to_string(pairs), "--target-tenants", std::to_string(pairs),
                                          "--services", std::to_string(most), "--versions", "1", "--package-bytes", "16384",
                                          "--job-ms", std::to_string(job_ms), "--data-dir", bench::emulator_data_dir("cspark-plan-emulator-")},
                                         2 * pairs);
        json::array list;
        for (std::size_t p = 0; p < pairs; ++p) {
            auto s = "tenant-" + num4(p + 1), t = "target-" + num4(p + 1);
            ::setenv(("K_" + s).c_str(), emu.keys.at(s).c_str(), 1);
            ::setenv(("K_" + t).c_str(), emu.keys.at(t).c_str(), 1);
            for (std::size_t k = 0; k < sc.per_pair[p]; ++k)
                list.push_back(json::object{{"name", s + "-" + std::to_string(k)},
                                            {"source", json::object{{"base_url", emu.url + "/" + s}, {"api_key_env", "K_" + s}}},
                                            {"target", json::object{{"base_url", emu.url + "/" + t}, {"api_key_env", "K_" + t}}},
                                            {"export", json::object{{"services", json::array{json::string(
                                                                         "folder-1/service-" + std::to_string(k + 1))}}}}});
        }
        std::vector<std::string> args{"--retry-interval", std::to_string(job_ms / 4), "--concurrency", "64",
                                      "--max-services", std::to_string(max_services)};
        if (!coalesce) args.push_back("--no-coalesce");
        auto dir = std::filesystem::temp_directory_path() / ("cspark-plan-bench-" + std::to_string(::getpid()));
        auto r = bench::run_batch(list, dir, args);
        auto [exports, imports] = jobs_of(emu);
        bench::stop_emulator(emu);
        std::error_code ignored;
        std::filesystem::remove_all(dir, ignored);
        std::filesystem::remove_all(bench::emulator_data_dir("cspark-plan-emulator-"), ignored);
        // The busiest pair's jobs in series: its exports one after another, the last import after the last export.
        std::size_t chain = coalesce ? (most + max_services - 1) / max_services + 1 : most + 1;
        double critical = static_cast<double>(chain) * static_cast<double>(job_ms) / 1000.0;
        if (coalesce) coalesced_ratio = r.wall / critical;
        std::printf("%-34s %-12s %6zu %6zu %8zu %8zu %9.3f %9.3f %7.2f %7.2f\n", sc.title.c_str(),
                    coalesce ? "coalesced" : "no-coalesce", total, r.done, exports, imports, critical, r.wall,
                    r.wall / critical, r.cpu);
        std::fflush(stdout);
        ok = ok && r.done == total;
    }
    return coalesced_ratio;
}

}  // namespace

int main(int argc, char** argv) {
    long job_ms = 200, compare = 1, repeat = 1;
    std::size_t pairs = 20, n = 1000, max_services = 100;
    const char* usage =
        "usage: plan-bench [--job-ms MS] [--pairs P] [--n N] [--max-services S] [--compare 1|2|3] [--repeat R]\n"
        "  A: 50 migrations of one tenant pair; B: N (1000) migrations over P (20) pairs, Zipf shares;\n"
        "  each through `cspark-impex batch`, coalesced and --no-coalesce, jobs of MS (200) ms.\n"
        "  --compare 2: --no-coalesce for A only, 3: for neither (long jobs make B's take minutes).\n"
        "  --repeat R: B coalesced R times (each against a fresh emulator), then min / median / max of its ratio.\n";
    auto size = [](std::size_t& to) { return [&to](long v) { to = static_cast<std::size_t>(v); }; };
    if (auto rc = bench::parse_args(argc, argv, "plan-bench", usage,
                                    {{"--job-ms", [&](long v) { job_ms = v; }}, {"--pairs", size(pairs)}, {"--n", size(n)},
                                     {"--max-services", size(max_services)},
                                     {"--compare", [&](long v) { compare = v; }},
                                     {"--repeat", [&](long v) { repeat = std::max(1L, v); }}}))
        return *rc;
    // Zipf shares: pair k gets n * (1/k) / H(pairs), rounded, the remainder to pair 1.
    double h = 0;
    for (std::size_t k = 1; k <= pairs; ++k) h += 1.0 / static_cast<double>(k);
    std::vector<std::size_t> zipf(pairs);
    std::size_t given = 0;
    for (std::size_t k = 1; k <= pairs; ++k) given += zipf[k - 1] = static_cast<std::size_t>(std::floor(n / (h * k)));
    zipf[0] += n - given;

    std::printf("plan benchmark: cspark-impex batch vs cspark-emulator, jobs of %ld ms, up to %zu services a job\n", job_ms,
                max_services);
    std::printf("%-34s %-12s %6s %6s %8s %8s %9s %9s %7s %7s\n", "scenario", "mode", "migr", "done", "exports", "imports",
                "crit s", "wall s", "ratio", "cpu s");
    bool ok = true;
    run({"A: 1 pair x 50", {50}}, job_ms, max_services, compare == 1 || compare == 2, ok);
    scenario b{"B: " + std::to_string(pairs) + " pairs, Zipf, busiest " + std::to_string(zipf[0]), zipf};
    std::vector<double> ratios{run(b, job_ms, max_services, compare == 1, ok)};
    for (long k = 1; k < repeat; ++k) ratios.push_back(run(b, job_ms, max_services, false, ok));
    if (repeat > 1) {
        std::sort(ratios.begin(), ratios.end());
        std::printf("B coalesced over %ld runs: ratio min %.2f, median %.2f, max %.2f\n", repeat, ratios.front(),
                    ratios[ratios.size() / 2], ratios.back());
    }
    std::printf("crit = the busiest pair's jobs in series: (combined jobs + 1) x job latency (no-coalesce: migrations + 1)\n");
    return ok ? 0 : 1;
}
