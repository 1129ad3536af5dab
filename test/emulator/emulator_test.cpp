// cspark-emulator through real sockets: every route, error, fault kind, the
// job lifecycle in virtual time, import semantics, downloads, TLS.
#include "support/emu_fixture.hpp"

#include "core/hash.hpp"
#include "zip/zip.hpp"

#include <cstdlib>
#include <fstream>

using namespace cspark;
using namespace cspark::test;

namespace {
std::string file_sha256(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), {});
    return detail::sha256_hex(data);
}
const std::string one_service = R"({"inputs":{"services":["folder-1/service-1"]},"version_filter":"all","correlation_id":"ci-1","source_system":"tests"})";
}  // namespace

TEST_CASE("export lifecycle in virtual time: created, in_progress, closed") {
    emu_fixture f;
    auto c = f.make("tenant-0001");
    send_result first;
    auto id = f.start_export(c, one_service, &first);
    REQUIRE_MESSAGE(!id.empty(), first.resp.diag.to_string());
    auto created = f.js(first).as_object();
    CHECK(created.at("object") == "export");
    CHECK(created.at("status") == "created");
    CHECK(created.at("status_url") == json::value(f.emu->url() + "/tenant-0001/api/v4/export/" + id + "/status"));
    CHECK(created.at("correlation_id") == "ci-1");
    f.clock->advance(500ms);
    CHECK(f.status(c, "export", id).at("status") == "in_progress");
    f.clock->advance(600ms);
    auto done = f.status(c, "export", id);
    CHECK(done.at("status") == "closed");
    CHECK(done.at("process_time") == 1000);
    CHECK(done.at("errors").is_null());
    CHECK(done.at("outputs").at("service_versions").as_array().size() == 3);
    CHECK(done.at("outputs").at("services").as_array().size() == 1);
    auto file = done.at("outputs").at("files").at(0).as_object();
    CHECK(file.at("file_hash").as_string().size() == 64);
}

TEST_CASE("report_completed shows completed before closed") {
    emulator_config cfg;
    cfg.report_completed = true;
    emu_fixture f(cfg);
    auto c = f.make("tenant-0001");
    auto id = f.start_export(c, one_service);
    f.clock->advance(1100ms);
    CHECK(f.status(c, "export", id).at("status") == "completed");
    f.clock->advance(1s);
    CHECK(f.status(c, "export", id).at("status") == "closed");
}

TEST_CASE("the package: real ZIP, hash as announced, unzip agrees, manifest and migrate files") {
    emu_fixture f;
    auto c = f.make("tenant-0001");
    json::object st;
    auto path = f.export_package(c, one_service, &st);
    CHECK(file_sha256(path) == std::string(st.at("outputs").at("files").at(0).at("file_hash").as_string()));
    CHECK(std::system(("unzip -tq '" + path.string() + "' >/dev/null 2>&1").c_str()) == 0);
    std::string why;
    auto r = zip::reader::open(path, why);
    REQUIRE(r);
    REQUIRE(r->find("tenant-0001/manifest.json"));
    for (const auto& e : r->entries())
        if (!e.is_directory()) CHECK_MESSAGE(r->read(e, [](std::span<const char>) {}, why), why);
    CHECK(r->find("tenant-0001/folder-1/service-1/1.2.0/service-1.xlsx"));
    // The same export again gives the same bytes.
    auto again = f.export_package(c, one_service, &st);
    CHECK(file_sha256(again) == file_sha256(path));
    // onpremises packages lack the migrate files.
    auto onprem = f.export_package(c, R"({"inputs":{"services":["folder-1/service-1"]},"file_filter":"onpremises"})");
    auto r2 = zip::reader::open(onprem, why);
    REQUIRE(r2);
    CHECK_FALSE(r2->find("tenant-0001/folder-1/service-1/1.2.0/service-1.xlsx"));
    CHECK(file_sha256(onprem) != file_sha256(path));
}

TEST_CASE("downloads: no auth needed, HEAD, Range, expiry, bad tokens") {
    emulator_config cfg;
    cfg.download_ttl = 60s;
    cfg.links = emulator_config::link_host::api;  // links on the API host, ?token= (the store's: below)
    emu_fixture f(cfg);
    auto c = f.make("tenant-0001");
    auto id = f.start_export(c, one_service);
    f.finish_jobs();
    auto st = f.status(c, "export", id);
    std::string url(st.at("outputs").at("files").at(0).at("file").as_string());
    CHECK(url.find("?token=") != std::string::npos);
    auto full = send(f.io, c, {.target = url, .authenticate = false});
    REQUIRE_FALSE(full.ec);
    std::uint64_t size = full.resp.body.size();
    CHECK(full.resp.header("content-length") == std::to_string(size));
    CHECK(detail::sha256_hex(full.resp.body) == std::string(st.at("outputs").at("files").at(0).at("file_hash").as_string()));

    auto head = send(f.io, c, {.method = http_method::head, .target = url});
    REQUIRE_FALSE(head.ec);
    CHECK(head.resp.body.empty());
    CHECK(head.resp.header("content-length") == std::to_string(size));

    auto range = send(f.io, c, {.target = url, .headers = {{"Range", "bytes=10-99"}}});
    REQUIRE_FALSE(range.ec);
    CHECK(range.resp.status == 206);
    CHECK(range.resp.body == full.resp.body.substr(10, 90));
    CHECK(range.resp.header("content-range") == "bytes 10-99/" + std::to_string(size));
    auto open_end = send(f.io, c, {.target = url, .headers = {{"Range", "bytes=" + std::to_string(size - 5) + "-"}}});
    CHECK(open_end.resp.body == full.resp.body.substr(size - 5));
    auto suffix = send(f.io, c, {.target = url, .headers = {{"Range", "bytes=-7"}}});
    CHECK(suffix.resp.body == full.resp.body.substr(size - 7));
    auto bad = send(f.io, c, {.target = url, .headers = {{"Range", "bytes=" + std::to_string(size) + "-"}}});
    CHECK(bad.resp.status == 416);

    // An auth header for another tenant is ignored, a wrong token is not.
    auto other = send(f.io, c, {.target = url, .headers = {{"Authorization", "Bearer nonsense"}}});
    CHECK_FALSE(other.ec);
    auto wrong = send(f.io, c, {.target = url.substr(0, url.find("?token=")) + "?token=guess"});
    CHECK(wrong.ec == errc::not_found);
    f.clock->advance(61s);
    auto expired = send(f.io, c, {.target = url});
    CHECK(expired.ec == errc::not_found);
    CHECK(expired.resp.diag.api_code == "LINK_EXPIRED");
}

