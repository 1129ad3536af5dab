// The ZIP reader on any bytes: it opens or names why not; every entry reads
// exactly its declared size (CRC checked) or fails with a reason; the same
// bytes held in memory (reader::from_bytes) give the same verdicts.
#include "fuzz_util.hpp"

#include "zip/zip.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const auto path = fuzz::scratch("input.zip");
    fuzz::write(path, data, size);
    std::string why, mem_why;
    auto r = cspark::zip::reader::open(path, why);
    auto m = cspark::zip::reader::from_bytes(std::string(reinterpret_cast<const char*>(data), size), mem_why);
    FUZZ_CHECK(r.has_value() == m.has_value());
    if (!r) {
        FUZZ_CHECK(!why.empty() && why == mem_why);
        return 0;
    }
    FUZZ_CHECK(r->entries().size() == m->entries().size());
    for (std::size_t i = 0; i < r->entries().size() && i < m->entries().size(); ++i) {
        const auto& e = r->entries()[i];
        if (e.size > (1u << 20)) continue;
        std::string w1, w2;
        bool from_file = r->read(e, [](std::span<const char>) {}, w1);
        bool from_memory = m->read(m->entries()[i], [](std::span<const char>) {}, w2);
        FUZZ_CHECK(from_file == from_memory && w1 == w2);
    }
    for (const auto& e : r->entries()) {
        (void)cspark::zip::is_safe_entry_name(e.name);
        (void)e.is_symlink();
        (void)r->find(e.name);
        if (e.size > (1u << 20)) continue;  // bound the work: a claimed size is checked as it is read
        std::uint64_t got = 0;
        std::string w;
        bool ok = r->read(e, [&](std::span<const char> s) { got += s.size(); }, w);
        FUZZ_CHECK(ok ? got == e.size : !w.empty());
        auto whole = r->read_all(e, 4096, w);
        FUZZ_CHECK(!whole || whole->size() == e.size);
    }
    return 0;
}
