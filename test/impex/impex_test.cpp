// The ImpEx API against the emulator over loopback: verbs, request and
// destination forms, failures, deadlines, hashes, resumes, cancellation,
// fault storms, dedupe, and a 100-migration fleet.
#include "support/impex_fixture.hpp"

#include <cspark/impex.hpp>

#include "impex/codec.hpp"
#include "impex/transfer.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <algorithm>
#include <map>

using namespace cspark;
using namespace cspark::test;


TEST_CASE("service URIs: every documented form, and names the SDKs would corrupt") {
    std::string why;
    auto a = parse_service_uri("my-folder/my-service[0.4.2]", why);
    REQUIRE(a);
    CHECK(a->folder == "my-folder");
    CHECK(a->service == "my-service");
    CHECK(a->version == "0.4.2");
    CHECK(a->to_string() == "my-folder/my-service[0.4.2]");
    auto b = parse_service_uri("myservices/folders-report", why);
    REQUIRE(b);
    CHECK(b->folder == "myservices");
    CHECK(b->service == "folders-report");
    auto c = parse_service_uri("folders/f/services/s[1.2]", why);
    REQUIRE(c);
    CHECK(c->to_string() == "f/s[1.2]");
    // Found by the uri fuzzer: spaces around a name inside the text did not read back.
    auto spaced = parse_service_uri("folders/   Folder e/services/Svc [1.2]", why);
    REQUIRE(spaced);
    CHECK(spaced->to_string() == "Folder e/Svc[1.2]");
    auto again = parse_service_uri(spaced->to_string(), why);
    REQUIRE(again);
    CHECK(again->to_string() == spaced->to_string());
    auto d = parse_service_uri("service/6F1D3C0A-1B7E-4C55-9A0E-0C1D2E3F4A5B", why);
    REQUIRE(d);
    CHECK(d->form == service_uri::kind::service_id);
    CHECK(d->id == "6f1d3c0a-1b7e-4c55-9a0e-0c1d2e3f4a5b");
    auto v = parse_service_uri("version/6f1d3c0a-1b7e-4c55-9a0e-0c1d2e3f4a5b", why);
    REQUIRE(v);
    CHECK(v->form == service_uri::kind::version_id);
    CHECK_FALSE(parse_service_uri("only-a-folder", why));
    CHECK_FALSE(parse_service_uri("/service", why));
    CHECK(why.find("folder name is missing") != std::string::npos);
    CHECK_FALSE(parse_service_uri("f/", why));
    CHECK(why.find("service name is missing") != std::string::npos);
    CHECK_FALSE(parse_service_uri("f/s/x", why));
    CHECK_FALSE(parse_service_uri("f/s[1 2]", why));
}

TEST_CASE("job classification and polling decisions are pure") {
    CHECK(classify_job("created", nullptr) == job_state::pending);
    CHECK(classify_job("in_progress", nullptr) == job_state::pending);
    CHECK(classify_job("closed", nullptr) == job_state::succeeded);
    CHECK(classify_job("completed", json::array()) == job_state::succeeded);
    CHECK(classify_job("closed", json::parse(R"([{"code":"X"}])")) == job_state::failed);
    CHECK(classify_job("failed", nullptr) == job_state::failed);
    CHECK(classify_job("cancelled", nullptr) == job_state::cancelled);
    poll_policy p;
    p.interval = std::chrono::milliseconds(1000);
    p.max_interval = std::chrono::milliseconds(3000);
    p.jitter = 0;
    CHECK(next_poll(p, 1, {}, 0.5).delay == std::chrono::milliseconds(1000));
    CHECK(next_poll(p, 2, {}, 0.5).delay == std::chrono::milliseconds(1500));
    CHECK(next_poll(p, 10, {}, 0.5).delay == std::chrono::milliseconds(3000));
    p.max_attempts = 3;
    CHECK(next_poll(p, 3, {}, 0.5).what == poll_step::action::give_up);
    p.max_attempts = 0;
    p.deadline = std::chrono::milliseconds(5000);
    CHECK(next_poll(p, 2, std::chrono::milliseconds(4500), 0.5).delay == std::chrono::milliseconds(500));
    CHECK(next_poll(p, 2, std::chrono::milliseconds(5000), 0.5).what == poll_step::action::give_up);
}

