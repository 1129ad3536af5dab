#pragma once

#include <string_view>

namespace cspark {
/// Library version; also sent in User-Agent and x-spark-ua.
inline constexpr std::string_view version = "0.1.0";
}  // namespace cspark