TEST_CASE("export request errors have the reference's shape") {
    emu_fixture f;
    auto c = f.make("tenant-0001");
    send_result r;
    f.start_export(c, "{}", &r);
    CHECK(r.resp.status == 400);
    CHECK(r.resp.diag.api_message.find("at least one of folders") != std::string::npos);
    f.start_export(c, R"({"inputs":{"services":["folder-1/nope"]}})", &r);
    CHECK(r.resp.status == 404);
    CHECK(r.resp.diag.api_code == "SERVICE_NOT_FOUND");
    CHECK(r.resp.diag.api_type == "invalid_input");
    f.start_export(c, R"({"inputs":{"services":["folder-1/service-1[9.9]"]}})", &r);
    CHECK(r.resp.diag.api_code == "VERSION_NOT_FOUND");
    f.start_export(c, R"({"inputs":{"folders":"folder-1"}})", &r);
    CHECK(r.resp.status == 400);
    f.start_export(c, R"({"inputs":{"folders":["folder-1"]},"file_filter":"everything"})", &r);
    CHECK(r.resp.diag.api_message.find("file_filter") != std::string::npos);
    f.start_export(c, "not json", &r);
    CHECK(r.resp.status == 400);
    auto unknown = f.call(c, http_method::get, "export/00000000-0000-4000-8000-000000000000/status");
    CHECK(unknown.resp.status == 500);
    CHECK(unknown.resp.diag.api_code == "INVALID_JOB_ID");
    auto not_route = f.call(c, http_method::get, "nothing/here");
    CHECK(not_route.resp.status == 404);
    auto method = f.call(c, http_method::delete_, "export");
    CHECK(method.resp.status == 405);
    CHECK(method.resp.header("allow") == "POST");
}

TEST_CASE("one running export per tenant: the second gets 409 JOB_IN_PROGRESS; other tenants run") {
    emu_fixture f;
    auto a = f.make("tenant-0001");
    auto b = f.make("tenant-0002");
    REQUIRE_FALSE(f.start_export(a, one_service).empty());
    send_result r;
    CHECK(f.start_export(a, one_service, &r).empty());
    CHECK(r.resp.status == 409);
    CHECK(r.resp.diag.api_code == "JOB_IN_PROGRESS");
    CHECK_FALSE(f.start_export(b, one_service).empty());
    f.finish_jobs();
    CHECK_FALSE(f.start_export(a, one_service).empty());
}

TEST_CASE("cancel and describe") {
    emu_fixture f;
    auto c = f.make("tenant-0001");
    auto id = f.start_export(c, one_service);
    auto d = f.js(f.call(c, http_method::get, "export/status")).as_object();
    CHECK(d.at("in_progress_exports").as_array().size() == 1);
    CHECK(d.at("tenant").at("configuration").at("export_api_job_limit") == 1);
    CHECK(d.at("tenant").at("status").at("export_api_jobs_in_progress") == 1);
    auto bad = f.call(c, http_method::patch, "export/" + id, R"({"status":"cancelled"})");
    CHECK(bad.resp.status == 400);
    auto r = f.call(c, http_method::patch, "export/" + id, R"({"export_status":"cancelled"})");
    REQUIRE_FALSE(r.ec);
    CHECK(f.js(r).at("status") == "cancelled");
    f.finish_jobs();
    auto st = f.status(c, "export", id);
    CHECK(st.at("status") == "cancelled");
    CHECK(st.at("outputs").at("files").as_array().empty());
    d = f.js(f.call(c, http_method::get, "export/status")).as_object();
    CHECK(d.at("in_progress_exports").as_array().empty());
    REQUIRE(d.at("recent_exports").as_array().size() == 1);
    CHECK(d.at("recent_exports").at(0).at("data").at("export_status") == "cancelled");
    f.clock->advance(2h);  // out of the describe window
    d = f.js(f.call(c, http_method::get, "export/status")).as_object();
    CHECK(d.at("recent_exports").as_array().empty());
}

