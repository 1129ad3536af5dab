// Soak: many migrations against cspark-emulator (a child process) with a
// share of all requests faulted at random (seeded) across every route and
// fault kind. Every migration is accounted for against the emulator's state:
// succeeded (its destination has exactly one version), failed with a known
// outcome (none), or unknown (none or one); an import done twice is counted.
// Prints client RSS after each round and open descriptors before and after.
//
//   soak-bench                          10,000 migrations in 10 rounds, 100 tenant pairs, 5 % faulted
//   soak-bench --migrations 2000 --rounds 4 --pairs 20 --fault-permille 50 --seed 7
#include <cspark/impex.hpp>

#include "bench_args.hpp"
#include "emulator_child.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

namespace asio = boost::asio;
namespace json = boost::json;
using steady = std::chrono::steady_clock;

namespace {

long rss_kib() {
    std::ifstream in("/proc/self/status");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

// Open descriptors, each named when SOAK_FDS is set (the iterator's own is not counted).
std::size_t open_fds() {
    std::vector<std::filesystem::path> fds;
    for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) fds.push_back(e.path());
    std::size_t n = 0;
    for (const auto& p : fds) {
        std::error_code ec;
        auto target = std::filesystem::read_symlink(p, ec);
        if (ec) continue;  // the iterator's descriptor, closed by now
        ++n;
        if (std::getenv("SOAK_FDS")) std::fprintf(stderr, "fd %s -> %s\n", p.filename().c_str(), target.c_str());
    }
    return n;
}

// The fault mix: each kind gets an equal share of `permille` per request.
std::vector<std::string> fault_flags(long permille, long seed) {
    const std::vector<std::string> kinds{
        R"("kind":"status","status":503)",
        R"("kind":"status","status":502)",
        R"("kind":"status","status":500)",
        R"("kind":"status","status":504,"after_action":true)",
        R"("kind":"status","status":429,"retry_after":0.01)",
        R"("kind":"status","status":429)",
        R"("kind":"reset")",
        R"("kind":"reset_mid_body","after_bytes":40)",
        R"("kind":"body","status":200,"after_action":true,"body":"{\"status\":\"Succ")",
        R"("kind":"body","status":502,"content_type":"text/html","body":"<html>Bad Gateway</html>")",
        R"("kind":"delay","delay_ms":30)",
    };
    double p = static_cast<double>(permille) / 1000.0 / static_cast<double>(kinds.size());
    std::vector<std::string> flags{"--fault-seed", std::to_string(seed)};
    char prob[32];
    std::snprintf(prob, sizeof prob, "%.6f", p);
    for (const auto& k : kinds) {
        flags.push_back("--fault");
        flags.push_back(std::string(R"({"route":"any",)") + k + R"(,"probability":)" + prob + "}");
    }
    return flags;
}

}  // namespace

