// The promises "never twice, never lost" through the public API against the
// emulator's fault rules: a job whose state cannot be learned is not a failed
// job, a lost POST is identified (with or without correlation ids in
// describe) or reported unknown, downloads never overwrite and never keep an
// unverified corrupt package, links must be http(s), uploads respect limits.
#include "support/impex_fixture.hpp"

#include "core/hash.hpp"

#include <fstream>
#include <random>

using namespace cspark;
using namespace cspark::test;

namespace {

template <class T>
std::pair<error_code, T> attempt(asio::io_context& io, std::function<asio::awaitable<T>()> op) {
    std::pair<error_code, T> out;
    run_coro(io, [&]() -> asio::awaitable<void> {
        try {
            out.second = co_await op();
        } catch (const spark_error& e) {
            out.first = e.code();
            out.second.diag = e.diag();
        }
    });
    return out;
}

export_result export_one(impex_fixture& t, impex& src, const std::string& dir) {
    export_request er = quick({.services = {"folder-1/service-1"}});
    er.directory = t.dir(dir);
    export_result e;
    run_coro(t.f.io, [&]() -> asio::awaitable<void> { e = co_await src.exp(er); });
    REQUIRE(e.files.size() == 1);
    return e;
}

import_request import_of(const std::filesystem::path& file) {
    import_request ir{.file = file, .destination = std::string("folder-1/service-1")};
    ir.poll.retry_interval = std::chrono::milliseconds(10);
    return ir;
}

bool has_part_files(const std::filesystem::path& dir) {
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
        if (e.path().extension() == ".part") return true;
    return false;
}

}  // namespace

TEST_CASE("status checks that fail transiently are asked again: the import succeeds once") {
    impex_fixture t;
    auto src = t.make("tenant-0001");
    auto dst = t.make("target-0001");
    auto e = export_one(t, *src, "transient");
    // The client retries each request twice: three 503s in a row outlast one check.
    t.f.emu->set_faults(json::parse(R"({"rules":[{"route":"import.status","kind":"status","status":503,"times":3}]})"));
    auto r_got = attempt<import_result>(t.f.io, [&] { return dst->imp(import_of(e.files[0].path)); });
    auto ec = r_got.first;
    auto r = std::move(r_got.second);
    CHECK_MESSAGE(!ec, r.diag.to_string());
    CHECK(r.job.state == job_state::succeeded);
    CHECK(t.jobs("import", "target-0001") == 1);
    CHECK(t.versions("target-0001", "folder-1", "service-1") == 1);
}

TEST_CASE("migrate through transient status errors on both jobs imports exactly once") {
    impex_fixture t;
    auto src = t.make("tenant-0001");
    auto dst = t.make("target-0001");
    t.f.emu->set_faults(json::parse(R"({"rules":[{"route":"import.status","kind":"status","status":503,"times":3},
                                                  {"route":"export.status","kind":"status","status":502,"times":3}]})"));
    migrate_request req{.exports = quick({.services = {"folder-1/service-1"}})};
    req.exports.directory = t.dir("migrate-transient");
    migration_result m;
    run_coro(t.f.io, [&]() -> asio::awaitable<void> { m = co_await src->migrate(*dst, req); });
    CHECK_MESSAGE(!m.ec, m.diag.to_string());
    CHECK(t.jobs("export") == 1);
    CHECK(t.jobs("import") == 1);
    CHECK(t.versions("target-0001", "folder-1", "service-1") == 1);
}

