// Tenant slots: an async mutex per key, waiters sleep on a timer that
// release() cancels; and transfers in order of their chains' work left.
// Single-threaded, like the clients.
#include "impex/flows.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

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

void gates::add_work(const std::string& key, int n) {
    if (key.empty()) return;
    if ((work_[key] += n) <= 0) work_.erase(key);
}

int gates::priority(const std::string& export_key, const std::string& import_key) const {
    auto of = [this](const std::string& k) {
        auto w = work_.find(k);
        return w == work_.end() ? 0 : w->second;
    };
    return std::max(of(export_key), of(import_key));
}

asio::awaitable<bool> gates::begin_transfer(int priority) {
    for (;;) {
        if (transfers_.empty() || *transfers_.rbegin() <= priority) {
            transfers_.insert(priority);
            co_return true;
        }
        auto t = std::make_shared<asio::steady_timer>(ex_, asio::steady_timer::time_point::max());
        transfer_waiters_.push_back(t);
        co_await t->async_wait(asio::as_tuple(asio::use_awaitable));  // woken by end_transfer(), or cancelled
        std::erase(transfer_waiters_, t);
        auto cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none) co_return false;
    }
}

void gates::end_transfer(int priority) {
    if (auto it = transfers_.find(priority); it != transfers_.end()) transfers_.erase(it);
    // Few wait at once (a burst's lower priorities): each looks again.
    for (auto& t : transfer_waiters_) t->cancel();
    transfer_waiters_.clear();
}

}  // namespace cspark::detail
