// Benchmarks run `cspark-impex batch` as a child process over a plan they
// write: wall time, CPU time (wait4) and its --json summary.
#pragma once

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace bench {

struct batch_run {
    double wall = 0, cpu = 0;
    double rss_mib = 0;  ///< the batch process's peak resident set
    std::size_t done = 0, failed = 0, fsyncs = 0;
};

/// Writes {"migrations": list} to dir/plan.json and runs CSPARK_CLI_BIN
/// --json --quiet batch on it with `args` appended.
inline batch_run run_batch(const boost::json::array& list, const std::filesystem::path& dir, const std::vector<std::string>& args) {
    std::filesystem::create_directories(dir);
    auto plan = (dir / "plan.json").string(), journal = (dir / "run.jsonl").string(), out = (dir / "out.json").string();
    std::filesystem::remove(journal);
    std::ofstream(plan) << boost::json::serialize(boost::json::object{{"migrations", list}});
    std::vector<std::string> all{CSPARK_CLI_BIN, "--json", "--quiet", "batch", plan, "--journal", journal};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;  // built before the fork: the child only execs
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    auto t0 = std::chrono::steady_clock::now();
    pid_t pid = ::fork();
    if (pid == 0) {
        int fd = ::open(out.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0600);
        ::dup2(fd, 1);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    int status = 0;
    rusage ru{};
    ::wait4(pid, &status, 0, &ru);
    batch_run r;
    r.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.rss_mib = static_cast<double>(ru.ru_maxrss) / 1024.0;
    r.cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
            static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    std::ifstream in(out);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    boost::system::error_code ec;
    auto doc = boost::json::parse(text, ec);
    if (!ec && doc.is_object()) {
        r.done = doc.at("done").to_number<std::size_t>();
        r.failed = doc.at("failed").to_number<std::size_t>();
        r.fsyncs = doc.at("journal_fsyncs").to_number<std::size_t>();
    }
    return r;
}

}  // namespace bench
