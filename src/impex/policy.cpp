#include "impex/policy.hpp"

#include "core/error_traits.hpp"
#include "core/text.hpp"

#include <boost/json/object.hpp>

#include <algorithm>
#include <ctime>
#include <utility>

namespace cspark::detail {
namespace json = boost::json;

bool status_check_may_pass(error_code ec) noexcept { return traits_of(ec).check_may_pass; }

bool maybe_reached(error_code ec, const diagnostics& d) noexcept {
    if (!traits_of(ec).may_have_reached) return false;
    // Spark answers some refusals with 500 and a code: those were not acted on.
    if (ec == errc::server_error) return d.api_code != "INVALID_IMPORT_ZIP" && d.api_code != "EXCEEDED_FILE_SIZE";
    return true;
}

bool outcome_is_final(error_code ec) noexcept { return !traits_of(ec).unknown_outcome; }

namespace {

bool digits(std::string_view s, std::size_t at, std::size_t n, int& out) noexcept {
    if (at + n > s.size()) return false;
    out = 0;
    for (std::size_t i = at; i < at + n; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        out = out * 10 + (s[i] - '0');
    }
    return true;
}

std::string str(const json::object& o, std::string_view key) {
    if (auto* p = o.if_contains(key); p && p->is_string()) return std::string(p->get_string());
    return {};
}

}  // namespace

std::optional<wall_clock::time_point> parse_iso_timestamp(std::string_view s) noexcept {
    int y, mo, d, h, mi, io_ec;
    if (!digits(s, 0, 4, y) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
        !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s, 11, 2, h) ||
        s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, io_ec))
        return std::nullopt;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || io_ec > 60) return std::nullopt;
    // Beyond these the clock's nanoseconds overflow (found by the job fuzzer: year 3432).
    if (y < 1970 || y > 2200) return std::nullopt;
    std::size_t i = 19;
    std::chrono::milliseconds frac{0};
    if (i < s.size() && s[i] == '.') {
        int scale = 100;
        for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
            frac += std::chrono::milliseconds((s[i] - '0') * scale);
            scale /= 10;
        }
    }
    std::chrono::minutes offset{0};
    if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
        ++i;
    } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
        int oh, om;
        if (!digits(s, i + 1, 2, oh) || s.size() < i + 6 || s[i + 3] != ':' || !digits(s, i + 4, 2, om)) return std::nullopt;
        offset = std::chrono::minutes((oh * 60 + om) * (s[i] == '-' ? -1 : 1));
        i += 6;
    }
    if (i != s.size()) return std::nullopt;
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = io_ec;
    auto t = wall_clock::from_time_t(::timegm(&tm));
    return t + frac - offset;
}

describe_view read_describe(const json::value& doc, std::string_view kind) {
    describe_view out;
    if (!doc.is_object()) return out;
    std::string k(kind);
    for (const auto& key : {"in_progress_" + k + "s", "recent_" + k + "s"}) {
        const auto* list = doc.get_object().if_contains(key);
        if (!list || !list->is_array()) continue;
        for (const auto& item : list->get_array()) {
            if (!item.is_object()) continue;
            const auto& io = item.get_object();
            described_job j;
            j.id = str(io, "id");
            if (j.id.empty()) continue;
            j.in_progress = key.starts_with("in_progress");
            // Fields sit in "data" (the documented shape) or on the item itself.
            for (const json::object* o : {&io, io.contains("data") && io.at("data").is_object() ? &io.at("data").get_object() : nullptr}) {
                if (!o) continue;
                if (o->contains("correlation_id")) {
                    j.has_correlation = true;
                    if (j.correlation_id.empty()) j.correlation_id = str(*o, "correlation_id");
                }
                if (!j.created) j.created = parse_iso_timestamp(str(*o, "created_timestamp"));
                if (j.status.empty()) j.status = str(*o, k + "_status");
                if (auto now = parse_iso_timestamp(str(*o, "response_timestamp")))
                    if (!out.server_now || *now > *out.server_now) out.server_now = now;
            }
            out.shows_correlation = out.shows_correlation || j.has_correlation;
            out.jobs.push_back(std::move(j));
        }
    }
    return out;
}

job_lookup identify_job(const describe_view& d, const std::string& correlation_id,
                        std::chrono::milliseconds since_post_began, std::chrono::milliseconds margin) {
    job_lookup out;
    if (d.shows_correlation && !correlation_id.empty()) {
        for (const auto& j : d.jobs)
            if (j.correlation_id == correlation_id) {
                out.what = job_lookup::verdict::found;
                out.id = j.id;
                return out;
            }
        return out;  // the server reports correlation ids and none is ours
    }
    std::optional<wall_clock::time_point> window_start;
    if (d.server_now) window_start = *d.server_now - since_post_began - margin;
    for (const auto& j : d.jobs)
        if (!window_start || !j.created || *j.created >= *window_start) out.candidates.push_back(j.id);
    if (!out.candidates.empty()) out.what = job_lookup::verdict::confirm;
    return out;
}

