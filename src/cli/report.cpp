// Reading journals into a run_report (see batch.cpp for the records).
#include "cli/report.hpp"

#include "cli/journal.hpp"
#include "core/text.hpp"

#include <boost/json/parse.hpp>

#include <algorithm>
#include <fstream>
#include <set>

namespace cspark::cli {
namespace json = boost::json;

std::string report_row::label() const {
    if (members.empty()) return "?";
    if (members.size() == 1) return members.front();
    return members.front() + " +" + std::to_string(members.size() - 1) + " more";
}

namespace {

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

// Builds the report one record at a time.
class reader {
public:
    explicit reader(run_report& r) : r_(r) {}

    void new_file() { run_t_ = 0; }

    void add(const json::object& rec) {
        auto e = str(rec, "e");
        auto t = num(rec, "t");
        if (t > 0) {
            r_.started = r_.started ? std::min(r_.started, t) : t;
            r_.ended = std::max(r_.ended, t);
        }
        if (e == "run") {
            run_t_ = t;
            ++r_.runs;
            return;
        }
        if (e == "run_end") {
            r_.retries += static_cast<std::uint64_t>(num(rec, "retries"));
            return;
        }
        auto members = journal_members(rec);
        if (members.empty()) return;
        for (const auto& m : members) step(m, e, rec);
        // A migration's outcome is recorded for it alone: it belongs to the
        // row (maybe a combined job's) its last step was in.
        auto mine = member_row_.find(members.front());
        bool outcome = (e == "done" || e == "unknown") && members.size() == 1 && mine != member_row_.end();
        std::size_t at = outcome ? mine->second : row_of(members);
        for (const auto& m : members) {
            auto [it, fresh] = member_row_.try_emplace(m, at);
            if (!fresh && it->second != at) {
                close(r_.rows[it->second], t, "failed");  // a combined job that failed: split, its parts run again
                if (r_.rows[it->second].state == "in progress") r_.rows[it->second].state = "split";
                it->second = at;
            }
        }
        row_step(r_.rows[at], e, rec, t);
    }

