// ImpEx verbs and flows as coroutines over cspark::client. Decisions (job
// states, poll delays, retry) come from pure code in job.cpp / retry.cpp.
#include <cspark/impex.hpp>

#include "impex/flows.hpp"
#include "impex/policy.hpp"

#include "core/hash.hpp"
#include "core/multipart.hpp"
#include "core/text.hpp"
#include "zip/zip.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cerrno>
#include <cstring>
#include <cstdio>
#include <fcntl.h>
#include <map>
#include <set>
#include <random>
#include <cstdlib>
#include <unistd.h>

namespace cspark {
namespace asio = boost::asio;
namespace json = boost::json;

std::string_view to_string(file_filter f) noexcept { return f == file_filter::migrate ? "migrate" : "onpremises"; }
std::string_view to_string(version_filter f) noexcept { return f == version_filter::latest ? "latest" : "all"; }
std::string_view to_string(if_present p) noexcept {
    switch (p) {
    case if_present::abort: return "abort";
    case if_present::replace: return "replace";
    case if_present::add_version: return "add_version";
    }
    return "add_version";
}
std::string_view to_string(upgrade u) noexcept {
    switch (u) {
    case upgrade::major: return "major";
    case upgrade::minor: return "minor";
    case upgrade::patch: return "patch";
    }
    return "minor";
}

namespace detail {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Runs `op` on the client's executor and completes `h` with (ec, value); the
// handler's cancellation slot reaches the coroutine and every wait in it.
template <class T>
void launch(asio::any_io_executor ex, asio::awaitable<outcome<T>> op,
            asio::any_completion_handler<void(error_code, T)> h) {
    auto slot = asio::get_associated_cancellation_slot(h);
    auto done = [h = std::move(h), ex](std::exception_ptr e, outcome<T> out) mutable {
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const boost::system::system_error& x) {
                out.ec = x.code() == asio::error::operation_aborted ? error_code(errc::cancelled) : x.code();
            } catch (...) {
                out.ec = errc::internal_error;
            }
        }
        asio::dispatch(ex, asio::append(std::move(h), out.ec, std::move(out.value)));
    };
    asio::co_spawn(ex, std::move(op), asio::bind_cancellation_slot(slot, std::move(done)));
}

asio::awaitable<bool> was_cancelled() {
    auto cs = co_await asio::this_coro::cancellation_state;
    co_return cs.cancelled() != asio::cancellation_type::none;
}

std::string new_correlation_id() {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    return "cspark-impex-" + uuid4(rng);
}

std::string str_of(const json::object& o, std::string_view key) {
    if (auto* p = o.if_contains(key); p && p->is_string()) return std::string(p->get_string());
    return {};
}

// A status document into job_status.
bool parse_job(const json::value& v, std::string_view kind, job_status& j, std::string& why) {
    if (!v.is_object()) {
        why = "the job document is not a JSON object";
        return false;
    }
    const auto& o = v.get_object();
    j.raw = v;
    j.kind = std::string(kind);
    j.id = str_of(o, "id");
    j.status = str_of(o, "status");
    j.status_url = str_of(o, "status_url");
    if (auto* p = o.if_contains("process_time"); p && p->is_number()) {
        error_code ec;
        j.process_time = p->to_number<std::int64_t>(ec);
    }
    j.errors = o.contains("errors") ? o.at("errors") : json::value(nullptr);
    j.outputs = o.contains("outputs") ? o.at("outputs") : json::value(nullptr);
    j.files.clear();
    if (j.outputs.is_object())
        if (auto* files = j.outputs.get_object().if_contains("files"); files && files->is_array())
            for (const auto& f : files->get_array())
                if (f.is_object() && !str_of(f.get_object(), "file").empty())
                    j.files.push_back({str_of(f.get_object(), "file"), str_of(f.get_object(), "file_hash")});
    if (j.id.empty()) {
        why = "the job document has no id";
        return false;
    }
    j.state = classify_job(j.status, j.errors);
    return true;
}

void emit(const progress_fn& fn, progress_event ev) {
    if (fn) fn(ev);
}

progress_event event(progress_event::kind what, std::string job_kind, std::string id = {}, std::string status = {}) {
    progress_event e;
    e.what = what;
    e.job_kind = std::move(job_kind);
    e.job_id = std::move(id);
    e.status = std::move(status);
    return e;
}

progress_event transfer(std::string job_kind, std::string id, std::uint64_t bytes, std::uint64_t total) {
    auto e = event(progress_event::kind::bytes, std::move(job_kind), std::move(id));
    e.bytes = bytes;
    e.total = total;
    return e;
}

progress_event failure(std::string job_kind, std::string id, std::string status, std::string why) {
    auto e = event(progress_event::kind::failed, std::move(job_kind), std::move(id), std::move(status));
    e.message = std::move(why);
    return e;
}

progress_event retrying(std::string job_kind, std::chrono::milliseconds delay, std::string why) {
    auto e = event(progress_event::kind::retry, std::move(job_kind));
    e.delay = delay;
    e.message = std::move(why);
    return e;
}

// Sends and turns the response body into JSON; errors fill `diag`.
asio::awaitable<outcome<json::value>> call_json(client& c, request req, diagnostics& diag) {
    co_await asio::this_coro::throw_if_cancelled(false);
    auto [ec, resp] = co_await c.async_send(req, use_tuple);
    if (ec) {
        diag = resp.diag;
        co_return outcome<json::value>{ec, nullptr};
    }
    error_code jec;
    json::value v = parse_json_body(resp, jec, diag);
    if (jec) {
        diag.method = std::string(to_string(req.method));
        diag.url = mask_url(req.target);
    }
    co_return outcome<json::value>{jec, std::move(v)};
}

std::string status_target(std::string_view kind, const std::string& id_or_url) {
    if (starts_with_icase(id_or_url, "http://") || starts_with_icase(id_or_url, "https://")) return id_or_url;
    return std::string(kind) + "/" + id_or_url + "/status";
}

