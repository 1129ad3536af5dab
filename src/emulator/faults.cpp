#include "emulator/faults.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>

namespace cspark::emu {
namespace json = boost::json;

namespace {
constexpr std::pair<fault_kind, std::string_view> kind_names[] = {
    {fault_kind::status, "status"},
    {fault_kind::reset, "reset"},
    {fault_kind::reset_mid_body, "reset_mid_body"},
    {fault_kind::slow_body, "slow_body"},
    {fault_kind::delay, "delay"},
    {fault_kind::job_fail, "job_fail"},
    {fault_kind::job_never_finishes, "job_never_finishes"},
    {fault_kind::job_no_files, "job_no_files"},
    {fault_kind::expire_link, "expire_link"},
    {fault_kind::job_no_hash, "job_no_hash"},
    {fault_kind::job_same_file_names, "job_same_file_names"},
    {fault_kind::range_wrong_bytes, "range_wrong_bytes"},
    {fault_kind::link_scheme, "link_scheme"},
    {fault_kind::body, "body"},
    {fault_kind::job_wrong_hash, "job_wrong_hash"},
    {fault_kind::error_in_200, "error_in_200"},
    {fault_kind::job_status, "job_status"},
    {fault_kind::job_warnings, "job_warnings"},
    {fault_kind::service_failed, "service_failed"},
    {fault_kind::date_skew, "date_skew"},
};
const std::set<std::string> routes{"any", "token", "export.create", "export.status", "export.cancel",
                                   "export.describe", "import.create", "import.status", "import.describe",
                                   "download"};

[[noreturn]] void bad(std::size_t i, const std::string& what) {
    throw std::invalid_argument("faults: rules[" + std::to_string(i) + "]: " + what);
}
}  // namespace

std::string_view to_string(fault_kind k) noexcept {
    for (const auto& [kind, name] : kind_names)
        if (kind == k) return name;
    return "status";
}

std::optional<fault_kind> fault_kind_of(std::string_view name) noexcept {
    for (const auto& [kind, n] : kind_names)
        if (n == name) return kind;
    return std::nullopt;
}

namespace {

// Reads one rule's members, each checked, naming the rule on a mistake.
struct rule_reader {
    const json::object& r;
    std::size_t i;
    void str(std::string_view key, std::string& out) const {
        if (auto* p = r.if_contains(key)) {
            if (!p->is_string()) bad(i, std::string(key) + " must be a string");
            out = std::string(p->get_string());
        }
    }
    template <class T>
    void num(std::string_view key, T& out) const {
        if (auto* p = r.if_contains(key)) {
            if (!p->is_number()) bad(i, std::string(key) + " must be a number");
            out = p->to_number<T>();
        }
    }
    // One of `allowed` (listed in the message otherwise).
    void word(std::string_view key, std::string& out, std::initializer_list<std::string_view> allowed) const {
        str(key, out);
        std::string all;
        for (auto w : allowed) {
            if (out == w) return;
            all += (all.empty() ? "" : ", ") + std::string(w);
        }
        bad(i, std::string(key) + " '" + out + "' is not one of " + all);
    }
};

// Where a rule applies and what it answers.
void read_target(const rule_reader& in, fault_rule& f) {
    in.str("route", f.route);
    in.str("tenant", f.tenant);
    std::string kind;
    in.str("kind", kind);
    if (auto k = fault_kind_of(kind)) {
        f.kind = *k;
    } else {
        std::string all;
        for (const auto& [_, name] : kind_names) all += (all.empty() ? "" : ", ") + std::string(name);
        bad(in.i, "kind '" + kind + "' is not one of " + all);
    }
    if (!routes.count(f.route)) bad(in.i, "route '" + f.route + "' is unknown");
    in.num("status", f.status);
    if (f.status < 100 || f.status > 599) bad(in.i, "status must be an HTTP status");
    in.num("retry_after", f.retry_after);
    in.word("retry_after_as", f.retry_after_as, {"x-retry-after", "seconds", "date"});
    in.num("probability", f.probability);
    if (f.probability < 0 || f.probability > 1) bad(in.i, "probability must be within [0, 1]");
    std::uint64_t times = 0;
    if (in.r.contains("times")) {
        in.num("times", times);
        f.times = times;
    }
    if (auto* n = in.r.if_contains("nth")) {
        if (!n->is_array()) bad(in.i, "nth must be an array of call numbers");
        for (const auto& x : n->get_array()) {
            if (!x.is_number()) bad(in.i, "nth must hold numbers");
            f.nth.push_back(x.to_number<std::uint64_t>());
        }
    }
}

// How the answer is shaped: pace, cut, body, job document.
void read_shape(const rule_reader& in, fault_rule& f) {
    in.num("bytes_per_second", f.bytes_per_second);
    std::int64_t delay_ms = 0;
    in.num("delay_ms", delay_ms);
    f.delay = std::chrono::milliseconds(delay_ms);
    in.num("after_bytes", f.after_bytes);
    in.str("body", f.body);
    in.str("content_type", f.content_type);
    in.str("code", f.code);
    in.str("message", f.message);
    in.str("job_status", f.job_status);
    if (f.job_status.empty()) bad(in.i, "job_status must not be empty");
    in.word("errors_as", f.errors_as, {"list", "object", "string"});
    in.word("warnings_as", f.warnings_as, {"strings", "objects"});
    in.str("service_status", f.service_status);
    in.num("skew_s", f.skew_s);
    if (auto* p = in.r.if_contains("after_action")) {
        if (!p->is_bool()) bad(in.i, "after_action must be true or false");
        f.after_action = p->get_bool();
    }
}

}  // namespace

void fault_set::load(const json::value& doc) {
    if (!doc.is_object()) throw std::invalid_argument("faults: expected an object {\"seed\", \"rules\"}");
    const auto& o = doc.get_object();
    std::vector<fault_rule> rules;
    if (auto* s = o.if_contains("seed")) {
        if (!s->is_number()) throw std::invalid_argument("faults: seed must be a number");
        rng_.seed(s->to_number<std::uint64_t>());
    }
    const json::value* list = o.if_contains("rules");
    if (list && !list->is_array()) throw std::invalid_argument("faults: rules must be an array");
    std::size_t i = 0;
    for (const auto& item : list ? list->get_array() : json::array{}) {
        if (!item.is_object()) bad(i, "must be an object");
        rule_reader in{item.get_object(), i};
        fault_rule f;
        read_target(in, f);
        read_shape(in, f);
        rules.push_back(std::move(f));
        ++i;
    }
    rules_ = std::move(rules);
}

json::value fault_set::to_json() const {
    json::array out;
    for (const auto& f : rules_) {
        json::object o{{"route", f.route}, {"kind", to_string(f.kind)}, {"status", f.status}, {"probability", f.probability},
                       {"seen", f.seen}, {"fired", f.fired}};
        if (!f.tenant.empty()) o["tenant"] = f.tenant;
        if (f.retry_after >= 0) o["retry_after"] = f.retry_after;
        if (f.retry_after_as != "x-retry-after") o["retry_after_as"] = f.retry_after_as;
        if (!f.nth.empty()) {
            json::array n;
            for (auto x : f.nth) n.push_back(x);
            o["nth"] = std::move(n);
        }
        if (f.times) o["times"] = *f.times;
        if (f.kind == fault_kind::error_in_200) o.insert({{"code", f.code}, {"message", f.message}});
        if (f.kind == fault_kind::job_status) o["job_status"] = f.job_status;
        if (f.kind == fault_kind::job_fail) o["errors_as"] = f.errors_as;
        if (f.kind == fault_kind::job_warnings) o["warnings_as"] = f.warnings_as;
        if (f.kind == fault_kind::service_failed) o["service_status"] = f.service_status;
        if (f.kind == fault_kind::date_skew) o["skew_s"] = f.skew_s;
        out.push_back(std::move(o));
    }
    return json::object{{"rules", std::move(out)}};
}

std::vector<const fault_rule*> fault_set::fire(const std::string& route, const std::string& tenant) {
    std::vector<const fault_rule*> out;
    for (auto& f : rules_) {
        if (f.route != "any" && f.route != route) continue;
        if (!f.tenant.empty() && f.tenant != tenant) continue;
        ++f.seen;
        if (f.times && f.fired >= *f.times) continue;
        bool hit = f.nth.empty() ? std::uniform_real_distribution<double>(0, 1)(rng_) < f.probability
                                 : std::find(f.nth.begin(), f.nth.end(), f.seen) != f.nth.end();
        if (!hit) continue;
        ++f.fired;
        out.push_back(&f);
    }
    return out;
}

}  // namespace cspark::emu
