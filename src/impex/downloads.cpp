// downloads: an export's files, one at a time. Names never two alike, Range
// resumes of a dropped transfer, the server's hash compared, a package that
// fails its check fetched again from byte 0, each file kept (renamed into
// place) before the next.
#include "impex/machines.hpp"

#include "core/error_traits.hpp"
#include "impex/codec.hpp"
#include "impex/policy.hpp"

#include "core/text.hpp"

namespace cspark::detail {

namespace {

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

// A link whose last segment ends in .zip names its file; an opaque
// pre-signed link ("/dl/aXk93FqPz0Lm7?...") or a document store's link, whose
// last segment is "package.zip" whatever it holds, gives the fallback.
std::string name_from_link(const std::string& url, const std::string& fallback) {
    auto name = file_name_from_url(url, fallback);
    if (name.size() < 5 || to_lower(name.substr(name.size() - 4)) != ".zip" || to_lower(name) == "package.zip")
        name = file_name_from_url(fallback, "package.zip");
    return name;
}

}  // namespace

// One name per file, never two alike: the given name, "{prefix}-{job8}.zip",
// or the link's (else "{tenant}-export-{job}.zip"; the server's
// Content-Disposition, when it sends one, renames a lone file at the end).
void downloads::name_files() {
    std::set<std::string> taken;
    const auto& p = plan_;
    s_.file_names.clear();
    for (std::size_t i = 0; i < p.files.size(); ++i) {
        std::string job = p.job_id.empty() ? std::string("package") : p.job_id;
        std::string fallback = (p.tenant.empty() ? std::string() : p.tenant + "-") + "export-" + job +
                               (p.files.size() > 1 ? "-" + std::to_string(i + 1) : std::string()) + ".zip";
        std::string name = i == 0 && !p.file_name.empty() ? p.file_name
                           : p.file_prefix.empty()        ? name_from_link(p.files[i].url, fallback)
                                                          : p.file_prefix + "-" + p.job_id.substr(0, 8) + ".zip";
        s_.file_names.push_back(unique_name(name, taken));
    }
}

flow_action downloads::fetch(bool from_start) {
    s_.keeping = false;
    const auto& f = plan_.files[s_.file];
    act::download a;
    a.file = s_.file;
    a.url = f.url;
    a.name = s_.file_names[s_.file];
    a.from_start = from_start;
    a.md5 = digest_of(f.file_hash).md5;
    // The server may name a package (Content-Disposition) that we named
    // after its link: one file only, so two never clash.
    a.server_name = plan_.file_name.empty() && plan_.file_prefix.empty() && plan_.files.size() == 1;
    return a;
}

// A package that failed its check (hash, or not a ZIP) was read from a link
// that is still valid, and an export only reads: fetch it again from byte 0,
// a bounded number of times, before the failure stands.
std::optional<flow_action> downloads::refetch(const step_env& env, const error_code& ec, const diagnostics& diag) {
    int max = env.policy.max_refetches;
    if (s_.refetches >= max) return std::nullopt;
    ++s_.refetches;
    s_.resumes = 0;
    note_retry(env.notes, job_kind::export_job, milliseconds(0), "download_refetched",
               "the package failed its check (" + std::string(error_name(ec)) + (diag.detail.empty() ? "" : ": " + diag.detail) +
                   "): downloading it again from byte 0 (" + std::to_string(s_.refetches) + " of " + std::to_string(max) + ")");
    return fetch(true);
}

step_answer<downloads_end> downloads::next() {
    if (s_.file >= plan_.files.size()) return downloads_end{};
    s_.resumes = 0;
    s_.refetches = 0;
    return fetch(false);
}

step_answer<downloads_end> downloads::begin(const step_env&, downloads_plan plan) {
    plan_ = std::move(plan);
    s_ = download_state{};
    kept_.clear();
    if (plan_.files.empty()) {
        diagnostics d;
        d.detail = "export job " + plan_.job_id + " finished '" + plan_.job_status + "' without files";
        return downloads_end{errc::no_files, d};
    }
    name_files();
    return next();
}

step_answer<downloads_end> downloads::after_fetch(const step_env& env, flow_event& ev) {
    const auto& file = plan_.files[s_.file];
    if (ev.what != flow_event::type::ok) {
        // A dropped transfer, or storage failing once (a download link's 500
        // is the store's, not Spark's verdict on the input): go on from the
        // bytes held.
        if (traits_of(ev.ec).transfer_dropped && s_.resumes < env.policy.max_resumes) {
            ++s_.resumes;
            note_retry(env.notes, job_kind::export_job, milliseconds(0), "download_resumed",
                       "resuming the download at byte " + std::to_string(ev.bytes_held));
            return fetch(false);
        }
        return downloads_end{ev.ec, ev.diag};
    }
    auto expected = digest_of(file.file_hash);
    if (expected.comparable()) {
        const auto& actual = expected.md5 ? ev.md5 : ev.file.sha256;
        if (actual != expected.hex) {
            diagnostics d = ev.diag;
            d.detail = "file_hash mismatch for " + mask_url(file.url) + ": expected " + expected.hex + ", got " + actual +
                       "; the download was removed";
            if (auto again = refetch(env, errc::hash_mismatch, d)) return *again;
            if (s_.refetches > 0) d.detail += " (after " + std::to_string(s_.refetches + 1) + " downloads)";
            return downloads_end{errc::hash_mismatch, d};
        }
    }
    s_.keeping = true;
    return act::keep_file{s_.file, s_.file_names[s_.file], expected.comparable()};
}

step_answer<downloads_end> downloads::after_keep(const step_env& env, flow_event& ev) {
    if (ev.what != flow_event::type::ok) {
        if (ev.ec == errc::invalid_package)
            if (auto again = refetch(env, ev.ec, ev.diag)) return *again;
        return downloads_end{ev.ec, ev.diag};
    }
    auto n = make_note(flow_note::type::downloaded, job_kind::export_job, plan_.job_id);
    n.path = ev.file.path;
    n.sha256 = ev.file.sha256;
    n.size = ev.file.size;
    env.notes.push_back(std::move(n));
    kept_.push_back(std::move(ev.file));  // the event is spent (an in-memory download's bytes move)
    ++s_.file;
    return next();
}

step_answer<downloads_end> downloads::on(const step_env& env, flow_event& ev) {
    return s_.keeping ? after_keep(env, ev) : after_fetch(env, ev);
}

}  // namespace cspark::detail