TEST_CASE("exp: every request form; files verified and written atomically") {
    impex_fixture t;
    auto spark = t.make("tenant-0001");
    auto st = t.state();
    auto& svc = st.at("tenants").at("tenant-0001").at("folders").at("folder-2").at("services").at("service-1");
    std::string service_id(svc.at("id").as_string());
    std::string version_id(svc.at("versions").at(0).at("id").as_string());
    auto dir = t.dir("exp");
    export_request req = quick({.folders = {"folder-1"},
                                .services = {"folder-2/service-2[1.1]", "service/" + service_id},
                                .version_ids = {version_id},
                                .version_filter = version_filter::all,
                                .correlation_id = "build-1"});
    req.directory = dir;
    std::vector<progress_event> events;
    req.progress = [&](const progress_event& e) { events.push_back(e); };
    export_result r;
    run_coro(t.f.io, [&]() -> asio::awaitable<void> { r = co_await spark->exp(req); });
    REQUIRE(r.files.size() == 1);
    CHECK(r.files[0].verified);
    CHECK(std::filesystem::exists(r.files[0].path));
    CHECK(r.files[0].path.parent_path() == dir);
    CHECK(r.files[0].size == std::filesystem::file_size(r.files[0].path));
    CHECK(r.job.state == job_state::succeeded);
    // folder-1: 2 services x 3 versions; [1.1]: one; service/{id} with "all": 3 (the version id is among them)
    CHECK(r.job.outputs.at("service_versions").as_array().size() == 6 + 1 + 3);
    for (const auto& entry : std::filesystem::directory_iterator(dir)) CHECK(entry.path().extension() != ".part");
    bool created = false, finished = false, bytes = false;
    for (const auto& e : events) {
        created |= e.what == progress_event::kind::job_created;
        finished |= e.what == progress_event::kind::finished;
        bytes |= e.what == progress_event::kind::bytes && e.total > 0;
    }
    CHECK(created);
    CHECK(finished);
    CHECK(bytes);
}

TEST_CASE("what jobs took is the transport's: clients sharing one share it, nothing is process-wide") {
    impex_fixture t;
    auto shared = std::make_shared<transport>(t.f.io.get_executor(), transport_config{});
    auto on = [&](std::shared_ptr<transport> tr) {
        auto cfg = t.config("tenant-0001");
        cfg.shared_transport = std::move(tr);
        return client(t.f.io.get_executor(), cfg);
    };
    client first = on(shared), second = on(shared), alone = on(nullptr);
    std::string key = "export " + first.url().server.to_string();  // every tenant on the host
    CHECK_FALSE(shared->history().expected(key));
    export_request req = quick({.services = {"folder-1/service-1"}});
    req.directory = t.dir("history");
    req.overwrite = true;
    impex spark(first);
    run_coro(t.f.io, [&]() -> asio::awaitable<void> { co_await spark.exp(req); });
    auto took = shared->history().expected(key);
    REQUIRE(took);
    CHECK(*took >= std::chrono::milliseconds(30));  // the emulator's job duration (virtual time)
    CHECK(second.get_transport()->history().expected(key) == took);  // the same record
    CHECK_FALSE(alone.get_transport()->history().expected(key));     // a transport of its own learns alone
    shared->history().clear();
    CHECK_FALSE(shared->history().expected(key));
}

