// The code blocks of the README and of the library guide (docs/library.md)
// are the regions marked in examples/*.cpp, which the suite compiles and
// runs: this keeps them identical.
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

TEST_CASE("every example region appears verbatim in the library guide, and the front page's in the README") {
    std::string root = CSPARK_SOURCE_ROOT;
    auto guide = slurp(root + "/docs/library.md");
    auto front = slurp(root + "/README.md");
    REQUIRE_FALSE(guide.empty());
    REQUIRE_FALSE(front.empty());
    for (const char* name : {"transport", "promote", "tokens", "fleet"}) {
        CAPTURE(name);
        auto src = slurp(root + "/examples/" + name + ".cpp");
        auto begin = src.find("// README:begin ");
        auto end = src.find("// README:end");
        REQUIRE(begin != std::string::npos);
        REQUIRE(end != std::string::npos);
        begin = src.find('\n', begin) + 1;
        auto region = src.substr(begin, end - begin);
        CHECK_MESSAGE(guide.find(region) != std::string::npos, "docs/library.md differs from examples/" << name << ".cpp");
        if (std::string(name) == "promote")
            CHECK_MESSAGE(front.find(region) != std::string::npos, "README differs from examples/promote.cpp");
    }
}