poll_options poll_of(const std::optional<int>& retries, const std::optional<std::chrono::milliseconds>& interval,
                     std::chrono::milliseconds deadline) {
    poll_options p;
    p.max_retries = retries;
    p.retry_interval = interval;
    p.deadline = deadline;
    return p;
}

// The job's state could not be learned: say so, name the job and how to look.
outcome<job_status> state_unknown(std::string_view kind, const std::string& id_or_url, error_code last,
                                  diagnostics diag) {
    job_status j;
    j.kind = std::string(kind);
    j.id = id_or_url;
    j.diag = std::move(diag);
    j.diag.detail = "could not learn the state of " + std::string(kind) + " job " + id_or_url + " (last check: " +
                    last.message() + (j.diag.detail.empty() ? "" : "; " + j.diag.detail) +
                    "); it may still finish: check it with 'cspark-impex status " + id_or_url + " --kind " +
                    std::string(kind) + "'";
    return {errc::job_state_unknown, std::move(j)};
}

// One status check, or a poll until the job ends. While waiting, a check that
// fails in a way that may pass is retried on the poll schedule: a failure to
// learn a job's state is not a failed job (job_state_unknown when it lasts).
asio::awaitable<outcome<job_status>> poll_job(client& c, std::string kind, std::string id_or_url, poll_options po,
                                              bool wait, progress_fn progress) {
    co_await asio::this_coro::throw_if_cancelled(false);
    poll_policy policy;
    policy.max_attempts = po.max_retries.value_or(0);
    policy.interval = po.retry_interval.value_or(std::chrono::milliseconds(1000));
    policy.max_interval = po.max_interval;
    policy.deadline = po.deadline;
    auto started = c.timer()->now();
    std::mt19937_64 rng{std::hash<std::string>{}(id_or_url)};
    std::string last_status;
    error_code last_failure;
    diagnostics last_diag;
    for (int attempts = 1;; ++attempts) {
        job_status j;
        request req;
        req.target = status_target(kind, id_or_url);
        auto got = co_await call_json(c, req, j.diag);
        std::string why;
        error_code failed = got.ec;
        if (!failed && !parse_job(got.value, kind, j, why)) {
            j.diag.detail = why;
            j.diag.body_excerpt = excerpt(json::serialize(got.value), 512);
            failed = errc::unexpected_response;
        }
        if (failed) {
            if (failed == errc::cancelled || co_await was_cancelled()) co_return outcome<job_status>{errc::cancelled, std::move(j)};
            if (!wait) co_return outcome<job_status>{failed, std::move(j)};
            if (!status_check_may_pass(failed)) co_return state_unknown(kind, id_or_url, failed, std::move(j.diag));
            last_failure = failed;
            last_diag = j.diag;
            c.log().log(log_level::warn, "checking " + kind + " job " + id_or_url + " failed (" + failed.message() +
                                             "): asking again");
        } else {
            last_failure = {};
            if (j.status != last_status) {
                last_status = j.status;
                emit(progress, event(progress_event::kind::status, kind, j.id, j.status));
            }
            switch (j.state) {
            case job_state::succeeded: co_return outcome<job_status>{{}, std::move(j)};
            case job_state::failed:
                j.diag.detail = kind + " job " + j.id + " ended '" + j.status + "' with errors: " +
                                excerpt(json::serialize(j.errors), 2048);
                co_return outcome<job_status>{errc::job_failed, std::move(j)};
            case job_state::cancelled:
                j.diag.detail = kind + " job " + j.id + " was cancelled";
                co_return outcome<job_status>{errc::job_cancelled, std::move(j)};
            case job_state::pending: break;
            }
            if (!wait) co_return outcome<job_status>{{}, std::move(j)};
        }
        auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(c.timer()->now() - started);
        auto step = next_poll(policy, attempts, elapsed, std::uniform_real_distribution<double>(0, 1)(rng));
        if (step.what == poll_step::action::give_up) {
            if (last_failure) co_return state_unknown(kind, id_or_url, last_failure, std::move(last_diag));
            j.diag.detail = kind + " job " + j.id + " still '" + j.status + "' after " + std::to_string(attempts) +
                            " checks in " + std::to_string(elapsed.count()) + " ms (" + std::string(step.reason) +
                            "); it may still finish: check it with 'cspark-impex status " + j.id + " --kind " + kind + "'";
            co_return outcome<job_status>{errc::poll_timeout, std::move(j)};
        }
        if (!failed)
            c.log().log(log_level::info, "waiting for " + kind + " job " + j.id + " (attempt " + std::to_string(attempts) +
                                             ", status " + j.status + ")");
        auto [slept] = co_await c.timer()->async_sleep(c.get_executor(), step.delay, use_tuple);
        if (slept || co_await was_cancelled()) {
            j.diag.detail = "cancelled while waiting for " + kind + " job " + id_or_url;
            co_return outcome<job_status>{errc::cancelled, std::move(j)};
        }
    }
}

// ---------------------------------------------------------------- export

bool export_body(const export_request& r, std::string& body, std::string& why) {
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
                   {"correlation_id", r.correlation_id.empty() ? json::value(nullptr) : json::value(r.correlation_id)}};
    body = json::serialize(o);
    return true;
}

asio::awaitable<outcome<json::value>> describe_jobs(client& c, std::string kind) {
    diagnostics d;
    request req;
    req.target = kind + "/status";
    auto got = co_await call_json(c, req, d);
    if (got.ec) got.value = nullptr;
    co_return got;
}

std::string joined(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
    return out;
}

