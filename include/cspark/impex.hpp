// Spark's ImpEx API: export packages from one tenant, import them into
// another, under the names the official SDKs use (exp, imp, exports.*,
// imports.*, migrate), plus what they lack: verified streaming downloads that
// resume, imports that are never duplicated, real cancellation, progress and a
// fleet runner that migrates many tenant pairs on one io_context.
//
// Low-level verbs take a completion token (default asio::deferred) and
// complete with void(error_code, T); T carries `diag` on failure. Flows
// (exp, imp, migrate, migrate_fleet) return asio::awaitable<T> and throw
// spark_error. All of it runs on the client's executor; nothing is thread-safe
// beyond that (use one thread or a strand).
#pragma once

#include <cspark/client.hpp>
#include <cspark/job.hpp>
#include <cspark/service_uri.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace cspark {

enum class file_filter { migrate, onpremises };
enum class version_filter { latest, all };
enum class if_present { abort, replace, add_version };
enum class upgrade { major, minor, patch };

std::string_view to_string(file_filter f) noexcept;
std::string_view to_string(version_filter f) noexcept;
std::string_view to_string(if_present p) noexcept;
std::string_view to_string(upgrade u) noexcept;

// ------------------------------------------------------------------ progress

struct progress_event {
    enum class kind { job_created, status, bytes, retry, finished, failed } what = kind::status;
    std::string job_kind;   ///< "export" or "import"
    std::string job_id;
    std::string status;     ///< job status (status, finished)
    std::uint64_t bytes = 0, total = 0;  ///< transfer progress (bytes); total 0 = unknown
    std::chrono::milliseconds delay{0};  ///< retry: wait before the next attempt
    std::string message;    ///< retry reason, failure text
};
using progress_fn = std::function<void(const progress_event&)>;

// ------------------------------------------------------------------ results

struct export_file {
    std::string url;        ///< download link (carries its own token: treat as a secret)
    std::string file_hash;  ///< as the server gave it (empty when absent)
};

struct job_status {
    std::string id;
    std::string kind;           ///< "export" or "import"
    std::string status;         ///< as the server said it
    job_state state = job_state::pending;
    std::string status_url;
    std::int64_t process_time = 0;
    std::vector<export_file> files;   ///< exports
    boost::json::value outputs;       ///< outputs as received (services, service_versions)
    boost::json::value errors;        ///< errors as received (null when none)
    boost::json::value raw;           ///< the whole status document
    diagnostics diag;                 ///< filled when the operation failed
};

struct downloaded_file {
    std::filesystem::path path;  ///< empty for in-memory downloads
    std::string data;            ///< in-memory downloads only
    std::uint64_t size = 0;
    std::string sha256;          ///< lower-case hex of what was written
    bool verified = false;       ///< the server's file_hash matched (SHA-256 or MD5); without
                                 ///< one, a file is checked as a ZIP (CRCs) before it is kept
    int resumes = 0;             ///< times the transfer resumed with Range
    diagnostics diag;
};

struct export_result {
    job_status job;
    std::vector<downloaded_file> files;
    diagnostics diag;
};

struct import_outcome {
    std::string source;       ///< service_uri_source
    std::string destination;  ///< service_uri_destination
    std::string status;       ///< added, replaced, updated, ...
};

struct import_result {
    job_status job;
    std::vector<import_outcome> services;
    std::vector<import_outcome> versions;
    diagnostics diag;
};

// ------------------------------------------------------------------ requests

struct poll_options {
    std::optional<int> max_retries;                        ///< status checks (SDK knob); default: until deadline
    std::optional<std::chrono::milliseconds> retry_interval;  ///< first wait (SDK knob); default 1 s
    std::chrono::milliseconds max_interval{10000};          ///< waits grow x1.5 up to this
    std::chrono::milliseconds deadline{30 * 60 * 1000};     ///< whole poll
};

struct export_request {
    std::vector<std::string> folders;
    std::vector<std::string> services;     ///< "{folder}/{service}[{version}]", "service/{id}", "version/{id}"
    std::vector<std::string> version_ids;
    cspark::file_filter file_filter = cspark::file_filter::migrate;
    cspark::version_filter version_filter = cspark::version_filter::latest;
    std::string source_system;             ///< "" = "cspark-impex"
    std::string correlation_id;            ///< "" = none for initiate; exp uses a fresh "cspark-impex-{uuid}"
                                           ///< to find (and cancel) a job an interrupted request created
    std::optional<int> max_retries;        ///< polling, as the SDKs' per-call knob
    std::optional<std::chrono::milliseconds> retry_interval;
    std::chrono::milliseconds poll_deadline{30 * 60 * 1000};
    std::filesystem::path directory = ".";  ///< exp: where packages are written
    bool durable = true;                   ///< exp: fsync packages before renaming them into place
    bool overwrite = false;                ///< exp: replace files already in `directory` (default:
                                           ///< errc::file_exists, nothing downloaded)
    std::string file_prefix;               ///< exp: "" = name packages after their links; else
                                           ///< "{prefix}-{first 8 of the job id}.zip"
    progress_fn progress;
};