TEST_CASE("authentication and tenant isolation") {
    emu_fixture f;
    auto creds = f.emu->credentials("tenant-0001");
    auto other = f.emu->credentials("tenant-0002");
    auto try_with = [&](client_config cfg) {
        client c(f.io.get_executor(), cfg);
        return send(f.io, c, {.target = "export/status"});
    };
    auto cfg = f.config("tenant-0001");
    CHECK_FALSE(try_with(cfg).ec);
    cfg.api_key = other.api_key;  // another tenant's key
    auto r = try_with(cfg);
    CHECK(r.ec == errc::unauthorized);
    CHECK(r.resp.diag.api_code == "INVALID_TOKEN");
    cfg.api_key = "open";  // nothing
    CHECK(try_with(cfg).ec == errc::unauthorized);
    cfg.api_key = "";
    cfg.bearer_token = creds.bearer_token;
    CHECK_FALSE(try_with(cfg).ec);
    cfg.bearer_token = "";
    cfg.oauth = {creds.client_id, creds.client_secret};
    CHECK_FALSE(try_with(cfg).ec);
    cfg.oauth = {creds.client_id, "wrong-secret"};
    CHECK(try_with(cfg).ec == errc::oauth_failed);

    // Another tenant's job id is not found for this tenant.
    auto a = f.make("tenant-0001");
    auto b = f.make("tenant-0002");
    auto id = f.start_export(a, one_service);
    auto peek = f.call(b, http_method::get, "export/" + id + "/status");
    CHECK(peek.resp.diag.api_code == "INVALID_JOB_ID");
}

TEST_CASE("OAuth tokens expire: raw use gets 401, the client refreshes") {
    emulator_config cfg;
    cfg.token_lifetime = 60s;
    emu_fixture f(cfg);
    auto creds = f.emu->credentials("tenant-0001");
    client raw(f.io.get_executor(), f.config("tenant-0001"));
    auto tok = send(f.io, raw, {.method = http_method::post, .target = "/auth/realms/tenant-0001/protocol/openid-connect/token",
                                .body = "grant_type=client_credentials&client_id=" + creds.client_id + "&client_secret=" + creds.client_secret,
                                .content_type = "application/x-www-form-urlencoded", .authenticate = false});
    REQUIRE_FALSE(tok.ec);
    auto tj = f.js(tok).as_object();
    CHECK(tj.at("expires_in") == 60);
    CHECK(tj.at("token_type") == "Bearer");
    auto token = std::string(tj.at("access_token").as_string());
    auto bearer_cfg = f.config("tenant-0001");
    bearer_cfg.api_key = "";
    bearer_cfg.bearer_token = token;
    client with_token(f.io.get_executor(), bearer_cfg);
    CHECK_FALSE(send(f.io, with_token, {.target = "export/status"}).ec);
    f.clock->advance(61s);
    CHECK(send(f.io, with_token, {.target = "export/status"}).ec == errc::unauthorized);

    auto bad_grant = send(f.io, raw, {.method = http_method::post, .target = "/auth/realms/tenant-0001/protocol/openid-connect/token",
                                      .body = "grant_type=password", .authenticate = false});
    CHECK(bad_grant.resp.status == 400);
}

TEST_CASE("strict mode requires the SDK headers") {
    emulator_config cfg;
    cfg.strict = true;
    emu_fixture f(cfg);
    auto c = f.make("tenant-0001");
    CHECK_FALSE(f.call(c, http_method::get, "export/status").ec);  // this client sends them all
    auto creds = f.emu->credentials("tenant-0001");
    auto reply = raw_exchange(f.io, f.emu->port(),
                              "GET /tenant-0001/api/v4/export/status HTTP/1.1\r\nHost: x\r\nx-synthetic-key: " +
                                  creds.api_key + "\r\nx-tenant-name: tenant-0001\r\nConnection: close\r\n\r\n");
    CHECK(reply.find("400 Bad Request") != std::string::npos);
    CHECK(reply.find("x-request-id") != std::string::npos);
}

TEST_CASE("strict mode: a bearer token's x-tenant-name must name the path's tenant; the default does not read it") {
    auto creds_of = [](emu_fixture& f) { return f.emu->credentials("tenant-0001"); };
    auto request = [](const std::string& tenant_header, const std::string& token) {
        return "GET /tenant-0001/api/v4/export/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
               "\r\nx-tenant-name: " + tenant_header +
               "\r\nx-request-id: r1\r\nx-spark-ua: agent=t\r\nConnection: close\r\n\r\n";
    };
    emulator_config cfg;
    cfg.strict = true;
    emu_fixture strict(cfg);
    auto token = creds_of(strict).bearer_token;
    auto wrong = raw_exchange(strict.io, strict.emu->port(), request("target-0002", token));
    CHECK(wrong.find("401 Unauthorized") != std::string::npos);
    CHECK(wrong.find("INVALID_TENANT") != std::string::npos);
    CHECK(wrong.find("tenant-0001") != std::string::npos);
    CHECK(raw_exchange(strict.io, strict.emu->port(), request("tenant-0001", token)).find("200 OK") != std::string::npos);
    emu_fixture lax;
    CHECK(raw_exchange(lax.io, lax.emu->port(), request("target-0002", creds_of(lax).bearer_token)).find("200 OK") !=
          std::string::npos);
}

