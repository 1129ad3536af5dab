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

namespace {

// What an export selects: folders, service references and version ids, each
// version once (the union the docs describe).
class selection {
public:
    selection(const tenant& t, bool all) : t_(t), all_(all) {}

    bool take_folder(const std::string& name, api_error& err) {
        auto it = t_.folders.find(name);
        if (it == t_.folders.end()) return err = make_error(404, "FOLDER_NOT_FOUND", "folder '" + name + "' could not be found"), false;
        if (it->second.services.empty())
            return err = make_error(400, "FOLDER_EMPTY", "folder '" + name + "' contains no service"), false;
        for (const auto& [_, s] : it->second.services) add_service(it->second, s, "", false);
        return true;
    }

    // "{folder}/{service}[{version}]" or a bare service id.
    bool take_service(const std::string& ref, api_error& err) {
        std::string selector;
        std::string uri = strip_version(ref, &selector);
        std::string fname, sname;
        bool found = false;
        if (split_uri(uri, fname, sname)) {
            auto f = t_.folders.find(fname);
            const service* s = nullptr;
            if (f != t_.folders.end())
                if (auto it = f->second.services.find(sname); it != f->second.services.end()) s = &it->second;
            if (s) {
                if (!add_service(f->second, *s, selector, ref.find('[') != std::string::npos))
                    return err = make_error(404, "VERSION_NOT_FOUND", "no version of '" + uri + "' matches '" + selector + "'"), false;
                found = true;
            }
        } else {
            for (const auto& [_, f] : t_.folders)
                for (const auto& [__, s] : f.services)
                    if (s.id == uri) {
                        add_service(f, s, "", false);
                        found = true;
                    }
        }
        if (!found) err = make_error(404, "SERVICE_NOT_FOUND", "service '" + ref + "' could not be found");
        return found;
    }

    bool take_version_id(const std::string& id, api_error& err) {
        bool found = false;
        for (const auto& [_, f] : t_.folders)
            for (const auto& [__, s] : f.services)
                for (const auto& v : s.versions)
                    if (v.id == id) {
                        add(f, s, v);
                        found = true;
                    }
        if (!found) err = make_error(404, "VERSION_NOT_FOUND", "version id '" + id + "' could not be found");
        return found;
    }

    std::vector<selected_version> take() { return std::move(out_); }

private:
    void add(const folder& f, const service& s, const version& v) {
        if (seen_.insert(v.id).second) out_.push_back({f.name, s.name, s.id, v.semver, v.id});
    }
    // The latest matching version, or every one with version_filter=all (an
    // explicit [version] always picks one).
    bool add_service(const folder& f, const service& s, const std::string& selector, bool explicit_version) {
        if (s.versions.empty()) return true;
        std::vector<const version*> matching;
        for (const auto& v : s.versions)
            if (version_matches(selector, v.semver)) matching.push_back(&v);
        if (matching.empty()) return false;
        std::sort(matching.begin(), matching.end(), [](const version* a, const version* b) { return semver_less(a->semver, b->semver); });
        if (explicit_version || !all_) add(f, s, *matching.back());
        else
            for (auto* v : matching) add(f, s, *v);
        return true;
    }

    const tenant& t_;
    bool all_;
    std::set<std::string> seen_;
    std::vector<selected_version> out_;
};

std::vector<std::string> string_list(const json::value& inputs, std::string_view key) {
    std::vector<std::string> v;
    if (!inputs.is_object()) return v;
    if (auto* p = inputs.get_object().if_contains(key); p && p->is_array())
        for (const auto& x : p->get_array())
            if (x.is_string()) v.emplace_back(x.get_string());
    return v;
}

}  // namespace

std::optional<std::vector<selected_version>> select_versions(const tenant& t, const json::value& inputs,
                                                             const std::string& version_filter, api_error& err) {
    auto folders = string_list(inputs, "folders"), services = string_list(inputs, "services"), ids = string_list(inputs, "version_ids");
    if (folders.empty() && services.empty() && ids.empty()) {
        err = make_error(400, "INVALID_INPUTS", "at least one of folders, services, or version_ids must be provided");
        return std::nullopt;
    }
    selection sel(t, version_filter == "all");
    for (const auto& name : folders)
        if (!sel.take_folder(name, err)) return std::nullopt;
    for (const auto& ref : services)
        if (!sel.take_service(ref, err)) return std::nullopt;
    for (const auto& id : ids)
        if (!sel.take_version_id(id, err)) return std::nullopt;
    return sel.take();
}

}  // namespace cspark::emu
