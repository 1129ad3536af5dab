#include <cspark/service_uri.hpp>

#include "core/text.hpp"

namespace cspark {
namespace {

bool valid_name(std::string_view s) {
    if (s.empty() || s.size() > 255) return false;
    for (unsigned char c : s)
        if (c < 0x20 || c == '/' || c == '[' || c == ']' || c == '?' || c == '#' || c == '\\') return false;
    return true;
}

bool valid_version_selector(std::string_view v) {
    if (v.empty() || v.size() > 64) return false;
    for (unsigned char c : v)
        if (!std::isalnum(c) && c != '.' && c != '-' && c != '+') return false;
    return true;
}

}  // namespace

std::string service_uri::to_string() const {
    switch (form) {
    case kind::service_id: return "service/" + id;
    case kind::version_id: return "version/" + id;
    case kind::folder_service: break;
    }
    return path() + (version.empty() ? "" : "[" + version + "]");
}

namespace {

// "service/{id}", "version/{id}", or a bare UUID (a service id).
std::optional<service_uri> id_form(std::string_view t) {
    service_uri u;
    for (auto [prefix, form] : {std::pair{std::string_view("service/"), service_uri::kind::service_id},
                                std::pair{std::string_view("version/"), service_uri::kind::version_id}}) {
        if (t.substr(0, prefix.size()) == prefix && detail::is_uuid(t.substr(prefix.size()))) {
            u.form = form;
            u.id = detail::to_lower(t.substr(prefix.size()));
            return u;
        }
    }
    if (!detail::is_uuid(t)) return std::nullopt;
    u.form = service_uri::kind::service_id;
    u.id = detail::to_lower(t);
    return u;
}

// A trailing "[{version}]" taken off `path` into u.version.
bool take_version(std::string_view& path, const std::string& shown, service_uri& u, std::string& why) {
    if (path.back() != ']') return true;
    auto open = path.rfind('[');
    if (open == std::string_view::npos) {
        why = "service URI " + shown + " has ']' without '['";
        return false;
    }
    auto v = path.substr(open + 1, path.size() - open - 2);
    if (!v.empty() && !valid_version_selector(v)) {
        why = "version '" + std::string(v) + "' in " + shown + " is not a version like 1.2.3 or 1.2";
        return false;
    }
    u.version = std::string(v);
    path = path.substr(0, open);
    return true;
}

// "{folder}/{service}" or "folders/{folder}/services/{service}" (whole segments).
bool take_names(std::string_view path, const std::string& shown, service_uri& u, std::string& why) {
    if (path.substr(0, 8) == "folders/") {
        auto rest = path.substr(8);
        auto mid = rest.find("/services/");
        if (mid != std::string_view::npos) {
            u.folder = std::string(rest.substr(0, mid));
            u.service = std::string(rest.substr(mid + 10));
        }
    }
    if (u.folder.empty()) {
        auto slash = path.find('/');
        if (slash == std::string_view::npos) {
            why = "service URI " + shown + " is not {folder}/{service}[{version}], service/{id} or version/{id}";
            return false;
        }
        u.folder = std::string(path.substr(0, slash));
        u.service = std::string(path.substr(slash + 1));
    }
    // Names are trimmed as the whole text is ("folders/  F/services/S" names
    // folder "F"): found by the uri fuzzer, what to_string() wrote read back otherwise.
    u.folder = std::string(detail::trim(u.folder));
    u.service = std::string(detail::trim(u.service));
    if (!valid_name(u.folder)) {
        why = u.folder.empty() ? "folder name is missing in " + shown : "folder name '" + u.folder + "' in " + shown + " is not valid";
        return false;
    }
    if (!valid_name(u.service)) {
        why = u.service.empty() ? "service name is missing in " + shown
                                : "service name '" + u.service + "' in " + shown + " is not valid (one '/' only)";
        return false;
    }
    return true;
}

}  // namespace

std::optional<service_uri> parse_service_uri(std::string_view text, std::string& why) {
    std::string_view t = detail::trim(text);
    std::string shown = "'" + std::string(t) + "'";
    if (t.empty()) {
        why = "service URI is empty";
        return std::nullopt;
    }
    if (auto by_id = id_form(t)) return by_id;
    service_uri u;
    std::string_view path = t;
    if (!take_version(path, shown, u, why) || !take_names(path, shown, u, why)) return std::nullopt;
    return u;
}

}  // namespace cspark
