// Shell completions and the man page, made from the command line's own
// definition (so they never drift from it): `cspark-impex completion bash`.
// Pure text rendering; spec_of() (options.cpp) reads it from CLI11.
#pragma once

#include <string>
#include <vector>

namespace cspark::cli {

struct cli_spec {
    struct option {
        std::vector<std::string> names;  ///< "--base-url", "-o"
        bool takes_value = false;
        bool is_file = false;            ///< a path: complete file names
        std::string help;
    };
    struct command {
        std::string name, help;
        std::vector<option> options;
    };
    std::string name, help, footer, version;
    std::vector<option> global;
    std::vector<command> commands;
};

std::string bash_completion(const cli_spec& s);
std::string zsh_completion(const cli_spec& s);
std::string fish_completion(const cli_spec& s);
/// roff (man 7 man): NAME, SYNOPSIS, COMMANDS with their options, then the
/// help footer's sections (examples, environment, exit codes).
std::string man_page(const cli_spec& s);

}  // namespace cspark::cli
