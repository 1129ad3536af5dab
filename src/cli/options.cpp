#include "cli/options.hpp"

#include <set>

namespace cspark::cli {

namespace {
std::string duration_check(const std::string& v) {
    return parse_duration(v) ? std::string() : "'" + v + "' is not a duration such as 500ms, 60s, 2m or 1h";
}
std::string as_duration(long ms) {
    if (ms % 3'600'000 == 0 && ms) return std::to_string(ms / 3'600'000) + "h";
    if (ms % 60'000 == 0 && ms) return std::to_string(ms / 60'000) + "m";
    if (ms % 1000 == 0 && ms) return std::to_string(ms / 1000) + "s";
    return std::to_string(ms) + "ms";
}
}  // namespace

CLI::Option* add_duration_ms(CLI::App* cmd, const std::string& name, long& ms, const std::string& what) {
    return cmd
        ->add_option_function<std::string>(
            name, [&ms](const std::string& v) { ms = static_cast<long>(parse_duration(v)->count()); },
            what + " (500ms, 60s, 2m; plain numbers are ms)")
        ->check(duration_check)
        ->default_str(as_duration(ms));
}

void add_connection(CLI::App* cmd, connection_options& o, const std::string& prefix) {
    std::string p = prefix.empty() ? "--" : "--" + prefix + "-";
    std::string who = prefix.empty() ? "" : " (" + prefix + ")";
    cmd->add_option(p + "base-url", o.base_url, "Tenant base URL" + who + " (default: CSPARK_BASE_URL)");
    cmd->add_option(p + "env", o.env, "Spark environment, e.g. uat.us" + who);
    cmd->add_option(p + "tenant", o.tenant, "Tenant" + who);
    add_duration_ms(cmd, p + "timeout", o.timeout_ms, "Request timeout" + who);
    cmd->add_option(p + "max-retries", o.max_retries,
                    "Retries of one HTTP request after a transient failure (network, 429, 5xx)" + who +
                        "; how long a job is awaited is --poll-timeout")->capture_default_str();
    add_duration_ms(cmd, p + "retry-interval", o.retry_interval_ms,
                    "First wait before a retry or the next status check (waits grow x1.5 to 10 s)" + who);
    cmd->add_option(p + "ca-file", o.ca_file, "Extra trusted CA (PEM)" + who)->check(CLI::ExistingFile);
    cmd->add_flag(p + "insecure", o.insecure, "Skip TLS verification (testing only)" + who);
    o.api_key_env_from = p + "api-key-env";
    o.token_env_from = p + "token-env";
    cmd->add_option(p + "api-key-env", o.api_key_env, "Name of the variable holding the API key" + who);
    cmd->add_option(p + "token-env", o.token_env, "Name of the variable holding a bearer token" + who);
    cmd->add_option(p + "oauth-file", o.oauth_file, "JSON file with client_id/client_secret" + who)->check(CLI::ExistingFile);
}

void add_poll_timeout(CLI::App* cmd, std::string& value) {
    cmd->add_option("--poll-timeout", value,
                    "How long to wait for a job to end, e.g. 90s, 5m, 2h (plain numbers are ms); then the job's "
                    "state is reported unknown (exit 4) with its id")
        ->check(duration_check)
        ->capture_default_str();
}

std::chrono::milliseconds duration_of(const std::string& v) { return parse_duration(v).value_or(std::chrono::minutes(30)); }

std::string help_footer() {
    return R"(Examples:
  cspark-impex export --base-url https://excel.uat.us.coherent.global/my-tenant --folders Pricing
  cspark-impex import my-tenant-export.zip --base-url https://excel.prod.us.coherent.global/my-tenant
  cspark-impex migrate --from-base-url URL --to-base-url URL --services Pricing/Quote --destination Pricing/Quote=Live/Quote
  cspark-impex batch plan.json --journal run.jsonl --concurrency 64
  cspark-impex --json status 1b7c... --kind import --wait

Environment:
  CSPARK_BASE_URL       tenant base URL (https://excel.{env}.coherent.global/{tenant})
  CSPARK_API_KEY        API key (or name another variable with --api-key-env)
  CSPARK_BEARER_TOKEN   bearer token (or --token-env)
  CSPARK_CLIENT_ID, CSPARK_CLIENT_SECRET, CSPARK_OAUTH_PATH   OAuth2 client credentials
  HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY (or lower case)   proxies, as curl reads them
  JOB_COMPLETION_INDEX  with `batch --shard K/N` unset or `--shard /N`: K (Kubernetes Indexed Jobs)

Exit codes:
  0 all succeeded   1 a migration or job failed   2 bad usage or input
  3 interrupted     4 an outcome is unknown (rerun batch to resume; `status ID`)
  5 credentials rejected (401/403) or missing permission
)";
}

cli_spec spec_of(const CLI::App& app, const std::string& version) {
    std::set<std::string> global_names;
    auto options_of = [&](const CLI::App& a) {
        std::vector<cli_spec::option> out;
        for (const CLI::Option* o : a.get_options()) {
            if (o->get_group().empty()) continue;  // hidden
            if (!o->get_lnames().empty() && global_names.count("--" + o->get_lnames().front())) continue;  // --help: once
            cli_spec::option opt;
            for (const auto& n : o->get_lnames()) opt.names.push_back("--" + n);
            for (const auto& n : o->get_snames()) opt.names.push_back("-" + n);
            if (opt.names.empty()) continue;  // a positional
            opt.takes_value = o->get_items_expected_max() > 0;
            opt.is_file = opt.takes_value;
            opt.help = o->get_description();
            out.push_back(std::move(opt));
        }
        return out;
    };
    cli_spec s;
    s.name = "cspark-impex";  // app.get_name() is argv[0] once parsed
    s.help = app.get_description();
    s.footer = help_footer();
    s.version = version;
    s.global = options_of(app);
    for (const auto& o : s.global)
        for (const auto& n : o.names) global_names.insert(n);
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App* a) { return !a->get_group().empty(); }))
        s.commands.push_back({sub->get_name(), sub->get_description(), options_of(*sub)});
    return s;
}

}  // namespace cspark::cli
