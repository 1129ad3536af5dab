// What the commands print: the --json documents of jobs, files and imports,
// errors, warnings, and the describe table for people.
#include "cli/cli.hpp"

#include "core/text.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>
#include <cstdio>

namespace cspark::cli {
namespace json = boost::json;

json::value to_json(const std::vector<job_message>& warnings) {
    json::array a;
    for (const auto& w : warnings) a.push_back(json::object{{"code", w.code}, {"message", w.message}});
    return a;
}

json::value to_json(const job_status& j) {
    return json::object{{"id", j.id}, {"kind", j.kind}, {"status", j.status}, {"status_url", detail::mask_url(j.status_url)},
                        {"process_time", j.process_time}, {"errors", j.errors}, {"warnings", to_json(j.warnings)},
                        {"outputs", j.outputs}};
}

std::string describe_table(const json::value& doc, const std::string& kind) {
    struct row {
        std::string id, status, created, took, source, cid;
        bool running = false;
    };
    auto text = [](const json::object& o, std::string_view key) {
        const auto* p = o.if_contains(key);
        return p && p->is_string() ? std::string(p->get_string()) : std::string();
    };
    std::vector<row> rows;
    const json::object* top = doc.is_object() ? &doc.get_object() : nullptr;
    for (bool running : {true, false}) {
        const auto* list = top ? top->if_contains((running ? "in_progress_" : "recent_") + kind + "s") : nullptr;
        if (!list || !list->is_array()) continue;
        for (const auto& item : list->get_array()) {
            if (!item.is_object()) continue;
            const auto& o = item.get_object();
            const auto* d = o.if_contains("data");
            json::object data = d && d->is_object() ? d->get_object() : json::object();
            row r;
            r.id = text(o, "id");
            r.status = text(data, kind + "_status");
            if (r.status.empty()) r.status = text(o, "status");
            r.created = text(data, "created_timestamp");
            if (const auto* pt = data.if_contains("process_time"); pt && pt->is_number()) {
                error_code ec;
                auto ms = pt->to_number<std::int64_t>(ec);
                char buf[32];
                std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000.0);
                if (!ec) r.took = buf;
            }
            r.source = text(data, "source_system");
            r.cid = text(data, "correlation_id");
            r.running = running;
            rows.push_back(std::move(r));
        }
    }
    // Newest first: ISO timestamps order as text; undated rows last.
    std::stable_sort(rows.begin(), rows.end(), [](const row& a, const row& b) { return a.created > b.created; });
    if (rows.empty()) return "no " + kind + " jobs in progress or finished in the last hour\n";
    std::vector<std::array<std::string, 7>> cells{{"KIND", "ID", "STATUS", "CREATED", "TOOK", "SOURCE SYSTEM", "CORRELATION ID"}};
    std::size_t running = 0;
    for (const auto& r : rows) {
        running += r.running;
        cells.push_back({kind, r.id, r.status + (r.running ? " *" : ""), r.created, r.took, r.source, r.cid});
    }
    std::array<std::size_t, 7> width{};
    for (const auto& c : cells)
        for (std::size_t i = 0; i < c.size(); ++i) width[i] = std::max(width[i], c[i].size());
    std::string out;
    for (const auto& c : cells) {
        std::string line;
        for (std::size_t i = 0; i < c.size(); ++i) line += c[i] + (i + 1 < c.size() ? std::string(width[i] - c[i].size() + 2, ' ') : "");
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out += line + "\n";
    }
    out += std::to_string(rows.size()) + " " + kind + " job" + (rows.size() == 1 ? "" : "s") + ", " + std::to_string(running) +
           " in progress (*)\n";
    return out;
}

std::vector<std::string> warning_lines(const job_status& j) {
    std::vector<std::string> out;
    for (const auto& w : j.warnings)
        out.push_back(j.kind + " job " + j.id + ": " + w.text());
    return out;
}

std::vector<std::string> warning_lines(const migration_result& m) {
    auto out = warning_lines(m.exported.job);
    for (const auto& r : m.imported)
        for (auto& line : warning_lines(r.job)) out.push_back(std::move(line));
    return out;
}


json::value to_json(const downloaded_file& f) {
    return json::object{{"path", f.path.string()}, {"size", f.size}, {"sha256", f.sha256}, {"verified", f.verified},
                        {"resumes", f.resumes}};
}

json::value to_json(const import_outcome& o) {
    json::object e{{"source", o.source}, {"destination", o.destination}, {"status", o.status}, {"ok", o.ok}};
    if (!o.reason.empty()) e["reason"] = o.reason;
    return e;
}

json::value to_json(const import_result& r) {
    auto list = [](const std::vector<import_outcome>& v) {
        json::array a;
        for (const auto& o : v) a.push_back(to_json(o));
        return a;
    };
    return json::object{{"job", to_json(r.job)}, {"services", list(r.services)}, {"versions", list(r.versions)},
                        {"partially_failed", r.partially_failed}};
}

json::value error_json(const error_code& ec, const diagnostics& d) {
    // "code" is stable for machines (error_name); "text" is for people.
    return json::object{{"error", json::object{{"code", error_name(ec)},
                                               {"text", ec.message()},
                                               {"category", ec.category().name()},
                                               {"value", ec.value()},
                                               {"http_status", d.http_status},
                                               {"api_code", d.api_code},
                                               {"message", d.api_message},
                                               {"detail", d.detail},
                                               {"request_id", d.request_id}}}};
}

}  // namespace cspark::cli
