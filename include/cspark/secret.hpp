// A string that must not leak: credentials, tokens. It prints masked.
#pragma once

#include <ostream>
#include <string>
#include <utility>

namespace cspark {

class secret {
public:
    secret() = default;
    secret(std::string value) : value_(std::move(value)) {}  // NOLINT: implicit on purpose
    secret(const char* value) : value_(value ? value : "") {}  // NOLINT

    bool empty() const noexcept { return value_.empty(); }
    /// The real value, for the one place that sends it.
    const std::string& reveal() const noexcept { return value_; }
    /// "***" plus at most the last 2 characters of values of 12 characters or more.
    std::string masked() const;

    friend bool operator==(const secret&, const secret&) = default;
    friend std::ostream& operator<<(std::ostream& os, const secret& s) { return os << s.masked(); }

private:
    std::string value_;
};

}  // namespace cspark
