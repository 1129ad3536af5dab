// The batch report read from journals and drawn as one HTML page: counts,
// rows and phases, failures by code, nothing secret, a page a real parser reads.
#include "cli/report.hpp"

#include "../support/page_check.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <random>

using namespace cspark::cli;

namespace {

struct temp_journal {
    std::filesystem::path path;
    explicit temp_journal(const std::string& text) {
        path = std::filesystem::temp_directory_path() / ("cspark-report-" + std::to_string(std::random_device{}()) + ".jsonl");
        std::ofstream(path) << text;
    }
    ~temp_journal() {
        std::error_code ignored;
        std::filesystem::remove(path, ignored);
    }
};

// Three rows: "a" alone, "b" and "c" in a combined job (c fails with a
// diagnostic that carries a link token and a bearer token), "d" whose export
// job's state became unknown. A torn last line from a crash is skipped.
const char* journal_text = R"({"e":"run","migrations":4,"t":1000}
{"m":"a","e":"export_intent","cid":"c1","src":"uat","dst":"prod","t":1100}
{"m":"a","e":"export_job","id":"EJ1","t":1150}
{"m":"a","e":"export_done","id":"EJ1","ms":900,"t":2000}
{"m":"a","e":"downloaded","path":"/x/a.zip","sha256":"aa","bytes":1048576,"t":2300}
{"m":"a","e":"import_intent","file":"/x/a.zip","cid":"c2","dst":"prod","t":2400}
{"m":"a","e":"import_job","id":"IJ1","t":2500}
{"m":"a","e":"import_done","id":"IJ1","ms":1500,"t":4000}
{"m":"a","e":"done","ok":true,"t":4010}
{"m":["b","c"],"e":"export_intent","cid":"c3","src":"uat","dst":"prod","t":1200}
{"m":["b","c"],"e":"export_job","id":"EJ2","t":1250}
{"m":["b","c"],"e":"export_done","id":"EJ2","ms":3000,"t":4500}
{"m":["b","c"],"e":"downloaded","path":"/x/b.zip","sha256":"bb","bytes":2097152,"t":4700}
{"m":["b","c"],"e":"import_intent","file":"/x/b.zip","cid":"c4","dst":"prod","t":4800}
{"m":["b","c"],"e":"import_job","id":"IJ2","t":4900}
{"m":["b","c"],"e":"import_done","id":"IJ2","ms":700,"t":5600}
{"m":"b","e":"done","ok":true,"t":5610}
{"m":"c","e":"done","ok":false,"code":"not_found","error":"404 Not Found GET https://h/t/dl/x.zip?token=SECRETTOKEN&e=1; Authorization: Bearer SECRETBEARER","status":404,"api_code":"SERVICE_NOT_FOUND","request_id":"rid-9","t":5620}
{"m":"d","e":"export_intent","cid":"c5","src":"uat2","dst":"prod2","t":1300}
{"m":"d","e":"export_job","id":"EJ3","t":1350}
{"m":"d","e":"unknown","code":"job_state_unknown","error":"export job EJ3: state unknown <script>alert(1)</script>","t":9000}
{"e":"run_end","retries":3,"bytes_down":3145728,"t":9100}
{"m":"e","e":"export_in)";

}  // namespace

TEST_CASE("report: journals give counts, one row per migration or combined job, phases and failures") {
    temp_journal j(journal_text);
    std::string why;
    auto r = read_report({j.path.string()}, why);
    REQUIRE_MESSAGE(r, why);
    CHECK(r->migrations == 4);
    CHECK(r->done == 2);
    CHECK(r->failed == 1);
    CHECK(r->unknown == 1);
    CHECK(r->export_jobs == 3);
    CHECK(r->import_jobs == 2);
    CHECK(r->bytes == 3u * 1048576u);
    CHECK(r->retries == 3);
    CHECK(r->ended - r->started == 8100);
    CHECK(r->export_ms == std::vector<std::int64_t>{900, 3000});
    CHECK(r->import_ms == std::vector<std::int64_t>{1500, 700});
    REQUIRE(r->rows.size() == 3);
    const auto& a = r->rows[0];
    CHECK(a.label() == "a");
    CHECK(a.source == "uat");
    CHECK(a.state == "done");
    REQUIRE(a.phases.size() == 5);
    CHECK(a.phases[0].name == "queued");
    CHECK(a.phases[0].end - a.phases[0].start == 100);
    CHECK(a.phases[1].name == "export job");
    CHECK(a.phases[1].end == 2000);
    CHECK(a.phases[2].name == "download");
    CHECK(a.phases[2].end == 2300);
    CHECK(a.phases[3].name == "queued");  // for the target's import slot, after the download
    CHECK(a.phases[3].end - a.phases[3].start == 100);
    CHECK(a.phases[4].name == "import job");
    CHECK(a.phases[4].end == 4010);
    CHECK(r->rows[1].label() == "b +1 more");
    CHECK(r->rows[1].state == "failed");
    CHECK(r->rows[2].state == "unknown");
    CHECK(r->rows[2].phases.back().outcome == "unknown");
    REQUIRE(r->failures.size() == 2);
    CHECK(r->failures[0].code == "not_found");
    CHECK(r->failures[0].status == 404);
    CHECK(r->failures[0].text.find("SECRETTOKEN") == std::string::npos);
    CHECK(r->failures[1].unknown);
    REQUIRE(r->slowest.size() == 2);
    CHECK(r->slowest[0].first == "uat2 -> prod2");
    CHECK(r->slowest[0].second == 8000);
}

TEST_CASE("report: the HTML page is well-formed, has the rows and failures, and no secret") {
    temp_journal j(journal_text);
    std::string why;
    auto r = read_report({j.path.string()}, why);
    REQUIRE(r);
    auto page = render_html(*r, "run <1> & co");
    page_check::xhtml doc(page);  // throws unless it parses as strict XML
    CHECK(doc.all("/h:html/h:head/h:title") == std::vector<std::string>{"run <1> & co"});
    CHECK(doc.count("//s:svg//s:g[@class='row']") == 3);
    CHECK(doc.count("//s:g[@data-state='failed']") == 1);
    CHECK(doc.count("//s:rect[@class='unknown']") == 1);
    CHECK(doc.count("//s:g[@class='row'][1]/s:rect") == 5);  // a: queued, export, download, queued, import
    auto hover = doc.all("//s:g[@class='row'][1]/s:rect[2]/s:title");
    REQUIRE(hover.size() == 1);
    CHECK(hover[0].find("export job EJ1") != std::string::npos);
    CHECK(doc.count("//h:h3[@id='code-not_found']") == 1);
    CHECK(doc.count("//h:h3[@id='code-job_state_unknown']") == 1);
    auto cells = doc.all("//h:table[@class='failures']//h:td");
    CHECK(std::find(cells.begin(), cells.end(), "rid-9") != cells.end());
    CHECK(std::find(cells.begin(), cells.end(), "SERVICE_NOT_FOUND") != cells.end());
    CHECK(page.find("SECRETTOKEN") == std::string::npos);
    CHECK(page.find("SECRETBEARER") == std::string::npos);
    CHECK(page.find("<script") == std::string::npos);  // journal text is escaped, never markup
    CHECK(page.find("http://") == page.find("http://www.w3.org"));  // nothing fetched: only namespace names
}

TEST_CASE("report: a journal without step times still counts; a missing one is named") {
    temp_journal j(R"({"m":"a","e":"export_intent","cid":"c1"}
{"m":"a","e":"done","ok":true}
{"m":"b","e":"done","ok":false,"error":"x","code":"404 Not Found"}
)");
    std::string why;
    auto r = read_report({j.path.string()}, why);
    REQUIRE(r);
    CHECK(r->done == 1);
    CHECK(r->failed == 1);
    CHECK(r->failures[0].code == "error");  // an old journal's code was words
    page_check::xhtml doc(render_html(*r, "old"));
    CHECK(doc.count("//s:g[@class='row']") == 0);
    CHECK(!read_report({(j.path.string() + ".missing")}, why));
    CHECK(why.find(".missing") != std::string::npos);
}

TEST_CASE("page check: the parser refuses a page that is not well-formed") {
    CHECK_THROWS(page_check::xhtml("<html><body><p>unclosed</body></html>"));
    CHECK_THROWS(page_check::xhtml("<html>&nbsp;</html>"));
}