asio::awaitable<job_search> search_job(client& c, std::string kind, std::string correlation_id,
                                       clock_type::time_point post_began, std::optional<json::array> sent,
                                       poll_options po) {
    job_search out;
    auto described = co_await describe_jobs(c, kind);
    if (described.ec) {
        out.verdict = job_search::what::unknown;
        out.ec = described.ec;
        out.detail = "the tenant's " + kind + " jobs could not be listed (" + described.ec.message() + ")";
        co_return out;
    }
    auto since = std::chrono::duration_cast<std::chrono::milliseconds>(c.timer()->now() - post_began);
    auto look = identify_job(read_describe(described.value, kind), correlation_id, since);
    if (look.what == job_lookup::verdict::found) {
        auto st = co_await poll_job(c, kind, look.id, {}, false, {});
        out.verdict = job_search::what::found;
        out.job = std::move(st.value);
        out.job.id = look.id;
        co_return out;
    }
    if (look.what == job_lookup::verdict::not_created) co_return out;
    out.candidates = look.candidates;
    out.verdict = job_search::what::unknown;
    if (!sent) {
        out.detail = "describe shows no correlation ids and " + kind + " jobs cannot be confirmed by their outputs";
        co_return out;
    }
    // Describe shows no correlation ids: a candidate is ours when it ends with
    // outputs that are exactly the mappings sent. A failed one imported nothing.
    std::vector<std::string> matches, undecided;
    for (const auto& id : look.candidates) {
        auto st = co_await poll_job(c, kind, id, po, true, {});
        if (st.ec == errc::cancelled) {
            out.ec = errc::cancelled;
            co_return out;
        }
        if (!st.ec && outputs_match(st.value.outputs, *sent)) {
            matches.push_back(id);
            out.job = std::move(st.value);
        } else if (st.ec && st.ec != errc::job_failed && st.ec != errc::job_cancelled) {
            undecided.push_back(id);
        }
    }
    if (matches.size() == 1 && undecided.empty()) {
        out.verdict = job_search::what::found;
        co_return out;
    }
    if (matches.empty() && undecided.empty()) {
        out.verdict = job_search::what::not_created;
        co_return out;
    }
    out.detail = std::to_string(matches.size()) + " finished job(s) match the mappings sent (" + joined(matches) +
                 ") and " + std::to_string(undecided.size()) + " could not be checked (" + joined(undecided) + ")";
    co_return out;
}

// POST export. With a correlation id, a POST whose answer was lost is looked
// up (describe) and adopted when found, or sent again when no job was made.
asio::awaitable<outcome<job_status>> export_initiate(client& c, export_request r) {
    co_await asio::this_coro::throw_if_cancelled(false);
    job_status j;
    std::string body, why;
    if (!export_body(r, body, why)) {
        j.diag.detail = why;
        co_return outcome<job_status>{errc::invalid_argument, std::move(j)};
    }
    for (int attempt = 1;; ++attempt) {
        request req;
        req.method = http_method::post;
        req.target = "export";
        req.body = body;
        req.content_type = "application/json";
        auto began = c.timer()->now();
        auto got = co_await call_json(c, req, j.diag);
        if (!got.ec) {
            if (!parse_job(got.value, "export", j, why)) {
                j.diag.detail = "export initiate: " + why;
                co_return outcome<job_status>{errc::unexpected_response, std::move(j)};
            }
            break;
        }
        if (got.ec == errc::cancelled || r.correlation_id.empty() || !maybe_reached(got.ec, j.diag) || attempt >= 3 ||
            co_await was_cancelled())
            co_return outcome<job_status>{got.ec, std::move(j)};
        auto found = co_await search_job(c, "export", r.correlation_id, began, std::nullopt, {});
        if (found.ec == errc::cancelled || co_await was_cancelled()) co_return outcome<job_status>{errc::cancelled, std::move(j)};
        if (found.verdict == job_search::what::found) {
            c.log().log(log_level::warn, "export request failed (" + got.ec.message() + ") but job <" + found.job.id +
                                             "> exists for correlation id " + r.correlation_id + ": using it");
            j = std::move(found.job);
            break;
        }
        // Sending again is harmless for an export (a stray job only reads).
        emit(r.progress, retrying("export", std::chrono::milliseconds(0), "export request failed (" + got.ec.message() + "): sending again"));
        j.diag = {};
    }
    c.log().log(log_level::info, "export job created <" + j.id + ">");
    emit(r.progress, event(progress_event::kind::job_created, "export", j.id, j.status));
    co_return outcome<job_status>{{}, std::move(j)};
}

asio::awaitable<outcome<job_status>> export_cancel(client& c, std::string id) {
    co_await asio::this_coro::throw_if_cancelled(false);
    job_status j;
    request req;
    req.method = http_method::patch;
    req.target = "export/" + id;
    req.body = R"({"export_status":"cancelled"})";
    req.content_type = "application/json";
    auto got = co_await call_json(c, req, j.diag);
    if (got.ec) co_return outcome<job_status>{got.ec, std::move(j)};
    std::string why;
    if (!parse_job(got.value, "export", j, why)) j.id = id;  // tolerant: the cancel went through
    co_return outcome<job_status>{{}, std::move(j)};
}

// ---------------------------------------------------------------- download

std::string file_name_from_url(const std::string& url, const std::string& fallback) {
    std::string path = url.substr(0, url.find_first_of("?#"));
    auto slash = path.rfind('/');
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    std::string out;
    for (char ch : name) out += (std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == '_') ? ch : '_';
    if (out.empty() || out == "." || out == ".." || out.size() > 200) out = fallback;
    return out;
}

bool is_hex(std::string_view s) {
    for (unsigned char c : s)
        if (!std::isxdigit(c)) return false;
    return !s.empty();
}

