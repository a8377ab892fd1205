#include "cli/download.h"

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>

namespace dcomp {

namespace fs = std::filesystem;

const Download& find_download(const std::string& name) {
  static const Download kCifar10{"cifar10", "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
                                 "c32a1d4ab5d03f1284b67883e8d87530"};
  if (name == kCifar10.name) return kCifar10;
  throw std::invalid_argument("unknown dataset '" + name + "' (downloadable: cifar10)");
}

namespace {

size_t write_to_file(char* data, size_t size, size_t count, void* file) {
  return std::fwrite(data, size, count, static_cast<FILE*>(file)) * size;
}

void http_get(const std::string& url, const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!file) throw std::runtime_error(path + ": cannot open for writing");
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) throw std::runtime_error("cannot initialise libcurl");
  char error[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT, 30L);
  curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, write_to_file);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, file.get());
  const CURLcode rc = curl_easy_perform(curl.get());
  if (rc != CURLE_OK)
    throw std::runtime_error("download of " + url + " failed: " + (*error ? error : curl_easy_strerror(rc)) +
                             " (offline? copy the files by hand and pass --data)");
}

std::string md5_of(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) throw std::runtime_error(path + ": cannot open");
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_md5(), nullptr);
  unsigned char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, file.get())) > 0) EVP_DigestUpdate(ctx.get(), buf, n);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &length);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    char byte[3];
    std::snprintf(byte, sizeof byte, "%02x", digest[i]);
    hex += byte;
  }
  return hex;
}

void unpack(const std::string& archive_path, const std::string& dest_dir) {
  std::unique_ptr<archive, int (*)(archive*)> in(archive_read_new(), &archive_read_free);
  std::unique_ptr<archive, int (*)(archive*)> out(archive_write_disk_new(), &archive_write_free);
  archive_read_support_filter_all(in.get());
  archive_read_support_format_all(in.get());
  // Refuse entries that would land outside dest_dir.
  archive_write_disk_set_options(out.get(), ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                                ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
  if (archive_read_open_filename(in.get(), archive_path.c_str(), 1 << 16) != ARCHIVE_OK)
    throw std::runtime_error(archive_path + ": " + archive_error_string(in.get()));
  archive_entry* entry;
  int rc;
  while ((rc = archive_read_next_header(in.get(), &entry)) == ARCHIVE_OK) {
    const std::string target = (fs::path(dest_dir) / archive_entry_pathname(entry)).string();
    archive_entry_set_pathname(entry, target.c_str());
    if (archive_write_header(out.get(), entry) != ARCHIVE_OK ||
        archive_write_data_block(out.get(), nullptr, 0, 0) < ARCHIVE_OK)
      throw std::runtime_error(target + ": " + archive_error_string(out.get()));
    const void* block;
    size_t size;
    la_int64_t offset;
    int r;
    while ((r = archive_read_data_block(in.get(), &block, &size, &offset)) == ARCHIVE_OK)
      if (archive_write_data_block(out.get(), block, size, offset) != ARCHIVE_OK)
        throw std::runtime_error(target + ": " + archive_error_string(out.get()));
    if (r != ARCHIVE_EOF) throw std::runtime_error(archive_path + ": " + archive_error_string(in.get()));
  }
  if (rc != ARCHIVE_EOF) throw std::runtime_error(archive_path + ": " + archive_error_string(in.get()));
}

}  // namespace

void fetch_and_unpack(const Download& download, const std::string& dest_dir) {
  fs::create_directories(dest_dir);
  const std::string archive_path = (fs::path(dest_dir) / (download.name + ".download")).string();
  struct Cleanup {
    std::string path;
    ~Cleanup() { std::remove(path.c_str()); }
  } cleanup{archive_path};
  http_get(download.url, archive_path);
  const std::string md5 = md5_of(archive_path);
  if (md5 != download.md5)
    throw std::runtime_error(download.url + ": MD5 " + md5 + " does not match the published " + download.md5);
  unpack(archive_path, dest_dir);
}

}  // namespace dcomp
