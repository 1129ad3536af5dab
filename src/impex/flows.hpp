// Internal: the ImpEx flows as non-throwing coroutines, shared by the public
// impex methods and the fleet runner.
#pragma once

#include <cspark/impex.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace cspark::detail {

template <class T>
struct outcome {
    error_code ec;
    T value;
};

/// An async mutex per key (a tenant's export or import slot): waiters sleep
/// on a timer that release() cancels. Single-threaded, like the clients.
class gates {
public:
    explicit gates(boost::asio::any_io_executor ex) : ex_(std::move(ex)) {}

    /// Returns false when the caller was cancelled while waiting.
    boost::asio::awaitable<bool> acquire(const std::string& key);
    void release(const std::string& key);

private:
    struct gate {
        bool busy = false;
        std::deque<std::shared_ptr<boost::asio::steady_timer>> waiters;
    };
    boost::asio::any_io_executor ex_;
    std::map<std::string, gate> gates_;
};

/// Holds a gate key until destroyed (the caller acquired it).
struct gate_lease {
    gates& g;
    std::string key;
    ~gate_lease() { g.release(key); }
};

/// The id of the tenant's `kind` job tagged `correlation_id`, from describe
/// (jobs running or finished in the last hour); nullopt when none or when
/// describe fails.
boost::asio::awaitable<std::optional<std::string>> find_job_by_correlation(client& c, std::string kind,
                                                                           std::string correlation_id);

boost::asio::awaitable<outcome<export_result>> run_exp(client& c, export_request r);
boost::asio::awaitable<outcome<import_result>> run_imp(client& c, import_request r);
/// Export from `src`, import each file into `dst`; with `g`, holds the source
/// tenant's export slot and the target tenant's import slot around each job.
boost::asio::awaitable<migration_result> run_migrate(client& src, client& dst, migrate_request req, gates* g);

}  // namespace cspark::detail
