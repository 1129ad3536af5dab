// The binary keeps the promises under a hostile world: unknown outcomes are
// resumed, never redone; each plan entry runs with its own credentials;
// control characters never reach a header; bad knobs are refused; a full disk
// is named; extraction writes below its directory or not at all.
#include "support/cli_fixture.hpp"

#include "zip/zip.hpp"

#include <cspark/version.hpp>

#include <sys/mount.h>
#include <sys/resource.h>
#include <csignal>

using namespace cspark;
using namespace cspark::test;

namespace {


std::size_t versions(cli_fixture& f, const std::string& tenant, const std::string& service) {
    auto st = f.state();
    auto* s = st.at("tenants").at(tenant).at("folders").at("folder-1").at("services").as_object().if_contains(service);
    return s ? s->at("versions").as_array().size() : 0;
}


}  // namespace

TEST_CASE("batch and migrate ride out transient status errors: one import, exit 0, nothing to redo") {
    cli_fixture f;
    f.faults(R"([{"route":"import.status","kind":"status","status":503,"times":3}])");
    auto plan = one_entry_plan(f);
    auto journal = (f.dir / "j.jsonl").string();
    auto r = f.run({"--json", "batch", plan, "--journal", journal, "--retry-interval", "20"});
    CHECK_MESSAGE(r.rc == 0, r.err);
    auto again = f.run({"--json", "batch", plan, "--journal", journal, "--retry-interval", "20"});
    CHECK(again.rc == 0);
    CHECK(json::parse(again.out).at("skipped") == 1);
    CHECK(f.jobs("import") == 1);
    CHECK(versions(f, "target-0001", "m-1") == 1);

    f.faults(R"([{"route":"import.status","kind":"status","status":503,"times":3}])");
    auto m = f.run({"migrate", "--from-base-url", f.src(), "--from-api-key-env", "SRC_KEY", "--to-base-url", f.dst(),
                    "--to-api-key-env", "DST_KEY", "--services", "folder-1/service-2", "--from-retry-interval", "20"});
    CHECK_MESSAGE(m.rc == 0, m.err);
    CHECK(f.jobs("import") == 2);
    CHECK(versions(f, "target-0001", "service-2") == 1);
}

TEST_CASE("an import whose state cannot be learned: exit 4 naming the job, and a rerun resumes that job") {
    cli_fixture f;
    f.faults(R"([{"route":"import.status","kind":"status","status":503}])");
    auto plan = one_entry_plan(f);
    auto journal = (f.dir / "j.jsonl").string();
    auto r = f.run({"--json", "batch", plan, "--journal", journal, "--retry-interval", "20", "--max-retries", "0",
                    "--poll-timeout", "400ms"});
    CHECK(r.rc == 4);
    CHECK(json::parse(r.out).at("unknown") == 1);
    CHECK(count_lines(journal, "\"e\":\"done\"") == 0);
    REQUIRE(f.jobs("import") == 1);

    f.faults("[]");
    auto rerun = f.run({"--json", "batch", plan, "--journal", journal, "--retry-interval", "20"});
    CHECK_MESSAGE(rerun.rc == 0, rerun.err);
    CHECK(f.jobs("import") == 1);  // the same job, resumed by id
    CHECK(f.jobs("export") == 1);
    CHECK(versions(f, "target-0001", "m-1") == 1);

    f.faults(R"([{"route":"import.status","kind":"status","status":503}])");
    auto m = f.run({"migrate", "--from-base-url", f.src(), "--from-api-key-env", "SRC_KEY", "--to-base-url", f.dst(),
                    "--to-api-key-env", "DST_KEY", "--services", "folder-1/service-2", "--from-retry-interval", "20",
                    "--from-max-retries", "0", "--to-max-retries", "0", "--poll-timeout", "400ms"});
    CHECK(m.rc == 4);
    auto id = std::string(f.state().at("jobs").as_array().back().at("id").as_string());
    CHECK(contains(m.err, "cspark-impex status " + id + " --kind import"));
}

