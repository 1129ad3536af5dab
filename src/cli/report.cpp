// Reading journals into a run_report (see batch.cpp for the records).
#include "cli/report.hpp"

#include "cli/journal_record.hpp"
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

// Builds the report one record at a time.
class reader {
public:
    explicit reader(run_report& r) : r_(r) {}

    void new_file() { run_t_ = 0; }

    void add(const journal_record& rec) {
        auto t = rec.t;
        if (t > 0) {
            r_.started = r_.started ? std::min(r_.started, t) : t;
            r_.ended = std::max(r_.ended, t);
        }
        if (rec.kind == record_kind::run) {
            run_t_ = t;
            ++r_.runs;
            return;
        }
        if (rec.kind == record_kind::run_end) {
            r_.retries += static_cast<std::uint64_t>(rec.retries);
            return;
        }
        const auto& members = rec.members;
        if (members.empty()) return;
        for (const auto& m : members) step(m, rec);
        // A migration's outcome is recorded for it alone: it belongs to the
        // row (maybe a combined job's) its last step was in.
        auto mine = member_row_.find(members.front());
        bool outcome = (rec.kind == record_kind::done || rec.kind == record_kind::unknown) && members.size() == 1 &&
                       mine != member_row_.end();
        std::size_t at = outcome ? mine->second : row_of(members);
        for (const auto& m : members) {
            auto [it, fresh] = member_row_.try_emplace(m, at);
            if (!fresh && it->second != at) {
                close(r_.rows[it->second], t, "failed");  // a combined job that failed: split, its parts run again
                if (r_.rows[it->second].state == "in progress") r_.rows[it->second].state = "split";
                it->second = at;
            }
        }
        row_step(r_.rows[at], rec);
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
    void step(const std::string& m, const journal_record& rec) {
        auto& s = r_.states[m];
        if (rec.kind == record_kind::done) {
            s = rec.ok ? "done" : "failed";
            if (!rec.ok) failure(m, rec, false);
            for (const auto& text : rec.warnings) r_.warnings.push_back({m, detail::mask_links(text)});
        } else if (rec.kind == record_kind::unknown) {
            if (s != "done") s = "unknown";
            failure(m, rec, true);
        } else if (s != "done") {
            s = "in progress (" + rec.e + ")";
        }
    }

    void failure(const std::string& m, const journal_record& rec, bool unknown) {
        report_failure f;
        f.migration = m;
        f.code = rec.code;
        if (f.code.empty() || f.code.find(' ') != std::string::npos) f.code = unknown ? "unknown_outcome" : "error";  // journals before error names
        f.text = detail::mask_links(rec.error);
        f.api_code = rec.api_code;
        f.request_id = rec.request_id;
        f.status = rec.status;
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

    void row_step(report_row& row, const journal_record& rec) {
        auto t = rec.t;
        switch (rec.kind) {
        case record_kind::export_intent:
            if (!rec.src.empty()) row.source = rec.src;
            if (!rec.dst.empty()) row.target = rec.dst;
            if (run_t_ > 0 && t >= run_t_ && (row.phases.empty() || row.phases.back().end != 0)) {
                row.phases.push_back({"queued", run_t_, t, {}});
            }
            open(row, "export job", t);
            break;
        case record_kind::export_job:
            row.export_job = rec.id;
            export_jobs_.insert(row.export_job);
            break;
        case record_kind::export_done:
            if (job_seen_.insert("e" + rec.id).second) r_.export_ms.push_back(rec.ms);
            open(row, "download", t);
            break;
        case record_kind::downloaded:
            if (package_seen_.insert(rec.sha256 + rec.path).second) r_.bytes += static_cast<std::uint64_t>(rec.bytes);
            close(row, t);
            break;
        case record_kind::import_intent:
            if (!rec.dst.empty()) row.target = rec.dst;
            // Between the download and the import's POST: waiting for the target tenant's import slot.
            if (!row.phases.empty() && row.phases.back().end > 0 && t > row.phases.back().end)
                row.phases.push_back({"queued", row.phases.back().end, t, {}});
            open(row, "import job", t);
            break;
        case record_kind::import_job:
            row.import_job = rec.id;
            import_jobs_.insert(row.import_job);
            break;
        case record_kind::import_done:
            if (job_seen_.insert("i" + rec.id).second) r_.import_ms.push_back(rec.ms);
            break;
        case record_kind::done:
            close(row, t, rec.ok ? "" : "failed");
            if (row.state != "failed") row.state = rec.ok ? "done" : "failed";
            break;
        case record_kind::unknown:
            close(row, t, "unknown");
            if (row.state == "in progress") row.state = "unknown";
            break;
        default: break;
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
            rd.add(read_record(v.get_object()));
        }
    }
    rd.finish();
    return r;
}

}  // namespace cspark::cli
