// The command line's grammar (commands.hpp).
#include "cli/commands.hpp"

namespace cspark::cli {

namespace {

void add_export(CLI::App* cmd, export_options& e) {
    cmd->add_option("--services", e.services, "{folder}/{service}[{version}], service/{id}, version/{id}");
    cmd->add_option("--folders", e.folders, "Folders (every service in them)");
    cmd->add_option("--version-ids", e.version_ids, "Version UUIDs");
    cmd->add_option("--file-filter", e.file_filter, "migrate | onpremises")->check(CLI::IsMember({"migrate", "onpremises"}))->capture_default_str();
    cmd->add_option("--version-filter", e.version_filter, "latest | all")->check(CLI::IsMember({"latest", "all"}))->capture_default_str();
    cmd->add_option("--source-system", e.source_system, "Source system tag");
    cmd->add_option("--correlation-id", e.correlation_id, "Correlation tag");
}

}  // namespace

export_request to_request(const export_options& e, const connection_options& c) {
    export_request r;
    r.services = e.services;
    r.folders = e.folders;
    r.version_ids = e.version_ids;
    from_string(e.file_filter, r.file_filter);  // CLI11 has checked the names
    from_string(e.version_filter, r.version_filter);
    r.source_system = e.source_system;
    r.correlation_id = e.correlation_id;
    r.poll.retry_interval = std::chrono::milliseconds(c.retry_interval_ms);  // status checks: bounded by the deadline
    r.poll.deadline = duration_of(e.poll_timeout);
    r.directory = e.directory;
    r.overwrite = e.overwrite;
    return r;
}

if_present to_if_present(const std::string& s) {
    auto action = if_present::add_version;
    from_string(s, action);
    return action;
}

namespace {

void add_if_present(CLI::App* cmd, std::string& value) {
    cmd->add_option("--if-present", value, "abort | replace | add_version")
        ->check(CLI::IsMember({"abort", "replace", "add_version"}))->capture_default_str();
}

// export, import, migrate: the commands that move packages.
void define_transfers(CLI::App& app, cli_args& a, commands& c) {
    c.exp = app.add_subcommand("export", "Export services into verified ZIP packages");
    add_connection(c.exp, a.conn);
    add_export(c.exp, a.exp);
    c.exp->add_option("-o,--output", a.exp.directory, "Directory for the packages")->capture_default_str();
    c.exp->add_flag("--overwrite", a.exp.overwrite, "Replace packages already in the output directory");
    add_poll_timeout(c.exp, a.exp.poll_timeout);

    c.imp = app.add_subcommand("import", "Import a package into a tenant");
    add_connection(c.imp, a.conn);
    c.imp->add_option("--file", a.file, "Package (ZIP) to upload")->required()->check(CLI::ExistingFile);
    c.imp->add_option("--destination", a.destinations, "SRC[=DST][@major|minor|patch], repeatable")->required();
    add_if_present(c.imp, a.if_present);
    add_poll_timeout(c.imp, a.exp.poll_timeout);
    c.imp->add_option("--max-package-mb", a.max_package_mb,
                      "Refuse packages larger than this before uploading (Spark's default limit; 0 = no check)")->capture_default_str();

    c.mig = app.add_subcommand("migrate", "Export from one tenant and import into another");
    add_connection(c.mig, a.from, "from");
    add_connection(c.mig, a.to, "to");
    add_export(c.mig, a.exp);
    c.mig->add_option("--destination", a.destinations, "SRC[=DST][@upgrade] (default: every service to itself)");
    add_if_present(c.mig, a.if_present);
    c.mig->add_option("-o,--output", a.exp.directory, "Where the package is kept with --keep");
    c.mig->add_flag("--keep", a.keep, "Keep the exported package");
    c.mig->add_flag("--overwrite", a.exp.overwrite, "With --keep: replace a package already in the output directory");
    add_poll_timeout(c.mig, a.exp.poll_timeout);
}

// status, cancel, describe: looking at jobs.
void define_jobs(CLI::App& app, cli_args& a, commands& c) {
    c.status = app.add_subcommand("status", "Show a job's status (or wait for it with --wait)");
    add_connection(c.status, a.conn);
    c.status->add_option("job", a.job_id, "Job id or status URL")->required();
    c.status->add_option("--kind", a.kind, "export | import")->check(CLI::IsMember({"export", "import"}))->capture_default_str();
    c.status->add_flag("--wait", a.wait, "Poll until the job ends");
    add_poll_timeout(c.status, a.exp.poll_timeout);

    c.cancel = app.add_subcommand("cancel", "Cancel an export job");
    add_connection(c.cancel, a.conn);
    c.cancel->add_option("job", a.job_id, "Export job id")->required();

    c.describe = app.add_subcommand("describe", "Jobs in progress and finished in the last hour");
    add_connection(c.describe, a.conn);
    c.describe->add_option("--kind", a.kind, "export | import")->check(CLI::IsMember({"export", "import"}))->capture_default_str();

    c.doctor = app.add_subcommand("doctor", "Check a tenant's URL, network, TLS and credentials without side effects "
                                            "(--from-*/--to-* check both ends of a migration)");
    add_connection(c.doctor, a.conn);
    add_connection(c.doctor, a.from, "from");
    add_connection(c.doctor, a.to, "to");
}

// batch and inspect.
void define_batch_and_inspect(CLI::App& app, cli_args& a, commands& c) {
    c.batch = app.add_subcommand("batch", "Migrations from a plan with a resumable journal");
    c.batch->add_option("plan", a.plan, "Plan (JSON): migrations with source, target, export, destination")->check(CLI::ExistingFile);
    c.batch->add_option("--journal", a.journal, "Journal (JSON lines): rerun the same command to resume");
    c.batch->add_option("--concurrency", a.batch.concurrency, "Jobs' flows in flight (a combined job counts one)")
        ->capture_default_str();
    c.batch->add_flag("--no-coalesce", a.no_coalesce,
                      "Run every migration with its own export and import job (default: migrations of one tenant pair "
                      "share them)");
    c.batch->add_option("--max-services", a.batch.max_services, "Services per combined job")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    c.batch->add_option("--shard", a.shard, "K/N: take this process's share of the plan");
    c.batch->add_option("--report", a.report, "Merge these journals into one summary (no plan needed)");
    c.batch->add_option("--html", a.html, "With --report: also write one self-contained HTML page (timeline, failures, slowest tenants)");
    c.batch->add_option("--metrics", a.batch.metrics_path,
                        "Keep a Prometheus text file up to date during the run (for node_exporter's textfile collector)");
    add_duration_ms(c.batch, "--timeout", a.conn.timeout_ms, "Request timeout");
    c.batch->add_option("--max-retries", a.conn.max_retries,
                        "Retries of one HTTP request after a transient failure; how long a job is awaited is --poll-timeout")
        ->capture_default_str();
    add_duration_ms(c.batch, "--retry-interval", a.conn.retry_interval_ms, "First wait before a retry or the next status check");
    add_poll_timeout(c.batch, a.exp.poll_timeout);
    c.batch->add_option("--ca-file", a.conn.ca_file, "Extra trusted CA (PEM)")->check(CLI::ExistingFile);
    c.batch->add_flag("--insecure", a.conn.insecure, "Skip TLS verification (testing only)");

    c.inspect = app.add_subcommand("inspect", "List a package's services, entries and CRCs; --extract safely");
    c.inspect->add_option("file", a.file, "Package (ZIP)")->required();
    c.inspect->add_option("--extract", a.extract,
                          "Extract below this directory: every entry is checked first (escaping names, links, duplicates, "
                          "file/directory clashes, sizes, existing files); a failure leaves nothing new behind");
    c.inspect->add_flag("--overwrite", a.xo.overwrite, "With --extract: replace files that already exist");
    c.inspect->add_option("--max-size", a.max_size, "With --extract: most bytes the package may expand to, e.g. 512MB, 2GB")
        ->check([](const std::string& v) { return parse_size(v) ? std::string() : "'" + v + "' is not a size such as 500KB, 512MB or 2GB"; })
        ->capture_default_str();
    c.inspect->add_option("--max-ratio", a.xo.max_ratio, "With --extract: most an entry over 1 MiB may expand (uncompressed/compressed)")
        ->check(CLI::PositiveNumber)->capture_default_str();
}

// --json, --quiet, --verbose, --trace and the proxy.
void define_globals(CLI::App& app, cli_args& a, commands& c) {
    app.add_flag("--json", a.out.json, "Print one JSON result document on stdout");
    app.add_flag("--quiet", a.out.quiet, "Only errors");
    app.add_flag("--verbose", a.out.verbose, "Log every request");
    app.add_option("--trace", a.trace_path,
                   "Write every HTTP exchange to FILE as HAR 1.2 (opens in browsers' developer tools; credentials and "
                   "link tokens masked, no package bytes): attach it when Spark answers differently");
    c.proxy = app.add_option("--proxy", a.proxy,
                                     "HTTP proxy for every request: http://[user:password@]host[:port] (default: "
                                     "HTTPS_PROXY / HTTP_PROXY / NO_PROXY, as curl reads them)");
    c.no_proxy = app.add_flag("--no-proxy")->description("Connect directly, whatever the proxy variables say");
    c.proxy->excludes(c.no_proxy);
}

// completion and man-page, defined last: listed last.
void define_help(CLI::App& app, cli_args& a, commands& c) {
    c.completion = app.add_subcommand("completion", "Print a shell completion script: bash, zsh or fish "
                                                         "(e.g. source <(cspark-impex completion bash))");
    c.completion->add_option("shell", a.shell, "bash | zsh | fish")->required()->check(CLI::IsMember({"bash", "zsh", "fish"}));
    c.man = app.add_subcommand("man-page", "Print the man page (roff)")->group("");
}

}  // namespace

void define_commands(CLI::App& app, cli_args& a, commands& c) {
    define_globals(app, a, c);
    define_transfers(app, a, c);
    define_jobs(app, a, c);
    define_batch_and_inspect(app, a, c);
    define_help(app, a, c);
}

}  // namespace cspark::cli
