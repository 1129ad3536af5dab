#include "emulator/model.hpp"

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

namespace {

api_error make_error(int status, std::string code, std::string message, std::string type = "invalid_input") {
    api_error e;
    e.status = status;
    e.type = std::move(type);
    e.code = std::move(code);
    e.message = std::move(message);
    return e;
}

std::string str(const json::object& o, std::string_view key) {
    if (auto* p = o.if_contains(key); p && p->is_string()) return std::string(p->get_string());
    return {};
}

// Pseudo-random bytes from a seed (splitmix64): the package payload.
class payload_source final : public body_source {
public:
    payload_source(std::uint64_t seed, std::uint64_t size) : seed_(seed), size_(size) {}
    std::uint64_t size() const override { return size_; }
    std::size_t read(std::span<char> buf, error_code&) override {
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size_ - pos_));
        for (std::size_t i = 0; i < n; ++i) {
            std::uint64_t at = pos_ + i;
            if (at % 8 == 0) word_ = mix(seed_ + at / 8);
            buf[i] = static_cast<char>(word_ >> (8 * (at % 8)));
        }
        pos_ += n;
        return n;
    }
    void rewind(error_code&) override { pos_ = 0; }

private:
    static std::uint64_t mix(std::uint64_t z) {
        z += 0x9e3779b97f4a7c15ull;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    std::uint64_t seed_, size_, pos_ = 0, word_ = 0;
};

std::uint64_t seed_of(const std::string& text) {
    auto h = detail::sha256_hex(text);
    return std::stoull(h.substr(0, 16), nullptr, 16);
}

// Payloads depend on (service, version, size) only, so a fleet of tenants
// with the same services shares them: generated and CRC'd once, kept in a
// small cache (at most 256 MiB, oldest dropped first).
struct cached_payload {
    std::string data;
    std::uint32_t crc = 0;
};

std::shared_ptr<const cached_payload> payload(const std::string& key, std::uint64_t size) {
    static std::mutex mu;
    static std::map<std::string, std::shared_ptr<const cached_payload>> cache;
    static std::deque<std::string> order;
    static std::uint64_t total = 0;
    constexpr std::uint64_t budget = 256ull * 1024 * 1024;
    std::string id = key + "|" + std::to_string(size);
    {
        std::lock_guard lock(mu);
        if (auto it = cache.find(id); it != cache.end()) return it->second;
    }
    auto p = std::make_shared<cached_payload>();
    payload_source src(seed_of(id), size);
    p->data.resize(static_cast<std::size_t>(size));
    error_code ec;
    src.read(std::span<char>(p->data.data(), p->data.size()), ec);
    p->crc = static_cast<std::uint32_t>(crc32_z(crc32(0, nullptr, 0), reinterpret_cast<const Bytef*>(p->data.data()), p->data.size()));
    if (size > budget) return p;  // too big to keep
    std::lock_guard lock(mu);
    while (total + size > budget && !order.empty()) {
        total -= cache[order.front()]->data.size();
        cache.erase(order.front());
        order.pop_front();
    }
    cache[id] = p;
    order.push_back(id);
    total += size;
    return p;
}

std::string strip_version(std::string_view uri, std::string* version = nullptr) {
    auto br = uri.find('[');
    if (br != std::string_view::npos && uri.back() == ']') {
        if (version) *version = std::string(uri.substr(br + 1, uri.size() - br - 2));
        return std::string(uri.substr(0, br));
    }
    return std::string(uri);
}

bool split_uri(std::string_view uri, std::string& folder, std::string& service) {
    auto slash = uri.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 >= uri.size()) return false;
    if (uri.find('/', slash + 1) != std::string_view::npos) return false;
    folder = std::string(uri.substr(0, slash));
    service = std::string(uri.substr(slash + 1));
    return true;
}

}  // namespace

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

// ---------------------------------------------------------------- packages

