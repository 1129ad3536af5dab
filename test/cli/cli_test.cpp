// The cspark-impex binary as a child process against an in-process emulator
// (served from a background thread).
#include "support/cli_fixture.hpp"
#include "support/test_proxy.hpp"

#include "zip/zip.hpp"

#include <boost/asio/executor_work_guard.hpp>

#include <cstdlib>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <csignal>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

using namespace cspark;
using namespace cspark::test;


TEST_CASE("export, inspect, import and migrate with --json; credentials never printed") {
    cli_fixture f;
    auto out_dir = (f.dir / "pkgs").string();
    auto e = f.run({"--json", "--verbose", "export", "--base-url", f.src(), "--api-key-env", "SRC_KEY", "--services",
                    "folder-1/service-1", "--version-filter", "all", "-o", out_dir, "--retry-interval", "20"});
    CHECK_MESSAGE(e.rc == 0, e.err);
    f.no_secrets(e);
    auto doc = json::parse(e.out).as_object();
    auto path = std::string(doc.at("files").at(0).at("path").as_string());
    CHECK(doc.at("files").at(0).at("verified") == true);
    CHECK(std::filesystem::exists(path));

    auto i = f.run({"--json", "inspect", path});
    CHECK(i.rc == 0);
    auto idoc = json::parse(i.out).as_object();
    CHECK(idoc.at("crc_ok") == true);
    CHECK(idoc.at("service_versions").as_array().size() == 3);

    auto imp = f.run({"--json", "import", "--base-url", f.dst(), "--api-key-env", "DST_KEY", "--file", path,
                      "--destination", "folder-1/service-1=folder-2/copy@major", "--retry-interval", "20"});
    CHECK_MESSAGE(imp.rc == 0, imp.err);
    auto jdoc = json::parse(imp.out).as_object();
    CHECK(jdoc.at("services").at(0).at("destination") == "folder-2/copy");

    auto mig = f.run({"--json", "migrate", "--from-base-url", f.src(), "--from-api-key-env", "SRC_KEY", "--to-base-url",
                      f.dst(), "--to-api-key-env", "DST_KEY", "--folders", "folder-2", "--from-retry-interval", "20",
                      "--if-present", "replace"});
    CHECK_MESSAGE(mig.rc == 0, mig.err);
    f.no_secrets(mig);
    CHECK(json::parse(mig.out).at("imports").as_array().size() == 1);
}

TEST_CASE("status, cancel and describe") {
    cli_fixture f;
    auto d = f.run({"--json", "describe", "--base-url", f.src(), "--api-key-env", "SRC_KEY"});
    CHECK(d.rc == 0);
    CHECK(json::parse(d.out).as_object().contains("in_progress_exports"));
    auto s = f.run({"--json", "status", "--base-url", f.src(), "--api-key-env", "SRC_KEY", "no-such-job"});
    CHECK(s.rc == 1);
    CHECK(json::parse(s.out).at("error").at("api_code") == "INVALID_JOB_ID");
    auto c = f.run({"--json", "cancel", "--base-url", f.src(), "--api-key-env", "SRC_KEY", "no-such-job"});
    CHECK(c.rc == 1);
    CHECK(json::parse(c.out).at("error").at("api_code") == "INVALID_JOB_ID");
    // A real job: export it, then ask for its status by id, then cancel (finished: unchanged).
    auto e = f.run({"--json", "export", "--base-url", f.src(), "--api-key-env", "SRC_KEY", "--services", "folder-1/service-1",
                    "-o", (f.dir / "sc").string(), "--retry-interval", "20"});
    REQUIRE(e.rc == 0);
    std::string id(json::parse(e.out).at("job").at("id").as_string());
    auto st = f.run({"--json", "status", "--base-url", f.src(), "--api-key-env", "SRC_KEY", id});
    CHECK(st.rc == 0);
    CHECK(json::parse(st.out).at("status") == "closed");
    // The download link's token is masked in the document (kept as CI artifacts).
    // (The emulator's links are the document store's, the token a path segment.)
    CHECK_MESSAGE(contains(st.out, "/tokens/***/package.zip"), st.out);
    CHECK(st.out.find("%2F") == std::string::npos);
    CHECK(st.out.find("token=") == st.out.find("token=***"));
    auto cn = f.run({"--json", "cancel", "--base-url", f.src(), "--api-key-env", "SRC_KEY", id});
    CHECK(cn.rc == 0);
}

