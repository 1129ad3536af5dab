// The emulator's admin routes (/_emulator/...): its state, its fault rules
// and its clock, for tests and for people watching a pipeline run.
#include "emulator/impl.hpp"

namespace cspark {
namespace json = boost::json;

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
            error_code json_ec;
            json::value doc = json::parse(body, json_ec);
            if (json_ec) return error_reply(400, "INVALID_REQUEST", "faults document is not JSON");
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
        error_code json_ec;
        json::value doc = json::parse(body, json_ec);
        const json::value* ms = (!json_ec && doc.is_object()) ? doc.get_object().if_contains("advance_ms") : nullptr;
        if (!ms || !ms->is_number()) return error_reply(400, "INVALID_REQUEST", "body must be {\"advance_ms\": N}");
        manual->advance(std::chrono::milliseconds(ms->to_number<std::int64_t>()));
        return json_reply(200, json::object{{"now_ms", ms_since_epoch(now())}});
    }
    return error_reply(404, "ROUTE_NOT_FOUND", "admin routes: GET state, GET/PUT/DELETE faults, POST clock", "not_found");
}

}  // namespace cspark
