#include "impex/driver.hpp"

#include "impex/codec.hpp"
#include "impex/policy.hpp"
#include "impex/transfer.hpp"

#include "core/text.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

namespace cspark::detail {
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

asio::awaitable<bool> cancelled_now() {
    auto cs = co_await asio::this_coro::cancellation_state;
    co_return cs.cancelled() != asio::cancellation_type::none;
}

flow_event failed(error_code ec, std::string detail) {
    flow_event ev;
    ev.what = flow_event::type::failed;
    ev.ec = ec;
    ev.diag.detail = std::move(detail);
    return ev;
}

flow_event ok() {
    flow_event ev;
    ev.what = flow_event::type::ok;
    return ev;
}

progress_event progress_of(const flow_note& n) {
    progress_event e;
    e.job_kind = kind_name(n.kind);
    e.job_id = n.id;
    e.status = n.status;
    e.delay = n.delay;
    e.message = n.message;
    if (n.what == flow_note::type::retry) {
        e.reason = n.status;
        e.status.clear();
    }
    switch (n.what) {
    case flow_note::type::job_created: e.what = progress_event::kind::job_created; break;
    case flow_note::type::retry: e.what = progress_event::kind::retry; break;
    case flow_note::type::finished: e.what = progress_event::kind::finished; break;
    case flow_note::type::failed: e.what = progress_event::kind::failed; break;
    default: e.what = progress_event::kind::status; break;
    }
    return e;
}

job_history& history_of(client& c) { return c.get_transport()->history(); }

// One flow's I/O: the clients, the download being written, the slot held.
class runner {
public:
    runner(flow_state& st, flow_io& io) : st_(st), io_(io) {}

    client& for_kind(job_kind kind) { return kind == job_kind::import_job ? *io_.target : *io_.source; }
    client& clock() { return io_.source ? *io_.source : *io_.target; }

    // Observers see every note; a checkpoint is awaited before the next action.
    asio::awaitable<void> report() {
        auto notes = std::move(st_.notes);
        st_.notes.clear();
        for (const auto& n : notes) {
            if (n.what == flow_note::type::job_created && clock().log().enabled(log_level::info))
                clock().log().log(log_level::info, kind_name(n.kind) + " job created <" + n.id + ">");
            if (n.what == flow_note::type::retry) clock().log().log(log_level::warn, kind_name(n.kind) + ": " + n.message);
            if (n.what == flow_note::type::timing) {
                auto& h = history_of(for_kind(n.kind));
                h.record(slot_key(n.kind), n.delay);
                h.record(detail::host_key(n.kind, for_kind(n.kind)), n.delay);
                if (io_.checkpoint) co_await io_.checkpoint(n);  // a journal's phase times
                continue;
            }
            if (io_.progress && n.what != flow_note::type::intent && n.what != flow_note::type::downloaded)
                io_.progress(progress_of(n));
            if (io_.checkpoint) co_await io_.checkpoint(n);
        }
    }

    void release(std::optional<job_kind> kind) {
        if (kind && io_.slots) io_.slots->release(slot_key(*kind));
    }

    // Not a coroutine itself: it hands back the awaitable of the one action,
    // so a migration waiting on a step holds one small frame, not a frame
    // sized for every kind of step.
    asio::awaitable<flow_event> perform(const flow_action& a) {
        bool transfer = a.is<act::download>() || a.is<act::keep_file>();
        if (session_ && !transfer) session_.reset();  // discards its .part
        return std::visit([this](const auto& op) { return carry_out(op); }, a.op);
    }

private:
    static asio::awaitable<flow_event> ready(flow_event ev) { co_return ev; }

    asio::awaitable<flow_event> carry_out(const act::finish&) { return ready(ok()); }
    asio::awaitable<flow_event> carry_out(const act::acquire_slot& a) { return acquire(a.kind); }
    asio::awaitable<flow_event> carry_out(const act::post_export&) { return post_export(); }
    asio::awaitable<flow_event> carry_out(const act::post_import& a) { return in_turn(post_import(a)); }
    asio::awaitable<flow_event> carry_out(const act::describe& a) { return describe(a.kind); }
    asio::awaitable<flow_event> carry_out(const act::check_status& a) { return check(a.kind, a.id); }
    asio::awaitable<flow_event> carry_out(const act::sleep& a) { return sleep(a.delay); }
    asio::awaitable<flow_event> carry_out(const act::download& a) { return in_turn(download(a)); }
    asio::awaitable<flow_event> carry_out(const act::keep_file& a) { return ready(keep(a)); }
    asio::awaitable<flow_event> carry_out(const act::cancel_export& a) { return cancel(a.id); }
    asio::awaitable<flow_event> carry_out(const act::discard& a) { return ready(discard(a)); }

