// The emulator's imports: the entity's mappings and the action table.
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

using namespace util;

// ---------------------------------------------------------------- import

namespace {

// One services_modify entry: its source (which the package must hold, in
// the version it names), its destination (default: the source) and kind.
bool read_mapping(const json::object& o, const package_contents& pkg, mapping& m, api_error& err) {
    std::string src_uri = str(o, "service_uri_source");
    std::string src = strip_version(src_uri, &m.source_version);
    if (!split_uri(src, m.source_folder, m.source_service)) {
        err = make_error(400, "INVALID_REQUEST", "service_uri_source '" + src_uri + "' is not folder/service");
        return false;
    }
    std::string held;  // the versions of that service the package holds
    bool in_pkg = false;
    for (const auto& v : pkg.versions)
        if (v.folder == m.source_folder && v.service == m.source_service) {
            held += (held.empty() ? "" : ", ") + v.version;
            in_pkg = in_pkg || version_matches(m.source_version, v.version);
        }
    if (!in_pkg) {
        err = make_error(404, "SERVICE_NOT_FOUND",
                         held.empty() ? "service '" + src + "' could not be found in the package"
                                      : "version '" + m.source_version + "' of service '" + src +
                                            "' could not be found in the package (it holds " + held + ")");
        return false;
    }
    std::string dst = strip_version(str(o, "service_uri_destination"));
    if (dst.empty()) dst = src;
    if (!split_uri(dst, m.dest_folder, m.dest_service)) {
        err = make_error(400, "INVALID_REQUEST", "service_uri_destination '" + dst + "' is not folder/service");
        return false;
    }
    std::string kind = str(o, "update_version_type");
    if (!kind.empty() && kind != "major" && kind != "minor" && kind != "patch") {
        err = make_error(400, "INVALID_REQUEST", "update_version_type '" + kind + "' is not major, minor or patch");
        return false;
    }
    if (!kind.empty()) m.update_version_type = kind;
    return true;
}

}  // namespace

std::optional<std::vector<mapping>> parse_import_entity(const json::value& entity, const package_contents& pkg,
                                                        std::string& action, api_error& err) {
    if (!entity.is_object()) {
        err = make_error(400, "INVALID_REQUEST", "importRequestEntity must be a JSON object");
        return std::nullopt;
    }
    const auto& eo = entity.get_object();
    const json::value* existing = eo.if_contains("services_existing");
    action = existing && existing->is_string() ? std::string(existing->get_string()) : "abort";
    if (existing && !existing->is_string() && !existing->is_null()) {
        err = make_error(400, "INVALID_REQUEST", "services_existing must be a string");
        return std::nullopt;
    }
    if (action != "abort" && action != "replace" && action != "add_version") {
        err = make_error(400, "INVALID_REQUEST",
                         "services_existing '" + action + "' is not one of abort, replace, add_version");
        return std::nullopt;
    }
    const json::value* inputs = eo.if_contains("inputs");
    const json::value* mods = inputs && inputs->is_object() ? inputs->get_object().if_contains("services_modify") : nullptr;
    if (!mods || !mods->is_array() || mods->get_array().empty()) {
        err = make_error(400, "INVALID_REQUEST", "inputs.services_modify must be a non-empty array");
        return std::nullopt;
    }
    std::vector<mapping> out;
    for (const auto& item : mods->get_array()) {
        if (!item.is_object()) {
            err = make_error(400, "INVALID_REQUEST", "services_modify entries must be objects");
            return std::nullopt;
        }
        mapping m;
        if (!read_mapping(item.get_object(), pkg, m, err)) return std::nullopt;
        std::string src = m.source_folder + "/" + m.source_service, dst = m.dest_folder + "/" + m.dest_service;
        for (const auto& earlier : out)
            if (earlier.dest_folder == m.dest_folder && earlier.dest_service == m.dest_service) {
                err = make_error(400, "DUPLICATE_DESTINATION",
                                 "services_modify sends '" + earlier.source_folder + "/" + earlier.source_service +
                                     "' and '" + src + "' to one destination '" + dst + "'");
                return std::nullopt;
            }
        out.push_back(std::move(m));
    }
    return out;
}

