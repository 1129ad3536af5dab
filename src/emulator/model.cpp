// The emulator's model: tenants, versions, and what an export selects.
#include "emulator/model.hpp"
#include "emulator/model_util.hpp"

#include "core/hash.hpp"
#include "core/text.hpp"
#include "zip/zip.hpp"

#include <cspark/body.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <zlib.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <mutex>
#include <set>

namespace cspark::emu {
namespace json = boost::json;

json::value api_error::body() const {
    return json::object{{"type", type}, {"code", code}, {"message", message}};
}

using namespace util;

// ---------------------------------------------------------------- versions

std::optional<semver3> parse_semver(const std::string& s) {
    semver3 v;
    long* parts[] = {&v.major, &v.minor, &v.patch};
    std::size_t pos = 0;
    for (int i = 0; i < 3; ++i) {
        std::size_t end = pos;
        while (end < s.size() && std::isdigit(static_cast<unsigned char>(s[end]))) ++end;
        if (end == pos || end - pos > 9) return std::nullopt;
        *parts[i] = std::stol(s.substr(pos, end - pos));
        if (i < 2) {
            if (end >= s.size() || s[end] != '.') return std::nullopt;
            pos = end + 1;
        } else if (end != s.size()) {
            return std::nullopt;
        }
    }
    return v;
}

bool semver_less(const std::string& a, const std::string& b) {
    auto x = parse_semver(a), y = parse_semver(b);
    if (!x || !y) return a < b;
    return std::tie(x->major, x->minor, x->patch) < std::tie(y->major, y->minor, y->patch);
}

bool version_matches(const std::string& selector, const std::string& semver) {
    if (selector.empty()) return true;
    if (semver.size() < selector.size() || semver.compare(0, selector.size(), selector) != 0) return false;
    return semver.size() == selector.size() || semver[selector.size()] == '.';
}

std::string bump(const std::string& latest, const std::string& kind) {
    auto v = parse_semver(latest).value_or(semver3{});
    if (kind == "major") {
        ++v.major;
        v.minor = v.patch = 0;
    } else if (kind == "patch") {
        ++v.patch;
    } else {
        ++v.minor;
        v.patch = 0;
    }
    return std::to_string(v.major) + "." + std::to_string(v.minor) + "." + std::to_string(v.patch);
}

std::string stable_uuid(const std::string& text) {
    auto h = detail::sha256_hex(text);
    h[12] = '4';
    h[16] = "89ab"[std::stoi(h.substr(16, 1), nullptr, 16) % 4];
    return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20, 12);
}

// ---------------------------------------------------------------- export selection

std::optional<std::vector<selected_version>> select_versions(const tenant& t, const json::value& inputs,
                                                             const std::string& version_filter, api_error& err) {
    std::vector<selected_version> out;
    std::set<std::string> seen;
    bool all = version_filter == "all";
    auto add = [&](const folder& f, const service& s, const version& v) {
        if (seen.insert(v.id).second) out.push_back({f.name, s.name, s.id, v.semver, v.id});
    };
    auto add_service = [&](const folder& f, const service& s, const std::string& selector, bool explicit_version) {
        if (s.versions.empty()) return true;
        std::vector<const version*> matching;
        for (const auto& v : s.versions)
            if (version_matches(selector, v.semver)) matching.push_back(&v);
        if (matching.empty()) return false;
        std::sort(matching.begin(), matching.end(),
                  [](const version* a, const version* b) { return semver_less(a->semver, b->semver); });
        if (explicit_version || !all)
            add(f, s, *matching.back());
        else
            for (auto* v : matching) add(f, s, *v);
        return true;
    };
    auto list = [&](std::string_view key) -> std::vector<std::string> {
        std::vector<std::string> v;
        if (!inputs.is_object()) return v;
        if (auto* p = inputs.get_object().if_contains(key); p && p->is_array())
            for (const auto& x : p->get_array())
                if (x.is_string()) v.emplace_back(x.get_string());
        return v;
    };
    auto folders = list("folders"), services = list("services"), ids = list("version_ids");
    if (folders.empty() && services.empty() && ids.empty()) {
        err = make_error(400, "INVALID_INPUTS", "at least one of folders, services, or version_ids must be provided");
        return std::nullopt;
    }
    for (const auto& name : folders) {
        auto it = t.folders.find(name);
        if (it == t.folders.end()) {
            err = make_error(404, "FOLDER_NOT_FOUND", "folder '" + name + "' could not be found");
            return std::nullopt;
        }
        if (it->second.services.empty()) {
            err = make_error(400, "FOLDER_EMPTY", "folder '" + name + "' contains no service");
            return std::nullopt;
        }
        for (const auto& [_, s] : it->second.services) add_service(it->second, s, "", false);
    }
    for (const auto& ref : services) {
        std::string selector;
        std::string uri = strip_version(ref, &selector);
        std::string fname, sname;
        bool found = false;
        if (split_uri(uri, fname, sname)) {
            auto f = t.folders.find(fname);
            if (f != t.folders.end()) {
                auto s = f->second.services.find(sname);
                if (s != f->second.services.end()) {
                    if (!add_service(f->second, s->second, selector, ref.find('[') != std::string::npos)) {
                        err = make_error(404, "VERSION_NOT_FOUND",
                                         "no version of '" + uri + "' matches '" + selector + "'");
                        return std::nullopt;
                    }
                    found = true;
                }
            }
        } else {  // a bare service id
            for (const auto& [_, f] : t.folders)
                for (const auto& [__, s] : f.services)
                    if (s.id == uri) {
                        add_service(f, s, "", false);
                        found = true;
                    }
        }
        if (!found) {
            err = make_error(404, "SERVICE_NOT_FOUND", "service '" + ref + "' could not be found");
            return std::nullopt;
        }
    }
    for (const auto& id : ids) {
        bool found = false;
        for (const auto& [_, f] : t.folders)
            for (const auto& [__, s] : f.services)
                for (const auto& v : s.versions)
                    if (v.id == id) {
                        add(f, s, v);
                        found = true;
                    }
        if (!found) {
            err = make_error(404, "VERSION_NOT_FOUND", "version id '" + id + "' could not be found");
            return std::nullopt;
        }
    }
    return out;
}

}  // namespace cspark::emu
