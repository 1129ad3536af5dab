// The multipart parser fed in chunks of any size gives what it gives when
// fed the whole body at once; callbacks come in order; a failure sticks.
#include "fuzz_util.hpp"

#include "core/multipart.hpp"

namespace {

struct outcome {
    bool ok = true, finished = false, order_ok = true;
    std::size_t parts = 0;
    std::string data, error;
};

outcome parse(std::string_view in, std::size_t chunk) {
    outcome o;
    bool open = false;
    cspark::detail::multipart_parser p("b0undary-x", {
        .begin = [&](const cspark::detail::part_info&) { o.order_ok &= !open; open = true; },
        .data = [&](std::span<const char> s) { o.order_ok &= open; o.data.append(s.data(), s.size()); },
        .end = [&] { o.order_ok &= open; open = false; },
    });
    for (std::size_t i = 0; i < in.size() && o.ok; i += chunk) {
        auto piece = in.substr(i, chunk);
        o.ok = p.feed(std::span<const char>(piece.data(), piece.size()));
    }
    o.finished = p.finished();
    o.parts = p.parts();
    o.error = p.error();
    if (!o.ok) FUZZ_CHECK(!p.feed(std::span<const char>("x", 1)));  // failed stays failed
    if (o.finished) FUZZ_CHECK(!open);
    return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    auto in = fuzz::text(data + 1, size - 1);
    (void)cspark::detail::multipart_boundary(in.substr(0, 200));
    auto whole = parse(in, in.size() + 1);
    auto chunked = parse(in, data[0] % 61 + 1);
    FUZZ_CHECK(whole.order_ok && chunked.order_ok);
    FUZZ_CHECK(whole.ok == chunked.ok);
    FUZZ_CHECK(whole.ok ? whole.error.empty() : !whole.error.empty());
    if (whole.ok) {
        FUZZ_CHECK(whole.finished == chunked.finished);
        FUZZ_CHECK(whole.parts == chunked.parts);
        FUZZ_CHECK(whole.data == chunked.data);
    }
    FUZZ_CHECK(whole.data.size() <= in.size());
    return 0;
}
