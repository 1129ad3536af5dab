// The HTML form of a run_report: one self-contained page (inline CSS and
// SVG, no script), well-formed XHTML so any XML or HTML parser reads it.
#include "cli/report.hpp"

#include "core/text.hpp"

#include <cspark/metrics.hpp>

#include <algorithm>
#include <cstdio>

namespace cspark::cli {
namespace {

std::string esc(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default:
            if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') out += ' ';  // not allowed in XML
            else out += c;
        }
    }
    return out;
}
// Free text from a journal: escaped, link tokens masked.
std::string text(std::string_view s) { return esc(detail::mask_links(s)); }
// At most `n` bytes of `s`, never cutting a UTF-8 character.
std::string_view cut(std::string_view s, std::size_t n) {
    if (s.size() <= n) return s;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    return s.substr(0, n);
}

std::string fmt(const char* f, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}
std::string seconds(std::int64_t ms) { return ms < 10000 ? fmt("%.2f s", ms / 1000.0) : fmt("%.0f s", ms / 1000.0); }
std::string bytes(std::uint64_t b) {
    if (b >= (1ull << 30)) return fmt("%.2f GiB", static_cast<double>(b) / (1ull << 30));
    if (b >= (1ull << 20)) return fmt("%.1f MiB", static_cast<double>(b) / (1ull << 20));
    if (b >= 1024) return fmt("%.1f KiB", static_cast<double>(b) / 1024);
    return std::to_string(b) + " B";
}

