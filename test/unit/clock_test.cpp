#include <cspark/clock.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>

#include <doctest/doctest.h>

using namespace cspark;
using namespace std::chrono_literals;
namespace asio = boost::asio;

TEST_CASE("auto-advancing manual time completes sleeps at once and records them") {
    asio::io_context io;
    manual_timer_service t;
    auto start = t.now();
    int done = 0;
    t.async_sleep(io.get_executor(), 5s, [&](error_code ec) { CHECK_FALSE(ec); ++done; });
    t.async_sleep(io.get_executor(), 2s, [&](error_code ec) { CHECK_FALSE(ec); ++done; });
    CHECK(done == 0);  // never inline
    io.run();
    CHECK(done == 2);
    CHECK(t.now() - start == 7s);
    REQUIRE(t.sleeps().size() == 2);
    CHECK(t.sleeps()[0] == 5s);
}

TEST_CASE("held manual time completes sleeps only when advanced past them") {
    asio::io_context io;
    manual_timer_service t(false);
    std::vector<int> order;
    t.async_sleep(io.get_executor(), 3s, [&](error_code) { order.push_back(3); });
    t.async_sleep(io.get_executor(), 1s, [&](error_code) { order.push_back(1); });
    io.poll();
    CHECK(order.empty());
    CHECK(t.pending() == 2);
    t.advance(2s);
    io.restart();
    io.poll();
    CHECK(order == std::vector<int>{1});
    t.advance(1s);
    io.restart();
    io.poll();
    CHECK(order == std::vector<int>{1, 3});
    CHECK(t.pending() == 0);
}

TEST_CASE("sleeps are cancellable through the handler's cancellation slot") {
    asio::io_context io;
    asio::cancellation_signal sig;
    SUBCASE("manual") {
        manual_timer_service t(false);
        error_code got;
        bool done = false;
        t.async_sleep(io.get_executor(), 1h, asio::bind_cancellation_slot(sig.slot(), [&](error_code ec) {
                          got = ec;
                          done = true;
                      }));
        sig.emit(asio::cancellation_type::terminal);
        io.run();
        CHECK(done);
        CHECK(got == asio::error::operation_aborted);
        CHECK(t.pending() == 0);
    }
    SUBCASE("system") {
        auto t = system_timer_service();
        error_code got;
        bool done = false;
        auto before = t->now();
        t->async_sleep(io.get_executor(), 1h, asio::bind_cancellation_slot(sig.slot(), [&](error_code ec) {
                           got = ec;
                           done = true;
                       }));
        io.poll();
        sig.emit(asio::cancellation_type::terminal);
        io.run();
        CHECK(done);
        CHECK(got == asio::error::operation_aborted);
        CHECK(t->now() - before < 1h);
    }
}
