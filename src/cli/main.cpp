// cspark-impex: export, import, migrate, status, cancel, describe, inspect.
#include "cli/cli.hpp"
#include "cli/extract.hpp"

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

void add_connection(CLI::App* cmd, connection_options& o, const std::string& prefix = "") {
    std::string p = prefix.empty() ? "--" : "--" + prefix + "-";
    std::string who = prefix.empty() ? "" : " (" + prefix + ")";
    cmd->add_option(p + "base-url", o.base_url, "Tenant base URL" + who + " (default: CSPARK_BASE_URL)");
    cmd->add_option(p + "env", o.env, "Spark environment, e.g. uat.us" + who);
    cmd->add_option(p + "tenant", o.tenant, "Tenant" + who);
    cmd->add_option(p + "timeout", o.timeout_ms, "Request timeout in ms" + who)->capture_default_str();
    cmd->add_option(p + "max-retries", o.max_retries,
                    "Retries of one HTTP request after a transient failure (network, 429, 5xx)" + who +
                        "; how long a job is awaited is --poll-timeout")->capture_default_str();
    cmd->add_option(p + "retry-interval", o.retry_interval_ms,
                    "First wait in ms before a retry or the next status check (waits grow x1.5 to 10 s)" + who)->capture_default_str();
    cmd->add_option(p + "ca-file", o.ca_file, "Extra trusted CA (PEM)" + who)->check(CLI::ExistingFile);
    cmd->add_flag(p + "insecure", o.insecure, "Skip TLS verification (testing only)" + who);
    cmd->add_option(p + "api-key-env", o.api_key_env, "Name of the variable holding the API key" + who);
    cmd->add_option(p + "token-env", o.token_env, "Name of the variable holding a bearer token" + who);
    cmd->add_option(p + "oauth-file", o.oauth_file, "JSON file with client_id/client_secret" + who)->check(CLI::ExistingFile);
}

struct export_options {
    std::vector<std::string> services, folders, version_ids;
    std::string file_filter = "migrate", version_filter = "latest", directory = ".", source_system, correlation_id;
    std::string poll_timeout = "30m";
    bool overwrite = false;
};

// --poll-timeout: the whole wait for one job (status checks included).
void add_poll_timeout(CLI::App* cmd, std::string& value) {
    cmd->add_option("--poll-timeout", value,
                    "How long to wait for a job to end, e.g. 90s, 5m, 2h (plain numbers are ms); then the job's "
                    "state is reported unknown (exit 4) with its id")
        ->check([](const std::string& v) { return parse_duration(v) ? std::string() : "'" + v + "' is not a duration such as 500ms, 60s, 2m or 1h"; })
        ->capture_default_str();
}

std::chrono::milliseconds duration_of(const std::string& v) { return parse_duration(v).value_or(std::chrono::minutes(30)); }

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
    r.file_filter = e.file_filter == "onpremises" ? file_filter::onpremises : file_filter::migrate;
    r.version_filter = e.version_filter == "all" ? version_filter::all : version_filter::latest;
    r.source_system = e.source_system;
    r.correlation_id = e.correlation_id;
    r.poll.retry_interval = std::chrono::milliseconds(c.retry_interval_ms);  // status checks: bounded by the deadline
    r.poll.deadline = duration_of(e.poll_timeout);
    r.directory = e.directory;
    r.overwrite = e.overwrite;
    return r;
}