TEST_CASE("a job whose state stays unknown is job_state_unknown naming the job, not a failure") {
    impex_fixture t;
    auto src = t.make("tenant-0001");
    auto dst = t.make("target-0001");
    auto e = export_one(t, *src, "unknown");
    SUBCASE("every status check answers 503 until the poll deadline") {
        t.f.emu->set_faults(json::parse(R"({"rules":[{"route":"import.status","kind":"status","status":503}]})"));
    }
    SUBCASE("a status check is refused (not transient): no more checks, still unknown") {
        t.f.emu->set_faults(json::parse(R"({"rules":[{"route":"import.status","kind":"status","status":403}]})"));
    }
    auto ir = import_of(e.files[0].path);
    ir.poll.deadline = std::chrono::milliseconds(300);
    auto r_got = attempt<import_result>(t.f.io, [&] { return dst->imp(ir); });
    auto ec = r_got.first;
    auto r = std::move(r_got.second);
    CHECK(ec == errc::job_state_unknown);
    REQUIRE(t.jobs("import", "target-0001") == 1);
    auto id = std::string(t.state().at("jobs").as_array().back().at("id").as_string());
    CHECK(r.diag.detail.find(id) != std::string::npos);
    CHECK(r.diag.detail.find("cspark-impex status " + id + " --kind import") != std::string::npos);
    CHECK(r.diag.http_status != 0);
    // The job itself succeeded: the same job is what a check by id finds.
    t.f.emu->set_faults(json::parse(R"({"rules":[]})"));
    auto st_got = t.run<job_status>([&](auto h) { dst->imports.wait(id, {.retry_interval = std::chrono::milliseconds(10)}, h); });
    auto sec = st_got.first;
    auto st = std::move(st_got.second);
    CHECK_FALSE(sec);
    CHECK(st.state == job_state::succeeded);
}

TEST_CASE("an import POST the server acted on before a gateway answered 504 is never sent again") {
    for (bool correlation : {true, false}) {
        CAPTURE(correlation);
        auto cfg = impex_fixture::fast();
        cfg.describe_correlation = correlation;  // false: describe in the documented shape, without correlation ids
        impex_fixture t(cfg);
        auto src = t.make("tenant-0001");
        auto dst = t.make("target-0001");
        auto e = export_one(t, *src, "gateway");
        t.f.emu->set_faults(json::parse(R"({"rules":[{"route":"import.create","kind":"status","status":504,"after_action":true,"nth":[1]}]})"));
        auto r_got = attempt<import_result>(t.f.io, [&] { return dst->imp(import_of(e.files[0].path)); });
        auto ec = r_got.first;
        auto r = std::move(r_got.second);
        CHECK_MESSAGE(!ec, r.diag.to_string());
        CHECK(r.job.state == job_state::succeeded);
        CHECK(t.jobs("import", "target-0001") == 1);
        CHECK(t.versions("target-0001", "folder-1", "service-1") == 1);
        auto describe = t.run<json::value>([&](auto h) { dst->imports.describe(h); }).second;
        auto item = describe.at("recent_imports").at(0).at("data").as_object();
        CHECK(item.contains("correlation_id") == correlation);
    }
}

TEST_CASE("without correlation ids, an upload refused before any action is sent again once") {
    auto cfg = impex_fixture::fast();
    cfg.describe_correlation = false;
    impex_fixture t(cfg);
    auto src = t.make("tenant-0001", 0);  // no transport retries: the flow decides
    auto dst = t.make("target-0001", 0);
    auto e = export_one(t, *src, "refused");
    t.f.emu->set_faults(json::parse(R"({"rules":[{"route":"import.create","kind":"status","status":503,"nth":[1]}]})"));
    auto r_got = attempt<import_result>(t.f.io, [&] { return dst->imp(import_of(e.files[0].path)); });
    auto ec = r_got.first;
    auto r = std::move(r_got.second);
    CHECK_MESSAGE(!ec, r.diag.to_string());
    CHECK(t.jobs("import", "target-0001") == 1);
    CHECK(t.versions("target-0001", "folder-1", "service-1") == 1);
}

TEST_CASE("when the job a lost upload made cannot be told apart, the outcome is unknown and nothing is resent") {
    auto cfg = impex_fixture::fast();
    cfg.describe_correlation = false;
    impex_fixture t(cfg);
    auto src = t.make("tenant-0001");
    auto dst = t.make("target-0001");
    auto e = export_one(t, *src, "ambiguous");
    SUBCASE("an identical import finished just before: two jobs match the mappings") {
        auto first_got = attempt<import_result>(t.f.io, [&] { return dst->imp(import_of(e.files[0].path)); });
        auto ec = first_got.first;
        auto first = std::move(first_got.second);
        REQUIRE_FALSE(ec);
        t.f.emu->set_faults(json::parse(R"({"rules":[{"route":"import.create","kind":"reset"}]})"));
        auto r_got = attempt<import_result>(t.f.io, [&] { return dst->imp(import_of(e.files[0].path)); });
        auto ec2 = r_got.first;
        auto r = std::move(r_got.second);
        CHECK(ec2 == errc::import_outcome_unknown);
        CHECK(r.diag.detail.find(first.job.id) != std::string::npos);  // a candidate, named
        CHECK(t.jobs("import", "target-0001") == 2);
    }
    SUBCASE("describe itself fails") {
        t.f.emu->set_faults(json::parse(R"({"rules":[{"route":"import.create","kind":"reset"},
                                                      {"route":"import.describe","kind":"status","status":500}]})"));
        auto r_got = attempt<import_result>(t.f.io, [&] { return dst->imp(import_of(e.files[0].path)); });
        auto ec = r_got.first;
        auto r = std::move(r_got.second);
        CHECK(ec == errc::import_outcome_unknown);
        CHECK(t.jobs("import", "target-0001") == 1);
    }
}

