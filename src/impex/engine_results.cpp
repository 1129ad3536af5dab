// What the engine reads from finished jobs and links: an export's default
// mappings, a link's file name, an import's per-service outcomes.
#include "impex/engine.hpp"

#include "impex/codec.hpp"
#include "impex/policy.hpp"

#include "core/text.hpp"

#include <cctype>

namespace cspark::detail {
namespace json = boost::json;

json::array default_mappings(const job_status& exported) {
    std::vector<std::string> services;
    if (exported.outputs.is_object())
        if (const auto* list = exported.outputs.get_object().if_contains("services"); list && list->is_array())
            for (const auto& s : list->get_array())
                if (s.is_object())
                    if (const auto* src = s.get_object().if_contains("service_uri_source"); src && src->is_string())
                        services.emplace_back(src->get_string());
    error_code ec;
    std::string why;
    auto out = services_modify(services, ec, why);
    return out ? std::move(*out) : json::array{};
}

std::string file_name_from_url(const std::string& url, const std::string& fallback) {
    std::string path = url.substr(0, url.find_first_of("?#"));
    auto slash = path.rfind('/');
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    std::string out;
    for (char ch : name) out += (std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == '_') ? ch : '_';
    if (out.empty() || out == "." || out == ".." || out.size() > 200) out = fallback;
    return out;
}

import_result import_result_of(job_status job) {
    import_result r;
    r.job = std::move(job);
    const auto& outputs = r.job.outputs;
    if (!outputs.is_object()) return r;
    auto read = [&](std::string_view key, std::vector<import_outcome>& into) {
        const auto* list = outputs.get_object().if_contains(key);
        if (!list || !list->is_array()) return;
        for (const auto& item : list->get_array())
            if (item.is_object()) into.push_back(outcome_of(item.get_object()));
    };
    read("services", r.services);
    read("service_versions", r.versions);
    for (const auto* list : {&r.services, &r.versions})
        for (const auto& o : *list)
            if (!o.ok) r.partially_failed = true;
    return r;
}

diagnostics partial_failure(const import_result& r) {
    diagnostics d = r.job.diag;
    auto failed = failed_entries(r);
    d.detail = "import job " + r.job.id + " closed '" + r.job.status + "', but " + std::to_string(failed.size()) + " of " +
               std::to_string(r.services.size() + r.versions.size()) + " entries failed: " + excerpt(joined(failed), 4096);
    return d;
}

}  // namespace cspark::detail
