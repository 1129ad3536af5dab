// Injectable time: every wait in cspark-impex (retry backoff, job polling,
// token expiry) asks a timer_service, so tests advance time instead of sleeping.
#pragma once

#include <cspark/error.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/deferred.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <vector>

namespace cspark {

using clock_type = std::chrono::steady_clock;
using duration = std::chrono::milliseconds;

class timer_service {
public:
    virtual ~timer_service() = default;
    virtual clock_type::time_point now() const = 0;

    /// Completes after `d` (error_code{}), or with asio::error::operation_aborted
    /// when the handler's cancellation slot is emitted (any cancellation type).
    template <class Token = boost::asio::deferred_t>
    auto async_sleep(boost::asio::any_io_executor ex, clock_type::duration d, Token&& token = {}) {
        return boost::asio::async_initiate<Token, void(error_code)>(
            [this](auto handler, boost::asio::any_io_executor e, clock_type::duration dd) {
                do_sleep(std::move(e), dd, std::move(handler));
            },
            token, std::move(ex), d);
    }

protected:
    virtual void do_sleep(boost::asio::any_io_executor ex, clock_type::duration d,
                          boost::asio::any_completion_handler<void(error_code)> handler) = 0;
};

/// Real time: steady_clock and asio::steady_timer. Stateless: safe from any
/// thread (each sleep is its own timer on the executor it is given).
std::shared_ptr<timer_service> system_timer_service();

/// Virtual time for tests. In auto-advance mode (the default) a sleep completes
/// at once and moves now() forward by its duration; otherwise sleeps wait until
/// advance() passes their deadline. Either way every requested sleep is recorded.
/// Not thread-safe: for tests on one thread.
class manual_timer_service : public timer_service {
public:
    explicit manual_timer_service(bool auto_advance = true);
    ~manual_timer_service() override;

    clock_type::time_point now() const override { return now_; }
    /// Moves time forward and completes the sleeps that are due.
    void advance(clock_type::duration d);
    /// Durations of all sleeps requested so far, in order.
    const std::vector<clock_type::duration>& sleeps() const noexcept { return sleeps_; }
    std::size_t pending() const noexcept;

protected:
    void do_sleep(boost::asio::any_io_executor ex, clock_type::duration d,
                  boost::asio::any_completion_handler<void(error_code)> handler) override;

private:
    struct waiter;
    bool auto_advance_;
    clock_type::time_point now_;
    std::vector<clock_type::duration> sleeps_;
    std::vector<std::shared_ptr<waiter>> waiters_;
};

}  // namespace cspark
