// cspark-impex batch plans: migrations with source, target, export and
// destination, validated entry by entry (errors name the entry and field;
// secrets are refused: plans name variables and files, never values).
#pragma once

#include "cli/cli.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace cspark::cli {

struct plan_entry {
    std::string name;
    connection_options source, target;
    export_request exports;
    std::vector<service_mapping> destination;
    if_present action = if_present::add_version;
};

/// Throws spark_error(invalid_argument) naming the file, entry and field.
[[noreturn]] void plan_error(const std::string& where, const std::string& what);

/// Loads and checks a plan; connection knobs (timeouts, retries, TLS) from `defaults`.
std::vector<plan_entry> load_plan(const std::string& path, const connection_options& defaults);

/// Every credential a plan's entries name is there before anything is sent:
/// each api_key_env / token_env variable is set, each oauth_file readable.
/// Throws spark_error (missing_credentials, oauth_file_unreadable) naming the
/// entry and the field.
void check_credentials(const std::vector<plan_entry>& plan);

/// "line L, column C" of the first byte a JSON parser refuses in `text`.
std::string json_error_position(std::string_view text);

}  // namespace cspark::cli