struct service_mapping {
    std::string source;                    ///< "{folder}/{service}" in the package
    std::string target;                    ///< "" = same as source
    cspark::upgrade upgrade = cspark::upgrade::minor;
};

/// One URI, a list of URIs, one mapping or a list of mappings.
using destinations = std::variant<std::string, std::vector<std::string>, service_mapping, std::vector<service_mapping>>;

struct import_request {
    std::filesystem::path file;            ///< the package to upload (streamed)
    destinations destination = std::vector<service_mapping>{};
    cspark::if_present if_present = cspark::if_present::add_version;
    std::string source_system;             ///< "" = "cspark-impex"
    std::string correlation_id;            ///< "" = a fresh "cspark-impex-{uuid}", used to never import twice
    std::uint64_t max_package_bytes = 200ull * 1024 * 1024;  ///< larger packages fail before sending
                                           ///< (errc::package_too_large; Spark's default limit); 0 = no check
    std::optional<int> max_retries;
    std::optional<std::chrono::milliseconds> retry_interval;
    std::chrono::milliseconds poll_deadline{30 * 60 * 1000};
    progress_fn progress;
};

struct download_options {
    std::filesystem::path directory = ".";
    std::string file_name;                 ///< "" = from the URL
    std::string expected_hash;             ///< "" = none; 64 hex SHA-256, 32 hex MD5
    int max_resumes = 5;                   ///< Range resumes after dropped connections
    bool in_memory = false;                ///< keep the bytes in downloaded_file::data
    bool durable = true;                   ///< fsync before the rename (off for packages that are
                                           ///< imported and deleted right away, as migrate does)
    bool overwrite = false;                ///< replace an existing file at the destination path
                                           ///< (default: errc::file_exists before anything is sent)
    std::uint64_t memory_limit = 64ull * 1024 * 1024;
    progress_fn progress;
};

struct migrate_request {
    export_request exports;
    destinations destination = std::vector<service_mapping>{};  ///< empty = every exported service to itself
    cspark::if_present if_present = cspark::if_present::add_version;
    bool keep_files = false;               ///< leave the packages in exports.directory
};

struct migration_result {
    export_result exported;
    std::vector<import_result> imported;
    error_code ec;                         ///< first failure; diag below
    diagnostics diag;
    std::chrono::milliseconds elapsed{0};
};

// ------------------------------------------------------------------ resources

class impex;

/// The verbs exports and imports share. Completion: void(error_code, T).
class job_verbs {
public:
    /// Polls until the job ends (wait = true) or checks once. Ends at once on
    /// a failed or cancelled job: errc::job_failed / job_cancelled with the
    /// job's errors in diag; poll_timeout when attempts or deadline run out.
    /// While waiting, checks that fail transiently (network, 429, 5xx) are
    /// asked again on the poll schedule; when the state stays unknown (or a
    /// check is refused, e.g. 401), errc::job_state_unknown naming the job:
    /// it may still finish.
    template <class Token = boost::asio::deferred_t>
    auto get_status(const std::string& job_id_or_url, poll_options poll = {}, bool wait = true, Token&& token = {}) {
        return boost::asio::async_initiate<Token, void(error_code, job_status)>(
            [this](auto h, const std::string& id, poll_options p, bool w) { do_status(id, p, w, std::move(h)); }, token,
            job_id_or_url, poll, wait);
    }
    /// GET {kind}/status: jobs in progress and finished in the last hour.
    template <class Token = boost::asio::deferred_t>
    auto describe(Token&& token = {}) {
        return boost::asio::async_initiate<Token, void(error_code, boost::json::value)>(
            [this](auto h) { do_describe(std::move(h)); }, token);
    }

protected:
    job_verbs(impex* owner, const char* kind) : owner_(owner), kind_(kind) {}
    void do_status(const std::string&, poll_options, bool, boost::asio::any_completion_handler<void(error_code, job_status)>);
    void do_describe(boost::asio::any_completion_handler<void(error_code, boost::json::value)>);
    impex* owner_;
    const char* kind_;  ///< "export" or "import"
};

