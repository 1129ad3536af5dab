// The emulator's route table and its small routes (token, download, admin).
#include "emulator/impl.hpp"

#include <cspark/retry.hpp>

#include <cmath>
#include <sstream>

namespace cspark {
namespace asio = boost::asio;
namespace json = boost::json;

// ------------------------------------------------------------------ handle

server::response_plan emulator::impl::handle(const server::request_head& h, std::string& body,
                                              const server::body_status& st) {
    std::lock_guard lock(mu);
    ++requests;
    std::string route_name, tenant_name;
    server::response_plan plan = route(h, body, st, route_name, tenant_name);
    log_request(h, plan.reset ? 0 : plan.status, tenant_name);
    return plan;
}

namespace {

enum class route_id { token, download, export_create, export_describe, export_cancel, export_status, import_create,
                      import_describe, import_status };

// One route: its name (fault rules and the request log use it), the methods
// it allows, and its path: literal segments, {tenant}, {job}, or * (anything).
struct route_def {
    route_id id;
    std::string_view name;
    std::string_view allow;
    std::vector<std::string_view> path;
};

const std::vector<route_def>& route_table() {
    static const std::vector<route_def> table{
        {route_id::token, "token", "POST", {"auth", "realms", "{tenant}", "protocol", "openid-connect", "token"}},
        {route_id::download, "download", "GET, HEAD", {"download", "{job}", "*"}},
        {route_id::download, "download", "GET, HEAD", {"download", "{job}", "copy", "*"}},
        // The document store's links: the token stands where the job would.
        {route_id::download, "download", "GET, HEAD",
         {"docstore", "api", "v1", "documents", "versions", "tokens", "{job}", "*"}},
        {route_id::export_create, "export.create", "POST", {"{tenant}", "api", "v4", "export"}},
        {route_id::export_describe, "export.describe", "GET", {"{tenant}", "api", "v4", "export", "status"}},
        {route_id::export_cancel, "export.cancel", "PATCH", {"{tenant}", "api", "v4", "export", "{job}"}},
        {route_id::export_status, "export.status", "GET", {"{tenant}", "api", "v4", "export", "{job}", "status"}},
        {route_id::import_create, "import.create", "POST", {"{tenant}", "api", "v4", "import"}},
        {route_id::import_describe, "import.describe", "GET", {"{tenant}", "api", "v4", "import", "status"}},
        {route_id::import_status, "import.status", "GET", {"{tenant}", "api", "v4", "import", "{job}", "status"}},
    };
    return table;
}

struct route_match {
    const route_def* def = nullptr;
    std::string tenant, job;
};

// The first route whose path fits (describe comes before a job id in the table).
route_match match_route(const std::vector<std::string>& parts) {
    for (const auto& r : route_table()) {
        if (r.path.size() != parts.size()) continue;
        route_match m{&r, {}, {}};
        bool fits = true;
        for (std::size_t i = 0; i < parts.size() && fits; ++i) {
            if (r.path[i] == "{tenant}") m.tenant = parts[i];
            else if (r.path[i] == "{job}") m.job = parts[i];
            else fits = r.path[i] == "*" || r.path[i] == parts[i];
        }
        if (fits) return m;
    }
    return {};
}

// "application/json; charset=utf-8" -> "application/json"
std::string media_type(const server::request_head& h) {
    auto v = h.header("content-type");
    return detail::to_lower(detail::trim(v.substr(0, v.find(';'))));
}

server::response_plan injected(int status, double retry_after, const std::string& retry_after_as, const std::string& what) {
    header_list extra;
    if (status == 429 && retry_after >= 0) {
        if (retry_after_as == "date") {
            // Whole seconds, rounded up: a client waits at least as asked.
            auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
            auto at = now + std::chrono::seconds(static_cast<long long>(std::ceil(retry_after)));
            extra.emplace_back("Date", format_http_date(now));
            extra.emplace_back("Retry-After", format_http_date(at));
        } else {
            std::ostringstream ra;
            ra << retry_after;
            extra.emplace_back(retry_after_as == "seconds" ? "Retry-After" : "x-retry-after", ra.str());
        }
    }
    return json_reply(status, json::object{{"type", "fault"}, {"code", "INJECTED_FAULT"},
                                           {"message", "injected " + std::to_string(status) + " " + what}},
                      std::move(extra));
}

// A body fault's answer: its bytes as they are.
server::response_plan raw_reply(const emu::fault_rule& f) {
    server::response_plan p;
    p.status = f.status;
    p.body = f.body;
    p.headers.emplace_back("Content-Type", f.content_type);
    return p;
}

// Spark's error document, answered with 200 in place of what was asked.
server::response_plan error_in_200(const emu::fault_rule& f) {
    return json_reply(200, json::object{{"status", "Error"}, {"errorCode", f.code}, {"message", f.message}});
}

// Faults that shape the answer after the route acted.
void shape(server::response_plan& plan, const std::vector<const emu::fault_rule*>& fired, const std::string& route) {
    using emu::fault_kind;
    for (auto* f : fired) {
        if (f->kind == fault_kind::status && f->after_action) plan = injected(f->status, -1, {}, "after " + route);
        if (f->kind == fault_kind::body && f->after_action) plan = raw_reply(*f);
        if (f->kind == fault_kind::error_in_200 && f->after_action) plan = error_in_200(*f);
        if (f->kind == fault_kind::reset) plan.reset = true;  // after any action: the response is lost
        if (f->kind == fault_kind::reset_mid_body) plan.reset_after = f->after_bytes;
        if (f->kind == fault_kind::slow_body) plan.bytes_per_second = std::max<std::uint64_t>(f->bytes_per_second, 1);
        if (f->kind == fault_kind::delay) plan.delay = f->delay;
    }
}

}  // namespace

server::response_plan emulator::impl::route(const server::request_head& h, std::string& body,
                                            const server::body_status& st, std::string& route_name,
                                            std::string& tenant_name) {
    auto parts = split_path(h.path());
    if (!parts.empty() && parts[0] == "_emulator") return admin(h, parts, body);
    auto m = match_route(parts);
    if (!m.def) return error_reply(404, "ROUTE_NOT_FOUND", "no route for " + h.method + " " + std::string(h.path()), "not_found");
    route_name = std::string(m.def->name);
    tenant_name = m.tenant;
    std::string_view allow = m.def->allow;
    bool head_ok = allow.find("HEAD") != std::string_view::npos && h.method == "HEAD";
    if (allow.find(h.method) == std::string_view::npos && !head_ok) {
        auto p = error_reply(405, "METHOD_NOT_ALLOWED", "use " + std::string(allow), "invalid_request");
        p.headers.emplace_back("Allow", std::string(allow));
        return p;
    }
    auto fired = faults.fire(route_name, tenant_name);
    server::response_plan plan;
    bool refused = false;  // a status fault answers before any action
    for (auto* f : fired) {
        if (f->kind == emu::fault_kind::status && !f->after_action) {
            plan = injected(f->status, f->retry_after, f->retry_after_as, "on " + route_name);
            refused = true;
        }
        if (f->kind == emu::fault_kind::body && !f->after_action) {
            plan = raw_reply(*f);
            refused = true;
        }
        if (f->kind == emu::fault_kind::error_in_200 && !f->after_action) {
            plan = error_in_200(*f);
            refused = true;
        }
    }
    if (!refused) {
        if (m.def->id == route_id::token) plan = token(h, tenant_name, body);
        else if (m.def->id == route_id::download) plan = download(h, m.job, fired, tenant_name);
        else plan = tenant_route(h, body, st, m.def->name, tenant_name, m.job, fired);
    }
    shape(plan, fired, route_name);
    // Every answer says when it was made, as an HTTP server does (a client
    // checks its clock against it); a date_skew rule makes that clock wrong.
    double skew = 0;
    for (auto* f : fired)
        if (f->kind == emu::fault_kind::date_skew) skew += f->skew_s;
    if (find_header(plan.headers, "date").empty())
        plan.headers.emplace_back("Date", format_http_date(std::chrono::system_clock::now() +
                                                           std::chrono::milliseconds(static_cast<std::int64_t>(skew * 1000))));
    return plan;
}

// The routes of a tenant's API: credentials first, then the route.
server::response_plan emulator::impl::tenant_route(const server::request_head& h, std::string& body,
                                                   const server::body_status& st, std::string_view route,
                                                   const std::string& tenant_name, const std::string& job_id,
                                                   const std::vector<const emu::fault_rule*>& fired) {
    auto t = tenants.find(tenant_name);
    std::string missing;
    auto auth = t == tenants.end() ? auth_result::denied : authenticate(h, t->second, missing);
    if (auth == auth_result::missing_header)
        return error_reply(400, "MISSING_HEADER", "header '" + missing + "' is required (strict mode)");
    if (auth == auth_result::tenant_mismatch)
        return json_reply(401, json::object{{"status", "Error"},
                                            {"errorCode", "INVALID_TENANT"},
                                            {"message", "x-tenant-name does not name the tenant of the path '" +
                                                            tenant_name + "' (strict mode)"}});
    if (auth == auth_result::denied) return unauthorized();
    if (cfg.strict && (route == "export.create" || route == "export.cancel" || route == "import.create")) {
        // A gateway in front of a JSON API answers 415 to a body of another type.
        auto type = media_type(h);
        std::string want = route == "import.create" ? "multipart/form-data" : "application/json";
        if (type != want)
            return error_reply(415, "UNSUPPORTED_MEDIA_TYPE",
                               "Content-Type '" + std::string(h.header("content-type")) + "' is not " + want + " (strict mode)",
                               "unsupported_media_type");
    }
    if (route == "export.create") return export_create(h, t->second, body, fired);
    if (route == "import.create") return import_create(h, t->second, body, st, fired);
    if (route == "export.describe") return describe(t->second, job_kind::export_job);
    if (route == "import.describe") return describe(t->second, job_kind::import_job);
    auto j = jobs.find(job_id);
    bool want_export = route != "import.status";
    if (j == jobs.end() || j->second.tenant != tenant_name || (j->second.kind == job_kind::export_job) != want_export)
        return error_reply(500, "INVALID_JOB_ID", "Please Provide valid job id");
    if (route == "export.cancel") return cancel_export(h, j->second, body);
    return json_reply(200, status_json(j->second, h));
}

server::response_plan emulator::impl::cancel_export(const server::request_head& h, job& j, const std::string& body) {
    error_code json_ec;
    json::value req = json::parse(body, json_ec);
    const json::value* s = (!json_ec && req.is_object()) ? req.get_object().if_contains("export_status") : nullptr;
    if (!s || !s->is_string() || s->get_string() != "cancelled")
        return error_reply(400, "INVALID_REQUEST", "body must be {\"export_status\":\"cancelled\"}");
    if (!terminal(j, now())) {
        j.cancelled = true;
        j.finished = now();
    }
    return json_reply(200, status_json(j, h));
}

// ------------------------------------------------------------------ routes

server::response_plan emulator::impl::token(const server::request_head& h, const std::string& tenant_name,
                                            const std::string& body) {
    // Keycloak reads the body as a form only: a body of another type is 400.
    auto type = media_type(h);
    if (type != "application/x-www-form-urlencoded")
        return json_reply(400, json::object{{"error", "invalid_request"},
                                            {"error_description", "Content-Type '" + std::string(h.header("content-type")) +
                                                                      "' is not application/x-www-form-urlencoded"}});
    auto form = parse_form(body);
    if (form["grant_type"] != "client_credentials")
        return json_reply(400, json::object{{"error", "unsupported_grant_type"},
                                            {"error_description", "grant_type must be client_credentials"}});
    auto t = tenants.find(tenant_name);
    if (t == tenants.end() || t->second.client_id.empty() || form["client_id"] != t->second.client_id ||
        form["client_secret"] != t->second.client_secret)
        return json_reply(401, json::object{{"error", "unauthorized_client"},
                                            {"error_description", "Invalid client or Invalid client credentials"}});
    std::string tok = "emu-" + detail::uuid4(rng) + detail::uuid4(rng);
    tokens[tok] = {tenant_name, now() + cfg.token_lifetime};
    return json_reply(200, json::object{{"access_token", tok},
                                        {"expires_in", cfg.token_lifetime.count()},
                                        {"refresh_expires_in", 0},
                                        {"token_type", "Bearer"},
                                        {"not-before-policy", 0},
                                        {"scope", "openid"}});
}

namespace {

// One "bytes=a-b", "bytes=a-" or "bytes=-n" range of a file of `size`
// bytes: its first and last byte; nullopt when it cannot be served.
std::optional<std::pair<std::uint64_t, std::uint64_t>> byte_range(std::string_view range, std::uint64_t size) {
    if (!detail::starts_with_icase(range, "bytes=") || range.find(',') != std::string_view::npos) return std::nullopt;
    auto spec = range.substr(6);
    auto dash = spec.find('-');
    if (dash == std::string_view::npos) return std::nullopt;
    auto a = std::string(spec.substr(0, dash)), b = std::string(spec.substr(dash + 1));
    auto num = [](const std::string& s, std::uint64_t& out) {
        if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 18) return false;
        out = std::stoull(s);
        return true;
    };
    std::uint64_t x = 0, y = 0, last = size ? size - 1 : 0;
    if (a.empty()) {
        if (!num(b, y) || y == 0 || size == 0) return std::nullopt;
        return std::pair{y >= size ? 0 : size - y, last};
    }
    if (!num(a, x) || x >= size) return std::nullopt;
    if (!b.empty()) {
        if (!num(b, y) || y < x) return std::nullopt;
        last = std::min(y, size - 1);
    }
    return std::pair{x, last};
}

}  // namespace