    void finish() {
        for (const auto& [m, s] : r_.states) {
            if (s == "done") ++r_.done;
            else if (s == "failed") ++r_.failed;
            else ++r_.unknown;  // unknown, or never finished: a rerun resumes it
        }
        r_.migrations = r_.states.size();
        for (auto& row : r_.rows) close(row, r_.ended);  // still running when the journal ends
        std::map<std::string, std::pair<std::int64_t, std::int64_t>> spans;
        for (const auto& row : r_.rows) {
            if (row.phases.empty()) continue;
            auto key = (row.source.empty() ? "?" : row.source) + " -> " + (row.target.empty() ? "?" : row.target);
            auto [it, fresh] = spans.try_emplace(key, row.phases.front().start, row.phases.back().end);
            it->second.first = std::min(it->second.first, row.phases.front().start);
            it->second.second = std::max(it->second.second, row.phases.back().end);
        }
        for (const auto& [pair, span] : spans) r_.slowest.emplace_back(pair, span.second - span.first);
        std::stable_sort(r_.slowest.begin(), r_.slowest.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
        r_.export_jobs = export_jobs_.size();
        r_.import_jobs = import_jobs_.size();
    }

private:
    // One migration's state (as the text report has always said it).
    void step(const std::string& m, const std::string& e, const json::object& rec) {
        auto& s = r_.states[m];
        if (e == "done") {
            bool ok = rec.contains("ok") && rec.at("ok").is_bool() && rec.at("ok").as_bool();
            s = ok ? "done" : "failed";
            if (!ok) failure(m, rec, false);
            if (const auto* w = rec.if_contains("warnings"); w && w->is_array())
                for (const auto& text : w->get_array())
                    if (text.is_string()) r_.warnings.push_back({m, detail::mask_links(std::string(text.get_string()))});
        } else if (e == "unknown") {
            if (s != "done") s = "unknown";
            failure(m, rec, true);
        } else if (s != "done") {
            s = "in progress (" + e + ")";
        }
    }

    void failure(const std::string& m, const json::object& rec, bool unknown) {
        report_failure f;
        f.migration = m;
        f.code = str(rec, "code");
        if (f.code.empty() || f.code.find(' ') != std::string::npos) f.code = unknown ? "unknown_outcome" : "error";  // journals before error names
        f.text = detail::mask_links(str(rec, "error"));
        f.api_code = str(rec, "api_code");
        f.request_id = str(rec, "request_id");
        f.status = static_cast<int>(num(rec, "status"));
        f.unknown = unknown;
        r_.failures.push_back(std::move(f));
    }

    std::size_t row_of(const std::vector<std::string>& members) {
        std::string key;
        for (const auto& m : members) key += m + '\x1f';
        auto [it, fresh] = rows_.try_emplace(key, r_.rows.size());
        if (fresh) {
            r_.rows.emplace_back();
            r_.rows.back().members = members;
        }
        return it->second;
    }

    static void close(report_row& row, std::int64_t t, std::string outcome = {}) {
        if (row.phases.empty() || row.phases.back().end != 0 || t <= 0) return;
        auto& p = row.phases.back();
        p.end = std::max(t, p.start);
        p.outcome = std::move(outcome);
    }
    static void open(report_row& row, std::string name, std::int64_t t) {
        if (t <= 0) return;
        close(row, t);
        row.phases.push_back({std::move(name), t, 0, {}});
    }

    void row_step(report_row& row, const std::string& e, const json::object& rec, std::int64_t t) {
        if (e == "export_intent") {
            if (auto src = str(rec, "src"); !src.empty()) row.source = src;
            if (auto dst = str(rec, "dst"); !dst.empty()) row.target = dst;
            if (run_t_ > 0 && t >= run_t_ && (row.phases.empty() || row.phases.back().end != 0)) {
                row.phases.push_back({"queued", run_t_, t, {}});
            }
            open(row, "export job", t);
        } else if (e == "export_job") {
            row.export_job = str(rec, "id");
            export_jobs_.insert(row.export_job);
        } else if (e == "export_done") {
            if (job_seen_.insert("e" + str(rec, "id")).second) r_.export_ms.push_back(num(rec, "ms"));
            open(row, "download", t);
        } else if (e == "downloaded") {
            if (package_seen_.insert(str(rec, "sha256") + str(rec, "path")).second)
                r_.bytes += static_cast<std::uint64_t>(num(rec, "bytes"));
            close(row, t);
        } else if (e == "import_intent") {
            if (auto dst = str(rec, "dst"); !dst.empty()) row.target = dst;
            // Between the download and the import's POST: waiting for the target tenant's import slot.
            if (!row.phases.empty() && row.phases.back().end > 0 && t > row.phases.back().end)
                row.phases.push_back({"queued", row.phases.back().end, t, {}});
            open(row, "import job", t);
        } else if (e == "import_job") {
            row.import_job = str(rec, "id");
            import_jobs_.insert(row.import_job);
        } else if (e == "import_done") {
            if (job_seen_.insert("i" + str(rec, "id")).second) r_.import_ms.push_back(num(rec, "ms"));
        } else if (e == "done") {
            bool ok = rec.contains("ok") && rec.at("ok").is_bool() && rec.at("ok").as_bool();
            close(row, t, ok ? "" : "failed");
            if (row.state != "failed") row.state = ok ? "done" : "failed";
        } else if (e == "unknown") {
            close(row, t, "unknown");
            if (row.state == "in progress") row.state = "unknown";
        }
    }

    run_report& r_;
    std::int64_t run_t_ = 0;
    std::map<std::string, std::size_t> rows_, member_row_;
    std::set<std::string> export_jobs_, import_jobs_, job_seen_, package_seen_;
};

}  // namespace

std::optional<run_report> read_report(const std::vector<std::string>& journals, std::string& why) {
    run_report r;
    reader rd(r);
    for (const auto& path : journals) {
        std::ifstream in(path);
        if (!in) {
            why = "cannot read journal '" + path + "'";
            return std::nullopt;
        }
        rd.new_file();
        for (std::string line; std::getline(in, line);) {
            boost::system::error_code ec;
            auto v = json::parse(line, ec);
            if (ec || !v.is_object()) continue;
            rd.add(v.get_object());
        }
    }
    rd.finish();
    return r;
}

}  // namespace cspark::cli