TEST_CASE("an export POST whose connection drops is found by correlation id: no orphan job") {
    impex_fixture t;
    auto src = t.make("tenant-0001");
    t.f.emu->set_faults(json::parse(R"({"rules":[{"route":"export.create","kind":"reset","nth":[1]}]})"));
    export_request er = quick({.services = {"folder-1/service-1"}});
    er.directory = t.dir("orphan");
    auto r_got = attempt<export_result>(t.f.io, [&] { return src->exp(er); });
    auto ec = r_got.first;
    auto r = std::move(r_got.second);
    CHECK_MESSAGE(!ec, r.diag.to_string());
    CHECK(t.jobs("export", "tenant-0001") == 1);
    CHECK(r.files.size() == 1);
}

TEST_CASE("an export the flow gives up on is cancelled on the server") {
    impex_fixture t;
    auto src = t.make("tenant-0001");
    t.f.emu->set_faults(json::parse(R"({"rules":[{"route":"export.create","kind":"job_never_finishes"}]})"));
    export_request er = quick({.services = {"folder-1/service-1"}});
    er.directory = t.dir("giveup");
    er.poll.deadline = std::chrono::milliseconds(200);
    auto r_got = attempt<export_result>(t.f.io, [&] { return src->exp(er); });
    auto ec = r_got.first;
    auto r = std::move(r_got.second);
    CHECK(ec == errc::poll_timeout);
    CHECK(r.diag.detail.find("cancelled") != std::string::npos);
    CHECK(t.state().at("jobs").at(0).at("status") == "cancelled");
}

TEST_CASE("two links ending in the same name are two files; an existing file is never replaced unless asked") {
    impex_fixture t;
    auto src = t.make("tenant-0001");
    auto dir = t.dir("names");
    t.f.emu->set_faults(json::parse(R"({"rules":[{"route":"export.create","kind":"job_same_file_names","nth":[1]}]})"));
    export_request er = quick({.services = {"folder-1/service-1"}});
    er.directory = dir;
    auto r_got = attempt<export_result>(t.f.io, [&] { return src->exp(er); });
    auto ec = r_got.first;
    auto r = std::move(r_got.second);
    REQUIRE_MESSAGE(!ec, r.diag.to_string());
    REQUIRE(r.files.size() == 2);
    CHECK(r.files[0].path != r.files[1].path);
    CHECK(std::filesystem::exists(r.files[0].path));
    CHECK(std::filesystem::exists(r.files[1].path));

    // The same export again: its file name is taken.
    auto taken = r.files[0].path;
    std::ofstream(taken, std::ios::trunc) << "mine";
    auto job = t.finished_export(*src);
    download_options opt;
    opt.directory = dir;
    opt.file_name = taken.filename().string();
    auto f_got = t.run<downloaded_file>([&](auto h) { src->exports.download(job.files.at(0), opt, h); });
    auto dec = f_got.first;
    auto f = std::move(f_got.second);
    CHECK(dec == errc::file_exists);
    CHECK(f.diag.detail.find(taken.string()) != std::string::npos);
    std::ifstream in(taken);
    std::string content((std::istreambuf_iterator<char>(in)), {});
    CHECK(content == "mine");
    opt.overwrite = true;
    auto g_got = t.run<downloaded_file>([&](auto h) { src->exports.download(job.files.at(0), opt, h); });
    auto oec = g_got.first;
    auto g = std::move(g_got.second);
    CHECK_FALSE(oec);
    CHECK(g.verified);
    CHECK(std::filesystem::file_size(taken) == g.size);
    CHECK_FALSE(has_part_files(dir));
}

