// Fleet planning as pure code (see planner.hpp).
#include "impex/planner.hpp"

#include "core/error_traits.hpp"

#include "impex/codec.hpp"

#include "core/text.hpp"

#include <cspark/service_uri.hpp>

#include <algorithm>
#include <map>
#include <set>

namespace cspark::detail {
namespace json = boost::json;

share_key share_key_of(const migrate_request& r, const void* source, const void* target, std::size_t alone) {
    const auto& x = r.exports;
    const auto& p = x.poll;
    share_key k;
    k.source = reinterpret_cast<std::uintptr_t>(source);
    k.target = reinterpret_cast<std::uintptr_t>(target);
    k.files = x.file_filter;
    k.versions = x.version_filter;
    k.source_system = x.source_system;
    k.action = r.if_present;
    k.keep_files = r.keep_files;
    k.directory = x.directory.string();
    k.mapped = destination_given(r.destination);
    k.max_retries = p.max_retries;
    if (p.retry_interval) k.retry_interval_ms = p.retry_interval->count();
    k.max_interval_ms = p.max_interval.count();
    k.deadline_ms = p.deadline.count();
    k.adaptive = p.adaptive;
    k.durable = x.durable;
    k.overwrite = x.overwrite;
    k.alone = alone;
    return k;
}

std::vector<std::vector<std::size_t>> plan_groups(const std::vector<plan_item>& items, std::size_t max_weight) {
    struct open_group {
        std::size_t index;  // into out
        std::size_t weight = 0;
        std::set<std::string> destinations;
    };
    std::vector<std::vector<std::size_t>> out;
    std::map<std::string, std::vector<open_group>> open;        // key -> groups still taking entries
    std::map<std::pair<std::string, std::string>, std::size_t> resumed;  // (key, checkpoint) -> group
    max_weight = std::max<std::size_t>(max_weight, 1);
    for (std::size_t i = 0; i < items.size(); ++i) {
        const auto& it = items[i];
        if (!it.resume.empty()) {
            auto [pos, fresh] = resumed.try_emplace({it.key, it.resume}, out.size());
            if (fresh) out.emplace_back();
            out[pos->second].push_back(i);
            continue;
        }
        auto& groups = open[it.key];
        auto fits = [&](const open_group& g) {
            if (g.weight + it.weight > max_weight) return false;
            return std::none_of(it.destinations.begin(), it.destinations.end(),
                                [&](const std::string& d) { return g.destinations.count(d) > 0; });
        };
        auto g = std::find_if(groups.begin(), groups.end(), fits);
        if (g == groups.end()) {
            groups.push_back({out.size(), 0, {}});
            out.emplace_back();
            g = groups.end() - 1;
        }
        g->weight += it.weight;
        g->destinations.insert(it.destinations.begin(), it.destinations.end());
        out[g->index].push_back(i);
    }
    return out;
}

bool failure_splits(error_code ec) noexcept { return traits_of(ec).entry_at_fault; }

std::vector<std::size_t> named_members(const std::string& failure_text,
                                       const std::vector<std::vector<std::string>>& names_of_members) {
    std::string text = to_lower(failure_text);
    std::vector<std::size_t> named;
    for (std::size_t m = 0; m < names_of_members.size(); ++m)
        for (const auto& name : names_of_members[m])
            if (!name.empty() && text.find("'" + to_lower(name) + "'") != std::string::npos) {
                named.push_back(m);
                break;
            }
    if (named.size() == names_of_members.size()) named.clear();  // names everyone: tells nothing
    return named;
}

std::vector<std::vector<std::size_t>> split_group(const std::vector<std::size_t>& group,
                                                  const std::vector<std::size_t>& named) {
    std::vector<std::vector<std::size_t>> out;
    if (group.size() < 2) return out;
    if (!named.empty()) {
        std::vector<std::size_t> rest;
        std::set<std::size_t> picked(named.begin(), named.end());
        for (std::size_t k = 0; k < group.size(); ++k) {
            if (picked.count(k)) out.push_back({group[k]});
            else rest.push_back(group[k]);
        }
        if (!rest.empty()) out.push_back(std::move(rest));
        return out;
    }
    auto half = group.begin() + static_cast<std::ptrdiff_t>(group.size() / 2);
    out.emplace_back(group.begin(), half);
    out.emplace_back(half, group.end());
    return out;
}

namespace {
std::string field(const json::object& o, std::string_view key) {
    if (auto* p = o.if_contains(key); p && p->is_string()) return std::string(p->get_string());
    return {};
}
}  // namespace

bool selects(const export_request& r, const json::object& sv) {
    std::string folder = to_lower(field(sv, "folder_source")), service = to_lower(field(sv, "service_source"));
    std::string service_id = to_lower(field(sv, "service_id_source")), version_id = to_lower(field(sv, "version_id_source"));
    for (const auto& f : r.folders)
        if (to_lower(trim(f)) == folder) return true;
    for (const auto& v : r.version_ids)
        if (to_lower(trim(v)) == version_id) return true;
    for (const auto& s : r.services) {
        std::string why;
        auto u = parse_service_uri(s, why);
        if (!u) continue;
        if (u->form == service_uri::kind::version_id && to_lower(u->id) == version_id) return true;
        if (u->form == service_uri::kind::service_id && to_lower(u->id) == service_id) return true;
        if (u->form == service_uri::kind::folder_service && to_lower(u->folder) == folder && to_lower(u->service) == service)
            return true;
    }
    return false;
}

std::vector<std::string> selected_services(const export_request& r, const json::value& outputs) {
    std::vector<std::string> out;
    std::set<std::string> seen;
    const auto* list = outputs.is_object() ? outputs.get_object().if_contains("service_versions") : nullptr;
    if (!list || !list->is_array()) return out;
    for (const auto& sv : list->get_array())
        if (sv.is_object() && selects(r, sv.get_object())) {
            std::string path = field(sv.get_object(), "folder_source") + "/" + field(sv.get_object(), "service_source");
            if (seen.insert(service_path(path)).second) out.push_back(std::move(path));
        }
    return out;
}

import_shares::import_shares(const import_result& combined) : all_(combined) {
    for (std::size_t k = 0; k < combined.services.size(); ++k)
        services_[service_path(combined.services[k].source)].emplace_back(service_path(combined.services[k].destination), k);
    for (std::size_t k = 0; k < combined.versions.size(); ++k)
        versions_[service_path(combined.versions[k].source)].emplace_back(service_path(combined.versions[k].destination), k);
}

import_result import_shares::of(const std::vector<std::string>& sources, const std::vector<std::string>& destinations) const {
    std::set<std::size_t> svc, ver;  // indices, in the combined order
    auto pick = [](const auto& index, const std::string& src, const std::string* dst, std::set<std::size_t>& into) {
        auto it = index.find(src);
        if (it == index.end()) return;
        for (const auto& [d, k] : it->second)
            if (!dst || d == *dst) into.insert(k);
    };
    for (std::size_t k = 0; k < sources.size(); ++k) {
        std::string src = service_path(sources[k]);
        std::string dst = destinations.empty() ? std::string() : service_path(k < destinations.size() ? destinations[k] : sources[k]);
        const std::string* want = destinations.empty() ? nullptr : &dst;
        pick(services_, src, want, svc);
        pick(versions_, src, want, ver);
    }
    import_result r;
    r.diag = all_.diag;
    for (auto k : svc) r.services.push_back(all_.services[k]);
    for (auto k : ver) r.versions.push_back(all_.versions[k]);
    return r;
}

}  // namespace cspark::detail
