// Many tenant migrations on one io_context. The planner (planner.hpp) turns
// entries into tasks: one entry each, or with coalescing the entries of one
// tenant pair as one combined job. The scheduler (scheduler.hpp) says which
// task starts next and what a failed combined task becomes; here
// `concurrency` workers carry it out, sleeping while no task is runnable.
// Gates per (tenant, job kind) keep Spark's one-running-job rule.
#include <cspark/impex.hpp>

#include "impex/codec.hpp"
#include "impex/flows.hpp"
#include "impex/monitor.hpp"
#include "impex/planner.hpp"
#include "impex/scheduler.hpp"

#include "core/text.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>


#include <map>
#include <set>

namespace cspark {
namespace asio = boost::asio;

namespace {

// An entry's mappings (none: every exported service to itself, as migrate does).
std::vector<service_mapping> mappings_named(const destinations& d) {
    return destination_given(d) ? mappings_of(d) : std::vector<service_mapping>{};
}

std::string target_of(const service_mapping& m) { return m.target.empty() ? m.source : m.target; }

std::string resume_key(const migration_checkpoint& c) {
    if (c.export_correlation_id.empty() && c.export_job.empty() && c.package.empty() && c.import_correlation_id.empty() &&
        c.import_job.empty())
        return {};
    return c.export_correlation_id + "|" + c.export_job + "|" + c.package.string() + "|" + c.import_correlation_id + "|" +
           c.import_job;
}

template <class T>
void add_unique(std::vector<T>& to, const std::vector<T>& from, std::set<T>& seen) {
    for (const auto& x : from)
        if (seen.insert(x).second) to.push_back(x);
}

using task = detail::fleet_task;

struct fleet_state {
    std::vector<fleet_entry> entries;
    fleet_options options;
    std::vector<migration_result> results;
    detail::fleet_scheduler tasks;  // who runs next, and splits
    std::size_t workers_left = 0;
    std::unique_ptr<detail::gates> gates;
    std::unique_ptr<detail::waiters> all_done;  // run_fleet, until the last worker ends
    std::unique_ptr<detail::waiters> sleepers;  // workers with nothing runnable