TEST_CASE("exp names a package from Content-Disposition, else from a link ending in .zip, else {tenant}-export-{job}.zip") {
    for (bool disposition : {true, false}) {
        CAPTURE(disposition);
        auto cfg = impex_fixture::fast();
        cfg.opaque_links = true;  // ".../download/{job}/blob?token=..."
        cfg.content_disposition = disposition;
        impex_fixture t(cfg);
        auto spark = t.make("tenant-0001");
        export_request req = quick({.services = {"folder-1/service-1"}});
        req.directory = t.dir("named");
        export_result r;
        run_coro(t.f.io, [&]() -> asio::awaitable<void> { r = co_await spark->exp(req); });
        REQUIRE(r.files.size() == 1);
        auto name = r.files[0].path.filename().string();
        // The emulator's Content-Disposition: "{tenant}-export-{job8}.zip"; without it, the whole job id.
        std::string expected = "tenant-0001-export-" + (disposition ? r.job.id.substr(0, 8) : r.job.id) + ".zip";
        CHECK(name == expected);
        CHECK(std::filesystem::exists(r.files[0].path));
        std::size_t entries = 0;
        for (const auto& e : std::filesystem::directory_iterator(req.directory)) {
            ++entries;
            CHECK(e.path().extension() == ".zip");
        }
        CHECK(entries == 1);  // no .part, no second name
    }
    using cspark::detail::disposition_file_name;
    CHECK(disposition_file_name("attachment; filename=\"a b.zip\"") == "a_b.zip");
    CHECK(disposition_file_name("attachment; filename=plain.zip; size=3") == "plain.zip");
    CHECK(disposition_file_name("attachment; filename=\"x.zip\"; filename*=UTF-8''%C3%A9t%C3%A9.zip") == "__t__.zip");  // filename* first
    CHECK(disposition_file_name("attachment; filename*=UTF-8''pkg%2D1.zip") == "pkg-1.zip");
    CHECK(disposition_file_name("attachment; filename=\"../../etc/passwd\"") == "passwd");
    CHECK(disposition_file_name("attachment; filename=\"..\"").empty());
    CHECK(disposition_file_name("attachment").empty());
    CHECK(disposition_file_name("").empty());
}

TEST_CASE("bad export requests fail before anything is sent") {
    impex_fixture t;
    auto spark = t.make("tenant-0001");
    auto [ec, j] = t.run<job_status>([&](auto h) { spark->exports.initiate(export_request{}, h); });
    CHECK(ec == errc::invalid_argument);
    CHECK(j.diag.detail.find("at least one of folders") != std::string::npos);
    auto [ec2, j2] = t.run<job_status>([&](auto h) { spark->exports.initiate(export_request{.services = {"no-slash"}}, h); });
    CHECK(ec2 == errc::invalid_argument);
    CHECK(j2.diag.detail.find("no-slash") != std::string::npos);
    CHECK(t.f.emu->request_count() == 0);
}

TEST_CASE("the low-level verbs: initiate, get_status once and until done, download, cancel, describe") {
    impex_fixture t;
    auto spark = t.make("tenant-0001");
    auto [ec, created_] = t.run<job_status>([&](auto h) {
        spark->exports.initiate(export_request{.services = {"folder-1/service-1"}}, h);
    });
    auto created = created_;  // clang 14 cannot capture structured bindings
    REQUIRE_FALSE(ec);
    auto [ec1, once] = t.run<job_status>([&](auto h) { spark->exports.get_status(created.id, h); });
    REQUIRE_FALSE(ec1);
    CHECK(once.state == job_state::pending);
    auto [ec2, done_] = t.run<job_status>([&](auto h) {
        spark->exports.wait(created.status_url, {.retry_interval = std::chrono::milliseconds(10)}, h);
    });
    auto done = done_;  // clang 14 cannot capture structured bindings
    REQUIRE_FALSE(ec2);
    CHECK(done.state == job_state::succeeded);
    REQUIRE(done.files.size() == 1);
    auto [ec3, mem] = t.run<downloaded_file>([&](auto h) {
        spark->exports.download(done.files[0], {.in_memory = true}, h);
    });
    REQUIRE_FALSE(ec3);
    CHECK(mem.verified);
    CHECK(mem.data.size() == mem.size);
    auto [ec4, desc] = t.run<json::value>([&](auto h) { spark->exports.describe(h); });
    REQUIRE_FALSE(ec4);
    CHECK(desc.at("recent_exports").as_array().size() == 1);

    auto [ec5, second_] = t.run<job_status>([&](auto h) {
        spark->exports.initiate(export_request{.services = {"folder-1/service-1"}}, h);
    });
    auto second = second_;  // clang 14 cannot capture structured bindings
    REQUIRE_FALSE(ec5);
    auto [ec6, cancelled] = t.run<job_status>([&](auto h) { spark->exports.cancel(second.id, h); });
    REQUIRE_FALSE(ec6);
    CHECK(cancelled.status == "cancelled");
    auto [ec7, after] = t.run<job_status>([&](auto h) { spark->exports.wait(second.id, {}, h); });
    CHECK(ec7 == errc::job_cancelled);  // at once, not after all retries
}

