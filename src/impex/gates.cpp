// Tenant slots: an async mutex per key, waiters sleep on a timer that
// release() cancels. Single-threaded, like the clients.
#include "impex/flows.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace cspark::detail {
namespace asio = boost::asio;

asio::awaitable<bool> gates::acquire(const std::string& key) {
    for (;;) {
        auto& g = gates_[key];
        if (!g.busy) {
            g.busy = true;
            co_return true;
        }
        auto t = std::make_shared<asio::steady_timer>(ex_, asio::steady_timer::time_point::max());
        g.waiters.push_back(t);
        co_await t->async_wait(asio::as_tuple(asio::use_awaitable));  // woken by release(), or cancelled
        std::erase(gates_[key].waiters, t);
        auto cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none) co_return false;
    }
}

void gates::release(const std::string& key) {
    auto& g = gates_[key];
    g.busy = false;
    while (!g.waiters.empty()) {
        auto t = std::move(g.waiters.front());
        g.waiters.pop_front();
        if (t->cancel() > 0) break;
    }
    if (on_release) on_release();
}

}  // namespace cspark::detail