    void wake_all() {
        sleepers->notify_all();
    }
    // One task may have become runnable: one sleeper is enough (waking all of
    // a thousand idle workers on every release was quadratic).
    void wake_one() {
        sleepers->notify_one();
    }
    std::vector<bool> ended;
    fleet_monitor::impl* monitor = nullptr;
    void finish(std::size_t i, migration_result m) {
        ended[i] = true;
        if (monitor) monitor->ended(m.ec, outcome_known(m.ec));
        if (options.finished) options.finished(i, m);
        results[i] = std::move(m);
    }
    // A task counts as work for both its tenants until it ends (the chains
    // transfers are ordered by).
    void enqueue(std::vector<std::size_t> members, migration_checkpoint from, bool front) {
        auto* src = entries[members.front()].source;
        auto* dst = entries[members.front()].target;
        task t{std::move(members), std::move(from), src ? detail::slot_key(detail::job_kind::export_job, src->get_client()) : std::string(),
               dst ? detail::slot_key(detail::job_kind::import_job, dst->get_client()) : std::string()};
        gates->add_work(t.slot, 1);
        gates->add_work(t.import_slot, 1);
        tasks.enqueue(std::move(t), front);
    }
};

// The request a task runs: the members' selectors and mappings together.
migrate_request combined_request(fleet_state& st, const task& t) {
    const auto& first = st.entries[t.members.front()].request;
    migrate_request req = first;
    if (t.members.size() == 1) return req;
    auto& x = req.exports;
    x.folders.clear();
    x.services.clear();
    x.version_ids.clear();
    std::set<std::string> folders, services, versions;
    std::vector<service_mapping> mappings;
    for (auto i : t.members) {
        const auto& r = st.entries[i].request;
        add_unique(x.folders, r.exports.folders, folders);
        add_unique(x.services, r.exports.services, services);
        add_unique(x.version_ids, r.exports.version_ids, versions);
        for (auto& m : mappings_named(r.destination)) mappings.push_back(std::move(m));
    }
    req.destination = std::move(mappings);
    std::vector<progress_fn> users;
    for (auto i : t.members)
        if (st.entries[i].request.exports.progress) users.push_back(st.entries[i].request.exports.progress);
    x.progress = users.empty() ? progress_fn{} : [users](const progress_event& ev) {
        for (const auto& u : users) u(ev);
    };
    return req;
}

// Names a failure may mention that point at one member.
std::vector<std::string> names_of(const fleet_entry& e) {
    std::vector<std::string> out;
    const auto& x = e.request.exports;
    for (const auto& s : x.services) {
        out.push_back(s);
        out.push_back(detail::service_path(s));
    }
    for (const auto& f : x.folders) out.push_back(f);
    for (const auto& v : x.version_ids) out.push_back(v);
    for (const auto& m : mappings_named(e.request.destination)) {
        out.push_back(detail::service_path(m.source));
        out.push_back(detail::service_path(target_of(m)));
        auto slash = target_of(m).find('/');
        if (slash != std::string::npos) out.push_back(target_of(m).substr(0, slash));  // its destination folder
    }
    return out;
}

// A combined job as each member sees it: id, state, files, timings; the
// status documents (raw, outputs) stay out, since a copy of a 100-service
// document per member was most of a coalesced batch's CPU time.
job_status light(const job_status& j) {
    job_status out;
    out.id = j.id;
    out.kind = j.kind;
    out.status = j.status;
    out.state = j.state;
    out.status_url = j.status_url;
    out.process_time = j.process_time;
    out.files = j.files;
    out.errors = j.errors;
    out.warnings = j.warnings;
    out.error_envelope = j.error_envelope;
    out.diag = j.diag;
    return out;
}

// One member's part of a combined migration that succeeded.
migration_result share_of(const fleet_entry& e, const migration_result& m, const std::vector<detail::import_shares>& shares) {
    migration_result r;
    r.exported.job = light(m.exported.job);
    r.exported.files = m.exported.files;
    r.exported.diag = m.exported.diag;
    r.ec = m.ec;
    r.diag = m.diag;
    r.elapsed = m.elapsed;
    std::vector<std::string> sources, targets;
    auto mappings = mappings_named(e.request.destination);
    for (const auto& mp : mappings) {
        sources.push_back(mp.source);
        targets.push_back(target_of(mp));
    }
    if (mappings.empty()) sources = detail::selected_services(e.request.exports, m.exported.job.outputs);  // each to itself
    for (std::size_t k = 0; k < m.imported.size(); ++k) {
        r.imported.push_back(shares[k].of(sources, targets));
        r.imported.back().job = light(m.imported[k].job);
    }
    if (m.ec == errc::import_partially_failed) {
        // The combined job closed with some entries failed: a member fails
        // only when entries of its own did (the rest were imported).
        r.ec = {};
        r.diag = {};
        std::vector<std::string> failed;
        for (auto& imp : r.imported) {
            auto mine = detail::failed_entries(imp);
            imp.partially_failed = !mine.empty();
            if (imp.partially_failed) imp.diag = m.diag;
            failed.insert(failed.end(), mine.begin(), mine.end());
        }
        if (!failed.empty()) {
            r.ec = errc::import_partially_failed;
            r.diag = m.diag;
            r.diag.detail = "import job " + (m.imported.empty() ? std::string() : m.imported.back().job.id) +
                            " closed, but entries of this migration failed: " + detail::joined(failed);
        }
    }
    return r;
}

// The fleet's observers of one task: progress (the entries', the fleet's,
// the monitor's) wired into `req`; the checkpoint function returned.
std::function<asio::awaitable<void>(const checkpoint_event&)> observe(fleet_state& st, const task& t, migrate_request& req,
                                                                      const std::shared_ptr<detail::task_watch>& watch) {
    if (st.options.progress || watch) {
        auto user = req.exports.progress;
        auto fleet_progress = st.options.progress;
        auto members = t.members;
        req.exports.progress = [user, fleet_progress, members, watch](const progress_event& ev) {
            if (user) user(ev);
            if (watch) watch->on_progress(ev);
            if (fleet_progress)
                for (auto i : members) fleet_progress(i, ev);
        };
    }
    std::function<asio::awaitable<void>(const checkpoint_event&)> checkpoint;
    if (st.options.checkpoint || watch)
        checkpoint = [fn = st.options.checkpoint, members = t.members, watch](const checkpoint_event& ev) -> asio::awaitable<void> {
            if (watch) watch->on_checkpoint(ev);
            if (fn) co_await fn(members, ev);
        };
    return checkpoint;
}

// A combined task that failed for one of its entries: its parts queued first.
void requeue(fleet_state& st, const task& t, const migration_result& m, const std::vector<std::vector<std::size_t>>& parts) {
    std::error_code ignored;
    for (const auto& f : m.exported.files)
        if (!f.path.empty()) std::filesystem::remove(f.path, ignored);  // the combined package: parts export their own
    for (auto p = parts.rbegin(); p != parts.rend(); ++p) st.enqueue(*p, {}, true);
    if (st.monitor) {
        st.monitor->requeued(t.members.size());
        st.monitor->split();
    }
    for (std::size_t k = 1; k < parts.size(); ++k) st.wake_one();  // this worker takes one itself
}

asio::awaitable<void> run_task(std::shared_ptr<fleet_state> st, task t) {
    auto& first = st->entries[t.members.front()];
    if (!first.source || !first.target) {
        migration_result m;
        m.ec = errc::invalid_argument;
        m.diag.detail = "fleet entry '" + first.name + "' lacks a source or a target";
        st->finish(t.members.front(), std::move(m));
        co_return;
    }
    auto req = combined_request(*st, t);
    std::shared_ptr<detail::task_watch> watch;
    if (st->monitor) watch = std::make_shared<detail::task_watch>(*st->monitor);
    auto checkpoint = observe(*st, t, req, watch);
    const auto& co = st->options.coalesce;
    std::uint64_t limit = import_request{}.max_package_bytes;  // Spark's default upload limit
    if (t.members.size() > 1 && co.max_package_bytes > 0) limit = std::min(limit, co.max_package_bytes);
    auto m = co_await detail::run_migrate(first.source->get_client(), first.target->get_client(), std::move(req),
                                          st->gates.get(), t.from, std::move(checkpoint), limit);
    if (watch) watch->end();
    if (t.members.size() > 1) {
        // The job's end freed its tenant's slot: the next group's POST goes
        // before this group's per-member bookkeeping (a hundred results).
        auto ex = co_await asio::this_coro::executor;
        co_await asio::post(ex, asio::use_awaitable);
    }
    if (t.members.size() == 1) {
        st->finish(t.members.front(), std::move(m));
        co_return;
    }
    std::vector<std::vector<std::string>> names;
    if (m.ec)
        for (auto i : t.members) names.push_back(names_of(st->entries[i]));
    auto parts = detail::parts_after(m, t.members, names);
    if (!parts.empty()) {  // one entry may be at fault: its parts run again, the named ones alone
        requeue(*st, t, m, parts);
        co_return;
    }
    std::vector<detail::import_shares> shares;
    for (const auto& imp : m.imported) shares.emplace_back(imp);
    bool shared = !m.ec || m.ec == errc::import_partially_failed;  // each member's part of what was imported
    for (auto i : t.members) st->finish(i, shared ? share_of(st->entries[i], m, shares) : m);
}

asio::awaitable<void> worker(std::shared_ptr<fleet_state> st) {
    co_await asio::this_coro::throw_if_cancelled(false);
    for (;;) {
        auto cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none) break;
        if (st->tasks.done()) break;
        auto t = st->tasks.take([&st](const std::string& slot) { return st->gates->busy(slot); });
        if (!t) {  // every queued task waits for a busy tenant (or a running one may split): sleep until that changes
            co_await st->sleepers->wait();  // woken, or cancelled: the loop's top looks
            continue;
        }
        if (st->monitor) st->monitor->started(t->members.size());
        auto export_slot = t->slot, import_slot = t->import_slot;
        co_await run_task(st, std::move(*t));
        st->gates->add_work(export_slot, -1);  // its parts, if it split, were counted when queued
        st->gates->add_work(import_slot, -1);
        st->tasks.finished();
        if (st->tasks.done()) st->wake_all();  // all done: every sleeper ends
    }
    st->wake_all();  // a sleeper may be the last to see the queue empty
}

// The plan: groups of entries (one each without coalescing), queued.
void queue_plan(fleet_state& st) {
    std::vector<detail::plan_item> items;
    bool coalesce = st.options.coalesce.enabled;
    std::map<detail::share_key, std::size_t> keys;  // each distinct key: one id for the planner
    for (std::size_t i = 0; i < st.entries.size(); ++i) {
        const auto& e = st.entries[i];
        detail::plan_item it;
        auto key = detail::share_key_of(e.request, e.source, e.target, coalesce ? 0 : i + 1);
        it.key = std::to_string(keys.try_emplace(std::move(key), keys.size()).first->second);
        const auto& x = e.request.exports;
        auto mappings = mappings_named(e.request.destination);
        it.weight = std::max<std::size_t>({x.folders.size() + x.services.size() + x.version_ids.size(), mappings.size(), 1});
        for (const auto& m : mappings) it.destinations.push_back(detail::service_path(target_of(m)));
        it.resume = resume_key(e.resume);
        items.push_back(std::move(it));
    }
    for (auto& g : detail::plan_groups(items, coalesce ? st.options.coalesce.max_services : 1)) {
        migration_checkpoint from = st.entries[g.front()].resume;
        st.enqueue(std::move(g), std::move(from), false);
    }
}

asio::awaitable<std::vector<migration_result>> run_fleet(std::vector<fleet_entry> entries, fleet_options options) {
    co_await asio::this_coro::throw_if_cancelled(false);
    auto ex = co_await asio::this_coro::executor;
    auto st = std::make_shared<fleet_state>();
    st->entries = std::move(entries);
    st->options = std::move(options);
    st->results.resize(st->entries.size());
    st->gates = std::make_unique<detail::gates>(ex);
    std::weak_ptr<fleet_state> weak = st;
    st->gates->on_release = [weak] {
        if (auto s = weak.lock()) s->wake_one();
    };
    st->all_done = std::make_unique<detail::waiters>(ex);
    st->sleepers = std::make_unique<detail::waiters>(ex);
    if (st->options.monitor) {
        st->monitor = &st->options.monitor->get_impl();
        st->monitor->planned(st->entries.size());
        for (const auto& e : st->entries) {
            if (e.source) st->monitor->watch(e.source->get_client());
            if (e.target) st->monitor->watch(e.target->get_client());
        }
    }

    st->ended.assign(st->entries.size(), false);
    queue_plan(*st);

    std::size_t n = std::min(std::max<std::size_t>(st->options.concurrency, 1), st->tasks.queued());
    st->workers_left = n;
    std::vector<std::shared_ptr<asio::cancellation_signal>> signals;
    for (std::size_t w = 0; w < n; ++w) {
        auto sig = std::make_shared<asio::cancellation_signal>();
        signals.push_back(sig);
        auto on_done = [st, sig](std::exception_ptr) {
            if (--st->workers_left == 0) st->all_done->notify_all();
        };
        asio::co_spawn(ex, worker(st), asio::bind_cancellation_slot(sig->slot(), std::move(on_done)));
    }
    while (st->workers_left > 0) {
        bool woken = co_await st->all_done->wait();
        if (!woken) {  // the caller cancelled the fleet: every worker is told
            for (auto& s : signals) s->emit(asio::cancellation_type::terminal);
            st->wake_all();
            co_await asio::this_coro::reset_cancellation_state();
        }
    }
    st->gates->on_release = nullptr;
    for (std::size_t i = 0; i < st->entries.size(); ++i)
        if (!st->ended[i]) {  // cancelled before it started
            st->results[i].ec = errc::cancelled;
            st->results[i].diag.detail = "cancelled before it started";
            if (st->monitor) st->monitor->never_started();
        }
    co_return std::move(st->results);
}

}  // namespace

// The fleet's own state (queue, tenant slots, workers) lives on a strand of
// the caller's executor, so an io_context run by many threads may run it.
asio::awaitable<std::vector<migration_result>> migrate_fleet(std::vector<fleet_entry> entries, fleet_options options) {
    auto ex = co_await asio::this_coro::executor;
    auto results = co_await detail::on_strand(asio::make_strand(ex), run_fleet(std::move(entries), std::move(options)));
    co_return results;
}

}  // namespace cspark
