// cspark::client, the handle: the configuration resolved into a client's
// state, and each request launched on the transport's strand (the request
// loop itself is client.cpp).
#include <cspark/client.hpp>
#include <cspark/version.hpp>

#include "core/proxy.hpp"
#include "http/client_impl.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>

namespace cspark {
namespace asio = boost::asio;

client::client(asio::any_io_executor ex, client_config cfg) : impl_(std::make_shared<impl>()) {
    auto& s = *impl_;
    error_code ec;
    diagnostics diag;
    auto rc = resolve_config(cfg, ec, diag);
    if (!rc) throw spark_error(ec, std::move(diag));
    s.rc = std::move(*rc);
    s.cfg = std::move(cfg);
    s.timer = s.cfg.timer ? s.cfg.timer : system_timer_service();
    if (!s.cfg.shared_transport) {
        auto tc = s.cfg.transport;
        if (s.cfg.proxy) {
            tc.proxy = detail::one_proxy(*s.cfg.proxy, s.cfg.use_environment);
        } else if (!tc.proxy && !s.cfg.use_environment) {
            tc.proxy = proxy_config{};  // no environment: no proxy from it either
        }
        s.tr = std::make_shared<cspark::transport>(ex, std::move(tc));
    } else {
        s.tr = s.cfg.shared_transport;
    }
    s.ex = s.tr->get_executor();  // the transport's strand: the client's state and the pool's are used there only
    s.retry.max_retries = std::max(0, s.cfg.max_retries);  // the pure policy's input, from one spelling of each knob
    s.retry.retry_interval = s.cfg.retry_interval;
    s.retry.max_delay = s.cfg.max_retry_delay;
    s.retry.max_retry_after = s.cfg.max_retry_after;
    s.retry.deadline = s.cfg.retry_deadline;
    s.retry.retry_rate_limited_posts = s.cfg.retry_rate_limited_posts;
    s.user_agent = "cspark-impex/" + std::string(version) + " (C++20; Boost.Beast)";
    if (!s.cfg.user_agent_suffix.empty()) s.user_agent += " " + s.cfg.user_agent_suffix;
    s.spark_ua = "agent=cspark-impex/" + std::string(version) + "; env=C++20";
}

void client::launch(const std::shared_ptr<impl>& self, const request& req,
                    asio::any_completion_handler<void(error_code, response)> handler) {
    auto oc = std::make_shared<detail::op_cancel>();
    auto ex = self->ex;
    // The caller emits on its own executor; the request's state lives on the
    // strand, so the cancellation is carried there. The slot is cleared on
    // the caller's executor too (where it is emitted), just before completing.
    auto slot = asio::get_associated_cancellation_slot(handler);
    if (slot.is_connected())
        slot.assign([oc, ex](asio::cancellation_type) { asio::dispatch(ex, [oc] { oc->cancel(); }); });
    auto done = [handler = std::move(handler), slot, ex](std::exception_ptr e, detail::send_outcome out) mutable {
        if (e) {
            out.ec = errc::internal_error;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& x) {
                out.resp.diag.detail = x.what();
            } catch (...) {
                out.resp.diag.detail = "unknown exception";
            }
        }
        auto caller = asio::get_associated_executor(handler, ex);
        asio::dispatch(caller, [handler = std::move(handler), slot, out = std::move(out)]() mutable {
            if (slot.is_connected()) slot.clear();
            std::move(handler)(out.ec, std::move(out.resp));
        });
    };
    asio::co_spawn(ex, detail::run_request(self, req, std::move(oc)), std::move(done));
}

const resolved_config& client::config() const noexcept { return impl_->rc; }
const base_url& client::url() const noexcept { return impl_->rc.url; }
asio::any_io_executor client::get_executor() const noexcept { return impl_->ex; }
const std::shared_ptr<cspark::transport>& client::get_transport() const noexcept { return impl_->tr; }
const std::shared_ptr<timer_service>& client::timer() const noexcept { return impl_->timer; }
const logger& client::log() const noexcept { return impl_->cfg.log; }
client_stats client::stats() const { return impl_->stats.snapshot(); }

}  // namespace cspark
