// The command line's grammar: every subcommand and option, and what they
// fill in. main.cpp runs what was asked.
#pragma once

#include "cli/cli.hpp"
#include "cli/extract.hpp"
#include "cli/options.hpp"

#include <cspark/requests.hpp>

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace cspark::cli {

struct export_options {
    std::vector<std::string> services, folders, version_ids;
    std::string file_filter = "migrate", version_filter = "latest", directory = ".", source_system, correlation_id;
    std::string poll_timeout = "30m";
    bool overwrite = false;
};

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
    std::string trace_path, proxy, shell;  // global options; completion's shell
};

/// The subcommands (and the global options main() reads after parsing).
struct commands {
    CLI::App *exp, *imp, *mig, *status, *cancel, *describe, *batch, *inspect, *doctor, *completion, *man;
    CLI::Option *proxy, *no_proxy;
};

/// Defines the global options and every subcommand on `app`, bound to `a`.
void define_commands(CLI::App& app, cli_args& a, commands& c);

export_request to_request(const export_options& e, const connection_options& c);
if_present to_if_present(const std::string& s);

}  // namespace cspark::cli
