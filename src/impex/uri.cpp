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

std::optional<service_uri> parse_service_uri(std::string_view text, std::string& why) {
    std::string_view t = detail::trim(text);
    std::string shown = "'" + std::string(t) + "'";
    if (t.empty()) {
        why = "service URI is empty";
        return std::nullopt;
    }
    service_uri u;
    // Id forms: "service/{id}", "version/{id}", or a bare UUID.
    for (auto [prefix, form] : {std::pair{std::string_view("service/"), service_uri::kind::service_id},
                                std::pair{std::string_view("version/"), service_uri::kind::version_id}}) {
        if (t.substr(0, prefix.size()) == prefix && detail::is_uuid(t.substr(prefix.size()))) {
            u.form = form;
            u.id = detail::to_lower(t.substr(prefix.size()));
            return u;
        }
    }
    if (detail::is_uuid(t)) {
        u.form = service_uri::kind::service_id;
        u.id = detail::to_lower(t);
        return u;
    }
    // Optional version selector.
    std::string_view path = t;
    if (path.back() == ']') {
        auto open = path.rfind('[');
        if (open == std::string_view::npos) {
            why = "service URI " + shown + " has ']' without '['";
            return std::nullopt;
        }
        auto v = path.substr(open + 1, path.size() - open - 2);
        if (!v.empty() && !valid_version_selector(v)) {
            why = "version '" + std::string(v) + "' in " + shown + " is not a version like 1.2.3 or 1.2";
            return std::nullopt;
        }
        u.version = std::string(v);
        path = path.substr(0, open);
    }
    // The long form, matched as whole segments only.
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
            return std::nullopt;
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
        return std::nullopt;
    }
    if (!valid_name(u.service)) {
        why = u.service.empty() ? "service name is missing in " + shown
                                : "service name '" + u.service + "' in " + shown + " is not valid (one '/' only)";
        return std::nullopt;
    }
    return u;
}

}  // namespace cspark
