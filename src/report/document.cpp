#include "report/document.h"

#include <algorithm>

namespace dcomp {

namespace {

// Every `mark`x`mark` in `t` -> <tag>x</tag>.
std::string spans(std::string t, const std::string& mark, const std::string& tag) {
  for (size_t p; (p = t.find(mark)) != std::string::npos;) {
    const size_t end = t.find(mark, p + mark.size());
    if (end == std::string::npos) break;
    t = t.substr(0, p) + "<" + tag + ">" + t.substr(p + mark.size(), end - p - mark.size()) + "</" + tag + ">" +
        t.substr(end + mark.size());
  }
  return t;
}

// Paragraphs split at blank lines; a paragraph fenced by ``` lines is
// preformatted, one whose every line starts with "- " a list; `code` and
// **bold** spans.
std::string html_text(const std::string& text) {
  std::string out;
  for (size_t begin = 0; begin < text.size();) {
    size_t end = text.find("\n\n", begin);
    if (end == std::string::npos) end = text.size();
    const std::string paragraph = html_escape(text.substr(begin, end - begin));
    const bool fenced = paragraph.rfind("```\n", 0) == 0 && paragraph.size() >= 8 &&
                        paragraph.compare(paragraph.size() - 4, 4, "\n```") == 0;
    bool list = paragraph.rfind("- ", 0) == 0;
    for (size_t line = paragraph.find('\n'); list && line != std::string::npos; line = paragraph.find('\n', line + 1))
      list = paragraph.compare(line + 1, 2, "- ") == 0;
    if (fenced) {
      out += "<pre>" + paragraph.substr(4, paragraph.size() - 8) + "</pre>\n";
    } else if (list) {
      out += "<ul>";
      for (size_t item = 0; item < paragraph.size();) {
        const size_t line_end = std::min(paragraph.find('\n', item), paragraph.size());
        out += "<li>" + spans(spans(paragraph.substr(item + 2, line_end - item - 2), "`", "code"), "**", "strong") +
               "</li>";
        item = line_end + 1;
      }
      out += "</ul>\n";
    } else if (!paragraph.empty())
      out += "<p>" + spans(spans(paragraph, "`", "code"), "**", "strong") + "</p>\n";
    begin = end + 2;
  }
  return out;
}

// An SVG sized by width and height attributes alone keeps its user units
// when CSS narrows it (max-width on an A4 page), and so is cut off at the
// right; a viewBox of the same size makes it scale instead.
std::string scalable(std::string svg) {
  const size_t tag_end = svg.find('>');
  if (tag_end == std::string::npos || svg.substr(0, tag_end).find("viewBox") != std::string::npos) return svg;
  auto attribute = [&](const std::string& name) -> std::string {
    const size_t p = svg.substr(0, tag_end).find(" " + name + "=\"");
    if (p == std::string::npos) return "";
    const size_t begin = p + name.size() + 3;
    return svg.substr(begin, svg.find('"', begin) - begin);
  };
  const std::string width = attribute("width"), height = attribute("height");
  if (!width.empty() && !height.empty()) svg.insert(4, " viewBox=\"0 0 " + width + " " + height + "\"");
  return svg;
}

const char* const kStyle =
    "body{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222;line-height:1.4}"
    "table{border-collapse:collapse;margin:1em 0;font-size:90%}td,th{border:1px solid #ccc;padding:3px 8px;"
    "text-align:right}th{background:#f3f3f3}td:first-child{text-align:left}pre{background:#f6f6f6;"
    "padding:8px;white-space:pre-wrap}svg{max-width:100%;height:auto}figure{margin:1em 0}"
    "@page{size:A4;margin:15mm}"
    "@media print{body{margin:0;max-width:none;font-size:10pt}h2{break-before:page}"
    "figure,table,pre{break-inside:avoid}}";

}  // namespace

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : std::string(1, c);
  return out;
}

std::string Document::html() const {
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + html_escape(title) +
                  "</title>\n<style>" + kStyle + "</style></head><body>\n<h1>" + html_escape(title) + "</h1>\n";
  for (const Block& b : blocks) {
    if (!b.heading.empty()) h += "<h2>" + html_escape(b.heading) + "</h2>\n";
    if (!b.text.empty()) h += html_text(b.text);
    if (!b.table.header.empty()) {
      h += "<table><tr>";
      for (const std::string& c : b.table.header) h += "<th>" + html_escape(c) + "</th>";
      h += "</tr>\n";
      for (const auto& row : b.table.rows) {
        h += "<tr>";
        for (const std::string& c : row) h += "<td>" + html_escape(c) + "</td>";
        h += "</tr>\n";
      }
      h += "</table>\n";
    }
    if (!b.svg.empty()) h += "<figure>" + scalable(b.svg.substr(b.svg.find("<svg"))) + "</figure>\n";
  }
  return h + "</body></html>\n";
}

std::string Document::markdown(const std::string& plot_dir) const {
  std::string md = "# " + title + "\n";
  for (const Block& b : blocks) {
    if (!b.heading.empty()) md += "\n## " + b.heading + "\n";
    if (!b.text.empty()) md += "\n" + b.text + "\n";
    if (!b.table.header.empty()) {
      md += "\n|";
      for (const std::string& h : b.table.header) md += " " + h + " |";
      md += "\n|";
      for (size_t i = 0; i < b.table.header.size(); ++i) md += "---|";
      md += "\n";
      for (const auto& row : b.table.rows) {
        md += "|";
        for (const std::string& cell : row) md += " " + cell + " |";
        md += "\n";
      }
    }
    if (!b.svg.empty()) md += "\n![" + b.plot_name + "](" + plot_dir + "/" + b.plot_name + ".svg)\n";
  }
  return md;
}

}  // namespace dcomp
