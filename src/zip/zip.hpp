// ZIP archives (deflate via zlib, CRC-32), written and read in a streaming way:
// the emulator builds export packages with it, the import path and the CLI's
// inspect read them. No ZIP64: entries and archives stay below 4 GiB.
#pragma once

#include <cspark/body.hpp>

#include "core/hash.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace cspark::zip {

struct entry_info {
    std::string name;
    std::uint16_t method = 0;  ///< 0 stored, 8 deflated
    std::uint32_t crc32 = 0;
    std::uint64_t compressed_size = 0;
    std::uint64_t size = 0;
    std::uint64_t local_offset = 0;
    std::uint32_t external_attrs = 0;
    bool made_on_unix = false;

    bool is_directory() const noexcept { return !name.empty() && name.back() == '/'; }
    bool is_symlink() const noexcept;
};

/// Writes an archive to `path`. Entries get a fixed timestamp so the same
/// inputs give the same bytes. A writer destroyed before finish() removes
/// its file. Errors throw spark_error(errc::file_error) naming the path.
class writer {
public:
    explicit writer(std::filesystem::path path, int level = 6);
    ~writer();
    writer(const writer&) = delete;
    writer& operator=(const writer&) = delete;

    void add_directory(std::string name);
    void add_file(std::string name, std::string_view data, bool deflate = true);
    /// Streams `src` into the archive (constant memory).
    void add_file(std::string name, body_source& src, bool deflate = true);
    /// Stores bytes whose CRC-32 the caller already knows (cached payloads).
    void add_stored(std::string name, std::string_view data, std::uint32_t crc32);
    /// Writes the central directory; returns the archive's size in bytes.
    /// `durable` = fsync before returning.
    std::uint64_t finish(bool durable = false);
    /// Lower-case hex SHA-256 of the archive, after finish() (computed while
    /// writing: entries carry data descriptors, so nothing is patched).
    const std::string& sha256() const noexcept { return sha256_; }

private:
    void put(const void* data, std::size_t n);
    void put_descriptor(const entry_info& e);
    void ready_deflater();
    void flush();
    void begin_entry(entry_info& e, bool deflate);
    void end_entry(entry_info& e);

    std::filesystem::path path_;
    int fd_ = -1;
    int level_;
    std::uint64_t offset_ = 0;
    std::vector<char> buf_;
    std::vector<entry_info> entries_;
    bool finished_ = false;
    std::unique_ptr<detail::hasher> hash_;
    std::string sha256_;
    // One deflate state and one pair of buffers for every entry: a fresh
    // 256 KiB of each per entry (mmap, zero, unmap) was most of the cost of
    // a package of many small files.
    struct deflater;
    struct deflater_deleter {
        void operator()(deflater* d) const noexcept;
    };
    std::unique_ptr<deflater, deflater_deleter> z_;
    std::vector<char> in_, out_;
};

class reader {
public:
    /// Opens and indexes `path`; nullopt with the reason when it is not a ZIP
    /// this library can read.
    static std::optional<reader> open(const std::filesystem::path& path, std::string& why);
    /// The same over an archive held in memory (an upload received whole).
    static std::optional<reader> from_bytes(std::string bytes, std::string& why);
    reader(reader&&) noexcept;
    reader& operator=(reader&&) noexcept;
    ~reader();

    const std::vector<entry_info>& entries() const noexcept { return entries_; }
    /// The entry named `name` (the first, if the archive names two alike).
    const entry_info* find(std::string_view name) const noexcept;
    std::uint64_t file_size() const noexcept { return size_; }

    /// Streams the uncompressed bytes of `e` to `fn`, checking size and CRC-32.
    /// One read at a time per reader (it reuses its buffers): `fn` must not
    /// read from the same reader, and a reader is not shared across threads.
    bool read(const entry_info& e, const std::function<void(std::span<const char>)>& fn, std::string& why) const;
    /// Reads a small entry whole (at most `max` bytes).
    std::optional<std::string> read_all(const entry_info& e, std::size_t max, std::string& why) const;

private:
    reader() = default;
    static std::optional<reader> index(reader r, std::string& why);
    /// `n` bytes at `off`, from the file or from memory.
    bool fetch(void* buf, std::size_t n, std::uint64_t off) const;
    bool ready_inflater(std::string& why) const;
    int fd_ = -1;
    std::string bytes_;  ///< the archive, when held in memory (fd_ < 0)
    std::uint64_t size_ = 0;
    std::vector<entry_info> entries_;
    /// Names to their place in entries_ (views into entries_' names: built
    /// once they are all read, and they stay put when the reader moves).
    std::unordered_map<std::string_view, std::size_t> by_name_;
    // One inflate state and one pair of buffers for every entry read (a
    // package holds hundreds of small entries; fresh ones each cost more
    // than the reading).
    struct inflater;
    struct inflater_deleter {
        void operator()(inflater* z) const noexcept;
    };
    mutable std::unique_ptr<inflater, inflater_deleter> z_;
    mutable std::vector<char> in_, out_;
};

/// Whether `name` is safe to extract below a directory: relative, no "..",
/// no backslashes, no drive letters.
bool is_safe_entry_name(std::string_view name) noexcept;

}  // namespace cspark::zip
