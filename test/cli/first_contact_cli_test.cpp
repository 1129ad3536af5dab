// A user's first contact, tried as a new user would: what can be checked on
// this machine is checked before the first request (the output directory,
// every credential a plan names, a plan's JSON), and describe prints a table
// for people.
#include "support/cli_fixture.hpp"

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
