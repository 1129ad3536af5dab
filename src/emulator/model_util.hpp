// Internal to the emulator's model: helpers its files share.
#pragma once

#include "emulator/model.hpp"

#include <boost/json/object.hpp>

#include <string>
#include <string_view>

namespace cspark::emu::util {
namespace json = boost::json;


inline api_error make_error(int status, std::string code, std::string message, std::string type = "invalid_input") {
    api_error e;
    e.status = status;
    e.type = std::move(type);
    e.code = std::move(code);
    e.message = std::move(message);
    return e;
}

inline std::string str(const json::object& o, std::string_view key) {
    if (auto* p = o.if_contains(key); p && p->is_string()) return std::string(p->get_string());
    return {};
}

// Pseudo-random bytes from a seed (splitmix64): the package payload.
inline std::string strip_version(std::string_view uri, std::string* version = nullptr) {
    auto br = uri.find('[');
    if (br != std::string_view::npos && uri.back() == ']') {
        if (version) *version = std::string(uri.substr(br + 1, uri.size() - br - 2));
        return std::string(uri.substr(0, br));
    }
    return std::string(uri);
}

inline bool split_uri(std::string_view uri, std::string& folder, std::string& service) {
    auto slash = uri.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 >= uri.size()) return false;
    if (uri.find('/', slash + 1) != std::string_view::npos) return false;
    folder = std::string(uri.substr(0, slash));
    service = std::string(uri.substr(slash + 1));
    return true;
}


}  // namespace cspark::emu::util
