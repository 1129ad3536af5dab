// Checks of what the report and the metrics file must be: the HTML page is
// parsed by libxml2 as strict XML (well-formed XHTML with inline SVG) and
// queried with XPath; the metrics text is read by a small parser of the
// Prometheus text format (0.0.4) that refuses what a scraper would.
#pragma once

#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace page_check {

/// A parsed page; throws std::runtime_error naming libxml2's first error.
class xhtml {
public:
    explicit xhtml(const std::string& page) {
        doc_ = xmlReadMemory(page.data(), static_cast<int>(page.size()), "report.html", "utf-8",
                             XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!doc_) {
            const xmlError* e = xmlGetLastError();
            throw std::runtime_error("not well-formed: " + std::string(e && e->message ? e->message : "?") + " at line " +
                                     std::to_string(e ? e->line : 0));
        }
        ctx_ = xmlXPathNewContext(doc_);
        xmlXPathRegisterNs(ctx_, BAD_CAST "h", BAD_CAST "http://www.w3.org/1999/xhtml");
        xmlXPathRegisterNs(ctx_, BAD_CAST "s", BAD_CAST "http://www.w3.org/2000/svg");
    }
    ~xhtml() {
        if (ctx_) xmlXPathFreeContext(ctx_);
        if (doc_) xmlFreeDoc(doc_);
    }
    xhtml(const xhtml&) = delete;
    xhtml& operator=(const xhtml&) = delete;

    /// The string values of the nodes an XPath expression selects (prefixes h: XHTML, s: SVG).
    std::vector<std::string> all(const std::string& xpath) const {
        std::vector<std::string> out;
        xmlXPathObjectPtr r = xmlXPathEvalExpression(BAD_CAST xpath.c_str(), ctx_);
        if (!r) throw std::runtime_error("bad XPath: " + xpath);
        if (r->nodesetval)
            for (int i = 0; i < r->nodesetval->nodeNr; ++i) {
                xmlChar* s = xmlXPathCastNodeToString(r->nodesetval->nodeTab[i]);
                out.emplace_back(reinterpret_cast<const char*>(s));
                xmlFree(s);
            }
        xmlXPathFreeObject(r);
        return out;
    }
    std::size_t count(const std::string& xpath) const { return all(xpath).size(); }

private:
    xmlDocPtr doc_ = nullptr;
    xmlXPathContextPtr ctx_ = nullptr;
};

/// The samples of a Prometheus text file, keyed "name{labels}" as written;
/// throws std::runtime_error on the first line a scraper would refuse:
/// a sample before its family's TYPE, a bad name, label or value, a
/// histogram whose buckets are not cumulative or whose +Inf is not _count.
inline std::map<std::string, double> prometheus(const std::string& text) {
    std::map<std::string, double> samples;
    std::map<std::string, std::string> types;
    auto fail = [](const std::string& why, const std::string& line) { throw std::runtime_error(why + ": '" + line + "'"); };
    auto name_ok = [](const std::string& n) {
        if (n.empty() || std::isdigit(static_cast<unsigned char>(n[0]))) return false;
        for (char c : n)
            if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':')) return false;
        return true;
    };
    std::istringstream in(text);
    if (text.empty() || text.back() != '\n') throw std::runtime_error("the text must end with a newline");
    for (std::string line; std::getline(in, line);) {
        if (line.empty()) continue;
        if (line.rfind("# TYPE ", 0) == 0) {
            std::istringstream l(line.substr(7));
            std::string name, type;
            l >> name >> type;
            static const std::set<std::string> kinds{"counter", "gauge", "histogram", "summary", "untyped"};
            if (!name_ok(name) || !kinds.count(type) || types.count(name)) fail("bad or repeated TYPE", line);
            types[name] = type;
            continue;
        }
        if (line[0] == '#') continue;  // HELP and comments
        std::size_t i = 0;
        while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
        std::string name = line.substr(0, i), labels;
        if (!name_ok(name)) fail("bad metric name", line);
        if (i < line.size() && line[i] == '{') {
            std::size_t j = i + 1;
            for (;;) {  // name="value" pairs, escapes \\ \" \n only
                std::size_t eq = line.find('=', j);
                if (eq == std::string::npos || !name_ok(line.substr(j, eq - j)) || line[eq + 1] != '"') fail("bad label", line);
                std::size_t k = eq + 2;
                for (; k < line.size() && line[k] != '"'; ++k)
                    if (line[k] == '\\') {
                        if (k + 1 >= line.size() || std::string("\\\"n").find(line[k + 1]) == std::string::npos) fail("bad escape", line);
                        ++k;
                    }
                if (k >= line.size()) fail("unterminated label value", line);
                j = k + 1;
                if (line[j] == ',') {
                    ++j;
                    continue;
                }
                if (line[j] != '}') fail("bad label list", line);
                break;
            }
            labels = line.substr(i, j + 1 - i);
            i = j + 1;
        }
        if (i >= line.size() || line[i] != ' ') fail("no value", line);
        std::string value = line.substr(i + 1);
        double v = 0;
        if (value == "+Inf") v = INFINITY;
        else if (value == "-Inf") v = -INFINITY;
        else {
            char* end = nullptr;
            v = std::strtod(value.c_str(), &end);
            if (value.empty() || *end != '\0') fail("bad value", line);
        }
        std::string family = name;
        for (const char* suffix : {"_bucket", "_sum", "_count"})
            if (!types.count(family) && family.size() > std::strlen(suffix) &&
                family.compare(family.size() - std::strlen(suffix), std::string::npos, suffix) == 0)
                family = family.substr(0, family.size() - std::strlen(suffix));
        if (!types.count(family)) fail("sample before its TYPE", line);
        if (!samples.emplace(name + labels, v).second) fail("repeated sample", line);
    }
    // Histograms: cumulative buckets, +Inf equal to _count.
    for (const auto& [family, type] : types) {
        if (type != "histogram") continue;
        std::map<std::string, std::vector<std::pair<double, double>>> series;  // labels without le -> (le, count)
        for (const auto& [key, v] : samples) {
            if (key.rfind(family + "_bucket{", 0) != 0) continue;
            auto le = key.find("le=\"");
            if (le == std::string::npos) throw std::runtime_error("bucket without le: " + key);
            auto q = key.find('"', le + 4);
            std::string bound = key.substr(le + 4, q - le - 4);
            std::string rest = key.substr(0, le) + key.substr(q + 1);
            series[rest].emplace_back(bound == "+Inf" ? INFINITY : std::strtod(bound.c_str(), nullptr), v);
        }
        for (auto& [rest, buckets] : series) {
            std::sort(buckets.begin(), buckets.end());
            for (std::size_t b = 1; b < buckets.size(); ++b)
                if (buckets[b].second < buckets[b - 1].second) throw std::runtime_error("buckets not cumulative: " + rest);
            if (buckets.empty() || !std::isinf(buckets.back().first)) throw std::runtime_error("no +Inf bucket: " + rest);
            std::string labels = rest.substr(rest.find('{'));
            labels.erase(labels.find(",}") == std::string::npos ? labels.size() : labels.find(",}"), 1);
            if (labels == "{}") labels.clear();
            auto count = samples.find(family + "_count" + labels);
            if (count == samples.end() || count->second != buckets.back().second)
                throw std::runtime_error("+Inf bucket is not _count: " + rest);
        }
    }
    return samples;
}

}  // namespace page_check