TEST_CASE("content types: strict mode answers 415 as a gateway would; the token endpoint reads forms only") {
    emulator_config cfg;
    cfg.strict = true;
    emu_fixture f(cfg);
    auto creds = f.emu->credentials("tenant-0001");
    auto post = [&](const std::string& path, const std::string& type, const std::string& body, bool auth) {
        return raw_exchange(f.io, f.emu->port(),
                            "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: " + type +
                                (auth ? "\r\nx-synthetic-key: " + creds.api_key +
                                            "\r\nx-tenant-name: tenant-0001\r\nx-request-id: r1\r\nx-spark-ua: a"
                                      : std::string()) +
                                "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
    };
    std::string exp = R"({"inputs":{"services":["folder-1/service-1"]}})";
    auto plain = post("/tenant-0001/api/v4/export", "text/plain", exp, true);
    CHECK(plain.find("415 Unsupported Media Type") != std::string::npos);
    CHECK(plain.find("text/plain") != std::string::npos);
    CHECK(post("/tenant-0001/api/v4/export", "application/json; charset=utf-8", exp, true).find("200 OK") !=
          std::string::npos);
    CHECK(post("/tenant-0001/api/v4/import", "application/json", "{}", true).find("415") != std::string::npos);
    std::string form = "grant_type=client_credentials&client_id=" + creds.client_id + "&client_secret=" + creds.client_secret;
    auto json_token = post("/auth/realms/tenant-0001/protocol/openid-connect/token", "application/json", form, false);
    CHECK(json_token.find("400 Bad Request") != std::string::npos);
    CHECK(json_token.find("invalid_request") != std::string::npos);
    CHECK(post("/auth/realms/tenant-0001/protocol/openid-connect/token", "application/x-www-form-urlencoded", form, false)
              .find("200 OK") != std::string::npos);
}

TEST_CASE("an import that sends two services to one destination is refused up front; a version suffix is honoured") {
    emu_fixture f;
    auto src = f.make("tenant-0001");
    auto dst = f.make("target-0001");
    auto pkg = f.export_package(src, R"({"inputs":{"folders":["folder-1"]},"version_filter":"all"})");
    auto dup = R"({"inputs":{"services_modify":[{"service_uri_source":"folder-1/service-1","service_uri_destination":"folder-1/x"},
        {"service_uri_source":"folder-1/service-2","service_uri_destination":"folder-1/x"}]},"services_existing":"abort"})";
    auto r = f.post_import(dst, dup, pkg);
    CHECK(r.resp.status == 400);
    CHECK(r.resp.body.find("DUPLICATE_DESTINATION") != std::string::npos);
    CHECK(r.resp.body.find("folder-1/x") != std::string::npos);
    auto one = R"({"inputs":{"services_modify":[{"service_uri_source":"folder-1/service-1[1.0.0]"}]},"services_existing":"abort"})";
    auto r2 = f.post_import(dst, one, pkg);
    REQUIRE_MESSAGE(!r2.ec, r2.resp.diag.to_string());
    f.finish_jobs();
    auto st = f.status(dst, "import", std::string(f.js(r2).at("id").as_string()));
    REQUIRE(st.at("outputs").at("service_versions").as_array().size() == 1);
    CHECK(st.at("outputs").at("service_versions").at(0).at("version_source") == "1.0.0");
}

TEST_CASE("a large package is built off the server's thread: the job finishes only once it is built, with its hash") {
    emulator_config cfg;
    cfg.job_duration = 0ms;
    cfg.package_bytes = 8 * 1024 * 1024;
    cfg.inline_package_bytes = 0;  // every package on the builder thread
    emu_fixture f(cfg);
    auto src = f.make("tenant-0001");
    auto other = f.make("tenant-0002");
    send_result created;
    auto id = f.start_export(src, R"({"inputs":{"services":["folder-1/service-1"]}})", &created);
    REQUIRE(!id.empty());
    // Due at once, but its package is not built yet: the POST (answered before
    // the builder's result can reach this thread) shows the job running.
    CHECK(f.js(created).at("status") == "in_progress");
    CHECK(f.js(created).at("outputs").at("files").as_array().empty());
    // The server answers other tenants meanwhile; poll with a bound until built.
    json::object st;
    auto until = std::chrono::steady_clock::now() + 60s;
    for (; std::chrono::steady_clock::now() < until;) {
        CHECK_FALSE(f.call(other, http_method::get, "export/status").ec);
        st = f.status(src, "export", id);
        if (st.at("status") == "closed") break;
    }
    REQUIRE(st.at("status") == "closed");
    auto file = st.at("outputs").at("files").at(0).as_object();
    auto got = f.call(src, http_method::get, std::string(file.at("file").as_string()));
    REQUIRE_FALSE(got.ec);
    CHECK(got.resp.body.size() > cfg.package_bytes / 2);
    CHECK(detail::sha256_hex(got.resp.body) == file.at("file_hash").as_string());
}

