// cspark-impex command-line tool: shared pieces of the commands.
#pragma once

#include <cspark/impex.hpp>
#include <cspark/trace.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cspark::cli {

/// Exit codes: 0 all succeeded, 1 some migration/job failed, 2 bad usage or
/// bad input, 3 interrupted, 4 an outcome is unknown (a job's state could not
/// be learned, or an upload may have made a job): nothing was repeated; check
/// with `status ID` or rerun the batch to resume; 5 credentials rejected
/// (401/403) or a permission missing.
enum exit_code : int { ok = 0, failed = 1, usage = 2, interrupted = 3, unknown = 4, denied = 5 };

/// The exit code for a flow that failed with `ec`.
int exit_code_for(error_code ec);

/// "K/N" with whole numbers 0 <= K < N; false otherwise. "/N" takes K from
/// `job_index` (JOB_COMPLETION_INDEX of a Kubernetes Indexed Job; null = unset).
bool parse_shard(const std::string& spec, std::size_t& k, std::size_t& n, const char* job_index = nullptr);

/// "500KB", "512MB", "2GB" (powers of 1024), or plain bytes; nullopt otherwise.
std::optional<std::uint64_t> parse_size(const std::string& spec);

/// "500ms", "60s", "2m", "1h", or plain milliseconds ("1500"); nullopt otherwise.
std::optional<std::chrono::milliseconds> parse_duration(const std::string& spec);

/// Connection options as given on the command line. Credentials are never
/// values on the command line: only names of variables or files holding them.
struct connection_options {
    std::string base_url, env, tenant;
    long timeout_ms = 60000;
    int max_retries = 2;
    long retry_interval_ms = 1000;
    std::string ca_file;
    bool insecure = false;
    std::string api_key_env, token_env, oauth_file;  ///< "" = CSPARK_* defaults
    /// What named api_key_env / token_env, for the error when a variable is
    /// not set ("--from-api-key-env", "plan entry 'm-1': source.api_key_env").
    std::string api_key_env_from = "--api-key-env", token_env_from = "--token-env";
    std::optional<std::string> proxy;  ///< --proxy URL / --no-proxy (""); nullopt = the environment's
};

/// A client_config from the options; CSPARK_* fill what is not named.
client_config to_config(const connection_options& o);

/// "SRC[=DST][@major|minor|patch]"; nullopt with `why` otherwise.
std::optional<service_mapping> parse_destination(const std::string& spec, std::string& why);

/// One progress bar line (no \r): "what [#####...] 45% 4.5/10.0 MiB 12.3 MiB/s 0:02 left";
/// rate and time left once `seconds` > 0 and bytes moved, "done in 0:03" at the end.
std::string progress_bar(const std::string& what, std::uint64_t bytes, std::uint64_t total, double seconds);

struct output {
    bool json = false;
    bool quiet = false;
    bool verbose = false;
    bool tty = false;  ///< stderr is a terminal: progress bars
    /// A bar is drawn and not ended: the next line starts on its own line.
    std::shared_ptr<bool> bar_open = std::make_shared<bool>(false);
    std::shared_ptr<har_trace> trace;  ///< --trace FILE: every exchange of every client, as HAR

    void info(const std::string& line) const;   ///< stderr, unless quiet or json
    void error(const std::string& line) const;  ///< stderr, always
    void result(const boost::json::value& doc) const;  ///< stdout when json
    progress_fn progress(const std::string& label) const;
    logger log() const;
};

/// Writes `data` to path + suffix and renames it over `path`: a reader sees
/// the old file or the new one, never half; nothing is left on failure.
/// Returns 0 or the errno.
int replace_file(const std::string& path, std::string_view data, const char* suffix);

/// Runs `op` on `io`, cancelling it on SIGINT/SIGTERM. Returns false when
/// interrupted.
bool run_interruptible(boost::asio::io_context& io, const std::function<void(boost::asio::cancellation_slot)>& start,
                       const std::function<bool()>& done);

/// What came of an awaitable run to its end (interruptible()).
template <class T>
struct ran {
    std::optional<T> value;      ///< it completed
    std::exception_ptr failure;  ///< it threw
    bool interrupted = false;    ///< Ctrl-C (or SIGTERM) cancelled it
};

/// The command line's one launcher: runs `op` on `io` to its end, Ctrl-C
/// cancelling it (the coroutine then winds down: server jobs cancelled,
/// partial files removed).
template <class T>
ran<T> interruptible(boost::asio::io_context& io, boost::asio::awaitable<T> op) {
    ran<T> out;
    bool done = false;
    bool completed = run_interruptible(
        io,
        [&](boost::asio::cancellation_slot slot) {
            auto finish = [&](std::exception_ptr e, T v) {
                out.failure = e;
                if (!e) out.value = std::move(v);
                done = true;
            };
            boost::asio::co_spawn(io, std::move(op), boost::asio::bind_cancellation_slot(slot, std::move(finish)));
        },
        [&] { return done; });
    out.interrupted = !completed;
    return out;
}

boost::json::value to_json(const job_status& j);
boost::json::value to_json(const downloaded_file& f);
boost::json::value to_json(const import_outcome& o);
boost::json::value to_json(const import_result& r);
boost::json::value error_json(const error_code& ec, const diagnostics& d);
boost::json::value to_json(const std::vector<job_message>& warnings);

/// A describe document (GET {kind}/status) as a table for people: kind, id,
/// status (in-progress jobs marked "*"), created, took, source system,
/// correlation id; newest first; a last line with the jobs in progress.
std::string describe_table(const boost::json::value& doc, const std::string& kind);

/// One line per warning of `j`: "export job ID: CODE: message".
std::vector<std::string> warning_lines(const job_status& j);
/// Every warning of a migration's jobs (export, then each import).
std::vector<std::string> warning_lines(const migration_result& m);

struct batch_options {
    std::size_t concurrency = 64;  ///< flows in flight (a combined job counts one)
    bool coalesce = true;          ///< migrations of one tenant pair share an export and an import job
    std::size_t max_services = 100;  ///< per combined job
    std::string metrics_path;      ///< "" = none; else a Prometheus text file, replaced every second
};

/// `batch plan.json --journal run.jsonl`; returns the exit code.
int batch(const std::string& plan, const std::string& journal, const batch_options& options, const std::string& shard,
          const connection_options& defaults, std::chrono::milliseconds poll_timeout, const output& out);
/// `batch --report J... [--html FILE]`: merges journals into one summary
/// (and one HTML page).
int report(const std::vector<std::string>& journals, const std::string& html, const output& out);

struct extract_options;
/// `inspect pkg.zip [--extract DIR]`; returns the exit code.
int inspect(const std::string& file, const std::string& extract_dir, const extract_options& extract, const output& out);

}  // namespace cspark::cli
