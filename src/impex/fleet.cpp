// Many tenant migrations on one io_context: `concurrency` worker coroutines
// take entries in order; gates per (tenant, job kind) keep Spark's
// one-running-job rule, so jobs of one tenant queue while different tenants
// run in parallel.
#include <cspark/impex.hpp>

#include "impex/flows.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>

namespace cspark {
namespace asio = boost::asio;

namespace {

struct fleet_state {
    std::vector<fleet_entry> entries;
    fleet_options options;
    std::vector<migration_result> results;
    std::size_t next = 0;
    std::size_t workers_left = 0;
    std::unique_ptr<detail::gates> gates;
    std::shared_ptr<asio::steady_timer> all_done;
};

asio::awaitable<void> worker(std::shared_ptr<fleet_state> st) {
    co_await asio::this_coro::throw_if_cancelled(false);
    while (st->next < st->entries.size()) {
        std::size_t i = st->next++;
        auto& e = st->entries[i];
        migration_result m;
        if (!e.source || !e.target) {
            m.ec = errc::invalid_argument;
            m.diag.detail = "fleet entry '" + e.name + "' lacks a source or a target";
        } else {
            auto req = e.request;
            if (st->options.progress) {
                auto user = req.exports.progress;
                auto fleet_progress = st->options.progress;
                req.exports.progress = [user, fleet_progress, i](const progress_event& ev) {
                    if (user) user(ev);
                    fleet_progress(i, ev);
                };
            }
            std::function<asio::awaitable<void>(const checkpoint_event&)> checkpoint;
            if (st->options.checkpoint)
                checkpoint = [fn = st->options.checkpoint, i](const checkpoint_event& ev) { return fn(i, ev); };
            m = co_await detail::run_migrate(e.source->get_client(), e.target->get_client(), std::move(req),
                                             st->gates.get(), e.resume, std::move(checkpoint));
        }
        if (st->options.finished) st->options.finished(i, m);
        st->results[i] = std::move(m);
        auto cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none) break;
    }
}

}  // namespace

asio::awaitable<std::vector<migration_result>> migrate_fleet(std::vector<fleet_entry> entries, fleet_options options) {
    co_await asio::this_coro::throw_if_cancelled(false);
    auto ex = co_await asio::this_coro::executor;
    auto st = std::make_shared<fleet_state>();
    st->entries = std::move(entries);
    st->options = std::move(options);
    st->results.resize(st->entries.size());
    st->gates = std::make_unique<detail::gates>(ex);
    st->all_done = std::make_shared<asio::steady_timer>(ex, asio::steady_timer::time_point::max());
    std::size_t n = std::min(std::max<std::size_t>(st->options.concurrency, 1), st->entries.size());
    st->workers_left = n;
    std::vector<std::shared_ptr<asio::cancellation_signal>> signals;
    for (std::size_t w = 0; w < n; ++w) {
        auto sig = std::make_shared<asio::cancellation_signal>();
        signals.push_back(sig);
        auto on_done = [st, sig](std::exception_ptr) {
            if (--st->workers_left == 0) st->all_done->cancel();
        };
        asio::co_spawn(ex, worker(st), asio::bind_cancellation_slot(sig->slot(), std::move(on_done)));
    }
    while (st->workers_left > 0) {
        co_await st->all_done->async_wait(asio::as_tuple(asio::use_awaitable));
        auto cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none) {
            for (auto& s : signals) s->emit(asio::cancellation_type::terminal);
            co_await asio::this_coro::reset_cancellation_state();
        }
    }
    co_return std::move(st->results);
}

}  // namespace cspark