TEST_CASE("bad usage and bad input exit 2 naming the problem") {
    cli_fixture f;
    auto a = f.run({"export", "--bogus"});
    CHECK(a.rc == 2);
    CHECK(a.err.find("--bogus") != std::string::npos);
    auto b = f.run({"export", "--base-url", f.src(), "--api-key-env", "NOT_SET_ANYWHERE", "--services", "f/s"});
    CHECK(b.rc == 2);
    CHECK(b.err.find("NOT_SET_ANYWHERE") != std::string::npos);
    auto c = f.run({"import", "--base-url", f.dst(), "--api-key-env", "DST_KEY", "--file", "/nonexistent.zip",
                    "--destination", "a/b"});
    CHECK(c.rc == 2);
    auto pkg = f.dir / "x.zip";
    std::ofstream(pkg) << "x";
    auto d = f.run({"import", "--base-url", f.dst(), "--api-key-env", "DST_KEY", "--file", pkg.string(),
                    "--destination", "a/b@huge"});
    CHECK(d.rc == 2);
    CHECK(d.err.find("huge") != std::string::npos);
    auto e = f.run({"export", "--base-url", "ftp://x/t", "--api-key-env", "SRC_KEY", "--services", "f/s"});
    CHECK(e.rc == 2);
    CHECK(e.err.find("ftp") != std::string::npos);
}

TEST_CASE("import checks the package locally before any request: a ZIP, an export package, the sources it names") {
    cli_fixture f;
    auto import_of = [&](const std::filesystem::path& pkg, const std::string& destination) {
        return f.run({"--json", "import", "--base-url", f.dst(), "--api-key-env", "DST_KEY", "--file", pkg.string(),
                      "--destination", destination});
    };
    auto text = f.dir / "notes.zip";
    std::ofstream(text) << "not a zip at all";
    auto a = import_of(text, "folder-1/service-1");
    CHECK(a.rc == 2);
    CHECK_MESSAGE(contains(a.err, "is not a package to import"), a.err);
    CHECK(json::parse(a.out).at("error").at("code") == "invalid_package");

    auto other = f.dir / "other.zip";
    {
        zip::writer w(other);
        w.add_file("readme.txt", "hello");
        w.finish();
    }
    auto b = import_of(other, "folder-1/service-1");
    CHECK(b.rc == 2);
    CHECK_MESSAGE(contains(b.err, "has no {tenant}/manifest.json"), b.err);

    auto out_dir = (f.dir / "pkgs").string();
    auto e = f.run({"--json", "export", "--base-url", f.src(), "--api-key-env", "SRC_KEY", "--services", "folder-1/service-1",
                    "-o", out_dir, "--retry-interval", "20"});
    REQUIRE_MESSAGE(e.rc == 0, e.err);
    std::string path(json::parse(e.out).at("files").at(0).at("path").as_string());
    auto c = import_of(path, "folder-1/no-such-service=folder-2/copy");
    CHECK(c.rc == 2);
    CHECK_MESSAGE(contains(c.err, "names 'folder-1/no-such-service'"), c.err);
    CHECK_MESSAGE(contains(c.err, "it holds: folder-1/service-1"), c.err);
    CHECK(f.jobs("import") == 0);  // nothing was uploaded
    auto good = import_of(path, "folder-1/service-1=folder-2/copy");
    CHECK_MESSAGE(good.rc == 0, good.err);
    CHECK(f.jobs("import") == 1);
}