package_result write_package(const std::filesystem::path& path, const std::string& tenant_name,
                             const std::vector<selected_version>& versions, const std::string& file_filter,
                             std::uint64_t payload_bytes) {
    package_result r;
    json::array services, service_versions;
    std::set<std::string> service_seen;
    std::string id_text = tenant_name + "|" + file_filter;
    for (const auto& v : versions) {
        id_text += "|" + v.version_id;
        if (service_seen.insert(v.service_id).second)
            services.push_back(json::object{{"service_uri_source", v.folder + "/" + v.service},
                                            {"folder_source", v.folder},
                                            {"service_source", v.service},
                                            {"service_id_source", v.service_id}});
        service_versions.push_back(json::object{{"service_uri_source", v.folder + "/" + v.service + "[" + v.version + "]"},
                                                {"folder_source", v.folder},
                                                {"service_source", v.service},
                                                {"version_source", v.version},
                                                {"service_id_source", v.service_id},
                                                {"version_id_source", v.version_id}});
    }
    json::object manifest{{"object", "export"},
                          {"id", stable_uuid(id_text)},
                          {"file_filter", file_filter},
                          {"source_tenant", tenant_name},
                          {"outputs", json::object{{"files", nullptr},
                                                   {"services", services},
                                                   {"service_versions", service_versions}}}};

    zip::writer w(path);
    w.add_directory(tenant_name + "/");
    w.add_file(tenant_name + "/manifest.json", json::serialize(manifest));
    std::set<std::string> dirs;
    for (const auto& v : versions) {
        std::string base = tenant_name + "/" + v.folder + "/" + v.service + "/" + v.version + "/";
        for (auto dir : {tenant_name + "/" + v.folder + "/", tenant_name + "/" + v.folder + "/" + v.service + "/", base})
            if (dirs.insert(dir).second) w.add_directory(dir);
        w.add_file(base + "WASMMetaData.json", json::serialize(json::object{{"Revision", v.version}}));
        w.add_file(base + "ModelMetaData.json",
                   json::serialize(json::object{
                       {"VersionId", v.version_id},
                       {"EngineInformation", json::object{{"ServiceVersionGuid", v.version_id},
                                                          {"Tenant", tenant_name},
                                                          {"ProductName", v.folder},
                                                          {"ServiceName", v.service},
                                                          {"CompilerVersion", "cspark-emulator"}}}}));
        w.add_file(base + "DefaultValidations.json",
                   R"({"outputs":{},"warnings":[],"errors":[],"service_chain":[]})");
        // The bundle is stored (it is compressed already). Large ones are
        // generated while written, small ones come from the cache.
        std::string key = v.service + "[" + v.version + "]";
        if (payload_bytes > 16 * 1024 * 1024) {
            payload_source big(seed_of(key + "|" + std::to_string(payload_bytes)), payload_bytes);
            w.add_file(base + v.version_id + ".zip", big, false);
        } else {
            auto wasm = payload(key, payload_bytes);
            w.add_stored(base + v.version_id + ".zip", wasm->data, wasm->crc);
        }
        if (file_filter == "migrate") {
            auto workbook = payload("xlsx|" + v.service + "[" + v.version + "]", 4096);
            w.add_stored(base + v.service + ".xlsx", workbook->data, workbook->crc);
            w.add_file(base + "ServiceMetaData.json",
                       json::serialize(json::object{{"service_id", v.service_id},
                                                    {"version_id", v.version_id},
                                                    {"folder", v.folder},
                                                    {"service", v.service},
                                                    {"version", v.version}}));
        }
    }
    r.size = w.finish();
    r.sha256 = w.sha256();
    r.services = std::move(services);
    r.service_versions = std::move(service_versions);
    return r;
}

