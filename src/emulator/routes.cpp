// The emulator's route table and its small routes (token, download, admin).
#include "emulator/impl.hpp"

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

server::response_plan emulator::impl::route(const server::request_head& h, std::string& body,
                                            const server::body_status& st, std::string& route_name,
                                            std::string& tenant_name) {
    auto parts = split_path(h.path());
    const std::string& m = h.method;
    auto method_not_allowed = [](std::string allow) {
        auto p = error_reply(405, "METHOD_NOT_ALLOWED", "use " + allow, "invalid_request");
        p.headers.emplace_back("Allow", allow);
        return p;
    };
    if (!parts.empty() && parts[0] == "_emulator") return admin(h, parts, body);

    // Which route is it? (name, tenant, allowed method)
    std::string allow;
    std::string job_id;
    if (parts.size() == 6 && parts[0] == "auth" && parts[1] == "realms" && parts[3] == "protocol" &&
        parts[4] == "openid-connect" && parts[5] == "token") {
        route_name = "token", allow = "POST", tenant_name = parts[2];
    } else if ((parts.size() == 3 || (parts.size() == 4 && parts[2] == "copy")) && parts[0] == "download") {
        route_name = "download", allow = "GET, HEAD", job_id = parts[1];
    } else if (parts.size() >= 4 && parts[1] == "api" && parts[2] == "v4" && (parts[3] == "export" || parts[3] == "import")) {
        tenant_name = parts[0];
        std::string kind = parts[3];
        if (parts.size() == 4) {
            route_name = kind + ".create", allow = "POST";
        } else if (parts.size() == 5 && parts[4] == "status") {
            route_name = kind + ".describe", allow = "GET";
        } else if (parts.size() == 6 && parts[5] == "status") {
            route_name = kind + ".status", allow = "GET", job_id = parts[4];
        } else if (parts.size() == 5 && kind == "export") {
            route_name = "export.cancel", allow = "PATCH", job_id = parts[4];
        }
    }
    if (route_name.empty())
        return error_reply(404, "ROUTE_NOT_FOUND", "no route for " + m + " " + std::string(h.path()), "not_found");
    bool head_ok = allow.find("HEAD") != std::string::npos && m == "HEAD";
    if (allow.find(m) == std::string::npos && !head_ok) return method_not_allowed(allow);

    auto fired = faults.fire(route_name, tenant_name);
    server::response_plan plan;
    bool refused = false;
    for (auto* f : fired) {
        if (f->kind == emu::fault_kind::status && !f->after_action) {
            header_list extra;
            if (f->status == 429 && f->retry_after >= 0) {
                std::ostringstream ra;
                ra << f->retry_after;
                extra.emplace_back("x-retry-after", ra.str());
            }
            plan = json_reply(f->status, json::object{{"type", "fault"}, {"code", "INJECTED_FAULT"},
                                                      {"message", "injected " + std::to_string(f->status) + " on " + route_name}},
                              std::move(extra));
            refused = true;  // refused before any action
        }
    }

    if (!refused) {
        if (route_name == "token") {
            plan = token(h, tenant_name, body);
        } else if (route_name == "download") {
            plan = download(h, job_id, fired, tenant_name);
        } else {
            auto t = tenants.find(tenant_name);
            std::string missing;
            auto auth = t == tenants.end() ? auth_result::denied : authenticate(h, t->second, missing);
            if (auth == auth_result::missing_header) {
                plan = error_reply(400, "MISSING_HEADER", "header '" + missing + "' is required (strict mode)");
            } else if (auth == auth_result::denied) {
                plan = unauthorized();
            } else if (route_name == "export.create") {
                plan = export_create(h, t->second, body, fired);
            } else if (route_name == "import.create") {
                plan = import_create(h, t->second, body, st, fired);
            } else if (route_name == "export.describe" || route_name == "import.describe") {
                plan = describe(t->second, route_name == "export.describe" ? job_kind::export_job : job_kind::import_job);
            } else {
                auto j = jobs.find(job_id);
                bool want_export = route_name != "import.status";
                if (j == jobs.end() || j->second.tenant != tenant_name ||
                    (j->second.kind == job_kind::export_job) != want_export) {
                    plan = error_reply(500, "INVALID_JOB_ID", "Please Provide valid job id");
                } else if (route_name == "export.cancel") {
                    error_code jec;
                    json::value req = json::parse(body, jec);
                    const json::value* s = (!jec && req.is_object()) ? req.get_object().if_contains("export_status") : nullptr;
                    if (!s || !s->is_string() || s->get_string() != "cancelled") {
                        plan = error_reply(400, "INVALID_REQUEST", "body must be {\"export_status\":\"cancelled\"}");
                    } else {
                        if (!terminal(j->second, now())) {
                            j->second.cancelled = true;
                            j->second.finished = now();
                        }
                        plan = json_reply(200, status_json(j->second, h));
                    }
                } else {
                    plan = json_reply(200, status_json(j->second, h));
                }
            }
        }
    }

    for (auto* f : fired) {
        if (f->kind == emu::fault_kind::status && f->after_action)  // acted on, but a gateway answers for the server
            plan = json_reply(f->status, json::object{{"type", "fault"}, {"code", "INJECTED_FAULT"},
                                                      {"message", "injected " + std::to_string(f->status) + " after " + route_name}});
        if (f->kind == emu::fault_kind::reset) plan.reset = true;  // after any action: the response is lost
        if (f->kind == emu::fault_kind::reset_mid_body) plan.reset_after = f->after_bytes;
        if (f->kind == emu::fault_kind::slow_body) plan.bytes_per_second = std::max<std::uint64_t>(f->bytes_per_second, 1);
        if (f->kind == emu::fault_kind::delay) plan.delay = f->delay;
    }
    return plan;
}