TEST_CASE("inspect --extract refuses entries that escape the directory, and extracts good packages") {
    cli_fixture f;
    for (std::string evil : {"../evil.txt", "/tmp/cspark-absolute-evil.txt", "a/../../evil.txt"}) {
        CAPTURE(evil);
        auto crafted = f.dir / "crafted.zip";
        {
            zip::writer w(crafted);
            w.add_file("ok/first.txt", "fine");
            w.add_file(evil, "gotcha");
            w.finish();
        }
        auto target = f.dir / "extract";
        auto r = f.run({"inspect", crafted.string(), "--extract", target.string()});
        CHECK(r.rc == 2);
        CHECK(r.err.find("nothing extracted into") != std::string::npos);
        CHECK_FALSE(std::filesystem::exists(target / "ok" / "first.txt"));  // nothing written at all
        CHECK_FALSE(std::filesystem::exists(f.dir / "evil.txt"));
        CHECK_FALSE(std::filesystem::exists("/tmp/cspark-absolute-evil.txt"));
    }
    auto good = f.dir / "good.zip";
    {
        zip::writer w(good);
        w.add_directory("t/");
        w.add_file("t/a.json", "{}");
        w.finish();
    }
    auto r = f.run({"inspect", good.string(), "--extract", (f.dir / "out").string()});
    CHECK(r.rc == 0);
    CHECK(slurp(f.dir / "out" / "t" / "a.json") == "{}");
}


TEST_CASE("batch: killed with SIGKILL part-way, the rerun finishes every migration exactly once") {
    cli_fixture f(pairs_fleet(20));
    auto plan = make_plan(f, 200, 20);
    auto journal = f.dir / "run.jsonl";
    pid_t pid = f.start_quiet({"--quiet", "batch", plan, "--journal", journal.string(), "--concurrency", "64",
                               "--retry-interval", "20", "--no-coalesce"});
    // Kill it once some migrations are done (bounded wait, no fixed sleep).
    auto until = std::chrono::steady_clock::now() + 60s;
    while (count_lines(journal, "\"e\":\"done\"") < 40 && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(5ms);
    ::kill(pid, SIGKILL);
    wait_bounded(pid);
    auto done_before = count_lines(journal, "\"e\":\"done\"");
    CHECK(done_before >= 40);
    CHECK(done_before < 200);

    auto rerun = f.run({"--json", "batch", plan, "--journal", journal.string(), "--concurrency", "64", "--retry-interval", "20",
                        "--no-coalesce"});
    CHECK_MESSAGE(rerun.rc == 0, rerun.err);
    auto doc = json::parse(rerun.out).as_object();
    CHECK(doc.at("done") == 200);
    CHECK(doc.at("skipped").to_number<std::size_t>() >= done_before);

    json::value st = f.state();
    std::size_t exports = 0, imports = 0;
    for (const auto& j : st.at("jobs").as_array()) {
        exports += j.at("kind") == "export";
        imports += j.at("kind") == "import";
    }
    CHECK(imports == 200);  // never twice
    CHECK(exports == 200);  // an export cut off by the kill was found again, not repeated
    for (std::size_t i = 0; i < 200; ++i) {
        std::string k = std::to_string(i % 20 + 1);
        std::string tenant = "target-" + std::string(4 - k.size(), '0') + k;
        auto& svc = st.at("tenants").at(tenant).at("folders").at("folder-1").at("services").at("m-" + std::to_string(i));
        CHECK(svc.at("versions").as_array().size() == 1);
    }
    // No credential ever reaches the journal.
    auto journal_text = slurp(journal);
    for (int k = 1; k <= 20; ++k) {
        std::string num = std::string(4 - std::to_string(k).size(), '0') + std::to_string(k);
        CHECK(journal_text.find(std::getenv(("KEY_SRC_" + num).c_str())) == std::string::npos);
    }
    // A third run has nothing left to do.
    auto again = f.run({"--json", "batch", plan, "--journal", journal.string()});
    CHECK(again.rc == 0);
    CHECK(json::parse(again.out).at("skipped") == 200);
}

TEST_CASE("batch: shards 0/3, 1/3, 2/3 cover the plan exactly once; --report merges journals") {
    cli_fixture f(pairs_fleet(10));
    auto plan = make_plan(f, 30, 10);
    std::vector<std::string> journals;
    for (int k = 0; k < 3; ++k) {
        auto j = (f.dir / ("shard-" + std::to_string(k) + ".jsonl")).string();
        journals.push_back(j);
        // Shard 1 takes its index from a Kubernetes Indexed Job's variable,
        // with the global flag after the subcommand and a duration with a unit.
        auto r = k == 1 ? f.run({"batch", plan, "--journal", j, "--shard", "/3", "--retry-interval", "20ms", "--quiet"},
                                [] { ::setenv("JOB_COMPLETION_INDEX", "1", 1); })
                        : f.run({"--quiet", "batch", plan, "--journal", j, "--shard", std::to_string(k) + "/3", "--retry-interval", "20"});
        CHECK_MESSAGE(r.rc == 0, r.err);
        CHECK(r.err.empty());  // --quiet took effect after the subcommand too
    }
    auto seen = done_per_migration(journals);
    CHECK(seen.size() == 30);
    for (const auto& entry : seen) CHECK_MESSAGE(entry.second == 1, entry.first);
    std::vector<std::string> args{"--json", "batch"};
    for (const auto& j : journals) args.insert(args.end(), {"--report", j});
    auto rep = f.run(args);
    CHECK(rep.rc == 0);
    CHECK(json::parse(rep.out).at("done") == 30);
}

TEST_CASE("batch: a bad plan is rejected before any work, naming the entry and field") {
    cli_fixture f;
    auto bad = f.dir / "bad.json";
    std::ofstream(bad) << R"({"migrations":[{"name":"a","source":{"base_url":")" << f.src()
                       << R"(","api_key":"literal-secret"},"target":{"base_url":")" << f.dst()
                       << R"("},"export":{"services":["folder-1/service-1"]}}]})";
    auto r = f.run({"batch", bad.string(), "--journal", (f.dir / "j.jsonl").string()});
    CHECK(r.rc == 2);
    CHECK(r.err.find("migrations[0].source.api_key") != std::string::npos);
    CHECK(r.err.find("literal-secret") == std::string::npos);
    std::ofstream(bad, std::ios::trunc) << R"({"migrations":[{"name":"a","source":{"base_url":"nope"},"target":{"base_url":"x"}}]})";
    r = f.run({"batch", bad.string(), "--journal", (f.dir / "j.jsonl").string()});
    CHECK(r.rc == 2);
    CHECK(r.err.find("migrations[0].source") != std::string::npos);
    auto shard = f.run({"batch", bad.string(), "--journal", (f.dir / "j.jsonl").string(), "--shard", "3/3"});
    CHECK(shard.rc == 2);
    CHECK(f.jobs("export") == 0);  // state() locks the emulator: read from this thread, no race
    CHECK(f.jobs("import") == 0);
}

