// multipart/form-data: framing for uploads (client) and a streaming parser
// (emulator). Pure code: no I/O, bytes in and callbacks out.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>

namespace cspark::detail {

/// "multipart/form-data; boundary=X" -> X (quotes removed); nullopt otherwise.
std::optional<std::string> multipart_boundary(std::string_view content_type);

/// A random boundary that cannot occur in base64/JSON text by accident.
std::string make_boundary(std::mt19937_64& rng);

/// Header of one part, starting with its boundary line; the part's bytes follow.
/// `first` omits the CRLF that ends the previous part.
std::string multipart_part_head(std::string_view boundary, std::string_view name, std::string_view filename,
                                std::string_view content_type, bool first);
/// The closing delimiter after the last part's bytes.
std::string multipart_tail(std::string_view boundary);

struct part_info {
    std::string name;
    std::string filename;
    std::string content_type;
};

class multipart_parser {
public:
    struct callbacks {
        std::function<void(const part_info&)> begin;
        std::function<void(std::span<const char>)> data;
        std::function<void()> end;
    };

    multipart_parser(std::string boundary, callbacks cb);

    /// Feeds the next bytes; false once the input is malformed (see error()).
    bool feed(std::span<const char> bytes);
    /// True after the closing delimiter.
    bool finished() const noexcept { return state_ == state::done; }
    const std::string& error() const noexcept { return error_; }
    std::size_t parts() const noexcept { return parts_; }

private:
    enum class state { preamble, after_boundary, headers, body, done, failed };
    bool fail(std::string why);
    bool parse_headers(std::string_view block);
    // One state's work on the bytes held: true = go on (the state moved),
    // false = feed() returns (more input needed, done, or failed).
    bool on_preamble();
    bool on_boundary();
    bool on_headers();
    bool on_body();

    std::string boundary_;
    std::string delim_;  // "\r\n--" + boundary
    callbacks cb_;
    state state_ = state::preamble;
    std::string buf_;
    std::string error_;
    std::size_t parts_ = 0;
};

}  // namespace cspark::detail
