// Small text helpers shared by the client, the emulator and the CLI.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cspark::detail {

bool iequals(std::string_view a, std::string_view b) noexcept;
/// No control characters (CR, LF, NUL, ...) in a header value: they would
/// split the header and inject others.
bool header_value_ok(std::string_view v) noexcept;
/// "a, b, c"
std::string joined(const std::vector<std::string>& v);
std::string to_lower(std::string_view s);
bool starts_with_icase(std::string_view s, std::string_view prefix) noexcept;
std::string_view trim(std::string_view s) noexcept;

/// Replaces every query parameter value with "***" ("?token=abc" -> "?token=***"),
/// and token path segments: the one after a "token(s)" segment (".../tokens/
/// {token}/package.zip" -> ".../tokens/***/package.zip") and any of 64+ characters.
std::string mask_url(std::string_view url);

/// A host as URLs and Host headers write it: an IPv6 literal in brackets ("[::1]").
std::string bracketed_host(std::string_view host);
/// Masks what free text may carry of a secret: the query values of every
/// http(s) link in it (pre-signed download links carry tokens) and the value
/// after "Bearer ".
std::string mask_links(std::string_view text);
/// Replaces each non-empty secret (of 4+ characters) found in text with "***".
std::string mask_secrets(std::string text, std::span<const std::string> secrets);
/// At most `max` bytes of `body`, control characters replaced, "..." when cut.
std::string excerpt(std::string_view body, std::size_t max = 1024);

/// application/x-www-form-urlencoded / URL component encoding.
std::string url_encode(std::string_view s);

/// Random (version 4) UUID in canonical lower-case form.
std::string uuid4(std::mt19937_64& rng);
/// A seed for a generator: the OS's randomness once per thread, then a
/// generator seeded from it (a client made per tenant no longer reads the
/// OS's source: 2,000 of them were 1 % of a batch's CPU).
std::uint64_t random_seed();
bool is_uuid(std::string_view s) noexcept;

/// "2026-11-25T17:43:35.123Z" for `tp` (default: now).
std::string utc_timestamp(std::chrono::system_clock::time_point tp = std::chrono::system_clock::now());

/// A TCP port from 1 to 65535 written in decimal; empty when anything else.
std::optional<std::uint16_t> parse_port(std::string_view s) noexcept;

/// Writes all of `data` to a file descriptor (retrying short writes and
/// EINTR); false on error, with errno set.
bool write_all(int fd, const char* data, std::size_t size) noexcept;

/// Lower-case hex of bytes.
std::string to_hex(std::span<const unsigned char> bytes);

}  // namespace cspark::detail
