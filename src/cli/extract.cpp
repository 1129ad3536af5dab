#include "cli/extract.hpp"

#include "core/text.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace cspark::cli {
namespace {

// A name as a user can read it: NUL and other control bytes escaped, bounded.
std::string shown(std::string_view name) {
    std::string out;
    for (char c : name.substr(0, 200)) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", u);
            out += buf;
        } else {
            out += c;
        }
    }
    return name.size() > 200 ? out + "..." : out;
}

// "a//b/./c/" -> a/b/c; empty when nothing is left.
std::vector<std::string> components(std::string_view name) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= name.size()) {
        auto end = name.find('/', start);
        auto part = name.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
        if (!part.empty() && part != ".") out.emplace_back(part);
        if (end == std::string_view::npos) break;
        start = end + 1;
    }
    return out;
}

std::string joined(const std::vector<std::string>& parts, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out += (i ? "/" : "") + parts[i];
    return out;
}

}  // namespace

bool check_extraction(const std::vector<zip::entry_info>& entries, const std::filesystem::path& root,
                      const extract_options& opt, std::string& why) {
    std::map<std::string, bool> kinds;  // path below root -> is a directory
    std::uint64_t total = 0;
    for (const auto& e : entries) {
        auto name = "entry '" + shown(e.name) + "'";
        if (e.name.find('\0') != std::string::npos) return why = name + " has a NUL byte in its name", false;
        if (e.is_symlink()) return why = name + " is a symbolic link", false;
        if (!zip::is_safe_entry_name(e.name)) return why = name + " would escape the target directory", false;
        auto parts = components(e.name);
        if (parts.empty()) return why = name + " has no name", false;
        const bool dir = e.is_directory();
        for (std::size_t i = 1; i < parts.size(); ++i) {
            auto [it, fresh] = kinds.emplace(joined(parts, i), true);
            if (!it->second) return why = name + " needs '" + shown(it->first) + "' to be a directory, but the package has it as a file", false;
        }
        auto [it, fresh] = kinds.emplace(joined(parts, parts.size()), dir);
        if (!fresh && it->second != dir) return why = "'" + shown(it->first) + "' is both a file and a directory in the package", false;
        if (!fresh && !dir) return why = "'" + shown(it->first) + "' appears twice in the package", false;
        if (dir) continue;
        total += e.size;
        if (total > opt.max_bytes)
            return why = "the package expands to more than " + std::to_string(opt.max_bytes) + " bytes (--max-size)", false;
        if (e.size > (1u << 20) && static_cast<double>(e.size) > opt.max_ratio * static_cast<double>(std::max<std::uint64_t>(e.compressed_size, 1)))
            return why = name + " expands " + std::to_string(e.size / std::max<std::uint64_t>(e.compressed_size, 1)) +
                         " times (over --max-ratio " + std::to_string(static_cast<long long>(opt.max_ratio)) + ")",
                   false;
    }
    // What the destination already holds.
    for (const auto& [path, dir] : kinds) {
        std::error_code ec;
        auto where = (root / path).string();
        auto type = std::filesystem::symlink_status(root / path, ec).type();
        if (type == std::filesystem::file_type::not_found) continue;
        if (type == std::filesystem::file_type::symlink)
            return why = "'" + where + "' in the destination is a symbolic link: refusing to write through it", false;
        if (dir && type != std::filesystem::file_type::directory) return why = "'" + where + "' exists and is not a directory", false;
        if (!dir && type == std::filesystem::file_type::directory) return why = "'" + where + "' exists and is a directory", false;
        if (!dir && !opt.overwrite) return why = "'" + where + "' already exists: not replaced (--overwrite)", false;
    }
    return true;
}

namespace {

// Directories opened below the root with O_NOFOLLOW, files staged under
// temporary names; undone unless committed.
class extraction {
public:
    extraction(int root_fd, bool overwrite) : overwrite_(overwrite) { dirs_[""] = root_fd; }
    ~extraction() {
        if (!committed_) {
            for (const auto& f : staged_) ::unlinkat(f.dir, f.tmp.c_str(), 0);
            for (auto it = made_.rbegin(); it != made_.rend(); ++it) ::unlinkat(it->first, it->second.c_str(), AT_REMOVEDIR);
        }
        for (const auto& [_, fd] : dirs_) ::close(fd);
    }

