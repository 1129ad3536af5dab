// Fleet benchmark: N tenant migrations (export of a package -> download ->
// import) with one client thread against cspark-emulator in a child process.
// Prints wall time against the critical path (the least any schedule on one
// client thread could take), client CPU, client peak RSS and bytes moved.
//
//   fleet-bench                       runs N = 100, 1000, 5000 with 1 MiB packages,
//                                     then 1 MiB vs 50 MiB at N = 20 (each in a fresh process)
//   fleet-bench --n 1000 --package-mib 1 [--job-ms 200]
#include <cspark/impex.hpp>

#include "batch_child.hpp"
#include "emulator_child.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace asio = boost::asio;
namespace json = boost::json;
using steady = std::chrono::steady_clock;

namespace {

std::string data_dir() { return bench::emulator_data_dir("cspark-fleet-emulator-"); }

bench::emulator_child start_emulator(std::size_t n, std::uint64_t package_bytes, long job_ms) {
    return bench::start_emulator({"--tenants", std::to_string(n), "--target-tenants", std::to_string(n), "--services", "1",
                                  "--versions", "1", "--package-bytes", std::to_string(package_bytes), "--job-ms",
                                  std::to_string(job_ms), "--max-upload-mb", std::to_string(package_bytes / 1000000 * 2 + 10),
                                  "--data-dir", data_dir()},
                                 2 * n);
}

double cpu_seconds() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// `cspark-impex batch` over the same migrations (with the same concurrency and
// poll interval, one job per migration as the fleet runs them), against the
// same emulator.
bench::batch_run run_batch(const bench::emulator_child& emu, std::size_t first, std::size_t n, long job_ms,
                           const std::filesystem::path& dir) {
    json::array list;
    for (std::size_t i = first; i < n; ++i) {
        auto s = bench::tenant_name("tenant-", i, n), t = bench::tenant_name("target-", i, n);
        ::setenv(("K_" + s).c_str(), emu.keys.at(s).c_str(), 1);
        ::setenv(("K_" + t).c_str(), emu.keys.at(t).c_str(), 1);
        list.push_back(json::object{{"name", "m-" + std::to_string(i)},
                                    {"source", json::object{{"base_url", emu.url + "/" + s}, {"api_key_env", "K_" + s}}},
                                    {"target", json::object{{"base_url", emu.url + "/" + t}, {"api_key_env", "K_" + t}}},
                                    {"export", json::object{{"services", json::array{"folder-1/service-1"}}}}});
    }
    return bench::run_batch(list, dir, {"--concurrency", std::to_string(n - first + 1), "--retry-interval",
                                        std::to_string(job_ms / 4), "--max-retries", "4"});
}

int run_one(std::size_t n, std::uint64_t package_bytes, long job_ms, bool with_batch) {
    auto emu = start_emulator(n, package_bytes, job_ms);
    asio::io_context io(1);
    auto tr = std::make_shared<cspark::transport>(io.get_executor(), cspark::transport_config{});
    auto dir = std::filesystem::temp_directory_path() / ("cspark-fleet-bench-" + std::to_string(::getpid()));
    std::vector<std::unique_ptr<cspark::impex>> src, dst;
    auto make = [&](const std::string& tenant) {
        cspark::client_config cfg{.base_url = emu.url + "/" + tenant, .api_key = emu.keys.at(tenant),
                                  .max_retries = 4, .use_environment = false, .shared_transport = tr};
        return std::make_unique<cspark::impex>(cspark::client(io.get_executor(), cfg));
    };
    for (std::size_t i = 0; i < n; ++i) {
        src.push_back(make(bench::tenant_name("tenant-", i, n)));
        dst.push_back(make(bench::tenant_name("target-", i, n)));
    }
    auto entry = [&](std::size_t i) {
        cspark::fleet_entry e{.name = std::to_string(i), .source = src[i].get(), .target = dst[i].get()};
        e.request.exports.services = {"folder-1/service-1"};
        e.request.exports.poll.retry_interval = std::chrono::milliseconds(job_ms / 4);
        e.request.exports.directory = dir;
        return e;
    };
    auto run = [&](std::vector<cspark::fleet_entry> entries) {
        std::vector<cspark::migration_result> results;
        bool done = false;
        cspark::fleet_options opt{.concurrency = entries.size() + 1};
        asio::co_spawn(io, cspark::migrate_fleet(std::move(entries), opt),
                       [&](std::exception_ptr, std::vector<cspark::migration_result> r) {
                           results = std::move(r);
                           done = true;
                       });
        io.restart();
        while (!done && io.run_one() > 0) {
        }
        return results;
    };

    // Calibration: one migration alone gives the per-migration transfer cost.
    auto t0 = steady::now();
    auto calib = run({entry(0)});
    double one = std::chrono::duration<double>(steady::now() - t0).count();
    double transfer_one = std::max(0.0, one - 2.0 * job_ms / 1000.0);

    std::vector<cspark::fleet_entry> all;
    for (std::size_t i = 1; i < n; ++i) all.push_back(entry(i));
    double cpu0 = cpu_seconds();
    auto t1 = steady::now();
    auto results = run(std::move(all));
    double wall = std::chrono::duration<double>(steady::now() - t1).count();
    double cpu = cpu_seconds() - cpu0;
    std::size_t ok = 0;
    std::uint64_t bytes = 0;
    for (const auto& r : results) {
        ok += !r.ec;
        for (const auto& f : r.exported.files) bytes += 2 * f.size;
        if (r.ec && ok == 0) std::cerr << "first failure: " << r.ec.message() << " " << r.diag.to_string() << "\n";
    }
    double emu_cpu = bench::cpu_seconds_of(emu.pid);
    bench::stop_emulator(emu);
    bench::batch_run b;
    if (with_batch) {
        // A fresh emulator, as the fleet had: one holding the fleet's jobs answers slower.
        // And a settled disk: the fleet's deleted packages are written back and
        // freed first, not on the batch's time (it measured up to 1.5 s more CPU).
        std::error_code ignored_ec;
        std::filesystem::remove_all(dir, ignored_ec);
        // And the fleet's emulator's packages: on tmpfs they are memory, 2 GiB
        // at N = 1,000 (left there, they cost the batch 0.5-1.2 s more CPU
        // and grew with each run: the "drift" of earlier measurements).
        std::filesystem::remove_all(data_dir(), ignored_ec);
        ::sync();
        auto fresh = start_emulator(n, package_bytes, job_ms);
        b = run_batch(fresh, 1, n, job_ms, dir / "batch");
        bench::stop_emulator(fresh);
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
    std::filesystem::remove_all(data_dir(), ignored);

    std::size_t m = n - 1;
    // The least any schedule could take: one migration's two job latencies
    // plus the serial work of the busier of the two single-threaded processes
    // (the emulator's transfers and packaging, or the client's).
    double critical = 2.0 * job_ms / 1000.0 + std::max(cpu, emu_cpu);
    std::printf("%7zu %9.1f %8.3f %9.3f %9.3f %7.2f %8.2f %8.2f %9.1f %10.1f %6s\n", m, package_bytes / 1048576.0,
                transfer_one * 1000, critical, wall, wall / critical, cpu, emu_cpu, bench::peak_rss_kib(0) / 1024.0, bytes / 1048576.0,
                ok == m ? "ok" : (std::to_string(m - ok) + " failed").c_str());
    if (with_batch)
        std::printf("batch:  %zu migrations in %.3f s (%.2fx the in-process fleet's %.3f s), CPU %.2f s, peak RSS %.1f MiB, "
                    "%zu done, %zu journal fsyncs\n",
                    m, b.wall, b.wall / wall, wall, b.cpu, b.rss_mib, b.done, b.fsyncs);
    std::fflush(stdout);
    return ok == m && (!with_batch || b.done == m) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t n = 0;
    double package_mib = 1;
    long job_ms = 200;
    bool with_batch = false;
    const char* usage = "usage: fleet-bench [--n N] [--package-mib MiB] [--job-ms MS] [--batch]\n"
                        "  without --n: N = 100, 1000, 5000 (1 MiB) and 20 x 1 MiB vs 20 x 50 MiB, each in its own process\n"
                        "  --batch: also run `cspark-impex batch` over the same migrations and compare\n";
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        bool has_value = i + 1 < argc;
        try {
            if (a == "--help" || a == "-h") {
                std::cout << usage;
                return 0;
            } else if (a == "--batch") {
                with_batch = true;
            } else if (a == "--n" && has_value) {
                n = std::stoul(argv[++i]);
            } else if (a == "--package-mib" && has_value) {
                package_mib = std::stod(argv[++i]);
            } else if (a == "--job-ms" && has_value) {
                job_ms = std::stol(argv[++i]);
            } else {
                std::cerr << "fleet-bench: unknown or incomplete argument '" << a << "'\n" << usage;
                return 2;
            }
        } catch (const std::exception&) {
            std::cerr << "fleet-bench: '" << argv[i] << "' is not a number\n" << usage;
            return 2;
        }
    }
    if (n > 0) return run_one(n + 1, static_cast<std::uint64_t>(package_mib * 1048576), job_ms, with_batch);

    std::printf("fleet benchmark: one client thread, emulator in a child process, jobs of %ld ms\n", job_ms);
    std::printf("%7s %9s %8s %9s %9s %7s %8s %8s %9s %10s %6s\n", "N", "pkg MiB", "xfer ms", "crit s", "wall s", "ratio",
                "cpu s", "emu cpu", "RSS MiB", "moved MiB", "result");
    std::fflush(stdout);
    int rc = 0;
    for (auto [count, mib] : {std::pair{100, 1.0}, {1000, 1.0}, {5000, 1.0}, {20, 1.0}, {20, 50.0}}) {
        std::string ns = std::to_string(count), ms = std::to_string(mib), js = std::to_string(job_ms);
        pid_t pid = ::fork();
        if (pid == 0) {
            ::execl(argv[0], argv[0], "--n", ns.c_str(), "--package-mib", ms.c_str(), "--job-ms", js.c_str(),
                    static_cast<char*>(nullptr));
            ::_exit(127);
        }
        int status = 0;
        ::waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) rc = 1;
    }
    std::printf("crit = 2 x job latency + max(client CPU, emulator CPU): the two processes' serial work on their own cores\n"
                "xfer ms = one migration alone, minus its two job latencies (polling granularity included)\n");
    return rc;
}