// Writes into `<name>.part` (or memory), hashing as it goes; resumes after a
// drop when the server answers the Range with 206 from the right offset.
class download_sink final : public body_sink {
public:
    download_sink(int fd, std::string path, bool md5, const download_options& o)
        : fd_(fd), path_(std::move(path)), md5_(hasher::kind::md5), want_md5_(md5), opt_(o) {}
    void start(int status, std::optional<std::uint64_t> length, const header_list& headers, error_code& ec) override {
        if (status == 206 && written_ > 0) {
            auto from = content_range_start(find_header(headers, "content-range"));  // "bytes N-M/T"
            if (!from || *from != written_) {
                failure_ = "the server resumed the download at the wrong byte (Content-Range '" +
                           std::string(find_header(headers, "content-range")) + "', expected byte " + std::to_string(written_) + ")";
                ec = errc::unexpected_response;
                return;
            }
            total_ = length ? written_ + *length : 0;
            ++resumes_;
            return;
        }
        if (written_ > 0) restart(ec);  // the server sent the whole file again
        total_ = length.value_or(0);
    }
    void write(std::span<const char> d, error_code& ec) override {
        if (opt_.in_memory) {
            if (data_.size() + d.size() > opt_.memory_limit) {
                ec = errc::body_too_large;
                return;
            }
            data_.append(d.data(), d.size());
        } else if (!write_all(fd_, d.data(), d.size())) {
            fail_io("writing", ec);
            return;
        }
        sha_.update(d);
        if (want_md5_) md5_.update(d);
        written_ += d.size();
        if (opt_.progress) opt_.progress(transfer("export", {}, written_, total_));
    }
    std::uint64_t resume_offset() const override { return written_; }

    // "bytes N-M/T" -> N
    static std::optional<std::uint64_t> content_range_start(std::string_view range) {
        auto sp = range.find(' '), dash = range.find('-');
        if (sp == std::string_view::npos || dash == std::string_view::npos || dash <= sp + 1) return std::nullopt;
        std::uint64_t from = 0;
        for (char ch : range.substr(sp + 1, dash - sp - 1)) {
            if (ch < '0' || ch > '9') return std::nullopt;
            from = from * 10 + static_cast<std::uint64_t>(ch - '0');
        }
        return from;
    }

    std::uint64_t written_ = 0, total_ = 0;
    int resumes_ = 0;
    std::string data_;
    hasher sha_;
    std::string failure_;  ///< what went wrong locally, naming the path and the system error

    std::string md5_hex() { return md5_.hex_digest(); }

private:
    void fail_io(const char* what, error_code& ec) {
        failure_ = std::string(what) + " '" + path_ + "' failed: " + std::strerror(errno);
        ec = errc::file_error;
    }
    void restart(error_code& ec) {
        written_ = 0;
        sha_ = hasher();
        md5_ = hasher(hasher::kind::md5);
        data_.clear();
        if (!opt_.in_memory && (::ftruncate(fd_, 0) != 0 || ::lseek(fd_, 0, SEEK_SET) != 0)) fail_io("truncating", ec);
    }
    int fd_;
    std::string path_;
    hasher md5_;
    bool want_md5_;
    const download_options& opt_;
};

// Renames `from` to `to`; without `replace`, never over an existing file
// (atomically where the file system supports RENAME_NOREPLACE).
bool publish(const std::filesystem::path& from, const std::filesystem::path& to, bool replace, error_code& ec,
             std::string& why) {
    int rc = replace ? ::rename(from.c_str(), to.c_str())
                     : ::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE);
    if (rc != 0 && !replace && (errno == EINVAL || errno == ENOSYS)) {
        rc = ::link(from.c_str(), to.c_str());  // no RENAME_NOREPLACE here: link() refuses to replace too
        if (rc == 0) ::unlink(from.c_str());
    }
    if (rc == 0) return true;
    ec = errno == EEXIST ? errc::file_exists : errc::file_error;
    why = errno == EEXIST ? "'" + to.string() + "' already exists: not replaced (ask to overwrite)"
                          : "cannot rename '" + from.string() + "' to '" + to.string() + "': " + std::strerror(errno);
    return false;
}

// Without a server hash the package is at least checked as a ZIP: end
// record, central directory, and every entry's size and CRC-32.
bool readable_zip(const std::filesystem::path& p, std::string& why) {
    auto z = zip::reader::open(p, why);
    if (!z) return false;
    for (const auto& e : z->entries())
        if (!e.is_directory() && !z->read(e, [](std::span<const char>) {}, why)) return false;
    return true;
}

