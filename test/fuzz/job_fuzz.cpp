// What the client makes of a server's JSON: a job status, a describe
// document, a Content-Range, a status link. Never a crash, always a reason.
#include "fuzz_util.hpp"

#include "impex/codec.hpp"
#include "impex/policy.hpp"

#include <boost/json/parse.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto in = fuzz::text(data, size);
    (void)cspark::detail::content_range_start(in.substr(0, 100));
    (void)cspark::detail::parse_iso_timestamp(in.substr(0, 64));
    boost::system::error_code ec;
    auto v = boost::json::parse(in, ec);
    if (ec) return 0;
    for (const char* kind : {"export", "import"}) {
        cspark::job_status j;
        std::string why;
        bool ok = cspark::detail::parse_job(v, kind, j, why);
        FUZZ_CHECK(ok || !why.empty());
        if (ok && !j.id.empty()) (void)cspark::detail::status_target(kind, j.id);
        auto d = cspark::detail::read_describe(v, kind);
        auto look = cspark::detail::identify_job(d, "4b4c7a8e-0c2d-4f0e-9a1b-3c5d7e9f1a2b", std::chrono::milliseconds(1500));
        using verdict = cspark::detail::job_lookup::verdict;
        FUZZ_CHECK(look.what != verdict::found || !look.id.empty());
        for (const auto& c : look.candidates) {
            bool listed = false;
            for (const auto& job : d.jobs) listed |= job.id == c;
            FUZZ_CHECK(listed);  // a candidate is a job describe showed
        }
    }
    return 0;
}
