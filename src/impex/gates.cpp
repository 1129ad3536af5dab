// Tenant slots: an async mutex per key, whose waiters release() wakes; and
// transfers in order of their chains' work left.
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
        if (!g.waiting) g.waiting = std::make_unique<waiters>(ex_);
        bool woken = co_await g.waiting->wait();  // woken by release(), or cancelled
        if (!woken) co_return false;
    }
}

void gates::release(const std::string& key) {
    auto& g = gates_[key];
    g.busy = false;
    if (g.waiting) g.waiting->notify_one();
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
        bool woken = co_await transfer_waiters_.wait();  // woken by end_transfer(), or cancelled
        if (!woken) co_return false;
    }
}

void gates::end_transfer(int priority) {
    if (auto it = transfers_.find(priority); it != transfers_.end()) transfers_.erase(it);
    // Few wait at once (a burst's lower priorities): each looks again.
    transfer_waiters_.notify_all();
}

}  // namespace cspark::detail
