// cspark-impex: export, import, migrate, status, cancel, describe, inspect.
#include "cli/cli.hpp"
#include "cli/doctor.hpp"
#include "impex/codec.hpp"
#include "impex/transfer.hpp"
#include "cli/extract.hpp"
#include "cli/options.hpp"

#include <cspark/version.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/json/serialize.hpp>

#include <CLI/CLI.hpp>

#include <iostream>
#include <unistd.h>

namespace asio = boost::asio;
namespace json = boost::json;
using namespace cspark;
using namespace cspark::cli;

namespace {

struct export_options {
    std::vector<std::string> services, folders, version_ids;
    std::string file_filter = "migrate", version_filter = "latest", directory = ".", source_system, correlation_id;
    std::string poll_timeout = "30m";
    bool overwrite = false;
};

void add_export(CLI::App* cmd, export_options& e) {
    cmd->add_option("--services", e.services, "{folder}/{service}[{version}], service/{id}, version/{id}");
    cmd->add_option("--folders", e.folders, "Folders (every service in them)");
    cmd->add_option("--version-ids", e.version_ids, "Version UUIDs");
    cmd->add_option("--file-filter", e.file_filter, "migrate | onpremises")->check(CLI::IsMember({"migrate", "onpremises"}))->capture_default_str();
    cmd->add_option("--version-filter", e.version_filter, "latest | all")->check(CLI::IsMember({"latest", "all"}))->capture_default_str();
    cmd->add_option("--source-system", e.source_system, "Source system tag");
    cmd->add_option("--correlation-id", e.correlation_id, "Correlation tag");
}

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

// Runs one awaitable to completion with Ctrl-C cancelling it.
template <class T>
int drive(asio::io_context& io, asio::awaitable<T> op, const output& out, const std::function<int(T&)>& on_ok) {
    std::optional<T> value;
    std::exception_ptr failure;
    bool done = false;
    bool completed = run_interruptible(
        io,
        [&](asio::cancellation_slot slot) {
            asio::co_spawn(io, std::move(op), asio::bind_cancellation_slot(slot, [&](std::exception_ptr e, T v) {
                               failure = e;
                               if (!e) value = std::move(v);
                               done = true;
                           }));
        },
        [&] { return done; });
    if (!completed) {
        out.result(json::object{{"error", "interrupted"}});
        return interrupted;
    }
    if (failure) {
        try {
            std::rethrow_exception(failure);
        } catch (const spark_error& e) {
            out.error(e.what());
            out.result(error_json(e.code(), e.diag()));
            return exit_code_for(e.code());
        } catch (const std::exception& e) {
            out.error(e.what());
            return cli::failed;
        }
    }
    return on_ok(*value);
}

// Everything the command line says.
struct cli_args {
    output out;
    connection_options conn, from, to;
    export_options exp;
    std::string file, if_present = "add_version", job_id, kind = "export", extract, max_size = "1024MB";
    std::vector<std::string> destinations;
    bool wait = false, keep = false;
    std::uint64_t max_package_mb = 200;
    std::string plan, journal, shard;
    batch_options batch;
    bool no_coalesce = false;
    std::vector<std::string> report;
    std::string html;
    extract_options xo;
};

struct commands {
    CLI::App *exp, *imp, *mig, *status, *cancel, *describe, *batch, *inspect, *doctor;
};

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

std::unique_ptr<impex> make_impex(asio::io_context& io, const connection_options& o, const output& out) {
    auto cfg = to_config(o);
    cfg.log = out.log();
    cfg.trace = out.trace;
    if (o.insecure) out.info("warning: TLS verification is off (--insecure)");
    return std::make_unique<impex>(client(io.get_executor(), cfg));
}

// Each warning a job ended with, one line on stderr (quiet or not: a
// warning is the server's word on what was done).
void print_warnings(const output& out, const std::vector<std::string>& lines) {
    for (const auto& line : lines) out.error("warning: " + line);
}

void warn_unverified(const output& out, const downloaded_file& f) {
    if (!f.verified)
        out.error("warning: " + (f.path.empty() ? std::string("the package") : f.path.string()) +
                  " was not verified by the server (no file_hash); its ZIP structure and CRCs were checked");
}

// The output directory can take the package: said before any request.
bool output_usable(const output& out, const std::string& dir) {
    error_code ec;
    std::string why;
    if (detail::prepare_directory(dir, ec, why)) return true;
    out.error(why);
    diagnostics d;
    d.detail = why;
    out.result(error_json(ec, d));
    return false;
}

int run_export(asio::io_context& io, cli_args& a) {
    const auto& out = a.out;
    if (!output_usable(out, a.exp.directory)) return usage;
    auto spark = make_impex(io, a.conn, out);
    auto req = to_request(a.exp, a.conn);
    req.progress = out.progress("export");
    return drive<export_result>(io, spark->exp(req), out, [&](export_result& r) {
        print_warnings(out, warning_lines(r.job));
        json::array files;
        for (const auto& f : r.files) {
            warn_unverified(out, f);
            if (!out.json)
                std::printf("%s  %llu bytes  sha256 %s%s\n", f.path.string().c_str(), static_cast<unsigned long long>(f.size),
                            f.sha256.c_str(), f.verified ? " (verified)" : "");
            files.push_back(to_json(f));
        }
        out.result(json::object{{"job", to_json(r.job)}, {"files", files}});
        return int(ok);
    });
}

void print_services(const output& out, const import_result& r) {
    if (!out.json)
        for (const auto& s : r.services) std::printf("%s -> %s: %s\n", s.source.c_str(), s.destination.c_str(), s.status.c_str());
}

int run_import(asio::io_context& io, cli_args& a, const std::vector<service_mapping>& mappings) {
    const auto& out = a.out;
    std::vector<std::string> sources;
    for (const auto& m : mappings) sources.push_back(m.source);
    std::string why, warning;
    if (!check_import_package(a.file, sources, why, warning)) {  // said before any request: no upload, no job
        out.error("import: " + why);
        diagnostics d;
        d.detail = why;
        out.result(error_json(errc::invalid_package, d));
        return usage;
    }
    if (!warning.empty()) out.error("warning: " + warning);
    auto spark = make_impex(io, a.conn, out);
    import_request ir{.file = a.file, .destination = mappings, .if_present = to_if_present(a.if_present)};
    ir.poll.retry_interval = std::chrono::milliseconds(a.conn.retry_interval_ms);
    ir.poll.deadline = duration_of(a.exp.poll_timeout);
    ir.max_package_bytes = a.max_package_mb * 1024 * 1024;
    ir.progress = out.progress("import");
    return drive<import_result>(io, spark->imp(ir), out, [&](import_result& r) {
        print_warnings(out, warning_lines(r.job));
        print_services(out, r);
        out.result(to_json(r));
        return int(ok);
    });
}

int run_migrate(asio::io_context& io, cli_args& a, const std::vector<service_mapping>& mappings) {
    const auto& out = a.out;
    if (a.keep && !output_usable(out, a.exp.directory)) return usage;
    auto source = make_impex(io, a.from, out);
    auto target = make_impex(io, a.to, out);
    migrate_request mr{.exports = to_request(a.exp, a.from), .if_present = to_if_present(a.if_present), .keep_files = a.keep};
    if (!mappings.empty()) mr.destination = mappings;
    if (!a.keep) mr.exports.directory = std::filesystem::temp_directory_path();
    mr.exports.progress = out.progress("migrate");
    return drive<migration_result>(io, source->migrate(*target, mr), out, [&](migration_result& m) {
        print_warnings(out, warning_lines(m));
        if (m.ec) {
            json::array imports;
            for (const auto& r : m.imported) {
                for (const auto& line : detail::failed_entries(r)) out.error("failed: " + line);
                imports.push_back(to_json(r));
            }
            out.error(m.ec.message() + ": " + m.diag.to_string());
            auto doc = error_json(m.ec, m.diag);
            if (!m.imported.empty()) doc.as_object()["imports"] = std::move(imports);
            out.result(doc);
            return exit_code_for(m.ec);
        }
        for (const auto& f : m.exported.files) warn_unverified(out, f);
        json::array imports;
        for (const auto& r : m.imported) {
            print_services(out, r);
            imports.push_back(to_json(r));
        }
        out.result(json::object{{"export", to_json(m.exported.job)}, {"imports", imports}, {"elapsed_ms", m.elapsed.count()}});
        return int(ok);
    });
}

// status, status --wait, cancel: one job.
int run_job(asio::io_context& io, cli_args& a, bool cancel) {
    const auto& out = a.out;
    auto spark = make_impex(io, a.conn, out);
    poll_options po{.retry_interval = std::chrono::milliseconds(a.conn.retry_interval_ms), .deadline = duration_of(a.exp.poll_timeout)};
    job_verbs& verbs = a.kind == "import" ? static_cast<job_verbs&>(spark->imports) : spark->exports;
    asio::awaitable<job_status> op = cancel ? spark->exports.cancel(a.job_id) : a.wait ? verbs.wait(a.job_id, po) : verbs.get_status(a.job_id);
    return drive<job_status>(io, std::move(op), out, [&](job_status& j) {
        if (!out.json) std::printf("%s %s: %s\n", j.kind.c_str(), j.id.c_str(), j.status.c_str());
        print_warnings(out, warning_lines(j));
        out.result(to_json(j));
        return int(ok);
    });
}

int run_describe(asio::io_context& io, cli_args& a) {
    const auto& out = a.out;
    auto spark = make_impex(io, a.conn, out);
    job_verbs& verbs = a.kind == "import" ? static_cast<job_verbs&>(spark->imports) : spark->exports;
    return drive<json::value>(io, verbs.describe(), out, [&](json::value& v) {
        if (out.json) out.result(v);
        else std::fputs(describe_table(v, a.kind).c_str(), stdout);  // for people; --json keeps the document
        return int(ok);
    });
}

int run_batch(cli_args& a) {
    if (!a.report.empty()) return report(a.report, a.html, a.out);
    if (!a.html.empty()) {
        a.out.error("--html goes with --report JOURNAL...: the page is made from journals");
        return usage;
    }
    if (a.plan.empty() || a.journal.empty()) {
        a.out.error("batch needs a plan and --journal (or --report JOURNAL...)");
        return usage;
    }
    a.batch.coalesce = !a.no_coalesce;
    return batch(a.plan, a.journal, a.batch, a.shard, a.conn, duration_of(a.exp.poll_timeout), a.out);
}

// The commands that talk to a tenant, once the destinations parse.
int run_online(const commands& c, cli_args& a) {
    std::vector<service_mapping> mappings;
    for (const auto& d : a.destinations) {
        std::string why;
        auto m = parse_destination(d, why);
        if (!m) {
            a.out.error(why);
            return usage;
        }
        mappings.push_back(*m);
    }
    asio::io_context io(1);
    try {
        if (c.exp->parsed()) return run_export(io, a);
        if (c.imp->parsed()) return run_import(io, a, mappings);
        if (c.mig->parsed()) return run_migrate(io, a, mappings);
        if (c.status->parsed() || c.cancel->parsed()) return run_job(io, a, c.cancel->parsed());
        if (c.describe->parsed()) return run_describe(io, a);
    } catch (const spark_error& e) {  // bad configuration: nothing was sent
        a.out.error(e.what());
        a.out.result(error_json(e.code(), e.diag()));
        return usage;
    }
    return usage;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"cspark-impex: move Coherent Spark services between tenants (ImpEx API)"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "cspark-impex " + std::string(cspark::version));
    app.footer(help_footer());
    app.fallthrough();  // --json, --quiet, --verbose after the subcommand too (inherited by subcommands)
    cli_args a;
    a.out.tty = ::isatty(2);
    app.add_flag("--json", a.out.json, "Print one JSON result document on stdout");
    app.add_flag("--quiet", a.out.quiet, "Only errors");
    app.add_flag("--verbose", a.out.verbose, "Log every request");
    std::string trace_path;
    app.add_option("--trace", trace_path,
                   "Write every HTTP exchange to FILE as HAR 1.2 (opens in browsers' developer tools; credentials and "
                   "link tokens masked, no package bytes): attach it when Spark answers differently");
    std::string proxy;
    auto* proxy_opt = app.add_option("--proxy", proxy,
                                     "HTTP proxy for every request: http://[user:password@]host[:port] (default: "
                                     "HTTPS_PROXY / HTTP_PROXY / NO_PROXY, as curl reads them)");
    auto* no_proxy_opt = app.add_flag("--no-proxy")->description("Connect directly, whatever the proxy variables say");
    proxy_opt->excludes(no_proxy_opt);
    commands c{};
    define_transfers(app, a, c);
    define_jobs(app, a, c);
    define_batch_and_inspect(app, a, c);
    std::string shell;
    auto* completion = app.add_subcommand("completion", "Print a shell completion script: bash, zsh or fish "
                                                         "(e.g. source <(cspark-impex completion bash))");
    completion->add_option("shell", shell, "bash | zsh | fish")->required()->check(CLI::IsMember({"bash", "zsh", "fish"}));
    auto* man = app.add_subcommand("man-page", "Print the man page (roff)")->group("");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : usage;
    }
    if (proxy_opt->count() > 0 || no_proxy_opt->count() > 0) {
        std::optional<std::string> choice = no_proxy_opt->count() > 0 ? std::string() : proxy;
        a.conn.proxy = a.from.proxy = a.to.proxy = choice;
    }
    if (completion->parsed() || man->parsed()) {
        auto spec = spec_of(app, std::string(cspark::version));
        std::cout << (man->parsed() ? man_page(spec) : shell == "bash" ? bash_completion(spec)
                                                     : shell == "zsh"  ? zsh_completion(spec)
                                                                       : fish_completion(spec));
        return 0;
    }
    if (!trace_path.empty()) {
        try {
            a.out.trace = std::make_shared<har_trace>(trace_path);
        } catch (const spark_error& e) {
            a.out.error(e.diag().detail);
            return usage;
        }
    }
    if (c.inspect->parsed()) {
        a.xo.max_bytes = *parse_size(a.max_size);
        return inspect(a.file, a.extract, a.xo, a.out);
    }
    if (c.batch->parsed()) return run_batch(a);
    if (c.doctor->parsed()) {
        std::vector<std::pair<std::string, connection_options>> sides;
        auto named = [](const connection_options& o) { return !o.base_url.empty() || !o.env.empty() || !o.tenant.empty(); };
        if (named(a.from)) sides.emplace_back("from (" + (a.from.base_url.empty() ? a.from.env + "/" + a.from.tenant : a.from.base_url) + ")", a.from);
        if (named(a.to)) sides.emplace_back("to (" + (a.to.base_url.empty() ? a.to.env + "/" + a.to.tenant : a.to.base_url) + ")", a.to);
        return doctor(a.conn, sides, a.out);
    }
    return run_online(c, a);
}
