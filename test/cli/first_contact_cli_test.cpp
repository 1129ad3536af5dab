// A user's first contact, tried as a new user would: what can be checked on
// this machine is checked before the first request (the output directory,
// every credential a plan names, a plan's JSON), and describe prints a table
// for people.
#include "support/cli_fixture.hpp"
#include "support/test_proxy.hpp"

#include <cctype>
#include <set>
#include <sstream>

using namespace cspark;
using namespace cspark::test;

TEST_CASE("export -o into a directory that cannot be made fails before any job exists") {
    cli_fixture f;
    auto blocker = f.dir / "a-file";
    std::ofstream(blocker) << "x";
    auto r = f.run({"--json", "export", "--base-url", f.src(), "--api-key-env", "SRC_KEY", "--services", "folder-1/service-1",
                    "-o", (blocker / "sub").string()});
    CHECK(r.rc == 2);
    CHECK_MESSAGE(contains(r.err, "the output directory '" + (blocker / "sub").string() + "' cannot be made"), r.err);
    CHECK(contains(r.err, "nothing was sent"));
    CHECK(f.jobs("export") == 0);
    auto m = f.run({"migrate", "--keep", "-o", (blocker / "sub").string(), "--from-base-url", f.src(), "--from-api-key-env",
                    "SRC_KEY", "--to-base-url", f.dst(), "--to-api-key-env", "DST_KEY", "--services", "folder-1/service-1"});
    CHECK(m.rc == 2);
    CHECK(f.jobs("export") == 0);
}

TEST_CASE("a credential variable that is not set is named with the flag or the plan entry and field that names it") {
    cli_fixture f;
    auto m = f.run({"migrate", "--from-base-url", f.src(), "--from-api-key-env", "NO_SUCH_VAR_1", "--to-base-url", f.dst(),
                    "--to-api-key-env", "DST_KEY", "--services", "folder-1/service-1"});
    CHECK(m.rc == 2);
    CHECK_MESSAGE(contains(m.err, "NO_SUCH_VAR_1 (named by --from-api-key-env) is not set"), m.err);

    json::array list{json::object{{"name", "ok-1"},
                                  {"source", json::object{{"base_url", f.src()}, {"api_key_env", "SRC_KEY"}}},
                                  {"target", json::object{{"base_url", f.dst()}, {"api_key_env", "DST_KEY"}}},
                                  {"export", json::object{{"services", json::array{"folder-1/service-1"}}}}},
                     json::object{{"name", "m-2"},
                                  {"source", json::object{{"base_url", f.src()}, {"api_key_env", "SRC_KEY"}}},
                                  {"target", json::object{{"base_url", f.dst()}, {"token_env", "NO_SUCH_VAR_2"}}},
                                  {"export", json::object{{"services", json::array{"folder-1/service-2"}}}}}};
    auto plan = (f.dir / "plan.json").string();
    std::ofstream(plan) << json::serialize(json::object{{"migrations", list}});
    auto b = f.run({"batch", plan, "--journal", (f.dir / "j.jsonl").string()});
    CHECK(b.rc == 2);
    CHECK_MESSAGE(contains(b.err, "plan migrations[1] ('m-2') target.token_env names the environment variable NO_SUCH_VAR_2, which is not set"),
                  b.err);
    CHECK(f.jobs("export") == 0);  // not even the entry whose credentials are there
}

TEST_CASE("a plan with a JSON syntax error is pointed at its line and column") {
    cli_fixture f;
    auto plan = (f.dir / "bad.json").string();
    std::ofstream(plan) << "{\n  \"migrations\": [\n    {\"name\": \"a\",, }\n  ]\n}\n";
    auto b = f.run({"batch", plan, "--journal", (f.dir / "j.jsonl").string()});
    CHECK(b.rc == 2);
    CHECK_MESSAGE(contains(b.err, "is not valid JSON"), b.err);
    CHECK(contains(b.err, "at line 3, column 18"));
}

