// The README's code blocks are the regions marked in examples/*.cpp, which
// the suite compiles and runs: this keeps the two identical.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace {
std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}
}  // namespace

TEST_CASE("every README example region appears verbatim in the README") {
    std::string root = CSPARK_SOURCE_ROOT;
    auto readme = slurp(root + "/README.md");
    REQUIRE_FALSE(readme.empty());
    for (const char* name : {"transport", "promote", "tokens", "fleet"}) {
        CAPTURE(name);
        auto src = slurp(root + "/examples/" + name + ".cpp");
        auto begin = src.find("// README:begin ");
        auto end = src.find("// README:end");
        REQUIRE(begin != std::string::npos);
        REQUIRE(end != std::string::npos);
        begin = src.find('\n', begin) + 1;
        auto region = src.substr(begin, end - begin);
        CHECK_MESSAGE(readme.find(region) != std::string::npos, "README differs from examples/" << name << ".cpp");
    }
}
