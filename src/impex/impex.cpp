// The ImpEx verbs and flows: each one is the migration engine (engine.hpp)
// started in its own state and carried out by the driver (driver.hpp).
#include <cspark/impex.hpp>

#include "impex/codec.hpp"
#include "impex/driver.hpp"
#include "impex/flows.hpp"
#include "impex/policy.hpp"
#include "impex/transfer.hpp"

#include "core/text.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>

namespace cspark {
namespace asio = boost::asio;
namespace json = boost::json;

bool outcome_known(error_code ec) noexcept { return detail::outcome_is_final(ec); }

namespace detail {
namespace {

std::string new_correlation_id() {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    return "cspark-impex-" + uuid4(rng);
}

flow_policy policy_of(const poll_options& po) {
    flow_policy p;
    p.poll.max_attempts = po.max_retries.value_or(0);
    p.poll.interval = po.retry_interval.value_or(std::chrono::milliseconds(1000));
    p.poll.max_interval = po.max_interval;
    p.poll.deadline = po.deadline;
    p.adaptive = po.adaptive;
    return p;
}

// The outcome of a flow that ran one job of `kind`.
outcome<job_status> job_of(flow_state& st, const std::string& kind) {
    job_status j = kind == "export"       ? std::move(st.export_job)
                   : st.imports.empty()   ? std::move(st.import_job)
                                          : std::move(st.imports.back().job);
    j.diag = st.diag;
    return {st.ec, std::move(j)};
}

asio::awaitable<outcome<job_status>> wait_for(client& c, std::string kind, std::string id, poll_options po) {
    flow_start start;
    (kind == "export" ? start.export_id : start.import_id) = id;
    auto st = make_flow({}, policy_of(po), std::move(start));
    flow_io io;
    io.source = io.target = &c;
    co_await drive(st, io);
    co_return job_of(st, kind);
}

asio::awaitable<outcome<job_status>> initiate_export(client& c, export_request r) {
    flow_io io;
    io.source = &c;
    io.progress = r.progress;
    std::string why;
    if (!export_body(r, r.correlation_id, io.export_body, why)) {
        job_status j;
        j.diag.detail = why;
        co_return outcome<job_status>{errc::invalid_argument, std::move(j)};
    }
    flow_plan plan{.export_job = true, .stop_at_created = true, .wait_out_conflicts = false};
    auto st = make_flow(plan, policy_of(r.poll), {.export_cid = r.correlation_id});
    co_await drive(st, io);
    co_return job_of(st, "export");
}

// An import's flow: the mappings checked, the package and correlation id set.
std::optional<flow_state> import_flow(client& c, const import_request& r, flow_plan plan, flow_io& io, error_code& ec,
                                      std::string& why) {
    auto mods = services_modify(r.destination, ec, why);
    if (!mods) return std::nullopt;
    io.target = &c;
    io.action = r.if_present;
    io.source_system = r.source_system;
    io.max_package_bytes = r.max_package_bytes;
    io.progress = r.progress;
    flow_start start{.import_cid = r.correlation_id.empty() ? new_correlation_id() : r.correlation_id,
                     .packages = {r.file},
                     .services_modify = std::move(*mods)};
    return make_flow(plan, policy_of(r.poll), std::move(start));
}

asio::awaitable<outcome<job_status>> initiate_import(client& c, import_request r) {
    error_code ec;
    std::string why;
    flow_io io;
    auto st = import_flow(c, r, {.import_job = true, .stop_at_created = true, .wait_out_conflicts = false}, io, ec, why);
    if (!st) {
        job_status j;
        j.diag.detail = why;
        co_return outcome<job_status>{ec, std::move(j)};
    }
    co_await drive(*st, io);
    co_return job_of(*st, "import");
}

asio::awaitable<outcome<downloaded_file>> download_one(client& c, export_file f, download_options opt) {
    if (f.file_hash.empty()) f.file_hash = opt.expected_hash;
    flow_io io;
    io.source = &c;
    io.download = opt;
    flow_policy policy;
    policy.max_resumes = opt.max_resumes;
    auto st = make_flow({.download = true, .file_name = opt.file_name}, policy, {.files = {std::move(f)}});
    co_await drive(st, io);
    auto kept = st.files.take_kept();
    downloaded_file out = kept.empty() ? downloaded_file{} : std::move(kept.front());  // in memory: its bytes move
    out.diag = st.diag;
    co_return outcome<downloaded_file>{st.ec, std::move(out)};
}

// A migration's start from a checkpoint: a job by id, a POST by its
// correlation id (and when it was sent), a verified package.
flow_start start_of(const migration_checkpoint& from, flow_plan& plan) {
    using std::chrono::system_clock;
    auto age = [](const std::optional<system_clock::time_point>& t) -> std::optional<std::chrono::milliseconds> {
        if (!t) return std::nullopt;
        return std::max(std::chrono::milliseconds(0), std::chrono::duration_cast<std::chrono::milliseconds>(system_clock::now() - *t));
    };
    flow_start s;
    s.export_cid = from.export_correlation_id;
    s.export_intent_age = age(from.export_intent);
    s.export_id = from.export_job;
    s.import_cid = from.import_correlation_id;
    s.import_intent_age = age(from.import_intent);
    s.import_id = from.import_job;
    // A package gone since (removed, another machine) is fetched again from
    // the export job: an export only reads.
    std::error_code gone;
    bool package_here = !from.package.empty() && std::filesystem::exists(from.package, gone);
    if (package_here || !from.import_job.empty()) {
        plan.export_job = plan.download = false;  // the package is here (or no longer needed)
        if (package_here) s.packages = {from.package};
    }
    return s;
}

checkpoint_event checkpoint_of(const flow_note& n) {
    checkpoint_event e;
    if (n.checkpoint) e.after = *n.checkpoint;
    bool exp = n.kind == job_kind::export_job;
    switch (n.what) {
    case flow_note::type::intent:
        e.what = exp ? checkpoint_event::kind::export_intent : checkpoint_event::kind::import_intent;
        e.id = n.status;
        break;
    case flow_note::type::job_created:
        e.what = exp ? checkpoint_event::kind::export_job : checkpoint_event::kind::import_job;
        e.id = n.id;
        break;
    case flow_note::type::timing:
        e.what = exp ? checkpoint_event::kind::export_done : checkpoint_event::kind::import_done;
        e.id = n.id;
        e.duration = n.delay;
        break;
    default:
        e.what = checkpoint_event::kind::downloaded;
        e.path = n.path;
        e.sha256 = n.sha256;
        e.size = n.size;
        break;
    }
    return e;
}

}  // namespace

asio::awaitable<outcome<export_result>> run_exp(client& c, export_request r) {
    export_result out;
    std::string cid = r.correlation_id.empty() ? new_correlation_id() : r.correlation_id;
    flow_io io;
    io.source = &c;
    io.progress = r.progress;
    io.download.directory = r.directory;
    io.download.durable = r.durable;
    io.download.overwrite = r.overwrite;
    io.download.progress = r.progress;
    std::string why;
    if (!export_body(r, cid, io.export_body, why)) {
        out.diag.detail = why;
        co_return outcome<export_result>{errc::invalid_argument, std::move(out)};
    }
    error_code dir_ec;
    if (!prepare_directory(r.directory, dir_ec, why)) {  // before the POST: no job for a package that cannot be kept
        out.diag.detail = why;
        co_return outcome<export_result>{dir_ec, std::move(out)};
    }
    flow_plan plan{.export_job = true, .download = true, .file_prefix = r.file_prefix, .tenant = c.url().tenant};
    auto st = make_flow(plan, policy_of(r.poll), {.export_cid = cid});
    co_await drive(st, io);
    out.job = st.export_job;
    out.diag = st.diag;
    if (!st.ec) out.files = st.files.take_kept();
    co_return outcome<export_result>{st.ec, std::move(out)};
}

asio::awaitable<outcome<import_result>> run_imp(client& c, import_request r) {
    error_code ec;
    std::string why;
    flow_io io;
    auto st = import_flow(c, r, {.import_job = true}, io, ec, why);
    if (!st) {
        import_result out;
        out.diag.detail = why;
        co_return outcome<import_result>{ec, std::move(out)};
    }
    co_await drive(*st, io);
    import_result out = st->imports.empty() ? import_result{} : std::move(st->imports.back());
    if (st->imports.empty()) out.job = st->import_job;
    out.diag = st->diag;
    if (out.services.empty() && !st->ec) c.log().log(log_level::warn, "import job " + out.job.id + " reports no services");
    co_return outcome<import_result>{st->ec, std::move(out)};
}

std::string slot_key(job_kind kind, const client& c) { return kind_name(kind) + " " + c.url().to_string(); }
std::string host_key(job_kind kind, const client& c) { return kind_name(kind) + " " + c.url().server.to_string(); }

namespace {

// A migration's I/O: both clients, the slots, where packages go, and the
// checkpoint observer (intents, jobs, packages, timings) when there is one.
flow_io migrate_io(client& src, client& dst, const migrate_request& req, gates* g,
                   std::function<asio::awaitable<void>(const checkpoint_event&)>& checkpoint, std::uint64_t max_package_bytes) {
    const auto& r = req.exports;
    flow_io io;
    io.source = &src;
    io.target = &dst;
    io.slots = g;
    io.max_package_bytes = max_package_bytes;
    io.action = req.if_present;
    io.source_system = r.source_system;
    io.progress = r.progress;
    io.download.directory = r.directory;
    io.download.durable = r.durable;
    io.download.overwrite = r.overwrite;
    io.download.progress = r.progress;
    if (checkpoint) io.checkpoint = [&checkpoint](const flow_note& n) -> asio::awaitable<void> {
        if (n.what == flow_note::type::intent || n.what == flow_note::type::job_created || n.what == flow_note::type::downloaded ||
            n.what == flow_note::type::timing) {
            auto e = checkpoint_of(n);  // a named local: see docs/contributing.md, "Compiler notes" (g++ 12)
            co_await checkpoint(e);
        }
    };
    return io;
}

// The result of a migration's flow; a failure says which end it was at.
migration_result migration_of(flow_state& st, const client& src, const client& dst) {
    migration_result m;
    m.exported.job = st.export_job;
    m.exported.files = st.files.take_kept();
    m.exported.diag = st.failed_in == job_kind::export_job ? st.diag : diagnostics{};
    m.imported = std::move(st.imports);
    m.ec = st.ec;
    m.diag = st.diag;
    if (m.ec && m.ec != errc::cancelled)
        m.diag.detail = (st.failed_in == job_kind::export_job ? "export from " + src.url().to_string() : "import into " + dst.url().to_string()) +
                        (m.diag.detail.empty() ? "" : ": " + m.diag.detail);
    return m;
}

}  // namespace

asio::awaitable<migration_result> run_migrate(client& src, client& dst, migrate_request req, gates* g,
                                              const migration_checkpoint& from,
                                              std::function<asio::awaitable<void>(const checkpoint_event&)> checkpoint,
                                              std::uint64_t max_package_bytes) {
    migration_result m;
    auto began = clock_type::now();
    if (!req.keep_files) {
        req.exports.durable = false;  // imported, then deleted
        // Transient packages are named after this migration's own correlation
        // id, so migrations sharing a directory never meet on a name.
        if (req.exports.file_prefix.empty()) req.exports.file_prefix = "cspark-migrate-" + new_correlation_id().substr(13, 12);
    }
    const auto& r = req.exports;
    flow_io io = migrate_io(src, dst, req, g, checkpoint, max_package_bytes);
    std::string cid = from.export_correlation_id.empty() || !from.export_job.empty() ? new_correlation_id() : from.export_correlation_id;
    std::string why;
    if (!export_body(r, cid, io.export_body, why)) {
        m.ec = errc::invalid_argument;
        m.diag.detail = why;
        co_return m;
    }
    flow_plan plan{.export_job = true, .download = true, .import_job = true, .keep_files = req.keep_files,
                   .use_slots = g != nullptr, .file_prefix = r.file_prefix, .tenant = src.url().tenant};
    auto start = start_of(from, plan);
    if (start.export_cid.empty()) start.export_cid = cid;
    if (start.import_cid.empty()) start.import_cid = new_correlation_id();
    error_code ec;
    if (destination_given(req.destination)) {
        auto mods = services_modify(req.destination, ec, why);
        if (!mods) {
            m.ec = ec;
            m.diag.detail = why;
            co_return m;
        }
        start.services_modify = std::move(*mods);
    }
    // One migration checks its directory before the POST; a fleet's entries
    // share the directories their caller made (a probe file each would cost).
    if (!g && !prepare_directory(r.directory, ec, why)) {
        m.ec = ec;
        m.diag.detail = why;
        co_return m;
    }
    auto st = make_flow(plan, policy_of(r.poll), std::move(start));
    st.checkpoint = from;
    co_await drive(st, io);
    m = migration_of(st, src, dst);
    m.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - began);
    co_return m;
}

}  // namespace detail

