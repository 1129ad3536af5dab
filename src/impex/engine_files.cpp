// The migration engine's file steps: downloads (names, resumes, hashes) and
// the imports of the packages.
#include "impex/engine_steps.hpp"

#include "core/error_traits.hpp"
#include "impex/codec.hpp"
#include "impex/policy.hpp"

#include "core/text.hpp"

#include <boost/json/serialize.hpp>

namespace cspark::detail::steps {
namespace json = boost::json;

// ------------------------------------------------------------ downloads


// The digest a file_hash names: 32 hex digits an MD5, 64 a SHA-256, else
// none to compare (the package's ZIP structure is checked instead).
struct expected_digest {
    std::string hex;
    bool md5 = false;
    bool comparable() const { return !hex.empty(); }
};

expected_digest digest_of(const std::string& file_hash) {
    auto h = to_lower(trim(file_hash));
    bool hex = !h.empty() && h.find_first_not_of("0123456789abcdef") == std::string::npos;
    if (!hex || (h.size() != 32 && h.size() != 64)) return {};
    return {h, h.size() == 32};
}

flow_action download(flow_state& st, bool from_start = false) {
    st.at = stage::download;
    st.wrote_files = true;
    auto a = make(act::download, job_kind::export_job, st.export_job.id);
    a.file = st.dl.file;
    a.name = st.dl.file_names[st.dl.file];
    a.from_start = from_start;
    a.md5 = digest_of(st.dl.files[st.dl.file].file_hash).md5;
    // The server may name a package (Content-Disposition) that we named
    // after its link: one file only, so two never clash.
    a.server_name = st.plan.file_name.empty() && st.plan.file_prefix.empty() && st.dl.files.size() == 1;
    return a;
}

// A package that failed its check (hash, or not a ZIP) was read from a link
// that is still valid, and an export only reads: fetch it again from byte 0,
// a bounded number of times, before the failure stands.
std::optional<flow_action> refetch(flow_state& st, const error_code& ec, const diagnostics& diag) {
    if (st.dl.refetches >= st.policy.max_refetches) return std::nullopt;
    ++st.dl.refetches;
    st.dl.resumes = 0;
    note_retry(st, job_kind::export_job, milliseconds(0), "download_refetched",
               "the package failed its check (" + std::string(error_name(ec)) + (diag.detail.empty() ? "" : ": " + diag.detail) +
                   "): downloading it again from byte 0 (" + std::to_string(st.dl.refetches) + " of " +
                   std::to_string(st.policy.max_refetches) + ")");
    return download(st, true);
}

flow_action next_download(flow_state& st, flow_event& ev) {
    if (st.dl.file < st.dl.files.size()) {
        st.dl.resumes = 0;
        st.dl.refetches = 0;
        return download(st);
    }
    for (const auto& f : st.downloaded) st.packages.push_back(f.path);
    // The export is done once its packages are here, whether imports follow or not.
    note(st, flow_note::type::finished, job_kind::export_job, st.export_job.id, st.export_job.status);
    if (st.plan.import_job) return begin_imports(st, ev);
    return end_with(st, {}, {}, job_kind::export_job, st.export_job.id);
}

// The file names of an export: one per link, never two alike. A link whose
// last segment ends in .zip names its file; an opaque pre-signed link
// ("/dl/aXk93FqPz0Lm7?...") or a document store's link, whose last segment is
// "package.zip" whatever it holds, gives "{tenant}-export-{job}.zip" (the
// server's Content-Disposition, when it sends one, renames it at the end).
void name_files(flow_state& st) {
    st.dl.names.clear();
    for (std::size_t i = 0; i < st.dl.files.size(); ++i) {
        std::string job = st.export_job.id.empty() ? std::string("package") : st.export_job.id;
        std::string fallback = (st.plan.tenant.empty() ? std::string() : st.plan.tenant + "-") + "export-" + job +
                               (st.dl.files.size() > 1 ? "-" + std::to_string(i + 1) : std::string()) + ".zip";
        std::string name;
        if (i == 0 && !st.plan.file_name.empty()) {
            name = st.plan.file_name;
        } else if (st.plan.file_prefix.empty()) {
            name = file_name_from_url(st.dl.files[i].url, fallback);
            if (name.size() < 5 || to_lower(name.substr(name.size() - 4)) != ".zip" || to_lower(name) == "package.zip")
                name = file_name_from_url(fallback, "package.zip");
        } else {
            name = st.plan.file_prefix + "-" + st.export_job.id.substr(0, 8) + ".zip";
        }
        st.dl.file_names.push_back(unique_name(name, st.dl.names));
    }
}

flow_action begin_downloads(flow_state& st, flow_event& ev) {
    st.dl.file = 0;
    st.downloaded.clear();
    if (st.plan.export_job) st.dl.files = st.export_job.files;
    if (st.dl.files.empty()) {
        diagnostics d;
        d.detail = "export job " + st.export_job.id + " finished '" + st.export_job.status + "' without files";
        return end_with(st, errc::no_files, d, job_kind::export_job, st.export_job.id);
    }
    st.dl.file_names.clear();
    name_files(st);
    return next_download(st, ev);
}

flow_action after_download(flow_state& st, flow_event& ev) {
    if (ev.what != ev_type::ok) {
        // A dropped transfer, or storage failing once (a download link's 500
        // is the store's, not Spark's verdict on the input): go on from the
        // bytes held.
        bool dropped = traits_of(ev.ec).transfer_dropped;
        if (dropped && st.dl.resumes < st.policy.max_resumes) {
            ++st.dl.resumes;
            note_retry(st, job_kind::export_job, milliseconds(0), "download_resumed", "resuming the download at byte " + std::to_string(ev.bytes_held));
            return download(st);
        }
        return end_with(st, ev.ec, ev.diag, job_kind::export_job, st.export_job.id);
    }
    auto expected = digest_of(st.dl.files[st.dl.file].file_hash);
    if (expected.comparable()) {
        const auto& actual = expected.md5 ? ev.md5 : ev.file.sha256;
        if (actual != expected.hex) {
            diagnostics d = ev.diag;
            d.detail = "file_hash mismatch for " + mask_url(st.dl.files[st.dl.file].url) + ": expected " + expected.hex + ", got " +
                       actual + "; the download was removed";
            if (auto again = refetch(st, errc::hash_mismatch, d)) return *again;
            if (st.dl.refetches > 0) d.detail += " (after " + std::to_string(st.dl.refetches + 1) + " downloads)";
            return end_with(st, errc::hash_mismatch, d, job_kind::export_job, st.export_job.id);
        }
    }
    st.at = stage::keep;
    auto a = make(act::keep_file, job_kind::export_job, st.export_job.id);
    a.file = st.dl.file;
    a.name = st.dl.file_names[st.dl.file];
    a.verified = expected.comparable();
    return a;
}

flow_action after_keep(flow_state& st, flow_event& ev) {
    if (ev.what != ev_type::ok) {
        if (ev.ec == errc::invalid_package)
            if (auto again = refetch(st, ev.ec, ev.diag)) return *again;
        return end_with(st, ev.ec, ev.diag, job_kind::export_job, st.export_job.id);
    }
    st.downloaded.push_back(ev.file);
    auto n = make_note(flow_note::type::downloaded, job_kind::export_job, st.export_job.id);
    n.path = ev.file.path;
    n.sha256 = ev.file.sha256;
    n.size = ev.file.size;
    st.notes.push_back(std::move(n));
    ++st.dl.file;
    return next_download(st, ev);
}

flow_action after_export_poll(flow_state& st, flow_event& ev) {
    flow_action next;
    auto ended = poll_on(st, ev, next);
    if (!ended) return next;
    st.export_job = std::move(st.poll.job);  // one copy of the document per job, not one per stage
    if (st.export_job.id.empty()) st.export_job.id = st.poll.id;
    if (ended->ec) return end_with(st, ended->ec, ended->diag, job_kind::export_job, st.poll.id);
    if (st.plan.stop_at_created) return end_with(st, {}, {}, job_kind::export_job, st.poll.id);
    if (!st.plan.download) {
        note(st, flow_note::type::finished, job_kind::export_job, st.export_job.id, st.export_job.status);
        return end_with(st, {}, {}, job_kind::export_job, st.poll.id);
    }
    auto a = begin_downloads(st, ev);
    return st.holding == job_kind::export_job ? releasing(st, std::move(a)) : a;  // the tenant's export slot is free
}

// ------------------------------------------------------------ imports

flow_action begin_imports(flow_state& st, flow_event& ev) {
    st.package = 0;
    st.step = job_kind::import_job;
    st.at = stage::import_slot;
    if (st.start.import_intent_age && !st.start.import_cid.empty() && !st.services_modify) st.services_modify = st.start.services_modify;
    if (!st.services_modify) st.services_modify = default_mappings(st.export_job);
    if (st.services_modify->empty()) {
        diagnostics d;
        d.detail = "no destination: the export names no services; give at least one {source, target} mapping";
        return end_with(st, errc::invalid_argument, d, job_kind::import_job, {});
    }
    if (st.packages.empty()) {
        diagnostics d;
        d.detail = "no package to import";
        return end_with(st, errc::invalid_argument, d, job_kind::import_job, {});
    }
    if (st.start.import_intent_age && !st.start.import_cid.empty()) {
        // An earlier run announced this import: look for its job before sending.
        st.post = post_state{};
        st.at = stage::import_lookup;
        return make(act::describe, job_kind::import_job);
    }
    return begin_step(st, ev, job_kind::import_job);
}

void summarize(const json::value& outputs, import_result& r) {
    if (!outputs.is_object()) return;
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
}

// An import that closed with failed entries: each named with its reason.
diagnostics partial_failure(const import_result& r) {
    diagnostics d = r.job.diag;
    auto failed = failed_entries(r);
    d.detail = "import job " + r.job.id + " closed '" + r.job.status + "', but " + std::to_string(failed.size()) + " of " +
               std::to_string(r.services.size() + r.versions.size()) + " entries failed: " + excerpt(joined(failed), 4096);
    return d;
}

flow_action after_import_poll(flow_state& st, flow_event& ev) {
    flow_action next;
    auto ended = poll_on(st, ev, next);
    if (!ended) return next;
    import_result r;
    r.job = std::move(st.poll.job);
    if (r.job.id.empty()) r.job.id = st.poll.id;
    summarize(r.job.outputs, r);
    if (!ended->ec && r.partially_failed) ended = poll_end{errc::import_partially_failed, partial_failure(r)};
    r.diag = ended->diag;
    if (st.plan.stop_at_created) st.import_job = r.job;  // the initiate verb's result
    std::string status = r.job.status;
    st.imports.push_back(std::move(r));
    if (ended->ec) return end_with(st, ended->ec, ended->diag, job_kind::import_job, st.poll.id);
    if (st.plan.stop_at_created) return end_with(st, {}, {}, job_kind::import_job, st.poll.id);
    note(st, flow_note::type::finished, job_kind::import_job, st.poll.id, status);
    if (++st.package < st.packages.size()) {
        auto a = begin_step(st, ev, job_kind::import_job);
        return st.holding == job_kind::import_job && a.what != act::acquire_slot ? a : releasing(st, std::move(a));
    }
    return end_with(st, {}, {}, job_kind::import_job, st.poll.id);
}

}  // namespace cspark::detail::steps
