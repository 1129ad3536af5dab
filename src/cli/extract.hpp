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

/// What `import` checks before uploading, without a round trip: the file is
/// a ZIP whose central directory reads, with a `{tenant}/manifest.json` (an
/// export package), and every `{folder}/{service}` the mappings name as their
/// source has entries in it. False with the reason (naming the file and what
/// the package holds). `warning` is set when the package looks like an
/// 'onpremises' export (versions without workbooks), which Spark may refuse.
bool check_import_package(const std::filesystem::path& file, const std::vector<std::string>& sources, std::string& why,
                          std::string& warning);

/// Checks, then writes every entry below `root`. False with the reason; then
/// nothing new is left below `root`.
bool extract_all(const zip::reader& r, const std::filesystem::path& root, const extract_options& opt, std::string& why);

}  // namespace cspark::cli