TEST_CASE("describe prints the jobs as a table for people, newest first; --json keeps the document") {
    cli_fixture f;
    for (auto svc : {"folder-1/service-1", "folder-1/service-2"}) {
        auto e = f.run({"export", "--base-url", f.src(), "--api-key-env", "SRC_KEY", "--services", svc, "-o",
                        (f.dir / "d").string(), "--retry-interval", "20", "--overwrite"});
        REQUIRE_MESSAGE(e.rc == 0, e.err);
    }
    auto t = f.run({"describe", "--base-url", f.src(), "--api-key-env", "SRC_KEY"});
    CHECK(t.rc == 0);
    CHECK_MESSAGE(t.out.starts_with("KIND    ID"), t.out);
    CHECK(contains(t.out, "STATUS"));
    CHECK(contains(t.out, "CORRELATION ID"));
    CHECK(contains(t.out, "2 export jobs, 0 in progress (*)"));
    CHECK_FALSE(contains(t.out, "{"));
    // newest first: the second export's id comes first
    auto st = f.state();
    std::vector<std::string> ids;
    for (const auto& j : st.at("jobs").as_array())
        if (j.at("kind") == "export") ids.emplace_back(j.at("id").as_string());
    REQUIRE(ids.size() == 2);
    CHECK(t.out.find(ids[1]) < t.out.find(ids[0]));
    auto d = f.run({"--json", "describe", "--base-url", f.src(), "--api-key-env", "SRC_KEY"});
    CHECK(json::parse(d.out).at("recent_exports").as_array().size() == 2);
    auto none = f.run({"describe", "--kind", "import", "--base-url", f.dst(), "--api-key-env", "DST_KEY"});
    CHECK(contains(none.out, "no import jobs in progress or finished in the last hour"));
}

TEST_CASE("--trace writes a HAR file of every exchange of a migration, holding none of the run's secrets") {
    cli_fixture f;
    auto src = f.emu->credentials("tenant-0001");
    auto dst = f.emu->credentials("target-0001");
    ::setenv("SRC_BEARER", src.bearer_token.c_str(), 1);
    auto oauth = f.dir / "oauth.json";
    std::ofstream(oauth) << json::serialize(json::object{{"client_id", dst.client_id}, {"client_secret", dst.client_secret}});
    auto har = f.dir / "spark.har";
    auto m = f.run({"--trace", har.string(), "migrate", "--from-base-url", f.src(), "--from-token-env", "SRC_BEARER",
                    "--to-base-url", f.dst(), "--to-oauth-file", oauth.string(), "--services", "folder-1/service-1",
                    "--from-retry-interval", "20", "--to-retry-interval", "20"});
    REQUIRE_MESSAGE(m.rc == 0, m.err);
    auto text = slurp(har);
    auto doc = json::parse(text);
    const auto& entries = doc.at("log").at("entries").as_array();
    std::set<std::string> seen;
    for (const auto& e : entries) {
        std::string url(e.at("request").at("url").as_string());
        if (contains(url, "/openid-connect/token")) seen.insert("token");
        if (contains(url, "/api/v4/export")) seen.insert("export");
        if (contains(url, "/docstore/")) seen.insert("download");
        if (contains(url, "/api/v4/import")) seen.insert("import");
    }
    CHECK(seen == std::set<std::string>{"token", "export", "download", "import"});
    for (const auto& secret : {src.bearer_token, dst.client_secret, src.api_key, dst.api_key}) {
        CAPTURE(secret);
        CHECK_FALSE(contains(text, secret));
    }
    CHECK_FALSE(contains(text, "emu-"));  // the OAuth access tokens the emulator issued
    CHECK_FALSE(contains(text, "%2F"));   // the store's link tokens
    for (const auto& e : entries)
        if (contains(std::string(e.at("request").at("url").as_string()), "/openid-connect/token")) {
            auto body = json::parse(e.at("response").at("content").at("text").as_string());
            CHECK(body.at("access_token") == "***");
        }
}

