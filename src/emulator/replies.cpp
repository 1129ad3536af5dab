#include "emulator/replies.hpp"
#include "emulator/model_util.hpp"

#include <boost/json/serialize.hpp>

#include <cctype>

namespace cspark::emu {
namespace json = boost::json;

namespace {

std::string url_decode(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out += ' ';
        } else if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
                   std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
            out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

}  // namespace

server::response_plan json_reply(int status, const json::value& body, header_list extra) {
    return server::json_response(status, json::serialize(body), std::move(extra));
}

server::response_plan error_reply(const api_error& e) { return json_reply(e.status, e.body()); }

server::response_plan error_reply(int status, std::string code, std::string message, std::string type) {
    return error_reply(util::make_error(status, std::move(code), std::move(message), std::move(type)));
}

server::response_plan unauthorized() {
    return json_reply(401, json::object{{"status", "Error"}, {"errorCode", "INVALID_TOKEN"}});
}

std::vector<std::string> split_path(std::string_view path) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < path.size()) {
        auto slash = path.find('/', pos);
        auto part = path.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
        if (!part.empty()) out.emplace_back(part);
        if (slash == std::string_view::npos) break;
        pos = slash + 1;
    }
    return out;
}


std::map<std::string, std::string> parse_form(std::string_view s) {
    std::map<std::string, std::string> out;
    std::size_t pos = 0;
    while (pos <= s.size()) {
        auto amp = s.find('&', pos);
        auto pair = s.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
        auto eq = pair.find('=');
        if (!pair.empty()) out[url_decode(pair.substr(0, eq))] = eq == std::string_view::npos ? "" : url_decode(pair.substr(eq + 1));
        if (amp == std::string_view::npos) break;
        pos = amp + 1;
    }
    return out;
}

}  // namespace cspark::emu
