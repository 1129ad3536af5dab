// Internal to the client: its state, and what the request loop (client.cpp)
// and the OAuth token cache (oauth.cpp) share.
#pragma once

#include <cspark/client.hpp>
#include <cspark/version.hpp>

#include "core/text.hpp"
#include "http/exchange.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <atomic>
#include <mutex>
#include <random>


namespace cspark {

struct client::impl {
    boost::asio::any_io_executor ex;  // the transport's strand: all of the below is used there
    client_config cfg;
    resolved_config rc;
    std::shared_ptr<cspark::transport> tr;
    std::shared_ptr<timer_service> timer;
    retry_config retry;
    std::mt19937_64 rng{detail::random_seed()};  // used on the strand only

    // Counters written on the strand, read by stats() from any thread.
    struct live_stats {
        std::atomic<std::uint64_t> requests{0}, attempts{0}, retries{0}, token_fetches{0};
        mutable std::mutex reasons_mu;
        std::map<std::string, std::uint64_t, std::less<>> retry_reasons;

        void retried(std::string_view reason) {
            ++retries;
            std::lock_guard lock(reasons_mu);
            auto it = retry_reasons.find(reason);
            if (it == retry_reasons.end()) it = retry_reasons.emplace(std::string(reason), 0).first;
            ++it->second;
        }
        client_stats snapshot() const {
            client_stats s;
            s.requests = requests.load(std::memory_order_relaxed);
            s.attempts = attempts.load(std::memory_order_relaxed);
            s.retries = retries.load(std::memory_order_relaxed);
            s.token_fetches = token_fetches.load(std::memory_order_relaxed);
            std::lock_guard lock(reasons_mu);
            s.retry_reasons = retry_reasons;
            return s;
        }
    } stats;
    std::string user_agent;
    std::string spark_ua;

    // OAuth token cache; one fetch at a time, others wait for it.
    std::string access_token;
    clock_type::time_point token_expiry{};
    bool fetching = false;
    std::vector<boost::asio::any_completion_handler<void(error_code)>> token_waiters;
    diagnostics token_diag;

    double random01() {
        if (cfg.random) return cfg.random();
        return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    }

    std::vector<std::string> secrets() const {
        return {rc.api_key.reveal(), rc.bearer_token.reveal(), rc.oauth.client_secret.reveal(), access_token};
    }
    std::string mask(std::string text) const { return detail::mask_secrets(std::move(text), secrets()); }
};


namespace detail {

struct send_outcome {
    error_code ec;
    response resp;
};

/// One request, retries and redirects included.
boost::asio::awaitable<send_outcome> run_request(std::shared_ptr<client::impl> self, request req,
                                                 std::shared_ptr<op_cancel> oc);
/// Makes sure a valid OAuth token is cached; concurrent callers share one fetch.
boost::asio::awaitable<error_code> ensure_token(std::shared_ptr<client::impl> self, std::shared_ptr<op_cancel> oc);

}  // namespace detail
}  // namespace cspark