namespace {

// The Action's entrypoint as the runner starts it: inputs as INPUT_* (hyphens
// kept, as GitHub names them), GITHUB_OUTPUT a file; returns its exit status.
int action_step(cli_fixture& f, const std::vector<std::pair<std::string, std::string>>& inputs, const std::string& step) {
    std::string root = CSPARK_SOURCE_ROOT;
    std::string script = "export CSPARK_IMPEX='" + std::string(std::getenv("CSPARK_CLI_BIN")) + "' GITHUB_OUTPUT='" +
                         (f.dir / (step + ".outputs")).string() + "'\nenv";
    for (const auto& [name, value] : inputs) {
        std::string upper;
        for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        script += " 'INPUT_" + upper + "=" + value + "'";
    }
    script += " bash '" + root + "/deploy/action-entrypoint' >'" + (f.dir / (step + ".out")).string() + "' 2>'" +
              (f.dir / (step + ".err")).string() + "'\necho $?";
    return std::stoi(f.run_shell(script));
}

// One output of a step: "name=value" lines, and "name<<DELIM ... DELIM" blocks.
std::string step_output(cli_fixture& f, const std::string& step, const std::string& name) {
    std::istringstream in(slurp(f.dir / (step + ".outputs")));
    std::string out, delim;
    bool block = false;
    for (std::string line; std::getline(in, line);) {
        if (block) {
            if (line == delim) return out;
            out += line + "\n";
        } else if (line.starts_with(name + "=")) {
            return line.substr(name.size() + 1);
        } else if (line.starts_with(name + "<<")) {
            delim = line.substr(name.size() + 2);
            block = true;
        }
    }
    return out;
}

}  // namespace

TEST_CASE("the GitHub Action's entrypoint promotes a service: export in one step, import of the artifact in the next") {
    cli_fixture f;
    auto artifact = f.dir / "artifact";
    int e = action_step(f, {{"command", "export"}, {"base-url", f.src()}, {"api-key-env", "SRC_KEY"},
                            {"services", "folder-1/service-1"}, {"output-dir", artifact.string()}, {"poll-timeout", "60s"}},
                        "export");
    CHECK_MESSAGE(e == 0, slurp(f.dir / "export.err"));
    auto package = step_output(f, "export", "package");
    CHECK(std::filesystem::exists(package));
    CHECK(std::filesystem::path(package).parent_path() == artifact);
    CHECK(step_output(f, "export", "job-ids").size() == 36);
    CHECK(json::parse(step_output(f, "export", "json")).at("files").at(0).at("verified") == true);

    int i = action_step(f, {{"command", "import"}, {"base-url", f.dst()}, {"api-key-env", "DST_KEY"}, {"package", package},
                            {"destination", "folder-1/service-1=folder-1/promoted"}, {"if-present", "add_version"},
                            {"trace", (f.dir / "import.har").string()}},
                        "import");
    CHECK_MESSAGE(i == 0, slurp(f.dir / "import.err"));
    CHECK(json::parse(step_output(f, "import", "json")).at("services").at(0).at("destination") == "folder-1/promoted");
    CHECK(json::parse(slurp(f.dir / "import.har")).at("log").at("entries").as_array().size() >= 2);

    // Nothing secret in anything the steps printed or wrote.
    for (const auto* file : {"export.out", "export.err", "export.outputs", "import.out", "import.err", "import.outputs", "import.har"}) {
        auto text = slurp(f.dir / file);
        CAPTURE(file);
        CHECK_FALSE(contains(text, std::getenv("SRC_KEY")));
        CHECK_FALSE(contains(text, std::getenv("DST_KEY")));
    }

    // A failing import fails the step.
    f.faults(R"([{"route":"import.create","kind":"service_failed"}])");
    int bad = action_step(f, {{"command", "import"}, {"base-url", f.dst()}, {"api-key-env", "DST_KEY"}, {"package", package},
                              {"destination", "folder-1/service-1=folder-1/again"}},
                          "bad-import");
    CHECK(bad == 1);
    f.faults("[]");
    int missing = action_step(f, {{"command", "import"}, {"base-url", f.dst()}, {"api-key-env", "DST_KEY"},
                                  {"destination", "folder-1/service-1"}},
                              "no-package");
    CHECK(missing == 2);
    CHECK(contains(slurp(f.dir / "no-package.err"), "import needs the 'package' input"));
    CHECK(action_step(f, {{"command", "deploy"}}, "bad-command") == 2);
}

