// Many migrations at once: migrate_fleet, with checkpoints a journal records
// and resumes from.
#pragma once

#include <cspark/requests.hpp>
#include <cspark/results.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace cspark {

class impex;

/// Where a migration stands: what a journal records, and where a rerun
/// resumes (a job by id, a POST by its correlation id, a verified package).
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
    enum class kind { export_intent, export_job, downloaded, import_intent, import_job } what = kind::export_intent;
    std::string id;                     ///< correlation id (intents) or job id
    std::filesystem::path path;         ///< downloaded
    std::string sha256;                 ///< downloaded
};

struct fleet_entry {
    std::string name;       ///< for reports
    impex* source = nullptr;
    impex* target = nullptr;
    migrate_request request;
    migration_checkpoint resume;  ///< empty = from the start
};

struct fleet_options {
    std::size_t concurrency = 64;  ///< migrations in flight at once
    /// Called for each event of each migration (index into the entries).
    std::function<void(std::size_t, const progress_event&)> progress;
    /// Called when a migration ends.
    std::function<void(std::size_t, const migration_result&)> finished;
    /// Awaited at each step of each migration (a journal); intents before their POST.
    std::function<boost::asio::awaitable<void>(std::size_t, const checkpoint_event&)> checkpoint;
};

/// Whether a flow that ended with `ec` has a known outcome. False for a
/// cancelled step, a job whose state could not be learned (job_state_unknown,
/// poll_timeout) and an upload that may have made a job (import_outcome_unknown):
/// resume those (by job id or correlation id), never start them over.
bool outcome_known(error_code ec) noexcept;

/// Migrates every entry concurrently on the clients' executor, at most
/// `concurrency` at a time, one export job per source tenant and one import
/// job per target tenant at a time (Spark's limit: jobs of one tenant queue,
/// different tenants run in parallel). One failure never stops the others.
boost::asio::awaitable<std::vector<migration_result>> migrate_fleet(std::vector<fleet_entry> entries,
                                                                   fleet_options options);


}  // namespace cspark