TEST_CASE("export from one tenant, import into another: the data matches") {
    emu_fixture f;
    auto src = f.make("tenant-0001");
    auto dst = f.make("target-0001");
    auto pkg = f.export_package(src, R"({"inputs":{"folders":["folder-1"]},"version_filter":"all"})");
    auto entity = R"({"inputs":{"services_modify":[{"service_uri_source":"folder-1/service-1"},{"service_uri_source":"folder-1/service-2","service_uri_destination":"folder-2/renamed"}]},"services_existing":"abort","correlation_id":"imp-1"})";
    auto r = f.post_import(dst, entity, pkg);
    REQUIRE_MESSAGE(!r.ec, r.resp.diag.to_string());
    auto created = f.js(r).as_object();
    CHECK(created.at("object") == "import");
    auto id = std::string(created.at("id").as_string());
    CHECK(f.status(dst, "import", id).at("status") != "closed");
    f.finish_jobs();
    auto st = f.status(dst, "import", id);
    CHECK(st.at("status") == "closed");
    CHECK(st.at("errors").is_null());
    CHECK(st.at("correlation_id") == "imp-1");
    CHECK(st.at("outputs").at("services").as_array().size() == 2);
    CHECK(st.at("outputs").at("service_versions").as_array().size() == 6);

    auto state = f.emu->state().as_object();
    auto& tenants = state.at("tenants").as_object();
    auto& s1 = tenants.at("tenant-0001").at("folders").at("folder-1").at("services").at("service-1");
    auto& d1 = tenants.at("target-0001").at("folders").at("folder-1").at("services").at("service-1");
    CHECK(json::serialize(s1) == json::serialize(d1));  // same ids and versions ("where possible")
    auto& renamed = tenants.at("target-0001").at("folders").at("folder-2").at("services").at("renamed");
    CHECK(renamed.at("versions").as_array().size() == 3);
}

TEST_CASE("import: services_existing abort, replace and add_version on an existing service") {
    emu_fixture f;
    auto src = f.make("tenant-0001");
    auto dst = f.make("target-0001");
    auto pkg = f.export_package(src, one_service);
    auto import_and_finish = [&](const std::string& action) {
        auto r = f.post_import(dst, mapping_entity("folder-1/service-1", "folder-1/svc", action), pkg);
        REQUIRE_MESSAGE(!r.ec, r.resp.diag.to_string());
        f.finish_jobs();
        return f.status(dst, "import", std::string(f.js(r).at("id").as_string()));
    };
    auto versions = [&] {
        return f.emu->state().at("tenants").at("target-0001").at("folders").at("folder-1").at("services").at("svc").at(
            "versions").as_array();
    };
    CHECK(import_and_finish("abort").at("errors").is_null());
    CHECK(versions().size() == 3);
    auto aborted = import_and_finish("abort");
    CHECK(json::serialize(aborted.at("errors")).find("SERVICE_EXISTS") != std::string::npos);
    CHECK(versions().size() == 3);
    auto replaced = import_and_finish("replace");
    CHECK(replaced.at("outputs").at("services").at(0).at("status") == "replaced");
    CHECK(versions().size() == 3);
    auto added = import_and_finish("add_version");
    CHECK(added.at("outputs").at("services").at(0).at("status") == "updated");
    auto v = versions();
    REQUIRE(v.size() == 6);
    CHECK(v[3].at("version") == "1.3.0");
    CHECK(v[5].at("version") == "1.5.0");
}

TEST_CASE("import: the destination folder must exist; failed_status reports failed") {
    emulator_config cfg;
    cfg.failed_status = true;
    emu_fixture f(cfg);
    auto src = f.make("tenant-0001");
    auto dst = f.make("target-0001");
    auto pkg = f.export_package(src, one_service);
    auto r = f.post_import(dst, mapping_entity("folder-1/service-1", "no-such-folder/svc", "add_version"), pkg);
    REQUIRE_FALSE(r.ec);
    f.finish_jobs();
    auto st = f.status(dst, "import", std::string(f.js(r).at("id").as_string()));
    CHECK(st.at("status") == "failed");
    CHECK(json::serialize(st.at("errors")).find("no-such-folder") != std::string::npos);
}

TEST_CASE("import: any part order, with or without an entity content type, any filename") {
    emu_fixture f;
    auto src = f.make("tenant-0001");
    auto pkg = f.export_package(src, one_service);
    int n = 0;
    for (bool entity_first : {true, false})
        for (std::string type : {"", "application/json"}) {
            auto dst = f.make(n % 2 ? "target-0002" : "target-0001");
            auto dest = "folder-1/svc-" + std::to_string(n++);
            auto r = f.post_import(dst, mapping_entity("folder-1/service-1", dest, "abort"), pkg, entity_first, type,
                                   "binary_zip_data.zip");
            CHECK_MESSAGE(!r.ec, r.resp.diag.to_string());
            f.finish_jobs();
        }
}

