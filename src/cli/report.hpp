// `batch --report`: what a run did, read from its journals alone (one or many,
// from shards), as text, JSON, or one self-contained HTML page.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cspark::cli {

/// A span of one row's time: "queued" (waiting for a worker and the source
/// tenant's export slot; after the download, for the target's import slot),
/// "export job", "download", "import job" (upload included). Times are
/// milliseconds since the epoch.
struct report_phase {
    std::string name;
    std::int64_t start = 0, end = 0;
    std::string outcome;  ///< "" = went on; "failed"; "unknown"
};

/// One timeline row: one migration, or the migrations of one combined job.
struct report_row {
    std::vector<std::string> members;
    std::string source, target;  ///< tenants (journals before 0.1 did not record them)
    std::string export_job, import_job;
    std::vector<report_phase> phases;
    std::string state = "in progress";  ///< done / failed / unknown / in progress
    std::string label() const;          ///< "a", or "a +49 more"
};

/// A migration that failed, or whose outcome is unknown.
struct report_failure {
    std::string migration, code, text, api_code, request_id;
    int status = 0;
    bool unknown = false;
};

/// A warning a finished job of a migration carried (the server's words).
struct report_warning {
    std::string migration, text;
};

struct run_report {
    std::size_t migrations = 0, done = 0, failed = 0, unknown = 0;
    std::vector<report_warning> warnings;  ///< every warning of the migrations' jobs, in order
    std::map<std::string, std::string> states;  ///< per migration: done, failed, unknown, in progress (last step)
    std::uint64_t bytes = 0;                    ///< packages downloaded (each once)
    std::int64_t started = 0, ended = 0;        ///< first and last record's time (ms since the epoch; 0 = unknown)
    std::size_t export_jobs = 0, import_jobs = 0, runs = 0;
    std::uint64_t retries = 0;
    std::vector<report_row> rows;
    std::vector<report_failure> failures;
    std::vector<std::int64_t> export_ms, import_ms;  ///< job durations as observed (each job once)
    /// Tenant pairs ("src -> dst") by the span from their first step to their last, slowest first.
    std::vector<std::pair<std::string, std::int64_t>> slowest;
};

/// Reads the journals in order (lines that are not JSON objects, as a torn
/// last line, are skipped). nullopt with `why` when a file cannot be read.
std::optional<run_report> read_report(const std::vector<std::string>& journals, std::string& why);

/// One HTML page (well-formed XHTML with inline SVG and CSS; no script, no
/// fetch): summary, timeline, failures by error code, slowest tenant pairs,
/// job duration histograms. Texts are escaped and link tokens masked.
std::string render_html(const run_report& r, std::string_view title);

}  // namespace cspark::cli
