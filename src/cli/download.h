// Fetching public datasets over HTTPS (libcurl), checked against their
// published MD5 and unpacked (libarchive).
#pragma once

#include <string>

namespace dcomp {

struct Download {
  std::string name, url, md5;
};

// The known downloads; throws std::invalid_argument for another name.
const Download& find_download(const std::string& name);

// Downloads, verifies and unpacks `download` into `dest_dir`. Throws
// std::runtime_error with a one-line reason (offline, HTTP error, checksum
// mismatch, bad archive).
void fetch_and_unpack(const Download& download, const std::string& dest_dir);

}  // namespace dcomp
