// The HAR trace: entries appended as the run goes, the closing brackets
// rewritten after each, so the file is always a whole HAR document.
#include <cspark/error.hpp>
#include <cspark/trace.hpp>
#include <cspark/version.hpp>

#include "core/text.hpp"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace cspark {
namespace json = boost::json;

namespace {

constexpr std::size_t max_body = 64 * 1024;
constexpr std::string_view tail = "\n]}}\n";

bool credential_header(std::string_view name) {
    auto n = detail::to_lower(name);
    return n == "authorization" || n == "proxy-authorization" || n == "x-synthetic-key" || n == "cookie" || n == "set-cookie" ||
           n.find("token") != std::string::npos || n.find("secret") != std::string::npos || n.find("api-key") != std::string::npos;
}

bool is_json(std::string_view content_type) {
    auto t = detail::to_lower(content_type);
    return t.find("json") != std::string::npos;
}

json::array headers_of(const header_list& headers, const std::vector<std::string>& secrets) {
    json::array out;
    for (const auto& [name, value] : headers)
        out.push_back(json::object{{"name", name},
                                   {"value", credential_header(name) ? std::string("***")
                                                                     : detail::mask_secrets(detail::mask_links(value), secrets)}});
    return out;
}

json::array query_of(const std::string& masked_url) {
    json::array out;
    auto q = masked_url.find('?');
    if (q == std::string::npos) return out;
    std::string_view query = std::string_view(masked_url).substr(q + 1);
    query = query.substr(0, query.find('#'));
    for (std::size_t start = 0; start <= query.size();) {
        auto amp = query.find('&', start);
        auto pair = query.substr(start, amp == std::string_view::npos ? std::string_view::npos : amp - start);
        if (!pair.empty()) {
            auto eq = pair.find('=');
            out.push_back(json::object{{"name", std::string(pair.substr(0, eq))},
                                       {"value", eq == std::string_view::npos ? std::string() : std::string(pair.substr(eq + 1))}});
        }
        if (amp == std::string_view::npos) break;
        start = amp + 1;
    }
    return out;
}

// Members that hold a credential, whatever the client knows of it yet (the
// token endpoint's answer is recorded before its access_token is in use).
bool secret_member(std::string_view key) {
    auto k = detail::to_lower(key);
    if (k == "token_type") return false;
    return k.find("token") != std::string::npos || k.find("secret") != std::string::npos ||
           k.find("password") != std::string::npos || k == "api_key" || k == "apikey";
}

void mask_members(json::value& v) {
    if (v.is_object()) {
        for (auto& [key, member] : v.get_object()) {
            if (secret_member(key) && member.is_string()) member = "***";
            else mask_members(member);
        }
    } else if (v.is_array()) {
        for (auto& item : v.get_array()) mask_members(item);
    }
}

std::string body_text(const std::string& body, std::string_view content_type, const std::vector<std::string>& secrets) {
    if (body.empty() || body.size() > max_body || !is_json(content_type)) return {};
    error_code ec;
    auto doc = json::parse(body, ec);
    if (ec) return detail::mask_secrets(detail::mask_links(detail::excerpt(body, max_body)), secrets);
    mask_members(doc);
    return detail::mask_secrets(detail::mask_links(json::serialize(doc)), secrets);
}

}  // namespace

struct har_trace::impl {
    std::filesystem::path path;
    std::FILE* f = nullptr;
    long tail_at = 0;  // where the closing brackets start
    std::size_t entries = 0;
    bool broken = false;
    mutable std::mutex mu;
};

har_trace::har_trace(const std::filesystem::path& path) : impl_(std::make_unique<impl>()) {
    impl_->path = path;
    impl_->f = std::fopen(path.c_str(), "w");
    if (!impl_->f) {
        diagnostics d;
        d.detail = "the trace file '" + path.string() + "' cannot be written: " + std::strerror(errno);
        throw spark_error(errc::file_error, d);
    }
    std::string head = json::serialize(json::object{{"version", "1.2"},
                                                    {"creator", json::object{{"name", "cspark-impex"}, {"version", std::string(version)}}}});
    head.pop_back();  // the log object stays open for its entries
    head = "{\"log\":" + head + ",\"entries\":[";
    std::fwrite(head.data(), 1, head.size(), impl_->f);
    impl_->tail_at = std::ftell(impl_->f);
    std::fwrite(tail.data(), 1, tail.size(), impl_->f);
    std::fflush(impl_->f);
}

har_trace::~har_trace() {
    if (impl_->f) std::fclose(impl_->f);
}

void har_trace::record(const traced_exchange& x, const std::vector<std::string>& secrets) {
    std::string url = detail::mask_secrets(detail::mask_url(x.url), secrets);
    json::object request{{"method", x.method},
                         {"url", url},
                         {"httpVersion", "HTTP/1.1"},
                         {"cookies", json::array()},
                         {"headers", headers_of(x.request_headers, secrets)},
                         {"queryString", query_of(url)},
                         {"headersSize", -1},
                         {"bodySize", x.request_bytes}};
    if (auto text = body_text(x.request_body, x.request_content_type, secrets); !text.empty())
        request["postData"] = json::object{{"mimeType", x.request_content_type}, {"text", text}};
    else if (!x.request_content_type.empty())
        request["postData"] = json::object{{"mimeType", x.request_content_type}, {"text", ""}};  // a package or a form: not kept
    std::string response_type;
    for (const auto& [name, value] : x.response_headers)
        if (detail::to_lower(name) == "content-type") response_type = value;
    json::object content{{"size", x.response_bytes}, {"mimeType", response_type}};
    if (auto text = body_text(x.response_body, response_type, secrets); !text.empty()) content["text"] = text;
    json::object response{{"status", x.status},
                          {"statusText", ""},
                          {"httpVersion", "HTTP/1.1"},
                          {"cookies", json::array()},
                          {"headers", headers_of(x.response_headers, secrets)},
                          {"content", std::move(content)},
                          {"redirectURL", ""},
                          {"headersSize", -1},
                          {"bodySize", x.response_bytes}};
    json::object entry{{"startedDateTime", detail::utc_timestamp(x.started)},
                       {"time", x.wait.count()},
                       {"request", std::move(request)},
                       {"response", std::move(response)},
                       {"cache", json::object()},
                       {"timings", json::object{{"send", 0}, {"wait", x.wait.count()}, {"receive", 0}}},
                       {"_requestId", x.request_id}};
    if (!x.error.empty()) entry["_error"] = detail::mask_secrets(detail::mask_links(x.error), secrets);
    std::string text = json::serialize(entry);

    std::lock_guard lock(impl_->mu);
    if (impl_->broken) return;
    auto& s = *impl_;
    bool ok = std::fseek(s.f, s.tail_at, SEEK_SET) == 0;
    std::string piece = (s.entries ? ",\n" : "\n") + text;
    ok = ok && std::fwrite(piece.data(), 1, piece.size(), s.f) == piece.size();
    long at = ok ? std::ftell(s.f) : -1;
    ok = ok && at >= 0 && std::fwrite(tail.data(), 1, tail.size(), s.f) == tail.size() && std::fflush(s.f) == 0;
    if (!ok) {
        s.broken = true;
        return;
    }
    s.tail_at = at;
    ++s.entries;
}

std::size_t har_trace::entries() const {
    std::lock_guard lock(impl_->mu);
    return impl_->entries;
}

const std::filesystem::path& har_trace::path() const noexcept { return impl_->path; }

}  // namespace cspark
