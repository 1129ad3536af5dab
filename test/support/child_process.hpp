// Test support: child processes started safely from a multi-threaded test
// and waited for with a bound.
//
// Between fork() and exec() the child of a multi-threaded process may call
// only async-signal-safe functions: a lock another thread held at the fork
// (the allocator's, when the emulator's thread was allocating) stays held in
// the child, and the child's first malloc waits forever. Under g++ 12's ASan
// that hung a CLI test on CI until meson's timeout. So every argument vector
// is built before the fork, and the child only opens, dup2s, sets limits and
// execs.
#pragma once

#include <chrono>
#include <csignal>
#include <optional>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <vector>

namespace cspark::test {

/// An argv for execv, built in the parent: the child touches no allocator.
class argv_list {
public:
    explicit argv_list(std::vector<std::string> args) : args_(std::move(args)) {
        for (auto& a : args_) ptrs_.push_back(a.data());
        ptrs_.push_back(nullptr);
    }
    argv_list(const argv_list&) = delete;
    argv_list& operator=(const argv_list&) = delete;
    char* const* get() const { return ptrs_.data(); }
    const char* program() const { return ptrs_.front(); }
    std::string joined() const {
        std::string s;
        for (const auto& a : args_) s += (s.empty() ? "" : " ") + a;
        return s;
    }

private:
    std::vector<std::string> args_;
    std::vector<char*> ptrs_;
};

/// How long a test waits for a child it started before killing it: far
/// above any CLI run here (a few seconds under ASan), far below meson's
/// per-suite timeout, so a hung child fails one test with its output
/// instead of the whole suite with none.
inline constexpr std::chrono::seconds child_time_limit{90};

/// Waits for `pid` to end, at most `limit`; the wait status, or nothing
/// when it did not end in time (it is then killed with SIGKILL and reaped).
inline std::optional<int> wait_bounded(pid_t pid, std::chrono::steady_clock::duration limit = child_time_limit) {
    auto until = std::chrono::steady_clock::now() + limit;
    auto pause = std::chrono::milliseconds(1);
    for (;;) {
        int status = 0;
        pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) return status;
        if (r < 0) return std::nullopt;
        if (std::chrono::steady_clock::now() >= until) break;
        std::this_thread::sleep_for(pause);  // polls the child's end, bounded by `until`
        pause = std::min(pause * 2, std::chrono::milliseconds(20));
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return std::nullopt;
}

/// The exit code of a wait status: the code, or 128 + the signal.
inline int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

}  // namespace cspark::test
