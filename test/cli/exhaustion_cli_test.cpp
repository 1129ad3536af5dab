// Resources running out: a full disk while extracting, the descriptor limit
// with many connections. Each is a clear error or is waited out, and nothing
// is left half done: no partial extraction, no migration done twice.
#include "support/cli_fixture.hpp"

#include <csignal>
#include <sys/mount.h>
#include <sys/resource.h>

using namespace cspark;
using namespace cspark::test;

TEST_CASE("inspect --extract onto a full disk: the error names the place, the destination stays empty") {
    fleet_spec fleet = small_fleet();
    emulator_config cfg = cli_fixture::quick_jobs();
    cfg.package_bytes = 256 * 1024;  // more than the small disk holds
    cli_fixture f(fleet, cfg);
    auto pkg_dir = f.dir / "pkg";
    auto exported = f.run({"--json", "export", "--base-url", f.src(), "--api-key-env", "SRC_KEY", "--services", "folder-1/service-1",
                           "-o", pkg_dir.string(), "--retry-interval", "20"});
    REQUIRE_MESSAGE(exported.rc == 0, exported.err);
    auto package = std::string(json::parse(exported.out).at("files").at(0).at("path").as_string());
    auto small = f.dir / "small";
    std::filesystem::create_directories(small);
    bool mounted = ::mount("tmpfs", small.c_str(), "tmpfs", 0, "size=32k") == 0;
    auto limit = [mounted] {
        if (mounted) return;
        ::signal(SIGXFSZ, SIG_IGN);  // without root, a file size limit stands in for a full disk
        rlimit rl{32 * 1024, 32 * 1024};
        ::setrlimit(RLIMIT_FSIZE, &rl);
    };
    auto r = f.run({"inspect", package, "--extract", small.string()}, limit);
    CHECK(r.rc != 0);
    CHECK((contains(r.err, "No space left on device") || contains(r.err, "File too large")));
    CHECK_MESSAGE(contains(r.err, small.string()), r.err);
    CHECK(std::filesystem::is_empty(small));  // no entry, no temporary name
    if (mounted) ::umount(small.c_str());
}

// The batch fits its flows and connections in the descriptor limit instead of
// failing migrations at random when descriptors run out. (Running out did
// fail them with a typed error; under g++ UBSan it also drew false vptr
// reports: the sanitizer checks memory with a pipe(), which fails at EMFILE.)
TEST_CASE("batch at the descriptor limit: fewer flows at once, each migration done once") {
    cli_fixture f(pairs_fleet(10));
    auto plan = make_plan(f, 30, 10);
    auto journal = (f.dir / "run.jsonl").string();
    auto few_fds = [] {
        rlimit rl{24, 24};  // stdio, the journal, the reactor and a handful of sockets
        ::setrlimit(RLIMIT_NOFILE, &rl);
    };
    auto first = f.run({"batch", plan, "--journal", journal, "--concurrency", "64", "--retry-interval", "10"}, few_fds);
    CHECK_MESSAGE(first.rc == 0, first.err);
    CHECK_MESSAGE(contains(first.err, "the descriptor limit (ulimit -n) is 24"), first.err);
    CHECK_MESSAGE(!contains(first.err, "Too many open files"), first.err);
    auto again = f.run({"--json", "batch", plan, "--journal", journal, "--retry-interval", "10"});
    CHECK_MESSAGE(again.rc == 0, again.err);
    CHECK(json::parse(again.out).at("done") == 30);
    CHECK(json::parse(again.out).at("skipped") == 30);
    auto st = f.state();
    for (int i = 0; i < 30; ++i) {
        CAPTURE(i);
        std::string tenant = "target-00" + std::string(i % 10 + 1 < 10 ? "0" : "") + std::to_string(i % 10 + 1);
        const auto& services = st.at("tenants").at(tenant).at("folders").at("folder-1").at("services").as_object();
        const auto* svc = services.if_contains("m-" + std::to_string(i));
        REQUIRE(svc);
        CHECK(svc->at("versions").as_array().size() == 1);
    }
}

TEST_CASE("batch under a descriptor limit too small for one migration says so and starts nothing") {
    cli_fixture f(pairs_fleet(2));
    auto plan = make_plan(f, 2, 2);
    auto journal = (f.dir / "run.jsonl").string();
    auto tiny = [] {
        rlimit rl{12, 12};
        ::setrlimit(RLIMIT_NOFILE, &rl);
    };
    auto r = f.run({"batch", plan, "--journal", journal}, tiny);
    CHECK(r.rc == 2);
    CHECK_MESSAGE(contains(r.err, "the descriptor limit (ulimit -n) is 12"), r.err);
    CHECK(f.jobs("export") == 0);
}
