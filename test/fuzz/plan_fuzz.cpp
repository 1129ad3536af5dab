// Batch plans and journals as users and crashes leave them: a plan loads or
// is refused with a spark_error naming the entry; a journal replays (torn
// lines skipped), and its report page is always well-formed XML.
#include "fuzz_util.hpp"

#include "cli/journal.hpp"
#include "cli/plan.hpp"
#include "cli/report.hpp"

#include <boost/asio/io_context.hpp>

#include <libxml/parser.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const auto path = fuzz::scratch("input.json");
    fuzz::write(path, data, size);
    if (size > 0 && data[0] == '{') {  // a plan
        try {
            cspark::cli::connection_options defaults;
            defaults.base_url = "http://127.0.0.1:1/t";
            auto plan = cspark::cli::load_plan(path.string(), defaults);
            for (const auto& e : plan) FUZZ_CHECK(!e.name.empty());
        } catch (const cspark::spark_error& e) {
            FUZZ_CHECK(e.code() == cspark::errc::invalid_argument || e.code() == cspark::errc::file_error);
            FUZZ_CHECK(!e.diag().detail.empty());
        }
    }
    // The same bytes as a journal: replay, then the report and its page.
    {
        boost::asio::io_context io;
        cspark::cli::journal j(path.string(), io.get_executor());
        (void)j.state("m-1");
    }
    std::string why;
    auto r = cspark::cli::read_report({path.string()}, why);
    FUZZ_CHECK(r);
    FUZZ_CHECK(r->done + r->failed + r->unknown == r->migrations);
    auto page = cspark::cli::render_html(*r, "fuzz");
    xmlDocPtr doc = xmlReadMemory(page.data(), static_cast<int>(page.size()), "r.html", "utf-8",
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    FUZZ_CHECK(doc != nullptr);  // whatever a journal holds, the page parses
    xmlFreeDoc(doc);
    return 0;
}
