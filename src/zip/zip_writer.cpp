// ZIP archives: the streaming writer (deterministic bytes, data descriptors).
#include "zip/format.hpp"

#include "core/text.hpp"

#include <zlib.h>

#include <algorithm>
#include <fcntl.h>
#include <sys/stat.h>

namespace cspark::zip {
using namespace format;

// ---------------------------------------------------------------- writer

struct writer::deflater {
    z_stream zs{};
    bool ready = false;
};

void writer::deflater_deleter::operator()(deflater* d) const noexcept {
    if (d->ready) deflateEnd(&d->zs);
    delete d;
}

writer::writer(std::filesystem::path path, int level) : path_(std::move(path)), level_(level) {
    errno = 0;
    fd_ = ::open(path_.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (fd_ < 0) fail(path_, "cannot create");
    buf_.reserve(256 * 1024);
    hash_ = std::make_unique<detail::hasher>();
}

writer::~writer() {
    if (fd_ >= 0) ::close(fd_);
    if (!finished_) {
        std::error_code ignored;
        std::filesystem::remove(path_, ignored);
    }
}

void writer::flush() {
    hash_->update(std::span<const char>(buf_.data(), buf_.size()));
    if (!detail::write_all(fd_, buf_.data(), buf_.size())) fail(path_, "write failed");
    buf_.clear();
}

void writer::put(const void* data, std::size_t n) {
    if (buf_.size() + n > buf_.capacity()) flush();
    if (n >= buf_.capacity()) {
        auto* p = static_cast<const char*>(data);
        buf_.assign(p, p + n);
        flush();
    } else {
        auto* p = static_cast<const char*>(data);
        buf_.insert(buf_.end(), p, p + n);
    }
    offset_ += n;
}

void writer::add_directory(std::string name) {
    if (name.empty() || name.back() != '/') name += '/';
    entry_info e;
    e.name = std::move(name);
    e.method = 0;
    e.external_attrs = (040755u << 16) | 0x10;
    e.local_offset = offset_;
    auto h = local_header(e);
    put(h.data(), h.size());
    entries_.push_back(std::move(e));
}

void writer::add_file(std::string name, std::string_view data, bool deflate) {
    auto src = make_string_source(std::string(data));
    add_file(std::move(name), *src, deflate);
}

void writer::add_file(std::string name, body_source& src, bool deflate) {
    if (src.size() >= 0xffffffffull) fail(path_, "entry '" + name + "' is 4 GiB or more (ZIP64 is not supported)");
    entry_info e;
    e.name = std::move(name);
    e.method = deflate ? 8 : 0;
    e.external_attrs = 0100644u << 16;
    e.local_offset = offset_;
    auto h = local_header(e);  // sizes and CRC patched once known
    put(h.data(), h.size());

    error_code ec;
    src.rewind(ec);
    if (in_.empty()) {
        in_.resize(128 * 1024);
        out_.resize(128 * 1024);
    }
    auto& in = in_;
    auto& out = out_;
    if (deflate) ready_deflater();
    z_stream dummy{};
    z_stream& zs = deflate ? z_->zs : dummy;
    uLong crc = crc32(0, nullptr, 0);
    std::uint64_t before = offset_;
    for (;;) {
        std::size_t n = src.read(std::span<char>(in.data(), in.size()), ec);
        if (ec) fail(path_, "reading the data of '" + e.name + "' failed");
        e.size += n;
        crc = crc32(crc, reinterpret_cast<const Bytef*>(in.data()), static_cast<uInt>(n));
        if (!deflate) {
            if (n == 0) break;
            put(in.data(), n);
            continue;
        }
        zs.next_in = reinterpret_cast<Bytef*>(in.data());
        zs.avail_in = static_cast<uInt>(n);
        int flush_mode = n == 0 ? Z_FINISH : Z_NO_FLUSH;
        int rc;
        do {
            zs.next_out = reinterpret_cast<Bytef*>(out.data());
            zs.avail_out = static_cast<uInt>(out.size());
            rc = ::deflate(&zs, flush_mode);
            put(out.data(), out.size() - zs.avail_out);
        } while (zs.avail_out == 0 || (flush_mode == Z_FINISH && rc != Z_STREAM_END));
        if (n == 0) break;
    }
    e.crc32 = static_cast<std::uint32_t>(crc);
    e.compressed_size = offset_ - before;
    if (offset_ >= 0xffffffffull) fail(path_, "archive reached 4 GiB (ZIP64 is not supported)");
    put_descriptor(e);
    entries_.push_back(std::move(e));
}

// The one deflater of this writer, made on the first deflated entry and
// reset for each later one.
void writer::ready_deflater() {
    if (z_) {
        if (deflateReset(&z_->zs) != Z_OK) fail(path_, "deflateReset failed");
        return;
    }
    z_.reset(new deflater{});
    if (deflateInit2(&z_->zs, level_, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        z_.reset();
        fail(path_, "deflateInit2 failed");
    }
    z_->ready = true;
}

// The data descriptor after an entry's data: its local header said "sizes follow".
void writer::put_descriptor(const entry_info& e) {
    std::vector<char> dd;
    le32(dd, descriptor_sig);
    le32(dd, e.crc32);
    le32(dd, static_cast<std::uint32_t>(e.compressed_size));
    le32(dd, static_cast<std::uint32_t>(e.size));
    put(dd.data(), dd.size());
}

void writer::add_stored(std::string name, std::string_view data, std::uint32_t crc) {
    if (data.size() >= 0xffffffffull) fail(path_, "entry '" + name + "' is 4 GiB or more (ZIP64 is not supported)");
    entry_info e;
    e.name = std::move(name);
    e.method = 0;
    e.external_attrs = 0100644u << 16;
    e.local_offset = offset_;
    auto h = local_header(e);
    put(h.data(), h.size());
    put(data.data(), data.size());
    e.crc32 = crc;
    e.size = e.compressed_size = data.size();
    put_descriptor(e);
    entries_.push_back(std::move(e));
}

std::uint64_t writer::finish(bool durable) {
    std::uint64_t cd_start = offset_;
    for (const auto& e : entries_) {
        std::vector<char> c;
        le32(c, central_sig);
        le16(c, (3 << 8) | 20);  // made by Unix, spec 2.0
        common_fields(c, e);
        le16(c, 0);  // extra field length
        le16(c, 0);  // comment length
        le16(c, 0);  // disk number
        le16(c, 0);  // internal attributes
        le32(c, e.external_attrs);
        le32(c, static_cast<std::uint32_t>(e.local_offset));
        c.insert(c.end(), e.name.begin(), e.name.end());
        put(c.data(), c.size());
    }
    std::vector<char> end;
    le32(end, end_sig);
    le16(end, 0);
    le16(end, 0);
    le16(end, static_cast<std::uint16_t>(entries_.size()));
    le16(end, static_cast<std::uint16_t>(entries_.size()));
    le32(end, static_cast<std::uint32_t>(offset_ - cd_start));
    le32(end, static_cast<std::uint32_t>(cd_start));
    le16(end, 0);
    put(end.data(), end.size());
    flush();
    if (entries_.size() > 0xffff) fail(path_, "more than 65535 entries (ZIP64 is not supported)");
    if (durable && ::fsync(fd_) != 0) fail(path_, "fsync failed");
    sha256_ = hash_->hex_digest();
    ::close(fd_);
    fd_ = -1;
    finished_ = true;
    return offset_;
}

}  // namespace cspark::zip