TEST_CASE("a package without file_hash is checked as a ZIP: a good one is kept unverified, a corrupt one is an error") {
    auto cfg = impex_fixture::fast();
    cfg.package_bytes = 2 * 1024 * 1024;  // large enough that bytes arrive before the reset
    impex_fixture t(cfg);
    auto src = t.make("tenant-0001");
    auto dir = t.dir("nohash");
    export_request er = quick({.services = {"folder-1/service-1"}});
    er.directory = dir;
    t.f.emu->set_faults(json::parse(R"({"rules":[{"route":"export.create","kind":"job_no_hash"}]})"));
    auto r_got = attempt<export_result>(t.f.io, [&] { return src->exp(er); });
    auto ec = r_got.first;
    auto r = std::move(r_got.second);
    REQUIRE_MESSAGE(!ec, r.diag.to_string());
    CHECK_FALSE(r.files.at(0).verified);
    CHECK(std::filesystem::exists(r.files.at(0).path));

    // Cut mid-body, then the resume's Range is answered with the file's first
    // bytes: not a ZIP, so it is fetched again from byte 0, and that copy is good.
    auto healed_dir = t.dir("nohash-healed");
    er.directory = healed_dir;
    t.f.emu->set_faults(json::parse(R"({"rules":[{"route":"export.create","kind":"job_no_hash"},
                                                  {"route":"download","kind":"reset_mid_body","after_bytes":1000000,"nth":[1]},
                                                  {"route":"download","kind":"range_wrong_bytes"}]})"));
    auto healed = attempt<export_result>(t.f.io, [&] { return src->exp(er); });
    REQUIRE_MESSAGE(!healed.first, healed.second.diag.to_string());
    CHECK(std::filesystem::exists(healed.second.files.at(0).path));

    // Every copy is a proxy's page answered 200: after the bounded fetches, the error.
    auto bad_dir = t.dir("nohash-bad");
    er.directory = bad_dir;
    t.f.emu->set_faults(json::parse(R"({"rules":[{"route":"export.create","kind":"job_no_hash"},
                                                  {"route":"download","kind":"body","status":200,"content_type":"text/html",
                                                   "body":"<html><body>Sign in to the proxy</body></html>"}]})"));
    auto bad_got = attempt<export_result>(t.f.io, [&] { return src->exp(er); });
    auto bec = bad_got.first;
    auto bad = std::move(bad_got.second);
    CHECK(bec == errc::invalid_package);
    CHECK(bad.diag.detail.find("no hash") != std::string::npos);
    CHECK(std::filesystem::is_empty(bad_dir));
}

TEST_CASE("links that are not http(s) are refused before anything is requested") {
    impex_fixture t;
    auto src = t.make("tenant-0001");
    auto before = t.f.emu->request_count();
    for (std::string link : {"file:///etc/passwd", "ftp://example.org/x.zip", "passwd"}) {
        CAPTURE(link);
        download_options opt;
        opt.directory = t.dir("links");
        auto f_got = t.run<downloaded_file>([&](auto h) { src->exports.download(export_file{.url = link}, opt, h); });
        auto ec = f_got.first;
        auto f = std::move(f_got.second);
        CHECK(ec == errc::unsupported_scheme);
        CHECK(f.diag.detail.find("not an http(s) URL") != std::string::npos);
    }
    CHECK(t.f.emu->request_count() == before);
    t.f.emu->set_faults(json::parse(R"({"rules":[{"route":"export.create","kind":"link_scheme"}]})"));
    export_request er = quick({.services = {"folder-1/service-1"}});
    er.directory = t.dir("links");
    auto r_got = attempt<export_result>(t.f.io, [&] { return src->exp(er); });
    auto ec = r_got.first;
    auto r = std::move(r_got.second);
    CHECK(ec == errc::unsupported_scheme);
    CHECK(std::filesystem::is_empty(er.directory));
}

