#include "cli/cli.hpp"

#include "core/text.hpp"
#include "cli/extract.hpp"
#include "zip/zip.hpp"

#include <boost/asio/signal_set.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <unistd.h>
#include <fstream>
#include <iostream>

namespace cspark::cli {
namespace json = boost::json;
namespace asio = boost::asio;

int exit_code_for(error_code ec) {
    if (!ec) return ok;
    if (ec == errc::cancelled) return interrupted;
    if (ec == errc::invalid_argument || ec == errc::missing_credentials || ec == errc::file_exists ||
        ec == errc::package_too_large || ec == errc::invalid_base_url || ec == errc::unsupported_scheme)
        return usage;
    if (ec == errc::job_state_unknown || ec == errc::poll_timeout || ec == errc::import_outcome_unknown) return unknown;
    if (ec == errc::unauthorized || ec == errc::forbidden) return denied;
    return failed;
}

namespace {
bool whole_number(std::string_view s, std::size_t& out) {
    if (s.empty() || s.size() > 18) return false;
    out = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        out = out * 10 + static_cast<std::size_t>(c - '0');
    }
    return true;
}
}  // namespace

bool parse_shard(const std::string& spec, std::size_t& k, std::size_t& n, const char* job_index) {
    auto slash = spec.find('/');
    if (slash == std::string::npos) return false;
    std::string_view index = std::string_view(spec).substr(0, slash);
    if (index.empty()) index = job_index ? std::string_view(job_index) : std::string_view();
    return whole_number(index, k) && whole_number(std::string_view(spec).substr(slash + 1), n) && n > 0 && k < n;
}

std::optional<std::uint64_t> parse_size(const std::string& spec) {
    std::string_view s = spec;
    std::size_t digits = 0;
    while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
    std::size_t n = 0;
    if (!whole_number(s.substr(0, digits), n)) return std::nullopt;
    auto unit = s.substr(digits);
    std::uint64_t scale = unit.empty() || unit == "B" ? 1 : unit == "KB" ? 1ull << 10 : unit == "MB" ? 1ull << 20 : unit == "GB" ? 1ull << 30 : 0;
    if (scale == 0 || n > (1ull << 50) / scale) return std::nullopt;
    return n * scale;
}