asio::awaitable<outcome<downloaded_file>> download_file(client& c, export_file file, download_options opt) {
    co_await asio::this_coro::throw_if_cancelled(false);
    downloaded_file out;
    std::string why;
    if (!is_download_link(file.url, why)) {
        out.diag.detail = why;
        co_return outcome<downloaded_file>{errc::unsupported_scheme, std::move(out)};
    }
    std::string expected = to_lower(trim(file.file_hash.empty() ? opt.expected_hash : file.file_hash));
    bool md5 = expected.size() == 32 && is_hex(expected);
    std::filesystem::path final_path, part;
    int fd = -1;
    if (!opt.in_memory) {
        std::error_code fec;
        std::filesystem::create_directories(opt.directory, fec);
        final_path = opt.directory / (opt.file_name.empty() ? file_name_from_url(file.url, "package.zip") : opt.file_name);
        if (!opt.overwrite && std::filesystem::symlink_status(final_path, fec).type() != std::filesystem::file_type::not_found) {
            out.diag.detail = "'" + final_path.string() + "' already exists: not replaced (ask to overwrite)";
            co_return outcome<downloaded_file>{errc::file_exists, std::move(out)};
        }
        part = final_path;
        part += ".part";
        fd = ::open(part.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0) {
            out.diag.detail = "cannot create '" + part.string() + "': " + std::strerror(errno);
            co_return outcome<downloaded_file>{errc::file_error, std::move(out)};
        }
    }
    struct cleanup {
        int& fd;
        std::filesystem::path part;
        bool keep = false;
        ~cleanup() {
            if (fd >= 0) ::close(fd);
            if (!keep && !part.empty()) {
                std::error_code ignored;
                std::filesystem::remove(part, ignored);
            }
        }
    } guard{fd, part};

    download_sink sink(fd, part.string(), md5, opt);
    error_code ec;
    for (int round = 0;; ++round) {
        request req;
        req.target = file.url;
        req.sink = &sink;
        req.idempotent = true;
        auto [sec, resp] = co_await c.async_send(req, use_tuple);
        ec = sec;
        out.diag = resp.diag;
        if (!sink.failure_.empty()) out.diag.detail = sink.failure_;
        if (!ec) break;
        bool dropped = ec == errc::connection_closed || ec == errc::idle_timeout || ec == errc::request_timeout;
        if (!dropped || round >= opt.max_resumes || co_await was_cancelled()) break;
        c.log().log(log_level::warn, "download interrupted after " + std::to_string(sink.written_) + " bytes: resuming");
        emit(opt.progress, retrying("export", std::chrono::milliseconds(0), "resuming the download at byte " + std::to_string(sink.written_)));
    }
    if (ec) {
        if (ec == errc::cancelled || co_await was_cancelled()) ec = errc::cancelled;
        co_return outcome<downloaded_file>{ec, std::move(out)};
    }
    out.size = sink.written_;
    out.resumes = sink.resumes_;
    out.sha256 = sink.sha_.hex_digest();
    bool comparable = md5 || (expected.size() == 64 && is_hex(expected));
    if (comparable) {
        std::string actual = md5 ? sink.md5_hex() : out.sha256;
        if (actual != expected) {
            out.diag.detail = "file_hash mismatch for " + mask_url(file.url) + ": expected " + expected + ", got " + actual +
                              (part.empty() ? "" : "; '" + part.string() + "' removed");
            co_return outcome<downloaded_file>{errc::hash_mismatch, std::move(out)};
        }
        out.verified = true;
    } else if (!expected.empty()) {
        c.log().log(log_level::warn, "file_hash '" + expected + "' is neither SHA-256 nor MD5: not verified");
    }
    if (opt.in_memory) {
        out.data = std::move(sink.data_);
        co_return outcome<downloaded_file>{{}, std::move(out)};
    }
    if ((opt.durable && ::fsync(fd) != 0) || ::close(fd) != 0) {
        fd = -1;
        out.diag.detail = "cannot flush '" + part.string() + "': " + std::strerror(errno);
        co_return outcome<downloaded_file>{errc::file_error, std::move(out)};
    }
    fd = -1;
    if (!out.verified) {
        if (!readable_zip(part, why)) {
            out.diag.detail = "the package from " + mask_url(file.url) + " is not a readable ZIP (" + why +
                              ") and the server gave no hash to check it against; '" + part.string() + "' removed";
            co_return outcome<downloaded_file>{errc::invalid_package, std::move(out)};
        }
        c.log().log(log_level::warn, "'" + final_path.string() + "' was not verified by the server (no file_hash): its ZIP "
                                     "structure and CRCs were checked");
    }
    if (!publish(part, final_path, opt.overwrite, ec, why)) {
        out.diag.detail = why;
        co_return outcome<downloaded_file>{ec, std::move(out)};
    }
    guard.keep = true;
    out.path = final_path;
    co_return outcome<downloaded_file>{{}, std::move(out)};
}

// ---------------------------------------------------------------- import

void add_mapping(json::array& out, const std::string& src, const std::string& dst, upgrade u, error_code& ec,
                 std::string& why) {
    auto s = parse_service_uri(src, why);
    if (!s || s->form != service_uri::kind::folder_service) {
        if (s) why = "import source '" + src + "' must be {folder}/{service}";
        ec = errc::invalid_argument;
        return;
    }
    std::string target = dst.empty() ? s->path() : dst;
    auto t = parse_service_uri(target, why);
    if (!t || t->form != service_uri::kind::folder_service) {
        if (t) why = "import target '" + target + "' must be {folder}/{service}";
        ec = errc::invalid_argument;
        return;
    }
    out.push_back(json::object{{"service_uri_source", s->path()},
                               {"service_uri_destination", t->path()},
                               {"update_version_type", to_string(u)}});
}

}  // namespace detail

std::optional<json::array> services_modify(const destinations& d, error_code& ec, std::string& why) {
    ec = {};
    json::array out;
    std::visit(
        [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::string>) {
                detail::add_mapping(out, v, "", upgrade::minor, ec, why);
            } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
                for (const auto& s : v)
                    if (!ec) detail::add_mapping(out, s, "", upgrade::minor, ec, why);
            } else if constexpr (std::is_same_v<T, service_mapping>) {
                detail::add_mapping(out, v.source, v.target, v.upgrade, ec, why);
            } else {
                for (const auto& m : v)
                    if (!ec) detail::add_mapping(out, m.source, m.target, m.upgrade, ec, why);
            }
        },
        d);
    if (!ec && out.empty()) {
        ec = errc::invalid_argument;
        why = "no destination: give at least one {source, target} mapping";
    }
    if (ec) return std::nullopt;
    return out;
}

