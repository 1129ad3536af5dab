// The benches' command lines: "--name N" whole-number knobs, --help prints
// the usage (exit 0), anything else is a usage error (exit 2).
#pragma once

#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <string>

namespace bench {

/// Sets each knob named on the command line; an exit code when main should
/// return at once, none to run.
inline std::optional<int> parse_args(int argc, char** argv, const char* program, const char* usage,
                                     const std::map<std::string, std::function<void(long)>>& knobs) {
    for (int i = 1; i < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--help" || a == "-h") {
            std::cout << usage;
            return 0;
        }
        auto knob = knobs.find(a);
        char* end = nullptr;
        long v = i + 1 < argc ? std::strtol(argv[i + 1], &end, 10) : 0;
        if (knob == knobs.end() || i + 1 >= argc || *end != '\0' || v <= 0) {
            std::cerr << program << ": bad argument '" << a << "'\n" << usage;
            return 2;
        }
        knob->second(v);
    }
    return std::nullopt;
}

}  // namespace bench