TEST_CASE("import errors: onpremises, not a ZIP, too large, missing parts, bad entity, unknown service") {
    emulator_config cfg;
    cfg.max_upload_bytes = 300 * 1024;
    emu_fixture f(cfg);
    auto src = f.make("tenant-0001");
    auto dst = f.make("target-0001");
    auto onprem = f.export_package(src, R"({"inputs":{"services":["folder-1/service-1"]},"file_filter":"onpremises"})");
    auto entity = mapping_entity("folder-1/service-1", "folder-1/x", "abort");
    auto r = f.post_import(dst, entity, onprem);
    CHECK(r.resp.status == 500);
    CHECK(r.resp.diag.api_code == "INVALID_IMPORT_ZIP");
    CHECK(r.resp.diag.api_message.find("migrate") != std::string::npos);

    auto junk = f.scratch / "junk.zip";
    std::ofstream(junk) << "certainly not a zip";
    r = f.post_import(dst, entity, junk);
    CHECK(r.resp.diag.api_code == "INVALID_IMPORT_ZIP");

    auto big = f.scratch / "big.zip";
    std::ofstream(big) << std::string(400 * 1024, 'x');
    r = f.post_import(dst, entity, big);
    CHECK(r.resp.status == 500);
    CHECK(r.resp.diag.api_code == "EXCEEDED_FILE_SIZE");

    auto migrate = f.export_package(src, one_service);
    r = f.post_import(dst, "{not json", migrate);
    CHECK(r.resp.status == 400);
    r = f.post_import(dst, mapping_entity("folder-1/ghost", "folder-1/x", "abort"), migrate);
    CHECK(r.resp.status == 404);
    CHECK(r.resp.diag.api_code == "SERVICE_NOT_FOUND");

    // Only the entity part, then a body that is not multipart at all.
    std::string b = "XYZ";
    std::string only_entity = detail::multipart_part_head(b, "importRequestEntity", "", "", true) + entity + detail::multipart_tail(b);
    r = send(f.io, dst, {.method = http_method::post, .target = "import", .body = only_entity,
                         .content_type = "multipart/form-data; boundary=XYZ"});
    CHECK(r.resp.status == 400);
    CHECK(r.resp.diag.api_message.find("'file'") != std::string::npos);
    r = send(f.io, dst, {.method = http_method::post, .target = "import", .body = "{}", .content_type = "application/json"});
    CHECK(r.resp.status == 400);
    // Truncated multipart.
    r = send(f.io, dst, {.method = http_method::post, .target = "import", .body = only_entity.substr(0, only_entity.size() - 10),
                         .content_type = "multipart/form-data; boundary=XYZ"});
    CHECK(r.resp.status == 400);
    CHECK(f.emu->state().at("jobs").as_array().size() == 2);  // only the two exports
}

TEST_CASE("malformed requests get an error and the server keeps serving") {
    emu_fixture f;
    auto garbage = raw_exchange(f.io, f.emu->port(), "THIS IS NOT HTTP\r\n\r\n");
    CHECK(garbage.find("400") != std::string::npos);
    auto huge = raw_exchange(f.io, f.emu->port(),
                             "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(64 * 1024, 'a') + "\r\n\r\n");
    CHECK(huge.find("431") != std::string::npos);
    auto cut = raw_exchange(f.io, f.emu->port(), "POST /tenant-0001/api/v4/export HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"in");
    CHECK(cut.empty());  // the client went away mid-body: nothing to answer
    auto c = f.make("tenant-0001");
    CHECK_FALSE(f.call(c, http_method::get, "export/status").ec);
}

TEST_CASE("fault injection: statuses with x-retry-after on the nth call, honoured by the client") {
    emu_fixture f;
    f.emu->set_faults(json::parse(R"({"rules":[{"route":"export.describe","kind":"status","status":429,"retry_after":1.5,"nth":[1,2]}]})"));
    auto cfg = f.config("tenant-0001");
    auto timer = std::make_shared<manual_timer_service>();
    cfg.timer = timer;
    cfg.max_retries = 2;
    client c(f.io.get_executor(), cfg);
    auto r = f.call(c, http_method::get, "export/status");
    REQUIRE_FALSE(r.ec);
    CHECK(r.resp.attempts == 3);
    REQUIRE(timer->sleeps().size() == 2);
    CHECK(timer->sleeps()[0] == 1500ms);
}

TEST_CASE("fault injection: a standard Retry-After in seconds or as an HTTP date, honoured by the client") {
    for (std::string as : {"seconds", "date"}) {
        CAPTURE(as);
        emu_fixture f;
        f.emu->set_faults(json::parse(std::string(R"({"rules":[{"route":"export.describe","kind":"status","status":429,"retry_after":2,"retry_after_as":")") +
                                      as + R"(","nth":[1]}]})"));
        auto cfg = f.config("tenant-0001");
        auto timer = std::make_shared<manual_timer_service>();
        cfg.timer = timer;
        cfg.max_retries = 1;
        client c(f.io.get_executor(), cfg);
        auto r = f.call(c, http_method::get, "export/status");
        REQUIRE_MESSAGE(!r.ec, r.resp.diag.to_string());
        CHECK(r.resp.attempts == 2);
        REQUIRE(timer->sleeps().size() == 1);
        CHECK(timer->sleeps()[0] == 2000ms);  // a date is counted from the answer's own Date: no clock skew
    }
    emu_fixture f;
    CHECK_THROWS_WITH_AS(f.emu->set_faults(json::parse(R"({"rules":[{"kind":"status","retry_after_as":"minutes"}]})")),
                         doctest::Contains("retry_after_as 'minutes'"), spark_error);
}