namespace detail {

asio::awaitable<outcome<job_status>> import_initiate(client& c, import_request r) {
    co_await asio::this_coro::throw_if_cancelled(false);
    job_status j;
    std::string why;
    error_code ec;
    auto mods = services_modify(r.destination, ec, why);
    if (!mods) {
        j.diag.detail = why;
        co_return outcome<job_status>{ec, std::move(j)};
    }
    std::string correlation = r.correlation_id.empty() ? new_correlation_id() : r.correlation_id;
    std::optional<json::array> sent = *mods;
    json::object entity{{"inputs", json::object{{"services_modify", std::move(*mods)}}},
                        {"services_existing", to_string(r.if_present)},
                        {"source_system", r.source_system.empty() ? std::string("cspark-impex") : r.source_system},
                        {"correlation_id", correlation}};
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    std::string boundary = make_boundary(rng);
    std::vector<std::unique_ptr<body_source>> parts;
    parts.push_back(make_string_source(multipart_part_head(boundary, "importRequestEntity", "", "", true) +
                                       json::serialize(entity)));
    parts.push_back(make_string_source(multipart_part_head(boundary, "file", "package.zip", "application/zip", false)));
    error_code fec;
    auto file = make_file_source(r.file, fec);
    if (!file) {
        j.diag.detail = "cannot read the package '" + r.file.string() + "': " + std::strerror(errno);
        co_return outcome<job_status>{errc::file_error, std::move(j)};
    }
    if (r.max_package_bytes > 0 && file->size() > r.max_package_bytes) {
        j.diag.detail = "package '" + r.file.string() + "' is " + std::to_string(file->size()) +
                        " bytes, over the upload limit of " + std::to_string(r.max_package_bytes) +
                        " bytes: it was not sent (raise the limit only if the tenant's is higher)";
        co_return outcome<job_status>{errc::package_too_large, std::move(j)};
    }
    // Upload progress: the file part reports bytes read (sent) against its size.
    class counting_source final : public body_source {
    public:
        counting_source(std::unique_ptr<body_source> inner, progress_fn fn)
            : inner_(std::move(inner)), fn_(std::move(fn)) {}
        std::uint64_t size() const override { return inner_->size(); }
        std::size_t read(std::span<char> buf, error_code& ec) override {
            std::size_t n = inner_->read(buf, ec);
            done_ += n;
            if (fn_ && (done_ - reported_ >= (1u << 20) || done_ == size())) {
                reported_ = done_;
                fn_(transfer("import", {}, done_, size()));
            }
            return n;
        }
        void rewind(error_code& ec) override {
            inner_->rewind(ec);
            done_ = reported_ = 0;
        }

    private:
        std::unique_ptr<body_source> inner_;
        progress_fn fn_;
        std::uint64_t done_ = 0, reported_ = 0;
    };
    parts.push_back(std::make_unique<counting_source>(std::move(file), r.progress));
    parts.push_back(make_string_source(multipart_tail(boundary)));
    auto body = make_concat_source(std::move(parts));

    for (int attempt = 1;; ++attempt) {
        request req;
        req.method = http_method::post;
        req.target = "import";
        req.content_type = "multipart/form-data; boundary=" + boundary;
        req.source = body.get();
        auto began = c.timer()->now();
        auto [sec, resp] = co_await c.async_send(req, use_tuple);
        if (!sec) {
            error_code jec;
            json::value v = parse_json_body(resp, jec, j.diag);
            if (jec || !parse_job(v, "import", j, why)) {
                if (!jec) j.diag.detail = "import initiate: " + why;
                co_return outcome<job_status>{jec ? jec : error_code(errc::unexpected_response), std::move(j)};
            }
            c.log().log(log_level::info, "import job created <" + j.id + ">");
            emit(r.progress, event(progress_event::kind::job_created, "import", j.id, j.status));
            co_return outcome<job_status>{{}, std::move(j)};
        }
        j.diag = resp.diag;
        if (sec == errc::cancelled || co_await was_cancelled() || !maybe_reached(sec, resp.diag))
            co_return outcome<job_status>{sec, std::move(j)};
        // The upload may have created a job: look before sending again.
        auto found = co_await search_job(c, "import", correlation, began, sent,
                                         poll_of(r.max_retries, r.retry_interval, r.poll_deadline));
        if (found.ec == errc::cancelled || co_await was_cancelled()) co_return outcome<job_status>{errc::cancelled, std::move(j)};
        if (found.verdict == job_search::what::found) {
            c.log().log(log_level::warn, "import upload failed (" + sec.message() + ") but job <" + found.job.id +
                                             "> is the one it created: using it");
            emit(r.progress, event(progress_event::kind::job_created, "import", found.job.id, found.job.status));
            co_return outcome<job_status>{{}, std::move(found.job)};
        }
        if (found.verdict == job_search::what::unknown) {
            j.diag.detail += std::string(j.diag.detail.empty() ? "" : "; ") + "the upload failed (" + sec.message() +
                             ") and may have created an import job: " + found.detail +
                             (found.candidates.empty() ? "" : "; candidate jobs: " + joined(found.candidates)) +
                             "; it was not sent again (correlation id " + correlation + ")";
            co_return outcome<job_status>{errc::import_outcome_unknown, std::move(j)};
        }
        if (attempt >= 3) co_return outcome<job_status>{sec, std::move(j)};  // none was created: a plain failure
        auto delay = std::chrono::milliseconds(500 * attempt);
        emit(r.progress, retrying("import", delay, "upload failed (" + sec.message() + ") and no job was created: sending again"));
        auto [slept] = co_await c.timer()->async_sleep(c.get_executor(), delay, use_tuple);
        if (slept || co_await was_cancelled()) co_return outcome<job_status>{errc::cancelled, std::move(j)};
    }
}

// Starts a job, waiting while the tenant already runs one (409 from Spark).
template <class Start>
asio::awaitable<outcome<job_status>> start_when_free(client& c, Start start, std::chrono::milliseconds deadline,
                                                     const progress_fn& progress, std::string kind) {
    auto began = c.timer()->now();
    for (int attempt = 1;; ++attempt) {
        auto o = co_await start();
        if (o.ec != errc::conflict) co_return o;
        auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(c.timer()->now() - began);
        auto delay = std::min<std::chrono::milliseconds>(std::chrono::milliseconds(500) * attempt, std::chrono::seconds(10));
        if (deadline.count() > 0 && waited + delay > deadline) co_return o;
        emit(progress, retrying(kind, delay, "another " + kind + " job of the tenant is running"));
        auto [slept] = co_await c.timer()->async_sleep(c.get_executor(), delay, use_tuple);
        if (slept || co_await was_cancelled()) co_return outcome<job_status>{errc::cancelled, std::move(o.value)};
    }
}

// Cancels the job a cancelled initiate may have created (best effort: the
// caller is already failing).
asio::awaitable<void> cancel_unseen_export(client& c, const std::string& correlation_id, clock_type::time_point began) {
    co_await asio::this_coro::reset_cancellation_state();
    auto found = co_await search_job(c, "export", correlation_id, began, std::nullopt, {});
    if (found.verdict == job_search::what::found) {
        co_await export_cancel(c, found.job.id);
        c.log().log(log_level::info, "cancelled export job " + found.job.id + " created by an interrupted request");
    }
}

asio::awaitable<outcome<export_result>> run_exp(client& c, export_request r) {
    co_await asio::this_coro::throw_if_cancelled(false);
    export_result out;
    // A correlation id lets a job created by an interrupted POST be found.
    if (r.correlation_id.empty()) r.correlation_id = new_correlation_id();
    auto start = [&c, &r]() { return export_initiate(c, r); };
    auto began = c.timer()->now();
    auto created = co_await start_when_free(c, start, r.poll_deadline, r.progress, "export");
    out.job = created.value;
    if (created.ec) {
        out.diag = created.value.diag;
        if (created.ec == errc::cancelled || maybe_reached(created.ec, out.diag))
            co_await cancel_unseen_export(c, r.correlation_id, began);
        co_return outcome<export_result>{created.ec, std::move(out)};
    }
    std::string id = created.value.id;
    auto fail = [&](error_code ec, diagnostics d) {
        out.diag = std::move(d);
        emit(r.progress, failure("export", id, out.job.status, ec.message()));
        return outcome<export_result>{ec, std::move(out)};
    };
    auto done = co_await poll_job(c, "export", id, poll_of(r.max_retries, r.retry_interval, r.poll_deadline), true, r.progress);
    out.job = done.value;
    if (done.ec) {
        bool cancelled = done.ec == errc::cancelled || co_await was_cancelled();
        if (cancelled || done.ec == errc::poll_timeout || done.ec == errc::job_state_unknown) {
            // The flow gives up on a job that may still run: best effort, do
            // not leave it running (an export only reads; a rerun makes another).
            co_await asio::this_coro::reset_cancellation_state();
            auto stopped = co_await export_cancel(c, id);
            c.log().log(log_level::info, "cancelled export job " + id + ": " +
                                             (stopped.ec ? stopped.ec.message() : stopped.value.status));
            if (!stopped.ec && !cancelled) done.value.diag.detail += "; the export job was cancelled";
        }
        co_return fail(cancelled ? error_code(errc::cancelled) : done.ec, done.value.diag);
    }
    if (out.job.files.empty()) {
        diagnostics d;
        d.detail = "export job " + id + " finished '" + out.job.status + "' without files";
        co_return fail(errc::no_files, d);
    }
    std::size_t n = 0;
    std::set<std::string> names;  // two links may end in the same name: never one path for both
    for (const auto& f : out.job.files) {
        download_options opt;
        opt.directory = r.directory;
        opt.durable = r.durable;
        opt.overwrite = r.overwrite;
        opt.progress = r.progress;
        opt.file_name = unique_name(file_name_from_url(f.url, id + "-" + std::to_string(n) + ".zip"), names);
        ++n;
        auto got = co_await download_file(c, f, opt);
        if (got.ec) {
            for (auto& prev : out.files) {  // nothing half-done stays behind
                std::error_code ignored;
                std::filesystem::remove(prev.path, ignored);
            }
            out.files.clear();
            co_return fail(got.ec, got.value.diag);
        }
        out.files.push_back(std::move(got.value));
    }
    c.log().log(log_level::info, "export job " + id + " completed");
    emit(r.progress, event(progress_event::kind::finished, "export", id, out.job.status));
    co_return outcome<export_result>{{}, std::move(out)};
}

void summarize(const json::value& outputs, import_result& r) {
    if (!outputs.is_object()) return;
    auto read = [&](std::string_view key, std::vector<import_outcome>& into) {
        const auto* list = outputs.get_object().if_contains(key);
        if (!list || !list->is_array()) return;
        for (const auto& item : list->get_array())
            if (item.is_object())
                into.push_back({str_of(item.get_object(), "service_uri_source"),
                                str_of(item.get_object(), "service_uri_destination"), str_of(item.get_object(), "status")});
    };
    read("services", r.services);
    read("service_versions", r.versions);
}

asio::awaitable<outcome<import_result>> run_imp(client& c, import_request r) {
    co_await asio::this_coro::throw_if_cancelled(false);
    import_result out;
    auto start = [&c, &r]() { return import_initiate(c, r); };
    auto created = co_await start_when_free(c, start, r.poll_deadline, r.progress, "import");
    out.job = created.value;
    if (created.ec) {
        out.diag = created.value.diag;
        emit(r.progress, failure("import", {}, {}, created.ec.message()));
        co_return outcome<import_result>{created.ec, std::move(out)};
    }
    auto done = co_await poll_job(c, "import", created.value.id, poll_of(r.max_retries, r.retry_interval, r.poll_deadline),
                                  true, r.progress);
    out.job = done.value;
    summarize(out.job.outputs, out);
    if (done.ec) {
        out.diag = done.value.diag;
        emit(r.progress, failure("import", out.job.id, out.job.status, done.ec.message()));
        co_return outcome<import_result>{done.ec, std::move(out)};
    }
    if (out.services.empty()) c.log().log(log_level::warn, "import job " + out.job.id + " reports no services");
    emit(r.progress, event(progress_event::kind::finished, "import", out.job.id, out.job.status));
    co_return outcome<import_result>{{}, std::move(out)};
}

// Every exported service imported to itself when no destination is given.
destinations default_destinations(const export_result& e, const destinations& given) {
    bool empty = std::visit(
        [](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::string>) return v.empty();
            else if constexpr (std::is_same_v<T, service_mapping>) return v.source.empty();
            else return v.empty();
        },
        given);
    if (!empty) return given;
    std::vector<std::string> all;
    if (e.job.outputs.is_object())
        if (const auto* list = e.job.outputs.get_object().if_contains("services"); list && list->is_array())
            for (const auto& s : list->get_array())
                if (s.is_object()) all.push_back(str_of(s.get_object(), "service_uri_source"));
    return all;
}

}  // namespace detail

