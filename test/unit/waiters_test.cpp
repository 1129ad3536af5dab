// The one waiting primitive: notify_one wakes the longest waiting, a
// cancelled waiter says so and leaves the list, notify_all wakes everyone.
#include "core/waiters.hpp"

#include <doctest/doctest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <vector>

namespace asio = boost::asio;
using cspark::detail::waiters;

namespace {

// A coroutine with parameters, not a lambda with captures (whose captures
// would die with the lambda before the coroutine resumes).
asio::awaitable<void> wait_on(waiters& w, std::vector<std::pair<int, bool>>& woke, int who) {
    bool notified = co_await w.wait();
    woke.emplace_back(who, notified);
}

}  // namespace

TEST_CASE("waiters: notify_one in order, cancellation told apart, notify_all") {
    asio::io_context io;
    waiters w(io.get_executor());
    std::vector<std::pair<int, bool>> woke;  // (who, notified)
    std::vector<std::unique_ptr<asio::cancellation_signal>> signals;
    for (int i = 0; i < 4; ++i) {
        signals.push_back(std::make_unique<asio::cancellation_signal>());
        asio::co_spawn(io, wait_on(w, woke, i), asio::bind_cancellation_slot(signals.back()->slot(), asio::detached));
    }
    io.poll();
    CHECK(woke.empty());
    CHECK_FALSE(w.empty());
    CHECK(w.notify_one());
    io.poll();
    REQUIRE(woke.size() == 1);
    CHECK(woke[0] == std::pair{0, true});  // the longest waiting
    signals[1]->emit(asio::cancellation_type::terminal);
    io.poll();
    REQUIRE(woke.size() == 2);
    CHECK(woke[1] == std::pair{1, false});  // cancelled, not notified
    w.notify_all();
    io.poll();
    REQUIRE(woke.size() == 4);
    CHECK(woke[2].second);
    CHECK(woke[3].second);
    CHECK(w.empty());
    CHECK_FALSE(w.notify_one());  // none waiting
}
