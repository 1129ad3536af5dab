// cspark-impex-demo: the main job. Migrates many tenant pairs concurrently on
// one io_context, against an in-process emulator by default, with live
// progress and a summary table. With --from-base-url/--to-base-url it runs
// one real migration, credentials from CSPARK_* variables (never flags).
#include <cspark/emulator.hpp>
#include <cspark/impex.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <unistd.h>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

long peak_rss_kib() {
    std::ifstream in("/proc/self/status");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
    return 0;
}

std::string mib(std::uint64_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / 1048576.0);
    return buf;
}

std::string env_or(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

struct tally {
    std::size_t total = 0, exported = 0, imported = 0, failed = 0;
    std::uint64_t bytes = 0;
};

struct demo_args {
    std::size_t pairs = 200, concurrency = 0, services = 2, versions = 3;
    long job_ms = 200;
    std::uint64_t package_bytes = 256 * 1024;
    std::string from_url, to_url, from_env = "CSPARK_", to_env = "CSPARK_TARGET_";
    std::vector<std::string> export_services;
    bool quiet = false;
};

void define(CLI::App& app, demo_args& a) {
    app.add_option("--pairs", a.pairs, "Tenant pairs to migrate (emulator mode)")->capture_default_str();
    app.add_option("--concurrency", a.concurrency, "Migrations in flight (0 = all)")->capture_default_str();
    app.add_option("--services", a.services, "Services per source tenant (emulator mode)")->capture_default_str();
    app.add_option("--versions", a.versions, "Versions per service (emulator mode)")->capture_default_str();
    app.add_option("--job-ms", a.job_ms, "Emulator job latency")->capture_default_str();
    app.add_option("--package-bytes", a.package_bytes, "Emulator payload per version")->capture_default_str();
    app.add_option("--from-base-url", a.from_url, "Real source tenant, e.g. https://excel.uat.us.coherent.global/acme");
    app.add_option("--to-base-url", a.to_url, "Real target tenant");
    app.add_option("--from-env-prefix", a.from_env, "Source credentials from {PREFIX}API_KEY / BEARER_TOKEN / CLIENT_ID / CLIENT_SECRET")
        ->capture_default_str();
    app.add_option("--to-env-prefix", a.to_env, "Target credentials, same names")->capture_default_str();
    app.add_option("--export", a.export_services, "Services to migrate in real mode ({folder}/{service}[{version}])");
    app.add_flag("--quiet", a.quiet, "Only the summary");
}

// The tenants and the migrations: an in-process emulator's fleet, or one
// real pair named on the command line.
struct demo_fleet {
    std::shared_ptr<cspark::transport> tr;
    std::unique_ptr<cspark::emulator> emu;
    std::vector<std::unique_ptr<cspark::impex>> sources, targets;
    std::vector<cspark::fleet_entry> entries;

    std::unique_ptr<cspark::impex> make(asio::any_io_executor ex, const std::string& base, const std::string& prefix,
                                        const cspark::tenant_credentials* creds) {
        cspark::client_config cfg;
        cfg.base_url = base;
        cfg.use_environment = false;
        cfg.shared_transport = tr;
        cfg.max_retries = 4;
        if (creds) {
            cfg.api_key = creds->api_key;
        } else {
            cfg.api_key = env_or((prefix + "API_KEY").c_str());
            cfg.bearer_token = env_or((prefix + "BEARER_TOKEN").c_str());
            cfg.oauth = {env_or((prefix + "CLIENT_ID").c_str()), env_or((prefix + "CLIENT_SECRET").c_str())};
        }
        return std::make_unique<cspark::impex>(cspark::client(ex, cfg));
    }

    void emulated(asio::any_io_executor ex, const demo_args& a, const std::filesystem::path& workdir) {
        cspark::emulator_config ecfg;
        ecfg.job_duration = std::chrono::milliseconds(a.job_ms);
        ecfg.package_bytes = a.package_bytes;
        ecfg.data_dir = workdir / "emulator";
        emu = std::make_unique<cspark::emulator>(ex, ecfg);
        emu->generate({.tenants = a.pairs, .target_tenants = a.pairs, .folders = 1, .services = a.services, .versions = a.versions});
        emu->start();
        if (!a.quiet)
            std::cerr << "emulator " << emu->url() << ": " << a.pairs << " source and " << a.pairs << " target tenants, jobs of "
                      << a.job_ms << " ms\n";
        for (const auto& c : emu->credentials()) {
            bool target = c.tenant.rfind("target-", 0) == 0;
            (target ? targets : sources).push_back(make(ex, emu->base_url(c.tenant), "", &c));
        }
        for (std::size_t i = 0; i < a.pairs; ++i) {
            cspark::fleet_entry e{.name = sources[i]->get_client().url().tenant + " -> " + targets[i]->get_client().url().tenant,
                                  .source = sources[i].get(),
                                  .target = targets[i].get()};
            e.request.exports.folders = {"folder-1"};
            e.request.exports.version_filter = cspark::version_filter::all;
            e.request.exports.poll.retry_interval = std::chrono::milliseconds(std::max<long>(a.job_ms / 2, 20));
            e.request.exports.directory = workdir / "packages";
            entries.push_back(std::move(e));
        }
    }

    void real(asio::any_io_executor ex, const demo_args& a, const std::filesystem::path& workdir) {
        if (a.export_services.empty()) throw std::invalid_argument("real mode needs --export {folder}/{service}");
        sources.push_back(make(ex, a.from_url, a.from_env, nullptr));
        targets.push_back(make(ex, a.to_url, a.to_env, nullptr));
        cspark::fleet_entry e{.name = a.from_url + " -> " + a.to_url, .source = sources[0].get(), .target = targets[0].get()};
        e.request.exports.services = a.export_services;
        e.request.exports.poll.retry_interval = 3s;
        e.request.exports.directory = workdir / "packages";
        entries.push_back(std::move(e));
    }
};

void print_summary(const tally& t, std::size_t migrated, double wall, const cspark::transport& tr,
                   const std::vector<std::string>& failures) {
    std::printf("\n%-28s %14s\n", "migrations", std::to_string(t.total).c_str());
    std::printf("%-28s %14zu\n", "  migrated", migrated);
    std::printf("%-28s %14zu\n", "  failed", t.total - migrated);
    std::printf("%-28s %14s\n", "bytes moved", mib(t.bytes).c_str());
    std::printf("%-28s %13.2fs\n", "wall time", wall);
    std::printf("%-28s %14s\n", "peak memory (RSS)", mib(static_cast<std::uint64_t>(peak_rss_kib()) * 1024).c_str());
    std::printf("%-28s %14zu\n", "connections opened", static_cast<std::size_t>(tr.stats().connections_opened));
    for (std::size_t i = 0; i < failures.size() && i < 10; ++i) std::printf("failed: %s\n", failures[i].c_str());
}

// Runs the fleet with a live progress line: redrawn on a terminal, a line
// every 2 s otherwise.
std::vector<cspark::migration_result> run_with_progress(asio::io_context& io, demo_fleet& f, cspark::fleet_options opt,
                                                        const tally& t, bool quiet, double& wall) {
    bool tty = ::isatty(2);
    auto started = std::chrono::steady_clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
    bool finished = false;
    std::vector<cspark::migration_result> results;
    asio::co_spawn(io, cspark::migrate_fleet(std::move(f.entries), opt),
                   [&](std::exception_ptr e, std::vector<cspark::migration_result> r) {
                       if (e) std::cerr << "cspark-impex-demo: fleet failed\n";
                       results = std::move(r);
                       finished = true;
                       if (f.emu) f.emu->stop();
                   });
    asio::steady_timer ticker(io);
    auto draw = [&] {
        char line[200];
        std::snprintf(line, sizeof line, "[%6.1fs] exported %zu/%zu  imported %zu/%zu  failed %zu  moved %s", elapsed(),
                      t.exported, t.total, t.imported, t.total, t.failed, mib(t.bytes).c_str());
        if (tty) std::fprintf(stderr, "\r%s\033[K", line);
        else std::fprintf(stderr, "%s\n", line);
    };
    std::function<void()> tick = [&] {
        if (finished || quiet) return;
        draw();
        ticker.expires_after(tty ? 200ms : 2s);
        ticker.async_wait([&](boost::system::error_code ec) {
            if (!ec) tick();
        });
    };
    tick();
    while (!finished) io.run_one();
    ticker.cancel();
    io.run_for(100ms);
    if (!quiet) draw();  // the last state, as the run ended
    if (tty && !quiet) std::fprintf(stderr, "\n");
    wall = elapsed();
    return results;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"cspark-impex-demo: concurrent multi-tenant migration (local emulator by default)"};
    demo_args a;
    define(app, a);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;  // --help: 0; any usage error: 2, as cspark-impex
    }

    asio::io_context io(1);
    demo_fleet f;
    f.tr = std::make_shared<cspark::transport>(io.get_executor(), cspark::transport_config{});
    auto workdir = std::filesystem::temp_directory_path() / ("cspark-impex-demo-" + std::to_string(::getpid()));
    std::filesystem::create_directories(workdir);
    try {
        if (a.from_url.empty() != a.to_url.empty()) throw std::invalid_argument("give both --from-base-url and --to-base-url");
        if (a.from_url.empty()) f.emulated(io.get_executor(), a, workdir);
        else f.real(io.get_executor(), a, workdir);
    } catch (const std::exception& e) {
        std::cerr << "cspark-impex-demo: " << e.what() << "\n";
        return 2;
    }
    std::vector<std::string> names;  // the entries move into the fleet: keep their names for reports
    for (const auto& e : f.entries) names.push_back(e.name);
    tally t;
    t.total = f.entries.size();
    cspark::fleet_options opt;
    opt.concurrency = a.concurrency ? a.concurrency : f.entries.size();
    opt.progress = [&](std::size_t, const cspark::progress_event& ev) {
        if (ev.what == cspark::progress_event::kind::finished) (ev.job_kind == "export" ? t.exported : t.imported)++;
    };
    std::vector<std::string> failures;
    opt.finished = [&](std::size_t i, const cspark::migration_result& m) {
        if (m.ec) {
            ++t.failed;
            failures.push_back(names[i] + ": " + m.ec.message() + " (" + m.diag.to_string() + ")");
        }
        for (const auto& file : m.exported.files) t.bytes += 2 * file.size;  // downloaded, then uploaded
    };
    double wall = 0;
    auto results = run_with_progress(io, f, opt, t, a.quiet, wall);
    std::size_t migrated = 0;
    for (const auto& r : results) migrated += !r.ec;
    print_summary(t, migrated, wall, *f.tr, failures);
    std::error_code ignored;
    f.emu.reset();
    std::filesystem::remove_all(workdir, ignored);
    return migrated == t.total ? 0 : 1;
}