TEST_CASE("fault injection: 500, 502, 503 and 504 by probability, with times") {
    emu_fixture f;
    auto c = f.make("tenant-0001");
    for (int status : {500, 502, 503, 504}) {
        CAPTURE(status);
        f.emu->set_faults(json::parse(R"({"seed":7,"rules":[{"route":"export.describe","kind":"status","status":)" +
                                      std::to_string(status) + R"(,"probability":1.0,"times":1}]})"));
        auto r = f.call(c, http_method::get, "export/status");
        CHECK(r.resp.status == status);
        CHECK(r.resp.diag.api_code == "INJECTED_FAULT");
        CHECK_FALSE(f.call(c, http_method::get, "export/status").ec);  // times: 1
    }
}

TEST_CASE("fault injection: job failures, jobs that never finish, expired links") {
    emu_fixture f;
    auto c = f.make("tenant-0001");
    f.emu->set_faults(json::parse(R"({"rules":[{"route":"export.create","kind":"job_fail","nth":[1]},
                                               {"route":"export.create","kind":"job_never_finishes","nth":[2]},
                                               {"route":"download","kind":"expire_link","times":1}]})"));
    auto failing = f.start_export(c, one_service);
    f.finish_jobs();
    auto st = f.status(c, "export", failing);
    CHECK(st.at("status") == "closed");
    CHECK_FALSE(st.at("errors").is_null());
    CHECK(st.at("outputs").at("files").as_array().empty());
    auto stuck = f.start_export(c, one_service);
    f.clock->advance(1h);
    CHECK(f.status(c, "export", stuck).at("status") == "in_progress");
    f.call(c, http_method::patch, "export/" + stuck, R"({"export_status":"cancelled"})");
    auto ok = f.start_export(c, one_service);
    f.finish_jobs();
    auto url = std::string(f.status(c, "export", ok).at("outputs").at("files").at(0).at("file").as_string());
    CHECK(send(f.io, c, {.target = url}).ec == errc::not_found);  // expired once
    CHECK_FALSE(send(f.io, c, {.target = url}).ec);
}

TEST_CASE("fault injection: resets before and in the body, slow bodies, delays") {
    emu_fixture f;
    auto c = f.make("tenant-0001");
    auto id = f.start_export(c, one_service);
    f.finish_jobs();
    auto url = std::string(f.status(c, "export", id).at("outputs").at("files").at(0).at("file").as_string());
    f.emu->set_faults(json::parse(R"({"rules":[{"route":"download","kind":"reset_mid_body","after_bytes":1000,"nth":[1]},
                                               {"route":"download","kind":"slow_body","bytes_per_second":2000000,"nth":[2]},
                                               {"route":"download","kind":"delay","delay_ms":50,"nth":[3]},
                                               {"route":"export.status","kind":"reset","nth":[1,2,3]}]})"));
    auto cut = send(f.io, c, {.target = url});
    CHECK(cut.ec == errc::connection_closed);
    auto t0 = std::chrono::steady_clock::now();
    auto slow = send(f.io, c, {.target = url});
    REQUIRE_FALSE(slow.ec);
    auto floor = std::chrono::milliseconds(slow.resp.body.size() * 1000 / 2000000 / 2);
    CHECK(std::chrono::steady_clock::now() - t0 >= floor);
    CHECK_FALSE(send(f.io, c, {.target = url}).ec);
    auto reset = f.call(c, http_method::get, "export/" + id + "/status");
    CHECK(reset.ec == errc::connection_closed);  // a kept-alive connection gets one quiet retry, then it counts
    auto doc = f.js(send(f.io, c, {.target = f.emu->url() + "/_emulator/faults"})).as_object();
    CHECK(doc.at("rules").at(0).at("fired") == 1);
}

TEST_CASE("a reset after an import was accepted leaves exactly one job (the response is lost, the action is not)") {
    emu_fixture f;
    auto src = f.make("tenant-0001");
    auto dst = f.make("target-0001");
    auto pkg = f.export_package(src, one_service);
    f.emu->set_faults(json::parse(R"({"rules":[{"route":"import.create","kind":"reset","nth":[1]}]})"));
    auto r = f.post_import(dst, mapping_entity("folder-1/service-1", "folder-1/svc", "abort"), pkg);
    CHECK(r.ec == errc::connection_closed);
    std::size_t imports = 0;
    auto state = f.emu->state();
    for (const auto& j : state.at("jobs").as_array()) imports += j.at("kind") == "import";
    CHECK(imports == 1);
}

TEST_CASE("bad fault documents are refused naming the field") {
    emu_fixture f;
    auto c = f.make("tenant-0001");
    auto r = send(f.io, c, {.method = http_method::put, .target = f.emu->url() + "/_emulator/faults",
                            .body = R"({"rules":[{"route":"export.create","kind":"explode"}]})"});
    CHECK(r.resp.status == 400);
    CHECK(r.resp.diag.api_message.find("rules[0]") != std::string::npos);
    CHECK_THROWS_AS(f.emu->set_faults(json::parse(R"({"rules":[{"kind":"status","probability":2}]})")), spark_error);
}

