#include "zip/zip.hpp"

#include "core/text.hpp"

#include <cspark/error.hpp>

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace cspark::zip {
namespace {

constexpr std::uint32_t local_sig = 0x04034b50;
constexpr std::uint32_t central_sig = 0x02014b50;
constexpr std::uint32_t end_sig = 0x06054b50;
constexpr std::uint16_t dos_date = ((2024 - 1980) << 9) | (1 << 5) | 1;  // 2024-01-01
constexpr std::uint16_t dos_time = 0;
constexpr std::uint16_t utf8_flag = 0x0800;
constexpr std::uint16_t descriptor_flag = 0x0008;  // CRC and sizes follow the data
constexpr std::uint32_t descriptor_sig = 0x08074b50;
constexpr std::size_t max_entries = 200000;

[[noreturn]] void fail(const std::filesystem::path& p, const std::string& what) {
    diagnostics d;
    d.detail = "ZIP '" + p.string() + "': " + what + (errno ? std::string(": ") + std::strerror(errno) : "");
    throw spark_error(errc::file_error, std::move(d));
}

void le16(std::vector<char>& v, std::uint16_t x) {
    v.push_back(static_cast<char>(x & 0xff));
    v.push_back(static_cast<char>(x >> 8));
}
void le32(std::vector<char>& v, std::uint32_t x) {
    for (int i = 0; i < 4; ++i) v.push_back(static_cast<char>((x >> (8 * i)) & 0xff));
}
std::uint16_t rd16(const unsigned char* p) { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }
std::uint32_t rd32(const unsigned char* p) {
    return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
           (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

bool pread_all(int fd, void* buf, std::size_t n, std::uint64_t off) {
    auto* p = static_cast<char*>(buf);
    while (n > 0) {
        ssize_t r = ::pread(fd, p, n, static_cast<off_t>(off));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        p += r;
        n -= static_cast<std::size_t>(r);
        off += static_cast<std::uint64_t>(r);
    }
    return true;
}

// The fields local and central headers share, from "version needed" to the
// name length.
void common_fields(std::vector<char>& h, const entry_info& e) {
    le16(h, 20);
    le16(h, static_cast<std::uint16_t>(utf8_flag | (e.is_directory() ? 0 : descriptor_flag)));
    le16(h, e.method);
    le16(h, dos_time);
    le16(h, dos_date);
    le32(h, e.crc32);
    le32(h, static_cast<std::uint32_t>(e.compressed_size));
    le32(h, static_cast<std::uint32_t>(e.size));
    le16(h, static_cast<std::uint16_t>(e.name.size()));
}

std::vector<char> local_header(const entry_info& e) {
    std::vector<char> h;
    le32(h, local_sig);
    common_fields(h, e);
    le16(h, 0);  // extra field length
    h.insert(h.end(), e.name.begin(), e.name.end());
    return h;
}

}  // namespace

bool entry_info::is_symlink() const noexcept {
    return made_on_unix && ((external_attrs >> 16) & S_IFMT) == S_IFLNK;
}

bool is_safe_entry_name(std::string_view name) noexcept {
    if (name.empty() || name.front() == '/' || name.find('\\') != std::string_view::npos ||
        name.find('\0') != std::string_view::npos)
        return false;
    if (name.size() >= 2 && name[1] == ':') return false;
    std::size_t start = 0;
    while (start <= name.size()) {
        auto end = name.find('/', start);
        auto part = name.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
        if (part == "..") return false;
        if (end == std::string_view::npos) break;
        start = end + 1;
    }
    return true;
}

// ---------------------------------------------------------------- writer

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
    std::vector<char> in(128 * 1024), out(128 * 1024);
    z_stream zs{};
    if (deflate && deflateInit2(&zs, level_, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        fail(path_, "deflateInit2 failed");
    uLong crc = crc32(0, nullptr, 0);
    std::uint64_t before = offset_;
    for (;;) {
        std::size_t n = src.read(std::span<char>(in.data(), in.size()), ec);
        if (ec) {
            if (deflate) deflateEnd(&zs);
            fail(path_, "reading the data of '" + e.name + "' failed");
        }
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
    if (deflate) deflateEnd(&zs);
    e.crc32 = static_cast<std::uint32_t>(crc);
    e.compressed_size = offset_ - before;
    if (offset_ >= 0xffffffffull) fail(path_, "archive reached 4 GiB (ZIP64 is not supported)");
    put_descriptor(e);
    entries_.push_back(std::move(e));
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

// ---------------------------------------------------------------- reader

reader::reader(reader&& o) noexcept : fd_(o.fd_), size_(o.size_), entries_(std::move(o.entries_)) { o.fd_ = -1; }
reader& reader::operator=(reader&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = o.fd_;
        size_ = o.size_;
        entries_ = std::move(o.entries_);
        o.fd_ = -1;
    }
    return *this;
}
reader::~reader() {
    if (fd_ >= 0) ::close(fd_);
}

std::optional<reader> reader::open(const std::filesystem::path& path, std::string& why) {
    reader r;
    r.fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (r.fd_ < 0) {
        why = "cannot open '" + path.string() + "': " + std::strerror(errno);
        return std::nullopt;
    }
    struct stat st {};
    if (::fstat(r.fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
        why = "'" + path.string() + "' is not a regular file";
        return std::nullopt;
    }
    r.size_ = static_cast<std::uint64_t>(st.st_size);
    if (r.size_ < 22) {
        why = "not a ZIP archive (too short for an end-of-central-directory record)";
        return std::nullopt;
    }
    std::size_t tail = static_cast<std::size_t>(std::min<std::uint64_t>(r.size_, 22 + 65535));
    std::vector<unsigned char> buf(tail);
    if (!pread_all(r.fd_, buf.data(), tail, r.size_ - tail)) {
        why = "cannot read the end of the archive";
        return std::nullopt;
    }
    std::optional<std::size_t> eocd;
    for (std::size_t i = tail - 22 + 1; i-- > 0;)
        if (rd32(&buf[i]) == end_sig) {
            eocd = i;
            break;
        }
    if (!eocd) {
        why = "not a ZIP archive (no end-of-central-directory record)";
        return std::nullopt;
    }
    const unsigned char* e = &buf[*eocd];
    std::uint16_t count = rd16(e + 10);
    std::uint32_t cd_size = rd32(e + 12), cd_off = rd32(e + 16);
    if (count == 0xffff || cd_off == 0xffffffffu) {
        why = "ZIP64 archives are not supported";
        return std::nullopt;
    }
    if (static_cast<std::uint64_t>(cd_off) + cd_size > r.size_ || cd_size > 64u * 1024 * 1024) {
        why = "corrupt ZIP: the central directory lies outside the file";
        return std::nullopt;
    }
    std::vector<unsigned char> cd(cd_size);
    if (cd_size && !pread_all(r.fd_, cd.data(), cd_size, cd_off)) {
        why = "cannot read the central directory";
        return std::nullopt;
    }
    std::size_t pos = 0;
    for (std::size_t i = 0; i < count; ++i) {
        if (pos + 46 > cd.size() || rd32(&cd[pos]) != central_sig || r.entries_.size() >= max_entries) {
            why = "corrupt ZIP: central directory entry " + std::to_string(i) + " is malformed";
            return std::nullopt;
        }
        const unsigned char* c = &cd[pos];
        entry_info info;
        info.made_on_unix = (rd16(c + 4) >> 8) == 3;
        info.method = rd16(c + 10);
        info.crc32 = rd32(c + 16);
        info.compressed_size = rd32(c + 20);
        info.size = rd32(c + 24);
        std::uint16_t nlen = rd16(c + 28), xlen = rd16(c + 30), clen = rd16(c + 32);
        info.external_attrs = rd32(c + 38);
        info.local_offset = rd32(c + 42);
        if (pos + 46 + nlen + xlen + clen > cd.size()) {
            why = "corrupt ZIP: central directory entry " + std::to_string(i) + " overruns";
            return std::nullopt;
        }
        info.name.assign(reinterpret_cast<const char*>(c + 46), nlen);
        if (info.local_offset + 30 + info.compressed_size > r.size_) {
            why = "corrupt ZIP: entry '" + info.name + "' lies outside the file";
            return std::nullopt;
        }
        pos += 46 + nlen + xlen + clen;
        r.entries_.push_back(std::move(info));
    }
    return r;
}

const entry_info* reader::find(std::string_view name) const noexcept {
    for (const auto& e : entries_)
        if (e.name == name) return &e;
    return nullptr;
}

bool reader::read(const entry_info& e, const std::function<void(std::span<const char>)>& fn, std::string& why) const {
    unsigned char lh[30];
    if (!pread_all(fd_, lh, 30, e.local_offset) || rd32(lh) != local_sig) {
        why = "entry '" + e.name + "': bad local header";
        return false;
    }
    std::uint64_t data = e.local_offset + 30 + rd16(lh + 26) + rd16(lh + 28);
    if (data + e.compressed_size > size_) {
        why = "entry '" + e.name + "': data lies outside the file";
        return false;
    }
    if (e.method != 0 && e.method != 8) {
        why = "entry '" + e.name + "': compression method " + std::to_string(e.method) + " is not supported";
        return false;
    }
    std::vector<char> in(64 * 1024), out(64 * 1024);
    uLong crc = crc32(0, nullptr, 0);
    std::uint64_t produced = 0, consumed = 0;
    z_stream zs{};
    if (e.method == 8 && inflateInit2(&zs, -15) != Z_OK) {
        why = "inflateInit2 failed";
        return false;
    }
    bool ok = true, ended = e.method == 0;
    while (consumed < e.compressed_size && ok) {
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(in.size(), e.compressed_size - consumed));
        if (!pread_all(fd_, in.data(), n, data + consumed)) {
            why = "entry '" + e.name + "': read failed";
            ok = false;
            break;
        }
        consumed += n;
        if (e.method == 0) {
            crc = crc32(crc, reinterpret_cast<const Bytef*>(in.data()), static_cast<uInt>(n));
            produced += n;
            fn(std::span<const char>(in.data(), n));
            continue;
        }
        zs.next_in = reinterpret_cast<Bytef*>(in.data());
        zs.avail_in = static_cast<uInt>(n);
        while (zs.avail_in > 0 && !ended) {
            zs.next_out = reinterpret_cast<Bytef*>(out.data());
            zs.avail_out = static_cast<uInt>(out.size());
            int rc = ::inflate(&zs, Z_NO_FLUSH);
            if (rc != Z_OK && rc != Z_STREAM_END) {
                why = "entry '" + e.name + "': corrupt deflate data";
                ok = false;
                break;
            }
            std::size_t got = out.size() - zs.avail_out;
            produced += got;
            if (produced > e.size) {
                why = "entry '" + e.name + "': more data than its declared size " + std::to_string(e.size);
                ok = false;
                break;
            }
            crc = crc32(crc, reinterpret_cast<const Bytef*>(out.data()), static_cast<uInt>(got));
            fn(std::span<const char>(out.data(), got));
            if (rc == Z_STREAM_END) ended = true;
        }
    }
    if (e.method == 8) inflateEnd(&zs);
    if (!ok) return false;
    if (!ended && e.compressed_size > 0) {
        why = "entry '" + e.name + "': deflate stream is truncated";
        return false;
    }
    if (produced != e.size) {
        why = "entry '" + e.name + "': size " + std::to_string(produced) + " differs from the declared " +
              std::to_string(e.size);
        return false;
    }
    if (static_cast<std::uint32_t>(crc) != e.crc32) {
        why = "entry '" + e.name + "': CRC-32 mismatch";
        return false;
    }
    return true;
}

std::optional<std::string> reader::read_all(const entry_info& e, std::size_t max, std::string& why) const {
    if (e.size > max) {
        why = "entry '" + e.name + "' is larger than " + std::to_string(max) + " bytes";
        return std::nullopt;
    }
    std::string out;
    out.reserve(static_cast<std::size_t>(e.size));
    if (!read(e, [&](std::span<const char> d) { out.append(d.data(), d.size()); }, why)) return std::nullopt;
    return out;
}

}  // namespace cspark::zip