TEST_CASE("imp: every destination form") {
    impex_fixture t;
    auto src = t.make("tenant-0001");
    auto dst = t.make("target-0001");
    export_result e;
    export_request er = quick({.folders = {"folder-1"}});
    er.directory = t.dir("forms");
    run_coro(t.f.io, [&]() -> asio::awaitable<void> { e = co_await src->exp(er); });
    REQUIRE(e.files.size() == 1);
    std::vector<destinations> forms{
        std::string("folder-1/service-1"),
        std::vector<std::string>{"folder-1/service-1", "folder-1/service-2"},
        service_mapping{.source = "folder-1/service-1", .target = "folder-2/copy", .upgrade = upgrade::major},
        std::vector<service_mapping>{{.source = "folder-1/service-2", .target = "folder-2/other"}},
    };
    std::uint64_t uploaded = 0, upload_total = 0;
    for (std::size_t i = 0; i < forms.size(); ++i) {
        CAPTURE(i);
        import_request ir{.file = e.files[0].path, .destination = forms[i], .if_present = if_present::add_version};
        ir.poll.retry_interval = std::chrono::milliseconds(10);
        ir.progress = [&](const progress_event& ev) {
            if (ev.what == progress_event::kind::bytes) uploaded = ev.bytes, upload_total = ev.total;
        };
        import_result r;
        run_coro(t.f.io, [&]() -> asio::awaitable<void> { r = co_await dst->imp(ir); });
        CHECK(r.job.state == job_state::succeeded);
        CHECK_FALSE(r.services.empty());
        CHECK_FALSE(r.versions.empty());
    }
    CHECK(upload_total == std::filesystem::file_size(e.files[0].path));
    CHECK(uploaded == upload_total);
    auto st = t.state();
    auto& f2 = st.at("tenants").at("target-0001").at("folders").at("folder-2").at("services");
    CHECK(f2.as_object().contains("copy"));
    CHECK(f2.as_object().contains("other"));
    // service-1 was imported twice with add_version: 1 version, then 1 more.
    auto& s1 = st.at("tenants").at("target-0001").at("folders").at("folder-1").at("services").at("service-1");
    CHECK(s1.at("versions").as_array().size() == 2);

    error_code ec;
    std::string why;
    CHECK_FALSE(services_modify(std::string("not a uri"), ec, why));
    CHECK(ec == errc::invalid_argument);
    CHECK_FALSE(services_modify(std::vector<service_mapping>{}, ec, why));
    // Two sources into one destination: refused before anything is sent, naming both.
    std::vector<service_mapping> twice{{.source = "f/a", .target = "g/x"}, {.source = "f/b", .target = "G/X"}};
    CHECK_FALSE(services_modify(twice, ec, why));
    CHECK(ec == errc::invalid_argument);
    CHECK(why.find("'f/a'") != std::string::npos);
    CHECK(why.find("'f/b'") != std::string::npos);
    // A destination names no version; a source's version selector is sent as given.
    CHECK_FALSE(services_modify(service_mapping{.source = "f/a", .target = "g/a[1.0]"}, ec, why));
    auto sent = services_modify(service_mapping{.source = "f/a[1.2]", .target = "g/a"}, ec, why);
    REQUIRE(sent);
    CHECK(sent->at(0).at("service_uri_source") == "f/a[1.2]");
}

TEST_CASE("imp of one version of a service: only the version the source names lands") {
    impex_fixture t;
    auto src = t.make("tenant-0001");
    auto dst = t.make("target-0001");
    export_request req = quick({.services = {"folder-1/service-1"}, .version_filter = version_filter::all});
    req.directory = t.dir("one-version");
    export_result e;
    run_coro(t.f.io, [&]() -> asio::awaitable<void> { e = co_await src->exp(req); });
    REQUIRE(e.files.size() == 1);
    REQUIRE(e.job.outputs.at("service_versions").as_array().size() == 3);
    import_request ir{.file = e.files[0].path,
                      .destination = service_mapping{.source = "folder-1/service-1[1.1]", .target = "folder-1/picked"}};
    ir.poll.max_retries = 50;
    import_result r;
    run_coro(t.f.io, [&]() -> asio::awaitable<void> { r = co_await dst->imp(ir); });
    CHECK(r.job.state == job_state::succeeded);
    CHECK(t.versions("target-0001", "folder-1", "picked") == 1);
    auto st = t.state();
    auto& v = st.at("tenants").at("target-0001").at("folders").at("folder-1").at("services").at("picked").at("versions");
    CHECK(v.at(0).at("version") == "1.1.0");
}