TEST_CASE("batch: each entry runs with the credentials it names, even for the same tenant") {
    cli_fixture f;
    ::setenv("WRONG_KEY", "not-the-key", 1);
    json::array list;
    for (auto [name, key] : {std::pair<std::string, std::string>{"right", "DST_KEY"}, {"wrong", "WRONG_KEY"}})
        list.push_back(json::object{{"name", name},
                                    {"source", json::object{{"base_url", f.src()}, {"api_key_env", "SRC_KEY"}}},
                                    {"target", json::object{{"base_url", f.dst()}, {"api_key_env", key}}},
                                    {"export", json::object{{"services", json::array{"folder-1/service-1"}}}},
                                    {"destination", json::array{"folder-1/service-1=folder-1/" + name}}});
    auto plan = (f.dir / "plan.json").string();
    std::ofstream(plan) << json::serialize(json::object{{"migrations", list}});
    auto journal = f.dir / "j.jsonl";
    auto r = f.run({"--json", "batch", plan, "--journal", journal.string(), "--retry-interval", "20", "--concurrency", "1"});
    CHECK(r.rc == 1);
    CHECK(json::parse(r.out).at("done") == 1);
    CHECK(json::parse(r.out).at("failed") == 1);
    CHECK(versions(f, "target-0001", "right") == 1);
    CHECK(versions(f, "target-0001", "wrong") == 0);
    auto text = slurp(journal);
    CHECK(contains(text, "401"));
    CHECK_FALSE(contains(text, "not-the-key"));
}

TEST_CASE("a credential with CR/LF is refused without echoing it; nothing is sent") {
    cli_fixture f;
    ::setenv("BAD_KEY", "k\r\nX-Injected: z", 1);
    auto before = f.emu->request_count();
    auto r = f.run({"export", "--base-url", f.src(), "--api-key-env", "BAD_KEY", "--services", "folder-1/service-1",
                    "-o", (f.dir / "x").string()});
    CHECK(r.rc == 2);
    CHECK(contains(r.err, "control character"));
    CHECK_FALSE(contains(r.err, "X-Injected"));
    CHECK(f.emu->request_count() == before);
}

TEST_CASE("bad knobs are refused: --shard, --poll-timeout") {
    cli_fixture f;
    auto plan = one_entry_plan(f);
    auto journal = (f.dir / "j.jsonl").string();
    for (std::string shard : {"0/-1", "1/1", "-1/3", "a/b", "1/", "/2", "3"}) {
        CAPTURE(shard);
        auto r = f.run({"batch", plan, "--journal", journal, "--shard", shard});
        CHECK(r.rc == 2);
        CHECK(contains(r.err, "--shard"));
    }
    for (std::string d : {"soon", "5x", "-1s", ""}) {
        CAPTURE(d);
        auto r = f.run({"export", "--base-url", f.src(), "--api-key-env", "SRC_KEY", "--services", "f/s", "--poll-timeout", d});
        CHECK(r.rc == 2);
    }
    for (std::string d : {"soon", "5x", "-1s"}) {
        CAPTURE(d);
        auto t = f.run({"export", "--base-url", f.src(), "--api-key-env", "SRC_KEY", "--services", "f/s", "--timeout", d});
        CHECK(t.rc == 2);
        CHECK(contains(t.err, "not a duration"));
        auto ri = f.run({"batch", plan, "--journal", journal, "--retry-interval", d});
        CHECK(ri.rc == 2);
    }
    auto k8s = f.run({"batch", plan, "--journal", journal, "--shard", "/2"}, [] { ::setenv("JOB_COMPLETION_INDEX", "7", 1); });
    CHECK(k8s.rc == 2);
    CHECK_MESSAGE(contains(k8s.err, "JOB_COMPLETION_INDEX, which is '7'"), k8s.err);
    CHECK(f.jobs("export") == 0);
    auto help = f.run({"export", "--help"});
    CHECK(contains(help.out, "--poll-timeout"));
    CHECK(contains(help.out, "Retries of one HTTP request"));
    CHECK(contains(help.out, "(500ms, 60s, 2m; plain numbers are ms)"));
    auto top = f.run({"--help"});
    for (const char* part : {"Examples:", "CSPARK_API_KEY", "JOB_COMPLETION_INDEX", "Exit codes:", "5 credentials rejected"})
        CHECK_MESSAGE(contains(top.out, part), part);
    auto version = f.run({"--version"});
    CHECK(version.rc == 0);
    CHECK(version.out == "cspark-impex " + std::string(cspark::version) + "\n");
}