/// Export verbs: initiate, get_status, download, cancel, describe.
class exports_api : public job_verbs {
public:
    /// POST export; the job as created. Errors: invalid_argument (request),
    /// HTTP errors (conflict when a job of the tenant is running).
    template <class Token = boost::asio::deferred_t>
    auto initiate(const export_request& req, Token&& token = {}) {
        return boost::asio::async_initiate<Token, void(error_code, job_status)>(
            [this](auto h, const export_request& r) { do_initiate(r, std::move(h)); }, token, req);
    }
    /// Streams one file to `opt.directory` (`.part`, hashed, verified, renamed).
    /// Errors: unsupported_scheme (a link that is not http(s)), file_exists
    /// (unless opt.overwrite), hash_mismatch, invalid_package (no hash and not
    /// a readable ZIP), file_error naming the path and the system error.
    /// Nothing is left at the destination on failure. Cancellation removes the
    /// partial file.
    template <class Token = boost::asio::deferred_t>
    auto download(const export_file& file, download_options opt = {}, Token&& token = {}) {
        return boost::asio::async_initiate<Token, void(error_code, downloaded_file)>(
            [this](auto h, const export_file& f, download_options o) { do_download(f, std::move(o), std::move(h)); },
            token, file, std::move(opt));
    }
    /// PATCH export/{id} {"export_status":"cancelled"}.
    template <class Token = boost::asio::deferred_t>
    auto cancel(const std::string& job_id, Token&& token = {}) {
        return boost::asio::async_initiate<Token, void(error_code, job_status)>(
            [this](auto h, const std::string& id) { do_cancel(id, std::move(h)); }, token, job_id);
    }

private:
    friend class impex;
    explicit exports_api(impex* owner) : job_verbs(owner, "export") {}
    void do_initiate(const export_request&, boost::asio::any_completion_handler<void(error_code, job_status)>);
    void do_download(const export_file&, download_options, boost::asio::any_completion_handler<void(error_code, downloaded_file)>);
    void do_cancel(const std::string&, boost::asio::any_completion_handler<void(error_code, job_status)>);
};

/// Import verbs: initiate, get_status, describe.
class imports_api : public job_verbs {
public:
    /// POST import (multipart streamed from the file). A send that may have
    /// reached the server is never repeated blindly: the job is looked up in
    /// describe by correlation_id, or, where describe shows none, among the
    /// tenant's jobs created since the POST began, confirmed by outputs that
    /// match the mappings sent. When no job can be told apart:
    /// errc::import_outcome_unknown (candidates in diag), nothing resent.
    /// package_too_large before sending when the file exceeds max_package_bytes.
    template <class Token = boost::asio::deferred_t>
    auto initiate(const import_request& req, Token&& token = {}) {
        return boost::asio::async_initiate<Token, void(error_code, job_status)>(
            [this](auto h, const import_request& r) { do_initiate(r, std::move(h)); }, token, req);
    }

private:
    friend class impex;
    explicit imports_api(impex* owner) : job_verbs(owner, "import") {}
    void do_initiate(const import_request&, boost::asio::any_completion_handler<void(error_code, job_status)>);
};

/// The ImpEx resource of one tenant's client: `cspark::impex spark(client)`.
class impex {
public:
    explicit impex(client c);
    impex(const impex&) = delete;
    impex& operator=(const impex&) = delete;

    exports_api exports{this};
    imports_api imports{this};

    /// initiate -> poll -> download every file (verified). Cancellation also
    /// cancels the server job (best effort) and removes partial files.
    boost::asio::awaitable<export_result> exp(export_request req);
    /// upload -> poll -> summary. Throws spark_error (job_failed with the
    /// job's errors, ...).
    boost::asio::awaitable<import_result> imp(import_request req);
    /// Export here, import into `target`.
    boost::asio::awaitable<migration_result> migrate(impex& target, migrate_request req);

    client& get_client() noexcept { return client_; }

private:
    friend class job_verbs;
    friend class exports_api;
    friend class imports_api;
    client client_;
};

// ------------------------------------------------------------------ fleets

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
                                                                   fleet_options options = {});

/// The services_modify list an import sends for `d` (exposed for tests/CLI).
/// Errors: invalid_argument naming the bad URI.
std::optional<boost::json::array> services_modify(const destinations& d, error_code& ec, std::string& why);

}  // namespace cspark