std::string service_path(const std::string& uri) {
    std::string s = uri;
    if (auto br = s.find('['); br != std::string::npos && !s.empty() && s.back() == ']') s.resize(br);
    return to_lower(s);
}

bool outputs_match(const json::value& outputs, const json::array& services_modify) {
    using pair = std::pair<std::string, std::string>;
    // Outputs name services without the version selector a mapping may carry.
    auto norm = [](const std::string& src, const std::string& dst) {
        return pair{service_path(src), service_path(dst.empty() ? src : dst)};
    };
    std::set<pair> sent, got;
    for (const auto& m : services_modify)
        if (m.is_object()) sent.insert(norm(str(m.get_object(), "service_uri_source"), str(m.get_object(), "service_uri_destination")));
    if (!outputs.is_object()) return false;
    const auto* list = outputs.get_object().if_contains("services");
    if (!list || !list->is_array()) return false;
    for (const auto& s : list->get_array())
        if (s.is_object()) got.insert(norm(str(s.get_object(), "service_uri_source"), str(s.get_object(), "service_uri_destination")));
    return !sent.empty() && sent == got;
}

std::string unique_name(const std::string& name, std::set<std::string>& used) {
    std::string candidate = name;
    auto dot = name.rfind('.');
    std::string stem = dot == std::string::npos || dot == 0 ? name : name.substr(0, dot);
    std::string ext = dot == std::string::npos || dot == 0 ? "" : name.substr(dot);
    for (int n = 1; used.count(candidate); ++n) candidate = stem + "-" + std::to_string(n) + ext;
    used.insert(candidate);
    return candidate;
}

bool is_download_link(std::string_view url, std::string& why) {
    if (starts_with_icase(url, "http://") || starts_with_icase(url, "https://")) return true;
    if (!url.empty() && url.front() == '/' && !url.starts_with("//")) return true;
    auto colon = url.find(':');
    std::string scheme = colon == std::string_view::npos ? std::string() : to_lower(url.substr(0, colon));
    why = "download link '" + mask_url(url) + "' is not an http(s) URL" +
          (scheme.empty() ? std::string() : " (scheme '" + scheme + "')") + ": refused";
    return false;
}

// ------------------------------------------------------------ status checks

std::chrono::milliseconds just_after(std::chrono::milliseconds expected) noexcept {
    return expected + std::max(std::chrono::milliseconds(2), expected / 50);
}

std::chrono::milliseconds running_time(std::chrono::milliseconds elapsed, std::optional<std::int64_t> process_time) noexcept {
    using ms = std::chrono::milliseconds;
    if (!process_time || *process_time < 0) return elapsed;
    ms server(*process_time);
    return server <= elapsed + ms(1000) && server * 2 >= elapsed ? server : elapsed;
}

poll_step plan_next_check(const poll_policy& p, int checks, std::chrono::milliseconds elapsed, const poll_clues& c,
                          double random01) noexcept {
    using ms = std::chrono::milliseconds;
    // The schedule's own rules decide when to give up; an expected duration only moves the wait.
    bool known = c.expected && c.expected->count() > 0;
    if (!known && c.probing && p.max_attempts == 0 && p.growth > probe_growth) {
        poll_policy probe = p;
        probe.growth = probe_growth;
        return next_poll(probe, checks, elapsed, random01);
    }
    auto step = next_poll(p, checks, elapsed, random01);
    if (step.what == poll_step::action::give_up || !known) return step;
    ms expected = *c.expected;
    ms ran = running_time(elapsed, c.process_time);
    ms delay = ran < expected ? just_after(expected) - ran : std::max(expected / 10, (ran - expected) / 2);
    delay = std::max(delay, ms(1));
    if (p.max_interval.count() > 0) delay = std::min(delay, p.max_interval);
    if (p.deadline.count() > 0) delay = std::min(delay, p.deadline - elapsed);
    return {poll_step::action::wait, delay, ran < expected ? "job expected to end" : "job running past its expected end"};
}

std::optional<std::chrono::milliseconds> wait_for_expected(const poll_policy& p, std::chrono::milliseconds hint,
                                                           std::chrono::milliseconds elapsed,
                                                           std::optional<std::int64_t> process_time) noexcept {
    using ms = std::chrono::milliseconds;
    ms target = just_after(hint);
    ms ran = running_time(elapsed, process_time);
    if (hint.count() <= 0 || target <= ran) return std::nullopt;
    ms delay = target - ran;
    if (p.max_interval.count() > 0) delay = std::min(delay, p.max_interval);
    if (p.deadline.count() > 0) delay = std::min(delay, std::max(ms(0), p.deadline - elapsed));
    return delay;
}

std::chrono::milliseconds observed_duration(std::chrono::milliseconds last_running, std::chrono::milliseconds seen_ended,
                                            std::int64_t process_time, std::chrono::milliseconds lag) noexcept {
    using ms = std::chrono::milliseconds;
    if (process_time > 0 && ms(process_time) >= last_running && ms(process_time) <= seen_ended + std::max(lag, ms(0)))
        return ms(process_time);
    return last_running + (seen_ended - last_running) / 2;
}

}  // namespace cspark::detail
