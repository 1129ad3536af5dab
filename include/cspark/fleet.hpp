// Many migrations at once: migrate_fleet, with checkpoints a journal records
// and resumes from.
#pragma once

#include <cspark/metrics.hpp>
#include <cspark/requests.hpp>
#include <cspark/results.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cspark {

class impex;

/// Where a migration stands: what a journal records, and where a rerun
/// resumes (a job by id, a POST by its correlation id, a verified package).
/// `checkpoint_event::after` is the whole value after each step; a package
/// that no longer exists when a rerun starts is fetched again from the
/// export job (keep it with `migrate_request::keep_files`).
struct migration_checkpoint {
    std::string export_correlation_id;  ///< an export POST was (maybe) sent with it ...
    std::optional<std::chrono::system_clock::time_point> export_intent;  ///< ... at this time
    std::string export_job;             ///< the export job made
    std::filesystem::path package;      ///< a downloaded, verified package (import it)
    std::string import_correlation_id;  ///< an import POST was (maybe) sent with it ...
    std::optional<std::chrono::system_clock::time_point> import_intent;  ///< ... at this time
    std::string import_job;             ///< the import job made
};

/// A step a journal records. Intents come before their POST: the fleet
/// awaits the checkpoint callback, so a journal makes them durable first.
struct checkpoint_event {
    enum class kind {
        export_intent, export_job, downloaded, import_intent, import_job,
        export_done, import_done,  ///< the job ended (succeeded or failed): for phase times, not needed to resume
    } what = kind::export_intent;
    std::string id;                     ///< correlation id (intents) or job id
    std::filesystem::path path;         ///< downloaded
    std::string sha256;                 ///< downloaded
    std::uint64_t size = 0;             ///< downloaded: bytes
    std::chrono::milliseconds duration{0};  ///< *_done: how long the job ran, as observed
    /// Where the migration stands after this step, whole (the same value a
    /// journal's records replay into). A program that keeps only the latest
    /// `after` of each migration resumes it by giving it back as
    /// `fleet_entry::resume`: jobs by id, POSTs by correlation id, never a
    /// second import.
    migration_checkpoint after;
};

struct fleet_entry {
    std::string name;       ///< for reports
    impex* source = nullptr;
    impex* target = nullptr;
    migrate_request request;
    migration_checkpoint resume;  ///< empty = from the start
};

/// Coalescing: migrations of one tenant pair (with export and import options
/// that can share a job) run as one export job carrying all their services
/// and one import job with all their mappings. Spark runs one job per tenant
/// at a time, so 50 migrations of a pair take 2 jobs instead of 100.
struct coalesce_options {
    bool enabled = false;              ///< off: every entry runs its own jobs
    std::size_t max_services = 100;    ///< per combined job: each service, folder or version id
                                       ///< an entry names (or each mapping, if more) counts one
    std::uint64_t max_package_bytes = 0;  ///< a combined package larger than this is split and
                                       ///< exported again in parts (0 = the import limit, 200 MB)
};

struct fleet_options {
    std::size_t concurrency = 64;  ///< jobs' flows in flight at once (a combined job counts one)
    /// Called for each event of each migration (index into the entries).
    std::function<void(std::size_t, const progress_event&)> progress;
    /// Called when a migration ends.
    std::function<void(std::size_t, const migration_result&)> finished;
    /// Awaited at each step (a journal); intents before their POST. `entries`
    /// are the indices the step is for: one, or every entry of a combined job.
    std::function<boost::asio::awaitable<void>(const std::vector<std::size_t>& entries, const checkpoint_event&)> checkpoint;
    coalesce_options coalesce;
    /// Counters of the run (migrations by state, jobs in flight, bytes,
    /// retries, job durations); read snapshot() while it runs. Optional.
    std::shared_ptr<fleet_monitor> monitor;
};

/// Whether a flow that ended with `ec` has a known outcome. False for a
/// cancelled step, a job whose state could not be learned (job_state_unknown,
/// poll_timeout) and an upload that may have made a job (import_outcome_unknown):
/// resume those (by job id or correlation id), never start them over.
bool outcome_known(error_code ec) noexcept;

/// Migrates every entry concurrently on the clients' executor, at most
/// `concurrency` flows at a time, one export job per source tenant and one
/// import job per target tenant at a time (Spark's limit: jobs of one tenant
/// queue, different tenants run in parallel); a free worker takes the first
/// entry whose source tenant is free, never waits behind a busy one. With
/// `coalesce`, entries of one tenant pair share jobs; a combined job that
/// fails for one entry is split until the bad entry fails alone, named, and
/// every other one migrates. Each entry gets its own result: the combined
/// jobs' ids, states and files, and its own services' outcomes from the
/// combined import (the combined status documents, `raw` and `outputs`, are
/// not copied into each entry's result). One failure never stops the others.
/// The fleet's own state lives on a strand of the awaiting coroutine's
/// executor, so any number of threads may run that executor.
boost::asio::awaitable<std::vector<migration_result>> migrate_fleet(std::vector<fleet_entry> entries,
                                                                   fleet_options options);

/// migrate_fleet with any completion token, on `ex` (any executor; the clients'):
/// void(std::exception_ptr, std::vector<migration_result>).
template <class Token>
auto async_migrate_fleet(boost::asio::any_io_executor ex, std::vector<fleet_entry> entries, fleet_options options,
                         Token&& token) {
    return boost::asio::co_spawn(std::move(ex), migrate_fleet(std::move(entries), std::move(options)),
                                 std::forward<Token>(token));
}


}  // namespace cspark