const char* css = R"(
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2330;background:#fff}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #d6dae3;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f2f4f8}.num{text-align:right;font-variant-numeric:tabular-nums}
.summary td:first-child{color:#5a6275}.bad{color:#b3261e;font-weight:600}.warn{color:#8a5a00;font-weight:600}
.legend span{display:inline-block;margin-right:14px}.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}
svg text{font:11px system-ui,sans-serif;fill:#1d2330}svg .axis{stroke:#c4c9d4}
.queued{fill:#b8bfcc}.export{fill:#3a6fd8}.download{fill:#1aa39a}.import{fill:#7b4fc9}.failed{fill:#d93025}.unknown{fill:#e8a317}
code{font-size:12px}
)";

const char* phase_class(const report_phase& p) {
    if (p.outcome == "failed") return "failed";
    if (p.outcome == "unknown") return "unknown";
    if (p.name == "queued") return "queued";
    if (p.name == "download") return "download";
    if (p.name == "import job") return "import";
    return "export";
}

void summary(std::string& o, const run_report& r) {
    auto row = [&](std::string_view k, const std::string& v, const char* cls = "") {
        o += "<tr><td>" + esc(k) + "</td><td class=\"num " + cls + "\">" + v + "</td></tr>\n";
    };
    o += "<h2>Summary</h2>\n<table class=\"summary\">\n";
    row("Migrations", std::to_string(r.migrations));
    row("Done", std::to_string(r.done));
    row("Failed", std::to_string(r.failed), r.failed ? "bad" : "");
    row("Unknown or unfinished (rerun to resume)", std::to_string(r.unknown), r.unknown ? "warn" : "");
    row("Warnings (from the server)", std::to_string(r.warnings.size()), r.warnings.empty() ? "" : "warn");
    row("Bytes downloaded", bytes(r.bytes));
    row("Wall time", r.ended > r.started ? seconds(r.ended - r.started) : "unknown");
    row("Export jobs", std::to_string(r.export_jobs));
    row("Import jobs", std::to_string(r.import_jobs));
    row("Retries", std::to_string(r.retries));
    row("Runs (journal segments)", std::to_string(r.runs));
    o += "</table>\n";
}

void timeline(std::string& o, const run_report& r) {
    o += "<h2>Timeline</h2>\n";
    std::int64_t t0 = 0, t1 = 0;
    for (const auto& row : r.rows)
        for (const auto& p : row.phases) {
            t0 = t0 ? std::min(t0, p.start) : p.start;
            t1 = std::max(t1, p.end);
        }
    if (t0 == 0 || t1 <= t0) {
        o += "<p>The journals hold no step times (written before phase times were recorded).</p>\n";
        return;
    }
    constexpr std::size_t max_rows = 3000;
    const double left = 230, width = 900, row_h = 16;
    std::size_t n = std::min(r.rows.size(), max_rows);
    double height = 30 + n * row_h;
    double span = static_cast<double>(t1 - t0);
    o += "<p class=\"legend\"><span><i class=\"queued\" style=\"background:#b8bfcc\"></i>queued (worker, tenant slot)</span>"
         "<span><i style=\"background:#3a6fd8\"></i>export job</span><span><i style=\"background:#1aa39a\"></i>download</span>"
         "<span><i style=\"background:#7b4fc9\"></i>import job (upload included)</span><span><i style=\"background:#d93025\"></i>failed</span>"
         "<span><i style=\"background:#e8a317\"></i>unknown</span></p>\n";
    o += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + fmt("%.0f", left + width + 20) + "\" height=\"" + fmt("%.0f", height) +
         "\" role=\"img\" aria-label=\"timeline\">\n";
    for (int k = 0; k <= 5; ++k) {  // the time axis
        double x = left + width * k / 5;
        o += "<line class=\"axis\" x1=\"" + fmt("%.1f", x) + "\" y1=\"18\" x2=\"" + fmt("%.1f", x) + "\" y2=\"" + fmt("%.0f", height) +
             "\"/><text x=\"" + fmt("%.1f", x) + "\" y=\"12\" text-anchor=\"middle\">" + seconds(static_cast<std::int64_t>(span * k / 5)) +
             "</text>\n";
    }
    for (std::size_t i = 0; i < n; ++i) {
        const auto& row = r.rows[i];
        double y = 24 + i * row_h;
        std::string jobs = (row.export_job.empty() ? "" : " export job " + row.export_job) +
                           (row.import_job.empty() ? "" : " import job " + row.import_job);
        std::string who = row.label() + (row.source.empty() ? "" : " (" + row.source + " -> " + row.target + ")");
        o += "<g class=\"row\" data-state=\"" + esc(row.state) + "\"><text x=\"0\" y=\"" + fmt("%.1f", y + 11) + "\"" +
             (row.state == "failed" ? " style=\"fill:#b3261e\"" : "") + ">" + esc(cut(row.label(), 34)) + "<title>" +
             esc(who) + (row.members.size() > 1 ? ": " + esc(detail::joined(row.members)) : "") + "</title></text>";
        for (const auto& p : row.phases) {
            double x = left + width * static_cast<double>(p.start - t0) / span;
            double w = std::max(1.0, width * static_cast<double>(p.end - p.start) / span);
            o += "<rect class=\"" + std::string(phase_class(p)) + "\" x=\"" + fmt("%.1f", x) + "\" y=\"" + fmt("%.1f", y) + "\" width=\"" +
                 fmt("%.1f", w) + "\" height=\"" + fmt("%.0f", row_h - 4) + "\"><title>" + esc(who) + ": " + esc(p.name) + " " +
                 seconds(p.end - p.start) + (p.outcome.empty() ? "" : " (" + esc(p.outcome) + ")") + esc(jobs) + "</title></rect>";
        }
        o += "</g>\n";
    }
    o += "</svg>\n";
    if (r.rows.size() > n) o += "<p>" + std::to_string(r.rows.size() - n) + " more rows are not drawn.</p>\n";
}

void failures(std::string& o, const run_report& r) {
    o += "<h2>Failures</h2>\n";
    if (r.failures.empty()) {
        o += "<p>None.</p>\n";
        return;
    }
    std::map<std::string, std::vector<const report_failure*>> by_code;
    for (const auto& f : r.failures) by_code[f.code].push_back(&f);
    for (const auto& [code, list] : by_code) {
        o += "<h3 id=\"code-" + esc(code) + "\"><code>" + esc(code) + "</code>: " + std::to_string(list.size()) +
             (list.front()->unknown ? " unknown outcome" : " failed") + "</h3>\n<table class=\"failures\">\n"
             "<tr><th>Migration</th><th>HTTP status</th><th>API code</th><th>Request id</th><th>What happened</th></tr>\n";
        for (const auto* f : list)
            o += "<tr><td>" + esc(f->migration) + "</td><td class=\"num\">" + (f->status ? std::to_string(f->status) : "") + "</td><td>" +
                 esc(f->api_code) + "</td><td><code>" + esc(f->request_id) + "</code></td><td>" + text(f->text) + "</td></tr>\n";
        o += "</table>\n";
    }
}

void warnings(std::string& o, const run_report& r) {
    if (r.warnings.empty()) return;
    o += "<h2>Warnings</h2>\n<table class=\"failures\">\n<tr><th>Migration</th><th>Warning</th></tr>\n";
    for (std::size_t i = 0; i < r.warnings.size() && i < 200; ++i)
        o += "<tr><td>" + esc(r.warnings[i].migration) + "</td><td>" + text(r.warnings[i].text) + "</td></tr>\n";
    o += "</table>\n";
    if (r.warnings.size() > 200) o += "<p>" + std::to_string(r.warnings.size() - 200) + " more warnings are in the journal.</p>\n";
}

void slowest(std::string& o, const run_report& r) {
    o += "<h2>Slowest tenant pairs</h2>\n<table>\n<tr><th>Source -&gt; target</th><th>First step to last</th></tr>\n";
    for (std::size_t i = 0; i < r.slowest.size() && i < 10; ++i)
        o += "<tr><td>" + esc(r.slowest[i].first) + "</td><td class=\"num\">" + seconds(r.slowest[i].second) + "</td></tr>\n";
    o += "</table>\n";
}

void histogram(std::string& o, std::string_view kind, const std::vector<std::int64_t>& ms) {
    duration_histogram h;
    for (auto d : ms) h.observe(std::chrono::milliseconds(d));
    std::uint64_t top = 1;
    for (auto c : h.counts) top = std::max(top, c);
    const double bar = 46, height = 120;
    o += "<figure><figcaption>" + esc(kind) + " jobs (" + std::to_string(h.count) + ")</figcaption>\n";
    o += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + fmt("%.0f", bar * h.counts.size() + 10) + "\" height=\"" +
         fmt("%.0f", height + 34) + "\" role=\"img\" aria-label=\"" + esc(kind) + " job durations\">\n";
    for (std::size_t b = 0; b < h.counts.size(); ++b) {
        double x = 5 + b * bar;
        double hh = height * static_cast<double>(h.counts[b]) / static_cast<double>(top);
        std::string le = b < h.bounds.size() ? "&lt;= " + fmt("%g", h.bounds[b]) + " s" : "&gt; " + fmt("%g", h.bounds.back()) + " s";
        o += "<rect class=\"" + std::string(kind == "import" ? "import" : "export") + "\" x=\"" + fmt("%.0f", x) + "\" y=\"" +
             fmt("%.1f", height - hh + 14) + "\" width=\"" + fmt("%.0f", bar - 6) + "\" height=\"" + fmt("%.1f", hh) + "\"><title>" + le +
             ": " + std::to_string(h.counts[b]) + " jobs</title></rect>";
        o += "<text x=\"" + fmt("%.0f", x + (bar - 6) / 2) + "\" y=\"" + fmt("%.0f", height + 28) + "\" text-anchor=\"middle\">" +
             (b < h.bounds.size() ? fmt("%g", h.bounds[b]) : "+") + "</text>";
        if (h.counts[b])
            o += "<text x=\"" + fmt("%.0f", x + (bar - 6) / 2) + "\" y=\"" + fmt("%.1f", height - hh + 10) + "\" text-anchor=\"middle\">" +
                 std::to_string(h.counts[b]) + "</text>";
        o += "\n";
    }
    o += "</svg></figure>\n";
}

}  // namespace

std::string render_html(const run_report& r, std::string_view title) {
    std::string o;
    o.reserve(4096 + r.rows.size() * 600);
    o += "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>" +
         esc(title) + "</title>\n<style>" + css + "</style>\n</head>\n<body>\n<h1>" + esc(title) + "</h1>\n";
    summary(o, r);
    timeline(o, r);
    failures(o, r);
    warnings(o, r);
    slowest(o, r);
    o += "<h2>Job durations (seconds, upper bounds)</h2>\n";
    histogram(o, "export", r.export_ms);
    histogram(o, "import", r.import_ms);
    o += "<p>Made by cspark-impex from the run's journals.</p>\n</body>\n</html>\n";
    return o;
}

}  // namespace cspark::cli
