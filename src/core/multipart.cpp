#include "core/multipart.hpp"

#include "core/text.hpp"

namespace cspark::detail {
namespace {
constexpr std::size_t max_header_block = 16 * 1024;

// Value of `key` in a header parameter list: form-data; name="x"; filename="y".
std::string param(std::string_view header, std::string_view key) {
    std::size_t pos = 0;
    while (pos < header.size()) {
        auto semi = header.find(';', pos);
        auto item = trim(header.substr(pos, semi == std::string_view::npos ? std::string_view::npos : semi - pos));
        auto eq = item.find('=');
        if (eq != std::string_view::npos && iequals(trim(item.substr(0, eq)), key)) {
            auto v = trim(item.substr(eq + 1));
            if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
            return std::string(v);
        }
        if (semi == std::string_view::npos) break;
        pos = semi + 1;
    }
    return {};
}
}  // namespace

std::optional<std::string> multipart_boundary(std::string_view content_type) {
    auto semi = content_type.find(';');
    if (!iequals(trim(content_type.substr(0, semi)), "multipart/form-data") || semi == std::string_view::npos)
        return std::nullopt;
    auto b = param(content_type.substr(semi + 1), "boundary");
    if (b.empty() || b.size() > 70) return std::nullopt;
    return b;
}

std::string make_boundary(std::mt19937_64& rng) {
    static constexpr char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    std::string b = "----cspark-impex-";
    for (int i = 0; i < 24; ++i) b += alphabet[rng() % 36];
    return b;
}

std::string multipart_part_head(std::string_view boundary, std::string_view name, std::string_view filename,
                                std::string_view content_type, bool first) {
    std::string h = first ? "" : "\r\n";
    h += "--";
    h += boundary;
    h += "\r\nContent-Disposition: form-data; name=\"";
    h += name;
    h += '"';
    if (!filename.empty()) {
        h += "; filename=\"";
        h += filename;
        h += '"';
    }
    h += "\r\n";
    if (!content_type.empty()) {
        h += "Content-Type: ";
        h += content_type;
        h += "\r\n";
    }
    h += "\r\n";
    return h;
}

std::string multipart_tail(std::string_view boundary) { return "\r\n--" + std::string(boundary) + "--\r\n"; }

multipart_parser::multipart_parser(std::string boundary, callbacks cb)
    : boundary_(std::move(boundary)), delim_("\r\n--" + boundary_), cb_(std::move(cb)) {}

bool multipart_parser::fail(std::string why) {
    state_ = state::failed;
    error_ = std::move(why);
    return false;
}

bool multipart_parser::parse_headers(std::string_view block) {
    part_info info;
    bool disposition = false;
    while (!block.empty()) {
        auto eol = block.find("\r\n");
        auto line = block.substr(0, eol);
        block = eol == std::string_view::npos ? std::string_view{} : block.substr(eol + 2);
        if (line.empty()) continue;
        auto colon = line.find(':');
        if (colon == std::string_view::npos) return fail("part header line without ':'");
        auto key = trim(line.substr(0, colon));
        auto value = trim(line.substr(colon + 1));
        if (iequals(key, "content-disposition")) {
            disposition = true;
            info.name = param(value, "name");
            info.filename = param(value, "filename");
        } else if (iequals(key, "content-type")) {
            info.content_type = std::string(value);
        }
    }
    if (!disposition || info.name.empty()) return fail("part without a Content-Disposition name");
    ++parts_;
    if (cb_.begin) cb_.begin(info);
    return true;
}

bool multipart_parser::feed(std::span<const char> bytes) {
    if (state_ == state::failed) return false;
    if (state_ == state::done) return true;  // epilogue is ignored
    buf_.append(bytes.data(), bytes.size());
    for (bool again = true; again;) {
        switch (state_) {
        case state::preamble: again = on_preamble(); break;
        case state::after_boundary: again = on_boundary(); break;
        case state::headers: again = on_headers(); break;
        case state::body: again = on_body(); break;
        case state::done:
        case state::failed: again = false; break;
        }
    }
    return state_ != state::failed;
}

bool multipart_parser::on_preamble() {
    // The first delimiter may start the body without the leading CRLF.
    std::string first = "--" + boundary_;
    auto pos = buf_.find(first);
    if (pos == std::string::npos) return buf_.size() > max_header_block ? fail("no multipart boundary found") : false;
    buf_.erase(0, pos + first.size());
    state_ = state::after_boundary;
    return true;
}

bool multipart_parser::on_boundary() {
    if (buf_.size() < 2) return false;
    if (buf_.compare(0, 2, "--") == 0) {
        state_ = state::done;
        buf_.clear();
        return false;
    }
    // Tolerate transport padding (spaces/tabs) before the CRLF.
    auto eol = buf_.find("\r\n");
    if (eol == std::string::npos) return buf_.size() > 256 ? fail("malformed boundary line") : false;
    if (!trim(std::string_view(buf_).substr(0, eol)).empty()) return fail("malformed boundary line");
    buf_.erase(0, eol + 2);
    state_ = state::headers;
    return true;
}

bool multipart_parser::on_headers() {
    if (buf_.size() >= 2 && buf_.compare(0, 2, "\r\n") == 0) return fail("part without a Content-Disposition name");
    auto end = buf_.find("\r\n\r\n");
    if (end == std::string::npos) return buf_.size() > max_header_block ? fail("part headers exceed 16 KiB") : false;
    if (!parse_headers(std::string_view(buf_).substr(0, end))) return false;
    buf_.erase(0, end + 4);
    state_ = state::body;
    return true;
}

bool multipart_parser::on_body() {
    auto pos = buf_.find(delim_);
    if (pos == std::string::npos) {
        // Keep what could be the start of a delimiter; pass the rest on.
        std::size_t keep = std::min(buf_.size(), delim_.size() - 1);
        std::size_t emit = buf_.size() - keep;
        if (emit > 0) {
            if (cb_.data) cb_.data(std::span<const char>(buf_.data(), emit));
            buf_.erase(0, emit);
        }
        return false;
    }
    if (pos > 0 && cb_.data) cb_.data(std::span<const char>(buf_.data(), pos));
    if (cb_.end) cb_.end();
    buf_.erase(0, pos + delim_.size());
    state_ = state::after_boundary;
    return true;
}

}  // namespace cspark::detail