// ---------------------------------------------------------------- public glue

impex::impex(client c) : client_(std::move(c)) {}

void job_verbs::do_status(const std::string& id, const poll_options* p,
                          asio::any_completion_handler<void(error_code, job_status)> h) {
    auto& c = owner_->client_;
    if (p) detail::launch<job_status>(c.get_executor(), detail::wait_for(c, kind_, id, *p), std::move(h));
    else detail::launch<job_status>(c.get_executor(), detail::check_once(c, kind_, id), std::move(h));
}
void job_verbs::do_describe(asio::any_completion_handler<void(error_code, json::value)> h) {
    auto& c = owner_->client_;
    detail::launch<json::value>(c.get_executor(), detail::describe_jobs(c, kind_), std::move(h));
}
void exports_api::do_initiate(const export_request& r, asio::any_completion_handler<void(error_code, job_status)> h) {
    auto& c = owner_->client_;
    detail::launch<job_status>(c.get_executor(), detail::initiate_export(c, r), std::move(h));
}
void exports_api::do_download(const export_file& f, download_options o,
                              asio::any_completion_handler<void(error_code, downloaded_file)> h) {
    auto& c = owner_->client_;
    detail::launch<downloaded_file>(c.get_executor(), detail::download_one(c, f, std::move(o)), std::move(h));
}
void exports_api::do_cancel(const std::string& id, asio::any_completion_handler<void(error_code, job_status)> h) {
    auto& c = owner_->client_;
    detail::launch<job_status>(c.get_executor(), detail::cancel_export(c, id), std::move(h));
}
void imports_api::do_initiate(const import_request& r, asio::any_completion_handler<void(error_code, job_status)> h) {
    auto& c = owner_->client_;
    detail::launch<job_status>(c.get_executor(), detail::initiate_import(c, r), std::move(h));
}

// The flows run on the client's strand whatever thread awaits them.
asio::awaitable<export_result> impex::exp(export_request req) {
    auto o = co_await detail::on_strand(client_.get_executor(), detail::run_exp(client_, std::move(req)));
    throw_if(o.ec, o.value.diag);
    co_return std::move(o.value);
}

asio::awaitable<import_result> impex::imp(import_request req) {
    auto o = co_await detail::on_strand(client_.get_executor(), detail::run_imp(client_, std::move(req)));
    throw_if(o.ec, o.value.diag);
    co_return std::move(o.value);
}

asio::awaitable<migration_result> impex::migrate(impex& target, migrate_request req) {
    // Named locals, not default-argument temporaries, in a co_await call (g++ 12: docs/contributing.md, "Compiler notes").
    migration_checkpoint from_start;
    std::function<asio::awaitable<void>(const checkpoint_event&)> no_journal;
    auto body = detail::run_migrate(client_, target.client_, std::move(req), nullptr, from_start, std::move(no_journal));
    auto m = co_await detail::on_strand(client_.get_executor(), std::move(body));
    co_return m;
}

}  // namespace cspark
