// A fleet's gates: tenant slots and transfers in order of their chains' work left.
#include "impex/flows.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace cspark::detail;
namespace asio = boost::asio;

namespace {

// A transfer of `priority`: records when it began, holds the gate until `done` is set.
asio::awaitable<void> transfer(gates& g, int priority, std::string name, std::vector<std::string>& log, const bool& done) {
    bool got = co_await g.begin_transfer(priority);
    log.push_back(name + (got ? " began" : " cancelled"));
    if (!got) co_return;
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer poll(ex);
    for (int i = 0; i < 1000 && !done; ++i) {  // bounded: the test sets `done`
        poll.expires_after(std::chrono::milliseconds(1));
        co_await poll.async_wait(asio::use_awaitable);
    }
    g.end_transfer(priority);
    log.push_back(name + " ended");
}

}  // namespace

TEST_CASE("gates: work left per tenant gives a transfer's priority") {
    asio::io_context io;
    gates g(io.get_executor());
    CHECK(g.priority("export a", "import b") == 0);
    g.add_work("export a", 3);
    g.add_work("import b", 1);
    CHECK(g.priority("export a", "import b") == 3);
    g.add_work("export a", -2);
    CHECK(g.priority("export a", "import b") == 1);
    g.add_work("export a", -1);
    g.add_work("import b", -1);
    CHECK(g.priority("export a", "import b") == 0);
    g.add_work("", 5);  // an entry without a tenant counts for nothing
    CHECK(g.priority("", "") == 0);
}

TEST_CASE("gates: a transfer waits while one of a longer chain runs; equal ones never wait") {
    asio::io_context io;
    gates g(io.get_executor());
    std::vector<std::string> log;
    bool long_done = false, short_done = false;
    asio::co_spawn(io, transfer(g, 3, "chain", log, long_done), asio::detached);
    asio::co_spawn(io, transfer(g, 1, "single-1", log, short_done), asio::detached);
    asio::co_spawn(io, transfer(g, 1, "single-2", log, short_done), asio::detached);
    for (int i = 0; i < 20; ++i) io.run_one();
    CHECK(log == std::vector<std::string>{"chain began"});  // both singles wait for the chain
    long_done = true;
    for (int i = 0; i < 2000 && log.size() < 4; ++i) io.run_one();
    REQUIRE(log.size() >= 4);
    CHECK(log[1] == "chain ended");
    CHECK(log[2] == "single-1 began");  // equal priorities run together
    CHECK(log[3] == "single-2 began");
    // A higher priority does not wait for lower ones already running.
    asio::co_spawn(io, transfer(g, 2, "later chain", log, long_done), asio::detached);
    for (int i = 0; i < 2000 && log.size() < 5; ++i) io.run_one();
    REQUIRE(log.size() >= 5);
    CHECK(log[4] == "later chain began");
    short_done = true;
    io.run();
    CHECK(log.size() == 8);  // five began or ended above, then the later chain and both singles ended
}
