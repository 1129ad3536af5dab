#include <cspark/logger.hpp>
#include <cspark/secret.hpp>

#include "core/text.hpp"

#include <cstdio>

namespace cspark {

std::string_view to_string(log_level level) noexcept {
    switch (level) {
    case log_level::trace: return "TRACE";
    case log_level::debug: return "DEBUG";
    case log_level::info: return "INFO";
    case log_level::warn: return "WARN";
    case log_level::error: return "ERROR";
    case log_level::off: return "OFF";
    }
    return "?";
}

log_sink stderr_sink() {
    return [](log_level level, std::string_view message) {
        std::string line = "[cspark] " + detail::utc_timestamp() + " " + std::string(to_string(level)) + " ";
        line.append(message);
        line += '\n';
        std::fwrite(line.data(), 1, line.size(), stderr);
    };
}

std::string secret::masked() const {
    if (value_.empty()) return "";
    if (value_.size() < 12) return "***";
    return "***" + value_.substr(value_.size() - 2);
}

}  // namespace cspark
