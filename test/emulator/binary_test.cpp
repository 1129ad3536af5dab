// The cspark-emulator binary: starts, prints its URL and tenants, serves,
// and exits cleanly on SIGTERM.
#include <doctest/doctest.h>

#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>
#include <sys/wait.h>
#include <unistd.h>

namespace {
struct child {
    pid_t pid = -1;
    FILE* out = nullptr;
};

child spawn(const std::vector<std::string>& args) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    child c;
    c.pid = ::fork();
    REQUIRE(c.pid >= 0);
    if (c.pid == 0) {
        ::dup2(fds[1], 1);
        ::close(fds[0]);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(fds[1]);
    c.out = ::fdopen(fds[0], "r");
    return c;
}

std::string line(FILE* f) {
    char buf[4096];
    return std::fgets(buf, sizeof buf, f) ? std::string(buf) : std::string();
}
}  // namespace

TEST_CASE("cspark-emulator starts, lists tenants with credentials, stops on SIGTERM") {
    const char* bin = std::getenv("CSPARK_EMULATOR_BIN");
    REQUIRE_MESSAGE(bin, "CSPARK_EMULATOR_BIN is not set (run through meson test)");
    auto c = spawn({bin, "--port", "0", "--tenants", "2", "--print-credentials"});
    auto first = line(c.out);
    CHECK(first.find("listening on http://127.0.0.1:") != std::string::npos);
    auto t1 = line(c.out);
    CHECK(t1.find("tenant tenant-0001 http://127.0.0.1:") == 0);
    CHECK(t1.find("api_key=ak-") != std::string::npos);
    ::kill(c.pid, SIGTERM);
    int status = 0;
    REQUIRE(::waitpid(c.pid, &status, 0) == c.pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    std::fclose(c.out);
}

TEST_CASE("cspark-emulator rejects bad flags and bad seeds with exit 2 or CLI11's usage error") {
    const char* bin = std::getenv("CSPARK_EMULATOR_BIN");
    REQUIRE(bin);
    auto c = spawn({bin, "--threads", "0"});
    int status = 0;
    REQUIRE(::waitpid(c.pid, &status, 0) == c.pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) != 0);
    std::fclose(c.out);
}

TEST_CASE("every program answers --help with its usage and refuses an unknown flag with exit 2") {
    const char* list = std::getenv("CSPARK_PROGRAMS");
    REQUIRE_MESSAGE(list, "CSPARK_PROGRAMS is not set (run through meson test)");
    std::vector<std::string> programs;
    for (std::string rest = list; !rest.empty();) {
        auto colon = rest.find(':');
        programs.push_back(rest.substr(0, colon));
        rest = colon == std::string::npos ? "" : rest.substr(colon + 1);
    }
    CHECK(programs.size() >= 5);  // cspark-impex, cspark-emulator, the demo, the examples (+ benches)
    auto run = [](const std::string& bin, const std::string& arg, std::string& out) {
        auto c = spawn({bin, arg});
        char buf[4096];
        for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, c.out)) > 0;) out.append(buf, n);
        int status = 0;
        REQUIRE(::waitpid(c.pid, &status, 0) == c.pid);
        std::fclose(c.out);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    };
    for (const auto& bin : programs) {
        CAPTURE(bin);
        std::string help, bad;
        CHECK(run(bin, "--help", help) == 0);
        std::string lower;
        for (char ch : help) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        CHECK(lower.find("usage") != std::string::npos);
        CHECK(run(bin, "--no-such-flag", bad) == 2);
    }
}
