// The cspark-emulator binary: starts, prints its URL and tenants, serves,
// and exits cleanly on SIGTERM.
#include "support/child_process.hpp"

#include <doctest/doctest.h>

#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
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
    cspark::test::argv_list argv(args);
    child c;
    c.pid = ::fork();
    REQUIRE(c.pid >= 0);
    if (c.pid == 0) {
        ::dup2(fds[1], 1);
        ::close(fds[0]);
        ::execv(argv.program(), argv.get());
        ::_exit(127);
    }
    ::close(fds[1]);
    c.out = ::fdopen(fds[0], "r");
    return c;
}

// The child's wait status, waited for with a bound (a hung child fails the test).
int finish(const child& c) {
    auto status = cspark::test::wait_bounded(c.pid);
    REQUIRE_MESSAGE(status, "the child did not end in time; killed");
    return *status;
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
    int status = finish(c);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    std::fclose(c.out);
}

TEST_CASE("cspark-emulator rejects bad flags and bad seeds with exit 2 or CLI11's usage error") {
    const char* bin = std::getenv("CSPARK_EMULATOR_BIN");
    REQUIRE(bin);
    auto c = spawn({bin, "--threads", "0"});
    int status = finish(c);
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
        int status = finish(c);
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

namespace {
// One HTTP/1.1 exchange on 127.0.0.1:port with plain sockets; the reply until close.
std::string http_exchange(int port, const std::string& bytes) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    return out;
}
}  // namespace

TEST_CASE("cspark-emulator's default --job-ms finishes a job when it is created (the official SDKs poll twice)") {
    const char* bin = std::getenv("CSPARK_EMULATOR_BIN");
    REQUIRE(bin);
    auto c = spawn({bin, "--port", "0", "--tenants", "1", "--print-credentials"});
    auto first = line(c.out);
    auto tenant = line(c.out);
    auto colon = first.rfind(':');
    REQUIRE(colon != std::string::npos);
    int port = std::stoi(first.substr(colon + 1));
    auto k = tenant.find("api_key=");
    REQUIRE(k != std::string::npos);
    auto key = tenant.substr(k + 8, tenant.find(' ', k) - k - 8);
    std::string body = R"({"inputs":{"services":["folder-1/service-1"]}})";
    auto reply = http_exchange(port, "POST /tenant-0001/api/v4/export HTTP/1.1\r\nHost: x\r\nx-synthetic-key: " + key +
                                         "\r\nx-tenant-name: tenant-0001\r\nContent-Type: application/json\r\nContent-Length: " +
                                         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
    CHECK(reply.find("200 OK") != std::string::npos);
    CHECK(reply.find(R"("status":"closed")") != std::string::npos);
    CHECK(reply.find("file_hash") != std::string::npos);
    ::kill(c.pid, SIGTERM);
    CHECK(WIFEXITED(finish(c)));
    std::fclose(c.out);
}

TEST_CASE("the demo's progress line counts exports and is drawn once more when the run ends") {
    const char* list = std::getenv("CSPARK_PROGRAMS");
    REQUIRE(list);
    std::string all = list, demo;
    for (std::size_t at = 0; at <= all.size();) {
        auto colon = all.find(':', at);
        auto p = all.substr(at, colon == std::string::npos ? std::string::npos : colon - at);
        if (p.ends_with("/cspark-impex-demo")) demo = p;
        if (colon == std::string::npos) break;
        at = colon + 1;
    }
    REQUIRE_MESSAGE(!demo.empty(), "the demo is not among CSPARK_PROGRAMS");
    // Not a terminal: one line every 2 s, and the last state at the end.
    FILE* p = ::popen(("'" + demo + "' --pairs 4 --job-ms 20 2>&1 >/dev/null").c_str(), "r");
    REQUIRE(p);
    std::string err;
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) err.append(buf, n);
    CHECK(::pclose(p) == 0);
    auto last = err.rfind("exported ");
    REQUIRE_MESSAGE(last != std::string::npos, err);
    CHECK_MESSAGE(err.substr(last).starts_with("exported 4/4  imported 4/4  failed 0"), err);
}