    // A transfer (download, import upload) in a fleet waits while one of a
    // longer chain runs (gates::begin_transfer); elsewhere it just runs.
    asio::awaitable<flow_event> in_turn(asio::awaitable<flow_event> transfer) {
        if (!io_.slots || !io_.source || !io_.target) co_return co_await std::move(transfer);
        int priority = io_.slots->priority(slot_key(job_kind::export_job), slot_key(job_kind::import_job));
        bool got = co_await io_.slots->begin_transfer(priority);
        if (!got) co_return failed(errc::cancelled, "cancelled while waiting for a transfer of a longer chain");
        struct turn {
            gates* g;
            int priority;
            ~turn() { g->end_transfer(priority); }
        } held{io_.slots, priority};
        co_return co_await std::move(transfer);
    }

    std::string slot_key(job_kind kind) { return detail::slot_key(kind, for_kind(kind)); }

    asio::awaitable<flow_event> acquire(job_kind kind) {
        if (!io_.slots) co_return ok();
        std::string key = slot_key(kind);
        bool got = co_await io_.slots->acquire(key);
        if (!got) co_return failed(errc::cancelled, "cancelled while waiting for the tenant's " + kind_name(kind) + " slot");
        co_return ok();
    }

    asio::awaitable<flow_event> post_export() {
        request req;
        req.method = http_method::post;
        req.target = "export";
        req.body = io_.export_body;
        req.content_type = "application/json";
        diagnostics diag;
        auto got = co_await call_json(*io_.source, req, diag);
        co_return job_event(std::move(got), std::move(diag), "export", "export initiate", {});
    }

    asio::awaitable<flow_event> post_import(const act::post_import& a) {
        error_code ec;
        std::string why;
        auto entity = import_entity(a.mappings, io_.action, io_.source_system, a.cid);
        auto body = make_import_body(a.path, entity, io_.max_package_bytes, io_.progress, ec, why);
        if (!body) co_return failed(ec, why);
        request req;
        req.method = http_method::post;
        req.target = "import";
        req.content_type = body->content_type;
        req.source = body->source.get();
        diagnostics diag;
        auto got = co_await call_json(*io_.target, req, diag);
        co_return job_event(std::move(got), std::move(diag), "import", "import initiate", {});
    }

    asio::awaitable<flow_event> describe(job_kind kind) {
        auto got = co_await describe_jobs(for_kind(kind), kind_name(kind));
        if (got.ec) co_return failed(got.ec, "describe failed");
        auto ev = ok();
        ev.describe = std::move(got.value);
        co_return ev;
    }

    asio::awaitable<flow_event> check(job_kind kind, const std::string& id) {
        request req;
        req.target = status_target(kind_name(kind), id);
        diagnostics diag;
        auto got = co_await call_json(for_kind(kind), req, diag);
        co_return job_event(std::move(got), std::move(diag), kind_name(kind), "job status", id);
    }

    asio::awaitable<flow_event> sleep(milliseconds d) {
        auto& c = clock();
        auto [ec] = co_await c.timer()->async_sleep(c.get_executor(), d, use_tuple);
        if (ec) co_return failed(errc::cancelled, "cancelled while waiting");
        co_return ok();
    }

    asio::awaitable<flow_event> download(const act::download& a) {
        std::string why;
        if (!is_download_link(a.url, why)) co_return failed(errc::unsupported_scheme, why);
        if (a.from_start) session_.reset();  // the bytes held failed their check: removed, fetched anew
        if (!session_ || session_file_ != a.file) {
            options_ = io_.download;
            session_ = std::make_unique<download_session>(options_);
            session_file_ = a.file;
            error_code ec;
            if (!session_->open(a.name, ec, why)) co_return failed(ec, why);
            session_->want_md5(a.md5);
            session_->take_server_name(a.server_name);
        }
        request req;
        req.target = a.url;
        req.sink = session_.get();
        req.idempotent = true;
        auto [ec, resp] = co_await io_.source->async_send(req, use_tuple);
        if (!ec) {
            auto ev = ok();
            ev.file.size = session_->written();
            ev.file.sha256 = session_->sha256();
            ev.md5 = session_->md5();
            co_return ev;
        }
        flow_event ev;
        ev.what = flow_event::type::failed;
        ev.ec = ec;
        ev.diag = resp.diag;
        if (!session_->failure().empty()) ev.diag.detail = session_->failure();
        ev.bytes_held = session_->written();
        co_return ev;
    }

