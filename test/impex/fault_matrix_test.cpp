// A fault at every step: each flow (exp, imp, migrate, a coalesced fleet) is
// run once per (step, fault) against a fresh emulator whose rule makes that
// step misbehave once. Every case must end in success or a typed error that
// says what failed, and lose nothing: no .part left, no package at a
// destination unless verified, no import done twice (the emulator's state),
// no export job left running on the server. The matrix is printed.
#include "support/impex_fixture.hpp"

#include "emulator/impl.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdio>
#include <map>
#include <sys/mount.h>

using namespace cspark;
using namespace cspark::test;
using namespace std::chrono_literals;

namespace {

struct fault {
    std::string name;
    std::string rule;            // JSON of one rule, ROUTE replaced by the step's route ("" = none)
    std::string expect = "ok";   // the outcome: "ok" (retried away, or looked up) or an error_name
    bool cancel = false;         // the caller cancels while the step is held
    bool disk_full = false;      // the download directory has no room
    std::string also;            // a rule before it that leads the flow to the step (a lookup, a cancel)

    fault(std::string n, std::string r, std::string e = "ok", bool c = false, bool d = false, std::string a = {})
        : name(std::move(n)), rule(std::move(r)), expect(std::move(e)), cancel(c), disk_full(d), also(std::move(a)) {}
};

const std::vector<fault>& faults() {
    static const std::vector<fault> all{
        {"reset (answer lost)", R"({"route":"ROUTE","kind":"reset","times":1})"},
        {"reset mid-body", R"({"route":"ROUTE","kind":"reset_mid_body","after_bytes":7,"times":1})"},
        {"idle timeout", R"({"route":"ROUTE","kind":"delay","delay_ms":900,"times":1})"},
        {"429 Retry-After", R"({"route":"ROUTE","kind":"status","status":429,"retry_after":0.01,"times":1})"},
        {"429", R"({"route":"ROUTE","kind":"status","status":429,"times":1})"},
        {"500", R"({"route":"ROUTE","kind":"status","status":500,"times":1})"},
        {"502", R"({"route":"ROUTE","kind":"status","status":502,"times":1})"},
        {"503", R"({"route":"ROUTE","kind":"status","status":503,"times":1})"},
        {"504 after action", R"({"route":"ROUTE","kind":"status","status":504,"after_action":true,"times":1})"},
        {"502 HTML page", R"({"route":"ROUTE","kind":"body","status":502,"content_type":"text/html","body":"<html><body><h1>502 Bad Gateway</h1></body></html>","times":1})"},
        {"malformed JSON", R"({"route":"ROUTE","kind":"body","status":200,"after_action":true,"body":"{not json at all","times":1})"},
        {"truncated JSON", R"({"route":"ROUTE","kind":"body","status":200,"after_action":true,"body":"{\"status\":\"Success\",\"response_data\":{\"id\":\"","times":1})"},
        {"cancelled by caller", R"({"route":"ROUTE","kind":"delay","delay_ms":3000,"times":1})", "cancelled", true},
    };
    return all;
}
// Faults only some steps can have.
const std::vector<std::pair<std::string, fault>>& step_faults() {
    static const std::vector<std::pair<std::string, fault>> all{
        {"export.create", {"job failed", R"({"route":"export.create","kind":"job_fail"})", "job_failed"}},
        {"export.create", {"job never finishes", R"({"route":"export.create","kind":"job_never_finishes"})", "poll_timeout"}},
        {"export.create", {"hash mismatch", R"({"route":"export.create","kind":"job_wrong_hash"})", "hash_mismatch"}},
        {"import.create", {"job failed", R"({"route":"import.create","kind":"job_fail"})", "job_failed"}},
        {"import.create", {"job never finishes", R"({"route":"import.create","kind":"job_never_finishes"})", "poll_timeout"}},
        {"download", {"link expired", R"({"route":"download","kind":"expire_link","times":1})", "not_found"}},
        {"download", {"disk full", "", "file_error", false, true}},
        {"connect", {"connection refused", "", "connect_failed"}},
        {"download", {"reset late in the body", R"({"route":"download","kind":"reset_mid_body","after_bytes":3000,"times":1})"}},
        // A POST's answer lost: the lookup (describe) runs, and fails once.
        {"export.describe", {"503", R"({"route":"ROUTE","kind":"status","status":503,"times":1})", "ok", false, false,
                             R"({"route":"export.create","kind":"reset","times":1})"}},
        {"export.describe", {"reset (answer lost)", R"({"route":"ROUTE","kind":"reset","times":1})", "ok", false, false,
                             R"({"route":"export.create","kind":"reset","times":1})"}},
        {"export.describe", {"malformed JSON", R"({"route":"ROUTE","kind":"body","status":200,"body":"[oops","times":1})", "ok", false,
                             false, R"({"route":"export.create","kind":"reset","times":1})"}},
        {"import.describe", {"503", R"({"route":"ROUTE","kind":"status","status":503,"times":1})", "ok", false, false,
                             R"({"route":"import.create","kind":"reset","times":1})"}},
        {"import.describe", {"reset (answer lost)", R"({"route":"ROUTE","kind":"reset","times":1})", "ok", false, false,
                             R"({"route":"import.create","kind":"reset","times":1})"}},
        {"import.describe", {"malformed JSON", R"({"route":"ROUTE","kind":"body","status":200,"body":"[oops","times":1})",
                             "import_outcome_unknown", false, false, R"({"route":"import.create","kind":"reset","times":1})"}},
        {"import.describe", {"500", R"({"route":"ROUTE","kind":"status","status":500,"times":1})", "import_outcome_unknown", false,
                             false, R"({"route":"import.create","kind":"reset","times":1})"}},
        // The caller cancels while a status check is held; the cancel request fails once.
        {"export.cancel", {"503", R"({"route":"ROUTE","kind":"status","status":503,"times":1})", "cancelled", true, false,
                           R"({"route":"export.status","kind":"delay","delay_ms":3000,"times":1})"}},
        {"export.cancel", {"reset (answer lost)", R"({"route":"ROUTE","kind":"reset","times":1})", "cancelled", true, false,
                           R"({"route":"export.status","kind":"delay","delay_ms":3000,"times":1})"}},
        // Spark's own answers (a run against its UAT): a failure inside a 200,
        // failing statuses, errors as an object, warnings, a failed service.
        {"export.create", {"error in 200", R"({"route":"ROUTE","kind":"error_in_200","times":1})", "job_failed"}},
        {"export.status", {"error in 200", R"({"route":"ROUTE","kind":"error_in_200","times":1})", "job_failed"}},
        {"export.create", {"status Error", R"({"route":"ROUTE","kind":"job_status","job_status":"Error"})", "job_failed"}},
        {"export.create", {"closed_by_timeout", R"({"route":"ROUTE","kind":"job_status","job_status":"closed_by_timeout"})", "job_failed"}},
        {"export.create", {"unknown status", R"({"route":"ROUTE","kind":"job_status","job_status":"paused"})", "poll_timeout"}},
        {"export.create", {"errors as object", R"({"route":"ROUTE","kind":"job_fail","errors_as":"object"})", "job_failed"}},
        {"export.create", {"warnings", R"({"route":"ROUTE","kind":"job_warnings","warnings_as":"objects"})"}},
        {"import.create", {"error in 200", R"({"route":"ROUTE","kind":"error_in_200","times":1})", "job_failed"}},
        {"import.status", {"error in 200", R"({"route":"ROUTE","kind":"error_in_200","times":1})", "job_failed"}},
        {"import.create", {"status FAILED", R"({"route":"ROUTE","kind":"job_status","job_status":"FAILED"})", "job_failed"}},
        {"import.create", {"errors as string", R"({"route":"ROUTE","kind":"job_fail","errors_as":"string"})", "job_failed"}},
        {"import.create", {"warnings", R"({"route":"ROUTE","kind":"job_warnings"})"}},
        {"import.create", {"failed service", R"({"route":"ROUTE","kind":"service_failed"})", "import_partially_failed"}},
        {"download", {"proxy page once", R"({"route":"ROUTE","kind":"body","status":200,"content_type":"text/html","body":"<html>login</html>","times":1})"}},
    };
    return all;
}

enum class flow { exp, imp, migrate, fleet };
const char* name_of(flow f) {
    switch (f) {
    case flow::exp: return "exp";
    case flow::imp: return "imp";
    case flow::migrate: return "migrate";
    case flow::fleet: return "fleet";
    }
    return "?";
}
std::vector<std::string> steps_of(flow f) {
    switch (f) {
    case flow::exp: return {"connect", "token", "export.create", "export.describe", "export.status", "download", "export.cancel"};
    case flow::imp: return {"connect", "token", "import.create", "import.describe", "import.status"};
    case flow::migrate: return {"connect", "token", "export.create", "export.describe", "export.status", "download", "import.create",
                                "import.describe", "import.status"};
    case flow::fleet: return {"connect", "export.create", "export.status", "download", "import.create", "import.status"};
    }
    return {};
}

struct outcome {
    error_code ec;
    diagnostics diag;
    std::vector<downloaded_file> files;
};

// A small tmpfs for "disk full" (root only: mount(2)); "" when not possible.
std::filesystem::path tiny_disk(const std::filesystem::path& at) {
    std::filesystem::create_directories(at);
    if (::geteuid() != 0 || ::mount("cspark-full", at.c_str(), "tmpfs", 0, "size=8k") != 0) return {};
    return at;
}

struct case_result {
    std::string outcome;  // "ok" or the error name
    bool skipped = false;
};

case_result run_case(flow fl, const std::string& step, const fault& fa) {
    impex_fixture t;
    auto cfg_of = [&](const std::string& tenant) {
        auto c = t.config(tenant, 3);
        c.transport.idle_timeout = 300ms;
        if (step == "connect" && tenant == (fl == flow::imp ? "target-0001" : "tenant-0001")) {
            // Nothing listens there: a port that was free a moment ago.
            asio::ip::tcp::acceptor a(t.f.io, {asio::ip::make_address("127.0.0.1"), 0});
            c.base_url = "http://127.0.0.1:" + std::to_string(a.local_endpoint().port()) + "/" + tenant;
        }
        if (step == "token") {  // OAuth, so there is a token step
            auto creds = t.f.emu->credentials(tenant);
            c.api_key = secret();
            c.oauth = {creds.client_id, creds.client_secret};
        }
        return c;
    };
    impex src(client(t.f.io.get_executor(), cfg_of("tenant-0001")));
    impex dst(client(t.f.io.get_executor(), cfg_of("target-0001")));
    auto out_dir = t.dir("out");
    std::filesystem::path mounted;
    if (fa.disk_full) {
        mounted = tiny_disk(t.f.scratch / "full");
        if (mounted.empty()) return {"", true};
        out_dir = mounted;
    }
    // The package an import uploads, made before any fault.
    std::filesystem::path package;
    if (fl == flow::imp) {
        export_result e;
        auto er = quick({.services = {"folder-1/service-1"}});
        er.directory = t.dir("pkg");
        run_coro(t.f.io, [&]() -> asio::awaitable<void> { e = co_await src.exp(er); });
        package = e.files.at(0).path;
    }
    std::string rule = fa.rule;
    for (auto pos = rule.find("ROUTE"); pos != std::string::npos; pos = rule.find("ROUTE")) rule.replace(pos, 5, step);
    if (!fa.also.empty()) rule = fa.also + "," + rule;  // the rule that leads the flow to the step comes first
    if (!rule.empty()) t.f.emu->set_faults(json::parse("{\"rules\":[" + rule + "]}"));

    auto poll = [](auto r) {
        r.poll.retry_interval = 10ms;
        r.poll.deadline = 3s;  // virtual time: a job that never finishes ends the poll at once
        return r;
    };
    outcome o;
    asio::cancellation_signal cancel;
    bool done = false;
    auto body = [&]() -> asio::awaitable<void> {
        try {
            if (fl == flow::exp) {
                auto r = poll(export_request{.services = {"folder-1/service-1"}});
                r.directory = out_dir;
                auto e = co_await src.exp(r);
                o.files = e.files;
            } else if (fl == flow::imp) {
                auto r = poll(import_request{.file = package});
                r.destination = service_mapping{.source = "folder-1/service-1"};
                co_await dst.imp(r);
            } else if (fl == flow::migrate) {
                migrate_request r;
                r.exports = poll(export_request{.services = {"folder-1/service-1"}});
                r.exports.directory = out_dir;
                auto m = co_await src.migrate(dst, r);
                o.ec = m.ec;
                o.diag = m.diag;
            } else {
                std::vector<fleet_entry> entries;
                for (int i = 1; i <= 2; ++i) {
                    fleet_entry e{.name = "e" + std::to_string(i), .source = &src, .target = &dst};
                    e.request.exports = poll(export_request{.services = {"folder-1/service-" + std::to_string(i)}});
                    e.request.exports.directory = out_dir;
                    entries.push_back(std::move(e));
                }
                fleet_options opt;
                opt.coalesce.enabled = true;
                auto results = co_await migrate_fleet(std::move(entries), opt);
                for (const auto& m : results)
                    if (m.ec && !o.ec) {
                        o.ec = m.ec;
                        o.diag = m.diag;
                    }
            }
        } catch (const spark_error& e) {
            o.ec = e.code();
            o.diag = e.diag();
        }
    };
    asio::co_spawn(t.f.io, body(), asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr) { done = true; }));
    auto seen = [&] {
        auto& impl = t.f.emu->get_impl();
        std::lock_guard lock(impl.mu);
        auto doc = impl.faults.to_json();
        return !doc.at("rules").as_array().empty() && doc.at("rules").at(0).at("seen").to_number<int>() > 0;
    };
    bool cancelled = false;
    auto until = std::chrono::steady_clock::now() + 60s;
    while (!done && std::chrono::steady_clock::now() < until) {
        t.f.io.run_for(2ms);
        if (fa.cancel && !cancelled && seen()) {
            cancel.emit(asio::cancellation_type::terminal);
            cancelled = true;
        }
    }
    REQUIRE_MESSAGE(done, "the flow did not end within 60 s");
    // What a cancellation or give-up sent to the server arrives.
    auto settle = std::chrono::steady_clock::now() + 100ms;
    while (std::chrono::steady_clock::now() < settle) t.f.io.run_for(5ms);

    // Typed, and says what failed.
    if (o.ec) {
        CHECK(o.ec.category() == error_category());
        CHECK(o.ec != errc::internal_error);
        if (o.ec != errc::cancelled) CHECK_MESSAGE(!o.diag.empty(), "an error without diagnostics");
    }
    // Nothing partial, nothing unverified at a destination.
    for (const auto& entry : std::filesystem::recursive_directory_iterator(t.f.scratch)) {
        if (!entry.is_regular_file()) continue;
        auto p = entry.path();
        CHECK_MESSAGE(p.extension() != ".part", "left behind: " << p);
        if (p.parent_path() == out_dir && p.extension() == ".zip") {
            bool verified = false;
            for (const auto& f : o.files) verified |= f.path == p && f.verified;
            CHECK_MESSAGE((fl == flow::exp && !o.ec && verified), "an unverified or transient package is left: " << p);
        }
    }
    // Never twice; and exactly once when it succeeded.
    if (fl != flow::exp) {
        for (int i = 1; i <= (fl == flow::fleet ? 2 : 1); ++i) {
            auto v = t.versions("target-0001", "folder-1", "service-" + std::to_string(i));
            CAPTURE(i);
            CHECK(v <= 1);
            if (!o.ec) CHECK(v == 1);
        }
    }
    // No export job left running on the server for nobody.
    auto st = t.state();
    for (const auto& j : st.at("jobs").as_array()) {
        if (j.at("kind") != json::value("export")) continue;
        auto status = std::string(j.at("status").as_string());
        CHECK_MESSAGE((status != "in_progress" && status != "created"), "export job left " << status);
    }
    if (!mounted.empty()) ::umount2(mounted.c_str(), MNT_DETACH);
    return {o.ec ? std::string(error_name(o.ec)) : "ok"};
}

}  // namespace

TEST_CASE("a fault at every step: success or a typed error, nothing lost, nothing twice") {
    std::size_t cases = 0, skipped = 0, ok = 0;
    std::map<std::string, std::size_t> errors;
    std::printf("%-8s %-14s %-22s %s\n", "flow", "step", "fault", "outcome");
    for (flow fl : {flow::exp, flow::imp, flow::migrate, flow::fleet}) {
        for (const auto& step : steps_of(fl)) {
            bool reached = !(step.ends_with(".describe") || step.ends_with(".cancel") || step == "connect");  // only with its own fault
            std::vector<fault> list = reached ? faults() : std::vector<fault>{};
            for (const auto& [where, fa] : step_faults())
                if (where == step) list.push_back(fa);
            for (const auto& fa : list) {
                if (step == "token" && fa.rule.find("after_action") != std::string::npos) continue;  // no action to come after
                CAPTURE(name_of(fl));
                CAPTURE(step);
                CAPTURE(fa.name);
                auto r = run_case(fl, step, fa);
                ++cases;
                if (r.skipped) {
                    ++skipped;
                    std::printf("%-8s %-14s %-22s skipped (needs root for a tmpfs)\n", name_of(fl), step.c_str(), fa.name.c_str());
                    continue;
                }
                r.outcome == "ok" ? ++ok : ++errors[r.outcome];
                std::printf("%-8s %-14s %-22s %s\n", name_of(fl), step.c_str(), fa.name.c_str(), r.outcome.c_str());
                // What each case must end in: a one-time fault is retried away (a
                // POST whose answer was lost or unreadable is looked up by its
                // correlation id, not sent twice), a lasting one is its error.
                std::string expect = fa.expect;
                if (step == "token" && fa.name == "500") expect = "oauth_failed";  // a token endpoint's 500 is its verdict
                // (A link answered once with corrupt bytes is fetched again from byte 0: "ok".)
                // A one-time error in place of an answer: the fleet splits its combined job
                // and runs the parts again, except where an import may have happened.
                if (fl == flow::fleet && fa.name == "error in 200" && step != "import.status") expect = "ok";
                if (fl == flow::fleet && fa.name == "link expired") expect = "ok";  // the fleet splits and exports again
                CHECK(r.outcome == expect);
            }
        }
    }
    std::printf("fault matrix: %zu cases, %zu succeeded, %zu skipped, errors:", cases, ok, skipped);
    for (const auto& [name, n] : errors) std::printf(" %s=%zu", name.c_str(), n);
    std::printf("\n");
    CHECK(cases - skipped >= 80);
}