    int dir(const std::vector<std::string>& parts, std::size_t n, std::string& why) {
        std::string path = joined(parts, n);
        if (auto it = dirs_.find(path); it != dirs_.end()) return it->second;
        int parent = dir(parts, n - 1, why);
        if (parent < 0) return -1;
        const std::string& leaf = parts[n - 1];
        if (::mkdirat(parent, leaf.c_str(), 0755) == 0) made_.emplace_back(parent, leaf);
        else if (errno != EEXIST) return why = "cannot create directory '" + shown(path) + "': " + std::strerror(errno), -1;
        int fd = ::openat(parent, leaf.c_str(), O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return why = "'" + shown(path) + "' " +
                         (errno == ELOOP || errno == ENOTDIR ? std::string("is a symbolic link or not a directory: refusing")
                                                             : std::string("cannot be opened: ") + std::strerror(errno)),
                   -1;
        dirs_[path] = fd;
        return fd;
    }

    bool file(const zip::reader& r, const zip::entry_info& e, const std::vector<std::string>& parts, std::string& why) {
        int d = dir(parts, parts.size() - 1, why);
        if (d < 0) return false;
        std::string tmp = ".cspark-extract-" + std::to_string(::getpid()) + "-" + std::to_string(staged_.size());
        int fd = ::openat(d, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0) return why = "cannot create a file in '" + shown(joined(parts, parts.size() - 1)) + "': " + std::strerror(errno), false;
        staged_.push_back({d, tmp, parts.back()});
        std::uint64_t written = 0;
        std::string io_error;
        bool ok = r.read(e, [&](std::span<const char> data) {
            if (!io_error.empty()) return;
            written += data.size();
            if (written > e.size) io_error = "more bytes than its declared size";
            else if (!detail::write_all(fd, data.data(), data.size())) io_error = std::strerror(errno);
        }, why);
        ::close(fd);
        if (!io_error.empty()) why = io_error;
        if (!ok || !io_error.empty()) return why = "extracting '" + shown(e.name) + "': " + why, false;
        return true;
    }

    bool commit(std::string& why) {
        for (const auto& f : staged_) {
            int rc = overwrite_ ? ::renameat(f.dir, f.tmp.c_str(), f.dir, f.name.c_str())
                                : ::renameat2(f.dir, f.tmp.c_str(), f.dir, f.name.c_str(), RENAME_NOREPLACE);
            if (rc != 0) return why = "cannot put '" + shown(f.name) + "' in place: " + std::strerror(errno), false;
        }
        committed_ = true;
        return true;
    }

private:
    struct staged {
        int dir;
        std::string tmp, name;
    };
    bool overwrite_;
    bool committed_ = false;
    std::map<std::string, int> dirs_;
    std::vector<std::pair<int, std::string>> made_;
    std::vector<staged> staged_;
};

}  // namespace

bool extract_all(const zip::reader& r, const std::filesystem::path& root, const extract_options& opt, std::string& why) {
    if (!check_extraction(r.entries(), root, opt, why)) return false;
    std::error_code ec;
    bool made_root = std::filesystem::create_directories(root, ec);
    if (ec) return why = "cannot create '" + root.string() + "': " + ec.message(), false;
    int root_fd = ::open(root.c_str(), O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) return why = "cannot open '" + root.string() + "': " + std::strerror(errno), false;
    bool ok = true;
    {
        extraction x(root_fd, opt.overwrite);
        for (const auto& e : r.entries()) {
            auto parts = components(e.name);
            ok = e.is_directory() ? x.dir(parts, parts.size(), why) >= 0 : x.file(r, e, parts, why);
            if (!ok) break;
        }
        ok = ok && x.commit(why);
    }
    if (!ok && made_root) std::filesystem::remove(root, ec);  // only when empty again
    return ok;
}

bool check_import_package(const std::filesystem::path& file, const std::vector<std::string>& sources, std::string& why,
                          std::string& warning) {
    std::string reason;
    auto r = zip::reader::open(file, reason);
    if (!r) {
        why = "'" + file.string() + "' is not a package to import: " + reason;
        return false;
    }
    std::string tenant;
    for (const auto& e : r->entries()) {
        auto slash = e.name.find('/');
        if (slash != std::string::npos && slash > 0 && e.name.substr(slash + 1) == "manifest.json") tenant = e.name.substr(0, slash);
    }
    if (tenant.empty()) {
        why = "'" + file.string() + "' is a ZIP but not an export package: it has no {tenant}/manifest.json";
        return false;
    }
    // {tenant}/{folder}/{service}/{version}/...: the services it holds, and
    // whether any version carries a workbook (migrate packages do).
    std::set<std::string> services;
    bool workbook = false, version_dir = false;
    for (const auto& e : r->entries()) {
        if (e.name.compare(0, tenant.size() + 1, tenant + "/") != 0) continue;
        std::string rest = e.name.substr(tenant.size() + 1);
        auto a = rest.find('/');
        auto b = a == std::string::npos ? a : rest.find('/', a + 1);
        if (b == std::string::npos) continue;
        services.insert(rest.substr(0, b));
        if (rest.find('/', b + 1) != std::string::npos) version_dir = true;
        if (rest.size() > 5 && rest.compare(rest.size() - 5, 5, ".xlsx") == 0) workbook = true;
    }
    if (version_dir && !workbook)
        warning = "'" + file.string() + "' holds no workbooks: it looks like an 'onpremises' export, which Spark may not import "
                  "(export with --file-filter migrate)";
    for (const auto& src : sources) {
        // Only "{folder}/{service}" names can be looked for; ids are the server's to resolve.
        auto slash = src.find('/');
        if (slash == std::string::npos || src.find('/', slash + 1) != std::string::npos || src.compare(0, 8, "service/") == 0 ||
            src.compare(0, 8, "version/") == 0)
            continue;
        if (!services.count(src)) {
            std::string held;
            for (const auto& s : services) held += (held.empty() ? "" : ", ") + s;
            why = "--destination names '" + src + "', which '" + file.string() + "' does not hold (it holds: " +
                  (held.empty() ? std::string("no services") : held) + ")";
            return false;
        }
    }
    return true;
}

}  // namespace cspark::cli