int main(int argc, char** argv) {
    long migrations = 10000, rounds = 10, pairs = 100, permille = 50, seed = 1;
    const char* usage =
        "usage: soak-bench [--migrations N] [--rounds R] [--pairs P] [--fault-permille F] [--seed S]\n"
        "  N migrations (default 10000) in R rounds over P tenant pairs, F per mille of requests faulted\n";
    if (auto rc = bench::parse_args(argc, argv, "soak-bench", usage,
                                    {{"--migrations", [&](long v) { migrations = v; }},
                                     {"--rounds", [&](long v) { rounds = v; }},
                                     {"--pairs", [&](long v) { pairs = v; }},
                                     {"--fault-permille", [&](long v) { permille = v; }},
                                     {"--seed", [&](long v) { seed = v; }}}))
        return *rc;
    auto data = std::filesystem::temp_directory_path() / ("cspark-soak-" + std::to_string(::getpid()));
    std::vector<std::string> args{"--tenants", std::to_string(pairs), "--target-tenants", std::to_string(pairs),
                                  "--package-bytes", "16384", "--job-ms", "0", "--data-dir", (data / "emu").string()};
    for (auto& f : fault_flags(permille, seed)) args.push_back(f);
    auto emu = bench::start_emulator(args, 2 * static_cast<std::size_t>(pairs));

    asio::io_context io(1);
    auto tr = std::make_shared<cspark::transport>(io.get_executor(), cspark::transport_config{});
    std::size_t fds_before = open_fds();
    std::vector<std::unique_ptr<cspark::impex>> src, dst;
    for (long i = 0; i < pairs; ++i)
        for (auto [list, prefix] : {std::pair{&src, "tenant-"}, std::pair{&dst, "target-"}}) {
            auto tenant = bench::tenant_name(prefix, static_cast<std::size_t>(i), static_cast<std::size_t>(pairs));
            cspark::client_config cfg{.base_url = emu.url + "/" + tenant, .api_key = emu.keys.at(tenant),
                                      .max_retries = 4, .use_environment = false, .shared_transport = tr};
            cfg.retry_interval = std::chrono::milliseconds(10);
            list->push_back(std::make_unique<cspark::impex>(cspark::client(io.get_executor(), cfg)));
        }
    auto dir = data / "packages";
    std::filesystem::create_directories(dir);

    struct tally {
        std::size_t ok = 0, failed = 0, unknown = 0, mismatched = 0, twice = 0;
        std::map<std::string, std::size_t> errors;
    } t;
    std::vector<std::pair<long, long>> rss;  // after n migrations
    std::size_t fds_warm = 0;
    std::vector<cspark::error_code> outcomes;  // each migration's, in order
    long per_round = migrations / rounds;
    auto t0 = steady::now();
    for (long r = 0; r < rounds; ++r) {
        std::vector<cspark::fleet_entry> entries;
        for (long k = 0; k < per_round; ++k) {
            long i = r * per_round + k;
            auto p = static_cast<std::size_t>(i % pairs);
            cspark::fleet_entry e{.name = "m-" + std::to_string(i), .source = src[p].get(), .target = dst[p].get()};
            e.request.exports.services = {"folder-1/service-1"};
            e.request.exports.directory = dir;
            e.request.exports.poll.retry_interval = std::chrono::milliseconds(5);
            e.request.exports.poll.deadline = std::chrono::seconds(60);
            e.request.destination = cspark::service_mapping{.source = "folder-1/service-1", .target = "folder-1/m-" + std::to_string(i)};
            e.request.if_present = cspark::if_present::abort;
            entries.push_back(std::move(e));
        }
        std::vector<cspark::migration_result> results;
        bool done = false;
        cspark::fleet_options opt{.concurrency = 64};
        asio::co_spawn(io, cspark::migrate_fleet(std::move(entries), opt), [&](std::exception_ptr, std::vector<cspark::migration_result> v) {
            results = std::move(v);
            done = true;
        });
        io.restart();
        while (!done && io.run_one() > 0) {
        }
        for (const auto& m : results) outcomes.push_back(m.ec);
        results.clear();
        results.shrink_to_fit();
        rss.emplace_back((r + 1) * per_round, rss_kib());
        if (r == 0) {  // warm: the reactor's own descriptors exist now; idle connections closed
            tr->close_idle();
            io.restart();
            io.poll();
            fds_warm = open_fds();
        }
    }
    // Accounting, once at the end, against the emulator's state (asked
    // through tenant 1's client): not during the rounds, so the client's
    // memory above is the client's, not the growing state document's.
    {
        // Accounting against the emulator's state (asked through tenant 1's client).
        json::value state;
        bool got = false;
        asio::co_spawn(io, [&]() -> asio::awaitable<void> {
            cspark::request req;
            req.target = emu.url + "/_emulator/state";
            req.body_limit = 1ull << 30;  // every tenant's services: megabytes at 10,000 migrations
            auto [ec, resp] = co_await src[0]->get_client().async_send(req, asio::as_tuple(asio::use_awaitable));
            boost::system::error_code pec;
            if (!ec) state = json::parse(resp.body, pec);
            if (ec || pec)
                std::fprintf(stderr, "soak: the emulator's state could not be read: %s %s\n", (ec ? ec : pec).message().c_str(),
                             resp.diag.to_string().c_str());
            got = true;
        }, asio::detached);
        io.restart();
        while (!got && io.run_one() > 0) {
        }
        for (long i = 0; i < static_cast<long>(outcomes.size()); ++i) {
            auto p = static_cast<std::size_t>(i % pairs);
            std::size_t versions = 0;
            if (state.is_object()) {
                auto tenant = bench::tenant_name("target-", p, static_cast<std::size_t>(pairs));
                const auto& services = state.at("tenants").at(tenant).at("folders").at("folder-1").at("services").as_object();
                if (const auto* s = services.if_contains("m-" + std::to_string(i))) versions = s->at("versions").as_array().size();
            }
            const auto ec = outcomes[static_cast<std::size_t>(i)];
            if (versions > 1) ++t.twice;
            if (!ec) {
                ++t.ok;
                t.mismatched += versions != 1;
            } else if (cspark::outcome_known(ec)) {
                ++t.failed;
                ++t.errors[std::string(cspark::error_name(ec))];
                t.mismatched += versions != 0;
            } else {
                ++t.unknown;
                ++t.errors[std::string(cspark::error_name(ec))];
            }
        }
    }
    double wall = std::chrono::duration<double>(steady::now() - t0).count();
    tr->close_idle();
    io.restart();
    io.poll();
    std::size_t fds_after = open_fds();
    bench::stop_emulator(emu);
    std::error_code ignored;
    std::filesystem::remove_all(data, ignored);

    std::printf("soak: %ld migrations over %ld pairs, %.1f %% of requests faulted (seed %ld), %.1f s\n", migrations, pairs,
                static_cast<double>(permille) / 10.0, seed, wall);
    std::printf("| outcome | migrations |\n| --- | ---: |\n");
    std::printf("| succeeded (exactly one version) | %zu |\n| failed, known (no version) | %zu |\n| unknown (resume) | %zu |\n",
                t.ok, t.failed, t.unknown);
    std::printf("| state does not match the outcome | %zu |\n| imported twice | %zu |\n", t.mismatched, t.twice);
    std::printf("errors:");
    for (const auto& [e, n] : t.errors) std::printf(" %s=%zu", e.c_str(), n);
    std::printf("\n| after migrations | client RSS |\n| ---: | ---: |\n");
    for (const auto& [n, kib] : rss) std::printf("| %ld | %.1f MiB |\n", n, static_cast<double>(kib) / 1024.0);
    std::printf("open descriptors: %zu at start, %zu after the first round, %zu at the end (idle connections closed each time)\n",
                fds_before, fds_warm, fds_after);
    std::printf("accounted: %zu of %ld\n", t.ok + t.failed + t.unknown, migrations);
    return t.twice == 0 && t.mismatched == 0 && fds_after <= fds_warm &&
                   t.ok + t.failed + t.unknown == static_cast<std::size_t>(migrations)
               ? 0
               : 1;
}
