// The parsers of what users type: base URLs (with a tenant), service URIs,
// durations, sizes, shard specs, HTTP dates, and the maskers of what logs print.
#include "fuzz_util.hpp"

#include "cli/cli.hpp"
#include "core/text.hpp"

#include <cspark/base_url.hpp>
#include <cspark/retry.hpp>
#include <cspark/service_uri.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto in = fuzz::text(data, size);
    auto nl = in.find('\n');
    auto first = in.substr(0, nl), rest = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);

    cspark::error_code ec;
    std::string why;
    auto url = cspark::parse_base_url(first, rest.substr(0, 64), "", ec, &why);
    FUZZ_CHECK(url ? !ec : (ec && !why.empty()));
    if (url) {
        FUZZ_CHECK(!url->tenant.empty());
        cspark::error_code again_ec;
        auto again = cspark::parse_base_url(url->to_string(), "", "", again_ec);  // what it prints, it reads back
        FUZZ_CHECK(again && again->to_string() == url->to_string());
    }

    why.clear();
    auto uri = cspark::parse_service_uri(first, why);
    FUZZ_CHECK(uri || !why.empty());
    if (uri) {
        std::string w2;
        auto again = cspark::parse_service_uri(uri->to_string(), w2);
        FUZZ_CHECK(again && again->to_string() == uri->to_string());
    }

    std::string s(first);
    (void)cspark::cli::parse_duration(s);
    (void)cspark::cli::parse_size(s);
    std::size_t k = 0, n = 0;
    if (cspark::cli::parse_shard(s, k, n)) FUZZ_CHECK(k < n);
    if (cspark::cli::parse_shard(s, k, n, std::string(rest.substr(0, 24)).c_str())) FUZZ_CHECK(k < n);

    // Retry-After: an HTTP date prints back to itself (to the second), and a
    // wait is never negative.
    if (auto t = cspark::parse_http_date(first)) FUZZ_CHECK(cspark::parse_http_date(cspark::format_http_date(*t)) == t);
    if (auto wait = cspark::parse_retry_after(first, std::chrono::system_clock::time_point{})) FUZZ_CHECK(wait->count() >= 0);
    std::string w3;
    (void)cspark::cli::parse_destination(s, w3);

    auto masked = cspark::detail::mask_url(in);
    FUZZ_CHECK(cspark::detail::mask_url(masked) == masked);  // masking is idempotent: nothing left to mask
    auto links = cspark::detail::mask_links(in);
    FUZZ_CHECK(cspark::detail::mask_links(links) == links);
    return 0;
}