TEST_CASE("rejected credentials exit 5 with the code 'unauthorized'") {
    cli_fixture f;
    auto r = f.run({"export", "--base-url", f.src(), "--api-key-env", "WRONG_KEY", "--services", "folder-1/service-1",
                    "-o", (f.dir / "out").string(), "--json"},
                   [] { ::setenv("WRONG_KEY", "not-the-key", 1); });
    CHECK_MESSAGE(r.rc == 5, r.err);
    CHECK(json::parse(r.out).at("error").at("code") == "unauthorized");
    CHECK_FALSE(contains(r.out + r.err, "not-the-key"));
    CHECK(f.jobs("export") == 0);
}

TEST_CASE("export: a job that never finishes ends at --poll-timeout (exit 4) and is cancelled on the server") {
    cli_fixture f;
    f.faults(R"([{"route":"export.create","kind":"job_never_finishes"}])");
    auto r = f.run({"export", "--base-url", f.src(), "--api-key-env", "SRC_KEY", "--services", "folder-1/service-1",
                    "-o", (f.dir / "never").string(), "--retry-interval", "20", "--poll-timeout", "300ms"});
    CHECK(r.rc == 4);
    CHECK(contains(r.err, "still"));
    CHECK(f.state().at("jobs").at(0).at("status") == "cancelled");
}

TEST_CASE("export: a package without file_hash says so on stderr; two links with one name keep two files") {
    cli_fixture f;
    f.faults(R"([{"route":"export.create","kind":"job_no_hash"},{"route":"export.create","kind":"job_same_file_names"}])");
    auto r = f.run({"--json", "export", "--base-url", f.src(), "--api-key-env", "SRC_KEY", "--services", "folder-1/service-1",
                    "-o", (f.dir / "nohash").string(), "--retry-interval", "20"});
    CHECK_MESSAGE(r.rc == 0, r.err);
    CHECK(contains(r.err, "not verified by the server"));
    auto files = json::parse(r.out).at("files").as_array();
    REQUIRE(files.size() == 2);
    CHECK(files[0].at("path") != files[1].at("path"));
}

TEST_CASE("a full disk names the path and the system error, and leaves no file") {
    cli_fixture f;
    auto small = f.dir / "small";
    std::filesystem::create_directories(small);
    bool mounted = ::mount("tmpfs", small.c_str(), "tmpfs", 0, "size=32k") == 0;
    std::string expected = mounted ? "No space left on device" : "File too large";
    auto limit = [mounted] {
        if (mounted) return;
        ::signal(SIGXFSZ, SIG_IGN);  // without root, a file size limit stands in for a full disk
        rlimit rl{32 * 1024, 32 * 1024};
        ::setrlimit(RLIMIT_FSIZE, &rl);
    };
    auto r = f.run({"export", "--base-url", f.src(), "--api-key-env", "SRC_KEY", "--services", "folder-1/service-1",
                    "-o", small.string(), "--retry-interval", "20"}, limit);
    CHECK(r.rc == 1);
    CHECK(contains(r.err, expected));
    CHECK(contains(r.err, small.string()));
    CHECK(std::filesystem::is_empty(small));
    if (mounted) ::umount(small.c_str());
}

