// Streamed bodies: uploads read from a body_source of known size, downloads
// written to a body_sink chunk by chunk. Nothing here holds a whole file.
#pragma once

#include <cspark/error.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace cspark {

using header_list = std::vector<std::pair<std::string, std::string>>;

/// An upload body whose size is known before the first byte is sent.
class body_source {
public:
    virtual ~body_source() = default;
    /// Exact number of bytes read() will yield in total.
    virtual std::uint64_t size() const = 0;
    /// Fills `buf`; returns 0 only at the end. Sets ec on failure.
    virtual std::size_t read(std::span<char> buf, error_code& ec) = 0;
    /// Starts again from the first byte (for a retry).
    virtual void rewind(error_code& ec) = 0;
};

/// A file (or the [offset, offset+length) range of it), read in chunks.
/// Errors: file_error naming the path.
std::unique_ptr<body_source> make_file_source(const std::filesystem::path& path, error_code& ec,
                                              std::uint64_t offset = 0,
                                              std::optional<std::uint64_t> length = std::nullopt);
/// Bytes kept in memory (small bodies, multipart framing).
std::unique_ptr<body_source> make_string_source(std::string data);
/// Several sources one after another (e.g. multipart head + file + tail).
std::unique_ptr<body_source> make_concat_source(std::vector<std::unique_ptr<body_source>> parts);

/// A download destination.
class body_sink {
public:
    virtual ~body_sink() = default;
    /// Called once per response before its body; content_length when known.
    virtual void start(int status, std::optional<std::uint64_t> content_length,
                       const header_list& headers, error_code& ec) {
        (void)status, (void)content_length, (void)headers, (void)ec;
    }
    virtual void write(std::span<const char> data, error_code& ec) = 0;
    /// Bytes already held from an earlier, interrupted response: the client
    /// then asks for the rest ("Range: bytes=N-") on every (re)send.
    virtual std::uint64_t resume_offset() const { return 0; }
};

/// Case-insensitive header lookup; empty when absent.
std::string_view find_header(const header_list& headers, std::string_view name) noexcept;

}  // namespace cspark
