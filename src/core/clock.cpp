#include <cspark/clock.hpp>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/consign.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>

namespace cspark {
namespace asio = boost::asio;
namespace {

using sleep_handler = asio::any_completion_handler<void(error_code)>;

// Invokes `h(ec)` later, on the handler's own executor (never inline).
void complete_later(const asio::any_io_executor& ex, sleep_handler h, error_code ec) {
    // post(ex, handler) runs the handler through its own associated executor.
    asio::post(ex, asio::append(std::move(h), ec));
}

class system_timers final : public timer_service {
public:
    clock_type::time_point now() const override { return clock_type::now(); }

protected:
    void do_sleep(asio::any_io_executor ex, clock_type::duration d, sleep_handler handler) override {
        auto timer = std::make_shared<asio::steady_timer>(ex, d);
        // The handler's cancellation slot reaches async_wait through consign.
        timer->async_wait(asio::consign(std::move(handler), timer));
    }
};

}  // namespace

std::shared_ptr<timer_service> system_timer_service() {
    static const auto instance = std::make_shared<system_timers>();
    return instance;
}

struct manual_timer_service::waiter {
    clock_type::time_point deadline;
    asio::any_io_executor ex;
    sleep_handler handler;
    asio::cancellation_slot slot;
};

manual_timer_service::manual_timer_service(bool auto_advance)
    : auto_advance_(auto_advance), now_(clock_type::time_point{} + std::chrono::hours(24)) {}

manual_timer_service::~manual_timer_service() {
    for (auto& w : waiters_)
        if (w->slot.is_connected()) w->slot.clear();
}

std::size_t manual_timer_service::pending() const noexcept { return waiters_.size(); }

void manual_timer_service::do_sleep(asio::any_io_executor ex, clock_type::duration d, sleep_handler handler) {
    sleeps_.push_back(d);
    if (auto_advance_) {
        now_ += d;
        complete_later(ex, std::move(handler), {});
        return;
    }
    // Built in place: Asio 1.26's any_completion_handler move *assignment*
    // re-wraps the handler in itself and recurses, so it is only ever moved
    // by construction here.
    auto slot = asio::get_associated_cancellation_slot(handler);
    auto w = std::make_shared<waiter>(waiter{now_ + d, ex, std::move(handler), slot});
    if (w->slot.is_connected()) {
        w->slot.assign([this, raw = w.get()](asio::cancellation_type) {
            auto it = std::find_if(waiters_.begin(), waiters_.end(), [raw](auto& p) { return p.get() == raw; });
            if (it == waiters_.end()) return;
            auto keep = *it;
            waiters_.erase(it);
            complete_later(keep->ex, std::move(keep->handler), asio::error::operation_aborted);
        });
    }
    waiters_.push_back(std::move(w));
}

void manual_timer_service::advance(clock_type::duration d) {
    now_ += d;
    std::vector<std::shared_ptr<waiter>> due;
    std::erase_if(waiters_, [&](auto& w) {
        if (w->deadline > now_) return false;
        due.push_back(w);
        return true;
    });
    for (auto& w : due) {
        if (w->slot.is_connected()) w->slot.clear();
        complete_later(w->ex, std::move(w->handler), {});
    }
}

}  // namespace cspark