TEST_CASE("TLS mode with a generated certificate clients can trust") {
    emulator_config cfg;
    cfg.tls = true;
    auto cert = std::filesystem::temp_directory_path() / ("cspark-emu-cert-" + std::to_string(::getpid()) + ".pem");
    cfg.write_cert_to = cert.string();
    emu_fixture f(cfg);
    CHECK(f.emu->url().rfind("https://", 0) == 0);
    auto ccfg = f.config("tenant-0001");
    ccfg.transport.tls.ca_file = cert.string();
    client c(f.io.get_executor(), ccfg);
    auto id = f.start_export(c, one_service);
    REQUIRE_FALSE(id.empty());
    f.finish_jobs();
    auto st = f.status(c, "export", id);
    CHECK(st.at("status_url").as_string().starts_with("https://"));
    auto url = std::string(st.at("outputs").at("files").at(0).at("file").as_string());
    CHECK_FALSE(send(f.io, c, {.target = url}).ec);
    std::filesystem::remove(cert);
}

TEST_CASE("the request log is JSON lines without secrets") {
    auto log = std::filesystem::temp_directory_path() / ("cspark-emu-log-" + std::to_string(::getpid()) + ".jsonl");
    {
        emulator_config cfg;
        cfg.request_log = log.string();
        emu_fixture f(cfg);
        auto c = f.make("tenant-0001");
        auto id = f.start_export(c, one_service);
        f.finish_jobs();
        auto url = std::string(f.status(c, "export", id).at("outputs").at("files").at(0).at("file").as_string());
        send(f.io, c, {.target = url});
    }
    std::ifstream in(log);
    int lines = 0;
    for (std::string line; std::getline(in, line); ++lines) {
        auto v = json::parse(line).as_object();
        CHECK(v.contains("method"));
        CHECK(v.contains("status"));
        CHECK(v.contains("request_id"));
        CHECK(line.find("ak-") == std::string::npos);
        CHECK(line.find("token=") == std::string::npos);
    }
    CHECK(lines == 3);
    std::filesystem::remove(log);
}

TEST_CASE("seed files: tenants, folders, services, versions; bad seeds name the field") {
    asio::io_context io;
    emulator e(io.get_executor());
    e.load_seed(json::parse(R"({"tenants":[{"name":"acme","api_key":"k-acme-12345","folders":[{"name":"pricing",
        "services":[{"name":"motor","versions":["1.0.0",{"version":"1.1.0","id":"6f1d3c0a-1b7e-4c55-9a0e-0c1d2e3f4a5b"}]}]}]}]})"));
    auto st = e.state();
    auto& motor = st.at("tenants").at("acme").at("folders").at("pricing").at("services").at("motor");
    CHECK(motor.at("versions").at(1).at("id") == "6f1d3c0a-1b7e-4c55-9a0e-0c1d2e3f4a5b");
    CHECK(e.credentials("acme").api_key == "k-acme-12345");
    try {
        e.load_seed(json::parse(R"({"tenants":[{"name":"x","folders":[{"name":"f","services":[{"name":"s","versions":["1.0"]}]}]}]})"));
        FAIL("accepted a bad version");
    } catch (const spark_error& err) {
        CHECK(err.diag().detail.find("tenants[0].folders[0].services[0].versions[0]") != std::string::npos);
    }
    CHECK_THROWS_AS(e.load_seed(json::parse(R"({"tenants":[{"folders":[]}]})")), spark_error);
}

TEST_CASE("imports are checked in memory within the upload budget, from a file past it, alike") {
    // budget: generous (in memory), a few KiB (spilled to a file mid-upload), 0 (always a file)
    for (std::uint64_t budget : {std::uint64_t{256} << 20, std::uint64_t{4096}, std::uint64_t{0}}) {
        CAPTURE(budget);
        emulator_config cfg;
        cfg.upload_memory_bytes = budget;
        emu_fixture f(cfg);
        auto src = f.make("tenant-0001");
        auto dst = f.make("target-0001");
        auto pkg = f.export_package(src, R"({"inputs":{"folders":["folder-1"]}})");
        REQUIRE(std::filesystem::file_size(pkg) > 4096);
        auto entity = mapping_entity("folder-1/service-1", "folder-1/copy", "abort");
        auto r = f.post_import(dst, entity, pkg);
        REQUIRE_MESSAGE(!r.ec, r.resp.diag.to_string());
        f.finish_jobs();
        auto st = f.status(dst, "import", std::string(f.js(r).at("id").as_string()));
        CHECK(st.at("status") == "closed");
        CHECK(st.at("outputs").at("services").as_array().size() == 1);
        // A damaged upload is refused the same way on either path: one byte in
        // the middle of the largest entry's data flipped, the CRC catches it.
        std::string why;
        auto z = zip::reader::open(pkg, why);
        REQUIRE_MESSAGE(z, why);
        const zip::entry_info* largest = &z->entries().front();
        for (const auto& e : z->entries())
            if (e.compressed_size > largest->compressed_size) largest = &e;
        auto at = static_cast<std::streamoff>(largest->local_offset + 30 + largest->name.size() + largest->compressed_size / 2);
        auto bad = f.scratch / "bad.zip";
        std::filesystem::copy_file(pkg, bad);
        {
            std::fstream io(bad, std::ios::in | std::ios::out | std::ios::binary);
            io.seekg(at);
            char c = 0;
            io.get(c);
            io.seekp(at);
            io.put(static_cast<char>(c ^ 0x01));
        }
        auto refused = f.post_import(dst, mapping_entity("folder-1/service-1", "folder-1/copy2", "abort"), bad);
        CHECK(refused.resp.status == 500);
        CHECK(refused.resp.diag.api_code == "INVALID_IMPORT_ZIP");
    }
}
