// Test support: the cspark-impex binary as a child process against an
// in-process emulator served from a background thread, and batch plans.
#pragma once

#include "support/child_process.hpp"
#include "support/emu_fixture.hpp"

#include <boost/asio/executor_work_guard.hpp>

#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sys/wait.h>
#include <thread>

namespace cspark::test {

inline bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

struct cli_result {
    int rc = -1;
    std::string out, err;
};

inline std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), {});
}

struct cli_fixture {
    asio::io_context io;
    std::unique_ptr<emulator> emu;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
    std::thread runner;
    std::filesystem::path dir;

    static emulator_config quick_jobs() {
        emulator_config cfg;
        cfg.job_duration = std::chrono::milliseconds(50);
        return cfg;
    }
    explicit cli_fixture(fleet_spec fleet = small_fleet(), emulator_config cfg = quick_jobs()) {
        emu = std::make_unique<emulator>(io.get_executor(), cfg);
        emu->generate(fleet);
        emu->start();
        work.emplace(io.get_executor());
        runner = std::thread([this] { io.run(); });
        dir = std::filesystem::temp_directory_path() / ("cspark-cli-test-" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir);
        ::setenv("SRC_KEY", emu->credentials("tenant-0001").api_key.c_str(), 1);
        ::setenv("DST_KEY", emu->credentials("target-0001").api_key.c_str(), 1);
    }
    ~cli_fixture() {
        asio::post(io, [this] { emu->stop(); });
        work.reset();
        io.stop();
        runner.join();
        std::error_code ignored;
        std::filesystem::remove_all(dir, ignored);
    }
    std::string src() const { return emu->base_url("tenant-0001"); }
    std::string dst() const { return emu->base_url("target-0001"); }

    /// Forks the binary with `args`, stdout and stderr to `out` / `err`
    /// ("" = discarded); `in_child` runs in the child before exec (limits)
    /// and must be async-signal-safe (setrlimit, signal: see child_process.hpp).
    static pid_t start(std::vector<std::string> args, const std::string& out, const std::string& err,
                       const std::function<void()>& in_child = {}) {
        const char* bin = std::getenv("CSPARK_CLI_BIN");
        REQUIRE_MESSAGE(bin, "CSPARK_CLI_BIN is not set (run through meson test)");
        args.insert(args.begin(), bin);
        argv_list argv(std::move(args));
        const char* out_path = out.empty() ? "/dev/null" : out.c_str();
        const char* err_path = err.empty() ? "/dev/null" : err.c_str();
        pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            ::dup2(::open(out_path, O_CREAT | O_TRUNC | O_WRONLY, 0600), 1);
            ::dup2(::open(err_path, O_CREAT | O_TRUNC | O_WRONLY, 0600), 2);
            ::close_range(3, ~0U, 0);  // nothing of this process (the emulator's sockets, the files above) leaks into the child
            if (in_child) in_child();
            ::execv(argv.program(), argv.get());
            ::_exit(127);
        }
        return pid;
    }
    /// Runs `script` with bash; its stdout (stderr discarded).
    std::string run_shell(const std::string& script) {
        auto path = dir / "script.sh";
        {
            std::ofstream(path) << script << "\n";
        }
        std::string out;
        FILE* p = ::popen(("bash '" + path.string() + "' 2>/dev/null").c_str(), "r");
        REQUIRE(p);
        char buf[4096];
        for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
        ::pclose(p);
        return out;
    }
    /// Runs the binary with `args` to its end (at most child_time_limit:
    /// a hung run is killed and fails the test with what it printed).
    cli_result run(std::vector<std::string> args, const std::function<void()>& in_child = {}) {
        auto out_path = dir / "stdout", err_path = dir / "stderr";
        std::string shown = argv_list(args).joined();
        pid_t pid = start(std::move(args), out_path.string(), err_path.string(), in_child);
        auto status = wait_bounded(pid);
        cli_result r;
        r.out = slurp(out_path);
        r.err = slurp(err_path);
        if (!status) {
            FAIL_CHECK("cspark-impex " << shown << " did not end within " << child_time_limit.count() << " s; killed. stderr:\n"
                                       << r.err);
            return r;
        }
        r.rc = exit_code(*status);
        return r;
    }
    /// Starts the binary with `args` in the background, its output discarded; returns its pid.
    pid_t start_quiet(std::vector<std::string> args) { return start(std::move(args), "", ""); }
    /// The emulator's state and fault rules (both lock the emulator: safe from this thread).
    json::value state() { return emu->state(); }
    void faults(const std::string& rules) { emu->set_faults(json::parse(R"({"rules":)" + rules + "}")); }
    std::size_t jobs(const std::string& kind) {
        std::size_t n = 0;
        auto st = state();
        for (const auto& j : st.at("jobs").as_array()) n += j.at("kind") == json::value(kind);
        return n;
    }
    void no_secrets(const cli_result& r) {
        for (const char* var : {"SRC_KEY", "DST_KEY"}) {
            std::string key = std::getenv(var);
            CHECK(r.out.find(key) == std::string::npos);
            CHECK(r.err.find(key) == std::string::npos);
        }
    }
};