TEST_CASE("a failed job ends polling at once with its errors; a stuck one hits the deadline") {
    impex_fixture t;
    auto spark = t.make("tenant-0001");
    t.f.emu->set_faults(json::parse(R"({"rules":[{"route":"export.create","kind":"job_fail","nth":[1]},
                                                  {"route":"export.create","kind":"job_never_finishes","nth":[2]}]})"));
    export_request req = quick({.services = {"folder-1/service-1"}, .poll = {.max_retries = 50}});
    req.directory = t.dir("fail");
    try {
        run_coro(t.f.io, [&]() -> asio::awaitable<void> { co_await spark->exp(req); });
        FAIL("no error");
    } catch (const spark_error& e) {
        CHECK(e.code() == errc::job_failed);
        CHECK(e.diag().detail.find("EXPORT_FAILED") != std::string::npos);
    }
    export_request stuck = quick({.services = {"folder-1/service-1"}, .poll = {.max_retries = 4}});
    stuck.directory = t.dir("fail");
    try {
        run_coro(t.f.io, [&]() -> asio::awaitable<void> { co_await spark->exp(stuck); });
        FAIL("no error");
    } catch (const spark_error& e) {
        CHECK(e.code() == errc::poll_timeout);
        CHECK(e.diag().detail.find("4 checks") != std::string::npos);
    }
}

TEST_CASE("an export that finishes without files is errc::no_files, as the SDKs' message says") {
    impex_fixture t;
    t.f.emu->set_faults(json::parse(R"({"rules":[{"route":"export.create","kind":"job_no_files"}]})"));
    auto spark = t.make("tenant-0001");
    export_request req = quick({.services = {"folder-1/service-1"}});
    req.directory = t.dir("nofiles");
    try {
        run_coro(t.f.io, [&]() -> asio::awaitable<void> { co_await spark->exp(req); });
        FAIL("no error");
    } catch (const spark_error& e) {
        CHECK(e.code() == errc::no_files);
        CHECK(std::string(e.what()).find("without files") != std::string::npos);
    }
}

TEST_CASE("a hash mismatch is a typed error and leaves no file") {
    impex_fixture t;
    auto spark = t.make("tenant-0001");
    auto done = t.finished_export(*spark);
    auto dir = t.dir("hash");
    for (std::string bad : {std::string(64, 'a'), std::string(32, 'b')}) {
        export_file f = done.files[0];
        f.file_hash = bad;
        auto [ec3, d] = t.run<downloaded_file>([&](auto h) { spark->exports.download(f, {.directory = dir}, h); });
        CHECK(ec3 == errc::hash_mismatch);
        CHECK(std::filesystem::is_empty(dir));
    }
}

TEST_CASE("a download cut mid-body resumes with Range and still verifies") {
    emulator_config cfg = impex_fixture::fast();
    cfg.package_bytes = 2 * 1024 * 1024;
    impex_fixture t(cfg);
    t.f.emu->set_faults(json::parse(R"({"rules":[{"route":"download","kind":"reset_mid_body","after_bytes":700000,"nth":[1,2]}]})"));
    auto spark = t.make("tenant-0001", 0);  // no transport retries: the download's own resume does it
    export_request req = quick({.services = {"folder-1/service-1"}});
    req.directory = t.dir("resume");
    export_result r;
    run_coro(t.f.io, [&]() -> asio::awaitable<void> { r = co_await spark->exp(req); });
    REQUIRE(r.files.size() == 1);
    CHECK(r.files[0].verified);
    CHECK(r.files[0].resumes == 2);
}

