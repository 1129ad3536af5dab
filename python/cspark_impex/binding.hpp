// The binding's pieces: the I/O thread (runtime), one call in flight
// (operation), the completion handlers, and a client of one tenant.
#pragma once

#include "convert.hpp"

#include <cspark/fleet.hpp>
#include <cspark/impex.hpp>
#include <cspark/transport.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json/serialize.hpp>

#include <pybind11/pybind11.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

namespace cspark::python {

namespace py = pybind11;
namespace asio = boost::asio;
namespace json = boost::json;

// The I/O thread, and the one transport (connection pools per host, the
// job history adaptive polling learns from) every client of the process
// shares, as the CLI's batch does: tenants of one Spark environment share
// its host. Stopped by shutdown() or when the last reference goes.
class runtime {
public:
    runtime() : work_(asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
    ~runtime() { stop(); }
    runtime(const runtime&) = delete;
    runtime& operator=(const runtime&) = delete;
    void stop() {
        work_.reset();
        io_.stop();
        if (thread_.joinable()) thread_.join();
        std::lock_guard lock(mu_);
        transport_.reset();  // nothing runs now: its sockets close here
    }
    asio::io_context& io() { return io_; }
    std::shared_ptr<cspark::transport> transport() {
        std::lock_guard lock(mu_);
        if (!transport_) transport_ = std::make_shared<cspark::transport>(io_.get_executor(), transport_config{});
        return transport_;
    }

private:
    asio::io_context io_;
    asio::executor_work_guard<asio::io_context::executor_type> work_;
    std::thread thread_;
    std::mutex mu_;
    std::shared_ptr<cspark::transport> transport_;
};

// One call in flight: its outcome (set on the I/O thread), the progress it
// reported, and how to cancel it.
class operation : public std::enable_shared_from_this<operation> {
public:
    explicit operation(runtime& rt) : rt_(rt) {}
    ~operation() {
        if (notify_ && Py_IsInitialized()) {
            py::gil_scoped_acquire locked;
            notify_.reset();
        }
    }
    operation(const operation&) = delete;
    operation& operator=(const operation&) = delete;

    // I/O thread.
    void finish(error_code ec, diagnostics diag, std::string result) {
        {
            std::lock_guard lock(mu_);
            ec_ = ec;
            diag_ = std::move(diag);
            result_ = std::move(result);
            done_ = true;
        }
        cv_.notify_all();
        wake();
    }
    // A fleet: one JSON text per result (no single text of them all).
    void finish_each(std::vector<std::string> results, error_code ec = {}, diagnostics diag = {}) {
        {
            std::lock_guard lock(mu_);
            results_ = std::move(results);
            ec_ = ec;
            diag_ = std::move(diag);
            done_ = true;
        }
        cv_.notify_all();
        wake();
    }
    void progress(std::string event) {
        {
            std::lock_guard lock(mu_);
            if (progress_.size() >= 10000) progress_.erase(progress_.begin());  // bounded: nobody drains
            progress_.push_back(std::move(event));
        }
        cv_.notify_all();
        wake();
    }
    asio::cancellation_slot slot() { return signal_.slot(); }

    // Caller's thread (the GIL held on entry).
    bool wait(double seconds) {
        py::gil_scoped_release unlocked;
        std::unique_lock lock(mu_);
        auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
        cv_.wait_until(lock, until, [this] { return done_ || !progress_.empty(); });
        return done_;
    }
    bool done() {
        std::lock_guard lock(mu_);
        return done_;
    }
    std::vector<std::string> take_progress() {
        std::lock_guard lock(mu_);
        return std::exchange(progress_, {});
    }
    // (error name, message, diagnostics as JSON, result as JSON)
    py::tuple outcome() {
        std::lock_guard lock(mu_);
        std::string name(error_name(ec_));
        return py::make_tuple(ec_ ? name : std::string(), ec_ ? ec_.message() : std::string(), json::serialize(to_json(diag_)),
                              result_);
    }
    // The results of finish_each, each handed over and freed in turn.
    py::list take_results() {
        std::vector<std::string> texts;
        {
            std::lock_guard lock(mu_);
            texts = std::move(results_);
        }
        py::list out;
        for (auto& t : texts) {
            out.append(py::str(t));
            std::string().swap(t);
        }
        return out;
    }
    void cancel() {
        auto self = shared_from_this();
        asio::post(rt_.io(), [self] { self->signal_.emit(asio::cancellation_type::terminal); });
    }
    // Called (with the GIL) from the I/O thread on progress and at the end.
    void set_notify(py::object fn) {  // the GIL held
        auto next = fn.is_none() ? nullptr : std::make_shared<py::object>(std::move(fn));
        std::shared_ptr<py::object> old;
        {
            std::lock_guard lock(mu_);
            old = std::exchange(notify_, std::move(next));
        }
    }

private:
    // The notify callable is only touched with the GIL held (it may be the
    // last reference to a Python object).
    void wake() {
        {
            std::lock_guard lock(mu_);
            if (!notify_) return;
        }
        if (!Py_IsInitialized()) return;
        py::gil_scoped_acquire locked;
        std::shared_ptr<py::object> fn;
        {
            std::lock_guard lock(mu_);
            fn = notify_;
        }
        if (!fn || fn->is_none()) return;
        try {
            (*fn)();
        } catch (py::error_already_set& e) {
            e.discard_as_unraisable("cspark_impex: notifying the event loop");
        }
        fn.reset();
    }