// A plan of one migration: tenant-0001's folder-1/service-1 into target-0001 as folder-1/{name}.
inline std::string one_entry_plan(cli_fixture& f, const std::string& name = "m-1") {
    json::array list{json::object{{"name", name},
                                  {"source", json::object{{"base_url", f.src()}, {"api_key_env", "SRC_KEY"}}},
                                  {"target", json::object{{"base_url", f.dst()}, {"api_key_env", "DST_KEY"}}},
                                  {"export", json::object{{"services", json::array{"folder-1/service-1"}}}},
                                  {"destination", json::array{"folder-1/service-1=folder-1/" + name}}}};
    auto path = (f.dir / "plan.json").string();
    std::ofstream(path) << json::serialize(json::object{{"migrations", list}});
    return path;
}

// A plan of n migrations over `pairs` tenant pairs, each into its own service.
inline std::string make_plan(cli_fixture& f, std::size_t n, std::size_t pairs) {
    json::array list;
    for (std::size_t i = 0; i < n; ++i) {
        std::string k = std::to_string(i % pairs + 1);
        std::string num = std::string(4 - k.size(), '0') + k;
        list.push_back(json::object{
            {"name", "m-" + std::to_string(i)},
            {"source", json::object{{"base_url", f.emu->url() + "/tenant-" + num}, {"api_key_env", "KEY_SRC_" + num}}},
            {"target", json::object{{"base_url", f.emu->url() + "/target-" + num}, {"api_key_env", "KEY_DST_" + num}}},
            {"export", json::object{{"services", json::array{"folder-1/service-1"}}}},
            {"destination", json::array{"folder-1/service-1=folder-1/m-" + std::to_string(i)}},
            {"if_present", "abort"}});
        ::setenv(("KEY_SRC_" + num).c_str(), f.emu->credentials("tenant-" + num).api_key.c_str(), 1);
        ::setenv(("KEY_DST_" + num).c_str(), f.emu->credentials("target-" + num).api_key.c_str(), 1);
    }
    auto path = (f.dir / "plan.json").string();
    std::ofstream(path) << json::serialize(json::object{{"migrations", list}});
    return path;
}

inline fleet_spec pairs_fleet(std::size_t pairs) {
    fleet_spec f;
    f.tenants = pairs;
    f.target_tenants = pairs;
    return f;
}

inline std::size_t count_lines(const std::filesystem::path& p, const std::string& needle) {
    std::ifstream in(p);
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
    return n;
}

/// How many times each migration is journalled "done" across `journals`
/// (shards of one plan: exactly once each when they cover it).
inline std::map<std::string, int> done_per_migration(const std::vector<std::string>& journals) {
    std::map<std::string, int> seen;
    for (const auto& j : journals) {
        std::ifstream in(j);
        for (std::string line; std::getline(in, line);)
            if (line.find("\"e\":\"done\"") != std::string::npos) ++seen[std::string(json::parse(line).at("m").as_string())];
    }
    return seen;
}

}  // namespace cspark::test
