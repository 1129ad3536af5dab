// The examples take no arguments: --help prints what one does, anything else
// is a usage error (exit 2), as every program of the project does.
#pragma once

#include <cstring>
#include <iostream>
#include <optional>

/// An exit code when main should return at once, none to run the example.
inline std::optional<int> example_args(int argc, char** argv, const char* what) {
    if (argc < 2) return std::nullopt;
    bool help = std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0;
    (help ? std::cout : std::cerr) << (help ? "" : "unknown argument '" + std::string(argv[1]) + "'\n")
                                   << "usage: " << argv[0] << "\n  " << what
                                   << "\n  Runs against an in-process emulator; takes no arguments.\n";
    return help && argc == 2 ? 0 : 2;
}