namespace {

// The doctor's verdict on one check of its --json document ("" = not run).
std::string verdict(const json::value& doc, const std::string& check) {
    for (const auto& side : doc.at("sides").as_array())
        for (const auto& c : side.at("checks").as_array())
            if (c.at("name").as_string() == check) return c.at("skipped").as_bool() ? "skip" : c.at("ok").as_bool() ? "ok" : "fail";
    return "";
}


}  // namespace

TEST_CASE("doctor: every check passes against a healthy tenant, and nothing is started or uploaded") {
    emulator_config cfg = cli_fixture::quick_jobs();
    cfg.tls = true;
    cli_fixture f(small_fleet(), cfg);
    auto pem = f.dir / "emu.pem";
    std::ofstream(pem) << f.emu->certificate_pem();
    auto r = f.run({"--json", "doctor", "--base-url", f.src(), "--api-key-env", "SRC_KEY", "--ca-file", pem.string()});
    CHECK_MESSAGE(r.rc == 0, r.out);
    auto doc = json::parse(r.out);
    for (auto check : {"base URL", "credentials", "resolve", "connect", "TLS", "export API", "import API", "clock"}) {
        CAPTURE(check);
        CHECK(verdict(doc, check) == "ok");
    }
    // Both ends of a migration, for people.
    auto both = f.run({"doctor", "--from-base-url", f.src(), "--from-api-key-env", "SRC_KEY", "--from-ca-file", pem.string(),
                       "--to-base-url", f.dst(), "--to-api-key-env", "DST_KEY", "--to-ca-file", pem.string()});
    CHECK_MESSAGE(both.rc == 0, both.out);
    CHECK(contains(both.out, "from (" + f.src() + "):"));
    CHECK(contains(both.out, "to (" + f.dst() + "):"));
    CHECK(contains(both.out, "all checks passed"));
    CHECK(f.jobs("export") == 0);
    CHECK(f.jobs("import") == 0);

    SUBCASE("a certificate this machine does not trust: TLS fails, naming --ca-file") {
        auto bad = f.run({"--json", "doctor", "--base-url", f.src(), "--api-key-env", "SRC_KEY"});
        CHECK(bad.rc == 1);
        CHECK(verdict(json::parse(bad.out), "TLS") == "fail");
        CHECK(contains(bad.out, "--ca-file"));
    }
    SUBCASE("the key of another tenant: refused, exit 5") {
        auto wrong = f.run({"--json", "doctor", "--base-url", f.dst(), "--api-key-env", "SRC_KEY", "--ca-file", pem.string()});
        CHECK(wrong.rc == 5);
        CHECK(verdict(json::parse(wrong.out), "export API") == "fail");
        CHECK(contains(wrong.out, "a key of tenant 'target-0001'"));
    }
    SUBCASE("an expired bearer token, or one for another tenant: said from its claims, exit 5, the token never printed") {
        auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
        auto token = [](const std::string& payload) {
            std::string b64(4 * ((payload.size() + 2) / 3) + 1, '\0');
            int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), reinterpret_cast<const unsigned char*>(payload.data()),
                                    static_cast<int>(payload.size()));
            b64.resize(static_cast<std::size_t>(n));
            for (auto& c : b64) c = c == '+' ? '-' : c == '/' ? '_' : c;
            while (!b64.empty() && b64.back() == '=') b64.pop_back();
            return "eyJhbGciOiJSUzI1NiJ9." + b64 + ".c2lnbmF0dXJl";
        };
        auto expired = token(R"({"exp":)" + std::to_string(now - 7200) + R"(,"iss":"https://k/auth/realms/tenant-0001"})");
        ::setenv("OLD_TOKEN", expired.c_str(), 1);
        auto old = f.run({"--json", "doctor", "--base-url", f.src(), "--token-env", "OLD_TOKEN", "--ca-file", pem.string()});
        CHECK(old.rc == 5);
        CHECK(verdict(json::parse(old.out), "bearer token") == "fail");
        CHECK(contains(old.out, "expired 2 h ago"));
        CHECK_FALSE(contains(old.out, expired));
        auto other = token(R"({"exp":)" + std::to_string(now + 3600) + R"(,"iss":"https://k/auth/realms/elsewhere"})");
        ::setenv("OTHER_TOKEN", other.c_str(), 1);
        auto o = f.run({"doctor", "--base-url", f.src(), "--token-env", "OTHER_TOKEN", "--ca-file", pem.string()});
        CHECK(o.rc == 5);
        CHECK(contains(o.out, "this token is for tenant 'elsewhere'"));
    }
    SUBCASE("a server whose clock is an hour off: the clock check fails") {
        f.faults(R"([{"route":"export.describe","kind":"date_skew","skew_s":3600}])");
        auto skewed = f.run({"--json", "doctor", "--base-url", f.src(), "--api-key-env", "SRC_KEY", "--ca-file", pem.string()});
        CHECK(skewed.rc == 1);
        CHECK(verdict(json::parse(skewed.out), "clock") == "fail");
        CHECK(contains(skewed.out, "behind the server"));
    }
    SUBCASE("a proxy that refuses: the tunnel fails, naming what it wants") {
        asio::io_context pio;
        auto proxy = std::make_unique<test_proxy>(pio.get_executor(), "alice:s3cret");
        std::thread runner([&] { pio.run_for(std::chrono::seconds(30)); });
        auto refused = f.run({"--json", "--proxy", proxy->url(), "doctor", "--base-url", f.src(), "--api-key-env", "SRC_KEY",
                              "--ca-file", pem.string()});
        asio::post(pio, [&] { proxy.reset(); pio.stop(); });
        runner.join();
        CHECK(refused.rc == 1);
        CHECK(verdict(json::parse(refused.out), "proxy tunnel") == "fail");
        CHECK(contains(refused.out, "the proxy wants credentials"));
    }
    SUBCASE("OAuth client credentials: the token's lifetime, or a refused secret with exit 5") {
        auto creds = f.emu->credentials("tenant-0001");
        auto good = f.dir / "oauth.json";
        auto bad = f.dir / "bad.json";
        std::ofstream(good) << json::serialize(json::object{{"client_id", creds.client_id}, {"client_secret", creds.client_secret}});
        std::ofstream(bad) << json::serialize(json::object{{"client_id", creds.client_id}, {"client_secret", "not-it"}});
        auto ok = f.run({"--json", "doctor", "--base-url", f.src(), "--oauth-file", good.string(), "--ca-file", pem.string()});
        CHECK_MESSAGE(ok.rc == 0, ok.out);
        CHECK(verdict(json::parse(ok.out), "OAuth token") == "ok");
        CHECK(contains(ok.out, "lives 300 s"));
        CHECK_FALSE(contains(ok.out, creds.client_secret));
        auto refused = f.run({"--json", "doctor", "--base-url", f.src(), "--oauth-file", bad.string(), "--ca-file", pem.string()});
        CHECK(refused.rc == 5);
        CHECK(verdict(json::parse(refused.out), "OAuth token") == "fail");
        CHECK(contains(refused.out, "the client id or secret is wrong"));
    }
    SUBCASE("a URL that is not one: exit 2 before any request") {
        auto bad = f.run({"doctor", "--base-url", "ftp://example.com/t", "--api-key-env", "SRC_KEY"});
        CHECK(bad.rc == 2);
        CHECK(contains(bad.out, "[FAIL] base URL"));
    }
}