std::optional<package_contents> read_package(const std::filesystem::path& path, api_error& err) {
    auto bad = [&](const std::string& why) -> std::optional<package_contents> {
        err = make_error(500, "INVALID_IMPORT_ZIP", "the uploaded file is not a valid ImpEx package: " + why);
        return std::nullopt;
    };
    std::string why;
    auto r = zip::reader::open(path, why);
    if (!r) return bad(why);
    const zip::entry_info* manifest = nullptr;
    for (const auto& e : r->entries()) {
        if (!zip::is_safe_entry_name(e.name) || e.is_symlink()) return bad("unsafe entry name '" + detail::excerpt(e.name, 200) + "'");
        auto slash = e.name.find('/');
        if (slash != std::string::npos && e.name.substr(slash + 1) == "manifest.json") manifest = &e;
    }
    if (!manifest) return bad("no {tenant}/manifest.json entry");
    // Every entry must decompress to its declared size and CRC.
    for (const auto& e : r->entries())
        if (!e.is_directory() && !r->read(e, [](std::span<const char>) {}, why)) return bad(why);
    auto text = r->read_all(*manifest, 16 * 1024 * 1024, why);
    if (!text) return bad(why);
    error_code jec;
    json::value m = json::parse(*text, jec);
    if (jec || !m.is_object()) return bad("manifest.json is not a JSON object");
    const auto& mo = m.get_object();
    package_contents pkg;
    pkg.source_tenant = manifest->name.substr(0, manifest->name.find('/'));
    pkg.file_filter = str(mo, "file_filter");
    const json::value* outputs = mo.if_contains("outputs");
    const json::value* sv = outputs && outputs->is_object() ? outputs->get_object().if_contains("service_versions") : nullptr;
    if (!sv || !sv->is_array() || sv->get_array().empty()) return bad("manifest lists no service_versions");
    for (const auto& item : sv->get_array()) {
        if (!item.is_object()) return bad("manifest service_versions entry is not an object");
        const auto& o = item.get_object();
        package_version v{str(o, "folder_source"), str(o, "service_source"), str(o, "service_id_source"),
                          str(o, "version_source"), str(o, "version_id_source")};
        if (v.folder.empty() || v.service.empty() || v.version.empty() || v.version_id.empty())
            return bad("manifest service_versions entry lacks folder/service/version/version_id");
        std::string base = pkg.source_tenant + "/" + v.folder + "/" + v.service + "/" + v.version + "/";
        if (!r->find(base + v.version_id + ".zip")) return bad("missing " + base + v.version_id + ".zip");
        if (pkg.file_filter != "migrate" || !r->find(base + v.service + ".xlsx")) {
            err = make_error(500, "INVALID_IMPORT_ZIP",
                             "the package was not exported with file_filter=migrate (found '" +
                                 (pkg.file_filter.empty() ? std::string("unknown") : pkg.file_filter) +
                                 "'): only migrate packages can be imported");
            return std::nullopt;
        }
        pkg.versions.push_back(std::move(v));
    }
    return pkg;
}

// ---------------------------------------------------------------- import

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
        const auto& o = item.get_object();
        mapping m;
        std::string src = strip_version(str(o, "service_uri_source"));
        if (!split_uri(src, m.source_folder, m.source_service)) {
            err = make_error(400, "INVALID_REQUEST", "service_uri_source '" + src + "' is not folder/service");
            return std::nullopt;
        }
        bool in_pkg = std::any_of(pkg.versions.begin(), pkg.versions.end(), [&](const package_version& v) {
            return v.folder == m.source_folder && v.service == m.source_service;
        });
        if (!in_pkg) {
            err = make_error(404, "SERVICE_NOT_FOUND", "service '" + src + "' could not be found in the package");
            return std::nullopt;
        }
        std::string dst = strip_version(str(o, "service_uri_destination"));
        if (dst.empty()) dst = src;
        if (!split_uri(dst, m.dest_folder, m.dest_service)) {
            err = make_error(400, "INVALID_REQUEST", "service_uri_destination '" + dst + "' is not folder/service");
            return std::nullopt;
        }
        std::string kind = str(o, "update_version_type");
        if (!kind.empty() && kind != "major" && kind != "minor" && kind != "patch") {
            err = make_error(400, "INVALID_REQUEST", "update_version_type '" + kind + "' is not major, minor or patch");
            return std::nullopt;
        }
        if (!kind.empty()) m.update_version_type = kind;
        out.push_back(std::move(m));
    }
    return out;
}

