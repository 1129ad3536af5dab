// Pure codec of the ImpEx wire format.
#include "impex/codec.hpp"

#include "core/text.hpp"

#include <cspark/service_uri.hpp>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <set>

namespace cspark {
namespace json = boost::json;

std::string_view to_string(file_filter f) noexcept { return f == file_filter::migrate ? "migrate" : "onpremises"; }
std::string_view to_string(version_filter f) noexcept { return f == version_filter::latest ? "latest" : "all"; }
std::string_view to_string(if_present p) noexcept {
    switch (p) {
    case if_present::abort: return "abort";
    case if_present::replace: return "replace";
    case if_present::add_version: return "add_version";
    }
    return "add_version";
}
std::string_view to_string(upgrade u) noexcept {
    switch (u) {
    case upgrade::major: return "major";
    case upgrade::minor: return "minor";
    case upgrade::patch: return "patch";
    }
    return "minor";
}

namespace detail {
namespace {

std::string string_field(const json::object& o, std::string_view key) {
    if (auto* p = o.if_contains(key); p && p->is_string()) return std::string(p->get_string());
    return {};
}

void add_mapping(json::array& out, std::set<std::string>& destinations, const std::string& src, const std::string& dst,
                 upgrade u, error_code& ec, std::string& why) {
    auto s = parse_service_uri(src, why);
    if (!s || s->form != service_uri::kind::folder_service) {
        if (s) why = "import source '" + src + "' must be {folder}/{service}";
        ec = errc::invalid_argument;
        return;
    }
    std::string target = dst.empty() ? s->path() : dst;
    auto t = parse_service_uri(target, why);
    if (!t || t->form != service_uri::kind::folder_service || !t->version.empty()) {
        if (t) why = "import target '" + target + "' must be {folder}/{service} (a destination has no version)";
        ec = errc::invalid_argument;
        return;
    }
    if (!destinations.insert(to_lower(t->path())).second) {
        for (const auto& m : out)  // name the other source
            if (to_lower(string_field(m.get_object(), "service_uri_destination")) == to_lower(t->path())) {
                why = "two import sources ('" + string_field(m.get_object(), "service_uri_source") + "' and '" + src +
                      "') go to one destination '" + t->path() + "'";
                break;
            }
        ec = errc::invalid_argument;
        return;
    }
    // A version selector ("f/s[1.2]") is sent as given: only that version is imported.
    out.push_back(json::object{{"service_uri_source", s->to_string()},
                               {"service_uri_destination", t->path()},
                               {"update_version_type", to_string(u)}});
}

}  // namespace

// A status document into job_status.
bool parse_job(const json::value& v, std::string_view kind, job_status& j, std::string& why) {
    if (!v.is_object()) {
        why = "the job document is not a JSON object";
        return false;
    }
    const auto& o = v.get_object();
    j.raw = v;
    j.kind = std::string(kind);
    j.id = string_field(o, "id");
    j.status = string_field(o, "status");
    j.status_url = string_field(o, "status_url");
    if (auto* p = o.if_contains("process_time"); p && p->is_number()) {
        error_code ec;
        j.process_time = p->to_number<std::int64_t>(ec);
    }
    j.errors = o.contains("errors") ? o.at("errors") : json::value(nullptr);
    j.outputs = o.contains("outputs") ? o.at("outputs") : json::value(nullptr);
    j.files.clear();
    if (j.outputs.is_object())
        if (auto* files = j.outputs.get_object().if_contains("files"); files && files->is_array())
            for (const auto& f : files->get_array())
                if (f.is_object() && !string_field(f.get_object(), "file").empty())
                    j.files.push_back({string_field(f.get_object(), "file"), string_field(f.get_object(), "file_hash")});
    if (j.id.empty()) {
        why = "the job document has no id";
        return false;
    }
    j.state = classify_job(j.status, j.errors);
    return true;
}

std::string status_target(std::string_view kind, const std::string& id_or_url) {
    if (starts_with_icase(id_or_url, "http://") || starts_with_icase(id_or_url, "https://")) return id_or_url;
    return std::string(kind) + "/" + id_or_url + "/status";
}

bool export_body(const export_request& r, const std::string& correlation_id, std::string& body, std::string& why) {
    json::array folders, services, version_ids;
    for (const auto& f : r.folders) {
        if (trim(f).empty() || f.find('/') != std::string::npos) {
            why = "folder '" + f + "' is not a folder name";
            return false;
        }
        folders.push_back(json::string(f));
    }
    for (const auto& s : r.services) {
        auto u = parse_service_uri(s, why);
        if (!u) return false;
        if (u->form == service_uri::kind::version_id)
            version_ids.push_back(json::string(u->id));
        else if (u->form == service_uri::kind::service_id)
            services.push_back(json::string(u->id));
        else
            services.push_back(json::string(u->to_string()));
    }
    for (const auto& v : r.version_ids) {
        if (!is_uuid(trim(v))) {
            why = "version id '" + v + "' is not a UUID";
            return false;
        }
        version_ids.push_back(json::string(to_lower(trim(v))));
    }
    if (folders.empty() && services.empty() && version_ids.empty()) {
        why = "at least one of folders, services, or version_ids must be provided";
        return false;
    }
    json::object inputs;
    if (!folders.empty()) inputs["folders"] = std::move(folders);
    if (!services.empty()) inputs["services"] = std::move(services);
    if (!version_ids.empty()) inputs["version_ids"] = std::move(version_ids);
    json::object o{{"inputs", std::move(inputs)},
                   {"file_filter", to_string(r.file_filter)},
                   {"version_filter", to_string(r.version_filter)},
                   {"source_system", r.source_system.empty() ? std::string("cspark-impex") : r.source_system},
                   {"correlation_id", correlation_id.empty() ? json::value(nullptr) : json::value(correlation_id)}};
    body = json::serialize(o);
    return true;
}

std::string import_entity(const json::array& services_modify, if_present action, const std::string& source_system,
                          const std::string& correlation_id) {
    json::object entity{{"inputs", json::object{{"services_modify", services_modify}}},
                        {"services_existing", to_string(action)},
                        {"source_system", source_system.empty() ? std::string("cspark-impex") : source_system},
                        {"correlation_id", correlation_id.empty() ? json::value(nullptr) : json::value(correlation_id)}};
    return json::serialize(entity);
}

std::optional<std::uint64_t> content_range_start(std::string_view range) {
    auto sp = range.find(' '), dash = range.find('-');
    if (sp == std::string_view::npos || dash == std::string_view::npos || dash <= sp + 1) return std::nullopt;
    std::uint64_t from = 0;
    for (char ch : range.substr(sp + 1, dash - sp - 1)) {
        if (ch < '0' || ch > '9') return std::nullopt;
        from = from * 10 + static_cast<std::uint64_t>(ch - '0');
    }
    return from;
}

}  // namespace detail

std::vector<service_mapping> mappings_of(const destinations& d) {
    std::vector<service_mapping> out;
    std::visit(
        [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::string>) {
                out.push_back({.source = v});
            } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
                for (const auto& s : v) out.push_back({.source = s});
            } else if constexpr (std::is_same_v<T, service_mapping>) {
                out.push_back(v);
            } else {
                out = v;
            }
        },
        d);
    return out;
}

bool destination_given(const destinations& d) {
    return std::visit(
        [](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, service_mapping>) return !v.source.empty();
            else return !v.empty();
        },
        d);
}

std::optional<json::array> services_modify(const destinations& d, error_code& ec, std::string& why) {
    ec = {};
    json::array out;
    std::set<std::string> destinations;  // lower-cased: one source each
    for (const auto& m : mappings_of(d)) {
        detail::add_mapping(out, destinations, m.source, m.target, m.upgrade, ec, why);
        if (ec) break;
    }
    if (!ec && out.empty()) {
        ec = errc::invalid_argument;
        why = "no destination: give at least one {source, target} mapping";
    }
    if (ec) return std::nullopt;
    return out;
}

}  // namespace cspark
