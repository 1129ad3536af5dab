// The emulator's request handling without sockets: any method, target,
// headers and body (an import's multipart body streams into its upload sink,
// as on the wire) gets a response with a valid status, never a crash.
//
// Input: "METHOD TARGET\n" header lines "name: value\n", an empty line, the
// body. "$SRC", "$DST", "$TOKEN" become tenant-0001's and target-0001's API
// keys and tenant-0001's bearer token, "$JOB" the newest job's id, so the
// corpus reaches past authentication whatever credentials the run made.
#include "fuzz_util.hpp"

#include "emulator/impl.hpp"

#include <cspark/emulator.hpp>

#include <boost/asio/io_context.hpp>

namespace {

void replace_all(std::string& s, std::string_view from, const std::string& to) {
    for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) s.replace(pos, from.size(), to);
}

struct world {
    boost::asio::io_context io;
    std::unique_ptr<cspark::emulator> emu;
    std::size_t uses = 0;
    std::string src, dst, token;

    cspark::emulator& get() {
        if (!emu || ++uses > 200) {  // a fresh one now and then: jobs and packages accumulate
            emu.reset();
            cspark::emulator_config cfg;
            cfg.job_duration = std::chrono::milliseconds(0);
            cfg.package_bytes = 256;
            emu = std::make_unique<cspark::emulator>(io.get_executor(), cfg);
            cspark::fleet_spec f;
            f.tenants = 1;
            f.target_tenants = 1;
            f.services = 2;
            f.versions = 2;
            emu->generate(f);
            src = emu->credentials("tenant-0001").api_key;
            dst = emu->credentials("target-0001").api_key;
            token = emu->credentials("tenant-0001").bearer_token;
            uses = 1;
        }
        return *emu;
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static world w;
    auto& emu = w.get();
    auto& impl = emu.get_impl();
    std::string in(fuzz::text(data, size));
    replace_all(in, "$SRC", w.src);
    replace_all(in, "$DST", w.dst);
    replace_all(in, "$TOKEN", w.token);
    {
        std::string job;
        {
            std::lock_guard lock(impl.mu);
            if (!impl.job_order.empty()) job = impl.job_order.back();
        }
        replace_all(in, "$JOB", job.empty() ? "none" : job);
    }
    auto head_end = in.find("\n\n");
    std::string head = in.substr(0, head_end), body = head_end == std::string::npos ? std::string() : in.substr(head_end + 2);
    auto first = head.substr(0, head.find('\n'));
    auto sp = first.find(' ');
    if (sp == std::string::npos) return 0;
    cspark::server::request_head h;
    h.method = first.substr(0, sp);
    h.target = first.substr(sp + 1);
    if (h.target.empty() || h.target[0] != '/') return 0;  // the server core answers 400 to anything else
    for (std::size_t at = first.size() + 1; at < head.size();) {
        auto nl = head.find('\n', at);
        auto line = head.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
        at = nl == std::string::npos ? head.size() : nl + 1;
        auto colon = line.find(':');
        if (colon == std::string::npos || colon == 0) continue;
        auto value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        if (!cspark::detail::header_value_ok(value)) continue;
        h.headers.emplace_back(line.substr(0, colon), value);
    }
    h.content_length = body.size();
    h.remote = "127.0.0.1";
    h.host = "127.0.0.1:8080";

    auto plan = impl.plan_body(h);
    cspark::server::body_status st;
    st.bytes = body.size();
    std::string buffered;
    if (body.size() > plan.limit) st.too_large = true;
    else if (plan.sink) {
        for (std::size_t i = 0; i < body.size() && !st.sink_error; i += 4096) {
            auto piece = std::string_view(body).substr(i, 4096);
            plan.sink->write(std::span<const char>(piece.data(), piece.size()), st.sink_error);
        }
        st.sink = plan.sink.get();
    } else buffered = body;
    auto resp = impl.handle(h, buffered, st);
    FUZZ_CHECK(resp.status >= 100 && resp.status <= 599);
    if (resp.source) {  // a download: read it as the server would, bounded
        std::vector<char> buf(64 * 1024);
        cspark::error_code ec;
        std::uint64_t total = 0;
        for (std::size_t n; (n = resp.source->read(std::span<char>(buf.data(), buf.size()), ec)) > 0 && total < (64u << 20);) total += n;
    }
    w.io.poll();  // builder completions, timers
    return 0;
}