// ------------------------------------------------------------------ routes

server::response_plan emulator::impl::token(const server::request_head&, const std::string& tenant_name,
                                            const std::string& body) {
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

server::response_plan emulator::impl::download(const server::request_head& h, const std::string& job_id,
                                               const std::vector<const emu::fault_rule*>& fired,
                                               std::string& tenant_name) {
    auto not_found = [] { return error_reply(404, "LINK_EXPIRED", "the download link is invalid or has expired", "not_found"); };
    auto j = jobs.find(job_id);
    if (j == jobs.end()) return not_found();
    tenant_name = j->second.tenant;
    std::string token;
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
    header_list headers{{"Content-Type", "application/zip"},
                        {"Accept-Ranges", "bytes"},
                        {"Content-Disposition", "attachment; filename=\"" + jb.file_name + "\""}};
    if (auto range = h.header("range"); !range.empty()) {
        // One "bytes=a-b", "bytes=a-" or "bytes=-n" range.
        auto bad_range = [&] {
            auto p = error_reply(416, "RANGE_NOT_SATISFIABLE", "range '" + std::string(range) + "' cannot be served");
            p.headers.emplace_back("Content-Range", "bytes */" + std::to_string(size));
            return p;
        };
        if (!detail::starts_with_icase(range, "bytes=") || range.find(',') != std::string_view::npos) return bad_range();
        auto spec = range.substr(6);
        auto dash = spec.find('-');
        if (dash == std::string_view::npos) return bad_range();
        auto a = std::string(spec.substr(0, dash)), b = std::string(spec.substr(dash + 1));
        auto num = [](const std::string& s, std::uint64_t& out) {
            if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 18) return false;
            out = std::stoull(s);
            return true;
        };
        std::uint64_t x = 0, y = 0;
        if (a.empty()) {
            if (!num(b, y) || y == 0 || size == 0) return bad_range();
            first = y >= size ? 0 : size - y;
        } else {
            if (!num(a, x) || x >= size) return bad_range();
            first = x;
            if (!b.empty()) {
                if (!num(b, y) || y < x) return bad_range();
                last = std::min(y, size - 1);
            }
        }
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

json::value emulator::impl::state_json() {
    auto tnow = now();
    for (auto& [_, j] : jobs) settle(j, tnow);  // the tenants below must show finished imports
    json::object ts;
    for (auto& [name, t] : tenants) {
        json::object fs;
        for (auto& [fname, f] : t.folders) {
            json::object ss;
            for (auto& [sname, s] : f.services) {
                json::array vs;
                for (auto& v : s.versions) vs.push_back(json::object{{"id", v.id}, {"version", v.semver}});
                ss[sname] = json::object{{"id", s.id}, {"versions", std::move(vs)}};
            }
            fs[fname] = json::object{{"services", std::move(ss)}};
        }
        ts[name] = json::object{{"folders", std::move(fs)}};
    }
    json::array js;
    for (const auto& id : job_order) {
        auto& j = jobs.at(id);
        std::string status = status_of(j, tnow);
        json::object o{{"id", j.id},
                       {"tenant", j.tenant},
                       {"kind", j.kind == job_kind::export_job ? "export" : "import"},
                       {"status", status},
                       {"created_ms", ms_since_epoch(j.created)},
                       {"finished_ms", j.finished ? json::value(ms_since_epoch(*j.finished)) : json::value(nullptr)},
                       {"correlation_id", j.correlation_id},
                       {"source_system", j.source_system},
                       {"request_id", j.request_id},
                       {"errors", j.errors}};
        if (j.kind == job_kind::export_job) o["file_hash"] = j.file_hash;
        js.push_back(std::move(o));
    }
    return json::object{{"tenants", std::move(ts)}, {"jobs", std::move(js)}, {"requests", requests}};
}

server::response_plan emulator::impl::admin(const server::request_head& h, const std::vector<std::string>& parts,
                                            const std::string& body) {
    std::string what = parts.size() == 2 ? parts[1] : "";
    if (what == "state" && h.method == "GET") return json_reply(200, state_json());
    if (what == "faults") {
        if (h.method == "GET") return json_reply(200, faults.to_json());
        if (h.method == "DELETE") {
            faults.clear();
            return json_reply(200, faults.to_json());
        }
        if (h.method == "PUT" || h.method == "POST") {
            error_code jec;
            json::value doc = json::parse(body, jec);
            if (jec) return error_reply(400, "INVALID_REQUEST", "faults document is not JSON");
            try {
                faults.load(doc);
            } catch (const std::exception& e) {
                return error_reply(400, "INVALID_FAULTS", e.what());
            }
            return json_reply(200, faults.to_json());
        }
    }
    if (what == "clock" && h.method == "POST") {
        auto manual = std::dynamic_pointer_cast<manual_timer_service>(clock);
        if (!manual) return error_reply(409, "REAL_CLOCK", "the emulator runs on real time; start it with a manual clock");
        error_code jec;
        json::value doc = json::parse(body, jec);
        const json::value* ms = (!jec && doc.is_object()) ? doc.get_object().if_contains("advance_ms") : nullptr;
        if (!ms || !ms->is_number()) return error_reply(400, "INVALID_REQUEST", "body must be {\"advance_ms\": N}");
        manual->advance(std::chrono::milliseconds(ms->to_number<std::int64_t>()));
        return json_reply(200, json::object{{"now_ms", ms_since_epoch(now())}});
    }
    return error_reply(404, "ROUTE_NOT_FOUND", "admin routes: GET state, GET/PUT/DELETE faults, POST clock", "not_found");
}

}  // namespace cspark