std::optional<std::chrono::milliseconds> parse_duration(const std::string& spec) {
    std::string_view s = spec;
    std::size_t digits = 0;
    while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
    std::size_t n = 0;
    if (!whole_number(s.substr(0, digits), n) || n > 10'000'000'000ull) return std::nullopt;
    auto unit = s.substr(digits);
    std::uint64_t scale = unit.empty() || unit == "ms" ? 1 : unit == "s" ? 1000 : unit == "m" ? 60'000 : unit == "h" ? 3'600'000 : 0;
    if (scale == 0) return std::nullopt;
    return std::chrono::milliseconds(static_cast<std::int64_t>(n * scale));
}

client_config to_config(const connection_options& o) {
    client_config c;
    c.base_url = o.base_url;
    c.tenant = o.tenant;
    c.env = o.env;
    c.timeout = std::chrono::milliseconds(o.timeout_ms);
    c.max_retries = o.max_retries;
    c.retry_interval = std::chrono::milliseconds(o.retry_interval_ms);
    c.transport.tls.ca_file = o.ca_file;
    c.transport.tls.insecure = o.insecure;
    c.proxy = o.proxy;
    auto from_env = [](const std::string& name, const std::string& named_by) -> std::string {
        const char* v = std::getenv(name.c_str());
        if (!v || !*v) {
            diagnostics d;
            d.detail = "environment variable " + name + " (named by " + named_by + ") is not set";
            throw spark_error(errc::missing_credentials, d);
        }
        return v;
    };
    if (!o.api_key_env.empty()) c.api_key = from_env(o.api_key_env, o.api_key_env_from);
    if (!o.token_env.empty()) c.bearer_token = from_env(o.token_env, o.token_env_from);
    if (!o.oauth_file.empty()) c.oauth_path = o.oauth_file;
    return c;
}

std::optional<service_mapping> parse_destination(const std::string& spec, std::string& why) {
    service_mapping m;
    std::string rest = spec;
    if (auto at = rest.rfind('@'); at != std::string::npos) {
        std::string u = rest.substr(at + 1);
        if (!from_string(u, m.upgrade)) {
            why = "destination '" + spec + "': upgrade '" + u + "' is not major, minor or patch";
            return std::nullopt;
        }
        rest = rest.substr(0, at);
    }
    auto eq = rest.find('=');
    m.source = rest.substr(0, eq);
    if (eq != std::string::npos) m.target = rest.substr(eq + 1);
    for (const std::string* uri : {&m.source, &m.target}) {
        if (uri->empty() && uri == &m.target) continue;
        auto parsed = parse_service_uri(*uri, why);
        if (!parsed || parsed->form != service_uri::kind::folder_service || !parsed->version.empty()) {
            if (parsed) why = "'" + *uri + "' must be {folder}/{service}";
            why = "destination '" + spec + "': " + why;
            return std::nullopt;
        }
    }
    return m;
}

namespace {
// A line while a bar is drawn starts on its own line (the bar stays as it was).
void end_bar(const std::shared_ptr<bool>& open) {
    if (open && *open) {
        std::fputc('\n', stderr);
        *open = false;
    }
}
std::string clock_text(double seconds) {
    auto s = static_cast<long long>(seconds + 0.5);
    char buf[32];
    if (s >= 3600) std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
    else std::snprintf(buf, sizeof buf, "%lld:%02lld", s / 60, s % 60);
    return buf;
}
}  // namespace

std::string progress_bar(const std::string& what, std::uint64_t bytes, std::uint64_t total, double seconds) {
    bytes = std::min(bytes, total);
    int pct = total ? static_cast<int>(100.0 * static_cast<double>(bytes) / static_cast<double>(total)) : 100;
    int filled = pct / 5;
    char head[96];
    std::snprintf(head, sizeof head, " [%s%s] %3d%% %.1f/%.1f MiB", std::string(filled, '#').c_str(),
                  std::string(20 - filled, '.').c_str(), pct, static_cast<double>(bytes) / 1048576.0,
                  static_cast<double>(total) / 1048576.0);
    std::string line = what + head;
    if (seconds > 0 && bytes > 0) {
        double rate = static_cast<double>(bytes) / seconds;
        char tail[64];
        std::snprintf(tail, sizeof tail, " %.1f MiB/s", rate / 1048576.0);
        line += tail;
        line += bytes >= total ? " done in " + clock_text(seconds)
                               : " " + clock_text(static_cast<double>(total - bytes) / rate) + " left";
    }
    return line;
}

void output::info(const std::string& line) const {
    if (quiet || json) return;
    end_bar(bar_open);
    std::string l = tty ? line : detail::utc_timestamp() + " " + line;
    std::fprintf(stderr, "%s\n", l.c_str());
}

void output::error(const std::string& line) const {
    end_bar(bar_open);
    std::fprintf(stderr, "cspark-impex: %s\n", line.c_str());
}

namespace {
// Pre-signed download links carry their token in the query: a result
// document (often kept as a CI artifact) shows them masked.
json::value masked(const json::value& v) {
    switch (v.kind()) {
    case json::kind::string:
        if (v.get_string().find("://") != json::string::npos) return json::string(detail::mask_links(v.get_string()));
        return v;
    case json::kind::array: {
        json::array a;
        for (const auto& x : v.get_array()) a.push_back(masked(x));
        return a;
    }
    case json::kind::object: {
        json::object o;
        for (const auto& [k, x] : v.get_object()) o[k] = masked(x);
        return o;
    }
    default:
        return v;
    }
}
}  // namespace

void output::result(const json::value& doc) const {
    if (!json) return;
    std::string s = json::serialize(masked(doc));
    std::fprintf(stdout, "%s\n", s.c_str());
    std::fflush(stdout);
}

progress_fn output::progress(const std::string& label) const {
    if (quiet || json) return {};
    bool bars = tty;
    // One transfer's bar: when it started, and whether its last state was drawn.
    struct bar_state {
        std::chrono::steady_clock::time_point start;
        std::uint64_t last = 0, total = 0;
        bool finished = false;
    };
    auto bar = std::make_shared<bar_state>();
    return [label, bars, bar, this](const progress_event& e) {
        using k = progress_event::kind;
        std::string what = (label == e.job_kind ? label : label + " " + e.job_kind) +
                           (e.job_id.empty() ? "" : " " + e.job_id.substr(0, 8));
        switch (e.what) {
        case k::bytes: {
            if (!bars || e.total == 0) break;
            auto now = std::chrono::steady_clock::now();
            if (e.total != bar->total || e.bytes < bar->last) *bar = bar_state{now, 0, e.total, false};  // a new transfer
            if (bar->finished) break;  // a finished bar is printed once
            bar->last = e.bytes;
            double seconds = std::chrono::duration<double>(now - bar->start).count();
            std::fprintf(stderr, "\r%s\033[K", progress_bar(what, e.bytes, e.total, seconds).c_str());
            *bar_open = true;
            if (e.bytes >= e.total) {
                bar->finished = true;
                end_bar(bar_open);
            }
            break;
        }
        case k::job_created: info(what + ": job created"); break;
        case k::status: info(what + ": " + e.status); break;
        case k::retry: info(what + ": retry in " + std::to_string(e.delay.count()) + " ms: " + e.message); break;
        case k::finished: info(what + ": finished (" + e.status + ")"); break;
        case k::failed: info(what + ": failed: " + e.message); break;
        }
    };
}

logger output::log() const {
    if (!verbose) return {};
    return {log_level::debug, stderr_sink()};
}

int replace_file(const std::string& path, std::string_view data, const char* suffix) {
    auto tmp = path + suffix;
    int fd = ::open(tmp.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    bool ok = fd >= 0 && detail::write_all(fd, data.data(), data.size());
    int err = ok ? 0 : errno;
    if (fd >= 0) ::close(fd);
    if (ok && ::rename(tmp.c_str(), path.c_str()) != 0) err = errno;
    if (err != 0) ::unlink(tmp.c_str());
    return err;
}

bool run_interruptible(asio::io_context& io, const std::function<void(asio::cancellation_slot)>& start,
                       const std::function<bool()>& done) {
    asio::cancellation_signal cancel;
    asio::signal_set signals(io, SIGINT, SIGTERM);
    bool interrupted = false;
    signals.async_wait([&](const error_code& ec, int) {
        if (ec) return;
        interrupted = true;
        // On its own line whether or not a bar was being drawn.
        std::fprintf(stderr, "\ncspark-impex: interrupted: cancelling (server jobs are cancelled, partial files removed)\n");
        cancel.emit(asio::cancellation_type::terminal);
    });
    start(cancel.slot());
    while (!done() && io.run_one() > 0) {
    }
    error_code ignored;
    signals.cancel(ignored);
    io.poll();
    return !interrupted;
}

// ------------------------------------------------------------------ inspect

namespace {

// The service versions a package's manifest lists (none: no manifest, or not one we read).
json::array manifest_services(const std::string& manifest_text) {
    if (manifest_text.empty()) return {};
    error_code json_ec;
    auto m = json::parse(manifest_text, json_ec);
    if (!json_ec && m.is_object())
        if (auto* o = m.get_object().if_contains("outputs"); o && o->is_object())
            if (auto* sv = o->get_object().if_contains("service_versions"); sv && sv->is_array()) return sv->get_array();
    return {};
}

void print_package(const std::string& file, std::size_t count, bool crc_ok, const json::array& services,
                   const json::array& entries, bool verbose) {
    std::printf("%s: %zu entries, %s\n", file.c_str(), count, crc_ok ? "all CRCs good" : "CRC ERRORS");
    for (const auto& s : services)
        if (s.is_object())
            std::printf("  service %s (version id %s)\n",
                        s.get_object().contains("service_uri_source") ? std::string(s.at("service_uri_source").as_string()).c_str() : "?",
                        s.get_object().contains("version_id_source") ? std::string(s.at("version_id_source").as_string()).c_str() : "?");
    if (verbose)
        for (const auto& e : entries)
            std::printf("  %10lld  %s\n", static_cast<long long>(e.at("size").to_number<std::int64_t>()),
                        std::string(e.at("name").as_string()).c_str());
}

}  // namespace

int inspect(const std::string& file, const std::string& extract_dir, const extract_options& extract, const output& out) {
    std::string why;
    auto r = zip::reader::open(file, why);
    if (!r) {
        out.error("inspect: " + why);
        out.result(json::object{{"error", why}});
        return usage;
    }
    json::array entries, services;
    bool crc_ok = true;
    std::string manifest_text;
    for (const auto& e : r->entries()) {
        bool ok = e.is_directory() || r->read(e, [](std::span<const char>) {}, why);
        if (!ok) {
            crc_ok = false;
            out.error("inspect: " + why);
        }
        entries.push_back(json::object{{"name", e.name}, {"size", e.size}, {"compressed", e.compressed_size},
                                       {"crc32", detail::to_hex(std::span<const unsigned char>(
                                                     reinterpret_cast<const unsigned char*>(&e.crc32), 4))},
                                       {"ok", ok}});
        auto slash = e.name.find('/');
        if (slash != std::string::npos && e.name.substr(slash + 1) == "manifest.json") {
            if (auto text = r->read_all(e, 16 * 1024 * 1024, why)) manifest_text = *text;
        }
    }
    services = manifest_services(manifest_text);
    if (!out.json) print_package(file, r->entries().size(), crc_ok, services, entries, out.verbose);
    json::object doc{{"file", file}, {"entries", entries}, {"service_versions", services}, {"crc_ok", crc_ok}};

    if (!extract_dir.empty()) {
        std::filesystem::path root(extract_dir);
        if (!extract_all(*r, root, extract, why)) {
            // Nothing was written: say where, and why (a refusal, or the disk).
            std::string msg = "nothing extracted into '" + root.string() + "': " + why;
            out.error(msg);
            doc["error"] = msg;
            out.result(doc);
            return usage;
        }
        doc["extracted_to"] = root.string();
        if (!out.json) std::printf("extracted to %s\n", root.string().c_str());
    }
    out.result(doc);
    return crc_ok ? ok : failed;
}

}  // namespace cspark::cli
