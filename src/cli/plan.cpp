#include "cli/plan.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/stream_parser.hpp>

#include <fstream>
#include <set>
#include <sstream>

namespace cspark::cli {
namespace json = boost::json;

void plan_error(const std::string& where, const std::string& what) {
    diagnostics d;
    d.detail = "plan: " + where + ": " + what;
    throw spark_error(errc::invalid_argument, d);
}

std::string json_error_position(std::string_view text) {
    // The parser stops at the first byte it cannot take: count lines to there.
    json::stream_parser p;
    error_code ec;
    std::size_t n = p.write_some(text.data(), text.size(), ec);
    if (!ec) p.finish(ec), n = text.size();
    std::size_t line = 1, column = 1;
    for (std::size_t i = 0; i < n && i < text.size(); ++i) {
        if (text[i] == '\n') {
            ++line;
            column = 1;
        } else {
            ++column;
        }
    }
    return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

void check_credentials(const std::vector<plan_entry>& plan) {
    for (const auto& e : plan)
        for (const auto* c : {&e.source, &e.target}) {
            for (auto [name, from] : {std::pair{&c->api_key_env, &c->api_key_env_from}, std::pair{&c->token_env, &c->token_env_from}}) {
                const char* v = name->empty() ? nullptr : std::getenv(name->c_str());
                if (!name->empty() && (!v || !*v)) {
                    diagnostics d;
                    d.detail = *from + " names the environment variable " + *name + ", which is not set: nothing was sent";
                    throw spark_error(errc::missing_credentials, d);
                }
            }
            if (!c->oauth_file.empty()) {
                std::ifstream in(c->oauth_file);
                if (!in) {
                    std::string side = c == &e.source ? "source" : "target";
                    diagnostics d;
                    d.detail = "plan entry '" + e.name + "' " + side + ".oauth_file names '" + c->oauth_file +
                               "', which cannot be read: nothing was sent";
                    throw spark_error(errc::oauth_file_unreadable, d);
                }
            }
        }
}

namespace {

std::string str_field(const json::object& o, std::string_view key, const std::string& where, bool required = false) {
    auto* p = o.if_contains(key);
    if (!p) {
        if (required) plan_error(where, "'" + std::string(key) + "' is required");
        return {};
    }
    if (!p->is_string()) plan_error(where + "." + std::string(key), "must be a string");
    return std::string(p->get_string());
}

std::vector<std::string> list_field(const json::object& o, std::string_view key, const std::string& where) {
    std::vector<std::string> out;
    auto* p = o.if_contains(key);
    if (!p) return out;
    if (!p->is_array()) plan_error(where + "." + std::string(key), "must be an array of strings");
    for (const auto& v : p->get_array()) {
        if (!v.is_string()) plan_error(where + "." + std::string(key), "must be an array of strings");
        out.emplace_back(v.get_string());
    }
    return out;
}

// `valid`: the (base_url, tenant, env) already checked, so a plan naming a
// few tenants a thousand times parses each URL once.
connection_options endpoint(const json::value& v, const std::string& where, std::set<std::string>& valid) {
    if (!v.is_object()) plan_error(where, "must be an object {base_url | env + tenant, api_key_env | token_env | oauth_file}");
    const auto& o = v.get_object();
    for (auto secret : {"api_key", "token", "bearer_token", "client_secret", "password"})
        if (o.contains(secret))
            plan_error(where + "." + secret, "secrets are not allowed in plans: name the variable (api_key_env, token_env) or file (oauth_file) that holds it");
    connection_options c;
    c.base_url = str_field(o, "base_url", where);
    c.env = str_field(o, "env", where);
    c.tenant = str_field(o, "tenant", where);
    c.api_key_env = str_field(o, "api_key_env", where);
    c.token_env = str_field(o, "token_env", where);
    c.oauth_file = str_field(o, "oauth_file", where);
    if (c.base_url.empty() && (c.env.empty() || c.tenant.empty()))
        plan_error(where, "needs base_url, or env and tenant");
    std::string key = c.base_url + '\n' + c.tenant + '\n' + c.env;
    if (valid.count(key)) return c;
    std::string why;
    error_code ec;
    if (!parse_base_url(c.base_url, c.tenant, c.env, ec, &why)) plan_error(where, why);
    valid.insert(std::move(key));
    return c;
}

// An entry's export selectors and filters, and its destination.
void read_selection(const json::object& o, const std::string& w, plan_entry& e) {
    json::object ex = o.contains("export") && o.at("export").is_object() ? o.at("export").get_object() : json::object{};
    if (o.contains("export") && !o.at("export").is_object()) plan_error(w + ".export", "must be an object");
    e.exports.services = list_field(ex, "services", w + ".export");
    e.exports.folders = list_field(ex, "folders", w + ".export");
    e.exports.version_ids = list_field(ex, "version_ids", w + ".export");
    if (e.exports.services.empty() && e.exports.folders.empty() && e.exports.version_ids.empty())
        plan_error(w + ".export", "needs services, folders or version_ids");
    std::string why;
    for (const auto& s : e.exports.services)
        if (!parse_service_uri(s, why)) plan_error(w + ".export.services", why);
    auto vf = str_field(ex, "version_filter", w + ".export");
    if (!vf.empty() && !from_string(vf, e.exports.version_filter)) plan_error(w + ".export.version_filter", "must be latest or all");
    auto ff = str_field(ex, "file_filter", w + ".export");
    if (!ff.empty() && !from_string(ff, e.exports.file_filter)) plan_error(w + ".export.file_filter", "must be migrate or onpremises");
    for (const auto& d : list_field(o, "destination", w)) {
        auto m = parse_destination(d, why);
        if (!m) plan_error(w + ".destination", why);
        e.destination.push_back(*m);
    }
}

}  // namespace

std::vector<plan_entry> load_plan(const std::string& path, const connection_options& defaults) {
    std::ifstream in(path);
    if (!in) plan_error(path, "cannot be read");
    std::stringstream ss;
    ss << in.rdbuf();
    error_code json_ec;
    std::string text = ss.str();
    json::value doc = json::parse(text, json_ec);
    if (json_ec) plan_error(path, "is not valid JSON: " + json_ec.message() + " at " + json_error_position(text));
    if (!doc.is_object()) plan_error(path, "is not a JSON object with \"migrations\"");
    auto* list = doc.get_object().if_contains("migrations");
    if (!list || !list->is_array()) plan_error("migrations", "must be an array");
    std::vector<plan_entry> out;
    std::set<std::string> names, endpoints;
    for (std::size_t i = 0; i < list->get_array().size(); ++i) {
        std::string w = "migrations[" + std::to_string(i) + "]";
        const auto& item = list->get_array()[i];
        if (!item.is_object()) plan_error(w, "must be an object");
        const auto& o = item.get_object();
        plan_entry e;
        e.name = str_field(o, "name", w, true);
        if (e.name.empty() || !names.insert(e.name).second) plan_error(w + ".name", "'" + e.name + "' is empty or not unique");
        if (!o.contains("source")) plan_error(w, "'source' is required");
        if (!o.contains("target")) plan_error(w, "'target' is required");
        e.source = endpoint(o.at("source"), w + ".source", endpoints);
        e.target = endpoint(o.at("target"), w + ".target", endpoints);
        for (auto [c, side] : {std::pair{&e.source, "source"}, std::pair{&e.target, "target"}}) {
            std::string at = "plan " + w + " ('" + e.name + "') " + side + ".";
            c->api_key_env_from = at + "api_key_env";
            c->token_env_from = at + "token_env";
        }
        for (auto* c : {&e.source, &e.target}) {
            c->timeout_ms = defaults.timeout_ms;
            c->max_retries = defaults.max_retries;
            c->retry_interval_ms = defaults.retry_interval_ms;
            c->ca_file = defaults.ca_file;
            c->insecure = defaults.insecure;
        }
        read_selection(o, w, e);
        auto ip = str_field(o, "if_present", w);
        if (!ip.empty() && !from_string(ip, e.action)) plan_error(w + ".if_present", "must be abort, replace or add_version");
        out.push_back(std::move(e));
    }
    return out;
}


}  // namespace cspark::cli