namespace {

// The documented preconditions: destination folders exist; with abort, no
// destination service exists. Atomic: any error and nothing is imported.
json::array preconditions(const tenant& t, const std::vector<mapping>& mappings, const std::string& action) {
    json::array errors;
    for (const auto& m : mappings) {
        auto f = t.folders.find(m.dest_folder);
        if (f == t.folders.end()) {
            errors.push_back(make_error(404, "FOLDER_NOT_FOUND",
                                        "destination folder '" + m.dest_folder + "' does not exist in tenant '" + t.name + "'")
                                 .body());
            continue;
        }
        if (action == "abort" && f->second.services.count(m.dest_service))
            errors.push_back(make_error(409, "SERVICE_EXISTS", "service '" + m.dest_folder + "/" + m.dest_service +
                                                                   "' already exists and services_existing is abort")
                                 .body());
    }
    return errors;
}

// Ids kept where possible ("source version_ids are preserved where possible"),
// else fresh and stable.
class id_pool {
public:
    explicit id_pool(const tenant& t) : tenant_(t.name) {
        for (const auto& [_, f] : t.folders)
            for (const auto& [__, s] : f.services) {
                used_.insert(s.id);
                for (const auto& v : s.versions) used_.insert(v.id);
            }
    }
    std::string take(const std::string& wanted, const std::string& salt) {
        std::string id = wanted;
        for (int i = 0; id.empty() || used_.count(id); ++i) id = stable_uuid(tenant_ + "|" + salt + "|" + std::to_string(i));
        used_.insert(id);
        return id;
    }

private:
    std::string tenant_;
    std::set<std::string> used_;
};

json::object version_output(const mapping& m, const package_version& pv, const service& s, const version& nv) {
    return json::object{{"service_uri_source", m.source_folder + "/" + m.source_service + "[" + pv.version + "]"},
                        {"folder_source", m.source_folder},
                        {"service_source", m.source_service},
                        {"version_source", pv.version},
                        {"service_id_source", pv.service_id},
                        {"version_id_source", pv.version_id},
                        {"service_uri_destination", m.dest_folder + "/" + m.dest_service + "[" + nv.semver + "]"},
                        {"folder_destination", m.dest_folder},
                        {"service_destination", m.dest_service},
                        {"version_destination", nv.semver},
                        {"service_id_destination", s.id},
                        {"version_id_destination", nv.id},
                        {"status", "added"}};
}

json::object service_output(const mapping& m, const std::string& source_id, const service& s, const std::string& status) {
    return json::object{{"service_uri_source", m.source_folder + "/" + m.source_service},
                        {"folder_source", m.source_folder},
                        {"service_source", m.source_service},
                        {"service_id_source", source_id},
                        {"service_uri_destination", m.dest_folder + "/" + m.dest_service},
                        {"folder_destination", m.dest_folder},
                        {"service_destination", m.dest_service},
                        {"service_id_destination", s.id},
                        {"status", status}};
}

// One mapping by the action table: added, replaced, or updated (versions
// appended, numbered by update_version_type).
void import_one(tenant& t, const package_contents& pkg, const mapping& m, const std::string& action, id_pool& ids,
                import_result& r) {
    std::vector<const package_version*> src;
    for (const auto& v : pkg.versions)
        if (v.folder == m.source_folder && v.service == m.source_service && version_matches(m.source_version, v.version))
            src.push_back(&v);
    std::sort(src.begin(), src.end(), [](const package_version* a, const package_version* b) { return semver_less(a->version, b->version); });
    if (!m.source_version.empty()) src.erase(src.begin(), src.end() - 1);  // a selector takes the latest it matches
    auto& f = t.folders[m.dest_folder];
    auto it = f.services.find(m.dest_service);
    std::string status = it == f.services.end() ? "added" : action == "replace" ? "replaced" : "updated";
    if (it == f.services.end()) {
        service s;
        s.name = m.dest_service;
        s.id = ids.take(src.front()->service_id, m.dest_folder + "/" + m.dest_service);
        it = f.services.emplace(m.dest_service, std::move(s)).first;
    } else if (action == "replace") {
        it->second.versions.clear();
    }
    service& s = it->second;
    std::string latest;
    for (const auto& v : s.versions)
        if (latest.empty() || semver_less(latest, v.semver)) latest = v.semver;
    for (const auto* pv : src) {
        version nv;
        nv.semver = status == "updated" ? bump(latest, m.update_version_type) : pv->version;
        latest = nv.semver;
        nv.id = ids.take(pv->version_id, s.id + "|" + nv.semver);
        s.versions.push_back(nv);
        r.service_versions.as_array().push_back(version_output(m, *pv, s, nv));
    }
    r.services.as_array().push_back(service_output(m, src.front()->service_id, s, status));
}

}  // namespace

import_result apply_import(tenant& t, const package_contents& pkg, const std::vector<mapping>& mappings,
                           const std::string& action) {
    import_result r;
    if (auto errors = preconditions(t, mappings, action); !errors.empty()) {
        r.errors = std::move(errors);
        return r;
    }
    id_pool ids(t);
    for (const auto& m : mappings) import_one(t, pkg, m, action, ids, r);
    return r;
}

}  // namespace cspark::emu