    runtime& rt_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool done_ = false;
    error_code ec_;
    diagnostics diag_;
    std::string result_;
    std::vector<std::string> results_;
    std::vector<std::string> progress_;
    std::shared_ptr<py::object> notify_;
    asio::cancellation_signal signal_;  // emitted on the I/O thread only
};

using op_ptr = std::shared_ptr<operation>;

// A flow's failure (a spark_error, else a bug) as the operation's outcome.
inline void fail_with(const op_ptr& op, std::exception_ptr e) {
    try {
        std::rethrow_exception(e);
    } catch (const spark_error& err) {
        op->finish(err.code(), err.diag(), {});
    } catch (const std::exception& err) {
        diagnostics d;
        d.detail = err.what();
        op->finish(errc::internal_error, d, {});
    }
}

// Starts `f` on the I/O thread. After shutdown() nothing runs there: the
// call ends at once, saying so, rather than never.
template <class F>
void start(runtime& rt, const op_ptr& op, F&& f) {
    if (rt.io().stopped()) {
        diagnostics d;
        d.detail = "the engine was shut down (cspark_impex.shutdown()): make a new client";
        return op->finish(errc::cancelled, d, {});
    }
    asio::post(rt.io(), std::forward<F>(f));
}

// The handler of a flow that reports failures as spark_error.
template <class T, class Keep, class ToJson>
auto finishing(op_ptr op, Keep keep, ToJson to) {
    return asio::bind_cancellation_slot(op->slot(), [op, keep, to](std::exception_ptr e, T value) {
        if (e) return fail_with(op, e);
        op->finish({}, {}, json::serialize(to(value)));
    });
}

// The handler of a job verb: void(error_code, T).
template <class T, class Keep, class ToJson>
auto answering(op_ptr op, Keep keep, ToJson to) {
    return asio::bind_cancellation_slot(op->slot(), [op, keep, to](error_code ec, T value) {
        diagnostics d = diag_of(value);
        op->finish(ec, ec ? d : diagnostics{}, ec ? std::string() : json::serialize(to(value)));
    });
}

// What a client's flows log, kept for the caller's thread to emit through
// Python's logging (bounded: the oldest lines go first).
class log_queue {
public:
    void push(log_level level, std::string_view text) {
        std::lock_guard lock(mu_);
        if (lines_.size() >= 1000) lines_.erase(lines_.begin());
        lines_.emplace_back(static_cast<int>(level), std::string(text));
    }
    std::vector<std::pair<int, std::string>> take() {
        std::lock_guard lock(mu_);
        return std::exchange(lines_, {});
    }

private:
    std::mutex mu_;
    std::vector<std::pair<int, std::string>> lines_;
};

// A client of one tenant: built on the caller's thread, used on the I/O
// thread. Each flow holds the library's object (shared) until it completes.
class client_handle {
public:
    client_handle(std::shared_ptr<runtime> rt, const py::dict& config) : rt_(std::move(rt)) {
        auto cfg = client_config_of(config);
        cfg.shared_transport = rt_->transport();
        if (cfg.log.level != log_level::off)
            cfg.log.sink = [q = logs_](log_level l, std::string_view text) { q->push(l, text); };
        api_ = std::make_shared<impex>(client(rt_->io().get_executor(), std::move(cfg)));
    }
    ~client_handle() {
        // The last reference goes on the I/O thread, after every flow using it.
        asio::post(rt_->io(), [api = std::move(api_)] {});
    }
    client_handle(const client_handle&) = delete;
    client_handle& operator=(const client_handle&) = delete;

