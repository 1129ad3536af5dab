#include "cli/journal_record.hpp"

#include "cli/cli.hpp"

#include <boost/json/array.hpp>

#include <chrono>
#include <string_view>

namespace cspark::cli {
namespace json = boost::json;

namespace {

constexpr std::pair<record_kind, std::string_view> record_names[] = {
    {record_kind::run, "run"},
    {record_kind::run_end, "run_end"},
    {record_kind::export_intent, "export_intent"},
    {record_kind::export_job, "export_job"},
    {record_kind::export_done, "export_done"},
    {record_kind::downloaded, "downloaded"},
    {record_kind::import_intent, "import_intent"},
    {record_kind::import_job, "import_job"},
    {record_kind::import_done, "import_done"},
    {record_kind::done, "done"},
    {record_kind::unknown, "unknown"},
};

std::string_view name_of(record_kind k) {
    for (const auto& [kind, name] : record_names)
        if (kind == k) return name;
    return "other";
}

std::string str(const json::object& r, std::string_view k) {
    const auto* v = r.if_contains(k);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::int64_t num(const json::object& r, std::string_view k) {
    const auto* v = r.if_contains(k);
    if (v && v->is_int64()) return v->get_int64();
    if (v && v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
    return 0;
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

json::object make(const json::value& who, record_kind k) {
    json::object r;
    if (!who.is_null()) r["m"] = who;
    r["e"] = name_of(k);
    return r;
}

// What a failure's record says: its stable code, the words, the diagnostics
// an operator quotes to Coherent (masked: diagnostics never hold secrets).
void describe_failure(json::object& rec, const migration_result& m) {
    rec["code"] = error_name(m.ec);
    rec["error"] = m.ec.message() + " " + m.diag.to_string();
    if (m.diag.http_status) rec["status"] = m.diag.http_status;
    if (!m.diag.api_code.empty()) rec["api_code"] = m.diag.api_code;
    if (!m.diag.request_id.empty()) rec["request_id"] = m.diag.request_id;
}

}  // namespace

journal_record read_record(const json::object& rec) {
    journal_record r;
    r.e = str(rec, "e");
    for (const auto& [kind, name] : record_names)
        if (name == r.e) r.kind = kind;
    if (const auto* m = rec.if_contains("m"); m && m->is_string()) r.members.emplace_back(m->get_string());
    else if (m && m->is_array())
        for (const auto& name : m->get_array())
            if (name.is_string()) r.members.emplace_back(name.get_string());
    r.t = num(rec, "t");
    r.id = str(rec, "id");
    r.cid = str(rec, "cid");
    r.src = str(rec, "src");
    r.dst = str(rec, "dst");
    r.path = str(rec, "path");
    r.sha256 = str(rec, "sha256");
    r.file = str(rec, "file");
    r.ms = num(rec, "ms");
    r.bytes = num(rec, "bytes");
    r.ok = rec.contains("ok") && rec.at("ok").is_bool() && rec.at("ok").as_bool();
    r.code = str(rec, "code");
    r.error = str(rec, "error");
    r.api_code = str(rec, "api_code");
    r.request_id = str(rec, "request_id");
    r.status = static_cast<int>(num(rec, "status"));
    if (const auto* w = rec.if_contains("warnings"); w && w->is_array())
        for (const auto& text : w->get_array())
            if (text.is_string()) r.warnings.emplace_back(text.get_string());
    r.retries = num(rec, "retries");
    return r;
}

void apply(progress_state& st, const journal_record& r) {
    switch (r.kind) {
    case record_kind::export_intent:
        st = progress_state{};
        st.export_cid = r.cid;
        st.export_t = r.t;
        break;
    case record_kind::export_job: st.export_job = r.id; break;
    case record_kind::downloaded:
        st.path = r.path;
        st.sha256 = r.sha256;
        break;
    case record_kind::import_intent:
        st.import_cid = r.cid;
        st.import_t = r.t;
        break;
    case record_kind::import_job: st.import_job = r.id; break;
    case record_kind::done:
        st.done = r.ok;
        st.imported = r.code == "import_partially_failed";
        break;
    default: break;
    }
}

migration_checkpoint checkpoint_of(const progress_state& st, bool package_ok) {
    using std::chrono::system_clock;
    auto when = [](std::int64_t ms) -> std::optional<system_clock::time_point> {
        if (ms <= 0) return system_clock::now() - std::chrono::hours(1);  // unknown: describe's whole window
        return system_clock::time_point(std::chrono::milliseconds(ms));
    };
    migration_checkpoint cp;
    if (!st.export_cid.empty()) {
        cp.export_correlation_id = st.export_cid;
        cp.export_intent = when(st.export_t);
    }
    cp.export_job = st.export_job;
    if (package_ok) cp.package = st.path;
    if (!st.import_cid.empty()) {
        cp.import_correlation_id = st.import_cid;
        cp.import_intent = when(st.import_t);
    }
    cp.import_job = st.import_job;
    return cp;
}

json::object step_record(const json::value& who, const checkpoint_event& ev, const progress_state& st,
                         const std::string& source_tenant, const std::string& target_tenant) {
    using kind = checkpoint_event::kind;
    record_kind k = record_kind::other;
    switch (ev.what) {
    case kind::export_intent: k = record_kind::export_intent; break;
    case kind::export_job: k = record_kind::export_job; break;
    case kind::export_done: k = record_kind::export_done; break;
    case kind::downloaded: k = record_kind::downloaded; break;
    case kind::import_intent: k = record_kind::import_intent; break;
    case kind::import_job: k = record_kind::import_job; break;
    case kind::import_done: k = record_kind::import_done; break;
    }
    auto r = make(who, k);
    switch (ev.what) {
    case kind::export_intent: r.insert({{"cid", ev.id}, {"src", source_tenant}, {"dst", target_tenant}}); break;
    case kind::import_intent: r.insert({{"file", st.path}, {"cid", ev.id}, {"dst", target_tenant}}); break;
    case kind::export_job:
    case kind::import_job: r["id"] = ev.id; break;
    case kind::export_done:
    case kind::import_done: r.insert({{"id", ev.id}, {"ms", ev.duration.count()}}); break;
    case kind::downloaded: r.insert({{"path", ev.path.string()}, {"sha256", ev.sha256}, {"bytes", ev.size}}); break;
    }
    r["t"] = now_ms();
    return r;
}

json::object outcome_record(const std::string& name, const migration_result& m, const std::vector<std::string>& warnings) {
    bool known = !m.ec || outcome_known(m.ec);  // unknown: a rerun resumes it from its steps
    auto rec = make(json::string(name), known ? record_kind::done : record_kind::unknown);
    if (known) rec["ok"] = !m.ec;
    if (m.ec) describe_failure(rec, m);
    if (known) {
        if (!warnings.empty()) {
            json::array w;
            for (const auto& line : warnings) w.push_back(json::string(line));
            rec["warnings"] = std::move(w);
        }
        json::array outcomes;  // what each service of an import that failed in part came to
        for (const auto& r : m.imported)
            if (r.partially_failed)
                for (const auto* list : {&r.services, &r.versions})
                    for (const auto& o : *list) outcomes.push_back(to_json(o));
        if (!outcomes.empty()) rec["services"] = std::move(outcomes);
    }
    rec["t"] = now_ms();
    return rec;
}

json::object run_record(std::size_t migrations) {
    auto r = make(nullptr, record_kind::run);
    r.insert({{"migrations", migrations}, {"t", now_ms()}});
    return r;
}

json::object run_end_record(std::uint64_t retries, std::uint64_t bytes_down, std::uint64_t bytes_up) {
    auto r = make(nullptr, record_kind::run_end);
    r.insert({{"retries", retries}, {"bytes_down", bytes_down}, {"bytes_up", bytes_up}, {"t", now_ms()}});
    return r;
}

}  // namespace cspark::cli
