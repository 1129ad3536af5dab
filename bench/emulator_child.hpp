// Benchmarks run cspark-emulator as a child process so that the two sides
// never share a core's time accounting or a descriptor limit.
#pragma once

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <cstdio>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace bench {

struct emulator_child {
    pid_t pid = -1;
    std::string url;
    std::map<std::string, std::string> keys;  ///< tenant -> API key
};

/// Starts CSPARK_EMULATOR_BIN --port 0 --print-credentials `args` and reads
/// its URL and the API keys of `tenants` tenants.
inline emulator_child start_emulator(const std::vector<std::string>& args, std::size_t tenants) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe");
    std::vector<std::string> all{CSPARK_EMULATOR_BIN, "--port", "0", "--print-credentials"};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;  // built before the fork: the child only execs (see test/support/child_process.hpp)
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    emulator_child c;
    c.pid = ::fork();
    if (c.pid == 0) {
        ::dup2(fds[1], 1);
        ::close(fds[0]);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(fds[1]);
    FILE* out = ::fdopen(fds[0], "r");
    char buf[4096];
    while (c.keys.size() < tenants && std::fgets(buf, sizeof buf, out)) {
        std::string line(buf);
        if (auto p = line.find("listening on "); p != std::string::npos) c.url = line.substr(p + 13, line.find('\n') - p - 13);
        if (line.rfind("tenant ", 0) == 0) {
            auto name = line.substr(7, line.find(' ', 7) - 7);
            auto k = line.find("api_key=");
            c.keys[name] = line.substr(k + 8, line.find(' ', k) - k - 8);
        }
    }
    if (c.url.empty()) throw std::runtime_error("cspark-emulator did not start");
    return c;
}

/// Where a benchmark's emulator keeps its packages: on tmpfs when there is
/// one, as a Spark tenant's store is no cost of the client's (ext4 block
/// allocation for thousands of fresh packages would otherwise dominate).
inline std::string emulator_data_dir(const std::string& prefix) {
    std::error_code ec;
    std::filesystem::path base = std::filesystem::is_directory("/dev/shm", ec) ? "/dev/shm" : std::filesystem::temp_directory_path();
    return (base / (prefix + std::to_string(::getpid()))).string();
}

/// The name the emulator gives its i-th generated tenant (0-based) of n:
/// "tenant-0001", "target-0042" (wider when n needs it).
inline std::string tenant_name(const char* prefix, std::size_t i, std::size_t n) {
    std::string num = std::to_string(i + 1);
    std::size_t width = std::max<std::size_t>(4, std::to_string(n).size());
    return std::string(prefix) + std::string(width - num.size(), '0') + num;
}

/// CPU seconds (user + system) the child has used so far.
inline double cpu_seconds_of(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string tok;
    double s = 0;
    for (int k = 1; k <= 15 && stat >> tok; ++k)
        if (k == 14 || k == 15) s += std::stod(tok) / static_cast<double>(::sysconf(_SC_CLK_TCK));
    return s;
}

inline long peak_rss_kib(pid_t pid) {
    std::ifstream in("/proc/" + (pid ? std::to_string(pid) : std::string("self")) + "/status");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

inline void stop_emulator(emulator_child& c) {
    ::kill(c.pid, SIGTERM);
    int status = 0;
    ::waitpid(c.pid, &status, 0);
}

}  // namespace bench
