// What a caller sends through a cspark::client and what comes back. These are
// plain structs: no Beast types appear in public headers.
#pragma once

#include <cspark/body.hpp>
#include <cspark/error.hpp>

#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cspark {

enum class http_method { get, head, post, put, patch, delete_ };

std::string_view to_string(http_method m) noexcept;

struct request {
    http_method method = http_method::get;
    /// Relative to the tenant's API prefix ("export/123/status" becomes
    /// "/{tenant}/api/v4/export/123/status"), or an absolute http(s) URL.
    std::string target;
    header_list headers;          ///< added after the client's own headers
    std::string body;             ///< sent when `source` is null and it is not empty
    std::string content_type;     ///< for body or source; "" = none
    body_source* source = nullptr;  ///< streamed upload; must outlive the operation
    body_sink* sink = nullptr;    ///< 2xx body goes here instead of response.body
    std::uint64_t body_limit = 0;   ///< max body bytes; 0 = client default (sink: unlimited)
    std::optional<bool> idempotent;  ///< default: true for GET/HEAD/PUT/DELETE
    std::chrono::milliseconds timeout{0};  ///< whole-request limit; 0 = client default
    bool authenticate = true;     ///< false: never add credentials (public links)
};

struct response {
    int status = 0;
    header_list headers;
    std::string body;             ///< empty when streamed into a sink
    std::uint64_t body_bytes = 0; ///< bytes of body received (buffered or streamed)
    int attempts = 0;             ///< sends made, retries included
    std::string request_id;       ///< x-request-id that was sent
    diagnostics diag;             ///< filled when the operation failed

    std::string_view header(std::string_view name) const noexcept { return find_header(headers, name); }
};

/// Parses response.body as JSON; on failure returns null, sets ec =
/// malformed_json and writes the reason and an excerpt into diag.
boost::json::value parse_json_body(const response& r, error_code& ec, diagnostics& diag);

}  // namespace cspark
