// Command-line options shared by several subcommands (CLI11), and the help's
// closing text: examples, CSPARK_* variables, exit codes.
#pragma once

#include "cli/cli.hpp"
#include "cli/completion.hpp"

#include <CLI/CLI.hpp>

#include <chrono>
#include <string>

namespace cspark::cli {

/// --base-url, --env, --tenant, --timeout, --max-retries, --retry-interval,
/// TLS and credential names; with a prefix ("from") they read --from-base-url ...
void add_connection(CLI::App* cmd, connection_options& o, const std::string& prefix = "");

/// A duration option ("500ms", "60s", "2m", "1h", or plain milliseconds) kept
/// in milliseconds.
CLI::Option* add_duration_ms(CLI::App* cmd, const std::string& name, long& ms, const std::string& what);

/// --poll-timeout: the whole wait for one job (status checks included).
void add_poll_timeout(CLI::App* cmd, std::string& value);

/// A --poll-timeout value (already checked) in milliseconds.
std::chrono::milliseconds duration_of(const std::string& v);

/// The text after the option list of `cspark-impex --help`.
std::string help_footer();

/// The command line as completions and the man page need it: the visible
/// subcommands and every named option (positionals and hidden ones left out).
cli_spec spec_of(const CLI::App& app, const std::string& version);

}  // namespace cspark::cli
