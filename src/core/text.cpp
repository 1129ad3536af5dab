#include "core/text.hpp"

#include <algorithm>
#include <cerrno>
#include <unistd.h>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace cspark::detail {

std::string joined(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
    return out;
}

bool header_value_ok(std::string_view v) noexcept {
    for (char c : v) {
        auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && u != '\t') || u == 0x7f) return false;
    }
    return true;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

std::string to_lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool starts_with_icase(std::string_view s, std::string_view prefix) noexcept {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

std::string bracketed_host(std::string_view host) {
    return host.find(':') != std::string_view::npos ? "[" + std::string(host) + "]" : std::string(host);
}

namespace {

// The path of a URL with its token segments masked: the segment after one
// named "token" or "tokens" (a document store's link:
// /docstore/api/v1/documents/versions/tokens/{token}/package.zip), and any
// segment of 64 characters or more (an opaque token; ids are shorter).
std::string mask_path(std::string_view path) {
    std::string out;
    out.reserve(path.size());
    bool after_token = false;
    for (std::size_t start = 0; start <= path.size();) {
        auto slash = path.find('/', start);
        auto seg = path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
        bool secret = !seg.empty() && seg != "***" && (after_token || seg.size() >= 64);
        out += secret ? std::string_view("***") : seg;
        after_token = to_lower(seg) == "tokens" || to_lower(seg) == "token";
        if (slash == std::string_view::npos) break;
        out += '/';
        start = slash + 1;
    }
    return out;
}

}  // namespace

std::string mask_url(std::string_view url) {
    // The path: after "scheme://authority" (or from the start of a bare
    // path) up to the first '?' or '#' of the whole text, so that it never
    // overlaps the query masked below (found by the uri fuzzer: a '?' inside
    // the authority made the two overlap, and masking twice differed).
    auto path_end = std::min(url.find_first_of("?#"), url.size());
    std::size_t path_at = 0;
    if (auto scheme = url.find("://"); scheme != std::string_view::npos && scheme < url.find_first_of("/?#")) {
        path_at = url.find('/', scheme + 3);
        if (path_at == std::string_view::npos || path_at > path_end) path_at = path_end;
    }
    std::string masked = std::string(url.substr(0, path_at)) + mask_path(url.substr(path_at, path_end - path_at)) +
                         std::string(url.substr(path_end));
    url = masked;
    auto q = url.find('?');
    if (q == std::string_view::npos) return masked;
    std::string out(url.substr(0, q + 1));
    std::string_view query = url.substr(q + 1);
    auto hash = query.find('#');
    if (hash != std::string_view::npos) query = query.substr(0, hash);
    // Every pair, empty ones too ("a&&b" keeps both '&': masking twice
    // gives what masking once gave).
    for (std::size_t start = 0;;) {
        auto amp = query.find('&', start);
        std::string_view pair = query.substr(start, amp == std::string_view::npos ? std::string_view::npos : amp - start);
        if (start > 0) out += '&';
        auto eq = pair.find('=');
        out += pair.substr(0, eq);
        if (eq != std::string_view::npos) out += "=***";
        if (amp == std::string_view::npos) break;
        start = amp + 1;
    }
    return out;
}

std::string mask_links(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    auto link_end = [&](std::size_t from) {
        auto end = text.find_first_of(" \t\r\n\"'<>()[]{}", from);
        return end == std::string_view::npos ? text.size() : end;
    };
    std::size_t i = 0;
    while (i < text.size()) {
        auto http = text.find("http", i);
        auto bearer = text.find("Bearer ", i);
        auto at = std::min(http, bearer);
        if (at == std::string_view::npos) break;
        out.append(text.substr(i, at - i));
        if (at == bearer) {
            out += "Bearer ***";
            i = link_end(at + 7);
        } else if (text.substr(at, 7) == "http://" || text.substr(at, 8) == "https://") {
            auto end = link_end(at);
            out += mask_url(text.substr(at, end - at));
            i = end;
        } else {
            out += "http";
            i = at + 4;
        }
    }
    if (i < text.size()) out.append(text.substr(i));
    return out;
}

std::string mask_secrets(std::string text, std::span<const std::string> secrets) {
    for (const auto& s : secrets) {
        if (s.size() < 4) continue;
        for (auto pos = text.find(s); pos != std::string::npos; pos = text.find(s, pos + 3))
            text.replace(pos, s.size(), "***");
    }
    return text;
}

std::string excerpt(std::string_view body, std::size_t max) {
    std::string out;
    out.reserve(std::min(body.size(), max) + 3);
    for (std::size_t i = 0; i < body.size() && i < max; ++i) {
        auto c = static_cast<unsigned char>(body[i]);
        out += (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f ? '?' : static_cast<char>(c);
    }
    if (body.size() > max) out += "...";
    return out;
}

std::string url_encode(std::string_view s) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

std::uint64_t random_seed() {
    static thread_local std::mt19937_64 seeds{(std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}()};
    return seeds();
}

std::string uuid4(std::mt19937_64& rng) {
    std::array<unsigned char, 16> b{};
    std::uint64_t hi = rng(), lo = rng();
    for (int i = 0; i < 8; ++i) {
        b[i] = static_cast<unsigned char>(hi >> (8 * i));
        b[8 + i] = static_cast<unsigned char>(lo >> (8 * i));
    }
    b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
    b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
    std::string hex = to_hex(b);
    return hex.substr(0, 8) + '-' + hex.substr(8, 4) + '-' + hex.substr(12, 4) + '-' + hex.substr(16, 4) + '-' +
           hex.substr(20);
}

bool is_uuid(std::string_view s) noexcept {
    if (s.size() != 36) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
    }
    return true;
}

std::string utc_timestamp(std::chrono::system_clock::time_point tp) {
    auto secs = std::chrono::system_clock::to_time_t(tp);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
    return buf;
}

std::optional<std::uint16_t> parse_port(std::string_view s) noexcept {
    if (s.empty() || s.size() > 5) return std::nullopt;
    unsigned value = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(value);
}

bool write_all(int fd, const char* p, std::size_t n) noexcept {
    while (n > 0) {
        ssize_t w = ::write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return false;
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

std::string to_hex(std::span<const unsigned char> bytes) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
        out += hex[c >> 4];
        out += hex[c & 15];
    }
    return out;
}

}  // namespace cspark::detail
