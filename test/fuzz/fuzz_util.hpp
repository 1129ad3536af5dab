// Shared by the fuzz targets: a scratch file per process (for readers that
// take a path) and a crash that names the broken promise.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <unistd.h>

namespace fuzz {

/// A path in the temp directory only this process uses ("" suffix allowed).
inline std::filesystem::path scratch(const std::string& name) {
    static const auto dir = [] {
        auto d = std::filesystem::temp_directory_path() / ("cspark-fuzz-" + std::to_string(::getpid()));
        std::filesystem::create_directories(d);
        std::atexit([] {  // runs after `dir` is destroyed: the path is built again, not read from it
            std::error_code ignored;
            std::filesystem::remove_all(std::filesystem::temp_directory_path() / ("cspark-fuzz-" + std::to_string(::getpid())), ignored);
        });
        return d;
    }();
    return dir / name;
}

inline void write(const std::filesystem::path& p, const std::uint8_t* data, std::size_t size) {
    std::ofstream(p, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
}

inline std::string_view text(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

/// A broken promise: says which, then aborts (libFuzzer saves the input).
[[noreturn]] inline void broken(const char* promise) {
    std::fprintf(stderr, "cspark fuzz: broken promise: %s\n", promise);
    std::abort();
}
#define FUZZ_CHECK(cond) \
    do {                 \
        if (!(cond)) ::fuzz::broken(#cond); \
    } while (0)

}  // namespace fuzz
