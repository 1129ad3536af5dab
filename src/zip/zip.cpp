// ZIP archives: entry names and the streaming reader (the writer is in zip_writer.cpp).
#include "zip/format.hpp"

#include "core/text.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>

namespace cspark::zip {
using namespace format;


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

// ---------------------------------------------------------------- reader

struct reader::inflater {
    z_stream zs{};
    bool ready = false;
};

void reader::inflater_deleter::operator()(inflater* z) const noexcept {
    if (z->ready) inflateEnd(&z->zs);
    delete z;
}

reader::reader(reader&& o) noexcept
    : fd_(o.fd_), bytes_(std::move(o.bytes_)), size_(o.size_), entries_(std::move(o.entries_)), by_name_(std::move(o.by_name_)),
      z_(std::move(o.z_)), in_(std::move(o.in_)), out_(std::move(o.out_)) {
    o.fd_ = -1;
}
reader& reader::operator=(reader&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = o.fd_;
        bytes_ = std::move(o.bytes_);
        size_ = o.size_;
        entries_ = std::move(o.entries_);
        by_name_ = std::move(o.by_name_);
        z_ = std::move(o.z_);
        in_ = std::move(o.in_);
        out_ = std::move(o.out_);
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
    return index(std::move(r), why);
}

std::optional<reader> reader::from_bytes(std::string bytes, std::string& why) {
    reader r;
    r.size_ = bytes.size();
    r.bytes_ = std::move(bytes);
    return index(std::move(r), why);
}

bool reader::fetch(void* buf, std::size_t n, std::uint64_t off) const {
    if (fd_ >= 0) return pread_all(fd_, buf, n, off);
    if (off > bytes_.size() || n > bytes_.size() - off) return false;
    std::memcpy(buf, bytes_.data() + off, n);
    return true;
}

namespace {

// The central directory's entries, each checked to lie inside the archive.
bool read_central(const std::vector<unsigned char>& cd, std::size_t count, std::uint64_t archive_size,
                  std::vector<entry_info>& entries, std::string& why) {
    std::size_t pos = 0;
    for (std::size_t i = 0; i < count; ++i) {
        if (pos + 46 > cd.size() || rd32(&cd[pos]) != central_sig || entries.size() >= max_entries) {
            why = "corrupt ZIP: central directory entry " + std::to_string(i) + " is malformed";
            return false;
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
            return false;
        }
        info.name.assign(reinterpret_cast<const char*>(c + 46), nlen);
        if (info.local_offset + 30 + info.compressed_size > archive_size) {
            why = "corrupt ZIP: entry '" + info.name + "' lies outside the file";
            return false;
        }
        pos += 46 + nlen + xlen + clen;
        entries.push_back(std::move(info));
    }
    return true;
}

}  // namespace

// The end record and the central directory: every entry's name, sizes, CRC
// and place, each checked to lie inside the archive.
std::optional<reader> reader::index(reader r, std::string& why) {
    if (r.size_ < 22) {
        why = "not a ZIP archive (too short for an end-of-central-directory record)";
        return std::nullopt;
    }
    std::size_t tail = static_cast<std::size_t>(std::min<std::uint64_t>(r.size_, 22 + 65535));
    std::vector<unsigned char> buf(tail);
    if (!r.fetch(buf.data(), tail, r.size_ - tail)) {
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
    if (cd_size && !r.fetch(cd.data(), cd_size, cd_off)) {
        why = "cannot read the central directory";
        return std::nullopt;
    }
    if (!read_central(cd, count, r.size_, r.entries_, why)) return std::nullopt;
    r.by_name_.reserve(r.entries_.size());
    for (std::size_t i = 0; i < r.entries_.size(); ++i) r.by_name_.emplace(r.entries_[i].name, i);  // the first of a name stays
    return r;
}

const entry_info* reader::find(std::string_view name) const noexcept {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : &entries_[it->second];
}

namespace {

// What reading an entry has produced so far.
struct entry_progress {
    uLong crc = crc32(0, nullptr, 0);
    std::uint64_t produced = 0;
    bool ended = false;  ///< the deflate stream ended (a stored entry: at once)
};

// Inflates what zs holds into `out`, a buffer at a time, to `fn`.
bool inflate_input(z_stream& zs, std::vector<char>& out, const entry_info& e,
                   const std::function<void(std::span<const char>)>& fn, entry_progress& got, std::string& why) {
    while (zs.avail_in > 0 && !got.ended) {
        zs.next_out = reinterpret_cast<Bytef*>(out.data());
        zs.avail_out = static_cast<uInt>(out.size());
        int rc = ::inflate(&zs, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END) {
            why = "entry '" + e.name + "': corrupt deflate data";
            return false;
        }
        std::size_t n = out.size() - zs.avail_out;
        got.produced += n;
        if (got.produced > e.size) {
            why = "entry '" + e.name + "': more data than its declared size " + std::to_string(e.size);
            return false;
        }
        got.crc = crc32(got.crc, reinterpret_cast<const Bytef*>(out.data()), static_cast<uInt>(n));
        fn(std::span<const char>(out.data(), n));
        if (rc == Z_STREAM_END) got.ended = true;
    }
    return true;
}

// The entry read whole: its stream ended, its size and CRC as declared.
bool entry_whole(const entry_info& e, const entry_progress& got, std::string& why) {
    if (!got.ended && e.compressed_size > 0) {
        why = "entry '" + e.name + "': deflate stream is truncated";
        return false;
    }
    if (got.produced != e.size) {
        why = "entry '" + e.name + "': size " + std::to_string(got.produced) + " differs from the declared " +
              std::to_string(e.size);
        return false;
    }
    if (static_cast<std::uint32_t>(got.crc) != e.crc32) {
        why = "entry '" + e.name + "': CRC-32 mismatch";
        return false;
    }
    return true;
}

}  // namespace

bool reader::read(const entry_info& e, const std::function<void(std::span<const char>)>& fn, std::string& why) const {
    unsigned char lh[30];
    if (!fetch(lh, 30, e.local_offset) || rd32(lh) != local_sig) {
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
    if (in_.empty()) {
        in_.resize(64 * 1024);
        out_.resize(64 * 1024);
    }
    auto& in = in_;
    auto& out = out_;
    entry_progress got;
    got.ended = e.method == 0;
    std::uint64_t consumed = 0;
    z_stream dummy{};
    if (e.method == 8 && !ready_inflater(why)) return false;
    z_stream& zs = e.method == 8 ? z_->zs : dummy;
    bool ok = true;
    while (consumed < e.compressed_size && ok) {
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(in.size(), e.compressed_size - consumed));
        if (!fetch(in.data(), n, data + consumed)) {
            why = "entry '" + e.name + "': read failed";
            ok = false;
            break;
        }
        consumed += n;
        if (e.method == 0) {
            got.crc = crc32(got.crc, reinterpret_cast<const Bytef*>(in.data()), static_cast<uInt>(n));
            got.produced += n;
            fn(std::span<const char>(in.data(), n));
            continue;
        }
        zs.next_in = reinterpret_cast<Bytef*>(in.data());
        zs.avail_in = static_cast<uInt>(n);
        ok = inflate_input(zs, out, e, fn, got, why);
    }
    return ok && entry_whole(e, got, why);
}

// The one inflater of this reader, made on the first deflated entry and
// reset for each later one.
bool reader::ready_inflater(std::string& why) const {
    if (z_) {
        if (inflateReset(&z_->zs) == Z_OK) return true;
        why = "inflateReset failed";
        return false;
    }
    z_.reset(new inflater{});
    if (inflateInit2(&z_->zs, -15) != Z_OK) {
        z_.reset();
        why = "inflateInit2 failed";
        return false;
    }
    z_->ready = true;
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
