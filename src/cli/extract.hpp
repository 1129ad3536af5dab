// `inspect --extract`: a package unpacked below a directory and nowhere else.
// Every entry is checked before anything is written (names, duplicates,
// file/directory clashes, sizes, existing files); files are written under
// temporary names through directory descriptors opened with O_NOFOLLOW and
// renamed into place only when all of them were written, so a failure leaves
// the destination as it was.
#pragma once

#include "zip/zip.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace cspark::cli {

struct extract_options {
    std::uint64_t max_bytes = 1ull << 30;  ///< uncompressed bytes in all (default 1 GiB)
    double max_ratio = 100;                ///< uncompressed / compressed of one entry over 1 MiB
    bool overwrite = false;                ///< replace files that already exist
};

/// The check pass (pure but for looking at the destination): false with the
/// reason naming the entry when anything would be unsafe or lost.
bool check_extraction(const std::vector<zip::entry_info>& entries, const std::filesystem::path& root,
                      const extract_options& opt, std::string& why);

/// Checks, then writes every entry below `root`. False with the reason; then
/// nothing new is left below `root`.
bool extract_all(const zip::reader& r, const std::filesystem::path& root, const extract_options& opt, std::string& why);

}  // namespace cspark::cli