TEST_CASE("progress bars on a terminal, plain timestamped lines otherwise") {
    fleet_spec fleet = small_fleet();
    cli_fixture f(fleet);
    const char* bin = std::getenv("CSPARK_CLI_BIN");
    REQUIRE(bin);
    auto out_dir = (f.dir / "tty").string();
    argv_list argv({bin, "export", "--base-url", f.src(), "--api-key-env", "SRC_KEY", "--services", "folder-1/service-1", "-o",
                    out_dir, "--retry-interval", "20"});
    int master = -1;
    pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::execv(argv.program(), argv.get());
        ::_exit(127);
    }
    std::string screen;
    char buf[4096];
    auto until = std::chrono::steady_clock::now() + child_time_limit;
    while (std::chrono::steady_clock::now() < until) {  // ends when the child closes the terminal (EIO)
        pollfd pfd{master, POLLIN, 0};
        if (::poll(&pfd, 1, 100) == 0) continue;
        ssize_t n = ::read(master, buf, sizeof buf);
        if (n <= 0) break;
        screen.append(buf, static_cast<std::size_t>(n));
    }
    auto status = wait_bounded(pid);
    ::close(master);
    REQUIRE_MESSAGE(status, "the export on a terminal did not end in time; killed. Screen:\n" << screen);
    CHECK(exit_code(*status) == 0);
    CHECK(screen.find("[####################] 100%") != std::string::npos);  // a redrawn bar
    std::size_t finished = 0;
    for (auto at = screen.find("] 100%"); at != std::string::npos; at = screen.find("] 100%", at + 1)) ++finished;
    CHECK_MESSAGE(finished == 1, screen);  // a finished bar is printed once
    CHECK(screen.find("\033[Kexport") == std::string::npos);  // the next line starts on its own line
    CHECK(screen.find('\r') != std::string::npos);

    auto plain = f.run({"export", "--base-url", f.src(), "--api-key-env", "SRC_KEY", "--services", "folder-1/service-1",
                        "-o", out_dir, "--retry-interval", "20"});
    CHECK(plain.rc == 0);
    CHECK(plain.err.find("[####") == std::string::npos);
    CHECK(plain.err.find("Z export ") != std::string::npos);  // "2026-...Z export ...: job created"
}