TEST_CASE("uploads: over the limit fails before sending; a server's early answer is read, not a broken pipe") {
    auto cfg = impex_fixture::fast();
    cfg.max_upload_bytes = 1024 * 1024;  // the server drains 2 x this + 16 MiB, then answers and closes
    impex_fixture t(cfg);
    auto dst = t.make("target-0001", 0);
    auto big = t.dir("big") / "big.zip";
    {
        std::ofstream out(big, std::ios::binary);
        std::mt19937_64 rng(7);
        std::string chunk(1 << 20, '\0');
        for (int i = 0; i < 24; ++i) {
            for (auto& c : chunk) c = static_cast<char>(rng());
            out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
        }
    }
    auto before = t.f.emu->request_count();
    auto ir = import_of(big);
    ir.max_package_bytes = 16 * 1024 * 1024;
    auto r_got = attempt<import_result>(t.f.io, [&] { return dst->imp(ir); });
    auto ec = r_got.first;
    auto r = std::move(r_got.second);
    CHECK(ec == errc::package_too_large);
    CHECK(r.diag.detail.find(big.string()) != std::string::npos);
    CHECK(t.f.emu->request_count() == before);

    ir.max_package_bytes = 0;  // let the server refuse it
    auto sr_got = attempt<import_result>(t.f.io, [&] { return dst->imp(ir); });
    auto sec = sr_got.first;
    auto sr = std::move(sr_got.second);
    CHECK(sec == errc::server_error);
    CHECK(sr.diag.api_code == "EXCEEDED_FILE_SIZE");
    CHECK(t.jobs("import") == 0);
}

TEST_CASE("the default token: co_await returns the value or throws spark_error with the diagnostics") {
    impex_fixture t;
    auto spark = t.make("tenant-0001");
    run_coro(t.f.io, [&]() -> asio::awaitable<void> {
        try {
            co_await spark->exports.get_status("no-such-job");
            FAIL("no error");
        } catch (const spark_error& e) {
            CHECK(e.code() == errc::server_error);
            CHECK(e.diag().api_code == "INVALID_JOB_ID");
            CHECK_FALSE(e.diag().request_id.empty());
        }
        request req;
        req.target = "export/missing/status";
        try {
            co_await spark->get_client().async_send(req);
            FAIL("no error");
        } catch (const spark_error& e) {
            CHECK(e.diag().http_status == 500);
        }
        auto describe = co_await spark->exports.describe();
        CHECK(describe.is_object());
    });
    // Other tokens keep (error_code, T).
    auto got = t.run<job_status>([&](auto h) { spark->exports.get_status("no-such-job", h); });
    CHECK(got.first == errc::server_error);
    CHECK(got.second.diag.api_code == "INVALID_JOB_ID");
}

TEST_CASE("impex is movable: the verbs follow the object") {
    impex_fixture t;
    auto first = t.make("tenant-0001");
    impex moved(std::move(*first));
    auto job = t.finished_export(moved);
    CHECK(job.state == job_state::succeeded);
    std::vector<impex> many;
    many.push_back(std::move(moved));
    many.reserve(8);  // reallocation moves them again
    auto again = t.finished_export(many[0]);
    CHECK(again.state == job_state::succeeded);
}

TEST_CASE("migrate into a directory that does not exist yet creates it") {
    impex_fixture t;
    auto src = t.make("tenant-0001");
    auto dst = t.make("target-0001");
    migrate_request req{.exports = quick({.services = {"folder-1/service-1"}})};
    req.exports.directory = t.f.scratch / "not" / "yet";
    migration_result m;
    run_coro(t.f.io, [&]() -> asio::awaitable<void> { m = co_await src->migrate(*dst, req); });
    CHECK_MESSAGE(!m.ec, m.diag.to_string());
    CHECK(std::filesystem::is_empty(req.exports.directory));  // the transient package is gone again
}

TEST_CASE("the SHA-256 reported for an exported package is the file's own") {
    impex_fixture t;
    auto src = t.make("tenant-0001");
    auto file_sha = [](const std::filesystem::path& p) {
        std::ifstream in(p, std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), {});
        return detail::sha256_hex(bytes);
    };
    auto e = export_one(t, *src, "sha");
    const auto& f = e.files.at(0);
    CHECK(f.verified);
    CHECK(f.sha256 == file_sha(f.path));
    CHECK(f.sha256 == t.state().at("jobs").at(0).at("file_hash").as_string());
    CHECK(f.size == std::filesystem::file_size(f.path));
}