if_present to_if_present(const std::string& s) {
    return s == "abort" ? if_present::abort : s == "replace" ? if_present::replace : if_present::add_version;
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

// Wraps a completion-token verb as an awaitable that throws spark_error.
template <class T, class Verb>
asio::awaitable<T> verb(Verb v) {
    auto result = co_await v(asio::as_tuple(asio::use_awaitable));
    error_code ec = std::get<0>(result);
    T value = std::move(std::get<1>(result));
    if (ec) {
        diagnostics d;
        if constexpr (std::is_same_v<T, job_status>) d = value.diag;
        throw spark_error(ec, d);
    }
    co_return value;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"cspark-impex: move Coherent Spark services between tenants (ImpEx API)"};
    app.require_subcommand(1);
    output out;
    out.tty = ::isatty(2);
    app.add_flag("--json", out.json, "Print one JSON result document on stdout");
    app.add_flag("--quiet", out.quiet, "Only errors");
    app.add_flag("--verbose", out.verbose, "Log every request");

    connection_options conn, from, to;
    export_options exp_opts;
    std::string file, if_present_s = "add_version", job_id, kind = "export", extract;
    std::vector<std::string> destinations_s;
    bool wait = false, keep = false;

    auto* exp_cmd = app.add_subcommand("export", "Export services into verified ZIP packages");
    add_connection(exp_cmd, conn);
    add_export(exp_cmd, exp_opts);
    exp_cmd->add_option("-o,--output", exp_opts.directory, "Directory for the packages")->capture_default_str();
    exp_cmd->add_flag("--overwrite", exp_opts.overwrite, "Replace packages already in the output directory");
    add_poll_timeout(exp_cmd, exp_opts.poll_timeout);

    auto* imp_cmd = app.add_subcommand("import", "Import a package into a tenant");
    add_connection(imp_cmd, conn);
    imp_cmd->add_option("--file", file, "Package (ZIP) to upload")->required()->check(CLI::ExistingFile);
    imp_cmd->add_option("--destination", destinations_s, "SRC[=DST][@major|minor|patch], repeatable")->required();
    imp_cmd->add_option("--if-present", if_present_s, "abort | replace | add_version")
        ->check(CLI::IsMember({"abort", "replace", "add_version"}))->capture_default_str();
    add_poll_timeout(imp_cmd, exp_opts.poll_timeout);
    std::uint64_t max_package_mb = 200;
    imp_cmd->add_option("--max-package-mb", max_package_mb,
                        "Refuse packages larger than this before uploading (Spark's default limit; 0 = no check)")->capture_default_str();

    auto* mig_cmd = app.add_subcommand("migrate", "Export from one tenant and import into another");
    add_connection(mig_cmd, from, "from");
    add_connection(mig_cmd, to, "to");
    add_export(mig_cmd, exp_opts);
    mig_cmd->add_option("--destination", destinations_s, "SRC[=DST][@upgrade] (default: every service to itself)");
    mig_cmd->add_option("--if-present", if_present_s, "abort | replace | add_version")
        ->check(CLI::IsMember({"abort", "replace", "add_version"}))->capture_default_str();
    mig_cmd->add_option("-o,--output", exp_opts.directory, "Where the package is kept with --keep");
    mig_cmd->add_flag("--keep", keep, "Keep the exported package");
    mig_cmd->add_flag("--overwrite", exp_opts.overwrite, "With --keep: replace a package already in the output directory");
    add_poll_timeout(mig_cmd, exp_opts.poll_timeout);

    auto* st_cmd = app.add_subcommand("status", "Show a job's status (or wait for it with --wait)");
    add_connection(st_cmd, conn);
    st_cmd->add_option("job", job_id, "Job id or status URL")->required();
    st_cmd->add_option("--kind", kind, "export | import")->check(CLI::IsMember({"export", "import"}))->capture_default_str();
    st_cmd->add_flag("--wait", wait, "Poll until the job ends");
    add_poll_timeout(st_cmd, exp_opts.poll_timeout);

    auto* cancel_cmd = app.add_subcommand("cancel", "Cancel an export job");
    add_connection(cancel_cmd, conn);
    cancel_cmd->add_option("job", job_id, "Export job id")->required();

    auto* desc_cmd = app.add_subcommand("describe", "Jobs in progress and finished in the last hour");
    add_connection(desc_cmd, conn);
    desc_cmd->add_option("--kind", kind, "export | import")->check(CLI::IsMember({"export", "import"}))->capture_default_str();

    auto* batch_cmd = app.add_subcommand("batch", "Migrations from a plan with a resumable journal");
    std::string plan, journal_path, shard;
    std::size_t concurrency = 64;
    std::vector<std::string> report_journals;
    batch_cmd->add_option("plan", plan, "Plan (JSON): migrations with source, target, export, destination")->check(CLI::ExistingFile);
    batch_cmd->add_option("--journal", journal_path, "Journal (JSON lines): rerun the same command to resume");
    batch_cmd->add_option("--concurrency", concurrency, "Migrations in flight")->capture_default_str();
    batch_cmd->add_option("--shard", shard, "K/N: take this process's share of the plan");
    batch_cmd->add_option("--report", report_journals, "Merge these journals into one summary (no plan needed)");
    batch_cmd->add_option("--timeout", conn.timeout_ms, "Request timeout in ms")->capture_default_str();
    batch_cmd->add_option("--max-retries", conn.max_retries,
                          "Retries of one HTTP request after a transient failure; how long a job is awaited is --poll-timeout")
        ->capture_default_str();
    batch_cmd->add_option("--retry-interval", conn.retry_interval_ms,
                          "First wait in ms before a retry or the next status check")->capture_default_str();
    add_poll_timeout(batch_cmd, exp_opts.poll_timeout);
    batch_cmd->add_option("--ca-file", conn.ca_file, "Extra trusted CA (PEM)")->check(CLI::ExistingFile);
    batch_cmd->add_flag("--insecure", conn.insecure, "Skip TLS verification (testing only)");

    auto* insp_cmd = app.add_subcommand("inspect", "List a package's services, entries and CRCs; --extract safely");
    insp_cmd->add_option("file", file, "Package (ZIP)")->required();
    insp_cmd->add_option("--extract", extract,
                         "Extract below this directory: every entry is checked first (escaping names, links, duplicates, "
                         "file/directory clashes, sizes, existing files); a failure leaves nothing new behind");
    extract_options xo;
    std::string max_size = "1024MB";
    insp_cmd->add_flag("--overwrite", xo.overwrite, "With --extract: replace files that already exist");
    insp_cmd->add_option("--max-size", max_size, "With --extract: most bytes the package may expand to, e.g. 512MB, 2GB")
        ->check([](const std::string& v) { return parse_size(v) ? std::string() : "'" + v + "' is not a size such as 500KB, 512MB or 2GB"; })
        ->capture_default_str();
    insp_cmd->add_option("--max-ratio", xo.max_ratio, "With --extract: most an entry over 1 MiB may expand (uncompressed/compressed)")
        ->check(CLI::PositiveNumber)->capture_default_str();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : usage;
    }

    if (insp_cmd->parsed()) {
        xo.max_bytes = *parse_size(max_size);
        return inspect(file, extract, xo, out);
    }
    if (batch_cmd->parsed()) {
        if (!report_journals.empty()) return report(report_journals, out);
        if (plan.empty() || journal_path.empty()) {
            out.error("batch needs a plan and --journal (or --report JOURNAL...)");
            return usage;
        }
        return batch(plan, journal_path, concurrency, shard, conn, duration_of(exp_opts.poll_timeout), out);
    }

    asio::io_context io(1);
    try {
        std::vector<service_mapping> mappings;
        for (const auto& d : destinations_s) {
            std::string why;
            auto m = parse_destination(d, why);
            if (!m) {
                out.error(why);
                return usage;
            }
            mappings.push_back(*m);
        }
        auto make = [&](const connection_options& o) {
            auto cfg = to_config(o);
            cfg.log = out.log();
            if (o.insecure) out.info("warning: TLS verification is off (--insecure)");
            return std::make_unique<impex>(client(io.get_executor(), cfg));
        };

        if (exp_cmd->parsed()) {
            auto spark = make(conn);
            auto req = to_request(exp_opts, conn);
            req.progress = out.progress("export");
            return drive<export_result>(io, spark->exp(req), out, [&](export_result& r) {
                json::array files;
                for (const auto& f : r.files) {
                    if (!f.verified)
                        out.error("warning: " + f.path.string() + " was not verified by the server (no file_hash); "
                                  "its ZIP structure and CRCs were checked");
                    if (!out.json)
                        std::printf("%s  %llu bytes  sha256 %s%s\n", f.path.string().c_str(),
                                    static_cast<unsigned long long>(f.size), f.sha256.c_str(), f.verified ? " (verified)" : "");
                    files.push_back(to_json(f));
                }
                out.result(json::object{{"job", to_json(r.job)}, {"files", files}});
                return int(ok);
            });
        }
        if (imp_cmd->parsed()) {
            auto spark = make(conn);
            import_request ir{.file = file, .destination = mappings, .if_present = to_if_present(if_present_s)};
            ir.poll.retry_interval = std::chrono::milliseconds(conn.retry_interval_ms);
            ir.poll.deadline = duration_of(exp_opts.poll_timeout);
            ir.max_package_bytes = max_package_mb * 1024 * 1024;
            ir.progress = out.progress("import");
            return drive<import_result>(io, spark->imp(ir), out, [&](import_result& r) {
                if (!out.json)
                    for (const auto& s : r.services)
                        std::printf("%s -> %s: %s\n", s.source.c_str(), s.destination.c_str(), s.status.c_str());
                out.result(to_json(r));
                return int(ok);
            });
        }
        if (mig_cmd->parsed()) {
            auto source = make(from);
            auto target = make(to);
            migrate_request mr{.exports = to_request(exp_opts, from), .if_present = to_if_present(if_present_s), .keep_files = keep};
            if (!mappings.empty()) mr.destination = mappings;
            if (!keep) mr.exports.directory = std::filesystem::temp_directory_path();
            mr.exports.progress = out.progress("migrate");
            return drive<migration_result>(io, source->migrate(*target, mr), out, [&](migration_result& m) {
                if (m.ec) {
                    out.error(m.ec.message() + ": " + m.diag.to_string());
                    out.result(error_json(m.ec, m.diag));
                    return exit_code_for(m.ec);
                }
                for (const auto& f : m.exported.files)
                    if (!f.verified)
                        out.error("warning: the package was not verified by the server (no file_hash); its ZIP structure "
                                  "and CRCs were checked");
                json::array imports;
                for (const auto& r : m.imported) {
                    if (!out.json)
                        for (const auto& s : r.services)
                            std::printf("%s -> %s: %s\n", s.source.c_str(), s.destination.c_str(), s.status.c_str());
                    imports.push_back(to_json(r));
                }
                out.result(json::object{{"export", to_json(m.exported.job)}, {"imports", imports},
                                        {"elapsed_ms", m.elapsed.count()}});
                return int(ok);
            });
        }
        if (st_cmd->parsed() || cancel_cmd->parsed()) {
            auto spark = make(conn);
            poll_options po{.retry_interval = std::chrono::milliseconds(conn.retry_interval_ms),
                            .deadline = duration_of(exp_opts.poll_timeout)};
            asio::awaitable<job_status> op = cancel_cmd->parsed()
                ? verb<job_status>([&](auto token) { return spark->exports.cancel(job_id, token); })
                : (kind == "import"
                       ? verb<job_status>([&](auto token) { return wait ? spark->imports.wait(job_id, po, token) : spark->imports.get_status(job_id, token); })
                       : verb<job_status>([&](auto token) { return wait ? spark->exports.wait(job_id, po, token) : spark->exports.get_status(job_id, token); }));
            return drive<job_status>(io, std::move(op), out, [&](job_status& j) {
                if (!out.json) std::printf("%s %s: %s\n", j.kind.c_str(), j.id.c_str(), j.status.c_str());
                out.result(to_json(j));
                return int(ok);
            });
        }
        if (desc_cmd->parsed()) {
            auto spark = make(conn);
            auto op = kind == "import" ? verb<json::value>([&](auto token) { return spark->imports.describe(token); })
                                       : verb<json::value>([&](auto token) { return spark->exports.describe(token); });
            return drive<json::value>(io, std::move(op), out, [&](json::value& v) {
                if (out.json)
                    out.result(v);
                else
                    std::printf("%s\n", json::serialize(v).c_str());
                return int(ok);
            });
        }
    } catch (const spark_error& e) {
        out.error(e.what());
        out.result(error_json(e.code(), e.diag()));
        return usage;
    }
    return usage;
}