// ---------------------------------------------------------------- public glue

impex::impex(client c) : client_(std::move(c)) {}

void job_verbs::do_status(const std::string& id, poll_options p, bool wait,
                          asio::any_completion_handler<void(error_code, job_status)> h) {
    auto& c = owner_->client_;
    detail::launch<job_status>(c.get_executor(), detail::poll_job(c, kind_, id, p, wait, {}), std::move(h));
}
void job_verbs::do_describe(asio::any_completion_handler<void(error_code, json::value)> h) {
    auto& c = owner_->client_;
    detail::launch<json::value>(c.get_executor(), detail::describe_jobs(c, kind_), std::move(h));
}
void exports_api::do_initiate(const export_request& r, asio::any_completion_handler<void(error_code, job_status)> h) {
    auto& c = owner_->client_;
    detail::launch<job_status>(c.get_executor(), detail::export_initiate(c, r), std::move(h));
}
void exports_api::do_download(const export_file& f, download_options o,
                              asio::any_completion_handler<void(error_code, downloaded_file)> h) {
    auto& c = owner_->client_;
    detail::launch<downloaded_file>(c.get_executor(), detail::download_file(c, f, std::move(o)), std::move(h));
}
void exports_api::do_cancel(const std::string& id, asio::any_completion_handler<void(error_code, job_status)> h) {
    auto& c = owner_->client_;
    detail::launch<job_status>(c.get_executor(), detail::export_cancel(c, id), std::move(h));
}
void imports_api::do_initiate(const import_request& r, asio::any_completion_handler<void(error_code, job_status)> h) {
    auto& c = owner_->client_;
    detail::launch<job_status>(c.get_executor(), detail::import_initiate(c, r), std::move(h));
}

