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

/// What became of a POST tagged with a correlation id whose answer was lost.
struct job_search {
    enum class what {
        found,        ///< `job` is the one the POST made (its status, checked once or to its end)
        not_created,  ///< no job is ours: sending again cannot duplicate anything
        unknown,      ///< cannot be told: `candidates`, `detail`, `ec` (describe failed, cancelled)
    } verdict = what::not_created;
    job_status job;
    std::vector<std::string> candidates;
    error_code ec;
    std::string detail;
};

/// Looks in the tenant's describe document for the `kind` job a POST that
/// began at `post_began` (the client's timer) made: by correlation id when the
/// server shows them, else among jobs created since, confirmed (imports, with
/// `sent` = the services_modify list) by outputs that match once they end.
boost::asio::awaitable<job_search> search_job(client& c, std::string kind, std::string correlation_id,
                                              clock_type::time_point post_began,
                                              std::optional<boost::json::array> sent, poll_options po);

/// "a, b, c"
std::string joined(const std::vector<std::string>& v);

/// One status check (wait = false), or a poll until the job ends.
boost::asio::awaitable<outcome<job_status>> poll_job(client& c, std::string kind, std::string id_or_url,
                                                     poll_options po, bool wait, progress_fn progress);

boost::asio::awaitable<outcome<export_result>> run_exp(client& c, export_request r);
boost::asio::awaitable<outcome<import_result>> run_imp(client& c, import_request r);
/// Export from `src`, import each file into `dst`; with `g`, holds the source
/// tenant's export slot and the target tenant's import slot around each job.
boost::asio::awaitable<migration_result> run_migrate(client& src, client& dst, migrate_request req, gates* g);

}  // namespace cspark::detail