// A link on the API host names its job and carries ?token=; a store link's
// path segment is the token itself (any auth headers sent along are ignored).
server::response_plan emulator::impl::download(const server::request_head& h, const std::string& job_or_token,
                                               const std::vector<const emu::fault_rule*>& fired,
                                               std::string& tenant_name) {
    auto not_found = [] { return error_reply(404, "LINK_EXPIRED", "the download link is invalid or has expired", "not_found"); };
    auto by_store = store_tokens.find(job_or_token);
    auto j = jobs.find(by_store == store_tokens.end() ? job_or_token : by_store->second);
    if (j == jobs.end()) return not_found();
    tenant_name = j->second.tenant;
    std::string token;
    if (by_store != store_tokens.end()) token = j->second.download_token;
    for (auto& [k, v] : parse_form(h.query()))
        if (k == "token") token = v;
    auto& jb = j->second;
    settle(jb, now());
    bool expired = now() > jb.due + cfg.download_ttl;
    for (auto* f : fired)
        if (f->kind == emu::fault_kind::expire_link) expired = true;
    if (token.empty() || token != jb.download_token || !jb.settled || !jb.errors.is_null() || expired)
        return not_found();

    std::uint64_t size = jb.file_size, first = 0, last = size ? size - 1 : 0;
    int status = 200;
    header_list headers{{"Content-Type", "application/zip"}, {"Accept-Ranges", "bytes"}};
    if (cfg.content_disposition) headers.emplace_back("Content-Disposition", "attachment; filename=\"" + jb.file_name + "\"");
    if (auto range = h.header("range"); !range.empty()) {
        auto span = byte_range(range, size);
        if (!span) {
            auto p = error_reply(416, "RANGE_NOT_SATISFIABLE", "range '" + std::string(range) + "' cannot be served");
            p.headers.emplace_back("Content-Range", "bytes */" + std::to_string(size));
            return p;
        }
        std::tie(first, last) = *span;
        status = 206;
        headers.emplace_back("Content-Range",
                             "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" + std::to_string(size));
    }
    for (auto* f : fired)
        if (f->kind == emu::fault_kind::range_wrong_bytes && status == 206) {  // the right length, from the wrong offset
            last -= first;
            first = 0;
        }
    error_code ec;
    auto src = make_file_source(jb.file, ec, first, size ? last - first + 1 : 0);
    if (!src) return error_reply(500, "FILE_MISSING", "the package file is gone", "server_error");
    server::response_plan p;
    p.status = status;
    p.headers = std::move(headers);
    p.source = std::move(src);
    return p;
}

}  // namespace cspark
