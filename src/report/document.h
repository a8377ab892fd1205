// A report as a list of blocks (heading, text, table, plot), rendered as one
// self-contained HTML page (plots inline, print styles for A4 with a page
// break before every section) or as Markdown with the plots as files.
#pragma once

#include <string>
#include <vector>

namespace dcomp {

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

struct Block {
  std::string heading;  // a section (h2) when non-empty
  std::string text;     // Markdown's paragraphs, fenced blocks, `code` and **bold**
  Table table;
  std::string plot_name, svg;  // svg: a whole SVG document, or empty
};

struct Document {
  std::string title;
  std::vector<Block> blocks;

  std::string html() const;
  // Plots are referenced as `plot_dir`/<plot_name>.svg.
  std::string markdown(const std::string& plot_dir) const;
};

std::string html_escape(const std::string& text);

}  // namespace dcomp
