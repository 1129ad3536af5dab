// The command line's progress bar: percentage, bytes, rate and time left.
#include "cli/cli.hpp"

#include <doctest/doctest.h>

using cspark::cli::progress_bar;

TEST_CASE("a progress bar shows the share, the bytes, the rate and the time left") {
    constexpr std::uint64_t mib = 1024 * 1024;
    CHECK(progress_bar("export", 0, 10 * mib, 0) == "export [....................]   0% 0.0/10.0 MiB");
    CHECK(progress_bar("export", 5 * mib, 10 * mib, 2.0) == "export [##########..........]  50% 5.0/10.0 MiB 2.5 MiB/s 0:02 left");
    CHECK(progress_bar("export", 10 * mib, 10 * mib, 4.0) == "export [####################] 100% 10.0/10.0 MiB 2.5 MiB/s done in 0:04");
    CHECK(progress_bar("import", 1 * mib, 1000 * mib, 1.0) ==
          "import [....................]   0% 1.0/1000.0 MiB 1.0 MiB/s 16:39 left");
    CHECK(progress_bar("import", 1 * mib, 8000 * mib, 1.0).ends_with(" 2:13:19 left"));
    CHECK(progress_bar("x", 20 * mib, 10 * mib, 1.0).find("100%") != std::string::npos);  // never over 100 %
}
