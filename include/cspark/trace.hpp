// A trace of every HTTP exchange as a HAR 1.2 file (the format browsers'
// developer tools open): what to attach when Spark answers differently.
//
// One har_trace may be shared by many clients (client_config::trace), on any
// threads. It is written as the run goes: after each exchange the file is a
// whole, valid HAR document, so a crash leaves a readable trace up to the last
// exchange. Secrets never reach it: credential headers are masked, URL query
// values and link tokens in paths are masked, each client's own secrets (API
// key, bearer and OAuth tokens, client secret) are masked wherever they
// appear, and bodies are kept only when they are JSON of at most 64 KiB
// (never package bytes).
#pragma once

#include <cspark/body.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace cspark {

/// One exchange as the client saw it (filled by the client; users of the
/// library only read traces).
struct traced_exchange {
    std::chrono::system_clock::time_point started;
    std::chrono::milliseconds wait{0};  ///< from sending to the whole answer
    std::string method, url, request_id;
    header_list request_headers;
    std::string request_content_type, request_body;  ///< body: JSON only, at most 64 KiB
    std::uint64_t request_bytes = 0;
    int status = 0;                                   ///< 0: no answer
    header_list response_headers;
    std::string response_body;                        ///< JSON only, at most 64 KiB
    std::uint64_t response_bytes = 0;
    std::string error;                                ///< transport failure in words ("" = none)
};

class har_trace {
public:
    /// Creates (replaces) `path` with an empty log. Throws spark_error
    /// (file_error naming the path) when it cannot be written.
    explicit har_trace(const std::filesystem::path& path);
    ~har_trace();
    har_trace(const har_trace&) = delete;
    har_trace& operator=(const har_trace&) = delete;

    /// Masks `secrets` (each of 4+ characters) wherever they appear, then
    /// appends the exchange and rewrites the log's closing brackets.
    /// Thread-safe. A write error stops the trace (the run goes on).
    void record(const traced_exchange& x, const std::vector<std::string>& secrets);
    std::size_t entries() const;
    const std::filesystem::path& path() const noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace cspark