TEST_CASE("cancelling exp mid-poll cancels the server job; mid-download removes the partial file") {
    SUBCASE("mid-poll and during the initiate request") {
    for (bool during_initiate : {false, true}) {
        CAPTURE(during_initiate);
        emulator_config cfg = impex_fixture::fast();
        cfg.job_duration = std::chrono::seconds(30);
        impex_fixture t(cfg);
        auto spark = t.make("tenant-0001");
        asio::cancellation_signal sig;
        bool done = false, created = false;
        std::exception_ptr failure;
        export_request req = quick({.services = {"folder-1/service-1"}});
        req.directory = t.dir("cancel");
        req.progress = [&](const progress_event& e) { created |= e.what == progress_event::kind::job_created; };
        asio::co_spawn(t.f.io, spark->exp(req), asio::bind_cancellation_slot(sig.slot(), [&](std::exception_ptr e, export_result) {
                           failure = e;
                           done = true;
                       }));
        // During the initiate: the server has the job, the client not yet its id.
        if (during_initiate)
            run_until(t.f.io, [&] { return t.jobs("export") == 1; });
        else
            run_until(t.f.io, [&] { return created; });
        sig.emit(asio::cancellation_type::terminal);
        run_until(t.f.io, [&] { return done; });
        REQUIRE(failure);
        try {
            std::rethrow_exception(failure);
        } catch (const spark_error& e) {
            CHECK(e.code() == errc::cancelled);
        }
        auto st = t.state();
        CHECK(st.at("jobs").at(0).at("status") == "cancelled");
        CHECK(std::filesystem::is_empty(req.directory));
    }
    }
    SUBCASE("mid-download") {
        emulator_config cfg = impex_fixture::fast();
        cfg.package_bytes = 4 * 1024 * 1024;
        impex_fixture t(cfg);
        t.f.emu->set_faults(json::parse(R"({"rules":[{"route":"download","kind":"slow_body","bytes_per_second":2000000}]})"));
        auto spark = t.make("tenant-0001");
        export_request req = quick({.services = {"folder-1/service-1"}});
        req.directory = t.dir("cancel-dl");
        std::uint64_t seen = 0;
        req.progress = [&](const progress_event& e) {
            if (e.what == progress_event::kind::bytes) seen = e.bytes;
        };
        asio::cancellation_signal sig;
        bool done = false;
        std::exception_ptr failure;
        asio::co_spawn(t.f.io, spark->exp(req), asio::bind_cancellation_slot(sig.slot(), [&](std::exception_ptr e, export_result) {
                           failure = e;
                           done = true;
                       }));
        run_until(t.f.io, [&] { return seen > 200000; });
        sig.emit(asio::cancellation_type::terminal);
        run_until(t.f.io, [&] { return done; });
        REQUIRE(failure);
        try {
            std::rethrow_exception(failure);
        } catch (const spark_error& e) {
            CHECK(e.code() == errc::cancelled);
        }
        CHECK(std::filesystem::is_empty(req.directory));
    }
}

TEST_CASE("429 and 5xx storms are survived") {
    impex_fixture t;
    t.f.emu->set_faults(json::parse(R"({"seed":3,"rules":[
        {"route":"export.status","kind":"status","status":503,"probability":0.3},
        {"route":"import.status","kind":"status","status":502,"probability":0.3},
        {"route":"export.describe","kind":"status","status":504,"probability":0.3},
        {"route":"download","kind":"status","status":429,"retry_after":0.01,"probability":0.3},
        {"route":"export.create","kind":"status","status":429,"retry_after":0.01,"nth":[1,2]}]})"));
    auto src = t.make("tenant-0001", 10);
    auto dst = t.make("target-0001", 10);
    migration_result m;
    migrate_request req{.exports = quick({.services = {"folder-1/service-1"}})};
    req.exports.directory = t.dir("storm");
    run_coro(t.f.io, [&]() -> asio::awaitable<void> { m = co_await src->migrate(*dst, req); });
    CHECK_MESSAGE(!m.ec, m.diag.to_string());
    CHECK(t.jobs("export") == 1);
    CHECK(t.jobs("import") == 1);
}

