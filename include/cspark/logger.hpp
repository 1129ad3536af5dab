// Logging: a level and a sink function, nothing printed unless both are set.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace cspark {

enum class log_level { trace, debug, info, warn, error, off };

std::string_view to_string(log_level level) noexcept;

/// Receives one finished line (no trailing newline); never receives secrets.
/// Called on a thread running the client's executor: when several threads
/// run it, clients on different transports may log at the same time, so the
/// sink must be thread-safe then (stderr_sink() is: one write per line).
using log_sink = std::function<void(log_level, std::string_view)>;

struct logger {
    log_level level = log_level::off;  ///< lowest level passed to the sink; off = nothing
    log_sink sink;                     ///< empty = nothing is logged

    bool enabled(log_level l) const noexcept { return sink && level != log_level::off && l >= level; }
    void log(log_level l, std::string_view message) const {
        if (enabled(l)) sink(l, message);
    }
};

/// A sink writing "[cspark] 2026-11-25T17:43:35.123Z INFO message" lines to stderr.
log_sink stderr_sink();

}  // namespace cspark
