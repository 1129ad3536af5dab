// The one way a coroutine here waits for a condition that other code on the
// same strand makes true (a tenant's slot freed, a task runnable, a journal
// batch durable): it sleeps on a timer that notify_one()/notify_all()
// cancels. Not thread-safe: use it on one strand.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <list>
#include <memory>

namespace cspark::detail {

class waiters {
public:
    explicit waiters(boost::asio::any_io_executor ex) : ex_(std::move(ex)) {}

    /// Sleeps until notified. False when the awaiting coroutine was
    /// cancelled (its cancellation state says so) rather than notified.
    boost::asio::awaitable<bool> wait() {
        auto t = std::make_shared<boost::asio::steady_timer>(ex_, boost::asio::steady_timer::time_point::max());
        auto mine = list_.insert(list_.end(), t);
        co_await t->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
        if (t.use_count() > 1) list_.erase(mine);  // cancelled, not notified: still listed
        auto cs = co_await boost::asio::this_coro::cancellation_state;
        co_return cs.cancelled() == boost::asio::cancellation_type::none;
    }

    /// Wakes the longest waiting; false when none was waiting.
    bool notify_one() {
        while (!list_.empty()) {
            auto t = std::move(list_.front());
            list_.pop_front();
            if (t->cancel() > 0) return true;
        }
        return false;
    }

    void notify_all() {
        auto all = std::move(list_);
        list_.clear();
        for (auto& t : all) t->cancel();
    }

    bool empty() const noexcept { return list_.empty(); }

private:
    boost::asio::any_io_executor ex_;
    std::list<std::shared_ptr<boost::asio::steady_timer>> list_;
};

}  // namespace cspark::detail
