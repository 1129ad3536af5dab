// The emulator's small HTTP helpers: JSON replies in Spark's error shapes,
// path splitting and form decoding.
#pragma once

#include "emulator/model.hpp"
#include "server/http_server.hpp"

#include <boost/json/value.hpp>

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace cspark::emu {

server::response_plan json_reply(int status, const boost::json::value& body, header_list extra = {});
server::response_plan error_reply(const api_error& e);
server::response_plan error_reply(int status, std::string code, std::string message, std::string type = "invalid_input");
server::response_plan unauthorized();
std::vector<std::string> split_path(std::string_view path);
std::map<std::string, std::string> parse_form(std::string_view s);

}  // namespace cspark::emu