    op_ptr exp(const py::dict& r) {
        auto op = make_op();
        auto req = export_request_of(r, progress_for(op, r));
        run(op, [api = api_, op, req = std::move(req)]() mutable {
            api->async_exp(std::move(req), finishing<export_result>(op, api, [](const export_result& v) { return to_json(v); }));
        });
        return op;
    }
    op_ptr imp(const py::dict& r) {
        auto op = make_op();
        auto req = import_request_of(r, progress_for(op, r));
        run(op, [api = api_, op, req = std::move(req)]() mutable {
            api->async_imp(std::move(req), finishing<import_result>(op, api, [](const import_result& v) { return to_json(v); }));
        });
        return op;
    }
    op_ptr migrate(client_handle& target, const py::dict& r) {
        auto op = make_op();
        auto req = migrate_request_of(r, progress_for(op, r));
        run(op, [api = api_, dst = target.api_, op, req = std::move(req)]() mutable {
            auto keep = std::make_pair(api, dst);
            api->async_migrate(*dst, std::move(req),
                               finishing<migration_result>(op, keep, [](const migration_result& m) { return to_json(m); }));
        });
        return op;
    }
    // Polled until the job ends (the SDK's get_status).
    op_ptr status(const std::string& kind, const std::string& id, const py::dict& poll) {
        auto op = make_op();
        run(op, [api = api_, op, kind, id, p = poll_options_of(poll)] {
            verbs(*api, kind).wait(id, p, answering<job_status>(op, api, [](const job_status& j) { return to_json(j); }));
        });
        return op;
    }
    op_ptr describe(const std::string& kind) {
        auto op = make_op();
        run(op, [api = api_, op, kind] {
            verbs(*api, kind).describe(answering<json::value>(op, api, [](const json::value& v) { return v; }));
        });
        return op;
    }
    op_ptr initiate_export(const py::dict& r) {
        auto op = make_op();
        run(op, [api = api_, op, req = export_request_of(r, {})] {
            api->exports.initiate(req, answering<job_status>(op, api, [](const job_status& j) { return to_json(j); }));
        });
        return op;
    }
    op_ptr initiate_import(const py::dict& r) {
        auto op = make_op();
        run(op, [api = api_, op, req = import_request_of(r, {})] {
            api->imports.initiate(req, answering<job_status>(op, api, [](const job_status& j) { return to_json(j); }));
        });
        return op;
    }
    op_ptr cancel_export(const std::string& id) {
        auto op = make_op();
        run(op, [api = api_, op, id] {
            api->exports.cancel(id, answering<job_status>(op, api, [](const job_status& j) { return to_json(j); }));
        });
        return op;
    }
    op_ptr download(const std::string& url, const py::dict& options) {
        auto op = make_op();
        export_file f{url, options.contains("file_hash") && !options["file_hash"].is_none() ? py::cast<std::string>(options["file_hash"])
                                                                                           : std::string()};
        run(op, [api = api_, op, f, o = download_options_of(options, progress_for(op, options))] {
            api->exports.download(f, o, answering<downloaded_file>(op, api, [](const downloaded_file& d) { return to_json(d); }));
        });
        return op;
    }
    std::string base_url() const { return api_->get_client().url().to_string(); }
    std::string tenant() const { return api_->get_client().url().tenant; }
    const std::shared_ptr<impex>& api() const { return api_; }
    std::vector<std::pair<int, std::string>> take_logs() { return logs_->take(); }

private:
    static job_verbs& verbs(impex& api, const std::string& kind) {
        if (kind == "export") return api.exports;
        return api.imports;
    }
    op_ptr make_op() { return std::make_shared<operation>(*rt_); }
    template <class F>
    void run(const op_ptr& op, F&& f) {
        start(*rt_, op, std::forward<F>(f));
    }
    // Progress goes to the operation, drained on the caller's thread; only
    // when the caller gave a callback (each event wakes its loop).
    static progress_fn progress_for(const op_ptr& op, const py::dict& request) {
        if (!request.contains("progress") || !py::cast<bool>(request["progress"])) return {};
        std::weak_ptr<operation> weak = op;
        return [weak](const progress_event& e) {
            if (auto o = weak.lock()) o->progress(json::serialize(to_json(e)));
        };
    }

    std::shared_ptr<runtime> rt_;
    std::shared_ptr<log_queue> logs_ = std::make_shared<log_queue>();
    std::shared_ptr<impex> api_;
};

/// migrate_fleet of the given entries (dicts: name, source and target
/// clients, request, resume); a journal path appends each step's whole
/// checkpoint as a JSON line, fsynced before the step goes on.
op_ptr migrate_fleet(const std::shared_ptr<runtime>& rt, const py::list& entries, const py::dict& options,
                     const std::string& journal);

}  // namespace cspark::python