TEST_CASE("Ctrl-C cancels cleanly: exit 3, the server job cancelled, no partial file") {
    fleet_spec fleet = small_fleet();
    cli_fixture f(fleet);
    // Jobs never finish here, so the export is waiting when SIGINT arrives.
    asio::post(f.io, [&] {
        f.emu->set_faults(json::parse(R"({"rules":[{"route":"export.create","kind":"job_never_finishes"}]})"));
    });
    auto out_dir = f.dir / "int";
    auto err_path = f.dir / "int.err";
    pid_t pid = f.start({"export", "--base-url", f.src(), "--api-key-env", "SRC_KEY", "--services", "folder-1/service-1", "-o",
                         out_dir.string(), "--retry-interval", "20"},
                        "", err_path.string());
    auto until = std::chrono::steady_clock::now() + 30s;
    while (slurp(err_path).find("in_progress") == std::string::npos && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(5ms);
    ::kill(pid, SIGINT);
    auto status = wait_bounded(pid);
    REQUIRE_MESSAGE(status, "the export did not end after SIGINT; killed. stderr:\n" << slurp(err_path));
    CHECK(exit_code(*status) == 3);
    json::value st = f.state();
    REQUIRE(st.at("jobs").as_array().size() == 1);
    CHECK(st.at("jobs").at(0).at("status") == "cancelled");
    CHECK((!std::filesystem::exists(out_dir) || std::filesystem::is_empty(out_dir)));
}

TEST_CASE("--json errors carry a stable code beside the words") {
    cli_fixture f;
    auto r = f.run({"--json", "status", "no-such-job", "--base-url", f.src(), "--api-key-env", "SRC_KEY"});
    CHECK(r.rc == 1);
    auto e = json::parse(r.out).at("error");
    CHECK(e.at("code") == "server_error");  // Spark answers an unknown job id with 500 INVALID_JOB_ID
    CHECK(e.at("api_code") == "INVALID_JOB_ID");
    CHECK(e.at("text").as_string().find("500") != std::string::npos);
    auto bad = f.run({"--json", "status", "x", "--base-url", f.src(), "--api-key-env", "NO_SUCH_VARIABLE"});
    CHECK(bad.rc == 2);
    CHECK(json::parse(bad.out).at("error").at("code") == "missing_credentials");
}

TEST_CASE("--proxy, the proxy variables and --no-proxy") {
    cli_fixture f;
    asio::io_context pio;  // the proxy runs on its own thread, beside the emulator's
    test_proxy proxy(pio.get_executor());
    auto guard = asio::make_work_guard(pio);
    std::thread proxy_thread([&] { pio.run(); });
    auto export_args = [&](std::vector<std::string> before, const std::string& out) {
        before.insert(before.end(), {"export", "--base-url", f.src(), "--api-key-env", "SRC_KEY", "--services",
                                     "folder-1/service-1", "-o", (f.dir / out).string(), "--retry-interval", "20ms"});
        return before;
    };
    auto given = f.run(export_args({"--proxy", proxy.url()}, "given"));
    CHECK_MESSAGE(given.rc == 0, given.err);
    ::setenv("http_proxy", proxy.url().c_str(), 1);
    auto from_env = f.run(export_args({}, "env"));
    CHECK_MESSAGE(from_env.rc == 0, from_env.err);
    auto direct = f.run(export_args({"--no-proxy"}, "direct"));  // the variable still set
    CHECK_MESSAGE(direct.rc == 0, direct.err);
    auto bad = f.run(export_args({"--proxy", "socks5://u:hunter2@127.0.0.1:1"}, "bad"));
    ::unsetenv("http_proxy");
    CHECK(bad.rc == 2);
    CHECK(contains(bad.err, "socks5"));
    CHECK_FALSE(contains(bad.err + bad.out, "hunter2"));
    guard.reset();
    pio.stop();
    proxy_thread.join();
    // Two runs went through the proxy (each at least POST export, status, download), one did not.
    std::size_t through = 0;
    for (const auto& head : proxy.heads()) through += head.starts_with("POST http://127.0.0.1:") ? 1 : 0;
    CHECK(through == 2);
}

TEST_CASE("completion scripts and the man page come from the option definitions") {
    cli_fixture f;
    auto bash = f.run({"completion", "bash"});
    REQUIRE(bash.rc == 0);
    auto script = (f.dir / "cspark-impex.bash").string();
    {
        std::ofstream(script) << bash.out;
    }
    // Completing in a real bash: a subcommand, then its options, then a global flag after it.
    auto complete = [&](const std::string& line_words, int cword) {
        std::string cmd = "source '" + script + "'; COMP_WORDS=(" + line_words + "); COMP_CWORD=" + std::to_string(cword) +
                          "; _cspark_impex; printf '%s\\n' \"${COMPREPLY[@]}\"";
        return f.run_shell(cmd);
    };
    CHECK(complete("cspark-impex exp", 1) == "export\n");
    CHECK(complete("cspark-impex export --base", 2) == "--base-url\n");
    CHECK(complete("cspark-impex batch --no-co", 2) == "--no-coalesce\n");
    CHECK(complete("cspark-impex export --json --prox", 3) == "--proxy\n");
    // Every long option each subcommand's --help lists is offered for it.
    for (std::string sub : {"export", "import", "migrate", "status", "cancel", "describe", "batch", "inspect"}) {
        auto help = f.run({sub, "--help"});
        REQUIRE(help.rc == 0);
        auto offered = complete("cspark-impex " + sub + " --", 2);
        std::istringstream lines(help.out);
        for (std::string line; std::getline(lines, line);) {
            auto first = line.find_first_not_of(' ');
            if (first == std::string::npos || line[first] != '-') continue;  // an option line: "  -o,--output TEXT ..."
            std::string names = line.substr(first, line.find("  ", first) - first);
            for (std::size_t i = names.find("--"); i != std::string::npos; i = names.find("--", i + 2)) {
                std::string opt = names.substr(i, names.find_first_of(" ,=:", i) - i);
                CAPTURE(sub);
                CAPTURE(opt);
                CHECK(contains(offered, opt + "\n"));
            }
        }
    }
    auto zsh = f.run({"completion", "zsh"});
    CHECK(zsh.rc == 0);
    CHECK(zsh.out.starts_with("#compdef cspark-impex\n"));
    CHECK(contains(zsh.out, "    migrate) opts=(--from-base-url "));
    auto fish = f.run({"completion", "fish"});
    CHECK(fish.rc == 0);
    CHECK(contains(fish.out, "complete -c cspark-impex -n '__fish_seen_subcommand_from export' -l base-url -r -F"));
    CHECK(f.run({"completion", "tcsh"}).rc == 2);
    auto man = f.run({"man-page"});
    REQUIRE(man.rc == 0);
    CHECK(man.out.starts_with(".TH CSPARK\\-IMPEX 1"));
    for (std::string section : {".SH NAME", ".SH SYNOPSIS", ".SS export", ".SS batch", ".SH ENVIRONMENT", ".SH EXIT CODES"})
        CHECK_MESSAGE(contains(man.out, section + "\n"), section);
    CHECK(contains(man.out, "\\fB\\-\\-proxy\\fR"));
}

// deploy/: the Job manifest's command line run as Kubernetes would run it
// (each index K with JOB_COMPLETION_INDEX=K and $(JOB_COMPLETION_INDEX)
// substituted), and the container's runtime packages checked against what
// the program links. Docker and a cluster are not available to the suite;
// what they would add (pulling images, scheduling pods) is not ours.
TEST_CASE("deploy/batch-job.yaml's shards cover a plan once; the Dockerfile installs every library the CLI links") {
    std::string root = CSPARK_SOURCE_ROOT;
    std::string manifest = slurp(root + "/deploy/batch-job.yaml");
    std::smatch m;
    REQUIRE(std::regex_search(manifest, m, std::regex(R"(\bcompletions:\s*(\d+))")));
    int completions = std::stoi(m[1]);
    REQUIRE(std::regex_search(manifest, m, std::regex(R"(args:\s*\[([^\]]*)\])")));
    std::string args_text = m[1];
    std::vector<std::string> args;
    std::regex quoted_arg(R"re("([^"]*)")re");
    for (std::sregex_iterator it(args_text.begin(), args_text.end(), quoted_arg), end; it != end; ++it)
        args.push_back((*it)[1]);
    REQUIRE(args.size() > 2);
    CHECK(args[0] == "batch");

    cli_fixture f(pairs_fleet(4));
    auto plan = make_plan(f, 12, 4);
    auto journals = f.dir / "journals";
    std::filesystem::create_directories(journals);
    auto localize = [&](std::string a, int k) {
        auto at = a.find("$(JOB_COMPLETION_INDEX)");
        if (at != std::string::npos) a.replace(at, 23, std::to_string(k));
        if (a == "/plan/plan.json") return plan;
        if (a.starts_with("/journals/")) return (journals / a.substr(10)).string();
        return a;
    };
    std::vector<std::string> journal_files;
    for (int k = 0; k < completions; ++k) {
        std::vector<std::string> run;
        for (const auto& a : args) run.push_back(localize(a, k));
        run.insert(run.end(), {"--retry-interval", "20ms", "--quiet"});  // this test's emulator: quick polls
        auto r = f.run(run, [k] { ::setenv("JOB_COMPLETION_INDEX", std::to_string(k).c_str(), 1); });
        CHECK_MESSAGE(r.rc == 0, r.err);
        journal_files.push_back((journals / ("run-" + std::to_string(k) + ".jsonl")).string());
        CHECK(std::filesystem::exists(journals / ("metrics-" + std::to_string(k) + ".prom")));
    }
    auto seen = done_per_migration(journal_files);
    CHECK(seen.size() == 12);
    for (const auto& entry : seen) CHECK_MESSAGE(entry.second == 1, entry.first);
    // The manifest's closing comment: one --report with every journal, and a page.
    std::vector<std::string> report{"--json", "batch", "--report"};
    report.insert(report.end(), journal_files.begin(), journal_files.end());
    report.insert(report.end(), {"--html", (f.dir / "report.html").string()});
    auto rep = f.run(report);
    CHECK_MESSAGE(rep.rc == 0, rep.err);
    CHECK(json::parse(rep.out).at("done") == 12);
    CHECK(std::filesystem::exists(f.dir / "report.html"));

    // Every shared library the CLI links comes from a package the runtime
    // stage installs, or from debian:12-slim itself. A sanitizer build links
    // its runtime, which no release has: the check is for the plain builds.
    std::string dockerfile = slurp(root + "/Dockerfile");
    auto runtime = dockerfile.substr(dockerfile.find("FROM debian:12-slim"));
    std::string bin = std::getenv("CSPARK_CLI_BIN");
    std::string libs = f.run_shell("for p in $(ldd '" + bin + "' | awk '/=>/ {print $3}'); do r=$(realpath \"$p\"); "
                                   "pk=$(dpkg -S \"$p\" 2>/dev/null || dpkg -S \"$r\" 2>/dev/null || dpkg -S \"${r#/usr}\"); "
                                   "echo \"${pk%%:*}\"; done");
    REQUIRE_FALSE(libs.empty());
    if (contains(libs, "libasan") || contains(libs, "libubsan") || contains(libs, "libtsan")) return;
    std::istringstream packages(libs);
    for (std::string pkg; std::getline(packages, pkg);) {
        CAPTURE(pkg);
        bool in_slim = pkg == "libc6" || pkg == "libstdc++6" || pkg == "libgcc-s1";
        CHECK((in_slim || contains(runtime, " " + pkg + " ") || contains(runtime, " " + pkg + "\n")));
    }
}
