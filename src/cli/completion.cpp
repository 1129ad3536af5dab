// Completion scripts for bash, zsh and fish, and a man page, rendered from
// the command line's definition.
#include "cli/completion.hpp"

#include <algorithm>

namespace cspark::cli {
namespace {

std::string words(const std::vector<cli_spec::option>& opts) {
    std::string out;
    for (const auto& o : opts)
        for (const auto& n : o.names) out += (out.empty() ? "" : " ") + n;
    return out;
}

// The subcommands' names joined: " " for a word list, "|" for a case pattern.
std::string command_names(const cli_spec& s, const char* sep) {
    std::string out;
    for (const auto& c : s.commands) out += (out.empty() ? "" : sep) + c.name;
    return out;
}

// Options that take a value, as a bash/zsh case pattern: "--base-url|-o".
std::string value_options(const cli_spec& s) {
    std::vector<std::string> all;
    auto add = [&](const std::vector<cli_spec::option>& opts) {
        for (const auto& o : opts)
            if (o.takes_value)
                for (const auto& n : o.names) all.push_back(n);
    };
    add(s.global);
    for (const auto& c : s.commands) add(c.options);
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    std::string out;
    for (const auto& n : all) out += (out.empty() ? "" : "|") + n;
    return out;
}

// Text inside single quotes (shell) and fish descriptions.
std::string quoted(const std::string& text) {
    std::string out = "'";
    for (char c : text) {
        if (c == '\'') out += "'\\''";
        else if (c == '\n') out += ' ';
        else out += c;
    }
    return out + "'";
}

// Text for roff: backslashes and leading dots/quotes neutralised.
std::string roff(const std::string& text) {
    std::string out;
    bool line_start = true;
    for (char c : text) {
        if (line_start && (c == '.' || c == '\'')) out += "\\&";
        if (c == '\\') out += "\\e";
        else if (c == '-') out += "\\-";
        else out += c;
        line_start = c == '\n';
    }
    return out;
}

}  // namespace

std::string bash_completion(const cli_spec& s) {
    std::string fn = "_cspark_impex";
    std::string out = "# bash completion for " + s.name + " (made by `" + s.name + " completion bash`)\n";
    out += fn + "() {\n";
    out += "    local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"${COMP_WORDS[COMP_CWORD-1]}\" sub=\"\" w\n";
    out += "    for w in \"${COMP_WORDS[@]:1:COMP_CWORD-1}\"; do\n";
    out += "        case \"$w\" in " + command_names(s, "|") + ") sub=\"$w\"; break ;; esac\n";
    out += "    done\n";
    out += "    case \"$prev\" in " + value_options(s) + ")\n";
    out += "        COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n";
    out += "    esac\n";
    out += "    local opts\n";
    out += "    case \"$sub\" in\n";
    for (const auto& c : s.commands) out += "        " + c.name + ") opts=" + quoted(words(c.options) + " " + words(s.global)) + " ;;\n";
    out += "        *) opts=" + quoted(command_names(s, " ") + " " + words(s.global)) + " ;;\n";
    out += "    esac\n";
    out += "    if [[ \"$cur\" == -* || -z \"$sub\" ]]; then\n";
    out += "        COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n";
    out += "    else\n";
    out += "        COMPREPLY=($(compgen -f -- \"$cur\"))\n";
    out += "    fi\n";
    out += "}\n";
    out += "complete -o filenames -F " + fn + " " + s.name + "\n";
    return out;
}

std::string zsh_completion(const cli_spec& s) {
    std::string out = "#compdef " + s.name + "\n# zsh completion for " + s.name + " (made by `" + s.name + " completion zsh`)\n";
    out += "local -a cmds opts\nlocal sub w\n";
    out += "cmds=(\n";
    for (const auto& c : s.commands) out += "    " + quoted(c.name + ":" + c.help) + "\n";
    out += ")\n";
    out += "for w in ${words[2,CURRENT-1]}; do\n    case $w in " + command_names(s, "|") + ") sub=$w; break ;; esac\ndone\n";
    out += "case ${words[CURRENT-1]} in\n    " + value_options(s) + ") _files; return ;;\nesac\n";
    out += "case $sub in\n";
    for (const auto& c : s.commands) out += "    " + c.name + ") opts=(" + words(c.options) + " " + words(s.global) + ") ;;\n";
    out += "    *) opts=(" + words(s.global) + ") ;;\n";
    out += "esac\n";
    out += "if [[ -z $sub && ${words[CURRENT]} != -* ]]; then\n    _describe 'command' cmds\n";
    out += "elif [[ ${words[CURRENT]} == -* ]]; then\n    compadd -- $opts\nelse\n    _files\nfi\n";
    return out;
}

std::string fish_completion(const cli_spec& s) {
    std::string out = "# fish completion for " + s.name + " (made by `" + s.name + " completion fish`)\n";
    out += "complete -c " + s.name + " -f\n";
    std::string all = command_names(s, " ");
    for (const auto& c : s.commands)
        out += "complete -c " + s.name + " -n 'not __fish_seen_subcommand_from " + all + "' -a " + c.name + " -d " +
               quoted(c.help) + "\n";
    auto option_lines = [&](const std::vector<cli_spec::option>& opts, const std::string& condition) {
        for (const auto& o : opts) {
            out += "complete -c " + s.name + condition;
            for (const auto& n : o.names) out += n.starts_with("--") ? " -l " + n.substr(2) : " -s " + n.substr(1);
            if (o.takes_value) out += o.is_file ? " -r -F" : " -r";
            out += " -d " + quoted(o.help) + "\n";
        }
    };
    option_lines(s.global, "");
    for (const auto& c : s.commands) option_lines(c.options, " -n '__fish_seen_subcommand_from " + c.name + "'");
    return out;
}

std::string man_page(const cli_spec& s) {
    std::string upper = s.name;
    std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    std::string out = ".TH " + roff(upper) + " 1 \"\" \"" + roff(s.name + " " + s.version) + "\" \"User Commands\"\n";
    std::string what = s.help.starts_with(s.name + ": ") ? s.help.substr(s.name.size() + 2) : s.help;
    out += ".SH NAME\n" + roff(s.name) + " \\- " + roff(what) + "\n";
    out += ".SH SYNOPSIS\n.B " + roff(s.name) + "\n[\\fIglobal options\\fR] \\fIcommand\\fR [\\fIoptions\\fR]\n";
    auto options = [&](const std::vector<cli_spec::option>& opts) {
        for (const auto& o : opts) {
            std::string names;
            for (const auto& n : o.names) names += (names.empty() ? "" : ", ") + ("\\fB" + roff(n) + "\\fR");
            out += ".TP\n" + names + (o.takes_value ? " \\fIvalue\\fR" : "") + "\n" + roff(o.help) + "\n";
        }
    };
    out += ".SH GLOBAL OPTIONS\nAccepted before or after the command.\n";
    options(s.global);
    out += ".SH COMMANDS\n";
    for (const auto& c : s.commands) {
        out += ".SS " + roff(c.name) + "\n" + roff(c.help) + "\n";
        options(c.options);
    }
    // The help footer: "Examples:", "Environment:", "Exit codes:" blocks.
    std::string section, body;
    auto flush = [&] {
        if (!section.empty()) out += ".SH " + roff(section) + "\n.nf\n" + roff(body) + ".fi\n";
        body.clear();
    };
    std::size_t i = 0;
    while (i < s.footer.size()) {
        auto nl = s.footer.find('\n', i);
        std::string line = s.footer.substr(i, nl == std::string::npos ? std::string::npos : nl - i);
        i = nl == std::string::npos ? s.footer.size() : nl + 1;
        if (!line.empty() && line.back() == ':' && line.front() != ' ') {
            flush();
            section = line.substr(0, line.size() - 1);
            std::transform(section.begin(), section.end(), section.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
            continue;
        }
        body += line + "\n";
    }
    flush();
    return out;
}

}  // namespace cspark::cli
