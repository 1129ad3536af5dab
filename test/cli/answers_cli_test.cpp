// Spark's real answers through the binary, tried as a new user would: a
// failure inside a 200 ends at once naming the server's code, warnings reach
// stderr, --json, the journal and the report, a failed service fails the
// migration without a second import, store links download under useful names.
#include "support/cli_fixture.hpp"

#include "emulator/impl.hpp"

using namespace cspark;
using namespace cspark::test;

namespace {

std::size_t zips_in(const std::filesystem::path& dir) {
    std::size_t n = 0;
    if (!std::filesystem::exists(dir)) return 0;
    for (const auto& e : std::filesystem::directory_iterator(dir)) n += e.path().extension() == ".zip" || e.path().extension() == ".part";
    return n;
}


}  // namespace

TEST_CASE("export: an error answered with 200 ends at once with exit 1, the server's code, no package, no job left running") {
    cli_fixture f;
    f.faults(R"([{"route":"export.status","kind":"error_in_200","code":"INTERNAL_SERVER_ERROR","message":"upstream failed"}])");
    auto out = f.dir / "e";
    auto r = f.run({"--json", "export", "--base-url", f.src(), "--api-key-env", "SRC_KEY", "--services", "folder-1/service-1",
                    "-o", out.string(), "--retry-interval", "20"});
    CHECK_MESSAGE(r.rc == 1, r.err);
    CHECK(contains(r.err, "INTERNAL_SERVER_ERROR"));
    CHECK(contains(r.err, "upstream failed"));
    auto doc = json::parse(r.out);
    CHECK(doc.at("error").at("code") == "job_failed");
    CHECK(doc.at("error").at("api_code") == "INTERNAL_SERVER_ERROR");
    CHECK(zips_in(out) == 0);
    // The export job was cancelled, not left running, and it was checked once, not for 30 minutes.
    auto st = f.state();
    std::size_t checks = 0;
    for (const auto& j : st.at("jobs").as_array())
        if (j.at("kind") == "export") CHECK(j.at("status") == "cancelled");
    {
        std::lock_guard lock(f.emu->get_impl().mu);  // the emulator serves from its own thread
        auto rules = f.emu->get_impl().faults.to_json();
        for (const auto& rule : rules.at("rules").as_array()) checks += rule.at("seen").to_number<std::size_t>();
    }
    CHECK(checks == 1);
}

TEST_CASE("export: a job that ends 'Error' (any case) exits 1 at once") {
    cli_fixture f;
    f.faults(R"([{"route":"export.create","kind":"job_status","job_status":"ERROR"}])");
    auto r = f.run({"export", "--base-url", f.src(), "--api-key-env", "SRC_KEY", "--services", "folder-1/service-1", "-o",
                    (f.dir / "e").string(), "--retry-interval", "20", "--poll-timeout", "20s"});
    CHECK(r.rc == 1);
    CHECK(contains(r.err, "'ERROR'"));
}

TEST_CASE("warnings: one stderr line each, in --json, in the journal and on the report page") {
    cli_fixture f;
    f.faults(R"([{"route":"export.create","kind":"job_warnings","warnings_as":"objects"},
                 {"route":"import.create","kind":"job_warnings"}])");
    auto e = f.run({"--json", "export", "--base-url", f.src(), "--api-key-env", "SRC_KEY", "--services", "folder-1/service-1",
                    "-o", (f.dir / "w").string(), "--retry-interval", "20"});
    REQUIRE_MESSAGE(e.rc == 0, e.err);
    CHECK(contains(e.err, "warning: export job "));
    CHECK(contains(e.err, ": DEPRECATED_FUNCTION: the workbook uses a deprecated function"));
    auto warnings = json::parse(e.out).at("job").at("warnings").as_array();
    CHECK(warnings.size() == 2);
    CHECK(warnings[1].at("code") == "LARGE_PACKAGE");

    auto plan = one_entry_plan(f, "m-w");
    auto journal = (f.dir / "j.jsonl").string();
    auto b = f.run({"batch", plan, "--journal", journal, "--retry-interval", "20"});
    CHECK_MESSAGE(b.rc == 0, b.err);
    CHECK(contains(b.err, "m-w: warning: import job "));
    CHECK(count_lines(journal, "\"warnings\":[") == 1);
    auto page = (f.dir / "r.html").string();
    auto rep = f.run({"--json", "batch", "--report", journal, "--html", page});
    CHECK(json::parse(rep.out).at("warnings") == 4);  // two from the export, two from the import
    CHECK(contains(slurp(page), "Warnings (from the server)"));
}

TEST_CASE("a service that failed in a closed import fails the migration, names it, and a rerun does not import again") {
    cli_fixture f;
    f.faults(R"([{"route":"import.create","kind":"service_failed"}])");
    auto m = f.run({"--json", "migrate", "--from-base-url", f.src(), "--from-api-key-env", "SRC_KEY", "--to-base-url", f.dst(),
                    "--to-api-key-env", "DST_KEY", "--services", "folder-1/service-2", "--from-retry-interval", "20"});
    CHECK_MESSAGE(m.rc == 1, m.err);
    CHECK(contains(m.err, "failed: folder-1/service-2 -> folder-1/service-2: failed (service 'folder-1/service-2' could not be imported"));
    auto doc = json::parse(m.out);
    CHECK(doc.at("error").at("code") == "import_partially_failed");
    CHECK(doc.at("imports").at(0).at("partially_failed") == true);
    CHECK(doc.at("imports").at(0).at("services").at(0).at("ok") == false);

    auto plan = one_entry_plan(f, "m-f");
    auto journal = (f.dir / "j.jsonl").string();
    auto b = f.run({"--json", "batch", plan, "--journal", journal, "--retry-interval", "20"});
    CHECK(b.rc == 1);
    CHECK(count_lines(journal, "\"ok\":false") == 1);
    CHECK(count_lines(journal, "\"code\":\"import_partially_failed\"") == 1);
    CHECK(count_lines(journal, "\"services\":[{") == 1);
    auto imports = f.jobs("import");
    f.faults("[]");
    auto again = f.run({"--json", "batch", plan, "--journal", journal, "--retry-interval", "20"});
    CHECK(json::parse(again.out).at("skipped") == 1);
    CHECK(f.jobs("import") == imports);  // the import happened: not sent again
}

TEST_CASE("store links: the package is named after the tenant and job, not 'package.zip', and its token never printed") {
    cli_fixture f;
    auto out = f.dir / "s";
    auto r = f.run({"--json", "--verbose", "export", "--base-url", f.src(), "--api-key-env", "SRC_KEY", "--services", "folder-1/service-1",
                    "-o", out.string(), "--retry-interval", "20"});
    REQUIRE_MESSAGE(r.rc == 0, r.err);
    auto doc = json::parse(r.out);
    std::string path(doc.at("files").at(0).at("path").as_string());
    CHECK(std::filesystem::path(path).filename().string().starts_with("tenant-0001-export-"));
    CHECK(doc.at("files").at(0).at("verified") == true);
    // -v logs every request: the store's token (a path segment with %2F, %2B, %3D) is masked.
    CHECK(contains(r.err, "/docstore/api/v1/documents/versions/tokens/***/package.zip"));
    CHECK_FALSE(contains(r.err, "%2F"));
    CHECK_FALSE(contains(r.out, "%2F"));
}