TEST_CASE("an import whose response is lost is found by correlation id, never sent twice") {
    impex_fixture t;
    auto src = t.make("tenant-0001");
    auto dst = t.make("target-0001");
    export_request er = quick({.services = {"folder-1/service-1"}});
    er.directory = t.dir("dedupe");
    export_result e;
    run_coro(t.f.io, [&]() -> asio::awaitable<void> { e = co_await src->exp(er); });
    t.f.emu->set_faults(json::parse(R"({"rules":[{"route":"import.create","kind":"reset","nth":[1]},
                                                  {"route":"import.status","kind":"reset","nth":[1,2,3]}]})"));
    import_request ir{.file = e.files.at(0).path, .destination = std::string("folder-1/service-1")};
    ir.poll.retry_interval = std::chrono::milliseconds(10);
    import_result r;
    run_coro(t.f.io, [&]() -> asio::awaitable<void> { r = co_await dst->imp(ir); });
    CHECK(r.job.state == job_state::succeeded);
    CHECK(t.jobs("import", "target-0001") == 1);
    auto st = t.state();
    auto& versions = st.at("tenants").at("target-0001").at("folders").at("folder-1").at("services").at("service-1").at("versions");
    CHECK(versions.as_array().size() == 1);
}

TEST_CASE("100 migrations on one io_context: per-tenant jobs never overlap, all succeed") {
    fleet_spec fleet;
    fleet.tenants = 20;
    fleet.target_tenants = 10;
    fleet.folders = 1;
    fleet.services = 1;
    fleet.versions = 1;
    emulator_config cfg = impex_fixture::fast();
    cfg.job_duration = std::chrono::milliseconds(20);
    impex_fixture t(cfg, fleet);
    auto name = [](const char* prefix, std::size_t i) {
        std::string n = std::to_string(i + 1);
        return std::string(prefix) + std::string(4 - n.size(), '0') + n;
    };
    std::vector<std::unique_ptr<impex>> sources, targets;
    for (std::size_t i = 0; i < 20; ++i) sources.push_back(t.make(name("tenant-", i)));
    for (std::size_t i = 0; i < 10; ++i) targets.push_back(t.make(name("target-", i)));
    std::vector<fleet_entry> entries;
    for (std::size_t i = 0; i < 100; ++i) {
        fleet_entry e{.name = "m" + std::to_string(i), .source = sources[i % 20].get(), .target = targets[i % 10].get()};
        e.request.exports = quick({.services = {"folder-1/service-1"}});
        e.request.exports.directory = t.dir("fleet");
        // Entry 7 targets a folder that does not exist: it fails, the others do not.
        e.request.destination = std::vector<service_mapping>{{.source = "folder-1/service-1",
                                                              .target = (i == 7 ? "no-such-folder/svc-" : "folder-1/svc-") + std::to_string(i)}};
        entries.push_back(std::move(e));
    }
    std::size_t finished = 0;
    std::vector<migration_result> results;
    fleet_options opt{.concurrency = 100};
    opt.finished = [&](std::size_t, const migration_result&) { ++finished; };
    run_coro(t.f.io, [&]() -> asio::awaitable<void> { results = co_await migrate_fleet(std::move(entries), opt); });
    REQUIRE(results.size() == 100);
    CHECK(finished == 100);
    for (std::size_t i = 0; i < results.size(); ++i) {
        if (i == 7) {
            CHECK(results[i].ec == errc::job_failed);
            CHECK(results[i].diag.detail.find("no-such-folder") != std::string::npos);
        } else {
            CHECK_MESSAGE(!results[i].ec, results[i].diag.to_string());
        }
    }

    // From the emulator's history: no two jobs of one kind overlap in a tenant.
    auto st = t.state();
    std::map<std::pair<std::string, std::string>, std::vector<std::pair<std::int64_t, std::int64_t>>> spans;
    for (const auto& j : st.at("jobs").as_array())
        spans[{std::string(j.at("tenant").as_string()), std::string(j.at("kind").as_string())}].push_back(
            {j.at("created_ms").as_int64(), j.at("finished_ms").as_int64()});
    std::size_t imports = 0;
    for (auto& [key, v] : spans) {
        std::sort(v.begin(), v.end());
        for (std::size_t i = 1; i < v.size(); ++i) CHECK(v[i].first >= v[i - 1].second);
        if (key.second == "import") imports += v.size();
    }
    CHECK(imports == 100);
    CHECK(std::filesystem::is_empty(t.dir("fleet")));  // packages removed after import
}