    flow_event keep(const act::keep_file& a) {
        auto ev = ok();
        error_code ec;
        std::string why;
        if (!session_->keep(a.verified, ev.file, ec, why)) {
            session_.reset();
            return failed(ec, why);
        }
        if (!a.verified && !ev.file.path.empty())
            clock().log().log(log_level::warn, "'" + ev.file.path.string() +
                                                   "' was not verified by the server (no file_hash): its ZIP structure and CRCs were checked");
        session_.reset();
        return ev;
    }

    asio::awaitable<flow_event> cancel(const std::string& id) {
        auto got = co_await cancel_export(*io_.source, id);
        clock().log().log(log_level::info, "cancelled export job " + id + ": " +
                                               (got.ec ? got.ec.message() : got.value.status));
        co_return ok();
    }

    static flow_event discard(const act::discard& a) {
        for (const auto& path : a.paths) {
            std::error_code ignored;
            std::filesystem::remove(path, ignored);
        }
        return ok();
    }

    flow_state& st_;
    flow_io& io_;
    download_options options_;
    std::unique_ptr<download_session> session_;
    std::size_t session_file_ = 0;
};

}  // namespace

asio::awaitable<void> drive(flow_state& st, flow_io& io) {
    co_await asio::this_coro::throw_if_cancelled(false);
    runner r(st, io);
    // What the tenants' recent jobs took, as known at each event (a job that
    // ended meanwhile counts); a tenant without any yet takes its Spark
    // host's. Keys made once: the loop only looks them up.
    struct durations {
        job_history* history = nullptr;
        std::string tenant, host;
        std::optional<milliseconds> expected() const {
            if (!history) return std::nullopt;
            auto mine = history->expected(tenant);
            return mine ? mine : history->expected(host);
        }
    } exports, imports;
    if (reads_history(st) && io.source)
        exports = {&history_of(*io.source), slot_key(job_kind::export_job, *io.source), host_key(job_kind::export_job, *io.source)};
    if (reads_history(st) && io.target)
        imports = {&history_of(*io.target), slot_key(job_kind::import_job, *io.target), host_key(job_kind::import_job, *io.target)};
    // When an event happened: the injected clock's time, and the wall clock's
    // (an intent's time in a checkpoint).
    auto stamped = [&r](flow_event e) {
        e.now = r.clock().timer()->now();
        e.wall = std::chrono::system_clock::now();
        return e;
    };
    flow_event ev = stamped({});
    for (;;) {
        if (reads_history(st)) {
            history_snapshot h;
            h.expected_export = exports.expected();
            h.expected_import = imports.expected();
            if (reads_chain(st) && io.slots && io.source && io.target)
                h.chain = io.slots->priority(exports.tenant, imports.tenant);
            ev.history = h;
        }
        flow_action a = resume(st, std::move(ev));
        if (!st.notes.empty()) co_await r.report();  // most steps note nothing: no coroutine frame for them
        r.release(a.release);
        if (a.is<act::finish>()) co_return;
        bool cancelled = !st.cancelling && co_await cancelled_now();  // a local, not in the if (g++ 12)
        if (st.cancelling) {
            co_await asio::this_coro::reset_cancellation_state();  // winding down: best effort
        } else if (cancelled) {
            ev = stamped(failed(errc::cancelled, "cancelled"));
            ev.what = flow_event::type::cancelled;
            continue;
        }
        auto came = co_await r.perform(a);
        ev = stamped(std::move(came));
        bool stopped = !st.cancelling && (ev.ec == errc::cancelled || co_await cancelled_now());
        if (stopped) ev.what = flow_event::type::cancelled;
    }
}

}  // namespace cspark::detail
