// `cspark-impex batch --report J... [--html FILE]`: the journals' summary as
// text or JSON, and the page (report.hpp).
#include "cli/cli.hpp"
#include "cli/report.hpp"

#include <boost/json/value.hpp>

#include <cstdio>
#include <cstring>

namespace cspark::cli {
namespace json = boost::json;

int report(const std::vector<std::string>& journals, const std::string& html, const output& out) {
    std::string why;
    auto r = read_report(journals, why);
    if (!r) {
        out.error("report: " + why);
        return usage;
    }
    json::object per;
    for (const auto& [m, s] : r->states) per[m] = s;
    json::object result{{"migrations", r->migrations}, {"done", r->done}, {"failed", r->failed}, {"pending", r->unknown},
                        {"warnings", r->warnings.size()},
                        {"export_jobs", r->export_jobs}, {"import_jobs", r->import_jobs}, {"retries", r->retries},
                        {"bytes", r->bytes}, {"wall_ms", r->ended > r->started ? r->ended - r->started : 0}, {"states", per}};
    if (!html.empty()) {
        auto page = render_html(*r, "cspark-impex batch report");
        if (int err = replace_file(html, page, ".part"); err != 0) {
            out.error("report: cannot write '" + html + "': " + std::strerror(err));
            return failed;
        }
        result["html"] = html;
    }
    out.result(result);
    if (!out.json) {
        std::printf("report: %zu migrations: %zu done, %zu failed, %zu pending, %zu warnings\n", r->migrations, r->done,
                    r->failed, r->unknown, r->warnings.size());
        for (const auto& w : r->warnings) std::printf("  %s: warning: %s\n", w.migration.c_str(), w.text.c_str());
        for (const auto& [m, s] : r->states)
            if (s != "done") std::printf("  %s: %s\n", m.c_str(), s.c_str());
        if (!html.empty()) std::printf("report: page written to %s\n", html.c_str());
    }
    return r->failed || r->unknown ? failed : ok;
}

}  // namespace cspark::cli
