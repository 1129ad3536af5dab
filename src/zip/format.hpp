// Internal to the ZIP code: the format's constants and little-endian
// helpers, shared by the writer (zip_writer.cpp) and the reader (zip.cpp).
#pragma once

#include "zip/zip.hpp"

#include <cspark/error.hpp>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

namespace cspark::zip::format {


inline constexpr std::uint32_t local_sig = 0x04034b50;
inline constexpr std::uint32_t central_sig = 0x02014b50;
inline constexpr std::uint32_t end_sig = 0x06054b50;
inline constexpr std::uint16_t dos_date = ((2024 - 1980) << 9) | (1 << 5) | 1;  // 2024-01-01
inline constexpr std::uint16_t dos_time = 0;
inline constexpr std::uint16_t utf8_flag = 0x0800;
inline constexpr std::uint16_t descriptor_flag = 0x0008;  // CRC and sizes follow the data
inline constexpr std::uint32_t descriptor_sig = 0x08074b50;
inline constexpr std::size_t max_entries = 200000;

[[noreturn]] inline void fail(const std::filesystem::path& p, const std::string& what) {
    diagnostics d;
    d.detail = "ZIP '" + p.string() + "': " + what + (errno ? std::string(": ") + std::strerror(errno) : "");
    throw spark_error(errc::file_error, std::move(d));
}

inline void le16(std::vector<char>& v, std::uint16_t x) {
    v.push_back(static_cast<char>(x & 0xff));
    v.push_back(static_cast<char>(x >> 8));
}
inline void le32(std::vector<char>& v, std::uint32_t x) {
    for (int i = 0; i < 4; ++i) v.push_back(static_cast<char>((x >> (8 * i)) & 0xff));
}
inline std::uint16_t rd16(const unsigned char* p) { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }
inline std::uint32_t rd32(const unsigned char* p) {
    return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
           (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

inline bool pread_all(int fd, void* buf, std::size_t n, std::uint64_t off) {
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
inline void common_fields(std::vector<char>& h, const entry_info& e) {
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

inline std::vector<char> local_header(const entry_info& e) {
    std::vector<char> h;
    le32(h, local_sig);
    common_fields(h, e);
    le16(h, 0);  // extra field length
    h.insert(h.end(), e.name.begin(), e.name.end());
    return h;
}


}  // namespace cspark::zip::format