asio::awaitable<export_result> impex::exp(export_request req) {
    auto o = co_await detail::run_exp(client_, std::move(req));
    throw_if(o.ec, o.value.diag);
    co_return std::move(o.value);
}

asio::awaitable<import_result> impex::imp(import_request req) {
    auto o = co_await detail::run_imp(client_, std::move(req));
    throw_if(o.ec, o.value.diag);
    co_return std::move(o.value);
}

asio::awaitable<migration_result> impex::migrate(impex& target, migrate_request req) {
    co_return co_await detail::run_migrate(client_, target.client_, std::move(req), nullptr);
}

namespace detail {

asio::awaitable<bool> gates::acquire(const std::string& key) {
    for (;;) {
        auto& g = gates_[key];
        if (!g.busy) {
            g.busy = true;
            co_return true;
        }
        auto t = std::make_shared<asio::steady_timer>(ex_, asio::steady_timer::time_point::max());
        g.waiters.push_back(t);
        co_await t->async_wait(use_tuple);  // woken by release(), or cancelled
        std::erase(gates_[key].waiters, t);
        if (co_await was_cancelled()) co_return false;
    }
}

void gates::release(const std::string& key) {
    auto& g = gates_[key];
    g.busy = false;
    while (!g.waiters.empty()) {
        auto t = std::move(g.waiters.front());
        g.waiters.pop_front();
        if (t->cancel() > 0) break;
    }
}

asio::awaitable<migration_result> run_migrate(client& src, client& dst, migrate_request req, gates* g) {
    co_await asio::this_coro::throw_if_cancelled(false);
    migration_result m;
    struct scratch_dir {  // transient packages: a private directory, so no name collides
        std::filesystem::path path;
        ~scratch_dir() {
            std::error_code ignored;
            if (!path.empty()) std::filesystem::remove_all(path, ignored);
        }
    } scratch;
    if (!req.keep_files) {
        req.exports.durable = false;  // imported, then deleted
        std::string tmpl = (req.exports.directory / "cspark-migrate-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) {
            m.ec = errc::file_error;
            m.diag.detail = "cannot create a directory in '" + req.exports.directory.string() + "': " + std::strerror(errno);
            co_return m;
        }
        scratch.path = req.exports.directory = tmpl;
    }
    auto began = clock_type::now();
    std::string export_key = "export " + src.url().to_string();
    std::string import_key = "import " + dst.url().to_string();
    if (g && !co_await g->acquire(export_key)) {
        m.ec = errc::cancelled;
        co_return m;
    }
    auto exported = co_await run_exp(src, req.exports);
    if (g) g->release(export_key);
    m.exported = std::move(exported.value);
    if (exported.ec) {
        m.ec = exported.ec;
        m.diag = m.exported.diag;
        m.diag.detail = "export from " + src.url().to_string() + ": " + m.diag.detail;
    } else {
        for (const auto& f : m.exported.files) {
            import_request ir;
            ir.file = f.path;
            ir.destination = default_destinations(m.exported, req.destination);
            ir.if_present = req.if_present;
            ir.source_system = req.exports.source_system;
            ir.max_retries = req.exports.max_retries;
            ir.retry_interval = req.exports.retry_interval;
            ir.poll_deadline = req.exports.poll_deadline;
            ir.progress = req.exports.progress;
            if (g && !co_await g->acquire(import_key)) {
                m.ec = errc::cancelled;
                break;
            }
            auto imported = co_await run_imp(dst, std::move(ir));
            if (g) g->release(import_key);
            m.imported.push_back(std::move(imported.value));
            if (imported.ec) {
                m.ec = imported.ec;
                m.diag = m.imported.back().diag;
                m.diag.detail = "import into " + dst.url().to_string() + ": " + m.diag.detail;
                break;
            }
        }
    }
    m.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - began);
    co_return m;
}

}  // namespace detail
}  // namespace cspark