TEST_CASE("inspect --extract writes below its directory or not at all") {
    cli_fixture f;
    auto make = [&](const std::string& name, const std::function<void(zip::writer&)>& fill) {
        auto p = f.dir / name;
        zip::writer w(p);
        fill(w);
        w.finish();
        return p.string();
    };
    auto dest = f.dir / "dest";
    auto reset = [&] {
        std::filesystem::remove_all(dest);
        std::filesystem::create_directories(dest);
    };

    SUBCASE("a symbolic link already in the destination is not followed") {
        reset();
        auto outside = f.dir / "outside";
        std::filesystem::create_directories(outside);
        std::filesystem::create_directory_symlink(outside, dest / "lnk");
        auto zipf = make("lnk.zip", [](zip::writer& w) { w.add_file("lnk/inner.txt", "x"); });
        auto r = f.run({"inspect", zipf, "--extract", dest.string()});
        CHECK(r.rc == 2);
        CHECK(contains(r.err, "symbolic link"));
        CHECK(std::filesystem::is_empty(outside));
    }
    SUBCASE("existing files are kept unless --overwrite") {
        reset();
        std::ofstream(dest / "a.txt") << "mine";
        auto zipf = make("a.zip", [](zip::writer& w) { w.add_file("a.txt", "theirs"); });
        auto r = f.run({"inspect", zipf, "--extract", dest.string()});
        CHECK(r.rc == 2);
        CHECK(contains(r.err, "already exists"));
        CHECK(slurp(dest / "a.txt") == "mine");
        auto o = f.run({"inspect", zipf, "--extract", dest.string(), "--overwrite"});
        CHECK(o.rc == 0);
        CHECK(slurp(dest / "a.txt") == "theirs");
    }
    SUBCASE("duplicates, NUL bytes and file/directory clashes are refused before anything is written") {
        std::vector<std::pair<std::string, std::function<void(zip::writer&)>>> cases{
            {"appears twice", [](zip::writer& w) { w.add_file("ok.txt", "1"); w.add_file("d.txt", "1"); w.add_file("d.txt", "2"); }},
            {"NUL byte", [](zip::writer& w) { w.add_file("ok.txt", "1"); w.add_file(std::string("a\0b.txt", 7), "1"); }},
            {"to be a directory", [](zip::writer& w) { w.add_file("ok.txt", "1"); w.add_file("x", "1"); w.add_file("x/y", "2"); }},
            {"both a file and a directory", [](zip::writer& w) { w.add_file("ok.txt", "1"); w.add_file("x/y", "2"); w.add_file("x", "1"); }},
        };
        for (const auto& c : cases) {
            const std::string& what = c.first;
            const auto& fill = c.second;
            CAPTURE(what);
            reset();
            auto r = f.run({"inspect", make("bad.zip", fill), "--extract", dest.string()});
            CHECK(r.rc == 2);
            CHECK(contains(r.err, what));
            CHECK(std::filesystem::is_empty(dest));
        }
    }
    SUBCASE("size and ratio are bounded") {
        reset();
        auto zipf = make("bomb.zip", [](zip::writer& w) { w.add_file("zeros.bin", std::string(8 << 20, '\0')); });
        auto r = f.run({"inspect", zipf, "--extract", dest.string()});
        CHECK(r.rc == 2);
        CHECK(contains(r.err, "--max-ratio"));
        auto s = f.run({"inspect", zipf, "--extract", dest.string(), "--max-ratio", "100000", "--max-size", "4MB"});
        CHECK(s.rc == 2);
        CHECK(contains(s.err, "--max-size"));
        CHECK(std::filesystem::is_empty(dest));
        auto ok = f.run({"inspect", zipf, "--extract", dest.string(), "--max-ratio", "100000"});
        CHECK(ok.rc == 0);
        CHECK(std::filesystem::file_size(dest / "zeros.bin") == (8u << 20));
    }
    SUBCASE("a corrupt entry after good ones leaves nothing behind") {
        reset();
        auto zipf = make("crc.zip", [](zip::writer& w) {
            w.add_file("good/first.txt", "fine", false);
            w.add_file("second.txt", "CORRUPT-ME-PLEASE", false);
        });
        std::string bytes = slurp(zipf);
        auto at = bytes.find("CORRUPT-ME-PLEASE");
        REQUIRE(at != std::string::npos);
        bytes[at] = 'X';
        std::ofstream(zipf, std::ios::binary | std::ios::trunc) << bytes;
        auto r = f.run({"inspect", zipf, "--extract", dest.string()});
        CHECK(r.rc == 2);
        CHECK(std::filesystem::is_empty(dest));
    }
}
