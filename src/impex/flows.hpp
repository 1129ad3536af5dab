// Internal: the ImpEx flows as non-throwing coroutines, shared by the public
// impex methods and the fleet runner.
#pragma once

#include <cspark/impex.hpp>

#include "impex/job_kind.hpp"

#include "core/waiters.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

namespace cspark::detail {

template <class T>
struct outcome {
    error_code ec;
    T value;
};

template <class T>
boost::asio::awaitable<T> strand_body(boost::asio::awaitable<T> body) {
    co_await boost::asio::this_coro::throw_if_cancelled(false);
    // The caller's filter has chosen what reaches here: let all of it through.
    co_await boost::asio::this_coro::reset_cancellation_state(boost::asio::enable_total_cancellation());
    co_return co_await std::move(body);
}

/// Runs `body` on `strand` and resumes the caller on its own executor: how a
/// flow awaited from any thread keeps its client's state on the client's
/// strand. The caller's cancellation reaches the body (co_spawn carries it to
/// the strand); the body's exceptions reach the caller.
template <class T>
boost::asio::awaitable<T> on_strand(boost::asio::any_io_executor strand, boost::asio::awaitable<T> body) {
    auto spawned = boost::asio::co_spawn(std::move(strand), strand_body(std::move(body)), boost::asio::use_awaitable);
    T value = co_await std::move(spawned);  // a named local (g++ 12: docs/contributing.md, "Compiler notes")
    co_return value;
}

/// The verbs' launcher: runs `op` on the client's executor and completes `h`
/// with (ec, value); the handler's cancellation slot reaches the coroutine and
/// every wait in it. (on_strand above is the awaitable counterpart.)
template <class T>
void launch(boost::asio::any_io_executor ex, boost::asio::awaitable<outcome<T>> op, boost::asio::any_completion_handler<void(error_code, T)> h) {
    auto slot = boost::asio::get_associated_cancellation_slot(h);
    auto done = [h = std::move(h), ex](std::exception_ptr e, outcome<T> out) mutable {
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const boost::system::system_error& x) {
                out.ec = x.code() == boost::asio::error::operation_aborted ? error_code(errc::cancelled) : x.code();
            } catch (...) {
                out.ec = errc::internal_error;
            }
        }
        boost::asio::dispatch(ex, boost::asio::append(std::move(h), out.ec, std::move(out.value)));
    };
    // Bound to the strand: co_spawn then carries a cancellation emitted on the
    // caller's thread over to the strand before the coroutine sees it.
    boost::asio::co_spawn(ex, std::move(op), boost::asio::bind_cancellation_slot(slot, boost::asio::bind_executor(ex, std::move(done))));
}

/// An async mutex per key (a tenant's export or import slot): its waiters
/// are woken by release(). Used on one strand (a fleet's).
class gates {
public:
    explicit gates(boost::asio::any_io_executor ex) : ex_(ex), transfer_waiters_(std::move(ex)) {}

    /// Returns false when the caller was cancelled while waiting.
    boost::asio::awaitable<bool> acquire(const std::string& key);
    void release(const std::string& key);
    bool busy(const std::string& key) const {
        auto g = gates_.find(key);
        return g != gates_.end() && g->second.busy;
    }
    std::function<void()> on_release;  ///< called after each release (a scheduler wakes)

    /// Work still to do per slot key: a fleet's groups, not yet ended, that
    /// export from or import into that tenant (their chain of jobs).
    void add_work(const std::string& key, int n);
    /// A transfer's priority: the longer of its two tenants' chains.
    int priority(const std::string& export_key, const std::string& import_key) const;
    /// Transfers (downloads, import uploads) by priority: one waits while a
    /// transfer of higher priority runs, so the longest chain's hand-off is
    /// not shared with flows that have jobs to spare; equal priorities never
    /// wait for each other (a fleet of one group per pair never waits).
    /// False when the caller was cancelled while waiting.
    boost::asio::awaitable<bool> begin_transfer(int priority);
    void end_transfer(int priority);

private:
    struct gate {
        bool busy = false;
        std::unique_ptr<waiters> waiting;  ///< made on the first wait (most slots never have one)
    };
    boost::asio::any_io_executor ex_;
    std::map<std::string, gate> gates_;
    std::map<std::string, int> work_;
    std::multiset<int> transfers_;  ///< priorities of the transfers running
    waiters transfer_waiters_;
};

boost::asio::awaitable<outcome<export_result>> run_exp(client& c, export_request r);
boost::asio::awaitable<outcome<import_result>> run_imp(client& c, import_request r);
/// Export from `src`, import each package into `dst`: the engine from the
/// start, or from a checkpoint. With `g`, each job holds its tenant's slot;
/// `checkpoint` is awaited at each step (intents before their POST).
boost::asio::awaitable<migration_result> run_migrate(
    client& src, client& dst, migrate_request req, gates* g, const migration_checkpoint& from,
    std::function<boost::asio::awaitable<void>(const checkpoint_event&)> checkpoint,
    std::uint64_t max_package_bytes = 200ull * 1024 * 1024);

/// The key of a tenant's job slot in `gates` ("export {base url}"); also
/// the key of its jobs' durations in the transport's job_history.
std::string slot_key(job_kind kind, const client& c);
/// The key of the durations of a Spark host's jobs of `kind` ("export {origin}"):
/// what stands in for a tenant with no history yet.
std::string host_key(job_kind kind, const client& c);

}  // namespace cspark::detail
