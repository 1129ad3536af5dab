// cspark-impex: export, import, migrate, status, cancel, describe, inspect.
#include "cli/cli.hpp"
#include "cli/commands.hpp"
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

// Runs one awaitable to completion with Ctrl-C cancelling it.
template <class T>
int run_command(asio::io_context& io, asio::awaitable<T> op, const output& out, const std::function<int(T&)>& on_ok) {
    auto got = interruptible(io, std::move(op));
    if (got.interrupted) {
        out.result(json::object{{"error", "interrupted"}});
        return interrupted;
    }
    if (got.failure) {
        try {
            std::rethrow_exception(got.failure);
        } catch (const spark_error& e) {
            out.error(e.what());
            out.result(error_json(e.code(), e.diag()));
            return exit_code_for(e.code());
        } catch (const std::exception& e) {
            out.error(e.what());
            return cli::failed;
        }
    }
    return on_ok(*got.value);
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
    return run_command<export_result>(io, spark->exp(req), out, [&](export_result& r) {
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
    return run_command<import_result>(io, spark->imp(ir), out, [&](import_result& r) {
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
    return run_command<migration_result>(io, source->migrate(*target, mr), out, [&](migration_result& m) {
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
    return run_command<job_status>(io, std::move(op), out, [&](job_status& j) {
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
    return run_command<json::value>(io, verbs.describe(), out, [&](json::value& v) {
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
    commands c{};
    define_commands(app, a, c);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : usage;
    }
    if (c.proxy->count() > 0 || c.no_proxy->count() > 0) {
        std::optional<std::string> choice = c.no_proxy->count() > 0 ? std::string() : a.proxy;
        a.conn.proxy = a.from.proxy = a.to.proxy = choice;
    }
    if (c.completion->parsed() || c.man->parsed()) {
        auto spec = spec_of(app, std::string(cspark::version));
        std::cout << (c.man->parsed() ? man_page(spec) : a.shell == "bash" ? bash_completion(spec)
                                                     : a.shell == "zsh"  ? zsh_completion(spec)
                                                                       : fish_completion(spec));
        return 0;
    }
    if (!a.trace_path.empty()) {
        try {
            a.out.trace = std::make_shared<har_trace>(a.trace_path);
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
