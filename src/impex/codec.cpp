// Pure codec of the ImpEx wire format.
#include "impex/codec.hpp"

#include "core/text.hpp"

#include <cspark/service_uri.hpp>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <set>

namespace cspark {
namespace json = boost::json;

namespace {

// Each enum's wire names, in one table per enum for both directions.
template <class E>
struct names;
template <>
struct names<file_filter> {
    static constexpr std::pair<file_filter, std::string_view> all[] = {{file_filter::migrate, "migrate"},
                                                                        {file_filter::onpremises, "onpremises"}};
};
template <>
struct names<version_filter> {
    static constexpr std::pair<version_filter, std::string_view> all[] = {{version_filter::latest, "latest"},
                                                                           {version_filter::all, "all"}};
};
template <>
struct names<if_present> {
    static constexpr std::pair<if_present, std::string_view> all[] = {
        {if_present::abort, "abort"}, {if_present::replace, "replace"}, {if_present::add_version, "add_version"}};
};
template <>
struct names<upgrade> {
    static constexpr std::pair<upgrade, std::string_view> all[] = {
        {upgrade::major, "major"}, {upgrade::minor, "minor"}, {upgrade::patch, "patch"}};
};

template <class E>
std::string_view name_of(E e) noexcept {
    for (const auto& [value, name] : names<E>::all)
        if (value == e) return name;
    return names<E>::all[0].second;
}

template <class E>
bool parse_name(std::string_view s, E& out) noexcept {
    for (const auto& [value, name] : names<E>::all)
        if (name == s) {
            out = value;
            return true;
        }
    return false;
}

}  // namespace

std::string_view to_string(file_filter f) noexcept { return name_of(f); }
std::string_view to_string(version_filter f) noexcept { return name_of(f); }
std::string_view to_string(if_present p) noexcept { return name_of(p); }
std::string_view to_string(upgrade u) noexcept { return name_of(u); }
bool from_string(std::string_view s, file_filter& out) noexcept { return parse_name(s, out); }
bool from_string(std::string_view s, version_filter& out) noexcept { return parse_name(s, out); }
bool from_string(std::string_view s, if_present& out) noexcept { return parse_name(s, out); }
bool from_string(std::string_view s, upgrade& out) noexcept { return parse_name(s, out); }

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

namespace {

// The text of one warning or error entry: a string, or an object's code and message.
job_message message_of(const json::value& v) {
    job_message m;
    if (v.is_string()) {
        m.message = std::string(v.get_string());
    } else if (v.is_object()) {
        const auto& o = v.get_object();
        for (auto k : {"code", "errorCode", "error_code", "warning_code"})
            if (m.code.empty()) m.code = string_field(o, k);
        for (auto k : {"message", "detail", "description", "error_description"})
            if (m.message.empty()) m.message = string_field(o, k);
        if (m.message.empty() && m.code.empty()) m.message = json::serialize(v);
    } else if (!v.is_null()) {
        m.message = json::serialize(v);
    }
    m.message = mask_links(excerpt(m.message, 1024));
    return m;
}

}  // namespace

std::vector<job_message> read_messages(const json::value& v) {
    std::vector<job_message> out;
    if (v.is_array()) {
        for (const auto& item : v.get_array())
            if (auto m = message_of(item); !m.code.empty() || !m.message.empty()) out.push_back(std::move(m));
    } else if (v.is_object() && !v.get_object().empty()) {
        out.push_back(message_of(v));
    } else if (v.is_string() && !v.get_string().empty()) {
        out.push_back(message_of(v));
    }
    return out;
}

// A status document into job_status. An error document in place of the job
// (`{"status":"Error","errorCode":"...","message":"..."}`, answered with 200)
// is a failed job whose code and message go to the diagnostics.
bool parse_job(const json::value& v, std::string_view kind, job_status& j, std::string& why, std::string_view asked_id) {
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
    j.warnings = o.contains("warnings") ? read_messages(o.at("warnings")) : std::vector<job_message>{};
    j.files.clear();
    if (j.outputs.is_object())
        if (auto* files = j.outputs.get_object().if_contains("files"); files && files->is_array())
            for (const auto& f : files->get_array())
                if (f.is_object() && !string_field(f.get_object(), "file").empty())
                    j.files.push_back({string_field(f.get_object(), "file"), string_field(f.get_object(), "file_hash")});
    const json::object* inner = o.if_contains("error") && o.at("error").is_object() ? &o.at("error").get_object() : nullptr;
    bool envelope = to_lower(j.status) == "error" &&
                    (j.id.empty() || o.contains("errorCode") || o.contains("error_code") || inner != nullptr);
    if (envelope) {
        j.error_envelope = true;
        const json::object& e = inner ? *inner : o;
        auto first = [&](std::initializer_list<std::string_view> keys) {
            for (auto k : keys)
                if (auto s = string_field(e, k); !s.empty()) return s;
            return std::string();
        };
        j.diag.api_code = first({"errorCode", "error_code", "code"});
        j.diag.api_type = first({"error_type", "type", "error_category"});
        j.diag.api_message = mask_links(excerpt(first({"message", "error_description", "detail"}), 1024));
        if (j.id.empty()) j.id = std::string(asked_id);
        if (!has_errors(j.errors)) j.errors = v;  // what the server said is the job's error
        j.state = job_state::failed;
        if (j.id.empty()) {
            why = "the server answered an error in place of the job: " + (j.diag.api_code.empty() ? std::string("Error") : j.diag.api_code) +
                  (j.diag.api_message.empty() ? "" : ": " + j.diag.api_message);
            return false;
        }
        return true;
    }
    if (j.id.empty()) j.id = std::string(asked_id);
    if (j.id.empty()) {
        why = "the job document has no id";
        return false;
    }
    j.state = classify_job(j.status, j.errors);
    return true;
}

import_outcome outcome_of(const json::object& o) {
    import_outcome r{string_field(o, "service_uri_source"), string_field(o, "service_uri_destination"), string_field(o, "status")};
    static constexpr std::string_view success[] = {"added", "replaced", "updated", "created", "imported", "completed",
                                                   "success", "succeeded"};
    auto status = to_lower(trim(r.status));
    r.ok = status.empty();
    for (auto s : success) r.ok = r.ok || status == s;
    if (!r.ok) {
        for (auto k : {"message", "error", "reason", "errors", "error_message"})
            if (const auto* p = o.if_contains(k); p && r.reason.empty()) {
                auto m = read_messages(*p);
                if (!m.empty()) r.reason = m.front().text();
            }
    }
    return r;
}

std::vector<std::string> failed_entries(const import_result& r) {
    std::vector<std::string> out;
    for (const auto* list : {&r.services, &r.versions})
        for (const auto& o : *list)
            if (!o.ok)
                out.push_back(o.source + " -> " + (o.destination.empty() ? o.source : o.destination) + ": " +
                              (o.status.empty() ? std::string("not imported") : o.status) +
                              (o.reason.empty() ? std::string() : " (" + o.reason + ")"));
    return out;
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