import_result apply_import(tenant& t, const package_contents& pkg, const std::vector<mapping>& mappings,
                           const std::string& action) {
    import_result r;
    json::array errors;
    for (const auto& m : mappings) {
        auto f = t.folders.find(m.dest_folder);
        if (f == t.folders.end()) {
            errors.push_back(make_error(404, "FOLDER_NOT_FOUND", "destination folder '" + m.dest_folder +
                                                                     "' does not exist in tenant '" + t.name + "'")
                                 .body());
            continue;
        }
        if (action == "abort" && f->second.services.count(m.dest_service))
            errors.push_back(make_error(409, "SERVICE_EXISTS", "service '" + m.dest_folder + "/" + m.dest_service +
                                                                   "' already exists and services_existing is abort")
                                 .body());
    }
    if (!errors.empty()) {
        r.errors = std::move(errors);
        return r;
    }

    std::set<std::string> used_ids;
    for (const auto& [_, f] : t.folders)
        for (const auto& [__, s] : f.services) {
            used_ids.insert(s.id);
            for (const auto& v : s.versions) used_ids.insert(v.id);
        }
    auto fresh = [&](const std::string& wanted, const std::string& salt) {
        std::string id = wanted;
        for (int i = 0; id.empty() || used_ids.count(id); ++i) id = stable_uuid(t.name + "|" + salt + "|" + std::to_string(i));
        used_ids.insert(id);
        return id;
    };

    auto& services = r.services.as_array();
    auto& versions = r.service_versions.as_array();
    for (const auto& m : mappings) {
        std::vector<const package_version*> src;
        for (const auto& v : pkg.versions)
            if (v.folder == m.source_folder && v.service == m.source_service) src.push_back(&v);
        std::sort(src.begin(), src.end(),
                  [](const package_version* a, const package_version* b) { return semver_less(a->version, b->version); });
        auto& f = t.folders[m.dest_folder];
        auto it = f.services.find(m.dest_service);
        std::string status;
        if (it == f.services.end()) {
            service s;
            s.name = m.dest_service;
            s.id = fresh(src.front()->service_id, m.dest_folder + "/" + m.dest_service);
            it = f.services.emplace(m.dest_service, std::move(s)).first;
            status = "added";
        } else if (action == "replace") {
            it->second.versions.clear();
            status = "replaced";
        } else {
            status = "updated";
        }
        service& s = it->second;
        std::string latest;
        for (const auto& v : s.versions)
            if (latest.empty() || semver_less(latest, v.semver)) latest = v.semver;
        for (const auto* pv : src) {
            version nv;
            nv.semver = status == "updated" ? bump(latest, m.update_version_type) : pv->version;
            latest = nv.semver;
            nv.id = fresh(pv->version_id, s.id + "|" + nv.semver);
            s.versions.push_back(nv);
            versions.push_back(json::object{
                {"service_uri_source", m.source_folder + "/" + m.source_service + "[" + pv->version + "]"},
                {"folder_source", m.source_folder},
                {"service_source", m.source_service},
                {"version_source", pv->version},
                {"service_id_source", pv->service_id},
                {"version_id_source", pv->version_id},
                {"service_uri_destination", m.dest_folder + "/" + m.dest_service + "[" + nv.semver + "]"},
                {"folder_destination", m.dest_folder},
                {"service_destination", m.dest_service},
                {"version_destination", nv.semver},
                {"service_id_destination", s.id},
                {"version_id_destination", nv.id},
                {"status", "added"}});
        }
        services.push_back(json::object{{"service_uri_source", m.source_folder + "/" + m.source_service},
                                        {"folder_source", m.source_folder},
                                        {"service_source", m.source_service},
                                        {"service_id_source", src.front()->service_id},
                                        {"service_uri_destination", m.dest_folder + "/" + m.dest_service},
                                        {"folder_destination", m.dest_folder},
                                        {"service_destination", m.dest_service},
                                        {"service_id_destination", s.id},
                                        {"status", status}});
    }
    return r;
}

}  // namespace cspark::emu
